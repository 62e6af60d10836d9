# test/unit/: one cmocka binary per module, test/unit/test_<module>.c, found by wildcard.
UNIT_SRCS := $(sort $(wildcard test/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:test/unit/%.c=$(BUILD)/test/%)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

$(BUILD)/test/%: $(OBJ)/test/unit/%.o $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIBS)

# test/tools/: small programs the integration tests drive (not installed).
TOOL_SRCS := $(sort $(wildcard test/tools/*.c))
TOOL_BINS := $(TOOL_SRCS:test/tools/%.c=$(BUILD)/tools/%)

$(BUILD)/tools/%: $(OBJ)/test/tools/%.o $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

all: $(TOOL_BINS)

# test/tools/: helper programs for integration tests, one per test/tools/<name>.c, built
# into build/bin/ and linked with libvigil.
TOOL_SRCS := $(sort $(wildcard test/tools/*.c))
TOOL_BINS += $(TOOL_SRCS:test/tools/%.c=$(BIN)/%)

$(BIN)/%: $(OBJ)/test/tools/%.o $(LIBVIGIL)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

all: $(TOOL_BINS)

# test/tools/: small programs the integration tests drive (not installed).
TOOL_SRCS := $(sort $(wildcard test/tools/*.c))
TOOL_BINS := $(TOOL_SRCS:test/tools/%.c=$(BUILD)/tools/%)

$(BUILD)/tools/%: $(OBJ)/test/tools/%.o $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

all: $(TOOL_BINS)

# test/bench/: micro-benchmark programs, built with everything (run by hand or from
# test/bench/run.sh), e.g. build/bench/quote_bench -n 2000.
BENCH_SRCS := $(sort $(wildcard test/bench/*.c))
BENCH_BINS := $(BENCH_SRCS:test/bench/%.c=$(BUILD)/bench/%)

$(BUILD)/bench/%: $(OBJ)/test/bench/%.o $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

all: $(BENCH_BINS)

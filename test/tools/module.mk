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

# tpm_probe drives the agent's TPM module, which lives outside libvigil (an explicit rule
# wins over the pattern, and keeps agent/tpm.o before the library on the link line).
$(BUILD)/tools/tpm_probe: $(OBJ)/test/tools/tpm_probe.o $(OBJ)/agent/tpm.o $(OBJ)/agent/tpm_nv.o $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# Benchmarks that drive the agent's TPM module or the verifier's own round checks: the
# objects they need are outside libvigil (explicit rules, listed before the library).
$(BUILD)/bench/tpm_quote_bench: $(OBJ)/test/bench/tpm_quote_bench.o $(OBJ)/agent/tpm.o $(OBJ)/agent/tpm_nv.o $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)
BENCH_VERIFIER_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(filter-out verifier/main.c,$(VERIFIER_SRCS)))
$(BUILD)/bench/verify_bench: $(OBJ)/test/bench/verify_bench.o $(BENCH_VERIFIER_OBJS) $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)
# notice_send drives the verifier's revocation-notice sender (verifier/notices.c and what
# it links against in the verifier), without verifier/main.c.
$(BUILD)/tools/notice_send: $(OBJ)/test/tools/notice_send.o $(BENCH_VERIFIER_OBJS) $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)
# webhook_bench drives the verifier's webhook delivery thread (verifier/outbox.c and the
# event bodies of verifier/events.c).
$(BUILD)/bench/webhook_bench: $(OBJ)/test/bench/webhook_bench.o $(OBJ)/verifier/outbox.o $(OBJ)/verifier/events.o $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

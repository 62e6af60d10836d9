# test/fuzz/: one target per parser, test/fuzz/fuzz_<name>.c defining LLVMFuzzerTestOneInput,
# with its corpus in test/fuzz/corpus/<name>/. Built two ways:
#  - fuzz-replay-bins: with the project compiler and a stdin/file-reading main()
#    (test/fuzz/replay_main.c); make check builds these with ASan+UBSan and replays
#    every corpus file.
#  - make fuzz: with clang -fsanitize=fuzzer into build/fuzz/, for real fuzzing.
FUZZ_SRCS := $(sort $(wildcard test/fuzz/fuzz_*.c))
FUZZ_REPLAY := $(FUZZ_SRCS:test/fuzz/%.c=$(BUILD)/fuzz-replay/%)

$(BUILD)/fuzz-replay/%: $(OBJ)/test/fuzz/%.o $(OBJ)/test/fuzz/replay_main.o $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

.PHONY: fuzz-replay-bins
fuzz-replay-bins: $(FUZZ_REPLAY)

# clang's -Wcast-qual also fires inside protobuf-c's generated __INIT macros (gcc keeps
# quiet about macros from -isystem headers), so it is off for this clang-only build.
fuzz:
	$(MAKE) BUILD=build/fuzz CC=clang SANITIZE=fuzzer-no-link,address,undefined \
		CFLAGS="-O1 -g -Wno-cast-qual" fuzz-libfuzzer-bins

FUZZ_LF := $(FUZZ_SRCS:test/fuzz/%.c=$(BUILD)/libfuzzer/%)
$(BUILD)/libfuzzer/%: $(OBJ)/test/fuzz/%.o $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

.PHONY: fuzz-libfuzzer-bins
fuzz-libfuzzer-bins: $(FUZZ_LF)

# fuzz_verifier_*: targets that drive the verifier's own code (its answer checks, its
# version negotiation) link the verifier's objects but its main().
VERIFIER_LIB_OBJS = $(filter-out $(OBJ)/verifier/main.o,$(VERIFIER_SRCS:%.c=$(OBJ)/%.o))
$(BUILD)/fuzz-replay/fuzz_verifier_%: $(OBJ)/test/fuzz/fuzz_verifier_%.o \
		$(OBJ)/test/fuzz/replay_main.o $(VERIFIER_LIB_OBJS) $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/libfuzzer/fuzz_verifier_%: $(OBJ)/test/fuzz/fuzz_verifier_%.o $(VERIFIER_LIB_OBJS) \
		$(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

# fuzz_grpc_requests drives the verifier's request checks, which live outside libvigil
# (explicit rules win over the patterns above; the objects go before the library).
FUZZ_GRPC_OBJS := $(OBJ)/verifier/apireq.o $(OBJ)/verifier/policies.o
$(BUILD)/fuzz-replay/fuzz_grpc_requests: $(OBJ)/test/fuzz/fuzz_grpc_requests.o \
		$(OBJ)/test/fuzz/replay_main.o $(FUZZ_GRPC_OBJS) $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/libfuzzer/fuzz_grpc_requests: $(OBJ)/test/fuzz/fuzz_grpc_requests.o $(FUZZ_GRPC_OBJS) \
		$(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

# fuzz_webhook drives the webhook signature code (libvigil) and the webhook body the
# verifier builds from a stored event (verifier/events.c, outside libvigil).
FUZZ_WEBHOOK_OBJS := $(OBJ)/verifier/events.o
$(BUILD)/fuzz-replay/fuzz_webhook: $(OBJ)/test/fuzz/fuzz_webhook.o \
		$(OBJ)/test/fuzz/replay_main.o $(FUZZ_WEBHOOK_OBJS) $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/libfuzzer/fuzz_webhook: $(OBJ)/test/fuzz/fuzz_webhook.o $(FUZZ_WEBHOOK_OBJS) $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

# fuzz_loadgen_request drives the load generator's request parser (test/loadgen/agentsrv.c,
# outside libvigil; test/loadgen/agentsrv_priv.h declares it).
FUZZ_LOADGEN_OBJS := $(OBJ)/test/loadgen/agentsrv.o
$(BUILD)/fuzz-replay/fuzz_loadgen_request: $(OBJ)/test/fuzz/fuzz_loadgen_request.o \
		$(OBJ)/test/fuzz/replay_main.o $(FUZZ_LOADGEN_OBJS) $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/libfuzzer/fuzz_loadgen_request: $(OBJ)/test/fuzz/fuzz_loadgen_request.o \
		$(FUZZ_LOADGEN_OBJS) $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

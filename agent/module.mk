# agent/: vigil-agent
AGENT_SRCS += agent/main.c agent/tpm.c agent/tpm_nv.c agent/identity.c agent/register.c \
	agent/server.c agent/quotes.c agent/payload.c agent/revocation.c agent/runner.c \
	agent/keys.c agent/secure.c agent/unzip.c

# Unit tests of agent modules link the agent objects they test (an explicit rule wins over
# test/unit's pattern and keeps the objects before libvigil on the link line).
$(BUILD)/test/test_agent_api: $(OBJ)/test/unit/test_agent_api.o \
		$(OBJ)/agent/register.o $(OBJ)/agent/tpm.o $(OBJ)/agent/tpm_nv.o $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIBS)

# Fuzz targets of agent modules, the same way (replayed by make check, and for libFuzzer).
AGENT_FUZZ_OBJS := $(OBJ)/agent/register.o $(OBJ)/agent/tpm.o $(OBJ)/agent/tpm_nv.o
$(BUILD)/fuzz-replay/fuzz_agent_registrar: $(OBJ)/test/fuzz/fuzz_agent_registrar.o \
		$(OBJ)/test/fuzz/replay_main.o $(AGENT_FUZZ_OBJS) $(LIBVIGIL)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/libfuzzer/fuzz_agent_registrar: $(OBJ)/test/fuzz/fuzz_agent_registrar.o \
		$(AGENT_FUZZ_OBJS) $(LIBVIGIL)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)
$(BUILD)/test/test_agent_identity: $(OBJ)/test/unit/test_agent_identity.o \
		$(OBJ)/agent/identity.o $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIBS)
$(BUILD)/test/test_agent_unzip: $(OBJ)/test/unit/test_agent_unzip.o $(OBJ)/agent/unzip.o \
		$(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIBS)
$(BUILD)/test/test_agent_keys: $(OBJ)/test/unit/test_agent_keys.o $(OBJ)/agent/keys.o \
		$(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIBS)
$(BUILD)/fuzz-replay/fuzz_agent_keys: $(OBJ)/test/fuzz/fuzz_agent_keys.o \
		$(OBJ)/test/fuzz/replay_main.o $(OBJ)/agent/keys.o $(LIBVIGIL)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/libfuzzer/fuzz_agent_keys: $(OBJ)/test/fuzz/fuzz_agent_keys.o $(OBJ)/agent/keys.o \
		$(LIBVIGIL)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)
$(BUILD)/fuzz-replay/fuzz_agent_unzip: $(OBJ)/test/fuzz/fuzz_agent_unzip.o \
		$(OBJ)/test/fuzz/replay_main.o $(OBJ)/agent/unzip.o $(LIBVIGIL)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/libfuzzer/fuzz_agent_unzip: $(OBJ)/test/fuzz/fuzz_agent_unzip.o $(OBJ)/agent/unzip.o \
		$(LIBVIGIL)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

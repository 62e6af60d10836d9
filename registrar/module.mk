# registrar/: vigil-registrar
REGISTRAR_SRCS += registrar/main.c registrar/registrar.c registrar/enroll.c registrar/route.c
REGISTRAR_SRCS += registrar/metrics.c registrar/api.c registrar/apireq.c

# The registration parser's fuzz target links the parser itself (it is not in libvigil),
# before libvigil so that the archive resolves its symbols.
$(BUILD)/fuzz-replay/fuzz_registration: $(OBJ)/test/fuzz/fuzz_registration.o \
	$(OBJ)/test/fuzz/replay_main.o $(OBJ)/registrar/enroll.o $(LIBVIGIL)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/libfuzzer/fuzz_registration: $(OBJ)/test/fuzz/fuzz_registration.o \
	$(OBJ)/registrar/enroll.o $(LIBVIGIL)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

# The URL routing's fuzz target links the router alone.
$(BUILD)/fuzz-replay/fuzz_registrar_route: $(OBJ)/test/fuzz/fuzz_registrar_route.o \
	$(OBJ)/test/fuzz/replay_main.o $(OBJ)/registrar/route.o $(LIBVIGIL)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/libfuzzer/fuzz_registrar_route: $(OBJ)/test/fuzz/fuzz_registrar_route.o \
	$(OBJ)/registrar/route.o $(LIBVIGIL)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

# The gRPC request checks' fuzz target links the checks and the agent id rule.
FUZZ_REGGRPC_OBJS := $(OBJ)/registrar/apireq.o $(OBJ)/registrar/enroll.o
$(BUILD)/fuzz-replay/fuzz_registrar_grpc: $(OBJ)/test/fuzz/fuzz_registrar_grpc.o \
	$(OBJ)/test/fuzz/replay_main.o $(FUZZ_REGGRPC_OBJS) $(LIBVIGIL)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/libfuzzer/fuzz_registrar_grpc: $(OBJ)/test/fuzz/fuzz_registrar_grpc.o \
	$(FUZZ_REGGRPC_OBJS) $(LIBVIGIL)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

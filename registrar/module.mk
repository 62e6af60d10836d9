# registrar/: vigil-registrar
REGISTRAR_SRCS += registrar/main.c registrar/registrar.c registrar/enroll.c
# The registration parser's fuzz target links the parser itself (it is not in libvigil).
$(BUILD)/fuzz-replay/fuzz_registration $(BUILD)/libfuzzer/fuzz_registration: \
	$(OBJ)/registrar/enroll.o

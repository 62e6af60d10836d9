# test/loadgen/: vigil-loadgen, the load generator (simulated Keylime agents). Built into
# build/bin/ beside the daemons it drives, so a bench or an operator finds it there; its
# source lives under test/ because it is never deployed (it makes quotes without a TPM).
LOADGEN_SRCS := $(sort $(wildcard test/loadgen/*.c))

$(BIN)/vigil-loadgen: $(LOADGEN_SRCS:%.c=$(OBJ)/%.o) $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

all: $(BIN)/vigil-loadgen

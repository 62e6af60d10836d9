# test/tools/: helper programs the integration tests run. Each is added to TOOL_BINS,
# which `all` builds.
TOOL_BINS += $(BUILD)/tools/tpm_probe

$(BUILD)/tools/tpm_probe: $(OBJ)/test/tools/tpm_probe.o $(OBJ)/agent/tpm.o $(LIBVIGIL)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

all: $(TOOL_BINS)

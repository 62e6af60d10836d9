# vigilctl: one file per command group, and what they share (args, ctlconf, show).
CTL_SRCS += ctl/main.c ctl/args.c ctl/ctlconf.c ctl/show.c ctl/eventlog_json.c
CTL_SRCS += ctl/cmd_ca.c ctl/cmd_eventlog.c ctl/cmd_ima.c ctl/cmd_policy.c ctl/cmd_node.c
CTL_SRCS += ctl/cmd_events.c ctl/cmd_outbox.c ctl/cmd_pool.c ctl/cmd_report.c
CTL_SRCS += ctl/cmd_enrollment.c ctl/payload.c ctl/zipw.c

# Fuzz targets of vigilctl's decoders link the module they test (it is not in libvigil), as
# the agent's do (agent/module.mk).
CTL_FUZZ_OBJS := $(OBJ)/ctl/eventlog_json.o
$(BUILD)/fuzz-replay/fuzz_ctl_%: $(OBJ)/test/fuzz/fuzz_ctl_%.o $(OBJ)/test/fuzz/replay_main.o \
		$(CTL_FUZZ_OBJS) $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/libfuzzer/fuzz_ctl_%: $(OBJ)/test/fuzz/fuzz_ctl_%.o $(CTL_FUZZ_OBJS) $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)
# The ZIP writer's unit test reads its archives back with the agent's reader.
$(BUILD)/test/test_ctl_zipw: $(OBJ)/test/unit/test_ctl_zipw.o $(OBJ)/ctl/zipw.o \
		$(OBJ)/agent/unzip.o $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIBS)

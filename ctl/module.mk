CTL_SRCS += ctl/main.c ctl/cmd_ca.c ctl/cmd_eventlog.c ctl/cmd_ima.c ctl/cmd_policy.c
CTL_SRCS += ctl/ctlconf.c ctl/cmd_node.c ctl/args.c ctl/eventlog_json.c ctl/cmd_events.c
CTL_SRCS += ctl/ctlconf.c ctl/cmd_node.c ctl/args.c ctl/eventlog_json.c ctl/cmd_outbox.c ctl/cmd_pool.c

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
CTL_SRCS += ctl/cmd_report.c ctl/cmd_enrollment.c
CTL_SRCS += ctl/cmd_report.c ctl/payload.c ctl/zipw.c
# The ZIP writer's unit test reads its archives back with the agent's reader.
$(BUILD)/test/test_ctl_zipw: $(OBJ)/test/unit/test_ctl_zipw.o $(OBJ)/ctl/zipw.o \
		$(OBJ)/agent/unzip.o $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIBS)

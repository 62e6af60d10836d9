CTL_SRCS += ctl/main.c ctl/cmd_ca.c ctl/cmd_eventlog.c ctl/cmd_ima.c ctl/cmd_policy.c
CTL_SRCS += ctl/ctlconf.c ctl/cmd_node.c ctl/args.c

# ctl/: vigilctl
CTL_SRCS += ctl/main.c

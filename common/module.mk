# common/: libvigil.a, everything the daemons share. Never includes a daemon header.
COMMON_SRCS += common/log.c common/xmalloc.c common/buf.c common/config.c common/daemon.c common/err.c
COMMON_SRCS += common/eventlog.c
COMMON_SRCS += common/mb_policy.c

# common/: libvigil.a, everything the daemons share. Never includes a daemon header.
COMMON_SRCS += common/log.c common/xmalloc.c common/buf.c common/config.c common/daemon.c common/err.c common/pb.c common/grpcsrv.c common/grpccli.c common/pcr_policy.c common/http.c

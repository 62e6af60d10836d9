# common/: libvigil.a, everything the daemons share. Never includes a daemon header.
COMMON_SRCS += common/log.c common/xmalloc.c common/buf.c common/config.c common/daemon.c common/err.c
# store: the storage interface and its SQLite backend.
COMMON_SRCS += common/store.c common/store_sqlite.c

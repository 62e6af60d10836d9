# common/store: the storage interface (store.c) and its SQLite backend.
COMMON_SRCS += common/store/store.c
COMMON_SRCS += common/store/store_sqlite.c
COMMON_SRCS += common/store/store_sqlite_registrar.c
COMMON_SRCS += common/store/store_sqlite_verifier.c
COMMON_SRCS += common/store/store_sqlite_audit.c
COMMON_SRCS += common/store/audit.c
COMMON_SRCS += common/store/store_sqlite_outbox.c

# common/store: the storage interface (store.c), its SQLite and PostgreSQL backends.
COMMON_SRCS += common/store/store.c
COMMON_SRCS += common/store/store_sqlite.c
COMMON_SRCS += common/store/store_sqlite_registrar.c
COMMON_SRCS += common/store/store_sqlite_verifier.c
COMMON_SRCS += common/store/store_sqlite_audit.c
COMMON_SRCS += common/store/audit.c
COMMON_SRCS += common/store/store_sqlite_outbox.c
COMMON_SRCS += common/store/store_pg.c
COMMON_SRCS += common/store/store_pg_registrar.c
COMMON_SRCS += common/store/store_pg_verifier.c
COMMON_SRCS += common/store/store_pg_audit.c
COMMON_SRCS += common/store/store_pg_outbox.c
COMMON_SRCS += common/store/store_pg_pool.c
COMMON_SRCS += common/store/store_sqlite_pool.c

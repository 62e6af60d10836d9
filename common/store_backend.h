/* store_backend: what a storage backend provides to common/store.c. Only store.c and the
 * backends include this; daemons use store.h. A backend is one table of functions over its
 * own handle type, so SQLite and PostgreSQL differ only behind it. */
#ifndef VIGIL_STORE_BACKEND_H
#define VIGIL_STORE_BACKEND_H

#include "common/store.h"

typedef struct store_ops {
	const char *name; /* "sqlite", "postgresql": for messages */
	/* Open the backend from the URL text after the scheme (for sqlite: the path), then
	 * apply missing migrations. Returns the backend handle or NULL (e set). */
	void *(*open)(const char *where, err_t *e);
	void (*close)(void *h);
	int (*schema_version)(void *h);
	store_rc_t (*agent_put)(void *h, const store_agent_t *a, err_t *e);
	store_rc_t (*agent_get)(void *h, const char *agent_id, store_agent_t *out, err_t *e);
	store_rc_t (*agent_list)(void *h, char ***ids, size_t *n, err_t *e);
	store_rc_t (*agent_delete)(void *h, const char *agent_id, err_t *e);
	store_rc_t (*agent_activate)(void *h, const char *agent_id, err_t *e);
} store_ops_t;

extern const store_ops_t store_sqlite_ops;

/* The newest migration number (shared by every backend: each backend carries its own
 * dialect of the same numbered migrations). */
#define STORE_SCHEMA_LATEST 2

#endif

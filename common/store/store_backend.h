/* store_backend: what a storage backend provides to common/store/store.c. Only store.c and the
 * backends include this; daemons use store.h. A backend is one table of functions over its
 * own handle type, so SQLite and PostgreSQL differ only behind it. */
#ifndef VIGIL_STORE_BACKEND_H
#define VIGIL_STORE_BACKEND_H

#include "common/store/store.h"

typedef struct store_ops {
	const char *name; /* "sqlite", "postgresql": for messages */
	/* Open the backend from the URL text after the scheme (for sqlite: the path; for
	 * postgresql: the whole URI), then apply missing migrations. Returns the backend handle or
	 * NULL (e set). */
	void *(*open)(const char *where, err_t *e);
	void (*close)(void *h);
	int (*schema_version)(void *h);
	/* Optional (NULL: stay durable): commits of this connection may be lost on a power
	 * failure, never on a crash of the process; see store_relax_durability. */
	void (*relax_durability)(void *h);
	/* Counts for metrics, and a check that the store is still reachable. */
	store_rc_t (*stats)(void *h, store_stats_t *out, err_t *e);
	store_rc_t (*agent_put)(void *h, const store_agent_t *a, err_t *e);
	store_rc_t (*agent_get)(void *h, const char *agent_id, store_agent_t *out, err_t *e);
	store_rc_t (*agent_list)(void *h, char ***ids, size_t *n, err_t *e);
	store_rc_t (*agent_list_page)(void *h, const char *after_id, size_t limit,
	                              store_agent_t **out, size_t *n, err_t *e);
	store_rc_t (*agent_delete)(void *h, const char *agent_id, err_t *e);
	store_rc_t (*agent_activate)(void *h, const char *agent_id, err_t *e);
	store_rc_t (*agent_delete_pending)(void *h, const char *agent_id, err_t *e);
	store_rc_t (*agent_stage)(void *h, const store_agent_t *a, err_t *e);
	store_rc_t (*agent_get_staged)(void *h, const char *agent_id, store_agent_t *out, err_t *e);
	store_rc_t (*agent_unstage)(void *h, const char *agent_id, err_t *e);
	store_rc_t (*agent_promote)(void *h, const char *agent_id, err_t *e);
	store_rc_t (*agent_find_ek)(void *h, const char *ek_key, const char *exclude_id,
	                            int active_only, char **other, err_t *e);
	/* verifier */
	store_rc_t (*node_add)(void *h, const store_node_t *n, err_t *e);
	/* Optional (NULL: store.c adds them one by one, each in its own transactions). */
	store_rc_t (*node_add_many)(void *h, store_node_add_item_t *items, size_t n,
	                            const char *const *urls, size_t nurls, err_t *e);
	store_rc_t (*node_get)(void *h, const char *uuid, store_node_t *out, err_t *e);
	store_rc_t (*node_list)(void *h, store_node_t **nodes, size_t *n, err_t *e);
	store_rc_t (*node_delete)(void *h, const char *uuid, err_t *e);
	store_rc_t (*node_save)(void *h, const store_node_t *const *nodes, size_t n, int *fenced,
	                        err_t *e);
	store_rc_t (*node_update)(void *h, const store_node_t *u, int64_t epoch, err_t *e);
	store_rc_t (*node_set_mtls_cert)(void *h, const char *uuid, const char *pem, int64_t epoch,
	                                 err_t *e);
	store_rc_t (*policy_put)(void *h, const char *name, const char *kind, const uint8_t *body,
	                         size_t len, const char *sha256, int replace, err_t *e);
	store_rc_t (*policy_get)(void *h, const char *name, int with_body, store_policy_t *out,
	                         err_t *e);
	store_rc_t (*policy_list)(void *h, const char *kind, const char *after, size_t limit,
	                          store_policy_t **out, size_t *n, err_t *e);
	store_rc_t (*policy_delete)(void *h, const char *name, err_t *e);
	store_rc_t (*event_append)(void *h, const char *node_uuid, const char *type,
	                           const char *severity, const char *body_json, char id_out[40],
	                           err_t *e);
	store_rc_t (*event_verify_chain)(void *h, err_t *e);
	store_rc_t (*event_list)(void *h, const store_event_filter_t *f, store_event_t **out,
	                         size_t *n, err_t *e);
	store_rc_t (*event_get)(void *h, const char *id, store_event_t *out, err_t *e);
	store_rc_t (*event_last)(void *h, store_event_t *out, err_t *e);
	store_rc_t (*seal_append)(void *h, const store_seal_t *seal, err_t *e);
	store_rc_t (*seal_list)(void *h, int64_t after_seq, int64_t upto_seq, store_seal_t **out,
	                        size_t *n, err_t *e);
	store_rc_t (*seal_last)(void *h, store_seal_t *out, err_t *e);
	store_rc_t (*event_commit)(void *h, const store_node_t *node, const char *node_uuid,
	                           const char *type, const char *severity, const char *body_json,
	                           const char *const *urls, size_t nurls, char id_out[40],
	                           int64_t *seq_out, err_t *e);
	store_rc_t (*outbox_due)(void *h, const char *url, int64_t now, size_t limit,
	                         store_outbox_t **rows, size_t *n, err_t *e);
	store_rc_t (*outbox_next_due)(void *h, int64_t *when, err_t *e);
	store_rc_t (*outbox_delivered)(void *h, int64_t id, err_t *e);
	store_rc_t (*outbox_failed)(void *h, int64_t id, int64_t next_attempt, const char *err_text,
	                            err_t *e);
	store_rc_t (*outbox_dead)(void *h, int64_t id, const char *err_text, err_t *e);
	store_rc_t (*outbox_list)(void *h, store_outbox_kind_t kind, int64_t after, size_t limit,
	                          store_outbox_t **rows, size_t *n, err_t *e);
	store_rc_t (*outbox_retry)(void *h, int64_t id, int64_t *count, err_t *e);
	store_rc_t (*outbox_prune)(void *h, int64_t before_ms, size_t limit, int64_t *count,
	                           err_t *e);
	/* the verifier pool */
	store_rc_t (*pool_heartbeat)(void *h, const char *id, const char *address, int64_t now,
	                             int64_t stalled, err_t *e);
	store_rc_t (*pool_leave)(void *h, const char *id, err_t *e);
	store_rc_t (*pool_reap)(void *h, const char *id, int64_t now, int64_t *gone, char **desc,
	                        err_t *e);
	store_rc_t (*pool_counts)(void *h, const char *id, int64_t live_since, int64_t now,
	                          store_pool_counts_t *out, err_t *e);
	store_rc_t (*lease_renew)(void *h, const char *id, int64_t expiry, store_lease_t **out,
	                          size_t *n, err_t *e);
	store_rc_t (*lease_claim)(void *h, const char *id, int64_t now, int64_t expiry,
	                          size_t limit, store_node_t **out, size_t *n, err_t *e);
	store_rc_t (*lease_release)(void *h, const char *id, const char *uuid, err_t *e);
	store_rc_t (*pool_list)(void *h, store_pool_member_t **out, size_t *n, err_t *e);
} store_ops_t;

extern const store_ops_t store_sqlite_ops;
extern const store_ops_t store_pg_ops;

/* The newest migration number (shared by every backend: each backend carries its own
 * dialect of the same numbered migrations). */
#define STORE_SCHEMA_LATEST 8

#endif

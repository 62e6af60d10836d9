/* store_sqlite_priv: what the SQLite backend's files share: the connection handle, the
 * small helpers, and the operations each file implements (store_sqlite.c puts them in
 * store_sqlite_ops). Only the store_sqlite*.c files include it. */
#ifndef VIGIL_STORE_SQLITE_PRIV_H
#define VIGIL_STORE_SQLITE_PRIV_H

#include <stdint.h>

#include <sqlite3.h>

#include "common/store/store_backend.h"

typedef struct sq {
	sqlite3 *db; /* the connection */
	char *path;  /* database file, for messages */
	int version; /* schema version after open */
} sq_t;

/* Helpers (store_sqlite.c). */
int64_t sq_now(void);
store_rc_t sq_fail(sq_t *q, err_t *e, const char *what);
int sq_exec(sq_t *q, const char *sql, err_t *e, const char *what);
int sq_bind_text(sqlite3_stmt *st, int i, const char *v);
char *sq_col_dup(sqlite3_stmt *st, int i); /* a text column, copied (NULL for NULL) */
int64_t sq_col_i64(sqlite3_stmt *st, int i);
/* Run sql with ?1 = id (and ?2 = now when the statement has it); STORE_NOT_FOUND when no
 * row changed. */
store_rc_t sq_change_by_id(sq_t *q, const char *sql, const char *id, err_t *e, const char *what);
/* Read every row of the prepared st into a new array of elements of size sz, each zeroed
 * and then filled by row(st, elem). STORE_OK: *out (NULL when empty) and *n are the
 * caller's. STORE_ERROR: the rows read so far are released with release(array, count),
 * and what names the read in the error. st stays the caller's to finalize. */
typedef void (*sq_row_fn)(sqlite3_stmt *st, void *elem);
store_rc_t sq_rows(sq_t *q, sqlite3_stmt *st, size_t sz, sq_row_fn row,
                   void (*release)(void *array, size_t n), void **out, size_t *n, err_t *e,
                   const char *what);
/* Step the prepared st once: STORE_OK with row(st, elem) filled in, STORE_NOT_FOUND when
 * it yields no row, STORE_ERROR naming what. st stays the caller's to finalize. */
store_rc_t sq_row_one(sq_t *q, sqlite3_stmt *st, sq_row_fn row, void *elem, err_t *e,
                      const char *what);

/* Registrar enrollments (store_sqlite_registrar.c) and verifier nodes, policies and events
 * (store_sqlite_verifier.c). */
store_rc_t sq_agent_put(void *h, const store_agent_t *a, err_t *e);
store_rc_t sq_agent_get(void *h, const char *agent_id, store_agent_t *out, err_t *e);
store_rc_t sq_agent_list(void *h, char ***ids, size_t *n, err_t *e);
store_rc_t sq_agent_list_page(void *h, const char *after_id, size_t limit, store_agent_t **out,
                              size_t *n, err_t *e);
store_rc_t sq_agent_delete(void *h, const char *agent_id, err_t *e);
store_rc_t sq_agent_delete_pending(void *h, const char *agent_id, err_t *e);
store_rc_t sq_agent_activate(void *h, const char *agent_id, err_t *e);
store_rc_t sq_agent_stage(void *h, const store_agent_t *a, err_t *e);
store_rc_t sq_agent_get_staged(void *h, const char *agent_id, store_agent_t *out, err_t *e);
store_rc_t sq_agent_unstage(void *h, const char *agent_id, err_t *e);
store_rc_t sq_agent_promote(void *h, const char *agent_id, err_t *e);
store_rc_t sq_agent_find_ek(void *h, const char *ek_key, const char *exclude_id, int active_only,
                            char **other, err_t *e);
store_rc_t sq_node_add(void *h, const store_node_t *n, err_t *e);
store_rc_t sq_node_add_many(void *h, store_node_add_item_t *items, size_t n,
                            const char *const *urls, size_t nurls, err_t *e);
store_rc_t sq_node_get(void *h, const char *uuid, store_node_t *out, err_t *e);
store_rc_t sq_node_list(void *h, store_node_t **nodes, size_t *n, err_t *e);
store_rc_t sq_node_update(void *h, const store_node_t *u, int64_t epoch, err_t *e);
store_rc_t sq_node_set_mtls_cert(void *h, const char *uuid, const char *pem, int64_t epoch,
                                 err_t *e);
store_rc_t sq_node_delete(void *h, const char *uuid, err_t *e);
store_rc_t sq_node_save(void *h, const store_node_t *const *nodes, size_t n, int *fenced, err_t *e);
store_rc_t sq_policy_put(void *h, const char *name, const char *kind, const uint8_t *body,
                         size_t len, const char *sha256, int replace, err_t *e);
store_rc_t sq_policy_get(void *h, const char *name, int with_body, store_policy_t *out, err_t *e);
store_rc_t sq_policy_list(void *h, const char *kind, const char *after, size_t limit,
                          store_policy_t **out, size_t *n, err_t *e);
store_rc_t sq_policy_delete(void *h, const char *name, err_t *e);
store_rc_t sq_event_append(void *h, const char *node_uuid, const char *type, const char *severity,
                           const char *body_json, char id_out[40], err_t *e);
store_rc_t sq_event_verify_chain(void *h, err_t *e);
/* Reading the event log and its seals (store_sqlite_audit.c). */
store_rc_t sq_event_list(void *h, const store_event_filter_t *f, store_event_t **out, size_t *n,
                         err_t *e);
store_rc_t sq_event_get(void *h, const char *id, store_event_t *out, err_t *e);
store_rc_t sq_event_last(void *h, store_event_t *out, err_t *e);
store_rc_t sq_seal_append(void *h, const store_seal_t *seal, err_t *e);
store_rc_t sq_seal_list(void *h, int64_t after_seq, int64_t upto_seq, store_seal_t **out, size_t *n,
                        err_t *e);
store_rc_t sq_seal_last(void *h, store_seal_t *out, err_t *e);
/* The bodies of sq_node_save and sq_event_append without their transaction, for callers
 * that write more in the same one (store_sqlite_outbox.c). 0 or -1 (logged, e set). */
int sq_node_save_rows(sq_t *q, const store_node_t *const *nodes, size_t n, int *fenced, err_t *e);
/* One row of SELECT SQ_NODE_COLS into a store_node_t (store_sqlite_verifier.c). */
void sq_node_row_at(sqlite3_stmt *st, void *elem);
#define SQ_NODE_COLS                                                                               \
	"uuid, ak_tpm, ip, port, mtls_cert, api_version, tpm_policy, runtime_policy, mb_policy,"   \
	" operational_state, attestation_count, last_received_quote,"                              \
	" last_successful_attestation, last_event_id, failure_reason, ima_state,"                  \
	" mb_log_digest, tpm_clock, tpm_reset_count, tpm_restart_count, created, updated,"         \
	" ima_keys, lease_owner, lease_expiry, lease_epoch, lower(hex(payload_v))"
int sq_event_insert(sq_t *q, const char *node_uuid, const char *type, const char *severity,
                    const char *body_json, char id_out[40], int64_t *seq_out, err_t *e);

/* The webhook outbox (store_sqlite_outbox.c). */
store_rc_t sq_event_commit(void *h, const store_node_t *node, const char *node_uuid,
                           const char *type, const char *severity, const char *body_json,
                           const char *const *urls, size_t nurls, char id_out[40], int64_t *seq_out,
                           err_t *e);
store_rc_t sq_outbox_due(void *h, const char *url, int64_t now, size_t limit, store_outbox_t **rows,
                         size_t *n, err_t *e);
store_rc_t sq_outbox_next_due(void *h, int64_t *when, err_t *e);
store_rc_t sq_outbox_delivered(void *h, int64_t id, err_t *e);
store_rc_t sq_outbox_failed(void *h, int64_t id, int64_t next_attempt, const char *err_text,
                            err_t *e);
store_rc_t sq_outbox_dead(void *h, int64_t id, const char *err_text, err_t *e);
store_rc_t sq_outbox_list(void *h, store_outbox_kind_t kind, int64_t after, size_t limit,
                          store_outbox_t **rows, size_t *n, err_t *e);
store_rc_t sq_outbox_retry(void *h, int64_t id, int64_t *count, err_t *e);
store_rc_t sq_outbox_prune(void *h, int64_t before_ms, size_t limit, int64_t *count, err_t *e);

/* The verifier pool (store_sqlite_pool.c). */
store_rc_t sq_pool_heartbeat(void *h, const char *id, const char *address, int64_t now,
                             int64_t stalled, err_t *e);
store_rc_t sq_pool_leave(void *h, const char *id, err_t *e);
store_rc_t sq_pool_counts(void *h, const char *id, int64_t live_since, int64_t now,
                          store_pool_counts_t *out, err_t *e);
store_rc_t sq_lease_renew(void *h, const char *id, int64_t expiry, store_lease_t **out, size_t *n,
                          err_t *e);
store_rc_t sq_lease_claim(void *h, const char *id, int64_t now, int64_t expiry, size_t limit,
                          store_node_t **out, size_t *n, err_t *e);
store_rc_t sq_lease_release(void *h, const char *id, const char *uuid, err_t *e);
store_rc_t sq_pool_list(void *h, store_pool_member_t **out, size_t *n, err_t *e);

#endif

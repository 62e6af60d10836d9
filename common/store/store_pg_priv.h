/* store_pg_priv: what the PostgreSQL backend's files share: the connection handle, the
 * query helpers (text parameters, SQLSTATE kept for the caller to map), the prepared
 * statements of the hot paths, and the operations each file implements (store_pg.c puts
 * them in store_pg_ops). Only the store_pg*.c files include it. */
#ifndef VIGIL_STORE_PG_PRIV_H
#define VIGIL_STORE_PG_PRIV_H

#include <stdint.h>

#include <libpq-fe.h>

#include "common/store/store_backend.h"

/* SQLSTATEs the backend maps to store_rc_t. */
#define PG_UNIQUE_VIOLATION      "23505"
#define PG_FOREIGN_KEY_VIOLATION "23503"

/* Transaction-level advisory lock keys (pg_advisory_xact_lock): one namespace of vigil's
 * own, so that they never meet another application's locks on a shared server. */
#define PG_LOCK_MIGRATE 0x7669676900000001LL /* "vigi" + 1: schema migrations */
#define PG_LOCK_EVENTS  0x7669676900000002LL /* the event chain's head */
#define PG_LOCK_POLICY  0x7669676900000003LL /* policy names and bodies */
/* Session-level, in the two-key form (class, hashtext(instance_id)): each pool member's
 * own lock, held by its heartbeat connection while it lives (store_pg_pool.c). The class
 * is the same "vigi". As SQL text: it is spliced into the statements. */
#define PG_LOCK_POOL_MEMBER_CLASS "1986618729"

/* Statements prepared once per connection, on first use (pg_prepared). */
typedef enum {
	PG_ST_NODE_SAVE = 0, /* one node's progress fields */
	PG_ST_EVENT_HEAD,    /* the newest event's seq and hash */
	PG_ST_EVENT_INSERT,  /* one event row */
	PG_ST_OUTBOX_INSERT, /* one outbox row */
	PG_ST_COUNT
} pg_stmt_t;

typedef struct pg {
	PGconn *conn;         /* the connection: one per store handle */
	char *name;           /* the URL without its password, for messages */
	int version;          /* schema version after open */
	unsigned prepared;    /* bit i set: statement i is prepared */
	int relaxed;          /* synchronous_commit off (store_relax_durability) */
	int pool_locked;      /* this connection holds its pool member's session lock */
	int pool_lock_warned; /* the lock was found held by another session (logged once) */
	char state[6];        /* SQLSTATE of the last failed statement, "" when none */
	char errmsg[200];     /* its primary message, for the caller's log line */
} pg_t;

/* Helpers (store_pg.c). */
int64_t pg_now(void);    /* unix seconds */
int64_t pg_now_ms(void); /* unix milliseconds */
/* Run sql with n text parameters (NULL = SQL NULL). Returns the result when the statement
 * succeeded (PQclear it), else NULL with p->state and p->errmsg set and nothing logged:
 * the caller maps an expected SQLSTATE or calls pg_fail. */
PGresult *pg_run(pg_t *p, const char *sql, int n, const char *const *vals);
/* The same with per-parameter lengths and formats (1 = binary), for bytea. */
PGresult *pg_run_fmt(pg_t *p, const char *sql, int n, const char *const *vals, const int *lens,
                     const int *fmts);
/* Run prepared statement which (preparing it with sql first on this connection). */
PGresult *pg_prepared(pg_t *p, pg_stmt_t which, const char *sql, int n, const char *const *vals);
/* Log and set e from the last failure (what names the operation). STORE_ERROR. */
store_rc_t pg_fail(pg_t *p, err_t *e, const char *what);
/* Run sql without parameters or rows (one or more statements): 0, or -1 logged with e
 * set. */
int pg_exec(pg_t *p, const char *sql, err_t *e, const char *what);
/* Roll back the open transaction, if any (errors ignored: the connection state says). */
void pg_rollback(pg_t *p);
/* Take the transaction-level advisory lock key (held until COMMIT or ROLLBACK). */
int pg_xact_lock(pg_t *p, long long key, err_t *e, const char *what);
/* Rows a statement changed (PQcmdTuples). */
int64_t pg_changes(PGresult *r);
/* Column helpers: NULL / 0 for SQL NULL. */
char *pg_col_dup(PGresult *r, int row, int col);
int64_t pg_col_i64(PGresult *r, int row, int col);
int pg_col_is_null(PGresult *r, int row, int col);
void pg_col_copy(PGresult *r, int row, int col, char *out, size_t size);
/* Decimal text of v in buf (at least 24 bytes); returns buf. */
const char *pg_i64(char *buf, int64_t v);
/* Run sql with ?1 = id ($2 = now when the statement has it: pass has_now); STORE_NOT_FOUND
 * when no row changed. */
store_rc_t pg_change_by_id(pg_t *p, const char *sql, const char *id, int has_now, err_t *e,
                           const char *what);
/* Every row of r into a new array of elements of size sz, each zeroed then filled by
 * row(r, i, elem). *out (NULL when empty) and *n are the caller's. */
typedef void (*pg_row_fn)(PGresult *r, int i, void *elem);
void pg_rows(PGresult *r, size_t sz, pg_row_fn row, void **out, size_t *n);

/* Registrar enrollments (store_pg_registrar.c). */
store_rc_t pg_agent_put(void *h, const store_agent_t *a, err_t *e);
store_rc_t pg_agent_get(void *h, const char *agent_id, store_agent_t *out, err_t *e);
store_rc_t pg_agent_list(void *h, char ***ids, size_t *n, err_t *e);
store_rc_t pg_agent_list_page(void *h, const char *after_id, size_t limit, store_agent_t **out,
                              size_t *n, err_t *e);
store_rc_t pg_agent_delete(void *h, const char *agent_id, err_t *e);
store_rc_t pg_agent_delete_pending(void *h, const char *agent_id, err_t *e);
store_rc_t pg_agent_activate(void *h, const char *agent_id, err_t *e);
store_rc_t pg_agent_stage(void *h, const store_agent_t *a, err_t *e);
store_rc_t pg_agent_get_staged(void *h, const char *agent_id, store_agent_t *out, err_t *e);
store_rc_t pg_agent_unstage(void *h, const char *agent_id, err_t *e);
store_rc_t pg_agent_promote(void *h, const char *agent_id, err_t *e);
store_rc_t pg_agent_find_ek(void *h, const char *ek_key, const char *exclude_id, int active_only,
                            char **other, err_t *e);

/* Verifier nodes, policies and the event chain (store_pg_verifier.c). */
store_rc_t pg_node_add(void *h, const store_node_t *n, err_t *e);
store_rc_t pg_node_get(void *h, const char *uuid, store_node_t *out, err_t *e);
store_rc_t pg_node_list(void *h, store_node_t **nodes, size_t *n, err_t *e);
store_rc_t pg_node_update(void *h, const store_node_t *u, int64_t epoch, err_t *e);
store_rc_t pg_node_set_mtls_cert(void *h, const char *uuid, const char *pem, int64_t epoch,
                                 err_t *e);
store_rc_t pg_node_delete(void *h, const char *uuid, err_t *e);
store_rc_t pg_node_save(void *h, const store_node_t *const *nodes, size_t n, int *fenced, err_t *e);
store_rc_t pg_policy_put(void *h, const char *name, const char *kind, const uint8_t *body,
                         size_t len, const char *sha256, int replace, err_t *e);
store_rc_t pg_policy_get(void *h, const char *name, int with_body, store_policy_t *out, err_t *e);
store_rc_t pg_policy_list(void *h, const char *kind, const char *after, size_t limit,
                          store_policy_t **out, size_t *n, err_t *e);
store_rc_t pg_policy_delete(void *h, const char *name, err_t *e);
store_rc_t pg_event_append(void *h, const char *node_uuid, const char *type, const char *severity,
                           const char *body_json, char id_out[40], err_t *e);
store_rc_t pg_event_verify_chain(void *h, err_t *e);
/* The bodies of pg_node_save and pg_event_append inside the caller's transaction
 * (pg_event_insert takes the chain lock itself). 0 or -1 (logged, e set). */
int pg_node_save_rows(pg_t *p, const store_node_t *const *nodes, size_t n, int *fenced, err_t *e);
/* One row of SELECT PG_NODE_COLS (store_pg_verifier.c) into a store_node_t. */
void pg_node_row_at(PGresult *r, int i, void *elem);
#define PG_NODE_COLS                                                                               \
	"uuid, ak_tpm, ip, port, mtls_cert, api_version, tpm_policy, runtime_policy, mb_policy,"   \
	" operational_state, attestation_count, last_received_quote,"                              \
	" last_successful_attestation, last_event_id, failure_reason, ima_state,"                  \
	" mb_log_digest, tpm_clock, tpm_reset_count, tpm_restart_count, created, updated,"         \
	" ima_keys, lease_owner, lease_expiry, lease_epoch, encode(payload_v, 'hex')"
int pg_event_insert(pg_t *p, const char *node_uuid, const char *type, const char *severity,
                    const char *body_json, char id_out[40], int64_t *seq_out, err_t *e);

/* Reading the event log and its seals (store_pg_audit.c). */
store_rc_t pg_event_list(void *h, const store_event_filter_t *f, store_event_t **out, size_t *n,
                         err_t *e);
store_rc_t pg_event_get(void *h, const char *id, store_event_t *out, err_t *e);
store_rc_t pg_event_last(void *h, store_event_t *out, err_t *e);
store_rc_t pg_seal_append(void *h, const store_seal_t *seal, err_t *e);
store_rc_t pg_seal_list(void *h, int64_t after_seq, int64_t upto_seq, store_seal_t **out, size_t *n,
                        err_t *e);
store_rc_t pg_seal_last(void *h, store_seal_t *out, err_t *e);

/* The webhook outbox (store_pg_outbox.c). */
store_rc_t pg_event_commit(void *h, const store_node_t *node, const char *node_uuid,
                           const char *type, const char *severity, const char *body_json,
                           const char *const *urls, size_t nurls, char id_out[40], int64_t *seq_out,
                           err_t *e);
store_rc_t pg_outbox_due(void *h, const char *url, int64_t now, size_t limit, store_outbox_t **rows,
                         size_t *n, err_t *e);
store_rc_t pg_outbox_next_due(void *h, int64_t *when, err_t *e);
store_rc_t pg_outbox_delivered(void *h, int64_t id, err_t *e);
store_rc_t pg_outbox_failed(void *h, int64_t id, int64_t next_attempt, const char *err_text,
                            err_t *e);
store_rc_t pg_outbox_dead(void *h, int64_t id, const char *err_text, err_t *e);
store_rc_t pg_outbox_list(void *h, store_outbox_kind_t kind, int64_t after, size_t limit,
                          store_outbox_t **rows, size_t *n, err_t *e);
store_rc_t pg_outbox_retry(void *h, int64_t id, int64_t *count, err_t *e);
store_rc_t pg_outbox_prune(void *h, int64_t before_ms, size_t limit, int64_t *count, err_t *e);

/* The verifier pool (store_pg_pool.c). */
store_rc_t pg_pool_heartbeat(void *h, const char *id, const char *address, int64_t now,
                             int64_t stalled, err_t *e);
store_rc_t pg_pool_leave(void *h, const char *id, err_t *e);
store_rc_t pg_pool_reap(void *h, const char *id, int64_t now, int64_t *gone, char **desc, err_t *e);
store_rc_t pg_pool_counts(void *h, const char *id, int64_t live_since, int64_t now,
                          store_pool_counts_t *out, err_t *e);
store_rc_t pg_lease_renew(void *h, const char *id, int64_t expiry, store_lease_t **out, size_t *n,
                          err_t *e);
store_rc_t pg_lease_claim(void *h, const char *id, int64_t now, int64_t expiry, size_t limit,
                          store_node_t **out, size_t *n, err_t *e);
store_rc_t pg_lease_release(void *h, const char *id, const char *uuid, err_t *e);
store_rc_t pg_pool_list(void *h, store_pool_member_t **out, size_t *n, err_t *e);

#endif

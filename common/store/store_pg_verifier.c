/* store_pg_verifier: the verifier's nodes (and their batched progress), its
 * content-addressed policies and its hash-chained event log, in PostgreSQL.
 *
 * Appends to the event chain are serialised by a transaction-level advisory lock
 * (PG_LOCK_EVENTS), taken before the chain head is read and held until COMMIT or ROLLBACK:
 * a verifier pool has several processes (and each of them several connections) appending to
 * one chain, and each append must see the hash of the one before. A lock rather than
 * SELECT ... FOR UPDATE on the newest row because an empty chain has no row to lock, and
 * rather than SERIALIZABLE because a retry loop would re-run the caller's whole
 * transaction (the node record and outbox rows of store_event_commit). PostgreSQL releases
 * the lock only after the commit is visible, so under READ COMMITTED the next holder's
 * head query sees the row just appended; seq is the primary key besides, so a fork could
 * never commit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/store/audit.h"
#include "common/store/store_pg_priv.h"

/* ---- verifier: nodes ---- */

static void pg_node_row(PGresult *r, int i, void *elem)
{
	store_node_t *n = elem;

	n->uuid = pg_col_dup(r, i, 0);
	n->ak_tpm = pg_col_dup(r, i, 1);
	n->ip = pg_col_dup(r, i, 2);
	n->port = (int)pg_col_i64(r, i, 3);
	n->mtls_cert = pg_col_dup(r, i, 4);
	n->api_version = pg_col_dup(r, i, 5);
	n->pcr_policy = pg_col_dup(r, i, 6);
	n->runtime_policy = pg_col_dup(r, i, 7);
	n->mb_policy = pg_col_dup(r, i, 8);
	n->operational_state = (int)pg_col_i64(r, i, 9);
	n->attestation_count = pg_col_i64(r, i, 10);
	n->last_received_quote = pg_col_i64(r, i, 11);
	n->last_successful_attestation = pg_col_i64(r, i, 12);
	n->last_event_id = pg_col_dup(r, i, 13);
	n->failure_reason = pg_col_dup(r, i, 14);
	n->ima_state = pg_col_dup(r, i, 15);
	n->mb_log_digest = pg_col_dup(r, i, 16);
	n->has_clock = !pg_col_is_null(r, i, 17);
	n->tpm_clock = pg_col_i64(r, i, 17);
	n->tpm_reset_count = pg_col_i64(r, i, 18);
	n->tpm_restart_count = pg_col_i64(r, i, 19);
	n->created = pg_col_i64(r, i, 20);
	n->updated = pg_col_i64(r, i, 21);
	n->ima_keys = pg_col_dup(r, i, 22);
	n->lease_owner = pg_col_dup(r, i, 23);
	n->lease_expiry = pg_col_i64(r, i, 24);
	n->lease_epoch = pg_col_i64(r, i, 25);
	n->payload_v = pg_col_dup(r, i, 26);
}

void pg_node_row_at(PGresult *r, int i, void *elem)
{
	pg_node_row(r, i, elem);
}

/* The text of a node's progress fields, as parameters $2..$15 of add and save. */
typedef struct pg_progress {
	char num[8][24];   /* the numbers' decimal text */
	const char *v[14]; /* $2..$15 */
} pg_progress_t;

static void pg_progress_fill(pg_progress_t *g, const store_node_t *n, int64_t now)
{
	g->v[0] = pg_i64(g->num[0], n->operational_state);
	g->v[1] = pg_i64(g->num[1], n->attestation_count);
	g->v[2] = pg_i64(g->num[2], n->last_received_quote);
	g->v[3] = pg_i64(g->num[3], n->last_successful_attestation);
	g->v[4] = n->last_event_id;
	g->v[5] = n->failure_reason;
	g->v[6] = n->ima_state;
	g->v[7] = n->mb_log_digest;
	g->v[8] = n->has_clock ? pg_i64(g->num[4], n->tpm_clock) : NULL;
	g->v[9] = n->has_clock ? pg_i64(g->num[5], n->tpm_reset_count) : NULL;
	g->v[10] = n->has_clock ? pg_i64(g->num[6], n->tpm_restart_count) : NULL;
	g->v[11] = n->api_version;
	g->v[12] = pg_i64(g->num[7], now);
	g->v[13] = n->ima_keys;
}

store_rc_t pg_node_add(void *h, const store_node_t *n, err_t *e)
{
	pg_t *p = h;
	pg_progress_t g;
	char port[24], expiry[24], epoch[24];
	const char *v[26];
	PGresult *r;

	pg_progress_fill(&g, n, pg_now());
	v[25] = n->payload_v;
	v[0] = n->uuid;
	memcpy(&v[1], g.v, sizeof(g.v));
	v[15] = n->ak_tpm;
	v[16] = n->ip;
	v[17] = pg_i64(port, n->port);
	v[18] = n->mtls_cert;
	v[19] = n->pcr_policy;
	v[20] = n->runtime_policy;
	v[21] = n->mb_policy;
	v[22] = n->lease_owner;
	v[23] = n->lease_owner ? pg_i64(expiry, n->lease_expiry) : NULL;
	v[24] = pg_i64(epoch, n->lease_epoch);
	r = pg_run(p,
	           "INSERT INTO nodes (uuid, operational_state, attestation_count,"
	           " last_received_quote, last_successful_attestation, last_event_id,"
	           " failure_reason, ima_state, mb_log_digest, tpm_clock, tpm_reset_count,"
	           " tpm_restart_count, api_version, created, updated, ima_keys, ak_tpm, ip, port,"
	           " mtls_cert, tpm_policy, runtime_policy, mb_policy, lease_owner, lease_expiry,"
	           " lease_epoch, payload_v)"
	           " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15,"
	           " $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, decode($26, 'hex'))",
	           26, v);
	if (r != NULL) {
		PQclear(r);
		return STORE_OK;
	}
	if (strcmp(p->state, PG_UNIQUE_VIOLATION) == 0) {
		err_set(e, "node %s already exists", n->uuid);
		return STORE_EXISTS;
	}
	if (strcmp(p->state, PG_FOREIGN_KEY_VIOLATION) == 0) {
		err_set(e, "a policy named for node %s does not exist", n->uuid);
		return STORE_NOT_FOUND;
	}
	return pg_fail(p, e, "storing node");
}

store_rc_t pg_node_get(void *h, const char *uuid, store_node_t *out, err_t *e)
{
	pg_t *p = h;
	const char *v[1] = {uuid};
	PGresult *r = pg_run(p, "SELECT " PG_NODE_COLS " FROM nodes WHERE uuid = $1", 1, v);
	store_rc_t rc = STORE_NOT_FOUND;

	if (r == NULL)
		return pg_fail(p, e, "reading node");
	if (PQntuples(r) > 0) {
		pg_node_row(r, 0, out);
		rc = STORE_OK;
	}
	PQclear(r);
	return rc;
}

store_rc_t pg_node_list(void *h, store_node_t **nodes, size_t *n, err_t *e)
{
	pg_t *p = h;
	PGresult *r = pg_run(p, "SELECT " PG_NODE_COLS " FROM nodes ORDER BY uuid", 0, NULL);
	void *v;

	if (r == NULL)
		return pg_fail(p, e, "listing nodes");
	pg_rows(r, sizeof(store_node_t), pg_node_row, &v, n);
	*nodes = v;
	PQclear(r);
	return STORE_OK;
}

store_rc_t pg_node_update(void *h, const store_node_t *u, int64_t epoch, err_t *e)
{
	pg_t *p = h;
	char now[24], ep[24], port[24];
	const char *v[9] = {
	    u->uuid,           u->ip,        pg_i64(port, u->port), u->mtls_cert,     u->pcr_policy,
	    u->runtime_policy, u->mb_policy, pg_i64(now, pg_now()), pg_i64(ep, epoch)};
	PGresult *r = pg_run(p,
	                     "UPDATE nodes SET ip = $2, port = $3::int, mtls_cert = $4,"
	                     " tpm_policy = $5, runtime_policy = $6, mb_policy = $7, updated = $8"
	                     " WHERE uuid = $1 AND ($9::bigint < 0 OR lease_epoch = $9::bigint)",
	                     9, v);
	store_rc_t rc;
	store_node_t cur = {0};

	if (r == NULL) {
		if (strcmp(p->state, PG_FOREIGN_KEY_VIOLATION) == 0) {
			err_set(e, "a policy named for node %s does not exist", u->uuid);
			return STORE_NOT_FOUND;
		}
		return pg_fail(p, e, "updating a node");
	}
	rc = pg_changes(r) > 0 ? STORE_OK : STORE_NOT_FOUND;
	PQclear(r);
	if (rc == STORE_NOT_FOUND && epoch >= 0 && pg_node_get(h, u->uuid, &cur, e) == STORE_OK) {
		err_set(e, "node %s: lease epoch %lld moved to %lld", u->uuid, (long long)epoch,
		        (long long)cur.lease_epoch);
		store_node_clear(&cur);
		return STORE_FENCED;
	}
	if (rc == STORE_NOT_FOUND)
		err_set(e, "node %s not found", u->uuid);
	return rc;
}

store_rc_t pg_node_set_mtls_cert(void *h, const char *uuid, const char *pem, int64_t epoch,
                                 err_t *e)
{
	pg_t *p = h;
	char now[24], ep[24];
	const char *v[4] = {uuid, pem, pg_i64(now, pg_now()), pg_i64(ep, epoch)};
	PGresult *r = pg_run(p,
	                     "UPDATE nodes SET mtls_cert = $2, updated = $3 WHERE uuid = $1"
	                     " AND ($4::bigint < 0 OR lease_epoch = $4::bigint)",
	                     4, v);
	store_rc_t rc;
	store_node_t cur = {0};

	if (r == NULL)
		return pg_fail(p, e, "changing a node's certificate");
	rc = pg_changes(r) > 0 ? STORE_OK : STORE_NOT_FOUND;
	PQclear(r);
	if (rc == STORE_NOT_FOUND && epoch >= 0 && pg_node_get(h, uuid, &cur, e) == STORE_OK) {
		err_set(e, "node %s: lease epoch %lld moved to %lld", uuid, (long long)epoch,
		        (long long)cur.lease_epoch);
		store_node_clear(&cur);
		return STORE_FENCED;
	}
	if (rc == STORE_NOT_FOUND)
		err_set(e, "node %s not found", uuid);
	return rc;
}

store_rc_t pg_node_delete(void *h, const char *uuid, err_t *e)
{
	return pg_change_by_id(h, "DELETE FROM nodes WHERE uuid = $1", uuid, 0, e, "deleting node");
}

typedef struct pg_save_slot {
	const store_node_t *node; /* one of the caller's rows */
	size_t i;                 /* its index there */
} pg_save_slot_t;

static int pg_save_slot_cmp(const void *a, const void *b)
{
	return strcmp(((const pg_save_slot_t *)a)->node->uuid,
	              ((const pg_save_slot_t *)b)->node->uuid);
}

/* The rows are written in UUID byte order, whatever order nodes has: two such batches
 * (a hand-over's last write and the next owner's first) lock common rows in one order
 * and never deadlock. The lease renewal skips rows a batch holds (pg_lease_renew). */
int pg_node_save_rows(pg_t *p, const store_node_t *const *nodes, size_t n, int *fenced, err_t *e)
{
	int64_t now = pg_now();
	pg_save_slot_t *order = xmalloc((n ? n : 1) * sizeof(*order));
	int rc = 0;

	for (size_t i = 0; i < n; i++)
		order[i] = (pg_save_slot_t){nodes[i], i};
	if (n > 1)
		qsort(order, n, sizeof(*order), pg_save_slot_cmp);
	for (size_t k = 0; k < n; k++) {
		const store_node_t *node = order[k].node;
		pg_progress_t g;
		const char *v[17];
		char epoch[24];
		PGresult *r;

		pg_progress_fill(&g, node, now);
		v[0] = node->uuid;
		memcpy(&v[1], g.v, sizeof(g.v));
		v[15] = pg_i64(epoch, node->lease_epoch);
		v[16] = node->payload_v_forget ? "1" : "0";
		/* Fenced: only while the lease epoch is still the one this writer holds. */
		r = pg_prepared(p, PG_ST_NODE_SAVE,
		                "UPDATE nodes SET operational_state = $2, attestation_count = $3,"
		                " last_received_quote = $4, last_successful_attestation = $5,"
		                " last_event_id = $6, failure_reason = $7, ima_state = $8,"
		                " mb_log_digest = $9, tpm_clock = $10, tpm_reset_count = $11,"
		                " tpm_restart_count = $12, api_version = $13, updated = $14,"
		                " ima_keys = $15,"
		                " payload_v = CASE WHEN $17::int = 1 THEN NULL ELSE payload_v END"
		                " WHERE uuid = $1 AND lease_epoch = $16",
		                17, v);
		if (r == NULL) {
			pg_fail(p, e, "saving node");
			rc = -1;
			break;
		}
		if (fenced)
			fenced[order[k].i] = pg_changes(r) == 0;
		PQclear(r);
	}
	free(order);
	return rc;
}

store_rc_t pg_node_save(void *h, const store_node_t *const *nodes, size_t n, int *fenced, err_t *e)
{
	pg_t *p = h;

	if (pg_exec(p, "BEGIN", e, "starting node save") < 0)
		return STORE_ERROR;
	if (pg_node_save_rows(p, nodes, n, fenced, e) < 0 ||
	    pg_exec(p, "COMMIT", e, "committing node save") < 0) {
		pg_rollback(p);
		return STORE_ERROR;
	}
	return STORE_OK;
}

/* ---- verifier: policies ---- */

store_rc_t pg_policy_put(void *h, const char *name, const char *kind, const uint8_t *body,
                         size_t len, const char *sha256, int replace, err_t *e)
{
	pg_t *p = h;
	char now[24];
	const char *nv[1] = {name};
	const char *bv[4] = {sha256, kind, (const char *)body, pg_i64(now, pg_now())};
	const int blens[4] = {0, 0, (int)len, 0};
	const int bfmts[4] = {0, 0, 1, 0};
	const char *mv[4] = {name, kind, sha256, now};
	store_rc_t rc = STORE_ERROR;
	PGresult *r = NULL;

	/* One writer of names and bodies at a time, as SQLite's BEGIN IMMEDIATE gives: the
	 * existence check, the insert and the removal of unused bodies see one state. */
	if (pg_exec(p, "BEGIN", e, "starting policy put") < 0)
		return STORE_ERROR;
	if (pg_xact_lock(p, PG_LOCK_POLICY, e, "locking policies") < 0)
		goto out;
	if ((r = pg_run(p, "SELECT kind FROM policy_names WHERE name = $1", 1, nv)) == NULL) {
		pg_fail(p, e, "looking up policy");
		goto out;
	}
	if (PQntuples(r) > 0) {
		if (!replace) {
			err_set(e, "a policy named %s exists (replace it explicitly)", name);
			rc = STORE_EXISTS;
			goto out;
		}
		if (strcmp(PQgetvalue(r, 0, 0), kind) != 0) {
			err_set(e, "policy %s is of kind %s, not %s", name, PQgetvalue(r, 0, 0),
			        kind);
			rc = STORE_EXISTS;
			goto out;
		}
	}
	PQclear(r);
	if ((r = pg_run_fmt(p,
	                    "INSERT INTO policies (sha256, kind, body, created)"
	                    " VALUES ($1, $2, $3::bytea, $4) ON CONFLICT (sha256) DO NOTHING",
	                    4, bv, blens, bfmts)) == NULL) {
		pg_fail(p, e, "storing policy body");
		goto out;
	}
	PQclear(r);
	if ((r = pg_run(p,
	                "INSERT INTO policy_names (name, kind, sha256, created, updated)"
	                " VALUES ($1, $2, $3, $4, $4)"
	                " ON CONFLICT (name) DO UPDATE SET sha256 = $3, updated = $4",
	                4, mv)) == NULL) {
		pg_fail(p, e, "storing policy name");
		goto out;
	}
	PQclear(r);
	r = NULL;
	if (pg_exec(p, "DELETE FROM policies WHERE sha256 NOT IN (SELECT sha256 FROM policy_names)",
	            e, "removing unused policy bodies") < 0 ||
	    pg_exec(p, "COMMIT", e, "committing policy") < 0)
		goto out;
	rc = STORE_OK;
out:
	PQclear(r);
	if (rc != STORE_OK)
		pg_rollback(p);
	return rc;
}

static void pg_policy_row(PGresult *r, int i, store_policy_t *pol, int with_body)
{
	pol->name = pg_col_dup(r, i, 0);
	pol->kind = pg_col_dup(r, i, 1);
	pg_col_copy(r, i, 2, pol->sha256, sizeof(pol->sha256));
	pol->created = pg_col_i64(r, i, 3);
	pol->body_len = (size_t)pg_col_i64(r, i, 4);
	if (with_body) {
		size_t len = 0;
		unsigned char *b =
		    PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 5), &len);

		if (b == NULL)
			fatalx("out of memory");
		pol->body = xmemdup(b, len);
		pol->body_len = len;
		PQfreemem(b);
	}
}

static void pg_policy_row_nobody(PGresult *r, int i, void *elem)
{
	pg_policy_row(r, i, elem, 0);
}

store_rc_t pg_policy_get(void *h, const char *name, int with_body, store_policy_t *out, err_t *e)
{
	pg_t *p = h;
	const char *v[2] = {name, with_body ? "1" : "0"};
	PGresult *r = pg_run(p,
	                     "SELECT n.name, n.kind, n.sha256, n.created, octet_length(p.body),"
	                     " CASE WHEN $2::integer = 1 THEN p.body END FROM policy_names n"
	                     " JOIN policies p ON p.sha256 = n.sha256 WHERE n.name = $1",
	                     2, v);
	store_rc_t rc = STORE_NOT_FOUND;

	if (r == NULL)
		return pg_fail(p, e, "reading policy");
	if (PQntuples(r) > 0) {
		pg_policy_row(r, 0, out, with_body);
		rc = STORE_OK;
	} else {
		err_set(e, "no policy named %s", name);
	}
	PQclear(r);
	return rc;
}

store_rc_t pg_policy_list(void *h, const char *kind, const char *after, size_t limit,
                          store_policy_t **out, size_t *n, err_t *e)
{
	pg_t *p = h;
	char lim[24];
	const char *v[3] = {kind, after, limit ? pg_i64(lim, (int64_t)limit) : NULL};
	/* Byte order (COLLATE "C"), as SQLite's and the page tokens': the database's own
	 * collation may order names otherwise. */
	PGresult *r =
	    pg_run(p,
	           "SELECT n.name, n.kind, n.sha256, n.created, octet_length(p.body)"
	           " FROM policy_names n JOIN policies p ON p.sha256 = n.sha256"
	           " WHERE ($1::text IS NULL OR n.kind = $1) AND n.name COLLATE \"C\" > $2"
	           " ORDER BY n.name COLLATE \"C\" LIMIT $3::bigint",
	           3, v);
	void *rows;

	if (r == NULL)
		return pg_fail(p, e, "listing policies");
	pg_rows(r, sizeof(store_policy_t), pg_policy_row_nobody, &rows, n);
	*out = rows;
	PQclear(r);
	return STORE_OK;
}

store_rc_t pg_policy_delete(void *h, const char *name, err_t *e)
{
	pg_t *p = h;
	const char *v[1] = {name};
	store_rc_t rc = STORE_ERROR;
	PGresult *r = NULL;

	if (pg_exec(p, "BEGIN", e, "starting policy delete") < 0)
		return STORE_ERROR;
	if (pg_xact_lock(p, PG_LOCK_POLICY, e, "locking policies") < 0)
		goto out;
	/* A node added between this check and the delete makes the delete fail on the
	 * foreign key: reported as in use below. */
	if ((r = pg_run(p,
	                "SELECT uuid FROM nodes WHERE tpm_policy = $1 OR runtime_policy = $1"
	                " OR mb_policy = $1 LIMIT 1",
	                1, v)) == NULL) {
		pg_fail(p, e, "checking policy use");
		goto out;
	}
	if (PQntuples(r) > 0) {
		err_set(e, "policy %s is in use by node %s", name, PQgetvalue(r, 0, 0));
		rc = STORE_IN_USE;
		goto out;
	}
	PQclear(r);
	r = NULL;
	rc = pg_change_by_id(p, "DELETE FROM policy_names WHERE name = $1", name, 0, e,
	                     "deleting policy");
	if (rc == STORE_ERROR && strcmp(p->state, PG_FOREIGN_KEY_VIOLATION) == 0) {
		/* A node that names it was added since the check above. */
		err_set(e, "policy %s is in use by a node", name);
		rc = STORE_IN_USE;
	}
	if (rc != STORE_OK)
		goto out;
	rc = STORE_ERROR;
	if (pg_exec(p, "DELETE FROM policies WHERE sha256 NOT IN (SELECT sha256 FROM policy_names)",
	            e, "removing unused policy bodies") < 0 ||
	    pg_exec(p, "COMMIT", e, "committing policy delete") < 0)
		goto out;
	rc = STORE_OK;
out:
	PQclear(r);
	if (rc != STORE_OK)
		pg_rollback(p);
	if (rc == STORE_NOT_FOUND)
		err_set(e, "no policy named %s", name);
	return rc;
}

/* ---- verifier: events ---- */

int pg_event_insert(pg_t *p, const char *node_uuid, const char *type, const char *severity,
                    const char *body_json, char id_out[40], int64_t *seq_out, err_t *e)
{
	static const char zeros[65] =
	    "0000000000000000000000000000000000000000000000000000000000000000";
	char prev[65], hash[65], id[40], seqs[24], ts[24];
	int64_t seq = 1, t = pg_now_ms();
	PGresult *r;

	/* Serialise appenders across connections and processes (see the top of this file). */
	if (pg_xact_lock(p, PG_LOCK_EVENTS, e, "locking the event chain") < 0)
		return -1;
	if ((r = pg_prepared(p, PG_ST_EVENT_HEAD,
	                     "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1", 0, NULL)) ==
	    NULL) {
		pg_fail(p, e, "reading the last event");
		return -1;
	}
	memcpy(prev, zeros, sizeof(prev));
	if (PQntuples(r) > 0) {
		seq = pg_col_i64(r, 0, 0) + 1;
		pg_col_copy(r, 0, 1, prev, sizeof(prev));
	}
	PQclear(r);
	audit_record_hash(prev, seq, t, node_uuid, type, severity, body_json, hash);
	snprintf(id, sizeof(id), "%lld-%.16s", (long long)seq, hash);
	{
		const char *v[9] = {pg_i64(seqs, seq), id,        pg_i64(ts, t), node_uuid, type,
		                    severity,          body_json, prev,          hash};

		if ((r = pg_prepared(p, PG_ST_EVENT_INSERT,
		                     "INSERT INTO events (seq, id, time, node_uuid, type, severity,"
		                     " body, prev_hash, hash)"
		                     " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
		                     9, v)) == NULL) {
			pg_fail(p, e, "appending event");
			return -1;
		}
		PQclear(r);
	}
	if (id_out)
		memcpy(id_out, id, sizeof(id));
	if (seq_out)
		*seq_out = seq;
	return 0;
}

store_rc_t pg_event_append(void *h, const char *node_uuid, const char *type, const char *severity,
                           const char *body_json, char id_out[40], err_t *e)
{
	pg_t *p = h;

	if (pg_exec(p, "BEGIN", e, "starting event append") < 0)
		return STORE_ERROR;
	if (pg_event_insert(p, node_uuid, type, severity, body_json, id_out, NULL, e) < 0 ||
	    pg_exec(p, "COMMIT", e, "committing event") < 0) {
		pg_rollback(p);
		return STORE_ERROR;
	}
	return STORE_OK;
}

store_rc_t pg_event_verify_chain(void *h, err_t *e)
{
	pg_t *p = h;
	char prev[65] = "0000000000000000000000000000000000000000000000000000000000000000";
	char hash[65];
	int64_t expect = 1;
	store_rc_t rc = STORE_OK;
	PGresult *r;

	/* Row by row (single-row mode): the chain may be longer than memory should hold. */
	if (!PQsendQuery(p->conn, "SELECT seq, time, node_uuid, type, severity, body, prev_hash,"
	                          " hash FROM events ORDER BY seq") ||
	    !PQsetSingleRowMode(p->conn)) {
		snprintf(p->errmsg, sizeof(p->errmsg), "%s", PQerrorMessage(p->conn));
		p->state[0] = '\0';
		return pg_fail(p, e, "reading events");
	}
	while ((r = PQgetResult(p->conn)) != NULL) {
		ExecStatusType st = PQresultStatus(r);

		if (st == PGRES_SINGLE_TUPLE && rc == STORE_OK) {
			int64_t seq = pg_col_i64(r, 0, 0);
			const char *col[4];

			for (int c = 0; c < 4; c++)
				col[c] =
				    pg_col_is_null(r, 0, 2 + c) ? NULL : PQgetvalue(r, 0, 2 + c);
			audit_record_hash(prev, seq, pg_col_i64(r, 0, 1), col[0], col[1], col[2],
			                  col[3], hash);
			if (seq != expect || strcmp(PQgetvalue(r, 0, 6), prev) != 0 ||
			    strcmp(PQgetvalue(r, 0, 7), hash) != 0) {
				err_set(e, "event chain broken at seq %lld", (long long)seq);
				rc = STORE_ERROR; /* keep reading: the connection must drain */
			}
			memcpy(prev, hash, sizeof(prev));
			expect++;
			PQclear(r);
		} else if (st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK) {
			PQclear(r);
		} else {
			if (rc == STORE_OK) {
				rc = STORE_ERROR;
				snprintf(p->errmsg, sizeof(p->errmsg), "%s",
				         PQresultErrorMessage(r));
				p->state[0] = '\0';
				pg_fail(p, e, "reading events");
			}
			PQclear(r);
		}
	}
	return rc;
}

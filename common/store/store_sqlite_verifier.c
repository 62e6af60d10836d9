/* store_sqlite_verifier: the verifier's nodes (and their batched progress), its
 * content-addressed policies and its hash-chained event log, in SQLite. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/base/buf.h"
#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/store/audit.h"
#include "common/store/store_sqlite_priv.h"

/* ---- verifier: nodes ---- */

static void sq_node_row(sqlite3_stmt *st, store_node_t *n)
{
	n->uuid = sq_col_dup(st, 0);
	n->ak_tpm = sq_col_dup(st, 1);
	n->ip = sq_col_dup(st, 2);
	n->port = sqlite3_column_int(st, 3);
	n->mtls_cert = sq_col_dup(st, 4);
	n->api_version = sq_col_dup(st, 5);
	n->pcr_policy = sq_col_dup(st, 6);
	n->runtime_policy = sq_col_dup(st, 7);
	n->mb_policy = sq_col_dup(st, 8);
	n->operational_state = sqlite3_column_int(st, 9);
	n->attestation_count = sq_col_i64(st, 10);
	n->last_received_quote = sq_col_i64(st, 11);
	n->last_successful_attestation = sq_col_i64(st, 12);
	n->last_event_id = sq_col_dup(st, 13);
	n->failure_reason = sq_col_dup(st, 14);
	n->ima_state = sq_col_dup(st, 15);
	n->mb_log_digest = sq_col_dup(st, 16);
	n->has_clock = sqlite3_column_type(st, 17) != SQLITE_NULL;
	n->tpm_clock = sq_col_i64(st, 17);
	n->tpm_reset_count = sq_col_i64(st, 18);
	n->tpm_restart_count = sq_col_i64(st, 19);
	n->created = sq_col_i64(st, 20);
	n->updated = sq_col_i64(st, 21);
	n->ima_keys = sq_col_dup(st, 22);
	n->lease_owner = sq_col_dup(st, 23);
	n->lease_expiry = sq_col_i64(st, 24);
	n->lease_epoch = sq_col_i64(st, 25);
	n->payload_v = sq_col_dup(st, 26); /* hex("") for NULL: none */
	if (n->payload_v && n->payload_v[0] == '\0') {
		free(n->payload_v);
		n->payload_v = NULL;
	}
}

void sq_node_row_at(sqlite3_stmt *st, void *elem)
{
	sq_node_row(st, elem);
}

/* Bind the progress fields of n to ?2..?14 and ?22 (shared by add and save). */
static int sq_bind_progress(sqlite3_stmt *st, const store_node_t *n)
{
	return sqlite3_bind_int(st, 2, n->operational_state) ||
	       sqlite3_bind_int64(st, 3, n->attestation_count) ||
	       sqlite3_bind_int64(st, 4, n->last_received_quote) ||
	       sqlite3_bind_int64(st, 5, n->last_successful_attestation) ||
	       sq_bind_text(st, 6, n->last_event_id) || sq_bind_text(st, 7, n->failure_reason) ||
	       sq_bind_text(st, 8, n->ima_state) || sq_bind_text(st, 9, n->mb_log_digest) ||
	       (n->has_clock ? sqlite3_bind_int64(st, 10, n->tpm_clock) ||
	                           sqlite3_bind_int64(st, 11, n->tpm_reset_count) ||
	                           sqlite3_bind_int64(st, 12, n->tpm_restart_count)
	                     : sqlite3_bind_null(st, 10) || sqlite3_bind_null(st, 11) ||
	                           sqlite3_bind_null(st, 12)) ||
	       sq_bind_text(st, 13, n->api_version) || sqlite3_bind_int64(st, 14, sq_now()) ||
	       sq_bind_text(st, 22, n->ima_keys);
}

store_rc_t sq_node_add(void *h, const store_node_t *n, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	buf_t v = BUF_INIT;
	int r;

	if (sqlite3_prepare_v2(
	        q->db,
	        "INSERT INTO nodes (uuid, operational_state, attestation_count,"
	        " last_received_quote, last_successful_attestation, last_event_id,"
	        " failure_reason, ima_state, mb_log_digest, tpm_clock, tpm_reset_count,"
	        " tpm_restart_count, api_version, created, updated, ak_tpm, ip, port,"
	        " mtls_cert, tpm_policy, runtime_policy, mb_policy, ima_keys, lease_owner,"
	        " lease_expiry, lease_epoch, payload_v)"
	        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
	        " ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26)",
	        -1, &st, NULL) != SQLITE_OK) {
		sq_fail(q, e, "preparing node insert");
		goto out;
	}
	if (sq_bind_text(st, 1, n->uuid) || sq_bind_progress(st, n) ||
	    sq_bind_text(st, 15, n->ak_tpm) || sq_bind_text(st, 16, n->ip) ||
	    sqlite3_bind_int(st, 17, n->port) || sq_bind_text(st, 18, n->mtls_cert) ||
	    sq_bind_text(st, 19, n->pcr_policy) || sq_bind_text(st, 20, n->runtime_policy) ||
	    sq_bind_text(st, 21, n->mb_policy) || sq_bind_text(st, 23, n->lease_owner) ||
	    (n->lease_owner ? sqlite3_bind_int64(st, 24, n->lease_expiry)
	                    : sqlite3_bind_null(st, 24)) ||
	    sqlite3_bind_int64(st, 25, n->lease_epoch)) {
		sq_fail(q, e, "binding node insert");
		goto out;
	}
	if (n->payload_v) {
		if (hex_decode(&v, n->payload_v, strlen(n->payload_v)) < 0) {
			err_set(e, "node %s: its payload share is not hex", n->uuid);
			goto out;
		}
		if (sqlite3_bind_blob(st, 26, v.data, (int)v.len, SQLITE_TRANSIENT) != SQLITE_OK) {
			sq_fail(q, e, "binding node insert");
			goto out;
		}
	}
	r = sqlite3_step(st);
	if (r == SQLITE_CONSTRAINT_PRIMARYKEY) {
		err_set(e, "node %s already exists", n->uuid);
		rc = STORE_EXISTS;
	} else if (r == SQLITE_CONSTRAINT_FOREIGNKEY) {
		err_set(e, "a policy named for node %s does not exist", n->uuid);
		rc = STORE_NOT_FOUND;
	} else if (r != SQLITE_DONE) {
		sq_fail(q, e, "storing node");
	} else {
		rc = STORE_OK;
	}
out:
	sqlite3_finalize(st);
	buf_free_secret(&v);
	return rc;
}

static void sq_node_row_cb(sqlite3_stmt *st, void *elem)
{
	sq_node_row(st, elem);
}

store_rc_t sq_node_get(void *h, const char *uuid, store_node_t *out, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;

	if (sqlite3_prepare_v2(q->db, "SELECT " SQ_NODE_COLS " FROM nodes WHERE uuid = ?1", -1, &st,
	                       NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, uuid))
		sq_fail(q, e, "preparing node lookup");
	else
		rc = sq_row_one(q, st, sq_node_row_cb, out, e, "reading node");
	sqlite3_finalize(st);
	return rc;
}

static void sq_nodes_release(void *v, size_t n)
{
	store_nodes_free(v, n);
}

store_rc_t sq_node_list(void *h, store_node_t **nodes, size_t *n, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	void *v = NULL;

	if (sqlite3_prepare_v2(q->db, "SELECT " SQ_NODE_COLS " FROM nodes ORDER BY uuid", -1, &st,
	                       NULL) != SQLITE_OK)
		sq_fail(q, e, "preparing node list");
	else if ((rc = sq_rows(q, st, sizeof(store_node_t), sq_node_row_cb, sq_nodes_release, &v, n,
	                       e, "listing nodes")) == STORE_OK)
		*nodes = v;
	sqlite3_finalize(st);
	return rc;
}

store_rc_t sq_node_update(void *h, const store_node_t *u, int64_t epoch, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	store_node_t cur = {0};
	int r;

	if (sqlite3_prepare_v2(
	        q->db,
	        "UPDATE nodes SET ip = ?2, port = ?3, mtls_cert = ?4, tpm_policy = ?5,"
	        " runtime_policy = ?6, mb_policy = ?7, updated = ?8 WHERE uuid = ?1"
	        " AND (?9 < 0 OR lease_epoch = ?9)",
	        -1, &st, NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, u->uuid) || sq_bind_text(st, 2, u->ip) ||
	    sqlite3_bind_int(st, 3, u->port) || sq_bind_text(st, 4, u->mtls_cert) ||
	    sq_bind_text(st, 5, u->pcr_policy) || sq_bind_text(st, 6, u->runtime_policy) ||
	    sq_bind_text(st, 7, u->mb_policy) || sqlite3_bind_int64(st, 8, sq_now()) ||
	    sqlite3_bind_int64(st, 9, epoch)) {
		sq_fail(q, e, "preparing node update");
		goto out;
	}
	r = sqlite3_step(st);
	if (r == SQLITE_CONSTRAINT_FOREIGNKEY) {
		err_set(e, "a policy named for node %s does not exist", u->uuid);
		rc = STORE_NOT_FOUND;
		goto out;
	}
	if (r != SQLITE_DONE) {
		sq_fail(q, e, "updating a node");
		goto out;
	}
	rc = sqlite3_changes(q->db) > 0 ? STORE_OK : STORE_NOT_FOUND;
	if (rc == STORE_NOT_FOUND && epoch >= 0 && sq_node_get(h, u->uuid, &cur, e) == STORE_OK) {
		err_set(e, "node %s: lease epoch %lld moved to %lld", u->uuid, (long long)epoch,
		        (long long)cur.lease_epoch);
		store_node_clear(&cur);
		rc = STORE_FENCED;
	} else if (rc == STORE_NOT_FOUND) {
		err_set(e, "node %s not found", u->uuid);
	}
out:
	sqlite3_finalize(st);
	return rc;
}

store_rc_t sq_node_set_mtls_cert(void *h, const char *uuid, const char *pem, int64_t epoch,
                                 err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	store_node_t cur = {0};

	if (sqlite3_prepare_v2(q->db,
	                       "UPDATE nodes SET mtls_cert = ?2, updated = ?3 WHERE uuid = ?1"
	                       " AND (?4 < 0 OR lease_epoch = ?4)",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, uuid) || sq_bind_text(st, 2, pem) ||
	    sqlite3_bind_int64(st, 3, sq_now()) || sqlite3_bind_int64(st, 4, epoch) ||
	    sqlite3_step(st) != SQLITE_DONE) {
		sq_fail(q, e, "changing a node's certificate");
		goto out;
	}
	rc = sqlite3_changes(q->db) > 0 ? STORE_OK : STORE_NOT_FOUND;
	if (rc == STORE_NOT_FOUND && epoch >= 0 && sq_node_get(h, uuid, &cur, e) == STORE_OK) {
		err_set(e, "node %s: lease epoch %lld moved to %lld", uuid, (long long)epoch,
		        (long long)cur.lease_epoch);
		store_node_clear(&cur);
		rc = STORE_FENCED;
	} else if (rc == STORE_NOT_FOUND) {
		err_set(e, "node %s not found", uuid);
	}
out:
	sqlite3_finalize(st);
	return rc;
}

store_rc_t sq_node_delete(void *h, const char *uuid, err_t *e)
{
	return sq_change_by_id(h, "DELETE FROM nodes WHERE uuid = ?1", uuid, e, "deleting node");
}

int sq_node_save_rows(sq_t *q, const store_node_t *const *nodes, size_t n, int *fenced, err_t *e)
{
	sqlite3_stmt *st = NULL;
	int rv = -1;

	if (sqlite3_prepare_v2(q->db,
	                       "UPDATE nodes SET operational_state = ?2, attestation_count = ?3,"
	                       " last_received_quote = ?4, last_successful_attestation = ?5,"
	                       " last_event_id = ?6, failure_reason = ?7, ima_state = ?8,"
	                       " mb_log_digest = ?9, tpm_clock = ?10, tpm_reset_count = ?11,"
	                       " tpm_restart_count = ?12, api_version = ?13, updated = ?14,"
	                       " ima_keys = ?22,"
	                       " payload_v = CASE WHEN ?24 THEN NULL ELSE payload_v END"
	                       " WHERE uuid = ?1 AND lease_epoch = ?23",
	                       -1, &st, NULL) != SQLITE_OK) {
		sq_fail(q, e, "preparing node save");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (sq_bind_text(st, 1, nodes[i]->uuid) || sq_bind_progress(st, nodes[i]) ||
		    sqlite3_bind_int64(st, 23, nodes[i]->lease_epoch) ||
		    sqlite3_bind_int(st, 24, nodes[i]->payload_v_forget ? 1 : 0) ||
		    sqlite3_step(st) != SQLITE_DONE) {
			sq_fail(q, e, "saving node");
			goto out;
		}
		if (fenced)
			fenced[i] = sqlite3_changes(q->db) == 0;
	}
	rv = 0;
out:
	sqlite3_finalize(st);
	return rv;
}

store_rc_t sq_node_save(void *h, const store_node_t *const *nodes, size_t n, int *fenced, err_t *e)
{
	sq_t *q = h;
	store_rc_t rc = STORE_ERROR;

	if (sq_exec(q, "BEGIN IMMEDIATE", e, "starting node save") < 0)
		return STORE_ERROR;
	if (sq_node_save_rows(q, nodes, n, fenced, e) < 0)
		goto out;
	if (sq_exec(q, "COMMIT", e, "committing node save") < 0)
		goto out;
	rc = STORE_OK;
out:
	if (rc != STORE_OK)
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* ---- verifier: policies ---- */

store_rc_t sq_policy_put(void *h, const char *name, const char *kind, const uint8_t *body,
                         size_t len, const char *sha256, int replace, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	int r;

	if (sq_exec(q, "BEGIN IMMEDIATE", e, "starting policy put") < 0)
		return STORE_ERROR;
	/* An existing name: refuse, or check the kind before moving it. */
	if (sqlite3_prepare_v2(q->db, "SELECT kind FROM policy_names WHERE name = ?1", -1, &st,
	                       NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, name)) {
		sq_fail(q, e, "preparing policy lookup");
		goto out;
	}
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		if (!replace) {
			err_set(e, "a policy named %s exists (replace it explicitly)", name);
			rc = STORE_EXISTS;
			goto out;
		}
		if (strcmp((const char *)sqlite3_column_text(st, 0), kind) != 0) {
			err_set(e, "policy %s is of kind %s, not %s", name,
			        (const char *)sqlite3_column_text(st, 0), kind);
			rc = STORE_EXISTS;
			goto out;
		}
	} else if (r != SQLITE_DONE) {
		sq_fail(q, e, "looking up policy");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(
	        q->db,
	        "INSERT INTO policies (sha256, kind, body, created) VALUES (?1, ?2, ?3, ?4)"
	        " ON CONFLICT (sha256) DO NOTHING",
	        -1, &st, NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, sha256) || sq_bind_text(st, 2, kind) ||
	    sqlite3_bind_blob(st, 3, body, (int)len, SQLITE_TRANSIENT) ||
	    sqlite3_bind_int64(st, 4, sq_now()) || sqlite3_step(st) != SQLITE_DONE) {
		sq_fail(q, e, "storing policy body");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(q->db,
	                       "INSERT INTO policy_names (name, kind, sha256, created, updated)"
	                       " VALUES (?1, ?2, ?3, ?4, ?4)"
	                       " ON CONFLICT (name) DO UPDATE SET sha256 = ?3, updated = ?4",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, name) || sq_bind_text(st, 2, kind) || sq_bind_text(st, 3, sha256) ||
	    sqlite3_bind_int64(st, 4, sq_now()) || sqlite3_step(st) != SQLITE_DONE) {
		sq_fail(q, e, "storing policy name");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sq_exec(q, "DELETE FROM policies WHERE sha256 NOT IN (SELECT sha256 FROM policy_names)",
	            e, "removing unused policy bodies") < 0 ||
	    sq_exec(q, "COMMIT", e, "committing policy") < 0)
		goto out;
	rc = STORE_OK;
out:
	sqlite3_finalize(st);
	if (rc != STORE_OK)
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static void sq_policy_row(sqlite3_stmt *st, store_policy_t *p, int with_body)
{
	const unsigned char *sha = sqlite3_column_text(st, 2);

	p->name = sq_col_dup(st, 0);
	p->kind = sq_col_dup(st, 1);
	snprintf(p->sha256, sizeof(p->sha256), "%s", sha ? (const char *)sha : "");
	p->created = sq_col_i64(st, 3);
	p->body_len = (size_t)sqlite3_column_bytes(st, 4);
	if (with_body)
		p->body = xmemdup(sqlite3_column_blob(st, 4), p->body_len);
}

static void sq_policy_row_body(sqlite3_stmt *st, void *elem)
{
	sq_policy_row(st, elem, 1);
}

static void sq_policy_row_nobody(sqlite3_stmt *st, void *elem)
{
	sq_policy_row(st, elem, 0);
}

store_rc_t sq_policy_get(void *h, const char *name, int with_body, store_policy_t *out, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;

	if (sqlite3_prepare_v2(
	        q->db,
	        "SELECT n.name, n.kind, n.sha256, n.created, p.body FROM policy_names n"
	        " JOIN policies p ON p.sha256 = n.sha256 WHERE n.name = ?1",
	        -1, &st, NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, name))
		sq_fail(q, e, "preparing policy get");
	else if ((rc = sq_row_one(q, st, with_body ? sq_policy_row_body : sq_policy_row_nobody, out,
	                          e, "reading policy")) == STORE_NOT_FOUND)
		err_set(e, "no policy named %s", name);
	sqlite3_finalize(st);
	return rc;
}

static void sq_policies_release(void *v, size_t n)
{
	store_policies_free(v, n);
}

store_rc_t sq_policy_list(void *h, const char *kind, const char *after, size_t limit,
                          store_policy_t **out, size_t *n, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	void *v = NULL;

	if (sqlite3_prepare_v2(
	        q->db,
	        "SELECT n.name, n.kind, n.sha256, n.created, p.body FROM policy_names n"
	        " JOIN policies p ON p.sha256 = n.sha256"
	        " WHERE (?1 IS NULL OR n.kind = ?1) AND n.name > ?2 ORDER BY n.name LIMIT ?3",
	        -1, &st, NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, kind) || sq_bind_text(st, 2, after) ||
	    sqlite3_bind_int64(st, 3, limit ? (sqlite3_int64)limit : -1))
		sq_fail(q, e, "preparing policy list");
	else if ((rc = sq_rows(q, st, sizeof(store_policy_t), sq_policy_row_nobody,
	                       sq_policies_release, &v, n, e, "listing policies")) == STORE_OK)
		*out = v;
	sqlite3_finalize(st);
	return rc;
}

store_rc_t sq_policy_delete(void *h, const char *name, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;

	if (sq_exec(q, "BEGIN IMMEDIATE", e, "starting policy delete") < 0)
		return STORE_ERROR;
	if (sqlite3_prepare_v2(q->db,
	                       "SELECT uuid FROM nodes WHERE tpm_policy = ?1 OR runtime_policy = ?1"
	                       " OR mb_policy = ?1 LIMIT 1",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, name)) {
		sq_fail(q, e, "preparing policy use check");
		goto out;
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		err_set(e, "policy %s is in use by node %s", name,
		        (const char *)sqlite3_column_text(st, 0));
		rc = STORE_IN_USE;
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	rc = sq_change_by_id(q, "DELETE FROM policy_names WHERE name = ?1", name, e,
	                     "deleting policy");
	if (rc != STORE_OK)
		goto out;
	rc = STORE_ERROR;
	if (sq_exec(q, "DELETE FROM policies WHERE sha256 NOT IN (SELECT sha256 FROM policy_names)",
	            e, "removing unused policy bodies") < 0 ||
	    sq_exec(q, "COMMIT", e, "committing policy delete") < 0)
		goto out;
	rc = STORE_OK;
out:
	sqlite3_finalize(st);
	if (rc != STORE_OK)
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	if (rc == STORE_NOT_FOUND)
		err_set(e, "no policy named %s", name);
	return rc;
}

/* ---- verifier: events ---- */

int sq_event_insert(sq_t *q, const char *node_uuid, const char *type, const char *severity,
                    const char *body_json, char id_out[40], int64_t *seq_out, err_t *e)
{
	static const char zeros[65] =
	    "0000000000000000000000000000000000000000000000000000000000000000";
	sqlite3_stmt *st = NULL;
	char prev[65], hash[65], id[40];
	int64_t seq = 1, t;
	struct timespec ts;
	int rv = -1;

	clock_gettime(CLOCK_REALTIME, &ts);
	t = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	memcpy(prev, zeros, sizeof(prev));
	if (sqlite3_prepare_v2(q->db, "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1", -1,
	                       &st, NULL) != SQLITE_OK) {
		sq_fail(q, e, "reading the last event");
		goto out;
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		seq = sqlite3_column_int64(st, 0) + 1;
		snprintf(prev, sizeof(prev), "%s", (const char *)sqlite3_column_text(st, 1));
	}
	sqlite3_finalize(st);
	st = NULL;
	audit_record_hash(prev, seq, t, node_uuid, type, severity, body_json, hash);
	snprintf(id, sizeof(id), "%lld-%.16s", (long long)seq, hash);
	if (sqlite3_prepare_v2(q->db,
	                       "INSERT INTO events (seq, id, time, node_uuid, type, severity, body,"
	                       " prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, seq) || sq_bind_text(st, 2, id) ||
	    sqlite3_bind_int64(st, 3, t) || sq_bind_text(st, 4, node_uuid) ||
	    sq_bind_text(st, 5, type) || sq_bind_text(st, 6, severity) ||
	    sq_bind_text(st, 7, body_json) || sq_bind_text(st, 8, prev) ||
	    sq_bind_text(st, 9, hash) || sqlite3_step(st) != SQLITE_DONE) {
		sq_fail(q, e, "appending event");
		goto out;
	}
	if (id_out)
		memcpy(id_out, id, sizeof(id));
	if (seq_out)
		*seq_out = seq;
	rv = 0;
out:
	sqlite3_finalize(st);
	return rv;
}

store_rc_t sq_event_append(void *h, const char *node_uuid, const char *type, const char *severity,
                           const char *body_json, char id_out[40], err_t *e)
{
	sq_t *q = h;
	store_rc_t rc = STORE_ERROR;

	if (sq_exec(q, "BEGIN IMMEDIATE", e, "starting event append") < 0)
		return STORE_ERROR;
	if (sq_event_insert(q, node_uuid, type, severity, body_json, id_out, NULL, e) < 0)
		goto out;
	if (sq_exec(q, "COMMIT", e, "committing event") < 0)
		goto out;
	rc = STORE_OK;
out:
	if (rc != STORE_OK)
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

store_rc_t sq_event_verify_chain(void *h, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	char prev[65] = "0000000000000000000000000000000000000000000000000000000000000000";
	char hash[65];
	int64_t expect = 1;
	int r;

	if (sqlite3_prepare_v2(q->db,
	                       "SELECT seq, time, node_uuid, type, severity, body, prev_hash, hash"
	                       " FROM events ORDER BY seq",
	                       -1, &st, NULL) != SQLITE_OK) {
		sq_fail(q, e, "reading events");
		goto out;
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(st, 0);
		const char *stored_prev = (const char *)sqlite3_column_text(st, 6);
		const char *stored = (const char *)sqlite3_column_text(st, 7);

		audit_record_hash(prev, seq, sqlite3_column_int64(st, 1),
		                  (const char *)sqlite3_column_text(st, 2),
		                  (const char *)sqlite3_column_text(st, 3),
		                  (const char *)sqlite3_column_text(st, 4),
		                  (const char *)sqlite3_column_text(st, 5), hash);
		if (seq != expect || stored_prev == NULL || strcmp(stored_prev, prev) != 0 ||
		    stored == NULL || strcmp(stored, hash) != 0) {
			err_set(e, "event chain broken at seq %lld", (long long)seq);
			goto out;
		}
		memcpy(prev, hash, sizeof(prev));
		expect++;
	}
	if (r != SQLITE_DONE) {
		sq_fail(q, e, "reading events");
		goto out;
	}
	rc = STORE_OK;
out:
	sqlite3_finalize(st);
	return rc;
}

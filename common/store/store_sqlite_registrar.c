/* store_sqlite_registrar: the registrar's enrollments in SQLite: active records, staged
 * re-registrations, the one-TPM-one-node lookup. */
#include <stdlib.h>
#include <string.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/store/store_sqlite_priv.h"

/* Bind an enrollment's identity and contact (agent_id, ek_tpm, ekcert, aik_tpm, mtls_cert,
 * ip, port) to ?1..?7, as both the enrollment and the staged attempt store them. */
static int sq_bind_identity(sqlite3_stmt *st, const store_agent_t *a)
{
	return sq_bind_text(st, 1, a->agent_id) || sq_bind_text(st, 2, a->ek_tpm) ||
	       sq_bind_text(st, 3, a->ekcert) || sq_bind_text(st, 4, a->aik_tpm) ||
	       sq_bind_text(st, 5, a->mtls_cert) || sq_bind_text(st, 6, a->ip) ||
	       sqlite3_bind_int(st, 7, a->port);
}

store_rc_t sq_agent_put(void *h, const store_agent_t *a, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	int64_t now = sq_now();

	if (sqlite3_prepare_v2(
	        q->db,
	        "INSERT INTO registrar_agents (agent_id, ek_tpm, ekcert, aik_tpm, mtls_cert, ip, "
	        "port,"
	        " regcount, active, pending_key, created, updated, ek_key)"
	        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12)"
	        " ON CONFLICT (agent_id) DO UPDATE SET ek_tpm = ?2, ekcert = ?3, aik_tpm = ?4,"
	        " mtls_cert = ?5, ip = ?6, port = ?7, regcount = ?8, active = ?9,"
	        " pending_key = ?10, updated = ?11, ek_key = ?12",
	        -1, &st, NULL) != SQLITE_OK) {
		sq_fail(q, e, "preparing agent insert");
		goto out;
	}
	if (sq_bind_identity(st, a) || sqlite3_bind_int(st, 8, a->regcount) ||
	    sqlite3_bind_int(st, 9, a->active ? 1 : 0) || sq_bind_text(st, 10, a->pending_key) ||
	    sqlite3_bind_int64(st, 11, now) || sq_bind_text(st, 12, a->ek_key)) {
		sq_fail(q, e, "binding agent insert");
		goto out;
	}
	if (sqlite3_step(st) != SQLITE_DONE) {
		sq_fail(q, e, "storing agent");
		goto out;
	}
	rc = STORE_OK;
out:
	sqlite3_finalize(st);
	return rc;
}

/* An enrollment row from the columns agent_id, ek_tpm, ekcert, aik_tpm, mtls_cert, ip,
 * port, pending_key, created, then (not staged) regcount, active, updated, ek_key. */
static void sq_agent_fill(sqlite3_stmt *st, int staged, store_agent_t *out)
{
	out->agent_id = sq_col_dup(st, 0);
	out->ek_tpm = sq_col_dup(st, 1);
	out->ekcert = sq_col_dup(st, 2);
	out->aik_tpm = sq_col_dup(st, 3);
	out->mtls_cert = sq_col_dup(st, 4);
	out->ip = sq_col_dup(st, 5);
	out->port = sqlite3_column_int(st, 6);
	out->pending_key = sq_col_dup(st, 7);
	out->created = sqlite3_column_int64(st, 8);
	if (staged) {
		out->updated = out->created;
	} else {
		out->regcount = sqlite3_column_int(st, 9);
		out->active = sqlite3_column_int(st, 10);
		out->updated = sqlite3_column_int64(st, 11);
		out->ek_key = sq_col_dup(st, 12);
	}
}

/* One enrollment row (staged: the registrar_staged table, which has no regcount, active
 * or ek_key). STORE_NOT_FOUND when there is none. */
static store_rc_t sq_agent_read(sq_t *q, int staged, const char *agent_id, store_agent_t *out,
                                err_t *e)
{
	static const char *const sql[2] = {
	    "SELECT agent_id, ek_tpm, ekcert, aik_tpm, mtls_cert, ip, port, pending_key, created,"
	    " regcount, active, updated, ek_key FROM registrar_agents WHERE agent_id = ?1",
	    "SELECT agent_id, ek_tpm, ekcert, aik_tpm, mtls_cert, ip, port, pending_key, created"
	    " FROM registrar_staged WHERE agent_id = ?1",
	};
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	int r;

	if (sqlite3_prepare_v2(q->db, sql[staged ? 1 : 0], -1, &st, NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, agent_id)) {
		sq_fail(q, e, staged ? "preparing staged lookup" : "preparing agent lookup");
		goto out;
	}
	r = sqlite3_step(st);
	if (r == SQLITE_DONE) {
		rc = STORE_NOT_FOUND;
		goto out;
	}
	if (r != SQLITE_ROW) {
		sq_fail(q, e, staged ? "reading staged attempt" : "reading agent");
		goto out;
	}
	sq_agent_fill(st, staged, out);
	rc = STORE_OK;
out:
	sqlite3_finalize(st);
	return rc;
}

store_rc_t sq_agent_get(void *h, const char *agent_id, store_agent_t *out, err_t *e)
{
	return sq_agent_read(h, 0, agent_id, out, e);
}

store_rc_t sq_agent_list(void *h, char ***ids, size_t *n, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	char **v = xcalloc(1, sizeof(char *));
	size_t k = 0;
	int r;

	if (sqlite3_prepare_v2(q->db, "SELECT agent_id FROM registrar_agents ORDER BY agent_id", -1,
	                       &st, NULL) != SQLITE_OK) {
		sq_fail(q, e, "preparing agent list");
		goto out;
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		v = xrealloc(v, (k + 2) * sizeof(char *));
		v[k++] = sq_col_dup(st, 0);
		v[k] = NULL;
	}
	if (r != SQLITE_DONE) {
		sq_fail(q, e, "listing agents");
		goto out;
	}
	*ids = v;
	*n = k;
	v = NULL;
	rc = STORE_OK;
out:
	sqlite3_finalize(st);
	store_ids_free(v);
	return rc;
}

store_rc_t sq_agent_list_page(void *h, const char *after_id, size_t limit, store_agent_t **out,
                              size_t *n, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	store_agent_t *v = NULL;
	size_t k = 0;
	int r = SQLITE_DONE;

	/* The primary key's index gives the order (BINARY collation: byte order) and the
	 * start; the pending key is never read. */
	if (sqlite3_prepare_v2(q->db,
	                       "SELECT agent_id, ek_tpm, ekcert, aik_tpm, mtls_cert, ip, port,"
	                       " NULL, created, regcount, active, updated, ek_key"
	                       " FROM registrar_agents WHERE agent_id > ?1"
	                       " ORDER BY agent_id LIMIT ?2",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, after_id) || sqlite3_bind_int64(st, 2, (sqlite3_int64)limit)) {
		sq_fail(q, e, "preparing agent page");
		goto out;
	}
	v = xcalloc(limit, sizeof(*v));
	while (k < limit && (r = sqlite3_step(st)) == SQLITE_ROW)
		sq_agent_fill(st, 0, &v[k++]);
	if (k < limit && r != SQLITE_DONE) {
		sq_fail(q, e, "listing a page of agents");
		goto out;
	}
	*out = v;
	*n = k;
	v = NULL;
	rc = STORE_OK;
out:
	sqlite3_finalize(st);
	store_agents_free(v, k);
	return rc;
}

store_rc_t sq_agent_delete(void *h, const char *agent_id, err_t *e)
{
	return sq_change_by_id(h, "DELETE FROM registrar_agents WHERE agent_id = ?1", agent_id, e,
	                       "deleting agent");
}

store_rc_t sq_agent_delete_pending(void *h, const char *agent_id, err_t *e)
{
	return sq_change_by_id(h, "DELETE FROM registrar_agents WHERE agent_id = ?1 AND active = 0",
	                       agent_id, e, "deleting a pending registration");
}

store_rc_t sq_agent_activate(void *h, const char *agent_id, err_t *e)
{
	return sq_change_by_id(h,
	                       "UPDATE registrar_agents SET active = 1, pending_key = NULL,"
	                       " updated = ?2 WHERE agent_id = ?1 AND active = 0",
	                       agent_id, e, "activating agent");
}

store_rc_t sq_agent_stage(void *h, const store_agent_t *a, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;

	/* The SELECT yields no row unless an active enrollment exists, so nothing is staged
	 * beside a record that is still waiting for its first activation. */
	if (sqlite3_prepare_v2(
	        q->db,
	        "INSERT INTO registrar_staged (agent_id, ek_tpm, ekcert, aik_tpm, mtls_cert, ip,"
	        " port, pending_key, created)"
	        " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 FROM registrar_agents"
	        " WHERE agent_id = ?1 AND active = 1"
	        " ON CONFLICT (agent_id) DO UPDATE SET ek_tpm = ?2, ekcert = ?3, aik_tpm = ?4,"
	        " mtls_cert = ?5, ip = ?6, port = ?7, pending_key = ?8, created = ?9",
	        -1, &st, NULL) != SQLITE_OK) {
		sq_fail(q, e, "preparing staged insert");
		goto out;
	}
	if (sq_bind_identity(st, a) || sq_bind_text(st, 8, a->pending_key) ||
	    sqlite3_bind_int64(st, 9, sq_now())) {
		sq_fail(q, e, "binding staged insert");
		goto out;
	}
	if (sqlite3_step(st) != SQLITE_DONE) {
		sq_fail(q, e, "staging a re-registration");
		goto out;
	}
	rc = sqlite3_changes(q->db) > 0 ? STORE_OK : STORE_NOT_FOUND;
out:
	sqlite3_finalize(st);
	return rc;
}

store_rc_t sq_agent_get_staged(void *h, const char *agent_id, store_agent_t *out, err_t *e)
{
	return sq_agent_read(h, 1, agent_id, out, e);
}

store_rc_t sq_agent_unstage(void *h, const char *agent_id, err_t *e)
{
	return sq_change_by_id(h, "DELETE FROM registrar_staged WHERE agent_id = ?1", agent_id, e,
	                       "discarding staged attempt");
}

store_rc_t sq_agent_promote(void *h, const char *agent_id, err_t *e)
{
	sq_t *q = h;
	store_rc_t rc;
	err_t ignore = {""};

	if (sq_exec(q, "BEGIN IMMEDIATE", e, "starting activation") < 0)
		return STORE_ERROR;
	/* Only into the same identity, still active: an administrator may have deleted the
	 * enrollment (which cascades) or another one may have replaced it meanwhile. */
	rc = sq_change_by_id(
	    q,
	    "UPDATE registrar_agents SET"
	    " mtls_cert = (SELECT mtls_cert FROM registrar_staged WHERE agent_id = ?1),"
	    " ip = (SELECT ip FROM registrar_staged WHERE agent_id = ?1),"
	    " port = (SELECT port FROM registrar_staged WHERE agent_id = ?1),"
	    " regcount = regcount + 1, updated = ?2"
	    " WHERE agent_id = ?1 AND active = 1 AND EXISTS (SELECT 1 FROM registrar_staged s"
	    "  WHERE s.agent_id = ?1 AND s.ek_tpm = registrar_agents.ek_tpm"
	    "  AND s.aik_tpm = registrar_agents.aik_tpm"
	    "  AND s.ekcert IS registrar_agents.ekcert)",
	    agent_id, e, "activating staged attempt");
	if (rc != STORE_OK)
		goto fail;
	rc = sq_change_by_id(q, "DELETE FROM registrar_staged WHERE agent_id = ?1", agent_id, e,
	                     "discarding activated attempt");
	if (rc != STORE_OK)
		goto fail;
	if (sq_exec(q, "COMMIT", e, "committing activation") < 0) {
		rc = STORE_ERROR;
		goto fail;
	}
	return STORE_OK;
fail:
	sq_exec(q, "ROLLBACK", &ignore, "rolling back activation");
	return rc;
}

store_rc_t sq_agent_find_ek(void *h, const char *ek_key, const char *exclude_id, int active_only,
                            char **other, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	int r;

	if (sqlite3_prepare_v2(q->db,
	                       "SELECT agent_id FROM registrar_agents WHERE ek_key = ?1"
	                       " AND agent_id <> ?2 AND (?3 = 0 OR active = 1)"
	                       " ORDER BY agent_id LIMIT 1",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, ek_key) || sq_bind_text(st, 2, exclude_id) ||
	    sqlite3_bind_int(st, 3, active_only ? 1 : 0)) {
		sq_fail(q, e, "preparing EK lookup");
		goto out;
	}
	r = sqlite3_step(st);
	if (r == SQLITE_DONE) {
		rc = STORE_NOT_FOUND;
		goto out;
	}
	if (r != SQLITE_ROW) {
		sq_fail(q, e, "looking up an EK");
		goto out;
	}
	*other = sq_col_dup(st, 0);
	rc = STORE_OK;
out:
	sqlite3_finalize(st);
	return rc;
}

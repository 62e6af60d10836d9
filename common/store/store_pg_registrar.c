/* store_pg_registrar: the registrar's enrollments in PostgreSQL: active records, staged
 * re-registrations, the one-TPM-one-node lookup. The statements are store_sqlite_registrar.c's
 * with $n parameters (typed where PostgreSQL cannot infer them). */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/store/store_pg_priv.h"

store_rc_t pg_agent_put(void *h, const store_agent_t *a, err_t *e)
{
	pg_t *p = h;
	char port[24], regcount[24], now[24];
	const char *v[12] = {a->agent_id,
	                     a->ek_tpm,
	                     a->ekcert,
	                     a->aik_tpm,
	                     a->mtls_cert,
	                     a->ip,
	                     pg_i64(port, a->port),
	                     pg_i64(regcount, a->regcount),
	                     a->active ? "1" : "0",
	                     a->pending_key,
	                     pg_i64(now, pg_now()),
	                     a->ek_key};
	PGresult *r = pg_run(
	    p,
	    "INSERT INTO registrar_agents (agent_id, ek_tpm, ekcert, aik_tpm, mtls_cert, ip, port,"
	    " regcount, active, pending_key, created, updated, ek_key)"
	    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12)"
	    " ON CONFLICT (agent_id) DO UPDATE SET ek_tpm = $2, ekcert = $3, aik_tpm = $4,"
	    " mtls_cert = $5, ip = $6, port = $7, regcount = $8, active = $9,"
	    " pending_key = $10, updated = $11, ek_key = $12",
	    12, v);

	if (r == NULL)
		return pg_fail(p, e, "storing agent");
	PQclear(r);
	return STORE_OK;
}

/* Row row of r as an enrollment, from the columns agent_id, ek_tpm, ekcert, aik_tpm,
 * mtls_cert, ip, port, pending_key, created, then (not staged) regcount, active, updated,
 * ek_key. */
static void pg_agent_fill(PGresult *r, int row, int staged, store_agent_t *out)
{
	out->agent_id = pg_col_dup(r, row, 0);
	out->ek_tpm = pg_col_dup(r, row, 1);
	out->ekcert = pg_col_dup(r, row, 2);
	out->aik_tpm = pg_col_dup(r, row, 3);
	out->mtls_cert = pg_col_dup(r, row, 4);
	out->ip = pg_col_dup(r, row, 5);
	out->port = (int)pg_col_i64(r, row, 6);
	out->pending_key = pg_col_dup(r, row, 7);
	out->created = pg_col_i64(r, row, 8);
	if (staged) {
		out->updated = out->created;
	} else {
		out->regcount = (int)pg_col_i64(r, row, 9);
		out->active = (int)pg_col_i64(r, row, 10);
		out->updated = pg_col_i64(r, row, 11);
		out->ek_key = pg_col_dup(r, row, 12);
	}
}

/* One enrollment row (staged: the registrar_staged table, which has no regcount, active or
 * ek_key). STORE_NOT_FOUND when there is none. */
static store_rc_t pg_agent_read(pg_t *p, int staged, const char *agent_id, store_agent_t *out,
                                err_t *e)
{
	static const char *const sql[2] = {
	    "SELECT agent_id, ek_tpm, ekcert, aik_tpm, mtls_cert, ip, port, pending_key, created,"
	    " regcount, active, updated, ek_key FROM registrar_agents WHERE agent_id = $1",
	    "SELECT agent_id, ek_tpm, ekcert, aik_tpm, mtls_cert, ip, port, pending_key, created"
	    " FROM registrar_staged WHERE agent_id = $1",
	};
	const char *v[1] = {agent_id};
	PGresult *r = pg_run(p, sql[staged ? 1 : 0], 1, v);

	if (r == NULL)
		return pg_fail(p, e, staged ? "reading staged attempt" : "reading agent");
	if (PQntuples(r) == 0) {
		PQclear(r);
		return STORE_NOT_FOUND;
	}
	pg_agent_fill(r, 0, staged, out);
	/* The pending key is a secret: do not leave it in libpq's freed buffers. */
	if (!pg_col_is_null(r, 0, 7))
		OPENSSL_cleanse(PQgetvalue(r, 0, 7), strlen(PQgetvalue(r, 0, 7)));
	PQclear(r);
	return STORE_OK;
}

store_rc_t pg_agent_get(void *h, const char *agent_id, store_agent_t *out, err_t *e)
{
	return pg_agent_read(h, 0, agent_id, out, e);
}

store_rc_t pg_agent_list(void *h, char ***ids, size_t *n, err_t *e)
{
	pg_t *p = h;
	PGresult *r = pg_run(p, "SELECT agent_id FROM registrar_agents ORDER BY agent_id", 0, NULL);
	char **v;
	int k;

	if (r == NULL)
		return pg_fail(p, e, "listing agents");
	k = PQntuples(r);
	v = xcalloc((size_t)k + 1, sizeof(char *));
	for (int i = 0; i < k; i++)
		v[i] = pg_col_dup(r, i, 0);
	PQclear(r);
	*ids = v;
	*n = (size_t)k;
	return STORE_OK;
}

store_rc_t pg_agent_list_page(void *h, const char *after_id, size_t limit, store_agent_t **out,
                              size_t *n, err_t *e)
{
	pg_t *p = h;
	char lim[24];
	const char *v[2] = {after_id, pg_i64(lim, (int64_t)limit)};
	PGresult *r;
	int k;

	/* Byte order (COLLATE "C"), as SQLite's: the database's own collation may ignore
	 * punctuation, and then a name with a dash would sort elsewhere than on SQLite. The
	 * pending key is never read. */
	r = pg_run(p,
	           "SELECT agent_id, ek_tpm, ekcert, aik_tpm, mtls_cert, ip, port, NULL, created,"
	           " regcount, active, updated, ek_key FROM registrar_agents"
	           " WHERE agent_id COLLATE \"C\" > $1 ORDER BY agent_id COLLATE \"C\""
	           " LIMIT $2::bigint",
	           2, v);
	if (r == NULL)
		return pg_fail(p, e, "listing a page of agents");
	k = PQntuples(r);
	*out = xcalloc((size_t)k + 1, sizeof(**out));
	for (int i = 0; i < k; i++)
		pg_agent_fill(r, i, 0, &(*out)[i]);
	*n = (size_t)k;
	PQclear(r);
	return STORE_OK;
}

store_rc_t pg_agent_delete(void *h, const char *agent_id, err_t *e)
{
	return pg_change_by_id(h, "DELETE FROM registrar_agents WHERE agent_id = $1", agent_id, 0,
	                       e, "deleting agent");
}

store_rc_t pg_agent_delete_pending(void *h, const char *agent_id, err_t *e)
{
	return pg_change_by_id(h, "DELETE FROM registrar_agents WHERE agent_id = $1 AND active = 0",
	                       agent_id, 0, e, "deleting a pending registration");
}

store_rc_t pg_agent_activate(void *h, const char *agent_id, err_t *e)
{
	return pg_change_by_id(h,
	                       "UPDATE registrar_agents SET active = 1, pending_key = NULL,"
	                       " updated = $2::bigint WHERE agent_id = $1 AND active = 0",
	                       agent_id, 1, e, "activating agent");
}

store_rc_t pg_agent_stage(void *h, const store_agent_t *a, err_t *e)
{
	pg_t *p = h;
	char port[24], now[24];
	const char *v[9] = {a->agent_id,
	                    a->ek_tpm,
	                    a->ekcert,
	                    a->aik_tpm,
	                    a->mtls_cert,
	                    a->ip,
	                    pg_i64(port, a->port),
	                    a->pending_key,
	                    pg_i64(now, pg_now())};
	PGresult *r;
	store_rc_t rc;

	/* The SELECT yields no row unless an active enrollment exists, so nothing is staged
	 * beside a record that is still waiting for its first activation. */
	r = pg_run(p,
	           "INSERT INTO registrar_staged (agent_id, ek_tpm, ekcert, aik_tpm, mtls_cert, ip,"
	           " port, pending_key, created)"
	           " SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text,"
	           " $7::integer, $8::text, $9::bigint FROM registrar_agents"
	           " WHERE agent_id = $1 AND active = 1"
	           " ON CONFLICT (agent_id) DO UPDATE SET ek_tpm = $2, ekcert = $3, aik_tpm = $4,"
	           " mtls_cert = $5, ip = $6, port = $7, pending_key = $8, created = $9",
	           9, v);
	if (r == NULL)
		return pg_fail(p, e, "staging a re-registration");
	rc = pg_changes(r) > 0 ? STORE_OK : STORE_NOT_FOUND;
	PQclear(r);
	return rc;
}

store_rc_t pg_agent_get_staged(void *h, const char *agent_id, store_agent_t *out, err_t *e)
{
	return pg_agent_read(h, 1, agent_id, out, e);
}

store_rc_t pg_agent_unstage(void *h, const char *agent_id, err_t *e)
{
	return pg_change_by_id(h, "DELETE FROM registrar_staged WHERE agent_id = $1", agent_id, 0,
	                       e, "discarding staged attempt");
}

store_rc_t pg_agent_promote(void *h, const char *agent_id, err_t *e)
{
	pg_t *p = h;
	store_rc_t rc;

	if (pg_exec(p, "BEGIN", e, "starting activation") < 0)
		return STORE_ERROR;
	/* Only into the same identity, still active: an administrator may have deleted the
	 * enrollment (which cascades) or another one may have replaced it meanwhile. The
	 * UPDATE locks the enrollment row, so two promotions of one id run one after the
	 * other and the second finds no staged attempt. */
	rc = pg_change_by_id(
	    p,
	    "UPDATE registrar_agents a SET mtls_cert = s.mtls_cert, ip = s.ip, port = s.port,"
	    " regcount = a.regcount + 1, updated = $2::bigint FROM registrar_staged s"
	    " WHERE a.agent_id = $1 AND s.agent_id = $1 AND a.active = 1"
	    " AND s.ek_tpm = a.ek_tpm AND s.aik_tpm = a.aik_tpm"
	    " AND s.ekcert IS NOT DISTINCT FROM a.ekcert",
	    agent_id, 1, e, "activating staged attempt");
	if (rc != STORE_OK)
		goto fail;
	rc = pg_change_by_id(p, "DELETE FROM registrar_staged WHERE agent_id = $1", agent_id, 0, e,
	                     "discarding activated attempt");
	if (rc != STORE_OK)
		goto fail;
	if (pg_exec(p, "COMMIT", e, "committing activation") < 0) {
		rc = STORE_ERROR;
		goto fail;
	}
	return STORE_OK;
fail:
	pg_rollback(p);
	return rc;
}

store_rc_t pg_agent_find_ek(void *h, const char *ek_key, const char *exclude_id, int active_only,
                            char **other, err_t *e)
{
	pg_t *p = h;
	const char *v[3] = {ek_key, exclude_id, active_only ? "1" : "0"};
	PGresult *r = pg_run(p,
	                     "SELECT agent_id FROM registrar_agents WHERE ek_key = $1"
	                     " AND agent_id <> $2 AND ($3::integer = 0 OR active = 1)"
	                     " ORDER BY agent_id LIMIT 1",
	                     3, v);
	store_rc_t rc = STORE_NOT_FOUND;

	if (r == NULL)
		return pg_fail(p, e, "looking up an EK");
	if (PQntuples(r) > 0) {
		*other = pg_col_dup(r, 0, 0);
		rc = STORE_OK;
	}
	PQclear(r);
	return rc;
}

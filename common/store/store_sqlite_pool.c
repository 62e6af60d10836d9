/* store_sqlite_pool: the verifier pool's members and node leases in SQLite. One SQLite
 * database has one verifier (it is a file on one host), so its single instance claims
 * every node; the same statements as PostgreSQL's keep the two backends alike, claims in
 * a BEGIN IMMEDIATE transaction (SQLite has no row locks to skip). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/store/store_sqlite_priv.h"

store_rc_t sq_pool_heartbeat(void *h, const char *id, const char *address, int64_t now,
                             int64_t stalled, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;

	if (sqlite3_prepare_v2(q->db,
	                       "INSERT INTO pool_members (instance_id, address, heartbeat, started,"
	                       " stalled) VALUES (?1, ?2, ?3, ?3, nullif(?4, 0))"
	                       " ON CONFLICT (instance_id) DO UPDATE SET"
	                       " heartbeat = excluded.heartbeat, address = excluded.address,"
	                       " stalled = excluded.stalled",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, id) || sq_bind_text(st, 2, address) ||
	    sqlite3_bind_int64(st, 3, now) || sqlite3_bind_int64(st, 4, stalled) ||
	    sqlite3_step(st) != SQLITE_DONE)
		sq_fail(q, e, "recording a heartbeat");
	else
		rc = STORE_OK;
	sqlite3_finalize(st);
	return rc;
}

store_rc_t sq_pool_leave(void *h, const char *id, err_t *e)
{
	sq_t *q = h;
	store_rc_t rc = STORE_ERROR;

	if (sq_exec(q, "BEGIN IMMEDIATE", e, "starting pool leave") < 0)
		return STORE_ERROR;
	if (sq_change_by_id(q,
	                    "UPDATE nodes SET lease_owner = NULL, lease_expiry = NULL"
	                    " WHERE lease_owner = ?1",
	                    id, e, "releasing leases") == STORE_ERROR ||
	    sq_change_by_id(q, "DELETE FROM pool_members WHERE instance_id = ?1", id, e,
	                    "leaving the pool") == STORE_ERROR ||
	    sq_exec(q, "COMMIT", e, "committing pool leave") < 0)
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	else
		rc = STORE_OK;
	return rc;
}

store_rc_t sq_pool_counts(void *h, const char *id, int64_t live_since, int64_t now,
                          store_pool_counts_t *out, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;

	if (sqlite3_prepare_v2(q->db,
	                       "SELECT (SELECT count(*) FROM pool_members WHERE heartbeat >= ?2"
	                       "  AND stalled IS NULL),"
	                       " (SELECT count(*) FROM nodes),"
	                       " (SELECT count(*) FROM nodes WHERE lease_owner = ?1),"
	                       " (SELECT min(lease_expiry) FROM nodes WHERE lease_expiry > ?3"
	                       "  AND lease_owner <> ?1)",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, id) || sqlite3_bind_int64(st, 2, live_since) ||
	    sqlite3_bind_int64(st, 3, now) || sqlite3_step(st) != SQLITE_ROW) {
		sq_fail(q, e, "counting the pool");
	} else {
		out->live = sq_col_i64(st, 0);
		out->nodes = sq_col_i64(st, 1);
		out->mine = sq_col_i64(st, 2);
		out->next_expiry = sq_col_i64(st, 3);
		rc = STORE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

static void sq_lease_row(sqlite3_stmt *st, void *elem)
{
	store_lease_t *l = elem;

	l->uuid = sq_col_dup(st, 0);
	l->epoch = sq_col_i64(st, 1);
	l->expiry = sq_col_i64(st, 2);
}

static void sq_leases_release(void *v, size_t n)
{
	store_leases_free(v, n);
}

store_rc_t sq_lease_renew(void *h, const char *id, int64_t expiry, store_lease_t **out, size_t *n,
                          err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	void *v = NULL;

	if (sqlite3_prepare_v2(q->db,
	                       "UPDATE nodes SET lease_expiry = ?2 WHERE lease_owner = ?1"
	                       " RETURNING uuid, lease_epoch, lease_expiry",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, id) || sqlite3_bind_int64(st, 2, expiry))
		sq_fail(q, e, "preparing lease renewal");
	else if ((rc = sq_rows(q, st, sizeof(store_lease_t), sq_lease_row, sq_leases_release, &v, n,
	                       e, "renewing leases")) == STORE_OK)
		*out = v;
	sqlite3_finalize(st);
	return rc;
}

static void sq_nodes_release_cb(void *v, size_t n)
{
	store_nodes_free(v, n);
}

store_rc_t sq_lease_claim(void *h, const char *id, int64_t now, int64_t expiry, size_t limit,
                          store_node_t **out, size_t *n, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	void *v = NULL;

	if (sq_exec(q, "BEGIN IMMEDIATE", e, "starting lease claim") < 0)
		return STORE_ERROR;
	if (sqlite3_prepare_v2(q->db,
	                       "UPDATE nodes SET lease_owner = ?1, lease_expiry = ?3, lease_epoch "
	                       "= lease_epoch + 1"
	                       " WHERE uuid IN (SELECT uuid FROM nodes WHERE lease_owner IS NULL"
	                       "  OR (lease_expiry < ?2 AND lease_owner <> ?1)"
	                       "  ORDER BY lease_expiry IS NOT NULL, lease_expiry, uuid LIMIT ?4)"
	                       " RETURNING " SQ_NODE_COLS,
	                       -1, &st, NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, id) || sqlite3_bind_int64(st, 2, now) ||
	    sqlite3_bind_int64(st, 3, expiry) || sqlite3_bind_int64(st, 4, (int64_t)limit))
		sq_fail(q, e, "preparing lease claim");
	else
		rc = sq_rows(q, st, sizeof(store_node_t), sq_node_row_at, sq_nodes_release_cb, &v,
		             n, e, "claiming leases");
	sqlite3_finalize(st);
	if (rc == STORE_OK && sq_exec(q, "COMMIT", e, "committing lease claim") < 0) {
		store_nodes_free(v, *n);
		v = NULL;
		*n = 0;
		rc = STORE_ERROR;
	}
	if (rc != STORE_OK)
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	else
		*out = v;
	return rc;
}

store_rc_t sq_lease_release(void *h, const char *id, const char *uuid, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;

	if (sqlite3_prepare_v2(q->db,
	                       "UPDATE nodes SET lease_owner = NULL, lease_expiry = NULL"
	                       " WHERE lease_owner = ?1 AND uuid = ?2",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, id) || sq_bind_text(st, 2, uuid) || sqlite3_step(st) != SQLITE_DONE)
		sq_fail(q, e, "releasing a lease");
	else
		rc = sqlite3_changes(q->db) > 0 ? STORE_OK : STORE_NOT_FOUND;
	sqlite3_finalize(st);
	return rc;
}

static void sq_member_row(sqlite3_stmt *st, void *elem)
{
	store_pool_member_t *m = elem;

	m->id = sq_col_dup(st, 0);
	m->address = sq_col_dup(st, 1);
	m->heartbeat = sq_col_i64(st, 2);
	m->started = sq_col_i64(st, 3);
	m->nodes = sq_col_i64(st, 4);
	m->oldest_attestation = sq_col_i64(st, 5);
	m->stalled = sq_col_i64(st, 6);
}

static void sq_members_release(void *v, size_t n)
{
	store_pool_members_free(v, n);
}

store_rc_t sq_pool_list(void *h, store_pool_member_t **out, size_t *n, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	void *v = NULL;

	if (sqlite3_prepare_v2(
	        q->db,
	        "SELECT m.instance_id, m.address, m.heartbeat, m.started,"
	        " (SELECT count(*) FROM nodes n WHERE n.lease_owner = m.instance_id),"
	        " (SELECT coalesce(min(n.last_successful_attestation), 0) FROM nodes n"
	        "  WHERE n.lease_owner = m.instance_id AND n.operational_state = 3),"
	        " coalesce(m.stalled, 0)"
	        " FROM pool_members m ORDER BY m.instance_id",
	        -1, &st, NULL) != SQLITE_OK)
		sq_fail(q, e, "preparing pool list");
	else if ((rc = sq_rows(q, st, sizeof(store_pool_member_t), sq_member_row,
	                       sq_members_release, &v, n, e, "listing the pool")) == STORE_OK)
		*out = v;
	sqlite3_finalize(st);
	return rc;
}

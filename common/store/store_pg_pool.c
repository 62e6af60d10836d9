/* store_pg_pool: the verifier pool in PostgreSQL: members' heartbeats, and node leases
 * (claim, renew, release) with the epoch that fences every write of a node's state.
 *
 * A claim picks its rows with FOR UPDATE SKIP LOCKED, so two instances claiming at once
 * take disjoint sets instead of queueing on each other; the outer WHERE repeats the
 * condition, which PostgreSQL re-checks on the locked row under READ COMMITTED. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/store/store_pg_priv.h"

/* Take this member's session lock (PG_LOCK_POOL_MEMBER_CLASS), once per connection (a
 * reconnect lost it). Before the member row is written: a row whose lock is free is a
 * member that is gone. */
static void pg_pool_lock(pg_t *p, const char *id)
{
	const char *v[1] = {id};
	PGresult *r;

	if (p->pool_locked)
		return;
	r = pg_run(p, "SELECT pg_try_advisory_lock(" PG_LOCK_POOL_MEMBER_CLASS ", hashtext($1))", 1,
	           v);
	if (r == NULL)
		return;
	p->pool_locked = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	if (!p->pool_locked && !p->pool_lock_warned) {
		log_warnx("pool: the session lock of %s is held by another connection (another "
		          "instance with the same verifier_id?): the others will take this one's "
		          "nodes over as if it had ended",
		          id);
		p->pool_lock_warned = 1;
	}
	PQclear(r);
}

store_rc_t pg_pool_heartbeat(void *h, const char *id, const char *address, int64_t now,
                             int64_t stalled, err_t *e)
{
	pg_t *p = h;
	char t[24], ts[24];
	const char *v[4] = {id, address, pg_i64(t, now), stalled ? pg_i64(ts, stalled) : NULL};
	PGresult *r;

	pg_pool_lock(p, id);
	r = pg_run(p,
	           "INSERT INTO pool_members (instance_id, address, heartbeat, started,"
	           " stalled) VALUES ($1, $2, $3, $3, $4) ON CONFLICT (instance_id)"
	           " DO UPDATE SET heartbeat = excluded.heartbeat,"
	           " address = excluded.address, stalled = excluded.stalled",
	           4, v);

	if (r == NULL)
		return pg_fail(p, e, "recording a heartbeat");
	PQclear(r);
	return STORE_OK;
}

/* One statement, so one transaction: a member whose lock this one takes (free: its
 * session ended) is deleted and its leases end, and the lock is held until the commit, so
 * that a member restarting under the same id meanwhile cannot renew in between. */
store_rc_t pg_pool_reap(void *h, const char *id, int64_t now, int64_t *gone, char **desc, err_t *e)
{
	pg_t *p = h;
	char t[24];
	const char *v[2] = {id, pg_i64(t, now - 1)};
	PGresult *r = pg_run(p,
	                     "WITH gone AS (DELETE FROM pool_members WHERE instance_id <> $1"
	                     " AND pg_try_advisory_xact_lock(" PG_LOCK_POOL_MEMBER_CLASS
	                     ", hashtext(instance_id)) RETURNING instance_id),"
	                     " ended AS (UPDATE nodes SET lease_expiry = $2 FROM gone"
	                     " WHERE nodes.lease_owner = gone.instance_id"
	                     " AND nodes.lease_expiry > $2 RETURNING 1)"
	                     " SELECT (SELECT count(*) FROM gone),"
	                     " (SELECT string_agg(instance_id, ', ') FROM gone),"
	                     " (SELECT count(*) FROM ended)",
	                     2, v);

	if (r == NULL)
		return pg_fail(p, e, "looking for members that are gone");
	if (PQntuples(r) == 1) {
		*gone = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		if (*gone > 0 && !PQgetisnull(r, 0, 1))
			*desc = xasprintf("%s (%s leases ended)", PQgetvalue(r, 0, 1),
			                  PQgetvalue(r, 0, 2));
	}
	PQclear(r);
	return STORE_OK;
}

store_rc_t pg_pool_leave(void *h, const char *id, err_t *e)
{
	pg_t *p = h;
	const char *v[1] = {id};
	PGresult *r;

	if (pg_exec(p, "BEGIN", e, "starting pool leave") < 0)
		return STORE_ERROR;
	if ((r = pg_run(p,
	                "UPDATE nodes SET lease_owner = NULL, lease_expiry = NULL"
	                " WHERE lease_owner = $1",
	                1, v)) == NULL)
		goto fail;
	PQclear(r);
	if ((r = pg_run(p, "DELETE FROM pool_members WHERE instance_id = $1", 1, v)) == NULL)
		goto fail;
	PQclear(r);
	if (pg_exec(p, "COMMIT", e, "committing pool leave") < 0) {
		pg_rollback(p);
		return STORE_ERROR;
	}
	return STORE_OK;
fail:
	pg_fail(p, e, "leaving the pool");
	pg_rollback(p);
	return STORE_ERROR;
}

store_rc_t pg_pool_counts(void *h, const char *id, int64_t live_since, int64_t now,
                          store_pool_counts_t *out, err_t *e)
{
	pg_t *p = h;
	char t[24], tn[24];
	const char *v[3] = {id, pg_i64(t, live_since), pg_i64(tn, now)};
	PGresult *r = pg_run(p,
	                     "SELECT (SELECT count(*) FROM pool_members WHERE heartbeat >= $2"
	                     "  AND stalled IS NULL),"
	                     " (SELECT count(*) FROM nodes),"
	                     " (SELECT count(*) FROM nodes WHERE lease_owner = $1),"
	                     " (SELECT min(lease_expiry) FROM nodes WHERE lease_expiry > $3"
	                     "  AND lease_owner <> $1)",
	                     3, v);

	if (r == NULL)
		return pg_fail(p, e, "counting the pool");
	out->live = pg_col_i64(r, 0, 0);
	out->nodes = pg_col_i64(r, 0, 1);
	out->mine = pg_col_i64(r, 0, 2);
	out->next_expiry = pg_col_i64(r, 0, 3);
	PQclear(r);
	return STORE_OK;
}

static void pg_lease_row(PGresult *r, int i, void *elem)
{
	store_lease_t *l = elem;

	l->uuid = pg_col_dup(r, i, 0);
	l->epoch = pg_col_i64(r, i, 1);
	l->expiry = pg_col_i64(r, i, 2);
}

store_rc_t pg_lease_renew(void *h, const char *id, int64_t expiry, store_lease_t **out, size_t *n,
                          err_t *e)
{
	pg_t *p = h;
	char t[24];
	const char *v[2] = {id, pg_i64(t, expiry)};
	/* Rows another transaction holds are skipped, not waited for: the store thread's
	 * progress batch of this same instance locks many of them for the length of its
	 * transaction, and waiting would hold up the heartbeat (or, locking in another order
	 * than the batch, deadlock with it). The list is then read as committed. */
	PGresult *r = pg_run(p,
	                     "UPDATE nodes SET lease_expiry = $2 WHERE uuid IN (SELECT uuid FROM"
	                     " nodes WHERE lease_owner = $1 FOR UPDATE SKIP LOCKED)"
	                     " AND lease_owner = $1",
	                     2, v);
	void *rows;

	if (r == NULL)
		return pg_fail(p, e, "renewing leases");
	PQclear(r);
	if ((r = pg_run(p,
	                "SELECT uuid, lease_epoch, lease_expiry FROM nodes WHERE lease_owner = $1",
	                1, v)) == NULL)
		return pg_fail(p, e, "listing leases");
	pg_rows(r, sizeof(store_lease_t), pg_lease_row, &rows, n);
	*out = rows;
	PQclear(r);
	return STORE_OK;
}

store_rc_t pg_lease_claim(void *h, const char *id, int64_t now, int64_t expiry, size_t limit,
                          store_node_t **out, size_t *n, err_t *e)
{
	pg_t *p = h;
	char tn[24], te[24], tl[24];
	const char *v[4] = {id, pg_i64(tn, now), pg_i64(te, expiry), pg_i64(tl, (int64_t)limit)};
	PGresult *r = pg_run(
	    p,
	    "UPDATE nodes SET lease_owner = $1, lease_expiry = $3, lease_epoch = lease_epoch + 1"
	    " WHERE uuid IN (SELECT uuid FROM nodes WHERE lease_owner IS NULL"
	    "  OR (lease_expiry < $2 AND lease_owner <> $1)"
	    "  ORDER BY lease_expiry NULLS FIRST, uuid LIMIT $4 FOR UPDATE SKIP LOCKED)"
	    " AND (lease_owner IS NULL OR (lease_expiry < $2 AND lease_owner <> $1))"
	    " RETURNING " PG_NODE_COLS,
	    4, v);
	void *rows;

	if (r == NULL)
		return pg_fail(p, e, "claiming leases");
	pg_rows(r, sizeof(store_node_t), pg_node_row_at, &rows, n);
	*out = rows;
	PQclear(r);
	return STORE_OK;
}

store_rc_t pg_lease_release(void *h, const char *id, const char *uuid, err_t *e)
{
	pg_t *p = h;
	const char *v[2] = {id, uuid};
	PGresult *r = pg_run(p,
	                     "UPDATE nodes SET lease_owner = NULL, lease_expiry = NULL"
	                     " WHERE lease_owner = $1 AND uuid = $2",
	                     2, v);
	store_rc_t rc;

	if (r == NULL)
		return pg_fail(p, e, "releasing a lease");
	rc = pg_changes(r) > 0 ? STORE_OK : STORE_NOT_FOUND;
	PQclear(r);
	return rc;
}

static void pg_member_row(PGresult *r, int i, void *elem)
{
	store_pool_member_t *m = elem;

	m->id = pg_col_dup(r, i, 0);
	m->address = pg_col_dup(r, i, 1);
	m->heartbeat = pg_col_i64(r, i, 2);
	m->started = pg_col_i64(r, i, 3);
	m->nodes = pg_col_i64(r, i, 4);
	m->oldest_attestation = pg_col_i64(r, i, 5);
	m->stalled = pg_col_i64(r, i, 6);
}

store_rc_t pg_pool_list(void *h, store_pool_member_t **out, size_t *n, err_t *e)
{
	pg_t *p = h;
	PGresult *r = pg_run(p,
	                     "SELECT m.instance_id, m.address, m.heartbeat, m.started,"
	                     " (SELECT count(*) FROM nodes n WHERE n.lease_owner = m.instance_id),"
	                     " (SELECT coalesce(min(n.last_successful_attestation), 0) FROM nodes n"
	                     "  WHERE n.lease_owner = m.instance_id AND n.operational_state = 3),"
	                     " coalesce(m.stalled, 0)"
	                     " FROM pool_members m ORDER BY m.instance_id",
	                     0, NULL);
	void *rows;

	if (r == NULL)
		return pg_fail(p, e, "listing the pool");
	pg_rows(r, sizeof(store_pool_member_t), pg_member_row, &rows, n);
	*out = rows;
	PQclear(r);
	return STORE_OK;
}

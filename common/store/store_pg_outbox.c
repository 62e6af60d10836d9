/* store_pg_outbox: the webhook outbox in PostgreSQL: an event with its node record and its
 * deliveries in one transaction, the due rows in per-node order, and each delivery's
 * outcome. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/store/store_pg_priv.h"

store_rc_t pg_event_commit(void *h, const store_node_t *node, const char *node_uuid,
                           const char *type, const char *severity, const char *body_json,
                           const char *const *urls, size_t nurls, char id_out[40], int64_t *seq_out,
                           err_t *e)
{
	pg_t *p = h;
	store_rc_t rc = STORE_ERROR;
	int64_t seq = 0;
	char id[40], seqs[24], now[24];

	if (pg_exec(p, "BEGIN", e, "starting event commit") < 0)
		return STORE_ERROR;
	if (node != NULL) {
		int fenced = 0;
		if (pg_node_save_rows(p, &node, 1, &fenced, e) < 0)
			goto out;
		if (fenced) {
			err_set(e, "node %s: its lease epoch %lld moved", node->uuid,
			        (long long)node->lease_epoch);
			rc = STORE_FENCED;
			goto out;
		}
	}
	if (pg_event_insert(p, node_uuid, type, severity, body_json, id, &seq, e) < 0)
		goto out;
	pg_i64(seqs, seq);
	pg_i64(now, pg_now_ms());
	for (size_t i = 0; i < nurls; i++) {
		const char *v[4] = {seqs, urls[i], node_uuid, now};
		PGresult *r = pg_prepared(p, PG_ST_OUTBOX_INSERT,
		                          "INSERT INTO webhook_outbox (event_seq, url, node_uuid,"
		                          " attempts, next_attempt, since, created)"
		                          " VALUES ($1, $2, $3, 0, $4, $4, $4)",
		                          4, v);

		if (r == NULL) {
			pg_fail(p, e, "inserting an outbox row");
			goto out;
		}
		PQclear(r);
	}
	if (pg_exec(p, "COMMIT", e, "committing event") < 0)
		goto out;
	if (id_out)
		memcpy(id_out, id, sizeof(id));
	if (seq_out)
		*seq_out = seq;
	rc = STORE_OK;
out:
	if (rc != STORE_OK)
		pg_rollback(p);
	return rc;
}

#define PG_OUTBOX_COLS                                                                             \
	"o.id, o.url, o.node_uuid, o.attempts, o.next_attempt, o.since, o.created,"                \
	" o.last_attempt, o.delivered, o.dead, o.last_error, e.seq, e.id, e.time, e.type,"         \
	" e.severity, e.body"

/* A pending row not held back by an older pending row of the same node and URL. */
#define PG_OUTBOX_UNBLOCKED                                                                        \
	"o.delivered IS NULL AND o.dead IS NULL AND NOT EXISTS (SELECT 1 FROM webhook_outbox p"    \
	" WHERE p.url = o.url AND p.node_uuid IS NOT DISTINCT FROM o.node_uuid AND p.id < o.id"    \
	" AND p.delivered IS NULL AND p.dead IS NULL)"

static void pg_outbox_row(PGresult *r, int i, void *elem)
{
	store_outbox_t *o = elem;

	o->id = pg_col_i64(r, i, 0);
	o->url = pg_col_dup(r, i, 1);
	o->node_uuid = pg_col_dup(r, i, 2);
	o->attempts = (int)pg_col_i64(r, i, 3);
	o->next_attempt = pg_col_i64(r, i, 4);
	o->since = pg_col_i64(r, i, 5);
	o->created = pg_col_i64(r, i, 6);
	o->last_attempt = pg_col_i64(r, i, 7);
	o->delivered = pg_col_i64(r, i, 8);
	o->dead = pg_col_i64(r, i, 9);
	o->last_error = pg_col_dup(r, i, 10);
	o->event_seq = pg_col_i64(r, i, 11);
	pg_col_copy(r, i, 12, o->event_id, sizeof(o->event_id));
	o->event_time = pg_col_i64(r, i, 13);
	o->event_type = pg_col_dup(r, i, 14);
	o->event_severity = pg_col_dup(r, i, 15);
	o->event_body = pg_col_dup(r, i, 16);
}

/* Run a SELECT of PG_OUTBOX_COLS into *rows. */
static store_rc_t pg_outbox_select(pg_t *p, const char *sql, int n, const char *const *v,
                                   store_outbox_t **rows, size_t *nrows, err_t *e)
{
	PGresult *r = pg_run(p, sql, n, v);
	void *out;

	if (r == NULL)
		return pg_fail(p, e, "reading the outbox");
	pg_rows(r, sizeof(store_outbox_t), pg_outbox_row, &out, nrows);
	*rows = out;
	PQclear(r);
	return STORE_OK;
}

store_rc_t pg_outbox_due(void *h, const char *url, int64_t now, size_t limit, store_outbox_t **rows,
                         size_t *n, err_t *e)
{
	char t[24], l[24];
	const char *v[3] = {pg_i64(t, now), pg_i64(l, (int64_t)limit), url};

	return pg_outbox_select(h,
	                        "SELECT " PG_OUTBOX_COLS " FROM webhook_outbox o"
	                        " JOIN events e ON e.seq = o.event_seq"
	                        " WHERE o.next_attempt <= $1 AND ($3::text IS NULL OR o.url = $3)"
	                        " AND " PG_OUTBOX_UNBLOCKED " ORDER BY o.id LIMIT $2",
	                        3, v, rows, n, e);
}

store_rc_t pg_outbox_next_due(void *h, int64_t *when, err_t *e)
{
	pg_t *p = h;
	PGresult *r =
	    pg_run(p, "SELECT MIN(o.next_attempt) FROM webhook_outbox o WHERE " PG_OUTBOX_UNBLOCKED,
	           0, NULL);
	store_rc_t rc = STORE_NOT_FOUND;

	if (r == NULL)
		return pg_fail(p, e, "reading the next due outbox row");
	if (!pg_col_is_null(r, 0, 0)) {
		*when = pg_col_i64(r, 0, 0);
		rc = STORE_OK;
	}
	PQclear(r);
	return rc;
}

/* Run an UPDATE of one row with $1 = id, $2 = now (ms), $3 = text and $4 = a time (the
 * first n of them). */
static store_rc_t pg_outbox_update(pg_t *p, const char *sql, int n, int64_t id, const char *text,
                                   int64_t t, err_t *e, const char *what)
{
	char ids[24], now[24], ts[24];
	const char *v[4] = {pg_i64(ids, id), pg_i64(now, pg_now_ms()), text, pg_i64(ts, t)};
	PGresult *r = pg_run(p, sql, n, v);
	store_rc_t rc;

	if (r == NULL)
		return pg_fail(p, e, what);
	rc = pg_changes(r) > 0 ? STORE_OK : STORE_NOT_FOUND;
	PQclear(r);
	if (rc == STORE_NOT_FOUND)
		err_set(e, "no pending outbox row %lld", (long long)id);
	return rc;
}

store_rc_t pg_outbox_delivered(void *h, int64_t id, err_t *e)
{
	return pg_outbox_update(h,
	                        "UPDATE webhook_outbox SET delivered = $2, last_attempt = $2,"
	                        " attempts = attempts + 1 WHERE id = $1 AND delivered IS NULL"
	                        " AND dead IS NULL",
	                        2, id, NULL, 0, e, "marking a delivery done");
}

store_rc_t pg_outbox_failed(void *h, int64_t id, int64_t next_attempt, const char *err_text,
                            err_t *e)
{
	return pg_outbox_update(h,
	                        "UPDATE webhook_outbox SET attempts = attempts + 1,"
	                        " last_attempt = $2, last_error = $3, next_attempt = $4"
	                        " WHERE id = $1 AND delivered IS NULL AND dead IS NULL",
	                        4, id, err_text, next_attempt, e, "recording a failed delivery");
}

store_rc_t pg_outbox_dead(void *h, int64_t id, const char *err_text, err_t *e)
{
	return pg_outbox_update(h,
	                        "UPDATE webhook_outbox SET attempts = attempts + 1,"
	                        " last_attempt = $2, dead = $2, last_error = $3"
	                        " WHERE id = $1 AND delivered IS NULL AND dead IS NULL",
	                        3, id, err_text, 0, e, "dead-lettering a delivery");
}

store_rc_t pg_outbox_list(void *h, store_outbox_kind_t kind, int64_t after, size_t limit,
                          store_outbox_t **rows, size_t *n, err_t *e)
{
	char a[24], l[24];
	const char *v[3] = {kind == STORE_OUTBOX_DEAD ? "1" : "0", pg_i64(a, after),
	                    pg_i64(l, (int64_t)limit)};

	return pg_outbox_select(h,
	                        "SELECT " PG_OUTBOX_COLS " FROM webhook_outbox o"
	                        " JOIN events e ON e.seq = o.event_seq"
	                        " WHERE o.delivered IS NULL AND (CASE WHEN $1::integer = 1"
	                        " THEN o.dead IS NOT NULL ELSE o.dead IS NULL END) AND o.id > $2"
	                        " ORDER BY o.id LIMIT $3",
	                        3, v, rows, n, e);
}

store_rc_t pg_outbox_retry(void *h, int64_t id, int64_t *count, err_t *e)
{
	pg_t *p = h;
	char ids[24], now[24];
	const char *v[2] = {pg_i64(ids, id), pg_i64(now, pg_now_ms())};
	PGresult *r = pg_run(p,
	                     "UPDATE webhook_outbox SET dead = NULL, attempts = 0, since = $2,"
	                     " next_attempt = $2 WHERE dead IS NOT NULL AND delivered IS NULL"
	                     " AND ($1::bigint = 0 OR id = $1)",
	                     2, v);
	int64_t changed;

	if (r == NULL)
		return pg_fail(p, e, "retrying dead-lettered deliveries");
	changed = pg_changes(r);
	PQclear(r);
	if (count)
		*count = changed;
	if (id != 0 && changed == 0) {
		err_set(e, "no dead-lettered delivery with id %lld", (long long)id);
		return STORE_NOT_FOUND;
	}
	return STORE_OK;
}

store_rc_t pg_outbox_prune(void *h, int64_t before_ms, size_t limit, int64_t *count, err_t *e)
{
	pg_t *p = h;
	char before[24], lim[24];
	const char *v[2] = {pg_i64(before, before_ms), pg_i64(lim, (int64_t)limit)};
	PGresult *r = pg_run(p,
	                     "DELETE FROM webhook_outbox WHERE id IN (SELECT id FROM"
	                     " webhook_outbox WHERE delivered IS NOT NULL AND delivered < $1"
	                     " ORDER BY id LIMIT $2)",
	                     2, v);

	if (r == NULL)
		return pg_fail(p, e, "pruning delivered webhook rows");
	if (count)
		*count = pg_changes(r);
	PQclear(r);
	return STORE_OK;
}

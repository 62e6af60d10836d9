/* store_sqlite_outbox: the webhook outbox in SQLite: an event with its deliveries in one
 * transaction, the due rows in per-node order, and each delivery's outcome. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/store/store_sqlite_priv.h"

/* Unix milliseconds now. */
static int64_t sq_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One pending outbox row per URL for event seq. 0 or -1 (e set). */
static int sq_outbox_insert(sq_t *q, int64_t seq, const char *node_uuid, const char *const *urls,
                            size_t nurls, int64_t now, err_t *e)
{
	sqlite3_stmt *st = NULL;
	int rv = -1;

	if (nurls == 0)
		return 0;
	if (sqlite3_prepare_v2(q->db,
	                       "INSERT INTO webhook_outbox (event_seq, url, node_uuid, attempts,"
	                       " next_attempt, since, created) VALUES (?1, ?2, ?3, 0, ?4, ?4, ?4)",
	                       -1, &st, NULL) != SQLITE_OK) {
		sq_fail(q, e, "preparing outbox insert");
		goto out;
	}
	for (size_t i = 0; i < nurls; i++) {
		sqlite3_reset(st);
		if (sqlite3_bind_int64(st, 1, seq) || sq_bind_text(st, 2, urls[i]) ||
		    sq_bind_text(st, 3, node_uuid) || sqlite3_bind_int64(st, 4, now) ||
		    sqlite3_step(st) != SQLITE_DONE) {
			sq_fail(q, e, "inserting an outbox row");
			goto out;
		}
	}
	rv = 0;
out:
	sqlite3_finalize(st);
	return rv;
}

store_rc_t sq_event_commit(void *h, const store_node_t *node, const char *node_uuid,
                           const char *type, const char *severity, const char *body_json,
                           const char *const *urls, size_t nurls, char id_out[40], int64_t *seq_out,
                           err_t *e)
{
	sq_t *q = h;
	store_rc_t rc = STORE_ERROR;
	int64_t seq = 0, now = sq_now_ms();
	char id[40];

	if (sq_exec(q, "BEGIN IMMEDIATE", e, "starting event commit") < 0)
		return STORE_ERROR;
	if (node != NULL) {
		int fenced = 0;
		if (sq_node_save_rows(q, &node, 1, &fenced, e) < 0)
			goto out;
		if (fenced) {
			err_set(e, "node %s: its lease epoch %lld moved", node->uuid,
			        (long long)node->lease_epoch);
			rc = STORE_FENCED;
			goto out;
		}
	}
	if (sq_event_insert(q, node_uuid, type, severity, body_json, id, &seq, e) < 0)
		goto out;
	if (sq_outbox_insert(q, seq, node_uuid, urls, nurls, now, e) < 0)
		goto out;
	if (sq_exec(q, "COMMIT", e, "committing event") < 0)
		goto out;
	if (id_out)
		memcpy(id_out, id, sizeof(id));
	if (seq_out)
		*seq_out = seq;
	rc = STORE_OK;
out:
	if (rc != STORE_OK)
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* Nodes, each with its event, in one transaction; each node in a savepoint, so that one
 * refused (its uuid taken, a policy missing) leaves no trace and the others go on. */
store_rc_t sq_node_add_many(void *h, store_node_add_item_t *items, size_t n,
                            const char *const *urls, size_t nurls, err_t *e)
{
	sq_t *q = h;
	store_rc_t rc = STORE_ERROR;
	int64_t now = sq_now_ms();

	if (sq_exec(q, "BEGIN IMMEDIATE", e, "starting node adds") < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		store_node_add_item_t *it = &items[i];
		int64_t seq = 0;
		if (it->rc != STORE_OK)
			continue;
		if (sq_exec(q, "SAVEPOINT node_add", e, "starting a node add") < 0)
			goto out;
		it->rc = sq_node_add(q, it->node, &it->err);
		if (it->rc == STORE_OK &&
		    (sq_event_insert(q, it->node->uuid, it->type, it->severity, it->body_json,
		                     it->event_id, &seq, &it->err) < 0 ||
		     sq_outbox_insert(q, seq, it->node->uuid, urls, nurls, now, &it->err) < 0))
			it->rc = STORE_ERROR;
		if (it->rc != STORE_OK &&
		    sq_exec(q, "ROLLBACK TO node_add", e, "undoing a node add") < 0)
			goto out;
		if (sq_exec(q, "RELEASE node_add", e, "ending a node add") < 0)
			goto out;
	}
	if (sq_exec(q, "COMMIT", e, "committing node adds") < 0)
		goto out;
	return STORE_OK;
out:
	sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
fail:
	for (size_t i = 0; i < n; i++)
		if (items[i].rc == STORE_OK) {
			items[i].rc = STORE_ERROR;
			err_set(&items[i].err, "%s", e->msg);
		}
	return rc;
}

#define SQ_OUTBOX_COLS                                                                             \
	"o.id, o.url, o.node_uuid, o.attempts, o.next_attempt, o.since, o.created,"                \
	" o.last_attempt, o.delivered, o.dead, o.last_error, e.seq, e.id, e.time, e.type,"         \
	" e.severity, e.body"

/* A pending row not held back by an older pending row of the same node and URL. */
#define SQ_OUTBOX_UNBLOCKED                                                                        \
	"o.delivered IS NULL AND o.dead IS NULL AND NOT EXISTS (SELECT 1 FROM webhook_outbox p"    \
	" WHERE p.url = o.url AND p.node_uuid IS o.node_uuid AND p.id < o.id"                      \
	" AND p.delivered IS NULL AND p.dead IS NULL)"

static void sq_outbox_row(sqlite3_stmt *st, store_outbox_t *r)
{
	const unsigned char *eid = sqlite3_column_text(st, 12);

	r->id = sqlite3_column_int64(st, 0);
	r->url = sq_col_dup(st, 1);
	r->node_uuid = sq_col_dup(st, 2);
	r->attempts = sqlite3_column_int(st, 3);
	r->next_attempt = sq_col_i64(st, 4);
	r->since = sq_col_i64(st, 5);
	r->created = sq_col_i64(st, 6);
	r->last_attempt = sq_col_i64(st, 7);
	r->delivered = sq_col_i64(st, 8);
	r->dead = sq_col_i64(st, 9);
	r->last_error = sq_col_dup(st, 10);
	r->event_seq = sq_col_i64(st, 11);
	snprintf(r->event_id, sizeof(r->event_id), "%s", eid ? (const char *)eid : "");
	r->event_time = sq_col_i64(st, 13);
	r->event_type = sq_col_dup(st, 14);
	r->event_severity = sq_col_dup(st, 15);
	r->event_body = sq_col_dup(st, 16);
}

/* Run a prepared SELECT of SQ_OUTBOX_COLS into *rows. */
static void sq_outbox_row_cb(sqlite3_stmt *st, void *elem)
{
	sq_outbox_row(st, elem);
}

static void sq_outbox_release(void *v, size_t n)
{
	store_outbox_free(v, n);
}

/* Every row of st as outbox rows. */
static store_rc_t sq_outbox_collect(sq_t *q, sqlite3_stmt *st, store_outbox_t **rows, size_t *n,
                                    err_t *e)
{
	void *v = NULL;
	store_rc_t rc = sq_rows(q, st, sizeof(store_outbox_t), sq_outbox_row_cb, sq_outbox_release,
	                        &v, n, e, "reading the outbox");

	*rows = v;
	return rc;
}

store_rc_t sq_outbox_due(void *h, const char *url, int64_t now, size_t limit, store_outbox_t **rows,
                         size_t *n, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;

	if (sqlite3_prepare_v2(q->db,
	                       "SELECT " SQ_OUTBOX_COLS " FROM webhook_outbox o"
	                       " JOIN events e ON e.seq = o.event_seq"
	                       " WHERE o.next_attempt <= ?1 AND (?3 IS NULL OR o.url = ?3) "
	                       "AND " SQ_OUTBOX_UNBLOCKED " ORDER BY o.id LIMIT ?2",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, now) || sqlite3_bind_int64(st, 2, (sqlite3_int64)limit) ||
	    sq_bind_text(st, 3, url)) {
		sq_fail(q, e, "preparing the due outbox rows");
		goto out;
	}
	rc = sq_outbox_collect(q, st, rows, n, e);
out:
	sqlite3_finalize(st);
	return rc;
}

store_rc_t sq_outbox_next_due(void *h, int64_t *when, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;

	if (sqlite3_prepare_v2(q->db,
	                       "SELECT MIN(o.next_attempt) FROM webhook_outbox o"
	                       " WHERE " SQ_OUTBOX_UNBLOCKED,
	                       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		sq_fail(q, e, "reading the next due outbox row");
		goto out;
	}
	if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
		rc = STORE_NOT_FOUND;
	} else {
		*when = sqlite3_column_int64(st, 0);
		rc = STORE_OK;
	}
out:
	sqlite3_finalize(st);
	return rc;
}

/* Run an UPDATE of one row with ?1 = id, ?2 = now (ms), ?3 = text and ?4 = a time. */
static store_rc_t sq_outbox_update(sq_t *q, const char *sql, int64_t id, const char *text,
                                   int64_t t, err_t *e, const char *what)
{
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	int np;

	if (sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK) {
		sq_fail(q, e, what);
		goto out;
	}
	np = sqlite3_bind_parameter_count(st);
	if (sqlite3_bind_int64(st, 1, id) || sqlite3_bind_int64(st, 2, sq_now_ms()) ||
	    (np >= 3 && sq_bind_text(st, 3, text)) || (np >= 4 && sqlite3_bind_int64(st, 4, t)) ||
	    sqlite3_step(st) != SQLITE_DONE) {
		sq_fail(q, e, what);
		goto out;
	}
	rc = sqlite3_changes(q->db) > 0 ? STORE_OK : STORE_NOT_FOUND;
	if (rc == STORE_NOT_FOUND)
		err_set(e, "no pending outbox row %lld", (long long)id);
out:
	sqlite3_finalize(st);
	return rc;
}

store_rc_t sq_outbox_delivered(void *h, int64_t id, err_t *e)
{
	return sq_outbox_update(h,
	                        "UPDATE webhook_outbox SET delivered = ?2, last_attempt = ?2,"
	                        " attempts = attempts + 1 WHERE id = ?1 AND delivered IS NULL"
	                        " AND dead IS NULL",
	                        id, NULL, 0, e, "marking a delivery done");
}

store_rc_t sq_outbox_failed(void *h, int64_t id, int64_t next_attempt, const char *err_text,
                            err_t *e)
{
	return sq_outbox_update(h,
	                        "UPDATE webhook_outbox SET attempts = attempts + 1,"
	                        " last_attempt = ?2, last_error = ?3, next_attempt = ?4"
	                        " WHERE id = ?1 AND delivered IS NULL AND dead IS NULL",
	                        id, err_text, next_attempt, e, "recording a failed delivery");
}

store_rc_t sq_outbox_dead(void *h, int64_t id, const char *err_text, err_t *e)
{
	return sq_outbox_update(h,
	                        "UPDATE webhook_outbox SET attempts = attempts + 1,"
	                        " last_attempt = ?2, dead = ?2, last_error = ?3"
	                        " WHERE id = ?1 AND delivered IS NULL AND dead IS NULL",
	                        id, err_text, 0, e, "dead-lettering a delivery");
}

store_rc_t sq_outbox_list(void *h, store_outbox_kind_t kind, int64_t after, size_t limit,
                          store_outbox_t **rows, size_t *n, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;

	if (sqlite3_prepare_v2(q->db,
	                       "SELECT " SQ_OUTBOX_COLS " FROM webhook_outbox o"
	                       " JOIN events e ON e.seq = o.event_seq"
	                       " WHERE o.delivered IS NULL AND (CASE WHEN ?1 = 1"
	                       " THEN o.dead IS NOT NULL ELSE o.dead IS NULL END) AND o.id > ?2"
	                       " ORDER BY o.id LIMIT ?3",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int(st, 1, kind == STORE_OUTBOX_DEAD) ||
	    sqlite3_bind_int64(st, 2, after) || sqlite3_bind_int64(st, 3, (sqlite3_int64)limit)) {
		sq_fail(q, e, "preparing the outbox list");
		goto out;
	}
	rc = sq_outbox_collect(q, st, rows, n, e);
out:
	sqlite3_finalize(st);
	return rc;
}

store_rc_t sq_outbox_retry(void *h, int64_t id, int64_t *count, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	int64_t now = sq_now_ms();

	if (sqlite3_prepare_v2(q->db,
	                       "UPDATE webhook_outbox SET dead = NULL, attempts = 0, since = ?2,"
	                       " next_attempt = ?2 WHERE dead IS NOT NULL AND delivered IS NULL"
	                       " AND (?1 = 0 OR id = ?1)",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, id) || sqlite3_bind_int64(st, 2, now) ||
	    sqlite3_step(st) != SQLITE_DONE) {
		sq_fail(q, e, "retrying dead-lettered deliveries");
		goto out;
	}
	if (count)
		*count = sqlite3_changes(q->db);
	rc = STORE_OK;
	if (id != 0 && sqlite3_changes(q->db) == 0) {
		err_set(e, "no dead-lettered delivery with id %lld", (long long)id);
		rc = STORE_NOT_FOUND;
	}
out:
	sqlite3_finalize(st);
	return rc;
}

store_rc_t sq_outbox_prune(void *h, int64_t before_ms, size_t limit, int64_t *count, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;

	if (sqlite3_prepare_v2(q->db,
	                       "DELETE FROM webhook_outbox WHERE id IN (SELECT id FROM"
	                       " webhook_outbox WHERE delivered IS NOT NULL AND delivered < ?1"
	                       " ORDER BY id LIMIT ?2)",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, before_ms) ||
	    sqlite3_bind_int64(st, 2, (sqlite3_int64)limit) || sqlite3_step(st) != SQLITE_DONE) {
		sq_fail(q, e, "pruning delivered webhook rows");
		goto out;
	}
	if (count)
		*count = sqlite3_changes(q->db);
	rc = STORE_OK;
out:
	sqlite3_finalize(st);
	return rc;
}

/* store_sqlite_audit: reading the verifier's event log (lists, lookups) and its seals, in
 * SQLite. Appending events stays in store_sqlite_verifier.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/store/store_sqlite_priv.h"

#define SQ_EVENT_COLS "seq, id, time, node_uuid, type, severity, body, prev_hash, hash"

/* Copy a text column into a fixed field (truncated to it; the schema never stores longer). */
static void sq_col_copy(sqlite3_stmt *st, int i, char *out, size_t size)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	snprintf(out, size, "%s", t ? (const char *)t : "");
}

static void sq_event_row(sqlite3_stmt *st, store_event_t *ev)
{
	ev->seq = sq_col_i64(st, 0);
	sq_col_copy(st, 1, ev->id, sizeof(ev->id));
	ev->time = sq_col_i64(st, 2);
	ev->node_uuid = sq_col_dup(st, 3);
	ev->type = sq_col_dup(st, 4);
	ev->severity = sq_col_dup(st, 5);
	ev->body = sq_col_dup(st, 6);
	sq_col_copy(st, 7, ev->prev_hash, sizeof(ev->prev_hash));
	sq_col_copy(st, 8, ev->hash, sizeof(ev->hash));
}

/* Run the prepared st and collect every row into *out with row() (size bytes each). */
static void sq_event_row_cb(sqlite3_stmt *st, void *p)
{
	sq_event_row(st, p);
}

static void sq_events_release(void *v, size_t n)
{
	store_events_free(v, n);
}

store_rc_t sq_event_list(void *h, const store_event_filter_t *f, store_event_t **out, size_t *n,
                         err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	void *v = NULL;

#define SQ_EVENT_WHERE                                                                             \
	" FROM events WHERE seq > ?1 AND (?2 IS NULL OR node_uuid = ?2)"                           \
	" AND (?3 IS NULL OR type = ?3)"
	if (sqlite3_prepare_v2(q->db,
	                       f->newest ? "SELECT * FROM (SELECT " SQ_EVENT_COLS SQ_EVENT_WHERE
	                                   " ORDER BY seq DESC LIMIT ?4) ORDER BY seq"
	                                 : "SELECT " SQ_EVENT_COLS SQ_EVENT_WHERE
	                                   " ORDER BY seq LIMIT ?4",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, f->after_seq) || sq_bind_text(st, 2, f->node_uuid) ||
	    sq_bind_text(st, 3, f->type) ||
	    sqlite3_bind_int64(st, 4, f->limit ? (int64_t)f->limit : -1)) {
		sq_fail(q, e, "preparing event list");
		goto out;
	}
	if ((rc = sq_rows(q, st, sizeof(store_event_t), sq_event_row_cb, sq_events_release, &v, n,
	                  e, "listing events")) == STORE_OK)
		*out = v;
out:
	sqlite3_finalize(st);
	return rc;
}

/* The one event sql (with ?1 = arg, when given) selects. */
static store_rc_t sq_event_one(sq_t *q, const char *sql, const char *arg, store_event_t *out,
                               err_t *e)
{
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;

	if (sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK ||
	    (arg && sq_bind_text(st, 1, arg)))
		sq_fail(q, e, "preparing event lookup");
	else
		rc = sq_row_one(q, st, sq_event_row_cb, out, e, "reading event");
	sqlite3_finalize(st);
	return rc;
}

store_rc_t sq_event_get(void *h, const char *id, store_event_t *out, err_t *e)
{
	store_rc_t rc =
	    sq_event_one(h, "SELECT " SQ_EVENT_COLS " FROM events WHERE id = ?1", id, out, e);

	if (rc == STORE_NOT_FOUND)
		err_set(e, "event %s not found", id);
	return rc;
}

store_rc_t sq_event_last(void *h, store_event_t *out, err_t *e)
{
	return sq_event_one(h, "SELECT " SQ_EVENT_COLS " FROM events ORDER BY seq DESC LIMIT 1",
	                    NULL, out, e);
}

/* ---- seals ---- */

#define SQ_SEAL_COLS "seq, hash, time, key_id, sig"

static void sq_seal_row(sqlite3_stmt *st, store_seal_t *s)
{
	s->seq = sq_col_i64(st, 0);
	sq_col_copy(st, 1, s->hash, sizeof(s->hash));
	s->time = sq_col_i64(st, 2);
	sq_col_copy(st, 3, s->key_id, sizeof(s->key_id));
	s->sig = sq_col_dup(st, 4);
}

static void sq_seal_row_cb(sqlite3_stmt *st, void *p)
{
	sq_seal_row(st, p);
}

static void sq_seals_release(void *v, size_t n)
{
	store_seals_free(v, n);
}

store_rc_t sq_seal_append(void *h, const store_seal_t *seal, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	int r;

	if (sqlite3_prepare_v2(q->db,
	                       "INSERT INTO audit_seals (seq, hash, time, key_id, sig)"
	                       " VALUES (?1, ?2, ?3, ?4, ?5)",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, seal->seq) || sq_bind_text(st, 2, seal->hash) ||
	    sqlite3_bind_int64(st, 3, seal->time) || sq_bind_text(st, 4, seal->key_id) ||
	    sq_bind_text(st, 5, seal->sig)) {
		sq_fail(q, e, "preparing seal insert");
		goto out;
	}
	r = sqlite3_step(st);
	if (r == SQLITE_CONSTRAINT_PRIMARYKEY) {
		err_set(e, "record %lld is sealed already", (long long)seal->seq);
		rc = STORE_EXISTS;
	} else if (r == SQLITE_CONSTRAINT_FOREIGNKEY) {
		err_set(e, "no record %lld to seal", (long long)seal->seq);
		rc = STORE_NOT_FOUND;
	} else if (r != SQLITE_DONE) {
		sq_fail(q, e, "storing seal");
	} else {
		rc = STORE_OK;
	}
out:
	sqlite3_finalize(st);
	return rc;
}

store_rc_t sq_seal_list(void *h, int64_t after_seq, int64_t upto_seq, store_seal_t **out, size_t *n,
                        err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	void *v = NULL;

	if (sqlite3_prepare_v2(q->db,
	                       "SELECT " SQ_SEAL_COLS " FROM audit_seals WHERE seq > ?1"
	                       " AND (?2 = 0 OR seq <= ?2) ORDER BY seq",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, after_seq) || sqlite3_bind_int64(st, 2, upto_seq)) {
		sq_fail(q, e, "preparing seal list");
		goto out;
	}
	if ((rc = sq_rows(q, st, sizeof(store_seal_t), sq_seal_row_cb, sq_seals_release, &v, n, e,
	                  "listing seals")) == STORE_OK)
		*out = v;
out:
	sqlite3_finalize(st);
	return rc;
}

store_rc_t sq_seal_last(void *h, store_seal_t *out, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;

	if (sqlite3_prepare_v2(q->db,
	                       "SELECT " SQ_SEAL_COLS " FROM audit_seals ORDER BY seq DESC LIMIT 1",
	                       -1, &st, NULL) != SQLITE_OK)
		sq_fail(q, e, "preparing seal lookup");
	else
		rc = sq_row_one(q, st, sq_seal_row_cb, out, e, "reading the last seal");
	sqlite3_finalize(st);
	return rc;
}

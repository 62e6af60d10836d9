/* store_pg_audit: reading the verifier's event log (lists, lookups) and its seals, in
 * PostgreSQL. Appending events stays in store_pg_verifier.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/store/store_pg_priv.h"

#define PG_EVENT_COLS "seq, id, time, node_uuid, type, severity, body, prev_hash, hash"

static void pg_event_row(PGresult *r, int i, void *elem)
{
	store_event_t *ev = elem;

	ev->seq = pg_col_i64(r, i, 0);
	pg_col_copy(r, i, 1, ev->id, sizeof(ev->id));
	ev->time = pg_col_i64(r, i, 2);
	ev->node_uuid = pg_col_dup(r, i, 3);
	ev->type = pg_col_dup(r, i, 4);
	ev->severity = pg_col_dup(r, i, 5);
	ev->body = pg_col_dup(r, i, 6);
	pg_col_copy(r, i, 7, ev->prev_hash, sizeof(ev->prev_hash));
	pg_col_copy(r, i, 8, ev->hash, sizeof(ev->hash));
}

store_rc_t pg_event_list(void *h, const store_event_filter_t *f, store_event_t **out, size_t *n,
                         err_t *e)
{
	pg_t *p = h;
	char after[24], limit[24];
	/* LIMIT NULL is no limit, as SQLite's LIMIT -1. */
	const char *v[4] = {pg_i64(after, f->after_seq), f->node_uuid, f->type,
	                    f->limit ? pg_i64(limit, (int64_t)f->limit) : NULL};
#define PG_EVENT_WHERE                                                                             \
	" FROM events WHERE seq > $1 AND ($2::text IS NULL OR node_uuid = $2)"                     \
	" AND ($3::text IS NULL OR type = $3)"
	PGresult *r = pg_run(
	    p,
	    f->newest ? "SELECT * FROM (SELECT " PG_EVENT_COLS PG_EVENT_WHERE
	                " ORDER BY seq DESC LIMIT $4::bigint) AS newest ORDER BY seq"
	              : "SELECT " PG_EVENT_COLS PG_EVENT_WHERE " ORDER BY seq LIMIT $4::bigint",
	    4, v);
	void *rows;

	if (r == NULL)
		return pg_fail(p, e, "listing events");
	pg_rows(r, sizeof(store_event_t), pg_event_row, &rows, n);
	*out = rows;
	PQclear(r);
	return STORE_OK;
}

/* The one event sql (with $1 = arg, when given) selects. */
static store_rc_t pg_event_one(pg_t *p, const char *sql, const char *arg, store_event_t *out,
                               err_t *e)
{
	const char *v[1] = {arg};
	PGresult *r = pg_run(p, sql, arg ? 1 : 0, v);
	store_rc_t rc = STORE_NOT_FOUND;

	if (r == NULL)
		return pg_fail(p, e, "reading event");
	if (PQntuples(r) > 0) {
		pg_event_row(r, 0, out);
		rc = STORE_OK;
	}
	PQclear(r);
	return rc;
}

store_rc_t pg_event_get(void *h, const char *id, store_event_t *out, err_t *e)
{
	store_rc_t rc =
	    pg_event_one(h, "SELECT " PG_EVENT_COLS " FROM events WHERE id = $1", id, out, e);

	if (rc == STORE_NOT_FOUND)
		err_set(e, "event %s not found", id);
	return rc;
}

store_rc_t pg_event_last(void *h, store_event_t *out, err_t *e)
{
	return pg_event_one(h, "SELECT " PG_EVENT_COLS " FROM events ORDER BY seq DESC LIMIT 1",
	                    NULL, out, e);
}

/* ---- seals ---- */

#define PG_SEAL_COLS "seq, hash, time, key_id, sig"

static void pg_seal_row(PGresult *r, int i, void *elem)
{
	store_seal_t *s = elem;

	s->seq = pg_col_i64(r, i, 0);
	pg_col_copy(r, i, 1, s->hash, sizeof(s->hash));
	s->time = pg_col_i64(r, i, 2);
	pg_col_copy(r, i, 3, s->key_id, sizeof(s->key_id));
	s->sig = pg_col_dup(r, i, 4);
}

store_rc_t pg_seal_append(void *h, const store_seal_t *seal, err_t *e)
{
	pg_t *p = h;
	char seq[24], t[24];
	const char *v[5] = {pg_i64(seq, seal->seq), seal->hash, pg_i64(t, seal->time), seal->key_id,
	                    seal->sig};
	PGresult *r = pg_run(p,
	                     "INSERT INTO audit_seals (seq, hash, time, key_id, sig)"
	                     " VALUES ($1, $2, $3, $4, $5)",
	                     5, v);

	if (r != NULL) {
		PQclear(r);
		return STORE_OK;
	}
	if (strcmp(p->state, PG_UNIQUE_VIOLATION) == 0) {
		err_set(e, "record %lld is sealed already", (long long)seal->seq);
		return STORE_EXISTS;
	}
	if (strcmp(p->state, PG_FOREIGN_KEY_VIOLATION) == 0) {
		err_set(e, "no record %lld to seal", (long long)seal->seq);
		return STORE_NOT_FOUND;
	}
	return pg_fail(p, e, "storing seal");
}

store_rc_t pg_seal_list(void *h, int64_t after_seq, int64_t upto_seq, store_seal_t **out, size_t *n,
                        err_t *e)
{
	pg_t *p = h;
	char a[24], u[24];
	const char *v[2] = {pg_i64(a, after_seq), pg_i64(u, upto_seq)};
	PGresult *r = pg_run(p,
	                     "SELECT " PG_SEAL_COLS " FROM audit_seals WHERE seq > $1"
	                     " AND ($2::bigint = 0 OR seq <= $2) ORDER BY seq",
	                     2, v);
	void *rows;

	if (r == NULL)
		return pg_fail(p, e, "listing seals");
	pg_rows(r, sizeof(store_seal_t), pg_seal_row, &rows, n);
	*out = rows;
	PQclear(r);
	return STORE_OK;
}

store_rc_t pg_seal_last(void *h, store_seal_t *out, err_t *e)
{
	pg_t *p = h;
	PGresult *r = pg_run(
	    p, "SELECT " PG_SEAL_COLS " FROM audit_seals ORDER BY seq DESC LIMIT 1", 0, NULL);
	store_rc_t rc = STORE_NOT_FOUND;

	if (r == NULL)
		return pg_fail(p, e, "reading the last seal");
	if (PQntuples(r) > 0) {
		pg_seal_row(r, 0, out);
		rc = STORE_OK;
	}
	PQclear(r);
	return rc;
}

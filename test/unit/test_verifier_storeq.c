/* Unit tests for verifier/storeq: the store thread's queue. Progress snapshots coalesce
 * per node (only the newest is written, the others come back superseded), a verdict
 * drops its node's older waiting snapshot and is never overwritten by it, the lease
 * fence refuses stale writes, and a queue whose store is locked by another connection
 * still takes writes at once and writes them all once the lock goes. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/store/store.h"
#include "test/unit/store_testdb.h"
#include "verifier/metrics.h"
#include "verifier/storeq.h"

int main(void);

static tdb_t db;        /* the fresh database of this run (store_testdb.h) */
static const char *url; /* its store URL */

/* What a lane was told, gathered as the outcomes arrive: room for every outcome of a test
 * (test_locked_store has 401 puts, each told once, superseded or written); more would be
 * a test bug, stopped by seen_deliver. */
#define SEEN_MAX 512

typedef struct seen {
	pthread_mutex_t lock;        /* outcomes arrive on the store thread */
	storeq_result_t v[SEEN_MAX]; /* copies, strings dropped */
	size_t n;                    /* how many */
	int batches;                 /* deliver calls */
} seen_t;

static void seen_deliver(void *arg, storeq_results_t *r)
{
	seen_t *s = arg;

	pthread_mutex_lock(&s->lock);
	if (s->n + r->n > SEEN_MAX)
		abort(); /* on the store thread: a cmocka assert cannot jump from here */
	for (size_t i = 0; i < r->n; i++) {
		s->v[s->n] = r->v[i];
		s->v[s->n].type = s->v[s->n].event_id = s->v[s->n].reason = NULL;
		s->n++;
	}
	s->batches++;
	pthread_mutex_unlock(&s->lock);
	storeq_results_free(r);
}

/* The outcome of token (the last one delivered for it); -1 when none came. */
static int seen_rc(seen_t *s, intptr_t token, storeq_kind_t kind)
{
	int rc = -1;

	for (size_t i = 0; i < s->n; i++)
		if ((intptr_t)s->v[i].token == token && s->v[i].kind == kind)
			rc = (int)s->v[i].rc;
	return rc;
}

static int setup(void **state)
{
	(void)state;
	if (tdb_create(&db, "storeq") < 0)
		return -1;
	url = db.url;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tdb_destroy(&db);
	return 0;
}

static void add_node(const char *uuid)
{
	err_t e = {""};
	store_t *s = store_open(url, &e);
	store_node_t n = {0};
	char id[32], ak[] = "AAAA", ip[] = "127.0.0.1";

	assert_non_null(s);
	snprintf(id, sizeof(id), "%s", uuid);
	n.uuid = id;
	n.ak_tpm = ak;
	n.ip = ip;
	n.port = 9002;
	n.operational_state = 1;
	assert_int_equal(store_node_add(s, &n, &e), STORE_OK);
	store_close(s);
}

/* A heap snapshot of node uuid at count and state, held under epoch. */
static store_node_t snap(const char *uuid, int64_t count, int state, int64_t epoch)
{
	store_node_t n = {0};

	n.uuid = xstrdup(uuid);
	n.ip = xstrdup("127.0.0.1");
	n.port = 9002;
	n.operational_state = state;
	n.attestation_count = count;
	n.ima_state = xstrdup("ima-position");
	n.lease_epoch = epoch;
	return n;
}

static long long count_of(const char *uuid)
{
	char sql[160];

	snprintf(sql, sizeof(sql), "SELECT attestation_count FROM nodes WHERE uuid = '%s'", uuid);
	return tdb_value(&db, sql);
}

static long long state_of(const char *uuid)
{
	char sql[160];

	snprintf(sql, sizeof(sql), "SELECT operational_state FROM nodes WHERE uuid = '%s'", uuid);
	return tdb_value(&db, sql);
}

static long long events_of(const char *uuid, const char *type)
{
	char sql[200];

	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM events WHERE node_uuid = '%s' AND type = '%s'", uuid, type);
	return tdb_value(&db, sql);
}

/* Three snapshots of one node before a batch: one written (the newest), two superseded;
 * another node's is written in the same batch. Not started: the batch runs on drain. */
static void test_coalesce(void **state)
{
	err_t e = {""};
	vmetrics_store_t m;
	seen_t s = {.lock = PTHREAD_MUTEX_INITIALIZER};
	storeq_t *q;
	storeq_lane_t *l;
	store_node_t n;
	(void)state;

	memset(&m, 0, sizeof(m));
	add_node("co-a");
	add_node("co-b");
	assert_non_null(q = storeq_new(url, &m, &e));
	l = storeq_lane_new(q, seen_deliver, &s);
	for (int i = 1; i <= 3; i++) {
		n = snap("co-a", i, 3, 0);
		storeq_put_progress(l, (void *)(intptr_t)i, &n);
		assert_null(n.uuid); /* taken */
	}
	n = snap("co-b", 7, 3, 0);
	storeq_put_progress(l, (void *)(intptr_t)10, &n);
	assert_int_equal(storeq_depth(q), 2);
	assert_int_equal(prom_get(&m.queued), 2);
	assert_int_equal(storeq_lane_pending(l), 4);
	storeq_lane_drain(l);
	assert_int_equal(storeq_lane_pending(l), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.batches, 1);
	assert_int_equal(seen_rc(&s, 1, STOREQ_PROGRESS), STOREQ_SUPERSEDED);
	assert_int_equal(seen_rc(&s, 2, STOREQ_PROGRESS), STOREQ_SUPERSEDED);
	assert_int_equal(seen_rc(&s, 3, STOREQ_PROGRESS), STOREQ_OK);
	assert_int_equal(seen_rc(&s, 10, STOREQ_PROGRESS), STOREQ_OK);
	assert_int_equal(count_of("co-a"), 3);
	assert_int_equal(count_of("co-b"), 7);
	assert_int_equal(prom_get(&m.rows), 2);
	assert_int_equal(prom_get(&m.queued), 0);
	{
		prom_hist_sum_t hs;
		memset(&hs, 0, sizeof(hs));
		prom_hist_sum_add(&hs, &m.batch);
		assert_int_equal(prom_hist_sum_count(&hs), 1); /* one batch */
	}
	storeq_lane_free(l);
	storeq_free(q);
}

/* A verdict drops its node's older waiting snapshot (which must not overwrite it), and a
 * snapshot queued after the verdict is written after it. */
static void test_verdict_order(void **state)
{
	err_t e = {""};
	seen_t s = {.lock = PTHREAD_MUTEX_INITIALIZER};
	storeq_t *q;
	storeq_lane_t *l;
	store_node_t n;
	(void)state;

	add_node("vo-a");
	add_node("vo-b");
	assert_non_null(q = storeq_new(url, NULL, &e));
	l = storeq_lane_new(q, seen_deliver, &s);
	/* a: older progress, then its failure. */
	n = snap("vo-a", 5, 3, 0);
	storeq_put_progress(l, (void *)(intptr_t)1, &n);
	n = snap("vo-a", 6, 9, 0);
	storeq_put_event(l, (void *)(intptr_t)2, &n, 1, "revocation", "ima.x", "a file");
	/* b: its failure, then newer progress (a later round's count). */
	n = snap("vo-b", 6, 9, 0);
	storeq_put_event(l, (void *)(intptr_t)3, &n, 1, "revocation", "ima.x", "a file");
	n = snap("vo-b", 8, 9, 0);
	storeq_put_progress(l, (void *)(intptr_t)4, &n);
	storeq_lane_drain(l);
	assert_int_equal(seen_rc(&s, 1, STOREQ_PROGRESS), STOREQ_SUPERSEDED);
	assert_int_equal(seen_rc(&s, 2, STOREQ_EVENT), STOREQ_OK);
	assert_int_equal(seen_rc(&s, 3, STOREQ_EVENT), STOREQ_OK);
	assert_int_equal(seen_rc(&s, 4, STOREQ_PROGRESS), STOREQ_OK);
	assert_int_equal(count_of("vo-a"), 6);
	assert_int_equal(state_of("vo-a"), 9);
	assert_int_equal(count_of("vo-b"), 8);
	assert_int_equal(events_of("vo-a", "revocation"), 1);
	assert_int_equal(events_of("vo-b", "revocation"), 1);
	storeq_lane_free(l);
	storeq_free(q);
}

/* A write made under an epoch that moved is refused, progress and verdict alike, and
 * nothing of the verdict (not its event) is written. */
static void test_fence(void **state)
{
	err_t e = {""};
	seen_t s = {.lock = PTHREAD_MUTEX_INITIALIZER};
	storeq_t *q;
	storeq_lane_t *l;
	store_node_t n;
	(void)state;

	add_node("fe-a");
	assert_int_equal(tdb_exec(&db, "UPDATE nodes SET lease_epoch = 4 WHERE uuid = 'fe-a'"), 0);
	assert_non_null(q = storeq_new(url, NULL, &e));
	l = storeq_lane_new(q, seen_deliver, &s);
	n = snap("fe-a", 9, 9, 3);
	storeq_put_event(l, (void *)(intptr_t)1, &n, 1, "revocation", "ima.x", "stale");
	n = snap("fe-a", 10, 3, 3);
	storeq_put_progress(l, (void *)(intptr_t)2, &n);
	n = snap("gone", 10, 3, 0); /* no such row: refused too */
	storeq_put_progress(l, (void *)(intptr_t)3, &n);
	storeq_lane_drain(l);
	assert_int_equal(seen_rc(&s, 1, STOREQ_EVENT), STOREQ_FENCED);
	assert_int_equal(seen_rc(&s, 2, STOREQ_PROGRESS), STOREQ_FENCED);
	assert_int_equal(seen_rc(&s, 3, STOREQ_PROGRESS), STOREQ_FENCED);
	assert_int_equal(count_of("fe-a"), 0);
	assert_int_equal(events_of("fe-a", "revocation"), 0);
	/* Under the epoch the row holds, the same write goes through. */
	n = snap("fe-a", 10, 3, 4);
	storeq_put_progress(l, (void *)(intptr_t)4, &n);
	storeq_lane_drain(l);
	assert_int_equal(seen_rc(&s, 4, STOREQ_PROGRESS), STOREQ_OK);
	assert_int_equal(count_of("fe-a"), 10);
	storeq_lane_free(l);
	storeq_free(q);
}

/* Another connection holds the nodes table (SQLite: a write transaction; PostgreSQL: an
 * exclusive table lock) while a started queue is fed: every put returns at once, the queue
 * holds one entry per node however many rounds come, and once the lock goes everything is
 * written and every outcome delivered. */
typedef struct holder {
	sqlite3 *sq; /* SQLite: the connection in BEGIN IMMEDIATE */
	PGconn *pg;  /* PostgreSQL: the connection holding LOCK TABLE */
} holder_t;

static void hold(holder_t *h)
{
	memset(h, 0, sizeof(*h));
	if (db.pg) {
		PGresult *r;
		h->pg = PQconnectdb(db.url);
		assert_int_equal(PQstatus(h->pg), CONNECTION_OK);
		r = PQexec(h->pg, "BEGIN; LOCK TABLE nodes IN EXCLUSIVE MODE");
		assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
		PQclear(r);
	} else {
		assert_int_equal(sqlite3_open(db.path, &h->sq), SQLITE_OK);
		assert_int_equal(sqlite3_exec(h->sq, "BEGIN IMMEDIATE", NULL, NULL, NULL),
		                 SQLITE_OK);
	}
}

static void release(holder_t *h)
{
	if (h->pg) {
		PQclear(PQexec(h->pg, "COMMIT"));
		PQfinish(h->pg);
	} else {
		sqlite3_exec(h->sq, "COMMIT", NULL, NULL, NULL);
		sqlite3_close(h->sq);
	}
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_locked_store(void **state)
{
	err_t e = {""};
	vmetrics_store_t m;
	seen_t s = {.lock = PTHREAD_MUTEX_INITIALIZER};
	storeq_t *q;
	storeq_lane_t *l;
	store_node_t n;
	holder_t h;
	char name[16];
	int64_t t0, took;
	(void)state;

	memset(&m, 0, sizeof(m));
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "lk-%d", i);
		add_node(name);
	}
	assert_non_null(q = storeq_new(url, &m, &e));
	l = storeq_lane_new(q, seen_deliver, &s);
	assert_int_equal(storeq_start(q), 0);
	hold(&h);
	/* 50 rounds of 8 nodes while the store is locked: none of the puts waits. */
	t0 = now_ms();
	for (int r = 1; r <= 50; r++)
		for (int i = 0; i < 8; i++) {
			snprintf(name, sizeof(name), "lk-%d", i);
			n = snap(name, r, 3, 0);
			storeq_put_progress(l, (void *)(intptr_t)(r * 100 + i), &n);
		}
	n = snap("lk-0", 50, 9, 0);
	storeq_put_event(l, (void *)(intptr_t)1, &n, 1, "revocation", "ima.x", "locked");
	took = now_ms() - t0;
	/* Bounded: at most one snapshot per node waits (and the event), whatever the
	 * number of rounds; the store thread holds at most one batch besides. */
	assert_true(storeq_depth(q) <= 8 + 1);
	assert_true(prom_get(&m.queued) <= 8 + 1);
	assert_true(took < 1000); /* the puts took no store time (a generous bound) */
	/* The store thread is stuck behind the lock meanwhile: nothing came back. */
	usleep(300 * 1000);
	assert_true(storeq_lane_pending(l) > 0);
	assert_int_equal(count_of("lk-1"), 0);
	release(&h);
	storeq_lane_drain(l);
	assert_int_equal(storeq_lane_pending(l), 0);
	assert_int_equal(state_of("lk-0"), 9);
	assert_int_equal(events_of("lk-0", "revocation"), 1);
	for (int i = 1; i < 8; i++) {
		snprintf(name, sizeof(name), "lk-%d", i);
		assert_int_equal(count_of(name), 50);
	}
	assert_int_equal(seen_rc(&s, 1, STOREQ_EVENT), STOREQ_OK);
	assert_int_equal(seen_rc(&s, 5001, STOREQ_PROGRESS), STOREQ_OK);
	storeq_lane_free(l);
	storeq_free(q);
}

/* storeq_sync waits for what was queued before it; storeq_free writes what is left. */
static void test_sync_and_free(void **state)
{
	err_t e = {""};
	seen_t s = {.lock = PTHREAD_MUTEX_INITIALIZER};
	storeq_t *q;
	storeq_lane_t *l;
	store_node_t n;
	(void)state;

	add_node("sy-a");
	assert_non_null(q = storeq_new(url, NULL, &e));
	l = storeq_lane_new(q, seen_deliver, &s);
	assert_int_equal(storeq_start(q), 0);
	n = snap("sy-a", 3, 3, 0);
	storeq_put_progress(l, (void *)(intptr_t)1, &n);
	storeq_sync(q);
	assert_int_equal(count_of("sy-a"), 3);
	assert_int_equal(seen_rc(&s, 1, STOREQ_PROGRESS), STOREQ_OK);
	storeq_lane_free(l);
	storeq_free(q);

	/* Never started: the free writes it. */
	memset(&s, 0, sizeof(s));
	pthread_mutex_init(&s.lock, NULL);
	assert_non_null(q = storeq_new(url, NULL, &e));
	l = storeq_lane_new(q, seen_deliver, &s);
	n = snap("sy-a", 4, 3, 0);
	storeq_put_progress(l, (void *)(intptr_t)2, &n);
	storeq_sync(q);
	storeq_lane_free(l);
	storeq_free(q);
	assert_int_equal(count_of("sy-a"), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_coalesce),      cmocka_unit_test(test_verdict_order),
	    cmocka_unit_test(test_fence),         cmocka_unit_test(test_locked_store),
	    cmocka_unit_test(test_sync_and_free),
	};

	log_init("test_verifier_storeq", 0, 0);
	return cmocka_run_group_tests(tests, setup, teardown);
}

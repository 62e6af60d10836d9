/* Unit tests for the webhook outbox of common/store: an event, its node's progress and
 * its deliveries commit together or not at all; due rows keep per-node order; failures,
 * dead letters, lists and retries. */
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
#include "common/store/store.h"
#include "test/unit/store_testdb.h"

int main(void);

static tdb_t db;        /* the fresh database of each test (store_testdb.h) */
static const char *url; /* its store URL */
static const char *const urls[] = {"https://a.example/hook", "http://127.0.0.1:9/hook"};

static int setup(void **state)
{
	(void)state;
	if (tdb_create(&db, "outbox") < 0)
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

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void add_node(store_t *s, const char *uuid)
{
	store_node_t n;
	err_t e = {""};

	memset(&n, 0, sizeof(n));
	n.uuid = (char *)(uintptr_t)uuid;
	n.ak_tpm = (char *)(uintptr_t) "AAAA";
	n.ip = (char *)(uintptr_t) "127.0.0.1";
	n.port = 9002;
	n.operational_state = 3;
	assert_int_equal(store_node_add(s, &n, &e), STORE_OK);
}

static long long count(const char *sql)
{
	return tdb_value(&db, sql);
}

static void exec_sql(const char *sql)
{
	assert_int_equal(tdb_exec(&db, sql), 0);
}

/* Commit an event of node uuid (no node record) to both URLs; its seq. */
static int64_t commit(store_t *s, const char *uuid, const char *type)
{
	char id[40];
	int64_t seq = 0;
	err_t e = {""};

	assert_int_equal(
	    store_event_commit(s, NULL, uuid, type, "emergency", "{}", urls, 2, id, &seq, &e),
	    STORE_OK);
	return seq;
}

static void test_commit_together(void **state)
{
	err_t e = {""};
	store_t *s = store_open(url, &e);
	store_node_t n, got;
	char id[40];
	int64_t seq = 0;

	(void)state;
	assert_non_null(s);
	assert_int_equal(store_schema_version(s), 8);
	add_node(s, "n1");
	assert_int_equal(store_node_get(s, "n1", &n, &e), STORE_OK);
	n.operational_state = 9;
	assert_int_equal(store_event_commit(s, &n, "n1", "revocation", "emergency", "{\"a\":1}",
	                                    urls, 2, id, &seq, &e),
	                 STORE_OK);
	assert_int_equal(seq, 1);
	assert_true(strncmp(id, "1-", 2) == 0);
	assert_int_equal(store_node_get(s, "n1", &got, &e), STORE_OK);
	assert_int_equal(got.operational_state, 9);
	store_node_clear(&got);
	assert_int_equal(count("SELECT COUNT(*) FROM webhook_outbox WHERE event_seq = 1 AND "
	                       "node_uuid = 'n1' AND delivered IS NULL AND dead IS NULL"),
	                 2);

	/* The last outbox insert fails: neither the node's new state, nor the event, nor the
	 * first URL's row is kept. */
	if (db.pg)
		exec_sql("CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS"
		         " $$BEGIN RAISE EXCEPTION 'boom'; END$$;"
		         "CREATE TRIGGER boom BEFORE INSERT ON webhook_outbox FOR EACH ROW"
		         " WHEN (NEW.url = 'http://boom/') EXECUTE FUNCTION boom();");
	else
		exec_sql("CREATE TRIGGER boom BEFORE INSERT ON webhook_outbox"
		         " WHEN NEW.url = 'http://boom/' BEGIN SELECT RAISE(ABORT, 'boom'); END;");
	const char *const bad[] = {"https://a.example/hook", "http://boom/"};
	n.operational_state = 7;
	assert_int_equal(
	    store_event_commit(s, &n, "n1", "comm_error", "emergency", "{}", bad, 2, id, &seq, &e),
	    STORE_ERROR);
	assert_int_equal(store_node_get(s, "n1", &got, &e), STORE_OK);
	assert_int_equal(got.operational_state, 9);
	store_node_clear(&got);
	assert_int_equal(count("SELECT COUNT(*) FROM events"), 1);
	assert_int_equal(count("SELECT COUNT(*) FROM webhook_outbox"), 2);
	assert_int_equal(store_event_verify_chain(s, &e), STORE_OK);
	/* A node record that is not the event's node is refused before anything is written. */
	assert_int_equal(store_event_commit(s, &n, "n2", "x", NULL, "{}", urls, 2, id, NULL, &e),
	                 STORE_ERROR);
	/* No URLs: the event alone. */
	assert_int_equal(store_event_commit(s, NULL, "n1", "x", NULL, "{}", NULL, 0, id, &seq, &e),
	                 STORE_OK);
	assert_int_equal(seq, 2);
	store_node_clear(&n);
	store_close(s);
}

static void test_order_and_outcomes(void **state)
{
	err_t e = {""};
	store_t *s = store_open(url, &e);
	store_outbox_t *r;
	size_t n;
	int64_t now = now_ms(), when = 0, cnt = 0;

	(void)state;
	assert_non_null(s);
	assert_int_equal(store_outbox_next_due(s, &when, &e), STORE_NOT_FOUND);
	commit(s, "A", "revocation"); /* rows 1, 2 */
	commit(s, "A", "comm_error"); /* rows 3, 4 */
	commit(s, "B", "revocation"); /* rows 5, 6 */
	assert_int_equal(store_outbox_due(s, NULL, now + 1000, 10, &r, &n, &e), STORE_OK);
	/* A's second event waits behind its first, per URL. */
	assert_int_equal(n, 4);
	assert_int_equal(r[0].id, 1);
	assert_int_equal(r[1].id, 2);
	assert_int_equal(r[2].id, 5);
	assert_int_equal(r[3].id, 6);
	assert_string_equal(r[0].url, urls[0]);
	assert_string_equal(r[0].node_uuid, "A");
	assert_string_equal(r[0].event_type, "revocation");
	assert_int_equal(r[0].event_seq, 1);
	assert_true(strncmp(r[0].event_id, "1-", 2) == 0);
	assert_string_equal(r[0].event_body, "{}");
	store_outbox_free(r, n);
	/* One URL's rows only. */
	assert_int_equal(store_outbox_due(s, urls[1], now + 1000, 10, &r, &n, &e), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(r[0].id, 2);
	assert_int_equal(r[1].id, 6);
	store_outbox_free(r, n);
	/* Not due yet at an earlier time. */
	assert_int_equal(store_outbox_due(s, NULL, now - 60000, 10, &r, &n, &e), STORE_OK);
	assert_int_equal(n, 0);
	store_outbox_free(r, n);

	/* Row 1 fails: it comes back later; row 3 still waits; the other URL's row 2 is
	 * independent. */
	assert_int_equal(store_outbox_failed(s, 1, now + 5000, "HTTP 503", &e), STORE_OK);
	assert_int_equal(store_outbox_delivered(s, 2, &e), STORE_OK);
	assert_int_equal(store_outbox_delivered(s, 2, &e), STORE_NOT_FOUND);
	assert_int_equal(store_outbox_due(s, NULL, now + 1000, 10, &r, &n, &e), STORE_OK);
	assert_int_equal(n, 3);
	assert_int_equal(r[0].id, 4);
	assert_int_equal(r[1].id, 5);
	assert_int_equal(r[2].id, 6);
	store_outbox_free(r, n);
	assert_int_equal(store_outbox_next_due(s, &when, &e), STORE_OK);
	assert_true(when <= now + 1000);
	assert_int_equal(store_outbox_delivered(s, 4, &e), STORE_OK);
	assert_int_equal(store_outbox_delivered(s, 5, &e), STORE_OK);
	assert_int_equal(store_outbox_delivered(s, 6, &e), STORE_OK);
	assert_int_equal(store_outbox_next_due(s, &when, &e), STORE_OK);
	assert_int_equal(when, now + 5000);
	assert_int_equal(store_outbox_due(s, NULL, now + 5000, 10, &r, &n, &e), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].id, 1);
	assert_int_equal(r[0].attempts, 1);
	assert_string_equal(r[0].last_error, "HTTP 503");
	store_outbox_free(r, n);

	/* Dead-lettered: listed as dead, no longer holds row 3 back. */
	assert_int_equal(store_outbox_dead(s, 1, "too old", &e), STORE_OK);
	assert_int_equal(store_outbox_failed(s, 1, now, "x", &e), STORE_NOT_FOUND);
	assert_int_equal(store_outbox_list(s, STORE_OUTBOX_DEAD, 0, 10, &r, &n, &e), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].id, 1);
	assert_int_equal(r[0].attempts, 2);
	assert_true(r[0].dead > 0);
	store_outbox_free(r, n);
	assert_int_equal(store_outbox_list(s, STORE_OUTBOX_PENDING, 0, 10, &r, &n, &e), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].id, 3);
	store_outbox_free(r, n);
	assert_int_equal(store_outbox_due(s, NULL, now + 1000, 10, &r, &n, &e), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].id, 3);
	store_outbox_free(r, n);

	/* Retry: pending again, due now, with a fresh window; it holds row 3 back again. */
	assert_int_equal(store_outbox_retry(s, 3, &cnt, &e), STORE_NOT_FOUND);
	assert_int_equal(store_outbox_retry(s, 1, &cnt, &e), STORE_OK);
	assert_int_equal(cnt, 1);
	assert_int_equal(store_outbox_retry(s, 1, &cnt, &e), STORE_NOT_FOUND);
	assert_int_equal(store_outbox_due(s, NULL, now_ms() + 10, 10, &r, &n, &e), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].id, 1);
	assert_int_equal(r[0].attempts, 0);
	assert_true(r[0].since >= now);
	assert_int_equal(r[0].dead, 0);
	store_outbox_free(r, n);
	assert_int_equal(store_outbox_retry(s, 0, &cnt, &e), STORE_OK);
	assert_int_equal(cnt, 0);
	assert_int_equal(store_outbox_retry(s, -1, &cnt, &e), STORE_ERROR);
	store_close(s);
}

static void test_list_pages(void **state)
{
	err_t e = {""};
	store_t *s = store_open(url, &e);
	store_outbox_t *r;
	size_t n;
	int64_t after = 0, total = 0, cnt;

	(void)state;
	assert_non_null(s);
	for (int i = 0; i < 5; i++)
		commit(s, i % 2 ? "A" : "B", "revocation"); /* 10 rows */
	for (int64_t id = 1; id <= 10; id += 3)
		assert_int_equal(store_outbox_dead(s, id, "gone", &e), STORE_OK); /* 1 4 7 10 */
	do {
		assert_int_equal(store_outbox_list(s, STORE_OUTBOX_PENDING, after, 4, &r, &n, &e),
		                 STORE_OK);
		for (size_t i = 0; i < n; i++) {
			assert_true(r[i].id > after);
			assert_true(r[i].id % 3 != 1); /* dead rows are not pending */
			after = r[i].id;
		}
		total += (int64_t)n;
		store_outbox_free(r, n);
	} while (n == 4);
	assert_int_equal(total, 6);
	assert_int_equal(store_outbox_retry(s, 0, &cnt, &e), STORE_OK);
	assert_int_equal(cnt, 4);
	assert_int_equal(store_outbox_list(s, STORE_OUTBOX_DEAD, 0, 100, &r, &n, &e), STORE_OK);
	assert_int_equal(n, 0);
	store_outbox_free(r, n);
	store_close(s);
}

/* A database of schema 4 with a pending outbox row gains the columns; the row keeps its
 * place, gets its node from its event, and its max-age window starts at its creation. */
/* Delivered rows older than the cut are deleted, oldest first and at most limit at a time;
 * pending and dead-lettered rows and the events stay. */
static void test_prune(void **state)
{
	err_t e = {""};
	store_t *s = store_open(url, &e);
	int64_t cnt = -1;

	(void)state;
	assert_non_null(s);
	commit(s, "A", "revocation"); /* rows 1, 2 */
	commit(s, "B", "revocation"); /* rows 3, 4 */
	commit(s, "C", "revocation"); /* rows 5, 6 */
	exec_sql("UPDATE webhook_outbox SET delivered = 1000 WHERE id IN (1, 2, 3)");
	exec_sql("UPDATE webhook_outbox SET delivered = 5000 WHERE id = 4");
	exec_sql("UPDATE webhook_outbox SET dead = 1000 WHERE id = 5");
	assert_int_equal(store_outbox_prune(s, 2000, 2, &cnt, &e), STORE_OK);
	assert_int_equal(cnt, 2);
	assert_int_equal(count("SELECT COUNT(*) FROM webhook_outbox WHERE id IN (1, 2)"), 0);
	assert_int_equal(store_outbox_prune(s, 2000, 100, &cnt, &e), STORE_OK);
	assert_int_equal(cnt, 1); /* row 3; row 4 is newer than the cut */
	assert_int_equal(store_outbox_prune(s, 2000, 100, &cnt, &e), STORE_OK);
	assert_int_equal(cnt, 0);
	assert_int_equal(count("SELECT COUNT(*) FROM webhook_outbox"), 3); /* 4, 5, 6 */
	assert_int_equal(count("SELECT COUNT(*) FROM events"), 3);
	assert_int_equal(store_outbox_prune(s, 9000, 0, &cnt, &e), STORE_OK);
	assert_int_equal(cnt, 0);
	assert_int_equal(store_outbox_prune(s, 9000, 100, &cnt, &e), STORE_OK);
	assert_int_equal(cnt, 1); /* row 4 */
	assert_int_equal(store_event_verify_chain(s, &e), STORE_OK);
	store_close(s);
}

static void test_upgrade_from_schema_4(void **state)
{
	err_t e = {""};
	store_t *s = store_open(url, &e);
	store_outbox_t *r;
	size_t n;

	(void)state;
	assert_non_null(s);
	commit(s, "A", "revocation");
	store_close(s);
	exec_sql("DROP INDEX webhook_outbox_order; DROP INDEX webhook_outbox_dead;"
	         " ALTER TABLE webhook_outbox DROP COLUMN node_uuid;"
	         " ALTER TABLE webhook_outbox DROP COLUMN since;"
	         " ALTER TABLE webhook_outbox DROP COLUMN last_attempt;"
	         " ALTER TABLE webhook_outbox DROP COLUMN dead;"
	         " DROP TABLE audit_seals; DROP INDEX events_type;"
	         " DROP INDEX nodes_lease_owner;"
	         " ALTER TABLE nodes DROP COLUMN lease_epoch;"
	         " ALTER TABLE pool_members DROP COLUMN stalled;"
	         " DELETE FROM schema_version WHERE version > 4");
	/* PostgreSQL keeps the seals' trigger function beside the table. */
	if (db.pg)
		exec_sql("DROP FUNCTION vigil_seals_append_only()");
	s = store_open(url, &e);
	assert_non_null(s);
	assert_int_equal(store_schema_version(s), store_schema_latest());
	assert_int_equal(store_outbox_list(s, STORE_OUTBOX_PENDING, 0, 10, &r, &n, &e), STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(r[0].node_uuid, "A");
	assert_int_equal(r[0].since, r[0].created);
	store_outbox_free(r, n);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_commit_together, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_order_and_outcomes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list_pages, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_upgrade_from_schema_4, setup, teardown),
	};
	log_init("test_store_outbox", 0, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for common/store (SQLite backend): migrations on a new file and idempotent on
 * reopen, registrar CRUD, activation, and that what was committed survives close/reopen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "common/base/log.h"
#include "common/store/store.h"
#include "common/base/xmalloc.h"

int main(void);

typedef struct fixture {
	char dir[64];  /* temp directory */
	char path[96]; /* database file in it */
	char url[128]; /* "sqlite:" + path */
} fixture_t;

static int setup(void **state)
{
	fixture_t *f = xcalloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/vigil-test-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/s.db", f->dir);
	snprintf(f->url, sizeof(f->url), "sqlite:%s", f->path);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *f = *state;
	char p[128];

	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static store_agent_t sample(const char *id)
{
	store_agent_t a;

	memset(&a, 0, sizeof(a));
	a.agent_id = xstrdup(id);
	a.ek_tpm = xstrdup("AToAAQALAAMAsgAg");
	a.ek_key = xstrdup("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
	a.ekcert = xstrdup("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
	a.aik_tpm = xstrdup("ARgAAQALAAUAcgAA");
	a.mtls_cert = xstrdup("disabled");
	a.ip = xstrdup("127.0.0.1");
	a.port = 9002;
	a.regcount = 1;
	a.active = 0;
	a.pending_key = xstrdup("c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=");
	return a;
}

/* Count rows of a table through a separate connection, as an outside observer would. */
static int count_rows(const char *path, const char *table)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *sql = xasprintf("SELECT COUNT(*) FROM %s", table);
	int n = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(sql);
	return n;
}

static void test_open_migrates(void **state)
{
	fixture_t *f = *state;
	err_t e = {""};
	struct stat sb;
	store_t *s = store_open(f->url, &e);

	assert_non_null(s);
	assert_int_equal(store_schema_version(s), store_schema_latest());
	store_close(s);
	/* Every migration is recorded once; reopening applies nothing again. */
	assert_int_equal(count_rows(f->path, "schema_version"), store_schema_latest());
	s = store_open(f->url, &e);
	assert_non_null(s);
	store_close(s);
	assert_int_equal(count_rows(f->path, "schema_version"), store_schema_latest());
	/* The verifier's tables exist (empty). */
	assert_int_equal(count_rows(f->path, "nodes"), 0);
	assert_int_equal(count_rows(f->path, "policies"), 0);
	assert_int_equal(count_rows(f->path, "events"), 0);
	assert_int_equal(count_rows(f->path, "webhook_outbox"), 0);
	assert_int_equal(count_rows(f->path, "policy_names"), 0);
	assert_int_equal(count_rows(f->path, "pool_members"), 0);
	/* Pending credentials are secrets: the file is private. */
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 077, 0);
}

static void test_bad_urls(void **state)
{
	fixture_t *f = *state;
	err_t e = {""};
	char *u;

	assert_null(store_open("", &e));
	assert_null(store_open("mysql://x", &e));
	assert_non_null(strstr(e.msg, "unknown scheme"));
	assert_null(store_open("postgresql://localhost/vigil", &e));
	assert_non_null(strstr(e.msg, "not built"));
	assert_null(store_open("sqlite:", &e));
	u = xasprintf("sqlite:%s/no/such/dir/x.db", f->dir);
	assert_null(store_open(u, &e));
	free(u);
}

static void test_newer_schema_refused(void **state)
{
	fixture_t *f = *state;
	err_t e = {""};
	sqlite3 *db;
	store_t *s = store_open(f->url, &e);

	assert_non_null(s);
	store_close(s);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(db, "INSERT INTO schema_version (version, applied) VALUES (999, 0)", NULL,
	                 NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_null(store_open(f->url, &e));
	assert_non_null(strstr(e.msg, "newer"));
}

static void test_crud(void **state)
{
	fixture_t *f = *state;
	err_t e = {""};
	store_t *s = store_open(f->url, &e);
	store_agent_t a = sample("agent-b"), b = sample("agent-a"), g;
	char **ids;
	size_t n;

	assert_non_null(s);
	assert_int_equal(store_agent_get(s, "agent-b", &g, &e), STORE_NOT_FOUND);
	assert_int_equal(store_agent_put(s, &a, &e), STORE_OK);
	assert_int_equal(store_agent_put(s, &b, &e), STORE_OK);

	assert_int_equal(store_agent_get(s, "agent-b", &g, &e), STORE_OK);
	assert_string_equal(g.agent_id, "agent-b");
	assert_string_equal(g.ek_tpm, a.ek_tpm);
	assert_string_equal(g.ekcert, a.ekcert);
	assert_string_equal(g.aik_tpm, a.aik_tpm);
	assert_string_equal(g.mtls_cert, "disabled");
	assert_string_equal(g.ip, "127.0.0.1");
	assert_int_equal(g.port, 9002);
	assert_int_equal(g.regcount, 1);
	assert_int_equal(g.active, 0);
	assert_string_equal(g.pending_key, a.pending_key);
	assert_string_equal(g.ek_key, a.ek_key);
	assert_true(g.created > 0 && g.updated >= g.created);
	store_agent_clear(&g);

	/* Ordered list. */
	assert_int_equal(store_agent_list(s, &ids, &n, &e), STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(ids[0], "agent-a");
	assert_string_equal(ids[1], "agent-b");
	assert_null(ids[2]);
	store_ids_free(ids);

	/* Update in place: NULLs stay NULL, counters replace. */
	free(a.ekcert);
	a.ekcert = NULL;
	free(a.ip);
	a.ip = NULL;
	a.regcount = 2;
	assert_int_equal(store_agent_put(s, &a, &e), STORE_OK);
	assert_int_equal(store_agent_get(s, "agent-b", &g, &e), STORE_OK);
	assert_null(g.ekcert);
	assert_null(g.ip);
	assert_int_equal(g.regcount, 2);
	store_agent_clear(&g);

	/* A wrong first answer removes a pending registration, never an active one. */
	assert_int_equal(store_agent_delete_pending(s, "nobody", &e), STORE_NOT_FOUND);

	/* Activation clears the pending key, and only happens once. */
	assert_int_equal(store_agent_activate(s, "agent-b", &e), STORE_OK);
	assert_int_equal(store_agent_activate(s, "agent-b", &e), STORE_NOT_FOUND);
	assert_int_equal(store_agent_activate(s, "nobody", &e), STORE_NOT_FOUND);
	assert_int_equal(store_agent_get(s, "agent-b", &g, &e), STORE_OK);
	assert_int_equal(g.active, 1);
	assert_null(g.pending_key);
	store_agent_clear(&g);
	assert_int_equal(store_agent_delete_pending(s, "agent-b", &e), STORE_NOT_FOUND);
	assert_int_equal(store_agent_get(s, "agent-b", &g, &e), STORE_OK);
	store_agent_clear(&g);
	assert_int_equal(store_agent_delete_pending(s, "agent-a", &e), STORE_OK);
	assert_int_equal(store_agent_put(s, &b, &e), STORE_OK);

	/* Delete. */
	assert_int_equal(store_agent_delete(s, "agent-a", &e), STORE_OK);
	assert_int_equal(store_agent_delete(s, "agent-a", &e), STORE_NOT_FOUND);
	assert_int_equal(store_agent_get(s, "agent-a", &g, &e), STORE_NOT_FOUND);
	assert_int_equal(store_agent_list(s, &ids, &n, &e), STORE_OK);
	assert_int_equal(n, 1);
	store_ids_free(ids);

	/* A record without its required fields is refused before the backend. */
	free(b.ek_tpm);
	b.ek_tpm = NULL;
	assert_int_equal(store_agent_put(s, &b, &e), STORE_ERROR);

	store_agent_clear(&a);
	store_agent_clear(&b);
	store_close(s);
}

static void test_durable_across_reopen(void **state)
{
	fixture_t *f = *state;
	err_t e = {""};
	store_t *s = store_open(f->url, &e);
	store_agent_t a = sample("d432fbb3-d2f1-4a97-9ef7-75bd81c00000"), g;

	assert_non_null(s);
	assert_int_equal(store_agent_put(s, &a, &e), STORE_OK);
	/* An outside reader sees the committed row while the store is still open. */
	assert_int_equal(count_rows(f->path, "registrar_agents"), 1);
	assert_int_equal(store_agent_activate(s, a.agent_id, &e), STORE_OK);
	store_close(s);

	s = store_open(f->url, &e);
	assert_non_null(s);
	assert_int_equal(store_agent_get(s, a.agent_id, &g, &e), STORE_OK);
	assert_int_equal(g.active, 1);
	assert_string_equal(g.aik_tpm, a.aik_tpm);
	store_agent_clear(&g);
	store_close(s);
	store_agent_clear(&a);
}

/* Re-registrations of an active enrollment wait in registrar_staged: the enrollment
 * changes only when the attempt is promoted (activated), a discarded attempt leaves it as
 * it was, and nothing is staged beside a record that was never activated. */
static void test_staging(void **state)
{
	fixture_t *f = *state;
	err_t e = {""};
	store_t *s = store_open(f->url, &e);
	store_agent_t a = sample("node"), st = sample("node"), g;
	char *other = NULL;

	assert_non_null(s);
	assert_int_equal(store_agent_put(s, &a, &e), STORE_OK);
	/* Not active yet: nothing to stage beside; no active holder of the EK. */
	assert_int_equal(store_agent_stage(s, &st, &e), STORE_NOT_FOUND);
	assert_int_equal(store_agent_find_ek(s, a.ek_key, "x", 1, &other, &e), STORE_NOT_FOUND);
	assert_int_equal(store_agent_find_ek(s, a.ek_key, "x", 0, &other, &e), STORE_OK);
	assert_string_equal(other, "node");
	free(other);
	assert_int_equal(store_agent_activate(s, "node", &e), STORE_OK);
	assert_int_equal(store_agent_find_ek(s, a.ek_key, "node", 1, &other, &e), STORE_NOT_FOUND);
	assert_int_equal(store_agent_find_ek(s, a.ek_key, "other", 1, &other, &e), STORE_OK);
	assert_string_equal(other, "node");
	free(other);

	/* Stage another contact; the enrollment is untouched. */
	free(st.ip);
	st.ip = xstrdup("10.6.6.6");
	st.port = 6666;
	assert_int_equal(store_agent_stage(s, &st, &e), STORE_OK);
	assert_int_equal(count_rows(f->path, "registrar_staged"), 1);
	assert_int_equal(store_agent_get(s, "node", &g, &e), STORE_OK);
	assert_string_equal(g.ip, "127.0.0.1");
	assert_int_equal(g.port, 9002);
	assert_int_equal(g.active, 1);
	store_agent_clear(&g);
	assert_int_equal(store_agent_get_staged(s, "node", &g, &e), STORE_OK);
	assert_string_equal(g.ip, "10.6.6.6");
	assert_string_equal(g.pending_key, st.pending_key);
	store_agent_clear(&g);

	/* Discarding leaves the enrollment; promoting nothing changes nothing. */
	assert_int_equal(store_agent_unstage(s, "node", &e), STORE_OK);
	assert_int_equal(store_agent_get_staged(s, "node", &g, &e), STORE_NOT_FOUND);
	assert_int_equal(store_agent_promote(s, "node", &e), STORE_NOT_FOUND);
	assert_int_equal(store_agent_get(s, "node", &g, &e), STORE_OK);
	assert_string_equal(g.ip, "127.0.0.1");
	assert_int_equal(g.regcount, 1);
	store_agent_clear(&g);

	/* An attempt whose identity no longer matches the enrollment is not promoted. */
	free(st.aik_tpm);
	st.aik_tpm = xstrdup("ARgAAQALAAUAcgBB");
	assert_int_equal(store_agent_stage(s, &st, &e), STORE_OK);
	assert_int_equal(store_agent_promote(s, "node", &e), STORE_NOT_FOUND);
	assert_int_equal(count_rows(f->path, "registrar_staged"), 1);

	/* Promoting a matching attempt moves its contact into the enrollment at once. */
	free(st.aik_tpm);
	st.aik_tpm = xstrdup(a.aik_tpm);
	assert_int_equal(store_agent_stage(s, &st, &e), STORE_OK);
	assert_int_equal(store_agent_promote(s, "node", &e), STORE_OK);
	assert_int_equal(count_rows(f->path, "registrar_staged"), 0);
	assert_int_equal(store_agent_get(s, "node", &g, &e), STORE_OK);
	assert_string_equal(g.ip, "10.6.6.6");
	assert_int_equal(g.port, 6666);
	assert_int_equal(g.regcount, 2);
	assert_int_equal(g.active, 1);
	assert_null(g.pending_key);
	store_agent_clear(&g);

	/* An administrator's delete takes a staged attempt with it. */
	assert_int_equal(store_agent_stage(s, &st, &e), STORE_OK);
	assert_int_equal(store_agent_delete(s, "node", &e), STORE_OK);
	assert_int_equal(count_rows(f->path, "registrar_staged"), 0);

	store_agent_clear(&a);
	store_agent_clear(&st);
	store_close(s);
}

/* A database written before staging existed (schema 3, an active enrollment in it) opens,
 * migrates to the current schema, and keeps its enrollment. */
static void test_upgrade_from_schema_3(void **state)
{
	fixture_t *f = *state;
	err_t e = {""};
	sqlite3 *db;
	store_t *s = store_open(f->url, &e);
	store_agent_t a = sample("old-node"), g;

	assert_non_null(s);
	assert_int_equal(store_agent_put(s, &a, &e), STORE_OK);
	assert_int_equal(store_agent_activate(s, "old-node", &e), STORE_OK);
	store_close(s);
	/* Back to what schema 3 looked like (without migrations 4 and 5). */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	                              "DROP TABLE audit_seals; DROP INDEX events_type;"
	                              " DROP TABLE registrar_staged;"
	                              " DROP INDEX registrar_agents_ek_key;"
	                              " ALTER TABLE registrar_agents DROP COLUMN ek_key;"
	                              " DROP INDEX webhook_outbox_order;"
	                              " DROP INDEX webhook_outbox_dead;"
	                              " ALTER TABLE webhook_outbox DROP COLUMN node_uuid;"
	                              " ALTER TABLE webhook_outbox DROP COLUMN since;"
	                              " ALTER TABLE webhook_outbox DROP COLUMN last_attempt;"
	                              " ALTER TABLE webhook_outbox DROP COLUMN dead;"
	                              " DELETE FROM schema_version WHERE version > 3",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
	s = store_open(f->url, &e);
	assert_non_null(s);
	assert_int_equal(store_schema_version(s), store_schema_latest());
	assert_int_equal(store_agent_get(s, "old-node", &g, &e), STORE_OK);
	assert_int_equal(g.active, 1);
	assert_null(g.ek_key); /* the registrar fills it in at start */
	store_agent_clear(&g);
	assert_int_equal(store_agent_stage(s, &a, &e), STORE_OK);
	store_close(s);
	store_agent_clear(&a);
}

static void test_events_append_only(void **state)
{
	fixture_t *f = *state;
	err_t e = {""};
	sqlite3 *db;
	store_t *s = store_open(f->url, &e);

	assert_non_null(s);
	store_close(s);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	                              "INSERT INTO events (id, time, type, body, prev_hash, hash)"
	                              " VALUES ('e1', 1, 't', '{}', '00', '11')",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "UPDATE events SET body = 'x'", NULL, NULL, NULL),
	                     SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM events", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open_migrates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_urls, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crud, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_durable_across_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_events_append_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_staging, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_upgrade_from_schema_3, setup, teardown),
	};
	log_init("test_store", 1, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

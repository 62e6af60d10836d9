/* Unit tests for common/store: migrations on a new database and idempotent on reopen,
 * registrar CRUD, activation, and that what was committed survives close/reopen. SQLite by
 * default; PostgreSQL with VIGIL_TEST_STORE_URL set (store_testdb.h). */
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

#include "common/base/log.h"
#include "common/store/store.h"
#include "common/base/xmalloc.h"
#include "test/unit/store_testdb.h"

int main(void);

typedef struct fixture {
	char dir[64]; /* temp directory (for paths that must not exist) */
	tdb_t db;     /* the fresh database */
	char *url;    /* its store URL (db.url) */
} fixture_t;

static int setup(void **state)
{
	fixture_t *f = xcalloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/vigil-test-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL || tdb_create(&f->db, "store") < 0)
		return -1;
	f->url = f->db.url;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *f = *state;

	tdb_destroy(&f->db);
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
static int count_rows(const tdb_t *db, const char *table)
{
	char *sql = xasprintf("SELECT COUNT(*) FROM %s", table);
	int n = (int)tdb_value(db, sql);

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
	assert_int_equal(count_rows(&f->db, "schema_version"), store_schema_latest());
	s = store_open(f->url, &e);
	assert_non_null(s);
	store_close(s);
	assert_int_equal(count_rows(&f->db, "schema_version"), store_schema_latest());
	/* The verifier's tables exist (empty). */
	assert_int_equal(count_rows(&f->db, "nodes"), 0);
	assert_int_equal(count_rows(&f->db, "policies"), 0);
	assert_int_equal(count_rows(&f->db, "events"), 0);
	assert_int_equal(count_rows(&f->db, "webhook_outbox"), 0);
	assert_int_equal(count_rows(&f->db, "policy_names"), 0);
	assert_int_equal(count_rows(&f->db, "pool_members"), 0);
	/* Pending credentials are secrets: the file is private (PostgreSQL: the server's
	 * roles decide). */
	if (!f->db.pg) {
		assert_int_equal(stat(f->db.path, &sb), 0);
		assert_int_equal(sb.st_mode & 077, 0);
	}
}

static void test_bad_urls(void **state)
{
	fixture_t *f = *state;
	err_t e = {""};
	char *u;

	assert_null(store_open("", &e));
	assert_null(store_open("mysql://x", &e));
	assert_non_null(strstr(e.msg, "unknown scheme"));
	/* Nothing listens on port 1: the error names the server, never the password. */
	assert_null(store_open("postgresql://vigil:s3cret@127.0.0.1:1/vigil", &e));
	assert_non_null(strstr(e.msg, "127.0.0.1"));
	assert_null(strstr(e.msg, "s3cret"));
	assert_null(store_open("postgres://127.0.0.1:1/vigil?password=s3cret&user=x", &e));
	assert_null(strstr(e.msg, "s3cret"));
	assert_null(store_open("sqlite:", &e));
	u = xasprintf("sqlite:%s/no/such/dir/x.db", f->dir);
	assert_null(store_open(u, &e));
	free(u);
}

static void test_newer_schema_refused(void **state)
{
	fixture_t *f = *state;
	err_t e = {""};
	store_t *s = store_open(f->url, &e);

	assert_non_null(s);
	store_close(s);
	assert_int_equal(
	    tdb_exec(&f->db, "INSERT INTO schema_version (version, applied) VALUES (999, 0)"), 0);
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

/* Pages of enrollments: byte order whatever the backend's collation, full records without
 * the pending key, and a cursor that neither skips nor repeats when records come and go
 * between two pages. */
static void test_agent_pages(void **state)
{
	fixture_t *f = *state;
	err_t e = {""};
	store_t *s = store_open(f->url, &e);
	/* Byte order: upper case before lower case, '-' (0x2d) before '.' before digits
	 * before '_' (0x5f); a collation that ignores punctuation would put "a-c" after "ab". */
	static const char *const odd[] = {"B", "a-c", "a.b", "a0", "a_b", "ab"};
	store_agent_t *v;
	size_t n, seen = 0;
	char after[64] = "", id[64], last[64] = "";
	int nodd = (int)(sizeof(odd) / sizeof(odd[0]));

	assert_non_null(s);
	assert_int_equal(store_agent_list_page(s, NULL, 10, &v, &n, &e), STORE_OK);
	assert_int_equal(n, 0);
	store_agents_free(v, n);
	for (int i = 0; i < 25; i++) {
		snprintf(id, sizeof(id), "n%02d", i);
		store_agent_t a = sample(id);
		a.active = i % 2;
		assert_int_equal(store_agent_put(s, &a, &e), STORE_OK);
		store_agent_clear(&a);
	}
	for (int i = 0; i < nodd; i++) {
		store_agent_t a = sample(odd[i]);
		assert_int_equal(store_agent_put(s, &a, &e), STORE_OK);
		store_agent_clear(&a);
	}
	/* The odd names first (all sort before "n"), in byte order. */
	assert_int_equal(store_agent_list_page(s, "", (size_t)nodd, &v, &n, &e), STORE_OK);
	assert_int_equal(n, nodd);
	for (int i = 0; i < nodd; i++)
		assert_string_equal(v[i].agent_id, odd[i]);
	store_agents_free(v, n);

	/* The numbered ones in pages of 10: 10, 10, 5. Between the first two pages n03
	 * (already listed) and n15 (not yet) go away and n125 (not yet) and n005 (before the
	 * cursor) come in: the rest is listed exactly once, n125 too, n005 not. */
	snprintf(after, sizeof(after), "%s", odd[nodd - 1]);
	for (int page = 0; page < 4; page++) {
		assert_int_equal(store_agent_list_page(s, after, 10, &v, &n, &e), STORE_OK);
		assert_int_equal(n, page == 0 ? 10 : page == 1 ? 10 : page == 2 ? 5 : 0);
		for (size_t i = 0; i < n; i++) {
			assert_true(strcmp(v[i].agent_id, last) > 0);
			snprintf(last, sizeof(last), "%s", v[i].agent_id);
			assert_null(v[i].pending_key);
			assert_non_null(v[i].ek_tpm);
			assert_non_null(v[i].aik_tpm);
			assert_non_null(v[i].ekcert);
			assert_string_equal(v[i].ek_key,
			                    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b"
			                    "822cd15d6c15b0f00a08");
			assert_int_equal(v[i].port, 9002);
			assert_true(v[i].created > 0);
			assert_int_equal(v[i].active, strcmp(v[i].agent_id, "n125") == 0
			                                  ? 0
			                                  : atoi(v[i].agent_id + 1) % 2);
			assert_true(strcmp(v[i].agent_id, "n15") != 0 &&
			            strcmp(v[i].agent_id, "n005") != 0);
			seen++;
		}
		if (n)
			snprintf(after, sizeof(after), "%s", v[n - 1].agent_id);
		store_agents_free(v, n);
		if (page == 0) {
			store_agent_t a = sample("n125"), b = sample("n005");
			assert_string_equal(after, "n09");
			assert_int_equal(store_agent_delete(s, "n03", &e), STORE_OK);
			assert_int_equal(store_agent_delete(s, "n15", &e), STORE_OK);
			assert_int_equal(store_agent_put(s, &a, &e), STORE_OK);
			assert_int_equal(store_agent_put(s, &b, &e), STORE_OK);
			store_agent_clear(&a);
			store_agent_clear(&b);
		}
	}
	assert_int_equal(seen, 25); /* 25 - n15 + n125 */

	/* A cursor that names no record still starts right after where it would be. */
	assert_int_equal(store_agent_list_page(s, "n095", 2, &v, &n, &e), STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].agent_id, "n10");
	assert_string_equal(v[1].agent_id, "n11");
	store_agents_free(v, n);
	assert_int_equal(store_agent_list_page(s, NULL, 0, &v, &n, &e), STORE_ERROR);
	assert_null(v);
	store_agents_free(NULL, 0);
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
	assert_int_equal(count_rows(&f->db, "registrar_agents"), 1);
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
	assert_int_equal(count_rows(&f->db, "registrar_staged"), 1);
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
	assert_int_equal(count_rows(&f->db, "registrar_staged"), 1);

	/* Promoting a matching attempt moves its contact into the enrollment at once. */
	free(st.aik_tpm);
	st.aik_tpm = xstrdup(a.aik_tpm);
	assert_int_equal(store_agent_stage(s, &st, &e), STORE_OK);
	assert_int_equal(store_agent_promote(s, "node", &e), STORE_OK);
	assert_int_equal(count_rows(&f->db, "registrar_staged"), 0);
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
	assert_int_equal(count_rows(&f->db, "registrar_staged"), 0);

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
	store_t *s = store_open(f->url, &e);
	store_agent_t a = sample("old-node"), g;

	assert_non_null(s);
	assert_int_equal(store_agent_put(s, &a, &e), STORE_OK);
	assert_int_equal(store_agent_activate(s, "old-node", &e), STORE_OK);
	store_close(s);
	/* Back to what schema 3 looked like (without migrations 4 and 5). */
	assert_int_equal(tdb_exec(&f->db, "DROP TABLE audit_seals; DROP INDEX events_type;"
	                                  " DROP TABLE registrar_staged;"
	                                  " DROP INDEX registrar_agents_ek_key;"
	                                  " ALTER TABLE registrar_agents DROP COLUMN ek_key;"
	                                  " DROP INDEX webhook_outbox_order;"
	                                  " DROP INDEX webhook_outbox_dead;"
	                                  " ALTER TABLE webhook_outbox DROP COLUMN node_uuid;"
	                                  " ALTER TABLE webhook_outbox DROP COLUMN since;"
	                                  " ALTER TABLE webhook_outbox DROP COLUMN last_attempt;"
	                                  " ALTER TABLE webhook_outbox DROP COLUMN dead;"
	                                  " DROP INDEX nodes_lease_owner;"
	                                  " ALTER TABLE nodes DROP COLUMN lease_epoch;"
	                                  " ALTER TABLE pool_members DROP COLUMN stalled;"
	                                  " DELETE FROM schema_version WHERE version > 3"),
	                 0);
	/* PostgreSQL keeps the seals' trigger function beside the table. */
	if (f->db.pg)
		assert_int_equal(tdb_exec(&f->db, "DROP FUNCTION vigil_seals_append_only()"), 0);
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
	store_t *s = store_open(f->url, &e);

	assert_non_null(s);
	store_close(s);
	assert_int_equal(tdb_exec(&f->db,
	                          "INSERT INTO events (seq, id, time, type, body, prev_hash, hash)"
	                          " VALUES (1, 'e1', 1, 't', '{}', '00', '11')"),
	                 0);
	assert_int_not_equal(tdb_exec(&f->db, "UPDATE events SET body = 'x'"), 0);
	assert_int_not_equal(tdb_exec(&f->db, "DELETE FROM events"), 0);
	/* PostgreSQL's TRUNCATE skips row triggers: a statement trigger refuses it. */
	if (f->db.pg)
		assert_int_not_equal(tdb_exec(&f->db, "TRUNCATE events CASCADE"), 0);
	assert_int_equal(count_rows(&f->db, "events"), 1);
}

/* PostgreSQL: a connection the server dropped (a restart, a failover) fails the call that
 * finds it gone, and the next call runs on a new connection, prepared statements included. */
static void test_reconnect(void **state)
{
	fixture_t *f = *state;
	err_t e = {""};
	store_t *s;
	store_agent_t g;
	char sql[256], id[40];

	if (!f->db.pg) {
		print_message("skip: a dropped connection is a PostgreSQL case (SQLite has none); "
		              "t_store_pg runs it against a real server\n");
		skip();
	}
	s = store_open(f->url, &e);
	assert_non_null(s);
	assert_int_equal(store_event_append(s, NULL, "t", NULL, "{}", id, &e), STORE_OK);
	snprintf(sql, sizeof(sql),
	         "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s'",
	         f->db.name);
	assert_int_equal(tdb_admin(&f->db, sql), 0);
	assert_int_equal(store_agent_get(s, "x", &g, &e), STORE_ERROR);
	assert_int_equal(store_agent_get(s, "x", &g, &e), STORE_NOT_FOUND);
	assert_int_equal(store_event_append(s, NULL, "t", NULL, "{}", id, &e), STORE_OK);
	assert_int_equal(strncmp(id, "2-", 2), 0);
	store_close(s);
}

static void test_url_redact(void **state)
{
	static const char *const cases[][2] = {
	    {"sqlite:/var/lib/vigil/v.db", "sqlite:/var/lib/vigil/v.db"},
	    {"postgresql://vigil@/vigil?host=/run/postgresql",
	     "postgresql://vigil@/vigil?host=/run/postgresql"},
	    {"postgresql://vigil:pw@db.example:5432/vigil",
	     "postgresql://vigil:***@db.example:5432/vigil"},
	    {"postgres://u:p%40ss@[::1]/v?sslmode=require",
	     "postgres://u:***@[::1]/v?sslmode=require"},
	    {"postgresql://h/v?user=u&password=pw&sslmode=verify-full",
	     "postgresql://h/v?user=u&password=***&sslmode=verify-full"},
	    {"postgresql://h/v?password=pw", "postgresql://h/v?password=***"},
	    {"postgresql://h/v?xpassword=pw", "postgresql://h/v?xpassword=pw"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *r = store_url_redact(cases[i][0]);

		assert_string_equal(r, cases[i][1]);
		free(r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open_migrates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_urls, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crud, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_agent_pages, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_durable_across_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_events_append_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_staging, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_upgrade_from_schema_3, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reconnect, setup, teardown),
	    cmocka_unit_test(test_url_redact),
	};
	log_init("test_store", 1, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

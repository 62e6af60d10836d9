/* Unit tests for the verifier's part of common/store: nodes, named content-addressed
 * policies, and the hash-chained event log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/base/log.h"
#include "common/store/store.h"
#include "test/unit/store_testdb.h"

int main(void);

static tdb_t db;        /* the fresh database of this run (store_testdb.h) */
static const char *url; /* its store URL */

static int setup(void **state)
{
	(void)state;
	if (tdb_create(&db, "storev") < 0)
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

static void test_policies(void **state)
{
	err_t e = {""};
	store_policy_t p, *list;
	size_t n;
	store_t *s = store_open(url, &e);
	(void)state;
	assert_non_null(s);
	assert_int_equal(store_policy_put(s, "rt", "runtime", (const uint8_t *)"{}", 2, 0, &p, &e),
	                 STORE_OK);
	assert_string_equal(p.sha256,
	                    "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
	store_policy_clear(&p);
	/* Same content under another name: one body, two names. */
	assert_int_equal(
	    store_policy_put(s, "rt2", "runtime", (const uint8_t *)"{}", 2, 0, NULL, &e), STORE_OK);
	assert_int_equal(
	    store_policy_put(s, "rt", "runtime", (const uint8_t *)"{ }", 3, 0, NULL, &e),
	    STORE_EXISTS);
	assert_int_equal(
	    store_policy_put(s, "rt", "tpm_pcr", (const uint8_t *)"{ }", 3, 1, NULL, &e),
	    STORE_EXISTS);
	assert_int_equal(
	    store_policy_put(s, "rt", "runtime", (const uint8_t *)"{ }", 3, 1, NULL, &e), STORE_OK);
	assert_int_equal(store_policy_get(s, "rt", &p, &e), STORE_OK);
	assert_int_equal(p.body_len, 3);
	assert_memory_equal(p.body, "{ }", 3);
	store_policy_clear(&p);
	assert_int_equal(store_policy_list(s, "runtime", NULL, 0, &list, &n, &e), STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].name, "rt");
	assert_null(list[0].body);
	store_policies_free(list, n);
	/* Keyset pages by name: after a key, at most limit, the kind filter still applied. */
	assert_int_equal(
	    store_policy_put(s, "Zpcr", "tpm_pcr", (const uint8_t *)"{}", 2, 0, NULL, &e),
	    STORE_OK);
	assert_int_equal(store_policy_list(s, "runtime", "", 1, &list, &n, &e), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].name, "rt");
	store_policies_free(list, n);
	assert_int_equal(store_policy_list(s, "runtime", "rt", 5, &list, &n, &e), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].name, "rt2");
	store_policies_free(list, n);
	assert_int_equal(store_policy_list(s, "runtime", "rt2", 5, &list, &n, &e), STORE_OK);
	assert_int_equal(n, 0);
	store_policies_free(list, n);
	/* Byte order: "Z" (0x5a) sorts before "r" whatever the database's collation. */
	assert_int_equal(store_policy_list(s, NULL, "", 0, &list, &n, &e), STORE_OK);
	assert_int_equal(n, 3);
	assert_string_equal(list[0].name, "Zpcr");
	assert_string_equal(list[1].name, "rt");
	store_policies_free(list, n);
	assert_int_equal(store_policy_list(s, NULL, "Zpcr", 0, &list, &n, &e), STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].name, "rt");
	store_policies_free(list, n);
	assert_int_equal(store_policy_delete(s, "Zpcr", &e), STORE_OK);
	assert_int_equal(store_policy_list(s, "measured_boot", NULL, 0, &list, &n, &e), STORE_OK);
	assert_int_equal(n, 0);
	store_policies_free(list, n);
	assert_int_equal(store_policy_get(s, "nope", &p, &e), STORE_NOT_FOUND);
	assert_int_equal(store_policy_delete(s, "rt2", &e), STORE_OK);
	assert_int_equal(store_policy_delete(s, "rt2", &e), STORE_NOT_FOUND);
	store_close(s);
}

static void test_nodes(void **state)
{
	err_t e = {""};
	store_node_t n = {0}, got, *list;
	const store_node_t *save[1];
	size_t cnt;
	store_t *s = store_open(url, &e);
	(void)state;
	assert_non_null(s);
	n.uuid = "node-1";
	n.ak_tpm = "AAAA";
	n.ip = "127.0.0.1";
	n.port = 9002;
	n.runtime_policy = "rt";
	n.operational_state = 1;
	assert_int_equal(store_node_add(s, &n, &e), STORE_OK);
	assert_int_equal(store_node_add(s, &n, &e), STORE_EXISTS);
	n.uuid = "node-2";
	n.runtime_policy = "missing";
	assert_int_equal(store_node_add(s, &n, &e), STORE_NOT_FOUND);
	/* A policy in use cannot be deleted. */
	assert_int_equal(store_policy_delete(s, "rt", &e), STORE_IN_USE);
	assert_non_null(strstr(e.msg, "node-1"));
	/* Progress saves and reads back. */
	n.uuid = "node-1";
	n.runtime_policy = "rt";
	n.operational_state = 9;
	n.attestation_count = 42;
	n.last_event_id = "ima.validation.ima-ng.not_in_allowlist";
	n.failure_reason = "/usr/bin/evil not in the allowlist";
	n.ima_state = "ima1:sha256:826:0:00";
	n.ima_keys = ".ima 0a1b2c3d AAAA\n";
	n.has_clock = 1;
	n.tpm_clock = 123456;
	n.tpm_reset_count = 2;
	save[0] = &n;
	assert_int_equal(store_node_save(s, save, 1, NULL, &e), STORE_OK);
	store_close(s);
	s = store_open(url, &e);
	assert_int_equal(store_node_get(s, "node-1", &got, &e), STORE_OK);
	assert_int_equal(got.operational_state, 9);
	assert_int_equal(got.attestation_count, 42);
	assert_string_equal(got.ima_state, "ima1:sha256:826:0:00");
	assert_string_equal(got.ima_keys, ".ima 0a1b2c3d AAAA\n");
	assert_string_equal(got.runtime_policy, "rt");
	assert_int_equal(got.has_clock, 1);
	assert_int_equal(got.tpm_clock, 123456);
	assert_null(got.pcr_policy);
	store_node_clear(&got);
	/* UpdateNode: contact and policy names replaced in one write, fenced by the epoch,
	 * the progress untouched. */
	{
		store_node_t u = {0};
		assert_int_equal(
		    store_policy_put(s, "rt2", "runtime", (const uint8_t *)"{}", 2, 0, NULL, &e),
		    STORE_OK);
		u.uuid = "node-1";
		u.ip = "10.0.0.7";
		u.port = 9003;
		u.mtls_cert = "PEM2";
		u.pcr_policy = NULL;
		u.runtime_policy = "rt2";
		u.mb_policy = NULL;
		assert_int_equal(store_node_update(s, &u, 0, &e), STORE_OK);
		assert_int_equal(store_node_get(s, "node-1", &got, &e), STORE_OK);
		assert_string_equal(got.ip, "10.0.0.7");
		assert_int_equal(got.port, 9003);
		assert_string_equal(got.mtls_cert, "PEM2");
		assert_string_equal(got.runtime_policy, "rt2");
		assert_int_equal(got.attestation_count, 42);
		assert_string_equal(got.ima_state, "ima1:sha256:826:0:00");
		store_node_clear(&got);
		assert_int_equal(store_node_update(s, &u, 7, &e), STORE_FENCED);
		u.runtime_policy = "missing";
		assert_int_equal(store_node_update(s, &u, 0, &e), STORE_NOT_FOUND);
		assert_non_null(strstr(e.msg, "policy"));
		u.uuid = "node-9";
		u.runtime_policy = "rt";
		assert_int_equal(store_node_update(s, &u, -1, &e), STORE_NOT_FOUND);
		assert_non_null(strstr(e.msg, "node-9 not found"));
		u.uuid = "node-1";
		assert_int_equal(store_node_update(s, &u, -1, &e), STORE_OK);
		assert_int_equal(store_node_get(s, "node-1", &got, &e), STORE_OK);
		assert_string_equal(got.runtime_policy, "rt");
		store_node_clear(&got);
		assert_int_equal(store_policy_delete(s, "rt2", &e), STORE_OK);
	}
	assert_int_equal(store_node_list(s, &list, &cnt, &e), STORE_OK);
	assert_int_equal(cnt, 1);
	store_nodes_free(list, cnt);
	assert_int_equal(store_node_delete(s, "node-1", &e), STORE_OK);
	assert_int_equal(store_node_get(s, "node-1", &got, &e), STORE_NOT_FOUND);
	assert_int_equal(store_policy_delete(s, "rt", &e), STORE_OK);
	store_close(s);
}

/* V, a secure payload's key share: stored by add, read back by get, list and lease
 * claims, kept by a plain save, deleted by a save that forgets it (fenced like it). */
static void test_payload_v(void **state)
{
	char v_hex[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	err_t e = {""};
	store_node_t n = {0}, got, *list;
	const store_node_t *save[1] = {&n};
	int fenced[1];
	size_t cnt;
	store_t *s = store_open(url, &e);

	(void)state;
	assert_non_null(s);
	n.uuid = "node-v";
	n.ak_tpm = "AAAA";
	n.ip = "127.0.0.1";
	n.port = 9002;
	n.operational_state = 1;
	n.payload_v = v_hex; /* 32 bytes */
	assert_int_equal(store_node_add(s, &n, &e), STORE_OK);
	n.uuid = "node-nov";
	n.payload_v = NULL;
	assert_int_equal(store_node_add(s, &n, &e), STORE_OK);
	assert_int_equal(store_node_get(s, "node-v", &got, &e), STORE_OK);
	assert_string_equal(got.payload_v, v_hex);
	store_node_clear(&got);
	assert_int_equal(store_node_get(s, "node-nov", &got, &e), STORE_OK);
	assert_null(got.payload_v);
	store_node_clear(&got);
	assert_int_equal(store_node_list(s, &list, &cnt, &e), STORE_OK);
	assert_int_equal(cnt, 2);
	assert_string_equal(list[0].uuid, "node-nov");
	assert_null(list[0].payload_v);
	assert_string_equal(list[1].payload_v, v_hex);
	store_nodes_free(list, cnt);
	/* A progress save keeps it; a fenced one (wrong epoch) that forgets changes nothing;
	 * a save that forgets deletes it. */
	n.uuid = "node-v";
	n.attestation_count = 1;
	assert_int_equal(store_node_save(s, save, 1, NULL, &e), STORE_OK);
	assert_int_equal(store_node_get(s, "node-v", &got, &e), STORE_OK);
	assert_string_equal(got.payload_v, v_hex);
	store_node_clear(&got);
	n.payload_v_forget = 1;
	n.lease_epoch = 99;
	assert_int_equal(store_node_save(s, save, 1, fenced, &e), STORE_OK);
	assert_int_equal(fenced[0], 1);
	assert_int_equal(store_node_get(s, "node-v", &got, &e), STORE_OK);
	assert_non_null(got.payload_v);
	store_node_clear(&got);
	n.lease_epoch = 0;
	assert_int_equal(store_node_save(s, save, 1, fenced, &e), STORE_OK);
	assert_int_equal(fenced[0], 0);
	assert_int_equal(store_node_get(s, "node-v", &got, &e), STORE_OK);
	assert_null(got.payload_v);
	assert_int_equal(got.attestation_count, 1);
	store_node_clear(&got);
	assert_int_equal(store_node_delete(s, "node-v", &e), STORE_OK);
	assert_int_equal(store_node_delete(s, "node-nov", &e), STORE_OK);
	store_close(s);
}

static void test_events(void **state)
{
	err_t e = {""};
	char id[40];
	store_t *s = store_open(url, &e);
	(void)state;
	assert_non_null(s);
	for (int i = 0; i < 3; i++)
		assert_int_equal(store_event_append(s, "node-1", "revocation", "emergency",
		                                    "{\"reason\": \"x\"}", id, &e),
		                 STORE_OK);
	assert_int_equal(strncmp(id, "3-", 2), 0);
	/* A NULL body is refused, not hashed, and leaves the chain as it was. */
	assert_int_equal(store_event_append(s, "node-1", "revocation", "emergency", NULL, id, &e),
	                 STORE_ERROR);
	assert_int_equal(store_event_verify_chain(s, &e), STORE_OK);
	store_close(s);
	/* Updates are refused by the triggers; with them dropped, the chain shows the edit. */
	assert_int_not_equal(tdb_exec(&db, "UPDATE events SET body = '{}' WHERE seq = 2"), 0);
	assert_int_equal(tdb_exec(&db, db.pg ? "DROP TRIGGER events_no_update ON events;"
	                                       "UPDATE events SET body = '{}' WHERE seq = 2"
	                                     : "DROP TRIGGER events_no_update;"
	                                       "UPDATE events SET body = '{}' WHERE seq = 2"),
	                 0);
	s = store_open(url, &e);
	assert_int_equal(store_event_verify_chain(s, &e), STORE_ERROR);
	assert_string_equal(e.msg, "event chain broken at seq 2");
	store_close(s);
}

/* Several processes append to one chain at once (a verifier pool sharing a database; on
 * SQLite, several connections of one verifier): every append gets its own seq, each row's
 * prev_hash is the hash of the one before it, and the chain verifies after. Half of the
 * writers use the one-transaction event commit (with an outbox row), as the verifier does
 * for verdicts. */
static void test_concurrent_append(void **state)
{
	enum { WRITERS = 4, EACH = 100 };
	static const char *const hook[] = {"http://127.0.0.1:9/hook"};
	pid_t pids[WRITERS];
	err_t e = {""};
	store_t *s;
	int status;
	tdb_t cdb; /* a chain of its own: test_events leaves a broken one behind */

	(void)state;
	assert_int_equal(tdb_create(&cdb, "chain"), 0);
	/* Migrate first, so the writers race on appends rather than on the schema. */
	s = store_open(cdb.url, &e);
	assert_non_null(s);
	store_close(s);
	for (int w = 0; w < WRITERS; w++) {
		pids[w] = fork();
		assert_true(pids[w] >= 0);
		if (pids[w] == 0) {
			store_t *c = store_open(cdb.url, &e);
			char id[40], node[16];
			int bad = c == NULL;

			snprintf(node, sizeof(node), "writer-%d", w);
			for (int i = 0; i < EACH && !bad; i++)
				bad =
				    (w % 2 ? store_event_commit(c, NULL, node, "comm_error", NULL,
				                                "{\"n\": 1}", hook, 1, id, NULL, &e)
				           : store_event_append(c, node, "revocation", "emergency",
				                                "{\"n\": 2}", id, &e)) != STORE_OK;
			if (bad)
				fprintf(stderr, "# writer %d: %s\n", w, e.msg);
			store_close(c);
			_exit(bad);
		}
	}
	for (int w = 0; w < WRITERS; w++) {
		assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	s = store_open(cdb.url, &e);
	assert_non_null(s);
	assert_int_equal(store_event_verify_chain(s, &e), STORE_OK);
	store_close(s);
	assert_int_equal(
	    tdb_value(&cdb, "SELECT COUNT(*) FROM events WHERE node_uuid LIKE 'writer-%'"),
	    WRITERS * EACH);
	/* No gaps: the newest seq is the number of rows. */
	assert_int_equal(tdb_value(&cdb, "SELECT MAX(seq) - COUNT(*) FROM events"), 0);
	assert_int_equal(tdb_value(&cdb, "SELECT COUNT(*) FROM webhook_outbox"),
	                 WRITERS / 2 * EACH);
	tdb_destroy(&cdb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_policies),          cmocka_unit_test(test_nodes),
	    cmocka_unit_test(test_payload_v),         cmocka_unit_test(test_events),
	    cmocka_unit_test(test_concurrent_append),
	};
	log_init("test_store_verifier", 1, 0);
	return cmocka_run_group_tests(tests, setup, teardown);
}

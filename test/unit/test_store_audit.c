/* Unit tests for the audit part of common/store: listing and reading events, seals
 * (append, list, last), and a log written by the store exporting and verifying with
 * common/store/audit.c, so the store and vigilctl agree on the hashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/store/audit.h"
#include "common/store/store.h"
#include "test/unit/store_testdb.h"

int main(void);

typedef struct fixture {
	tdb_t db;   /* the fresh database (store_testdb.h) */
	store_t *s; /* open store */
} fixture_t;

static int setup(void **state)
{
	fixture_t *f = xcalloc(1, sizeof(*f));
	err_t e = {""};

	*state = f;
	if (tdb_create(&f->db, "storea") < 0)
		return -1;
	f->s = store_open(f->db.url, &e);
	return f->s ? 0 : -1;
}

static int teardown(void **state)
{
	fixture_t *f = *state;

	store_close(f->s);
	tdb_destroy(&f->db);
	free(f);
	return 0;
}

/* Six events: nodes a, b, a, -, b, a with types revocation / comm_error alternating. */
static void fill(store_t *s, char ids[6][40])
{
	static const char *const nodes[6] = {"a", "b", "a", NULL, "b", "a"};
	err_t e = {""};

	for (int i = 0; i < 6; i++) {
		char body[32];
		snprintf(body, sizeof(body), "{\"n\":%d}", i + 1);
		assert_int_equal(store_event_append(s, nodes[i],
		                                    i % 2 ? "comm_error" : "revocation",
		                                    i == 4 ? NULL : "emergency", body, ids[i], &e),
		                 STORE_OK);
	}
}

static void test_event_list_get(void **state)
{
	fixture_t *f = *state;
	char ids[6][40];
	store_event_t *v, ev;
	store_event_filter_t flt = {NULL, NULL, 0, 0, 0};
	size_t n;
	err_t e = {""};

	assert_int_equal(store_event_last(f->s, &ev, &e), STORE_NOT_FOUND);
	fill(f->s, ids);
	assert_int_equal(store_event_list(f->s, NULL, &v, &n, &e), STORE_OK);
	assert_int_equal(n, 6);
	for (size_t i = 0; i < n; i++) {
		char h[65];
		assert_int_equal(v[i].seq, (int64_t)i + 1);
		assert_string_equal(v[i].id, ids[i]);
		audit_event_hash(&v[i], h);
		assert_string_equal(h, v[i].hash);
		if (i > 0)
			assert_string_equal(v[i].prev_hash, v[i - 1].hash);
	}
	assert_null(v[3].node_uuid);
	assert_null(v[4].severity);
	store_events_free(v, n);

	flt.node_uuid = "a";
	assert_int_equal(store_event_list(f->s, &flt, &v, &n, &e), STORE_OK);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].seq, 1);
	assert_int_equal(v[2].seq, 6);
	store_events_free(v, n);
	flt.type = "revocation"; /* a's revocations: 1 and 3 */
	flt.after_seq = 1;
	assert_int_equal(store_event_list(f->s, &flt, &v, &n, &e), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].seq, 3);
	store_events_free(v, n);
	memset(&flt, 0, sizeof(flt));
	flt.after_seq = 2;
	flt.limit = 2;
	assert_int_equal(store_event_list(f->s, &flt, &v, &n, &e), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].seq, 3);
	assert_int_equal(v[1].seq, 4);
	store_events_free(v, n);
	memset(&flt, 0, sizeof(flt)); /* a's newest two (1, 3, 6): 3 and 6, still ascending */
	flt.node_uuid = "a";
	flt.limit = 2;
	flt.newest = 1;
	assert_int_equal(store_event_list(f->s, &flt, &v, &n, &e), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].seq, 3);
	assert_int_equal(v[1].seq, 6);
	store_events_free(v, n);

	assert_int_equal(store_event_get(f->s, ids[4], &ev, &e), STORE_OK);
	assert_int_equal(ev.seq, 5);
	assert_string_equal(ev.body, "{\"n\":5}");
	store_event_clear(&ev);
	assert_int_equal(store_event_get(f->s, "5-0000000000000000", &ev, &e), STORE_NOT_FOUND);
	assert_string_equal(e.msg, "event 5-0000000000000000 not found");
	assert_int_equal(store_event_last(f->s, &ev, &e), STORE_OK);
	assert_int_equal(ev.seq, 6);
	store_event_clear(&ev);
}

static void test_seals(void **state)
{
	fixture_t *f = *state;
	char ids[6][40];
	store_seal_t s, *v;
	store_event_t ev;
	size_t n;
	err_t e = {""};

	fill(f->s, ids);
	assert_int_equal(store_seal_last(f->s, &s, &e), STORE_NOT_FOUND);
	for (int64_t seq = 2; seq <= 6; seq += 2) {
		assert_int_equal(store_event_get(f->s, ids[seq - 1], &ev, &e), STORE_OK);
		memset(&s, 0, sizeof(s));
		s.seq = seq;
		memcpy(s.hash, ev.hash, 65);
		s.time = 1000 * seq;
		memset(s.key_id, 'b', 64);
		s.sig = xstrdup("AAAA");
		assert_int_equal(store_seal_append(f->s, &s, &e), STORE_OK);
		assert_int_equal(store_seal_append(f->s, &s, &e), STORE_EXISTS);
		store_seal_clear(&s);
		store_event_clear(&ev);
	}
	/* No record 9 to seal. */
	memset(&s, 0, sizeof(s));
	s.seq = 9;
	memset(s.hash, 'a', 64);
	memset(s.key_id, 'b', 64);
	s.sig = "AAAA";
	assert_int_equal(store_seal_append(f->s, &s, &e), STORE_NOT_FOUND);
	assert_int_equal(store_seal_list(f->s, 0, 0, &v, &n, &e), STORE_OK);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].seq, 2);
	assert_int_equal(v[2].seq, 6);
	assert_string_equal(v[2].sig, "AAAA");
	store_seals_free(v, n);
	assert_int_equal(store_seal_list(f->s, 2, 4, &v, &n, &e), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].seq, 4);
	store_seals_free(v, n);
	assert_int_equal(store_seal_last(f->s, &s, &e), STORE_OK);
	assert_int_equal(s.seq, 6);
	assert_int_equal(s.time, 6000);
	store_seal_clear(&s);
	/* Seals are append-only. */
	assert_int_not_equal(tdb_exec(&f->db, "DELETE FROM audit_seals"), 0);
	assert_int_not_equal(tdb_exec(&f->db, "UPDATE audit_seals SET time = 0"), 0);
	if (f->db.pg)
		assert_int_not_equal(tdb_exec(&f->db, "TRUNCATE audit_seals"), 0);
	assert_int_equal(tdb_value(&f->db, "SELECT COUNT(*) FROM audit_seals"), 3);
}

static void test_store_export_verifies(void **state)
{
	fixture_t *f = *state;
	char ids[6][40], dir[] = "/tmp/vigil-test-storea-XXXXXX", kpath[64], *pem;
	store_event_t *v;
	store_seal_t s, *seals;
	size_t n, ns, k = 0;
	buf_t out = BUF_INIT;
	audit_result_t r;
	EVP_PKEY *key;
	err_t e = {""};
	int created;

	assert_non_null(mkdtemp(dir));
	snprintf(kpath, sizeof(kpath), "%s/audit.key", dir);
	key = audit_key_load_or_create(kpath, &created, &e);
	assert_non_null(key);
	fill(f->s, ids);
	assert_int_equal(store_event_list(f->s, NULL, &v, &n, &e), STORE_OK);
	memset(&s, 0, sizeof(s));
	s.seq = 4;
	memcpy(s.hash, v[3].hash, 65);
	s.time = 123;
	assert_int_equal(audit_seal_sign(key, &s, &e), 0);
	assert_int_equal(store_seal_append(f->s, &s, &e), STORE_OK);
	store_seal_clear(&s);
	assert_int_equal(store_seal_list(f->s, 0, 0, &seals, &ns, &e), STORE_OK);

	pem = audit_key_public_pem(key);
	audit_export_header(pem, seals[0].key_id, 1, &out);
	for (size_t i = 0; i < n; i++) {
		audit_export_record(&v[i], &out);
		if (k < ns && seals[k].seq == v[i].seq)
			audit_export_seal(&seals[k++], &out);
	}
	assert_int_equal(audit_verify_export(out.data, out.len, pem, &r), AUDIT_INTACT);
	assert_int_equal(r.records, 6);
	assert_int_equal(r.seals, 1);
	assert_int_equal(r.last_sealed, 4);

	free(pem);
	buf_free(&out);
	store_events_free(v, n);
	store_seals_free(seals, ns);
	EVP_PKEY_free(key);
	unlink(kpath);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_event_list_get, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_seals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_store_export_verifies, setup, teardown),
	};
	log_init("test_store_audit", 1, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

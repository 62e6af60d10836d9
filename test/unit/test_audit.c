/* Unit tests for common/store/audit: a recorded chain (test/unit/data/audit/make-chain.sh,
 * written independently of audit.c) verifies, and each kind of tampering is named at its
 * first broken link; seals sign and verify with a generated key; the line decoder is
 * strict. */
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

#include "common/base/buf.h"
#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/store/audit.h"

int main(void);

#define MAXL 32

static char *lines[MAXL]; /* the recorded chain's lines, without newlines */
static size_t nlines;
static buf_t key_pem, other_pem;

static void read_data(buf_t *b, const char *name)
{
	char path[512];
	const char *top = getenv("TOP");

	snprintf(path, sizeof(path), "%s%stest/unit/data/audit/%s", top ? top : "", top ? "/" : "",
	         name);
	if (buf_read_file(b, path, 1 << 20) < 0)
		fail_msg("cannot read %s", path);
	buf_append(b, "", 1); /* NUL-terminated text */
	b->len--;
}

static int setup(void **state)
{
	buf_t b = BUF_INIT;
	char *p, *nl;

	(void)state;
	read_data(&b, "chain.jsonl");
	read_data(&key_pem, "key.pub.pem");
	read_data(&other_pem, "other.pub.pem");
	for (p = (char *)b.data; *p && nlines < MAXL; p = nl + 1) {
		nl = strchr(p, '\n');
		lines[nlines++] = xstrndup(p, (size_t)(nl - p));
	}
	buf_free(&b);
	return nlines == 15 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < nlines; i++)
		free(lines[i]);
	buf_free(&key_pem);
	buf_free(&other_pem);
	return 0;
}

/* Verify the lines v[0..n-1] joined with newlines, with key (NULL: the export's). */
static audit_verdict_t verify(char **v, size_t n, const char *key, audit_result_t *r)
{
	buf_t b = BUF_INIT;
	audit_verdict_t rv;

	for (size_t i = 0; i < n; i++) {
		buf_append_str(&b, v[i]);
		buf_append(&b, "\n", 1);
	}
	rv = audit_verify_export(b.data, b.len, key, r);
	buf_free(&b);
	return rv;
}

/* A copy of the recorded lines to tamper with. */
static size_t copy_lines(char **v)
{
	memcpy(v, lines, nlines * sizeof(*v));
	return nlines;
}

static void assert_broken(char **v, size_t n, const char *key, const char *want1, const char *want2)
{
	audit_result_t r;

	assert_int_equal(verify(v, n, key, &r), AUDIT_BROKEN);
	if (strstr(r.what, want1) == NULL || strstr(r.what, want2) == NULL)
		fail_msg("got \"%s\", wanted \"%s\" ... \"%s\"", r.what, want1, want2);
}

static void test_recorded_chain_intact(void **state)
{
	audit_result_t r;
	char *v[MAXL];
	size_t n = copy_lines(v);

	(void)state;
	assert_int_equal(verify(v, n, (const char *)key_pem.data, &r), AUDIT_INTACT);
	assert_int_equal(r.records, 12);
	assert_int_equal(r.seals, 2);
	assert_int_equal(r.last_seq, 12);
	assert_int_equal(r.last_sealed, 10);
	assert_int_equal(r.key_from_export, 0);
	/* With the key in the export's header. */
	assert_int_equal(verify(v, n, NULL, &r), AUDIT_INTACT);
	assert_int_equal(r.key_from_export, 1);
	/* The key id is the one the header (written by Python) names. */
	assert_int_equal(strlen(r.key_id), 64);
	assert_non_null(strstr(lines[0], r.key_id));
}

static void test_record_edited(void **state)
{
	char *v[MAXL], *edited = xstrdup(lines[8]); /* record 7 */
	size_t n = copy_lines(v);
	char *p = strstr(edited, "reason 7");

	(void)state;
	assert_non_null(p);
	p[7] = '9';
	v[8] = edited;
	assert_broken(v, n, (const char *)key_pem.data, "record 7 (id 7-",
	              "content does not match its hash: edited");
	free(edited);
}

static void test_record_removed(void **state)
{
	char *v[MAXL];
	size_t n = copy_lines(v);

	(void)state;
	/* Line 3 holds record 3. */
	memmove(&v[3], &v[4], (n - 4) * sizeof(*v));
	assert_broken(v, n - 1, (const char *)key_pem.data, "record 4 (id 4-",
	              "record 3 before it is missing: removed");
}

static void test_records_reordered(void **state)
{
	char *v[MAXL], *t;
	size_t n = copy_lines(v);

	(void)state;
	t = v[8]; /* records 7 and 8 */
	v[8] = v[9];
	v[9] = t;
	assert_broken(v, n, (const char *)key_pem.data, "record 8 (id 8-",
	              "comes before record 7 (id 7-");
	assert_broken(v, n, (const char *)key_pem.data, "", "reordered");
}

static void test_record_inserted(void **state)
{
	char *v[MAXL];
	size_t n = copy_lines(v);

	(void)state;
	/* Record 7 again right after itself. */
	memmove(&v[10], &v[9], (n - 9) * sizeof(*v));
	v[9] = v[8];
	assert_broken(v, n + 1, (const char *)key_pem.data, "record 7 (id 7-",
	              "a second record 7 after the one with id 7-");
	assert_broken(v, n + 1, (const char *)key_pem.data, "", "inserted");
}

static void test_record_replaced(void **state)
{
	/* A forged record 3 whose own hash is right (recomputed after the edit) but which
	 * record 4 does not chain to. */
	char *v[MAXL], *forged;
	size_t n = copy_lines(v);
	audit_line_t l;
	buf_t b = BUF_INIT;
	err_t e = {""};

	(void)state;
	assert_int_equal(audit_line_decode(lines[3], strlen(lines[3]), &l, &e), 0);
	free(l.ev.body);
	l.ev.body = xstrdup("{\"forged\":true}");
	audit_event_hash(&l.ev, l.ev.hash);
	audit_event_id(l.ev.seq, l.ev.hash, l.ev.id);
	audit_export_record(&l.ev, &b);
	forged = xstrndup((const char *)b.data, b.len - 1);
	v[3] = forged;
	assert_broken(v, n, (const char *)key_pem.data, "record 4 (id 4-",
	              "does not match record 3");
	free(forged);
	buf_free(&b);
	audit_line_clear(&l);
}

static void test_seal_flipped(void **state)
{
	char *v[MAXL], *bad = xstrdup(lines[6]); /* the seal of record 5 */
	size_t n = copy_lines(v);
	char *p = strstr(bad, "\"sig\":\"");

	(void)state;
	assert_non_null(p);
	p += 20;
	*p = *p == 'A' ? 'B' : 'A';
	v[6] = bad;
	assert_broken(v, n, (const char *)key_pem.data, "seal at seq 5", "bad seal");
	free(bad);
}

static void test_seal_other_key(void **state)
{
	char *v[MAXL];
	size_t n = copy_lines(v);
	audit_result_t r;

	(void)state;
	assert_broken(v, n, (const char *)other_pem.data, "seal at seq 5", "bad key");
	/* No key at all: the seals cannot be checked, which is not "intact". */
	assert_int_equal(verify(v + 1, n - 1, NULL, &r), AUDIT_UNUSABLE);
	assert_non_null(strstr(r.what, "no key"));
}

static void test_sealed_record_removed(void **state)
{
	char *v[MAXL];
	size_t n = copy_lines(v);

	(void)state;
	/* Records 10, 11 and 12 gone, the seal of 10 kept: the tail was cut. */
	v[11] = v[12];
	assert_broken(v, 12, (const char *)key_pem.data, "seal at seq 10",
	              "record 10 it covers is not in the export: removed");
	(void)n;
}

static void test_bad_lines(void **state)
{
	static const char *const bad[] = {
	    "",
	    "[]",
	    "{\"kind\":\"record\"}",
	    "{\"kind\":\"nope\"}",
	    "{\"kind\":\"seal\",\"seq\":1,\"hash\":\"00\",\"time\":1,\"key_id\":\"00\",\"sig\":"
	    "\"\"}",
	    "{\"kind\":\"seal\",\"seq\":0,\"hash\":\"" /* seq 0 */
	    "0000000000000000000000000000000000000000000000000000000000000000\",\"time\":1,"
	    "\"key_id\":\"0000000000000000000000000000000000000000000000000000000000000000\","
	    "\"sig\":\"\"}",
	    "{\"kind\":\"header\",\"format\":\"x\",\"version\":1,\"key\":null,\"key_id\":null,"
	    "\"exported\":0}",
	};
	audit_line_t l;
	err_t e = {""};
	char *nul;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(audit_line_decode(bad[i], strlen(bad[i]), &l, &e), -1);
		assert_true(e.msg[0] != '\0');
	}
	/* A NUL inside a string, and an extra member. */
	nul = xstrdup(lines[1]);
	memcpy(strstr(nul, "reason"), "\\u0000", 6);
	assert_int_equal(audit_line_decode(nul, strlen(nul), &l, &e), -1);
	free(nul);
	nul = xasprintf("{\"x\":1,%s", lines[1] + 1);
	assert_int_equal(audit_line_decode(nul, strlen(nul), &l, &e), -1);
	free(nul);
	/* A record decodes with every field. */
	assert_int_equal(audit_line_decode(lines[1], strlen(lines[1]), &l, &e), 0);
	assert_int_equal(l.kind, AUDIT_LINE_RECORD);
	assert_int_equal(l.ev.seq, 1);
	assert_string_equal(l.ev.type, "comm_error");
	audit_line_clear(&l);
}

static void test_key_and_seal(void **state)
{
	char dir[] = "/tmp/vigil-test-audit-XXXXXX", path[64];
	EVP_PKEY *k, *k2, *pub;
	store_seal_t s;
	struct stat sb;
	err_t e = {""};
	char *pem;
	int created;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/audit.key", dir);
	k = audit_key_load_or_create(path, &created, &e);
	assert_non_null(k);
	assert_int_equal(created, 1);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	k2 = audit_key_load_or_create(path, &created, &e);
	assert_non_null(k2);
	assert_int_equal(created, 0);
	assert_int_equal(EVP_PKEY_eq(k, k2), 1);

	memset(&s, 0, sizeof(s));
	s.seq = 5;
	memset(s.hash, 'a', 64);
	s.time = 1767225000000;
	assert_int_equal(audit_seal_sign(k, &s, &e), 0);
	pem = audit_key_public_pem(k2);
	pub = audit_key_from_pem(pem, strlen(pem), &e);
	assert_non_null(pub);
	assert_int_equal(audit_seal_verify(pub, &s, &e), 0);
	s.time++;
	assert_int_equal(audit_seal_verify(pub, &s, &e), -1);
	assert_null(audit_key_from_pem("nope", 4, &e));

	store_seal_clear(&s);
	free(pem);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_recorded_chain_intact), cmocka_unit_test(test_record_edited),
	    cmocka_unit_test(test_record_removed),        cmocka_unit_test(test_records_reordered),
	    cmocka_unit_test(test_record_inserted),       cmocka_unit_test(test_record_replaced),
	    cmocka_unit_test(test_seal_flipped),          cmocka_unit_test(test_seal_other_key),
	    cmocka_unit_test(test_sealed_record_removed), cmocka_unit_test(test_bad_lines),
	    cmocka_unit_test(test_key_and_seal),
	};

	log_init("test_audit", 1, 0);
	return cmocka_run_group_tests(tests, setup, teardown);
}

/* Unit tests for the quote request parsing (common/evidence/quotes_query; docs/wire.md
 * §2.1: nonce, mask, partial, ima_ml_entry, each strict) and the IMA list slicing (§2.2:
 * entry offsets, restart at 0 past the end, empty at exactly the end). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/evidence/quotes_query.h"

int main(void);

static int parse_i(const char *qs, quotes_query_t *q)
{
	err_t e = {""};
	int rv = quotes_query_parse(qs, QUOTES_INTEGRITY, q, &e);
	if (rv < 0)
		assert_true(e.msg[0] != '\0'); /* every refusal says why */
	return rv;
}

static void test_verifier_query(void **state)
{
	quotes_query_t q;

	(void)state;
	/* Exactly what a Keylime verifier sends. */
	assert_int_equal(
	    parse_i("nonce=aBcDeFgHiJ0123456789&mask=0x408400&partial=0&ima_ml_entry=826", &q), 0);
	assert_string_equal(q.nonce, "aBcDeFgHiJ0123456789");
	assert_int_equal(q.nonce_len, 20);
	assert_int_equal(q.mask, 0x408400);
	assert_int_equal(q.partial, 0);
	assert_int_equal(q.has_entry, 1);
	assert_int_equal(q.ima_ml_entry, 826);
	/* Any order, unknown parameters and empty pairs ignored, ima_ml_entry optional. */
	assert_int_equal(parse_i("&partial=1&x=%zz&mask=408400&&nonce=Z&vmask=0x1", &q), 0);
	assert_string_equal(q.nonce, "Z");
	assert_int_equal(q.mask, 0x408400);
	assert_int_equal(q.partial, 1);
	assert_int_equal(q.has_entry, 0);
	assert_int_equal(q.ima_ml_entry, 0);
}

static void test_nonce(void **state)
{
	char qs[200], n65[66];
	quotes_query_t q;

	(void)state;
	memset(n65, 'a', 65);
	n65[65] = '\0';
	snprintf(qs, sizeof(qs), "nonce=%.64s&mask=0x1&partial=0", n65);
	assert_int_equal(parse_i(qs, &q), 0);
	assert_int_equal(q.nonce_len, 64);
	snprintf(qs, sizeof(qs), "nonce=%s&mask=0x1&partial=0", n65);
	assert_int_equal(parse_i(qs, &q), -1);
	assert_int_equal(parse_i("nonce=&mask=0x1&partial=0", &q), -1);
	assert_int_equal(parse_i("nonce&mask=0x1&partial=0", &q), -1);
	assert_int_equal(parse_i("mask=0x1&partial=0", &q), -1);
	assert_int_equal(parse_i("nonce=ab-c&mask=0x1&partial=0", &q), -1);
	assert_int_equal(parse_i("nonce=ab%41&mask=0x1&partial=0", &q), -1);
	assert_int_equal(parse_i("nonce=ab+c&mask=0x1&partial=0", &q), -1);
	assert_int_equal(parse_i("nonce=ab c&mask=0x1&partial=0", &q), -1);
	assert_int_equal(parse_i("nonce=\xc3\xa9&mask=0x1&partial=0", &q), -1);
	assert_int_equal(parse_i("nonce=a&nonce=a&mask=0x1&partial=0", &q), -1);
	assert_int_equal(parse_i("nonce=a=b&mask=0x1&partial=0", &q), -1);
}

static void test_mask(void **state)
{
	quotes_query_t q;
	static const struct {
		const char *mask;
		long want; /* -1: refused */
	} cases[] = {
	    {"0x0", 0},
	    {"0", 0},
	    {"0x1", 1},
	    {"0X1", 1},
	    {"0xffffff", 0xffffff},
	    {"FFFFFF", 0xffffff},
	    {"0x408400", 0x408400},
	    {"0x0000000000408400", 0x408400}, /* 16 digits */
	    {"0x00000000004084000", -1},      /* 17 digits */
	    {"0x1000000", -1},                /* PCR 24 */
	    {"0xffffffff", -1},
	    {"0xffffffffffffffff", -1},
	    {"0x", -1},
	    {"", -1},
	    {"x1", -1},
	    {"0x0x1", -1},
	    {"-1", -1},
	    {"+1", -1},
	    {"0x1g", -1},
	    {" 1", -1},
	    {"1 ", -1},
	};
	char qs[128];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(qs, sizeof(qs), "nonce=a&mask=%s&partial=0", cases[i].mask);
		if (cases[i].want < 0) {
			assert_int_equal(parse_i(qs, &q), -1);
		} else {
			assert_int_equal(parse_i(qs, &q), 0);
			assert_int_equal(q.mask, cases[i].want);
		}
	}
	assert_int_equal(parse_i("nonce=a&partial=0", &q), -1);
	assert_int_equal(parse_i("nonce=a&mask=1&mask=1&partial=0", &q), -1);
}

static void test_partial(void **state)
{
	quotes_query_t q;

	(void)state;
	assert_int_equal(parse_i("nonce=a&mask=1&partial=0", &q), 0);
	assert_int_equal(q.partial, 0);
	assert_int_equal(parse_i("nonce=a&mask=1&partial=1", &q), 0);
	assert_int_equal(q.partial, 1);
	assert_int_equal(parse_i("nonce=a&mask=1", &q), -1);
	assert_int_equal(parse_i("nonce=a&mask=1&partial=", &q), -1);
	assert_int_equal(parse_i("nonce=a&mask=1&partial=2", &q), -1);
	assert_int_equal(parse_i("nonce=a&mask=1&partial=00", &q), -1);
	assert_int_equal(parse_i("nonce=a&mask=1&partial=true", &q), -1);
	assert_int_equal(parse_i("nonce=a&mask=1&partial=0&partial=0", &q), -1);
}

static void test_entry(void **state)
{
	quotes_query_t q;

	(void)state;
	assert_int_equal(parse_i("nonce=a&mask=1&partial=0&ima_ml_entry=0", &q), 0);
	assert_int_equal(q.has_entry, 1);
	assert_int_equal(q.ima_ml_entry, 0);
	assert_int_equal(parse_i("nonce=a&mask=1&partial=0&ima_ml_entry=1000000000000", &q), 0);
	assert_int_equal(q.ima_ml_entry, QUOTES_ENTRY_MAX);
	assert_int_equal(parse_i("nonce=a&mask=1&partial=0&ima_ml_entry=0010", &q), 0);
	assert_int_equal(q.ima_ml_entry, 10);
	assert_int_equal(parse_i("nonce=a&mask=1&partial=0&ima_ml_entry=1000000000001", &q), -1);
	assert_int_equal(parse_i("nonce=a&mask=1&partial=0&ima_ml_entry=99999999999999", &q), -1);
	assert_int_equal(parse_i("nonce=a&mask=1&partial=0&ima_ml_entry=18446744073709551617", &q),
	                 -1);
	assert_int_equal(parse_i("nonce=a&mask=1&partial=0&ima_ml_entry=", &q), -1);
	assert_int_equal(parse_i("nonce=a&mask=1&partial=0&ima_ml_entry", &q), -1);
	assert_int_equal(parse_i("nonce=a&mask=1&partial=0&ima_ml_entry=-1", &q), -1);
	assert_int_equal(parse_i("nonce=a&mask=1&partial=0&ima_ml_entry=+1", &q), -1);
	assert_int_equal(parse_i("nonce=a&mask=1&partial=0&ima_ml_entry=0x10", &q), -1);
	assert_int_equal(parse_i("nonce=a&mask=1&partial=0&ima_ml_entry=1&ima_ml_entry=1", &q), -1);
}

static void test_identity(void **state)
{
	quotes_query_t q;
	err_t e = {""};

	(void)state;
	assert_int_equal(quotes_query_parse("nonce=abc", QUOTES_IDENTITY, &q, &e), 0);
	assert_string_equal(q.nonce, "abc");
	assert_int_equal(q.mask, 0);
	/* The integrity parameters mean nothing here, whatever they hold. */
	assert_int_equal(quotes_query_parse("nonce=abc&mask=zz&partial=7&ima_ml_entry=x",
	                                    QUOTES_IDENTITY, &q, &e),
	                 0);
	assert_int_equal(q.mask, 0);
	assert_int_equal(q.has_entry, 0);
	assert_int_equal(quotes_query_parse("nonce=a_c", QUOTES_IDENTITY, &q, &e), -1);
	assert_int_equal(quotes_query_parse("", QUOTES_IDENTITY, &q, &e), -1);
	assert_int_equal(quotes_query_parse(NULL, QUOTES_IDENTITY, &q, &e), -1);
	assert_int_equal(quotes_query_parse("nonce=a&nonce=b", QUOTES_IDENTITY, &q, &e), -1);
}

static void test_query_too_long(void **state)
{
	char *qs = malloc(QUOTES_QUERY_MAX + 2);
	quotes_query_t q;

	(void)state;
	strcpy(qs, "nonce=a&mask=1&partial=0&");
	memset(qs + strlen(qs), 'x', QUOTES_QUERY_MAX + 1 - strlen(qs));
	qs[QUOTES_QUERY_MAX + 1] = '\0';
	assert_int_equal(parse_i(qs, &q), -1);
	qs[QUOTES_QUERY_MAX] = '\0';
	assert_int_equal(parse_i(qs, &q), 0);
	free(qs);
}

static void slice(const char *text, uint64_t entry, size_t want_off, uint64_t want_started)
{
	uint64_t started = 12345;
	assert_int_equal(quotes_ima_slice(text, strlen(text), entry, &started), want_off);
	assert_int_equal(started, want_started);
}

static void test_ima_slice(void **state)
{
	(void)state;
	/* Three lines of 4 bytes each. */
	slice("aaa\nbbb\nccc\n", 0, 0, 0);
	slice("aaa\nbbb\nccc\n", 1, 4, 1);
	slice("aaa\nbbb\nccc\n", 2, 8, 2);
	slice("aaa\nbbb\nccc\n", 3, 12, 3); /* exactly the number of lines: "" */
	slice("aaa\nbbb\nccc\n", 4, 0, 0);  /* past the end: the whole list */
	slice("aaa\nbbb\nccc\n", QUOTES_ENTRY_MAX, 0, 0);
	/* A last line without its newline is a line. */
	slice("aaa\nbbb", 1, 4, 1);
	slice("aaa\nbbb", 2, 7, 2);
	slice("aaa\nbbb", 3, 0, 0);
	/* Empty lines count. */
	slice("\n\n", 1, 1, 1);
	slice("\n\n", 2, 2, 2);
	slice("\n\n", 3, 0, 0);
	/* An empty list: entry 0 is its end, anything else restarts at 0. */
	slice("", 0, 0, 0);
	slice("", 1, 0, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_verifier_query), cmocka_unit_test(test_nonce),
	    cmocka_unit_test(test_mask),           cmocka_unit_test(test_partial),
	    cmocka_unit_test(test_entry),          cmocka_unit_test(test_identity),
	    cmocka_unit_test(test_query_too_long), cmocka_unit_test(test_ima_slice),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

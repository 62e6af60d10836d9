/* test_verifier_answer: verifier/answer.c, the one-pass reader of an agent's quote answer.
 * Differential: over every answer of the fuzz corpora (recorded answers of the loadgen and
 * the test vectors, and hostile JSON), it must refuse what jansson with
 * JSON_REJECT_DUPLICATES refused and read the same fields from what it took
 * (test/unit/answer_ref.h). Then the verdicts a user would notice, case by case. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test/unit/answer_ref.h"

int main(void);

static const char *const corpora[] = {"test/fuzz/corpus/verifier_answer",
                                      "test/fuzz/corpus/verifier_answer_scan"};

static void test_same_as_tree_parser(void **state)
{
	size_t files = 0, taken = 0;

	(void)state;
	for (size_t c = 0; c < sizeof(corpora) / sizeof(corpora[0]); c++) {
		DIR *d = opendir(corpora[c]);
		struct dirent *de;
		assert_non_null(d);
		while ((de = readdir(d)) != NULL) {
			char path[512], why[512];
			buf_t b = BUF_INIT;
			answer_t a;
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", corpora[c], de->d_name);
			assert_int_equal(buf_read_file(&b, path, 1 << 24), 0);
			if (answer_ref_diff(b.data, b.len, why, sizeof(why)) != 0)
				fail_msg("%s: %s", path, why);
			files++;
			taken += answer_scan(&a, b.data, b.len, NULL) == 0;
			buf_free(&b);
		}
		closedir(d);
	}
	/* Both kinds are there: the comparison is not all refusals. */
	assert_true(files >= 80);
	assert_true(taken >= 20 && taken < files);
}

static int scan(const char *s, answer_t *a)
{
	return answer_scan(a, (const uint8_t *)s, strlen(s), NULL);
}

static void test_fields(void **state)
{
	answer_t a;
	buf_t t = BUF_INIT;
	char small[8];
	size_t n = 0;

	(void)state;
	assert_int_equal(
	    scan("{\"code\": 200, \"results\": {\"quote\": \"r/1:AB==\", \"hash_alg\": "
	         "\"sha256\", \"pubkey\": \"-----B\\nK\\n\", \"ima_measurement_list\": "
	         "\"10 aa ima\\n\", \"ima_measurement_list_entry\": 7, "
	         "\"mb_measurement_list\": \"AAAA\"}, \"status\": \"Success\"}",
	         &a),
	    0);
	assert_true(a.has_results);
	/* Unescaped fields are borrowed from the body as they are. */
	assert_false(a.field[ANSWER_QUOTE].escaped);
	assert_memory_equal(answer_bytes(&a, ANSWER_QUOTE, &t, &n), "r/1:AB==", 8);
	assert_int_equal(n, 8);
	assert_int_equal(answer_copy(&a, ANSWER_HASH_ALG, small, sizeof(small)), 6);
	assert_string_equal(small, "sha256");
	assert_int_equal(answer_copy(&a, ANSWER_SIGN_ALG, small, sizeof(small)), -1);
	assert_int_equal(answer_text(&a, ANSWER_PUBKEY, &t), 0);
	assert_string_equal((char *)t.data, "-----B\nK\n");
	assert_int_equal(answer_text(&a, ANSWER_IMA_LIST, &t), 0);
	assert_string_equal((char *)t.data, "10 aa ima\n");
	assert_true(a.entry_is_integer);
	assert_int_equal(a.entry, 7);
	/* A name cut to fit still says how long it was. */
	assert_int_equal(scan("{\"results\": {\"hash_alg\": \"sha256sha256\"}}", &a), 0);
	assert_int_equal(answer_copy(&a, ANSWER_HASH_ALG, small, sizeof(small)), 12);
	assert_string_equal(small, "sha256s");
	/* A field of another object is not results' field. */
	assert_int_equal(scan("{\"results\": {}, \"x\": {\"quote\": \"b\"}}", &a), 0);
	assert_null(a.field[ANSWER_QUOTE].raw);
	assert_int_equal(scan("{\"results\": {\"y\": {\"quote\": \"b\"}}}", &a), 0);
	assert_null(a.field[ANSWER_QUOTE].raw);
	/* Wrong types read as absent, as json_string_value() read them. */
	assert_int_equal(scan("{\"results\": {\"quote\": 5, \"ima_measurement_list_entry\": "
	                      "\"5\"}}",
	                      &a),
	                 0);
	assert_null(a.field[ANSWER_QUOTE].raw);
	assert_false(a.entry_is_integer);
	buf_free(&t);
}

static void test_refusals(void **state)
{
	/* Lengths from sizeof, so the NULs are in. */
#define B(x)                                                                                       \
	{                                                                                          \
		x, sizeof(x) - 1                                                                   \
	}
	static const struct {
		const char *s; /* the body */
		size_t n;      /* its length */
	} bad[] = {
	    B("{\"results\": {\"quote\": \"a\", \"quot\\u0065\": \"b\"}}"),
	    B("{\"results\": {}} x"),
	    B("{\"results\": {\"quote\": \"\\q\"}}"),
	    B("{\"results\": {\"quote\": \"\\ud800\"}}"),
	    B("{\"results\": {\"ima_measurement_list_entry\": 9223372036854775808}}"),
	    B("{\"results\": {}, \"x\": 1e400}"),
	    B("{\"results\": {},}"),
	    B("\"results\""),
	    /* jansson took these two (it drops a NUL after a number or a word). */
	    B("{\"results\": {\"ima_measurement_list_entry\": 5\0}}"),
	    B("{\"results\": {\"x\": null\0}}"),
	};
#undef B
	answer_t a;
	err_t e = {""};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e.msg[0] = '\0';
		if (answer_scan(&a, (const uint8_t *)bad[i].s, bad[i].n, &e) == 0)
			fail_msg("taken: %s", bad[i].s);
		/* The reason says what and where. */
		assert_non_null(strstr(e.msg, " at byte "));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_same_as_tree_parser),
	    cmocka_unit_test(test_fields),
	    cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

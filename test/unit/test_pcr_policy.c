/* Unit tests for common/pcr_policy: parse rules and the check's verdicts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/policy/pcr_policy.h"

int main(void);

static uint8_t quoted[24][32]; /* fake quoted SHA-256 bank */
static uint32_t quoted_mask;

static const uint8_t *lookup(void *arg, int pcr, size_t *len)
{
	(void)arg;
	if (!(quoted_mask & (1u << pcr)))
		return NULL;
	*len = 32;
	return quoted[pcr];
}

static pcr_policy_t *parse(const char *s, err_t *e)
{
	return pcr_policy_parse(s, strlen(s), e);
}

#define Z64 "0000000000000000000000000000000000000000000000000000000000000000"
#define A64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static void test_parse_rejects(void **state)
{
	static const char *bad[] = {
	    "[]",
	    "{\"10\": [\"" Z64 "\"]}",
	    "{\"16\": [\"" Z64 "\"]}",
	    "{\"24\": [\"" Z64 "\"]}",
	    "{\"01\": [\"" Z64 "\"]}",
	    "{\"x\": [\"" Z64 "\"]}",
	    "{\"0\": []}",
	    "{\"0\": \"" Z64 "\"}",
	    "{\"0\": [\"abc\"]}",
	    "{\"0\": [\"" Z64 "\"], \"0\": [\"" Z64 "\"]}",
	    "{\"0\": [42]}",
	    "{\"mask\": 5}",
	    "not json",
	};
	err_t e;
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e.msg[0] = 0;
		assert_null(parse(bad[i], &e));
		assert_true(strlen(e.msg) > 0);
	}
}

static void test_check(void **state)
{
	err_t e;
	const char *id = NULL;
	pcr_policy_t *p = parse("{\"0\": [\"" A64 "\", \"" Z64 "\"], \"7\": [\"0x" Z64 "\"], "
	                        "\"mask\": \"0x81\"}",
	                        &e);
	(void)state;
	assert_non_null(p);
	assert_int_equal(pcr_policy_mask(p), 0x81);
	memset(quoted, 0, sizeof(quoted));
	quoted_mask = 0x81 | (1u << 16);
	assert_int_equal(pcr_policy_check(p, lookup, NULL, &id, &e), 0);
	quoted[7][31] = 1;
	assert_int_equal(pcr_policy_check(p, lookup, NULL, &id, &e), -1);
	assert_string_equal(id, "pcr_validation.invalid_pcr_7");
	assert_non_null(strstr(e.msg, "PCR 7 is 00000000"));
	quoted[7][31] = 0;
	quoted_mask = 0x80;
	assert_int_equal(pcr_policy_check(p, lookup, NULL, &id, &e), -1);
	assert_string_equal(id, "pcr_validation.missing_pcrs");
	pcr_policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_rejects),
	    cmocka_unit_test(test_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for common/base/rate: the token bucket starts full, refills at its rate up
 * to its burst, and says how long until the next token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/base/rate.h"

int main(void);

static void test_bucket(void **state)
{
	rate_bucket_t b = {0};

	(void)state;
	/* Full at first use: the burst, whole tokens only. */
	assert_int_equal(rate_fill(&b, 10, 5, 1000), 5);
	rate_take(&b, 5);
	assert_int_equal(rate_fill(&b, 10, 5, 1000), 0);
	assert_int_equal(rate_wait_ms(&b, 10), 101);
	/* 10/s: one token per 100 ms, capped at the burst. */
	assert_int_equal(rate_fill(&b, 10, 5, 1150), 1);
	assert_int_equal(rate_fill(&b, 10, 5, 9000), 5);
	rate_take(&b, 4.5);
	assert_int_equal(rate_fill(&b, 10, 5, 9000), 0);
	assert_int_equal(rate_wait_ms(&b, 10), 51);
	/* A clock that does not move adds nothing. */
	assert_int_equal(rate_fill(&b, 10, 5, 8000), 0);
	/* A burst below one still admits one at first use after refilling to it. */
	rate_bucket_t s = {0};
	assert_int_equal(rate_fill(&s, 0.5, 1, 1), 1);
	rate_take(&s, 1);
	assert_int_equal(rate_wait_ms(&s, 0.5), 2001);
	assert_int_equal(rate_fill(&s, 0.5, 1, 2001), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bucket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

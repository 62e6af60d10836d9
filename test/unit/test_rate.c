/* Unit tests for common/base/rate: the token bucket starts full, refills at its rate up
 * to its burst, and says how long until the next token; a phase's next point. */
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

static void test_next_phase(void **state)
{
	(void)state;
	/* The points 250, 2250, 4250, ... of phase 250 in a period of 2000. */
	assert_int_equal(rate_next_phase(250, 0, 2000), 250);
	assert_int_equal(rate_next_phase(250, 250, 2000), 250);
	assert_int_equal(rate_next_phase(250, 251, 2000), 2250);
	assert_int_equal(rate_next_phase(250, 10000, 2000), 10250);
	assert_int_equal(rate_next_phase(250, 11999, 2000), 12250);
	assert_int_equal(rate_next_phase(0, 12000, 2000), 12000);
	assert_int_equal(rate_next_phase(1999, 12000, 2000), 13999);
	/* No period: from itself. */
	assert_int_equal(rate_next_phase(250, 5000, 0), 5000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bucket),
	    cmocka_unit_test(test_next_phase),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_verifier_utf8: failure reasons are made valid UTF-8 before they reach an event body,
 * the store and gRPC; text that already is valid passes unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "verifier/utf8.h"

int main(void);

static void check(const char *in, const char *want)
{
	char *got = utf8_sanitize_dup(in);

	assert_string_equal(got, want);
	free(got);
}

static void test_valid_unchanged(void **state)
{
	(void)state;
	check("", "");
	check("/usr/bin/true", "/usr/bin/true");
	check("Boot0001 \xc3\xa9t\xc3\xa9", "Boot0001 \xc3\xa9t\xc3\xa9"); /* 2 bytes */
	check("\xe2\x82\xac", "\xe2\x82\xac");                             /* 3 bytes */
	check("\xf0\x9f\x94\x92", "\xf0\x9f\x94\x92");                     /* 4 bytes */
	check("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");                     /* U+10FFFF */
}

static void test_broken_replaced(void **state)
{
	(void)state;
	check("path/\xc3", "path/?");      /* a character cut at the end */
	check("a\xe2\x82z", "a??z");       /* cut in the middle */
	check("\xc0\x80", "??");           /* overlong NUL */
	check("\xe0\x80\xaf", "???");      /* overlong '/' */
	check("\xed\xa0\x80", "???");      /* surrogate */
	check("\xf4\x90\x80\x80", "????"); /* past U+10FFFF */
	check("\xff\xfe", "??");           /* never UTF-8 */
	check("ok \x80 ok", "ok ? ok");    /* a lone continuation byte */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_unchanged),
	    cmocka_unit_test(test_broken_replaced),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

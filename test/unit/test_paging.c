/* Unit tests for common/net/paging: page sizes (default, maximum, over it), tokens that
 * round-trip, and every kind of token a client could make up refused with the field
 * named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/base/buf.h"
#include "common/net/grpcsrv.h"
#include "common/net/paging.h"

int main(void);

static void test_sizes(void **state)
{
	char after[PAGING_KEY_MAX + 1];
	size_t limit = 0;
	err_t e = {""};

	(void)state;
	assert_int_equal(paging_request(0, "", "ListXRequest", &limit, after, &e), GRPCSRV_OK);
	assert_int_equal(limit, 100);
	assert_string_equal(after, "");
	assert_int_equal(paging_request(1, NULL, "ListXRequest", &limit, after, &e), GRPCSRV_OK);
	assert_int_equal(limit, 1);
	assert_int_equal(paging_request(1000, "", "ListXRequest", &limit, after, &e), GRPCSRV_OK);
	assert_int_equal(limit, 1000);
	assert_int_equal(paging_request(1001, "", "ListXRequest", &limit, after, &e),
	                 GRPCSRV_INVALID_ARGUMENT);
	assert_non_null(strstr(e.msg, "ListXRequest.page_size 1001"));
	assert_int_equal(paging_request(UINT32_MAX, "", "ListXRequest", &limit, after, &e),
	                 GRPCSRV_INVALID_ARGUMENT);
}

static void test_token_round_trip(void **state)
{
	static const char *const keys[] = {"d432fbb3-d2f1-4a97-9ef7-75bd81c00000", "a", "~!",
	                                   "node-01.example_x"};
	char after[PAGING_KEY_MAX + 1], longest[PAGING_KEY_MAX + 1];
	size_t limit;
	err_t e = {""};

	(void)state;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char *t = paging_token(keys[i]);
		assert_int_equal(paging_request(5, t, "ListXRequest", &limit, after, &e),
		                 GRPCSRV_OK);
		assert_string_equal(after, keys[i]);
		assert_int_equal(limit, 5);
		/* Opaque but URL- and shell-safe. */
		assert_int_equal(strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		                           "0123456789-_"),
		                 strlen(t));
		free(t);
	}
	memset(longest, 'k', PAGING_KEY_MAX);
	longest[PAGING_KEY_MAX] = '\0';
	char *t = paging_token(longest);
	assert_int_equal(paging_request(0, t, "ListXRequest", &limit, after, &e), GRPCSRV_OK);
	assert_string_equal(after, longest);
	free(t);
}

/* base64url of raw bytes, as a client forging a token would make it. */
static char *forge(const char *raw, size_t len)
{
	buf_t b = BUF_INIT;
	base64url_encode(&b, raw, len);
	buf_append(&b, "", 1);
	return (char *)buf_steal(&b, &len);
}

static void test_bad_tokens(void **state)
{
	char after[PAGING_KEY_MAX + 1], big[PAGING_KEY_MAX + 8];
	size_t limit;
	err_t e = {""};
	char *f[6];

	(void)state;
	f[0] = forge("p1:", 3);         /* no key */
	f[1] = forge("p2:abc", 6);      /* another version */
	f[2] = forge("p1:a b", 6);      /* a space */
	f[3] = forge("p1:a\0b", 6);     /* a NUL */
	f[4] = forge("p1:\xc3\xa9", 5); /* not ASCII */
	memcpy(big, "p1:", 3);
	memset(big + 3, 'k', PAGING_KEY_MAX + 1); /* one byte too long */
	f[5] = forge(big, PAGING_KEY_MAX + 4);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(paging_request(0, f[i], "ListXRequest", &limit, after, &e),
		                 GRPCSRV_INVALID_ARGUMENT);
		assert_non_null(strstr(e.msg, "ListXRequest.page_token"));
		assert_string_equal(after, "");
		free(f[i]);
	}
	static const char *const junk[] = {"garbage!", "cDE6YQ==", "cDE6Y", " cDE6YQ", "%%%"};
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		assert_int_equal(paging_request(0, junk[i], "ListXRequest", &limit, after, &e),
		                 GRPCSRV_INVALID_ARGUMENT);
	/* "cDE6YQ" is base64url of "p1:a": the same text with padding or a stray bit is not. */
	assert_int_equal(paging_request(0, "cDE6YQ", "ListXRequest", &limit, after, &e),
	                 GRPCSRV_OK);
	assert_string_equal(after, "a");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sizes),
	    cmocka_unit_test(test_token_round_trip),
	    cmocka_unit_test(test_bad_tokens),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

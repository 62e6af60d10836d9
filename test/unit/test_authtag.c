/* Unit tests for common/authtag: the Keylime activation HMAC against values Python's hmac
 * module computes (hmac.new(base64.b64encode(cred), agent_id.encode(),
 * hashlib.sha384).hexdigest(), the registrar's own check in Keylime), from the raw
 * credential and from its base64 key, and the comparison the registrar makes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/crypto/authtag.h"

int main(void);

#define CRED "abcdefghijklmnopqrstuvwxyz012345"
#define KEY  "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXowMTIzNDU=" /* base64(CRED) */
#define ID   "d432fbb3-d2f1-4a97-9ef7-75bd81c00000"
#define TAG                                                                                        \
	"5722855ab92301434883bdfc0d1810450154c06bdeaa1b3ffe1f7fcaabca3575"                         \
	"6506b94d53773738c43cf9a866ad3f0e"

static void test_known_answer(void **state)
{
	char out[AUTHTAG_HEX_LEN + 1];

	(void)state;
	assert_int_equal(authtag_from_credential((const uint8_t *)CRED, strlen(CRED), ID, out), 0);
	assert_string_equal(out, TAG);
	assert_int_equal(authtag_from_key(KEY, ID, out), 0);
	assert_string_equal(out, TAG);
	/* Empty key and id: HMAC-SHA-384 of nothing under an empty key. */
	assert_int_equal(authtag_from_key("", "", out), 0);
	assert_string_equal(out, "6c1f2ee938fad2e24bd91298474382ca218c75db3d83e114"
	                         "b3d4367776d14d3551289e75e8209cd4b792302840234adc");
}

static void test_matches(void **state)
{
	char bad[AUTHTAG_HEX_LEN + 1];

	(void)state;
	assert_true(authtag_matches(KEY, ID, TAG));
	/* The credential itself is not the key (a classic mistake). */
	assert_false(authtag_matches(CRED, ID, TAG));
	/* Another id, one flipped digit, upper case, short, long, NULL. */
	assert_false(authtag_matches(KEY, "d432fbb3-d2f1-4a97-9ef7-75bd81c00001", TAG));
	memcpy(bad, TAG, sizeof(bad));
	bad[95] = bad[95] == '0' ? '1' : '0';
	assert_false(authtag_matches(KEY, ID, bad));
	memcpy(bad, TAG, sizeof(bad));
	bad[0] = 'A';
	assert_false(authtag_matches(KEY, ID, bad));
	assert_false(authtag_matches(KEY, ID, "5722855a"));
	assert_false(authtag_matches(KEY, ID, TAG "00"));
	assert_false(authtag_matches(KEY, ID, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known_answer),
	    cmocka_unit_test(test_matches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

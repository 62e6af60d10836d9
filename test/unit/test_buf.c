/* Unit tests for common/buf: codecs must round-trip and reject malformed text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/base/buf.h"

int main(void);

static void test_base64_vectors(void **state)
{
	static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	(void)state;
	for (size_t i = 0; i < 7; i++) {
		buf_t b = BUF_INIT, d = BUF_INIT;
		base64_encode(&b, plain[i], strlen(plain[i]));
		assert_int_equal(b.len, strlen(enc[i]));
		if (b.len)
			assert_memory_equal(b.data, enc[i], b.len);
		assert_int_equal(base64_decode(&d, enc[i], strlen(enc[i])), 0);
		assert_int_equal(d.len, strlen(plain[i]));
		if (d.len)
			assert_memory_equal(d.data, plain[i], d.len);
		buf_free(&b);
		buf_free(&d);
	}
}

static void test_base64_rejects(void **state)
{
	static const char *bad[] = {"Zg=",  "Zg",       "Z===", "Zm9v\n", "Zm 9",
	                            "Zh==", "Zm9=Zm9v", "@@@@", "Zm-_"};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_t d = BUF_INIT;
		buf_append(&d, "x", 1);
		assert_int_equal(base64_decode(&d, bad[i], strlen(bad[i])), -1);
		assert_int_equal(d.len, 1); /* unchanged on error */
		buf_free(&d);
	}
}

/* RFC 4648 §10 vectors without padding, plus both URL-safe characters. */
static void test_base64url(void **state)
{
	static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xfb\xff"};
	static const char *enc[] = {"",       "Zg",      "Zm8",      "Zm9v",
	                            "Zm9vYg", "Zm9vYmE", "Zm9vYmFy", "-_8"};
	static const char *bad[] = {"Zg==", "Z", "Zh", "Zm9", "Zm9v\n", "Zm+v", "Zm/v", "Zm 9"};
	(void)state;
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		buf_t b = BUF_INIT, d = BUF_INIT;
		base64url_encode(&b, plain[i], strlen(plain[i]));
		assert_int_equal(b.len, strlen(enc[i]));
		if (b.len)
			assert_memory_equal(b.data, enc[i], b.len);
		assert_int_equal(base64url_decode(&d, enc[i], strlen(enc[i])), 0);
		assert_int_equal(d.len, strlen(plain[i]));
		if (d.len)
			assert_memory_equal(d.data, plain[i], d.len);
		buf_free(&b);
		buf_free(&d);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_t d = BUF_INIT;
		buf_append(&d, "x", 1);
		assert_int_equal(base64url_decode(&d, bad[i], strlen(bad[i])), -1);
		assert_int_equal(d.len, 1); /* unchanged on error */
		buf_free(&d);
	}
}

static void test_hex(void **state)
{
	buf_t b = BUF_INIT, d = BUF_INIT;
	const uint8_t raw[] = {0x00, 0xab, 0xff, 0x10};
	(void)state;
	hex_encode(&b, raw, sizeof(raw));
	assert_string_equal((char *)b.data, "00abff10");
	assert_int_equal(hex_decode(&d, "00ABff10", 8), 0);
	assert_memory_equal(d.data, raw, 4);
	buf_reset(&d);
	assert_int_equal(hex_decode(&d, "0g", 2), -1);
	assert_int_equal(hex_decode(&d, "abc", 3), -1);
	assert_int_equal(d.len, 0);
	buf_free(&b);
	buf_free(&d);
}

static void test_file_roundtrip(void **state)
{
	char path[] = "/tmp/vigil-test-buf-XXXXXX";
	buf_t b = BUF_INIT;
	(void)state;
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(buf_write_file(path, "hello", 5, 0600), 0);
	assert_int_equal(buf_read_file(&b, path, 100), 0);
	assert_int_equal(b.len, 5);
	assert_int_equal(buf_read_file(&b, path, 4), -1); /* over the limit */
	unlink(path);
	buf_free(&b);
}

/* A path with an ESC sequence (clear screen, set the title) and other bytes a terminal would
 * act on comes out as plain printable ASCII, reversibly. */
static void test_text_escape(void **state)
{
	static const char path[] = "/tmp/\x1b]0;owned\x07\x1b[2J\\x\tok\xc3\xa9\x7f";
	static const char want[] = "/tmp/\\x1b]0;owned\\x07\\x1b[2J\\\\x\\x09ok\\xc3\\xa9\\x7f";
	buf_t b = BUF_INIT;
	char small[16], out[128];
	(void)state;

	buf_append_escaped(&b, path, sizeof(path) - 1);
	assert_string_equal((char *)b.data, want);
	for (size_t i = 0; i < b.len; i++)
		assert_true(b.data[i] >= 0x20 && b.data[i] < 0x7f);
	assert_string_equal(text_escape(out, sizeof(out), path, sizeof(path) - 1), want);
	/* Cut at a whole escape, marked. */
	assert_string_equal(text_escape(small, sizeof(small), path, sizeof(path) - 1),
	                    "/tmp/\\x1b]0;...");
	assert_string_equal(text_escape(small, sizeof(small), "abc", 3), "abc");
	assert_string_equal(text_escape(small, 1, "abc", 3), "");
	buf_reset(&b);
	buf_append_escaped(&b, "", 0);
	assert_non_null(b.data);
	assert_string_equal((char *)b.data, "");
	buf_free(&b);
	buf_append_escaped(&b, "", 0); /* a fresh buffer: still a string */
	assert_string_equal((char *)b.data, "");
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base64_vectors), cmocka_unit_test(test_base64_rejects),
	    cmocka_unit_test(test_base64url),      cmocka_unit_test(test_hex),
	    cmocka_unit_test(test_file_roundtrip), cmocka_unit_test(test_text_escape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

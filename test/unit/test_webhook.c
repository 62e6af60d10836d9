/* Unit tests for common/net/webhook: the Standard Webhooks reference vector (from the
 * spec's reference libraries, svix-webhooks go/webhook_test.go TestWebhookSign, checked
 * with Python's hmac), secret-file parsing, and what a receiver's check refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/net/webhook.h"

int main(void);

static const char vec_secret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
static const char vec_id[] = "msg_p5jXN8AQM9LWM0D4loKWxJek";
static const int64_t vec_ts = 1614265330;
static const char vec_body[] = "{\"test\": 2432232314}";
static const char vec_sig[] = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

static void load_vec(webhook_secret_t *s)
{
	err_t e = {""};

	assert_int_equal(webhook_secret_parse(vec_secret, strlen(vec_secret), s, &e), 0);
	assert_int_equal(s->len, 24);
}

static void test_reference_vector(void **state)
{
	webhook_secret_t s;
	char sig[WEBHOOK_SIG_LEN];
	err_t e = {""};

	(void)state;
	load_vec(&s);
	assert_int_equal(webhook_sign(&s, vec_id, vec_ts, vec_body, strlen(vec_body), sig), 0);
	assert_string_equal(sig, vec_sig);
	assert_int_equal(webhook_verify(&s, vec_id, "1614265330", vec_body, strlen(vec_body),
	                                vec_sig, vec_ts, 300, &e),
	                 0);
	/* Several entries, the matching one last (key rotation). */
	assert_int_equal(webhook_verify(&s, vec_id, "1614265330", vec_body, strlen(vec_body),
	                                "v2,abc v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= "
	                                "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
	                                0, 0, &e),
	                 0);
	webhook_secret_wipe(&s);
}

static void test_verify_refuses(void **state)
{
	webhook_secret_t s, other;
	err_t e = {""};
	static const char other_text[] = "whsec_c2VjcmV0LW9mLWEtcm90YXRlZC1lbmRwb2ludA==";
	size_t bl = strlen(vec_body);

	(void)state;
	load_vec(&s);
	assert_int_equal(webhook_secret_parse(other_text, strlen(other_text), &other, &e), 0);
	/* Another secret, body, id, timestamp: each breaks it. */
	assert_int_equal(
	    webhook_verify(&other, vec_id, "1614265330", vec_body, bl, vec_sig, 0, 0, &e), -1);
	assert_int_equal(webhook_verify(&s, vec_id, "1614265330", "{\"test\": 2432232315}", bl,
	                                vec_sig, 0, 0, &e),
	                 -1);
	assert_int_equal(webhook_verify(&s, "msg_p5jXN8AQM9LWM0D4loKWxJel", "1614265330", vec_body,
	                                bl, vec_sig, 0, 0, &e),
	                 -1);
	assert_int_equal(webhook_verify(&s, vec_id, "1614265331", vec_body, bl, vec_sig, 0, 0, &e),
	                 -1);
	/* Too old, with a tolerance; malformed headers. */
	assert_int_equal(
	    webhook_verify(&s, vec_id, "1614265330", vec_body, bl, vec_sig, vec_ts + 301, 300, &e),
	    -1);
	assert_non_null(strstr(e.msg, "away from now"));
	assert_int_equal(webhook_verify(&s, vec_id, "-1", vec_body, bl, vec_sig, 0, 0, &e), -1);
	assert_int_equal(webhook_verify(&s, vec_id, "16142x", vec_body, bl, vec_sig, 0, 0, &e), -1);
	assert_int_equal(webhook_verify(&s, "a.b", "1614265330", vec_body, bl, vec_sig, 0, 0, &e),
	                 -1);
	assert_int_equal(webhook_verify(&s, vec_id, "1614265330", vec_body, bl,
	                                "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", 0, 0,
	                                &e),
	                 -1);
	assert_int_equal(webhook_verify(&s, vec_id, "1614265330", vec_body, bl, "v1,", 0, 0, &e),
	                 -1);
	assert_int_equal(webhook_verify(&s, vec_id, "1614265330", vec_body, bl, "", 0, 0, &e), -1);
	assert_int_equal(webhook_verify(&s, NULL, "1614265330", vec_body, bl, vec_sig, 0, 0, &e),
	                 -1);
	/* Sign refuses an id that could move the field boundary. */
	char sig[WEBHOOK_SIG_LEN];
	assert_int_equal(webhook_sign(&s, "a.b", 1, "x", 1, sig), -1);
	assert_int_equal(webhook_sign(&s, "", 1, "x", 1, sig), -1);
	webhook_secret_wipe(&s);
	webhook_secret_wipe(&other);
}

static void test_secret_forms(void **state)
{
	static const char *bad[] = {
	    "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",           /* no prefix */
	    "whsec_",                                     /* empty */
	    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",      /* not base64 (length) */
	    "whsec_MfKQ9r8GKYqrTwjUPD8I LPZIo2LaLaSw",    /* a space */
	    "whsec_c2hvcnQ=",                             /* 5 bytes: too short */
	    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n\n", /* two newlines */
	    "WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",     /* case */
	    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw ",    /* trailing space */
	};
	webhook_secret_t s;
	err_t e = {""};
	char big[200];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e.msg[0] = '\0';
		assert_int_equal(webhook_secret_parse(bad[i], strlen(bad[i]), &s, &e), -1);
		assert_int_equal(s.len, 0);
		assert_non_null(strstr(e.msg, "24 to 64"));
		/* The message never quotes the secret. */
		assert_null(strstr(e.msg, "MfKQ9r8"));
	}
	/* 65 bytes is one too many. */
	memcpy(big, "whsec_", 6);
	memset(big + 6, 'A', 88);
	big[94] = '\0';
	assert_int_equal(webhook_secret_parse(big, strlen(big), &s, &e), -1);
	assert_int_equal(
	    webhook_secret_parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\r\n", 40, &s, &e), 0);
	assert_int_equal(s.len, 24);
}

static void test_secret_file(void **state)
{
	char path[] = "/tmp/test_webhook.XXXXXX";
	webhook_secret_t s;
	err_t e = {""};
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", 39), 39);
	close(fd);
	assert_int_equal(webhook_secret_load(path, &s, &e), 0);
	assert_int_equal(s.len, 24);
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "hunter2\n", 8), 8);
	close(fd);
	assert_int_equal(webhook_secret_load(path, &s, &e), -1);
	assert_non_null(strstr(e.msg, path));
	assert_non_null(strstr(e.msg, "whsec_"));
	unlink(path);
	assert_int_equal(webhook_secret_load(path, &s, &e), -1);
	assert_non_null(strstr(e.msg, "cannot read"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reference_vector),
	    cmocka_unit_test(test_verify_refuses),
	    cmocka_unit_test(test_secret_forms),
	    cmocka_unit_test(test_secret_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

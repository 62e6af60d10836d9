/* Unit tests for common/crypto/revnotice: a notice signed by Python's `cryptography` the
 * way Keylime's verifier signs (test/unit/data/revnotice/make_python_notice.py) verifies,
 * and our inner message is byte for byte what Python's json.dumps makes of the same
 * fields; what we sign verifies; every way a notice can be wrong is refused with its own
 * outcome and no message. (A second opinion on our signatures, by openssl and by
 * `cryptography`, is in test/integration/t_revocation_notice.sh.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/crypto/revnotice.h"

int main(void);

#define DATA "test/unit/data/revnotice/"

static char *slurp(const char *path)
{
	buf_t b = BUF_INIT;

	assert_int_equal(buf_read_file(&b, path, 1 << 20), 0);
	return (char *)buf_steal(&b, NULL);
}

static revnotice_rc_t verify_text(const char *body, const char *cert, json_t **msg)
{
	err_t e = {""};
	revnotice_rc_t rc = revnotice_verify((const uint8_t *)body, strlen(body), cert, msg, &e);

	if (rc == REVNOTICE_OK)
		assert_non_null(*msg);
	else
		assert_null(*msg);
	assert_true(rc == REVNOTICE_OK || e.msg[0] != '\0');
	return rc;
}

/* The fields make_python_notice.py signs. */
static const revnotice_fields_t py_fields = {
    .type = "revocation",
    .ip = "127.0.0.1",
    .agent_id = "d432fbb3-d2f1-4a97-9ef7-75bd81c00000",
    .port = 9002,
    .tpm_policy = "{\"mask\": \"0x408000\", \"15\": "
                  "[\"0000000000000000000000000000000000000000000000000000000000000000\"]}",
    .meta_data = "{\"cert_serial\": 1}",
    .event_time = 1785741254, /* Mon Aug  3 07:14:14 2026 UTC */
    .event_id = "ima.validation.ima-ng.not_in_allowlist",
    .severity_label = "emergency",
    .context = "{\"message\": \"File not found in allowlist: /usr/bin/evil \\u00e9\"}",
};

static void test_python_notice_verifies(void **state)
{
	char *body = slurp(DATA "python_notice.json"), *cert = slurp(DATA "notifier.crt");
	json_t *msg = NULL, *outer;
	buf_t ours = BUF_INIT;

	(void)state;
	assert_int_equal(verify_text(body, cert, &msg), REVNOTICE_OK);
	assert_string_equal(json_string_value(json_object_get(msg, "type")), "revocation");
	assert_string_equal(json_string_value(json_object_get(msg, "agent_id")),
	                    "d432fbb3-d2f1-4a97-9ef7-75bd81c00000");
	assert_int_equal(json_integer_value(json_object_get(msg, "port")), 9002);
	assert_string_equal(json_string_value(json_object_get(msg, "event_time")),
	                    "Mon Aug  3 07:14:14 2026");
	json_decref(msg);

	/* Our message of the same fields is the very text Python signed. */
	setenv("TZ", "UTC", 1);
	tzset();
	assert_int_equal(revnotice_msg_build(&py_fields, &ours, NULL), 0);
	outer = json_loads(body, 0, NULL);
	assert_non_null(outer);
	assert_string_equal((const char *)ours.data,
	                    json_string_value(json_object_get(outer, "msg")));
	json_decref(outer);
	buf_free(&ours);
	free(body);
	free(cert);
}

static void test_wrong_certificates(void **state)
{
	char *body = slurp(DATA "python_notice.json");
	char *other = slurp(DATA "other.crt"), *ec = slurp(DATA "ec.crt");
	json_t *msg = NULL;

	(void)state;
	assert_int_equal(verify_text(body, other, &msg), REVNOTICE_BAD_SIGNATURE);
	assert_int_equal(verify_text(body, ec, &msg), REVNOTICE_BAD_CERT);
	assert_int_equal(verify_text(body, "not a certificate", &msg), REVNOTICE_BAD_CERT);
	assert_int_equal(revnotice_cert_check(ec, NULL), -1);
	assert_int_equal(revnotice_cert_check(other, NULL), 0);
	free(body);
	free(other);
	free(ec);
}

static void test_sign_roundtrip(void **state)
{
	char *key = slurp(DATA "notifier.key"), *cert = slurp(DATA "notifier.crt");
	char *eckey = slurp(DATA "ec.key");
	revnotice_fields_t f = py_fields;
	buf_t out = BUF_INIT;
	json_t *msg = NULL, *o;
	err_t e = {""};

	(void)state;
	f.type = "comm_error";
	f.event_id = NULL; /* no event: no event fields */
	f.event_time = 0;
	assert_int_equal(revnotice_sign(&f, key, &out, &e), 0);
	assert_int_equal(verify_text((const char *)out.data, cert, &msg), REVNOTICE_OK);
	assert_string_equal(json_string_value(json_object_get(msg, "type")), "comm_error");
	assert_null(json_object_get(msg, "event_id"));
	assert_null(json_object_get(msg, "context"));
	json_decref(msg);

	/* Two signatures of one message differ (PSS is randomised) and both verify. */
	assert_int_equal(revnotice_sign(&py_fields, key, &out, &e), 0);
	assert_int_equal(verify_text((const char *)out.data, cert, &msg), REVNOTICE_OK);
	json_decref(msg);

	/* Without a key: signature "", which the receiver calls unsigned. */
	assert_int_equal(revnotice_sign(&py_fields, NULL, &out, &e), 0);
	o = json_loads((const char *)out.data, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(o, "signature")), "");
	json_decref(o);
	assert_int_equal(verify_text((const char *)out.data, cert, &msg), REVNOTICE_UNSIGNED);

	/* Only RSA keys sign. */
	assert_int_equal(revnotice_sign(&py_fields, eckey, &out, &e), -1);
	assert_non_null(strstr(e.msg, "not RSA"));
	assert_int_equal(revnotice_key_check(eckey, NULL), -1);
	assert_int_equal(revnotice_key_check(key, NULL), 0);
	assert_int_equal(revnotice_key_check("junk", NULL), -1);
	buf_free(&out);
	free(key);
	free(cert);
	free(eckey);
}

/* A valid signature over another msg, spliced in: refused. */
static void test_spliced_signature(void **state)
{
	char *key = slurp(DATA "notifier.key"), *cert = slurp(DATA "notifier.crt");
	revnotice_fields_t f = py_fields;
	buf_t a = BUF_INIT, b = BUF_INIT;
	json_t *oa, *ob, *msg = NULL;
	char *spliced;

	(void)state;
	assert_int_equal(revnotice_sign(&f, key, &a, NULL), 0);
	f.agent_id = "another-node";
	assert_int_equal(revnotice_sign(&f, key, &b, NULL), 0);
	oa = json_loads((const char *)a.data, 0, NULL);
	ob = json_loads((const char *)b.data, 0, NULL);
	json_object_set(oa, "signature", json_object_get(ob, "signature"));
	spliced = json_dumps(oa, 0);
	assert_int_equal(verify_text(spliced, cert, &msg), REVNOTICE_BAD_SIGNATURE);
	free(spliced);
	json_decref(oa);
	json_decref(ob);
	buf_free(&a);
	buf_free(&b);
	free(key);
	free(cert);
}

static void test_malformed(void **state)
{
	char *key = slurp(DATA "notifier.key"), *cert = slurp(DATA "notifier.crt");
	char *body = slurp(DATA "python_notice.json"), *big;
	json_t *msg = NULL;
	buf_t out = BUF_INIT;
	size_t n = strlen(body);

	(void)state;
	/* Truncated JSON, not an object, fields of the wrong kind, duplicate keys. */
	body[n / 2] = '\0';
	assert_int_equal(verify_text(body, cert, &msg), REVNOTICE_MALFORMED);
	assert_int_equal(verify_text("", cert, &msg), REVNOTICE_MALFORMED);
	assert_int_equal(verify_text("[1,2]", cert, &msg), REVNOTICE_MALFORMED);
	assert_int_equal(verify_text("{\"signature\": \"AAAA\"}", cert, &msg), REVNOTICE_MALFORMED);
	assert_int_equal(verify_text("{\"msg\": {}, \"signature\": \"AAAA\"}", cert, &msg),
	                 REVNOTICE_MALFORMED);
	assert_int_equal(verify_text("{\"msg\": \"{}\", \"signature\": 5}", cert, &msg),
	                 REVNOTICE_MALFORMED);
	assert_int_equal(
	    verify_text("{\"msg\": \"{}\", \"msg\": \"{}\", \"signature\": \"AAAA\"}", cert, &msg),
	    REVNOTICE_MALFORMED);
	/* Unsigned, in the three ways a sender says so. */
	assert_int_equal(verify_text("{\"msg\": \"{}\", \"signature\": \"\"}", cert, &msg),
	                 REVNOTICE_UNSIGNED);
	assert_int_equal(verify_text("{\"msg\": \"{}\"}", cert, &msg), REVNOTICE_UNSIGNED);
	assert_int_equal(verify_text("{\"msg\": \"{}\", \"signature\": \"none\"}", cert, &msg),
	                 REVNOTICE_UNSIGNED);
	/* Not base64; base64 of a wrong length (no RSA call is made for it). */
	assert_int_equal(verify_text("{\"msg\": \"{}\", \"signature\": \"@@@@\"}", cert, &msg),
	                 REVNOTICE_BAD_BASE64);
	assert_int_equal(verify_text("{\"msg\": \"{}\", \"signature\": \"AAAA\"}", cert, &msg),
	                 REVNOTICE_BAD_SIGNATURE);
	/* Validly signed, but msg is not a JSON object. */
	assert_int_equal(revnotice_seal("[1]", 3, key, &out, NULL), 0);
	assert_int_equal(verify_text((const char *)out.data, cert, &msg), REVNOTICE_BAD_MSG);
	assert_int_equal(revnotice_seal("{\"a\":", 5, key, &out, NULL), 0);
	assert_int_equal(verify_text((const char *)out.data, cert, &msg), REVNOTICE_BAD_MSG);
	/* A msg that is not UTF-8 cannot be sealed. */
	assert_int_equal(revnotice_seal("\xff{}", 3, key, &out, NULL), -1);
	/* Over the size limit: refused before parsing. */
	big = calloc(1, REVNOTICE_MAX_BODY + 2);
	memset(big, ' ', REVNOTICE_MAX_BODY + 1);
	assert_int_equal(verify_text(big, cert, &msg), REVNOTICE_TOO_LARGE);
	free(big);
	buf_free(&out);
	free(body);
	free(key);
	free(cert);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_python_notice_verifies),
	    cmocka_unit_test(test_wrong_certificates),
	    cmocka_unit_test(test_sign_roundtrip),
	    cmocka_unit_test(test_spliced_signature),
	    cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

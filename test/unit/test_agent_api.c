/* Unit tests for the agent's API versions and registration encodings: the negotiation
 * rules of docs/wire.md §1.3, the path split the server routes on, and the auth_tag and
 * registration body bytes of §3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/base/api_version.h"
#include "agent/register.h"

int main(void);

static void test_versions_parse(void **state)
{
	api_versions_t v;
	err_t e = {""};
	char s[8];

	(void)state;
	assert_int_equal(api_versions_parse("default", &v, &e), 0);
	assert_int_equal(v.n, 6);
	assert_int_equal(v.minor[0], 1);
	api_versions_latest(&v, s, sizeof(s));
	assert_string_equal(s, "2.6");
	assert_int_equal(api_versions_parse("latest", &v, &e), 0);
	assert_int_equal(v.n, 1);
	assert_int_equal(v.minor[0], 6);
	assert_int_equal(api_versions_parse(" 2.5, 2.4 ,2.5", &v, &e), 0);
	assert_int_equal(v.n, 2);
	assert_int_equal(v.minor[0], 4);
	assert_int_equal(v.minor[1], 5);
	assert_true(api_versions_has(&v, 2, 5));
	assert_false(api_versions_has(&v, 2, 6));
	assert_false(api_versions_has(&v, 3, 5));
	/* Unknown or malformed versions are configuration errors, never silently dropped. */
	assert_int_equal(api_versions_parse("2.7", &v, &e), -1);
	assert_int_equal(api_versions_parse("3.0", &v, &e), -1);
	assert_int_equal(api_versions_parse("2.5,x", &v, &e), -1);
	assert_int_equal(api_versions_parse("2.05", &v, &e), -1);
	assert_int_equal(api_versions_parse(",", &v, &e), -1);
	assert_non_null(api_versions_check("v2.5"));
	assert_null(api_versions_check("2.1, 2.2"));
}

static void test_negotiate(void **state)
{
	const char *all[] = {"1.0", "2.0", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "3.0", NULL};
	const char *old[] = {"1.0", "2.0", "2.1", "2.2", NULL};
	const char *none[] = {"1.0", "3.0", NULL};
	api_versions_t v;
	char out[16];

	(void)state;
	api_versions_parse("default", &v, NULL);
	/* The registrar's current version wins when we have it... */
	assert_int_equal(api_versions_negotiate(&v, "2.6", all, out, sizeof(out)), 0);
	assert_string_equal(out, "2.6");
	/* ... else the highest common one (3.0 is not ours). */
	assert_int_equal(api_versions_negotiate(&v, "3.0", all, out, sizeof(out)), 0);
	assert_string_equal(out, "2.6");
	assert_int_equal(api_versions_negotiate(&v, "2.2", old, out, sizeof(out)), 0);
	assert_string_equal(out, "2.2");
	api_versions_parse("2.4", &v, NULL);
	assert_int_equal(api_versions_negotiate(&v, "2.6", all, out, sizeof(out)), 0);
	assert_string_equal(out, "2.4");
	assert_int_equal(api_versions_negotiate(&v, "3.0", none, out, sizeof(out)), -1);
}

static void test_path_split(void **state)
{
	const char *rest;
	int ma, mi;

	(void)state;
	assert_int_equal(api_path_split("/v2.5/agent/info", &ma, &mi, &rest), 1);
	assert_int_equal(ma, 2);
	assert_int_equal(mi, 5);
	assert_string_equal(rest, "/agent/info");
	assert_int_equal(api_path_split("/v2.7", &ma, &mi, &rest), 1);
	assert_int_equal(mi, 7);
	assert_string_equal(rest, "");
	assert_int_equal(api_path_split("/v10.12/x", &ma, &mi, &rest), 1);
	assert_int_equal(ma, 10);
	assert_int_equal(api_path_split("/version", &ma, &mi, &rest), 0);
	assert_int_equal(api_path_split("/v2/agent/info", &ma, &mi, &rest), 0);
	assert_int_equal(api_path_split("/v2.5x/agent", &ma, &mi, &rest), 0);
	assert_int_equal(api_path_split("/v.5/agent", &ma, &mi, &rest), 0);
	assert_int_equal(api_path_split("/v2.99999/agent", &ma, &mi, &rest), 0);
	assert_int_equal(api_path_split("", &ma, &mi, &rest), 0);
}

static void test_auth_tag(void **state)
{
	/* Python: hmac.new(base64.b64encode(cred), uuid.encode(), hashlib.sha384).hexdigest() */
	static const char *want = "5722855ab92301434883bdfc0d1810450154c06bdeaa1b3ffe1f7fcaabca3575"
	                          "6506b94d53773738c43cf9a866ad3f0e";
	const char *cred = "abcdefghijklmnopqrstuvwxyz012345";
	char tag[97];

	(void)state;
	register_auth_tag((const uint8_t *)cred, strlen(cred),
	                  "d432fbb3-d2f1-4a97-9ef7-75bd81c00000", tag);
	assert_string_equal(tag, want);
}

static void test_register_body(void **state)
{
	buf_t ek = BUF_INIT, ak = BUF_INIT;
	api_versions_t v;
	register_opts_t o = {0};
	json_t *j;
	char *s;

	(void)state;
	buf_set(&ek, "\x00\x01\xff", 3);
	buf_set(&ak, "\x00\x02\xfe\xfd", 4);
	api_versions_parse("default", &v, NULL);
	o.uuid = "u";
	o.ek_tpm = &ek;
	o.aik_tpm = &ak;
	o.ekcert = "";
	o.mtls_cert = "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n";
	o.contact_ip = "127.0.0.1";
	o.contact_port = 9002;
	o.versions = &v;
	s = register_body(&o);
	j = json_loads(s, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "ek_tpm")), "AAH/");
	assert_string_equal(json_string_value(json_object_get(j, "aik_tpm")), "AAL+/Q==");
	/* No certificate is sent as "", which Keylime treats as absent. */
	assert_string_equal(json_string_value(json_object_get(j, "ekcert")), "");
	assert_string_equal(json_string_value(json_object_get(j, "mtls_cert")), o.mtls_cert);
	assert_string_equal(json_string_value(json_object_get(j, "ip")), "127.0.0.1");
	assert_true(json_is_integer(json_object_get(j, "port")));
	assert_int_equal(json_integer_value(json_object_get(j, "port")), 9002);
	assert_int_equal(json_object_size(j), 6);
	json_decref(j);
	free(s);
	buf_free(&ek);
	buf_free(&ak);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_versions_parse), cmocka_unit_test(test_negotiate),
	    cmocka_unit_test(test_path_split),     cmocka_unit_test(test_auth_tag),
	    cmocka_unit_test(test_register_body),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for common/pki: a CA issues server and client certificates that OpenSSL's
 * own path validation accepts for the right purpose only; SANs, key identifiers, serials
 * and validity are as documented; keys survive a save/load round trip with mode 0600. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include "common/crypto/pki.h"
#include "common/base/xmalloc.h"

int main(void);

/* Shared across tests: generating keys is the slow part. */
static EVP_PKEY *ca_key, *srv_key, *cli_key;
static X509 *ca_cert;
static char tmpdir[] = "/tmp/test_pki.XXXXXX";

static const char *const server_sans[] = {"127.0.0.1", "::1", "localhost", NULL};

static int setup(void **state)
{
	err_t e = {""};

	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	ca_key = pki_key_new(PKI_KEY_EC256);
	srv_key = pki_key_new(PKI_KEY_EC256);
	cli_key = pki_key_new(PKI_KEY_RSA2048);
	ca_cert = pki_cert_issue(ca_key, "vigil test CA", NULL, 3650, PKI_CERT_CA, NULL, NULL, &e);
	if (ca_cert == NULL) {
		fprintf(stderr, "CA: %s\n", e.msg);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", tmpdir);

	(void)state;
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(srv_key);
	EVP_PKEY_free(cli_key);
	X509_free(ca_cert);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	free(cmd);
	return 0;
}

/* X509_verify_cert of leaf against the given trust anchor, for one purpose. Returns the
 * verify error (X509_V_OK on success). */
static int verify(X509 *leaf, X509 *anchor, int purpose)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc;

	assert_non_null(st);
	assert_non_null(ctx);
	assert_int_equal(X509_STORE_add_cert(st, anchor), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, st, leaf, NULL), 1);
	if (purpose)
		assert_int_equal(X509_STORE_CTX_set_purpose(ctx, purpose), 1);
	rc = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return rc;
}

static X509 *issue(EVP_PKEY *k, const char *cn, const char *const *sans, pki_cert_kind_t kind)
{
	err_t e = {""};
	X509 *x = pki_cert_issue(k, cn, sans, 365, kind, ca_cert, ca_key, &e);

	if (x == NULL)
		fail_msg("issue %s: %s", cn, e.msg);
	return x;
}

static void test_issue_verify(void **state)
{
	X509 *srv, *cli, *both;

	(void)state;
	srv = issue(srv_key, "registrar", server_sans, PKI_CERT_SERVER);
	cli = issue(cli_key, "vigilctl", NULL, PKI_CERT_CLIENT);
	both = issue(srv_key, "verifier", server_sans, PKI_CERT_BOTH);

	assert_int_equal(verify(ca_cert, ca_cert, 0), X509_V_OK);
	assert_int_equal(verify(srv, ca_cert, X509_PURPOSE_SSL_SERVER), X509_V_OK);
	assert_int_equal(verify(cli, ca_cert, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
	assert_int_equal(verify(both, ca_cert, X509_PURPOSE_SSL_SERVER), X509_V_OK);
	assert_int_equal(verify(both, ca_cert, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
	/* The wrong purpose is refused: a client cert cannot serve, a server cert cannot log in. */
	assert_int_equal(verify(srv, ca_cert, X509_PURPOSE_SSL_CLIENT), X509_V_ERR_INVALID_PURPOSE);
	assert_int_equal(verify(cli, ca_cert, X509_PURPOSE_SSL_SERVER), X509_V_ERR_INVALID_PURPOSE);
	/* A leaf is no CA: what it signs does not verify. */
	{
		err_t e = {""};
		assert_null(
		    pki_cert_issue(cli_key, "x", NULL, 1, PKI_CERT_CLIENT, srv, srv_key, &e));
		assert_non_null(strstr(e.msg, "not a CA"));
	}
	/* Another CA does not vouch for our certificates. */
	{
		err_t e = {""};
		EVP_PKEY *k2 = pki_key_new(PKI_KEY_EC256);
		X509 *ca2 = pki_cert_issue(k2, "other CA", NULL, 30, PKI_CERT_CA, NULL, NULL, &e);
		assert_non_null(ca2);
		assert_int_equal(verify(srv, ca2, X509_PURPOSE_SSL_SERVER),
		                 X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
		X509_free(ca2);
		EVP_PKEY_free(k2);
	}
	X509_free(srv);
	X509_free(cli);
	X509_free(both);
}

static void test_sans(void **state)
{
	X509 *srv;
	GENERAL_NAMES *gens;
	static const unsigned char lo4[4] = {127, 0, 0, 1};
	static const unsigned char lo6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

	(void)state;
	srv = issue(srv_key, "registrar", server_sans, PKI_CERT_SERVER);
	gens = X509_get_ext_d2i(srv, NID_subject_alt_name, NULL, NULL);
	assert_non_null(gens);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 3);
	const GENERAL_NAME *g0 = sk_GENERAL_NAME_value(gens, 0);
	const GENERAL_NAME *g1 = sk_GENERAL_NAME_value(gens, 1);
	const GENERAL_NAME *g2 = sk_GENERAL_NAME_value(gens, 2);
	assert_int_equal(g0->type, GEN_IPADD);
	assert_int_equal(ASN1_STRING_length(g0->d.iPAddress), 4);
	assert_memory_equal(ASN1_STRING_get0_data(g0->d.iPAddress), lo4, 4);
	assert_int_equal(g1->type, GEN_IPADD);
	assert_int_equal(ASN1_STRING_length(g1->d.iPAddress), 16);
	assert_memory_equal(ASN1_STRING_get0_data(g1->d.iPAddress), lo6, 16);
	assert_int_equal(g2->type, GEN_DNS);
	assert_string_equal((const char *)ASN1_STRING_get0_data(g2->d.dNSName), "localhost");
	GENERAL_NAMES_free(gens);
	/* What TLS clients check. */
	assert_int_equal(X509_check_host(srv, "localhost", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(srv, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(srv, "::1", 0), 1);
	assert_int_equal(X509_check_host(srv, "evil.example", 0, 0, NULL), 0);
	assert_int_equal(X509_check_ip_asc(srv, "10.0.0.1", 0), 0);
	X509_free(srv);
}

static void test_extensions(void **state)
{
	X509 *srv, *cli, *srv2;
	const ASN1_OCTET_STRING *ca_skid, *akid;
	const BIGNUM *bn;
	BIGNUM *s1, *s2;
	time_t now = time(NULL);
	int day, sec;

	(void)state;
	srv = issue(srv_key, "registrar", server_sans, PKI_CERT_SERVER);
	srv2 = issue(srv_key, "registrar", server_sans, PKI_CERT_SERVER);
	cli = issue(cli_key, "vigilctl", NULL, PKI_CERT_CLIENT);

	assert_int_equal(X509_get_version(srv), X509_VERSION_3);
	assert_int_equal(X509_check_ca(ca_cert), 1);
	assert_int_equal(X509_check_ca(srv), 0);
	assert_true(X509_get_extension_flags(ca_cert) & EXFLAG_CA);
	assert_true(X509_get_key_usage(ca_cert) & KU_KEY_CERT_SIGN);
	assert_true(X509_get_key_usage(ca_cert) & KU_CRL_SIGN);
	assert_int_equal(X509_get_pathlen(ca_cert), 0);
	assert_int_equal(X509_get_key_usage(srv), KU_DIGITAL_SIGNATURE);
	/* RSA keys may also be used for key transport (TLS 1.2 RSA kex). */
	assert_int_equal(X509_get_key_usage(cli), KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
	assert_int_equal(X509_get_extended_key_usage(srv), XKU_SSL_SERVER);
	assert_int_equal(X509_get_extended_key_usage(cli), XKU_SSL_CLIENT);
	/* The leaf's AKID names the CA's SKID; the CA's own AKID is its SKID. */
	ca_skid = X509_get0_subject_key_id(ca_cert);
	assert_non_null(ca_skid);
	assert_non_null(X509_get0_subject_key_id(srv));
	akid = X509_get0_authority_key_id(srv);
	assert_non_null(akid);
	assert_int_equal(ASN1_OCTET_STRING_cmp(akid, ca_skid), 0);
	assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(ca_cert), ca_skid), 0);
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(srv), X509_get_subject_name(ca_cert)),
	                 0);
	/* Random 128-bit serials: positive, large, different. */
	s1 = ASN1_INTEGER_to_BN(X509_get0_serialNumber(srv), NULL);
	s2 = ASN1_INTEGER_to_BN(X509_get0_serialNumber(srv2), NULL);
	bn = s1;
	assert_false(BN_is_negative(bn));
	assert_true(BN_num_bits(s1) > 64 && BN_num_bits(s1) <= 128);
	assert_int_not_equal(BN_cmp(s1, s2), 0);
	BN_free(s1);
	BN_free(s2);
	/* Valid from an hour ago, for 365 days. */
	{
		ASN1_TIME *t = ASN1_TIME_set(NULL, now);
		assert_int_equal(ASN1_TIME_diff(&day, &sec, X509_get0_notBefore(srv), t), 1);
		assert_int_equal(day, 0);
		assert_true(sec >= 3590 && sec <= 3610);
		assert_int_equal(ASN1_TIME_diff(&day, &sec, t, X509_get0_notAfter(srv)), 1);
		assert_int_equal(day, 365);
		ASN1_TIME_free(t);
	}
	X509_free(srv);
	X509_free(srv2);
	X509_free(cli);
}

static void test_validity_capped_by_ca(void **state)
{
	err_t e = {""};
	EVP_PKEY *k = pki_key_new(PKI_KEY_EC256);
	X509 *shortca = pki_cert_issue(k, "short CA", NULL, 10, PKI_CERT_CA, NULL, NULL, &e);
	X509 *leaf;

	(void)state;
	assert_non_null(shortca);
	leaf = pki_cert_issue(srv_key, "n", NULL, 365, PKI_CERT_CLIENT, shortca, k, &e);
	assert_non_null(leaf);
	assert_int_equal(ASN1_TIME_compare(X509_get0_notAfter(leaf), X509_get0_notAfter(shortca)),
	                 0);
	X509_free(leaf);
	X509_free(shortca);
	EVP_PKEY_free(k);
}

/* The agent's certificate: self-signed, serves and logs in, pinned as its own anchor. */
static void test_self_signed(void **state)
{
	err_t e = {""};
	const char *const sans[] = {"192.0.2.7", NULL};
	X509 *x = pki_cert_issue(srv_key, "d432fbb3-d2f1-4a97-9ef7-75bd81c00000", sans, 365,
	                         PKI_CERT_SERVER, NULL, NULL, &e);

	(void)state;
	assert_non_null(x);
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(x)), 0);
	assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_SERVER | XKU_SSL_CLIENT);
	assert_int_equal(X509_check_ca(x), 0);
	assert_int_equal(verify(x, x, X509_PURPOSE_SSL_SERVER), X509_V_OK);
	assert_int_equal(verify(x, x, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
	assert_int_equal(X509_check_ip_asc(x, "192.0.2.7", 0), 1);
	/* A different self-signed certificate is not trusted by this pin. */
	{
		X509 *y =
		    pki_cert_issue(srv_key, "other", sans, 1, PKI_CERT_SERVER, NULL, NULL, &e);
		assert_non_null(y);
		assert_int_not_equal(verify(y, x, X509_PURPOSE_SSL_SERVER), X509_V_OK);
		X509_free(y);
	}
	X509_free(x);
}

static void test_key_roundtrip(void **state)
{
	err_t e = {""};
	EVP_PKEY *keys[2] = {srv_key, cli_key};
	struct stat st;

	(void)state;
	for (int i = 0; i < 2; i++) {
		char *path = xasprintf("%s/key%d.pem", tmpdir, i);
		EVP_PKEY *back;

		assert_int_equal(pki_key_save(keys[i], path, &e), 0);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		back = pki_key_load(path, &e);
		assert_non_null(back);
		assert_int_equal(EVP_PKEY_eq(back, keys[i]), 1);
		assert_int_equal(EVP_PKEY_get_bits(back), i == 0 ? 256 : 2048);
		/* Overwriting keeps the mode even when the old file was wider. */
		assert_int_equal(chmod(path, 0644), 0);
		assert_int_equal(pki_key_save(keys[i], path, &e), 0);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		EVP_PKEY_free(back);
		free(path);
	}
}

static void test_key_load_errors(void **state)
{
	err_t e = {""};
	char *missing = xasprintf("%s/missing.pem", tmpdir);
	char *junk = xasprintf("%s/junk.pem", tmpdir);
	char *certfile = xasprintf("%s/cert.pem", tmpdir);
	static const char enc[] = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n"
	                          "-----END ENCRYPTED PRIVATE KEY-----\n";

	(void)state;
	assert_null(pki_key_load(missing, &e));
	assert_non_null(strstr(e.msg, "No such file"));
	assert_int_equal(buf_write_file(junk, "hello\n", 6, 0600), 0);
	assert_null(pki_key_load(junk, &e));
	assert_non_null(strstr(e.msg, "not a PEM private key"));
	assert_int_equal(buf_write_file(junk, enc, sizeof(enc) - 1, 0600), 0);
	assert_null(pki_key_load(junk, &e));
	assert_non_null(strstr(e.msg, "encrypted"));
	/* A certificate is not a key, and a key is not a certificate. */
	assert_int_equal(pki_cert_save(ca_cert, certfile, &e), 0);
	assert_null(pki_key_load(certfile, &e));
	assert_int_equal(pki_key_save(srv_key, junk, &e), 0);
	assert_null(pki_cert_load(junk, &e));
	assert_non_null(strstr(e.msg, "no PEM certificate"));
	free(missing);
	free(junk);
	free(certfile);
}

static void test_cert_roundtrip(void **state)
{
	err_t e = {""};
	char *path = xasprintf("%s/ca.crt", tmpdir);
	struct stat st;
	X509 *back;
	buf_t pem = BUF_INIT;

	(void)state;
	assert_int_equal(pki_cert_save(ca_cert, path, &e), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	back = pki_cert_load(path, &e);
	assert_non_null(back);
	assert_int_equal(X509_cmp(back, ca_cert), 0);
	assert_int_equal(pki_cert_pem(ca_cert, &pem), 0);
	assert_non_null(strstr((char *)pem.data, "-----BEGIN CERTIFICATE-----"));
	buf_reset(&pem);
	assert_int_equal(pki_pubkey_pem(srv_key, &pem), 0);
	assert_non_null(strstr((char *)pem.data, "-----BEGIN PUBLIC KEY-----"));
	buf_free(&pem);
	X509_free(back);
	free(path);
}

static void test_rejects(void **state)
{
	err_t e = {""};
	EVP_PKEY *other = pki_key_new(PKI_KEY_EC256);
	static const char *bad_sans[] = {
	    "",       "bad host",  "-lead.example", "a..b", "a.b-",
	    "*.wild", "300.1.2.3", "1.2.3",         "::g1", "under_score.example"};
	char longcn[PKI_CN_MAX + 2];

	(void)state;
	for (size_t i = 0; i < sizeof(bad_sans) / sizeof(bad_sans[0]); i++) {
		const char *sans[] = {bad_sans[i], NULL};
		e.msg[0] = 0;
		assert_int_equal(pki_san_check(bad_sans[i], &e), -1);
		assert_true(e.msg[0] != 0);
		assert_null(
		    pki_cert_issue(srv_key, "n", sans, 1, PKI_CERT_SERVER, ca_cert, ca_key, &e));
	}
	assert_int_equal(pki_san_check("node-1.fleet.example", &e), 0);
	assert_int_equal(pki_san_check("fe80::1", &e), 0);
	assert_null(pki_cert_issue(srv_key, "n", NULL, 0, PKI_CERT_SERVER, ca_cert, ca_key, &e));
	assert_non_null(strstr(e.msg, "validity"));
	assert_null(
	    pki_cert_issue(srv_key, "n", NULL, PKI_DAYS_MAX + 1, PKI_CERT_SERVER, NULL, NULL, &e));
	assert_null(pki_cert_issue(srv_key, "", NULL, 1, PKI_CERT_SERVER, ca_cert, ca_key, &e));
	assert_non_null(strstr(e.msg, "common name"));
	memset(longcn, 'a', sizeof(longcn) - 1);
	longcn[sizeof(longcn) - 1] = 0;
	assert_null(pki_cert_issue(srv_key, longcn, NULL, 1, PKI_CERT_SERVER, NULL, NULL, &e));
	assert_null(pki_cert_issue(srv_key, "a\nb", NULL, 1, PKI_CERT_SERVER, NULL, NULL, &e));
	/* A CA certificate with somebody else's key. */
	assert_null(pki_cert_issue(srv_key, "n", NULL, 1, PKI_CERT_SERVER, ca_cert, other, &e));
	assert_non_null(strstr(e.msg, "does not belong"));
	assert_null(pki_cert_issue(srv_key, "n", NULL, 1, PKI_CERT_SERVER, ca_cert, NULL, &e));
	EVP_PKEY_free(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_issue_verify),    cmocka_unit_test(test_sans),
	    cmocka_unit_test(test_extensions),      cmocka_unit_test(test_validity_capped_by_ca),
	    cmocka_unit_test(test_self_signed),     cmocka_unit_test(test_key_roundtrip),
	    cmocka_unit_test(test_key_load_errors), cmocka_unit_test(test_cert_roundtrip),
	    cmocka_unit_test(test_rejects),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

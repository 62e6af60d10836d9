/* Unit tests for the agent's identity: UUID settings (literal, generate, hash_ek against a
 * recorded swtpm P-384 EK whose hash was computed with tpm2_readpublic -f pem | sha256sum)
 * and the self-signed TLS certificate kept in the state dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/x509v3.h>

#include "agent/identity.h"
#include "common/base/buf.h"
#include "common/crypto/pki.h"

int main(void);

/* TPM2B_PUBLIC of swtpm_setup's NIST P-384 EK (template H-3), 0x81010016. */
static const char ek384_hex[] =
    "00aa0023000c000300f20030b26e7d28d11a50bc53d882bcf5fd3a1a074148bb35d3b4e4cb1c0ad9bde419cacb47ba"
    "09699646150f9fc000f3f80e1200060100004300100004001000307f202ae58cf5dc4851a41755b9ff05adef315118"
    "1d69f324b77a66ac43f3da36d10b15d88c110522490c9486eb7a06a30030c9aab3a931f1e4613b722d7b97f55fea06"
    "b1bffa7573b1e3e0ee2b4498c9f310600a9bb167aa95e090b46461b7faed28";
static const char ek384_hash[] = "afd97ba02bb0263a367b7a387de9219913c641b36369782409a7a1c5f7b81a6b";

static void test_uuid_settings(void **state)
{
	buf_t ek = BUF_INIT;
	err_t e = {""};
	char *u, *v;

	(void)state;
	assert_null(identity_uuid_check("generate"));
	assert_null(identity_uuid_check("hash_ek"));
	assert_null(identity_uuid_check("D432FBB3-d2f1-4a97-9ef7-75bd81c00000"));
	assert_non_null(identity_uuid_check("d432fbb3d2f14a979ef775bd81c00000"));
	assert_non_null(identity_uuid_check("d432fbb3-d2f1-4a97-9ef7-75bd81c0000g"));
	assert_non_null(identity_uuid_check(""));
	assert_non_null(identity_uuid_check("agent1"));

	u = identity_uuid("D432FBB3-D2F1-4A97-9EF7-75BD81C00000", &ek, &e);
	assert_string_equal(u, "d432fbb3-d2f1-4a97-9ef7-75bd81c00000");
	free(u);
	assert_null(identity_uuid("nope", &ek, &e));

	/* generate: a fresh RFC 4122 version-4 UUID each time. */
	u = identity_uuid("generate", &ek, &e);
	v = identity_uuid("generate", &ek, &e);
	assert_non_null(u);
	assert_null(identity_uuid_check(u));
	assert_int_equal(u[14], '4');
	assert_non_null(strchr("89ab", u[19]));
	assert_string_not_equal(u, v);
	free(u);
	free(v);

	/* hash_ek: Keylime's SHA-256 of the EK public key PEM. */
	assert_int_equal(hex_decode(&ek, ek384_hex, strlen(ek384_hex)), 0);
	u = identity_uuid("hash_ek", &ek, &e);
	assert_non_null(u);
	assert_string_equal(u, ek384_hash);
	free(u);
	buf_reset(&ek);
	buf_set(&ek, "\x00\x02\x00\x01", 4);
	assert_null(identity_uuid("hash_ek", &ek, &e));
	buf_free(&ek);
}

static char *tmpdir(void)
{
	char *d = strdup("/tmp/vigil-identity.XXXXXX");
	assert_non_null(mkdtemp(d));
	return d;
}

static void rmdir_files(const char *d)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/server-cert.pem", d);
	unlink(p);
	snprintf(p, sizeof(p), "%s/server-private.pem", d);
	unlink(p);
	rmdir(d);
}

static X509 *load_cert(const char *d)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/server-cert.pem", d);
	return pki_cert_load(p, NULL);
}

static void test_tls_ensure(void **state)
{
	char *d = tmpdir(), cn[128], kp[512];
	buf_t a = BUF_INIT, b = BUF_INIT;
	err_t e = {""};
	X509 *c;
	struct stat st;

	(void)state;
	assert_int_equal(identity_tls_ensure(d, "uuid-1", "127.0.0.1", &a, &e), 0);
	c = load_cert(d);
	assert_non_null(c);
	X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, cn, sizeof(cn));
	assert_string_equal(cn, "uuid-1");
	assert_int_equal(X509_check_ip_asc(c, "127.0.0.1", 0), 1);
	assert_int_equal(EVP_PKEY_get_base_id(X509_get0_pubkey(c)), EVP_PKEY_EC);
	X509_free(c);
	snprintf(kp, sizeof(kp), "%s/server-private.pem", d);
	assert_int_equal(stat(kp, &st), 0);
	assert_int_equal(st.st_mode & 077, 0); /* the key is private */

	/* Same identity: the same certificate, byte for byte. */
	assert_int_equal(identity_tls_ensure(d, "uuid-1", "127.0.0.1", &b, &e), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);

	/* Another UUID or contact address: reissued for the same key. */
	assert_int_equal(identity_tls_ensure(d, "uuid-2", "127.0.0.1", &b, &e), 0);
	assert_true(a.len != b.len || memcmp(a.data, b.data, a.len) != 0);
	assert_int_equal(identity_tls_ensure(d, "uuid-2", "10.1.2.3", &a, &e), 0);
	c = load_cert(d);
	assert_int_equal(X509_check_ip_asc(c, "10.1.2.3", 0), 1);
	X509_free(c);
	buf_free(&a);
	buf_free(&b);
	rmdir_files(d);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_uuid_settings),
	    cmocka_unit_test(test_tls_ensure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for common/tpm2 on TPM2B_PUBLICs recorded from swtpm with tpm2-tools
 * (test/unit/data/README.md): decoding, Names equal to the TPM's, keys equal to the EK
 * certificates', AK rules with their messages, and refusal of malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/x509.h>

#include "common/base/buf.h"
#include "common/crypto/tpm2.h"

int main(void);

#define DATA "test/unit/data/"

static void load(buf_t *b, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), DATA "%s", name);
	if (buf_read_file(b, path, 1 << 20) < 0)
		fail_msg("cannot read %s (run from the top of the tree)", path);
}

static tpm2_pub_t *load_pub(const char *name)
{
	buf_t b = BUF_INIT;
	err_t e = {""};
	tpm2_pub_t *k;

	load(&b, name);
	k = tpm2_pub_decode(b.data, b.len, &e);
	if (k == NULL)
		fail_msg("%s: %s", name, e.msg);
	buf_free(&b);
	return k;
}

/* Decode bytes that must be refused; the reason must mention want. */
static void expect_reject(const uint8_t *p, size_t len, const char *want)
{
	err_t e = {""};
	tpm2_pub_t *k = tpm2_pub_decode(p, len, &e);

	if (k != NULL)
		fail_msg("accepted %zu bytes that should be refused (%s)", len, want);
	if (strstr(e.msg, want) == NULL)
		fail_msg("reason \"%s\" does not mention \"%s\"", e.msg, want);
}

static void test_decode_real(void **state)
{
	static const struct {
		const char *file; /* recorded TPM2B_PUBLIC */
		uint16_t type;    /* expected type */
		uint16_t alg;     /* expected nameAlg */
		int bits;         /* expected key bits */
	} v[] = {
	    {"tpm2/ek_rsa.pub", TPM2_ALG_RSA_ID, TPM2_ALG_SHA256_ID, 2048},
	    {"tpm2/ek_ecc.pub", TPM2_ALG_ECC_ID, TPM2_ALG_SHA256_ID, 256},
	    {"tpm2/ek_ecc384.pub", TPM2_ALG_ECC_ID, TPM2_ALG_SHA384_ID, 384},
	    {"tpm2/ak_rsa.pub", TPM2_ALG_RSA_ID, TPM2_ALG_SHA256_ID, 2048},
	    {"tpm2/ak_ecc.pub", TPM2_ALG_ECC_ID, TPM2_ALG_SHA256_ID, 256},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		buf_t raw = BUF_INIT;
		size_t n;
		tpm2_pub_t *k = load_pub(v[i].file);
		load(&raw, v[i].file);
		assert_int_equal(tpm2_pub_type(k), v[i].type);
		assert_int_equal(tpm2_pub_name_alg(k), v[i].alg);
		assert_int_equal(tpm2_pub_key_bits(k), v[i].bits);
		const uint8_t *p = tpm2_pub_bytes(k, &n);
		assert_int_equal(n, raw.len);
		assert_memory_equal(p, raw.data, n);
		tpm2_pub_free(k);
		buf_free(&raw);
	}
	tpm2_pub_free(NULL);
}

/* The Name we compute must be the one the TPM reported (tpm2_createak -n,
 * tpm2_readpublic -n). */
static void test_name_matches_tpm(void **state)
{
	static const char *v[] = {"ek_rsa", "ek_ecc", "ek_ecc384", "ak_rsa", "ak_ecc"};
	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char f[64];
		buf_t want = BUF_INIT, got = BUF_INIT;
		err_t e = {""};
		snprintf(f, sizeof(f), "tpm2/%s.pub", v[i]);
		tpm2_pub_t *k = load_pub(f);
		snprintf(f, sizeof(f), "tpm2/%s.name", v[i]);
		load(&want, f);
		assert_int_equal(tpm2_pub_name(k, &got, &e), 0);
		assert_int_equal(got.len, want.len);
		assert_memory_equal(got.data, want.data, want.len);
		tpm2_pub_free(k);
		buf_free(&want);
		buf_free(&got);
	}
}

static X509 *load_der_cert(const char *name)
{
	buf_t b = BUF_INIT;
	const unsigned char *p;
	X509 *x;

	load(&b, name);
	p = b.data;
	x = d2i_X509(NULL, &p, (long)b.len);
	assert_non_null(x);
	buf_free(&b);
	return x;
}

/* swtpm certified the EKs it made; the same TPM's tpm2_createek / readpublic output must
 * be the very key in the certificate, and its PEM the one openssl prints. */
static void test_pkey_and_pem_match_ek_cert(void **state)
{
	static const struct {
		const char *pub;  /* TPM2B_PUBLIC */
		const char *cert; /* its EK certificate */
		const char *spki; /* openssl x509 -pubkey output */
	} v[] = {
	    {"tpm2/ek_rsa.pub", "ekcert/swtpm_ek_rsa.der", "tpm2/ek_rsa.spki.pem"},
	    {"tpm2/ek_ecc384.pub", "ekcert/swtpm_ek_ecc384.der", "tpm2/ek_ecc384.spki.pem"},
	};
	(void)state;
	for (size_t i = 0; i < 2; i++) {
		tpm2_pub_t *k = load_pub(v[i].pub);
		X509 *x = load_der_cert(v[i].cert);
		buf_t pem = BUF_INIT, want = BUF_INIT;
		err_t e = {""};
		assert_int_equal(tpm2_pub_matches_pkey(k, X509_get0_pubkey(x)), 1);
		assert_int_equal(tpm2_pub_pem(k, &pem, &e), 0);
		load(&want, v[i].spki);
		assert_int_equal(pem.len, want.len);
		assert_memory_equal(pem.data, want.data, want.len);
		/* The other EK is a different key. */
		tpm2_pub_t *other = load_pub(i == 0 ? v[1].pub : v[0].pub);
		assert_int_equal(tpm2_pub_matches_pkey(other, X509_get0_pubkey(x)), 0);
		tpm2_pub_t *p256 = load_pub("tpm2/ek_ecc.pub");
		assert_int_equal(tpm2_pub_matches_pkey(p256, X509_get0_pubkey(x)), 0);
		assert_int_equal(tpm2_pub_matches_pkey(k, NULL), 0);
		tpm2_pub_free(p256);
		tpm2_pub_free(other);
		tpm2_pub_free(k);
		X509_free(x);
		buf_free(&pem);
		buf_free(&want);
	}
}

static void test_to_pkey(void **state)
{
	err_t e = {""};
	BIGNUM *n = NULL;
	char group[32];
	(void)state;

	tpm2_pub_t *k = load_pub("tpm2/ak_rsa.pub");
	EVP_PKEY *pk = tpm2_pub_to_pkey(k, &e);
	assert_non_null(pk);
	assert_true(EVP_PKEY_is_a(pk, "RSA"));
	assert_int_equal(EVP_PKEY_get_bits(pk), 2048);
	/* The recorded exponent field is 0, which means 65537. */
	assert_int_equal(tpm2_pub_area(k)->parameters.rsaDetail.exponent, 0);
	assert_int_equal(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &n), 1);
	assert_true(BN_is_word(n, 65537));
	BN_free(n);
	EVP_PKEY_free(pk);
	tpm2_pub_free(k);

	k = load_pub("tpm2/ek_ecc384.pub");
	pk = tpm2_pub_to_pkey(k, &e);
	assert_non_null(pk);
	assert_int_equal(EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group,
	                                                sizeof(group), NULL),
	                 1);
	assert_string_equal(group, "secp384r1");
	EVP_PKEY_free(pk);
	tpm2_pub_free(k);
}

/* An explicit exponent is used as given. RSA layout of the recorded AK: size(2) type(2)
 * nameAlg(2) attrs(4) authPolicy(2+0) symmetric(2) scheme(2+2) keyBits(2) exponent(4). */
static void test_rsa_exponent(void **state)
{
	buf_t b = BUF_INIT;
	err_t e = {""};
	BIGNUM *n = NULL;
	(void)state;

	load(&b, "tpm2/ak_rsa.pub");
	assert_int_equal(b.data[10] << 8 | b.data[11], 0);    /* empty authPolicy */
	assert_int_equal(b.data[18] << 8 | b.data[19], 2048); /* keyBits */
	b.data[23] = 3;                                       /* exponent 3 */
	tpm2_pub_t *k = tpm2_pub_decode(b.data, b.len, &e);
	assert_non_null(k);
	EVP_PKEY *pk = tpm2_pub_to_pkey(k, &e);
	assert_non_null(pk);
	assert_int_equal(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &n), 1);
	assert_true(BN_is_word(n, 3));
	BN_free(n);
	EVP_PKEY_free(pk);
	tpm2_pub_free(k);
	/* An even exponent is not an RSA key. */
	b.data[23] = 4;
	k = tpm2_pub_decode(b.data, b.len, &e);
	assert_non_null(k);
	assert_null(tpm2_pub_to_pkey(k, &e));
	tpm2_pub_free(k);
	buf_free(&b);
}

static void test_decode_rejects(void **state)
{
	buf_t b = BUF_INIT, m = BUF_INIT;
	(void)state;

	load(&b, "tpm2/ak_ecc.pub");
	/* Every truncation. */
	for (size_t n = 0; n < b.len; n++) {
		err_t e = {""};
		assert_null(tpm2_pub_decode(b.data, n, &e));
		assert_true(e.msg[0] != 0);
	}
	assert_null(tpm2_pub_decode(NULL, 0, NULL));
	/* A trailing byte. */
	buf_set(&m, b.data, b.len);
	buf_append(&m, "\0", 1);
	expect_reject(m.data, m.len, "trailing");
	/* Size field one larger with one more byte: contents do not fill the size. */
	m.data[1]++;
	expect_reject(m.data, m.len, "does not match");
	/* Size field one smaller: the last byte trails. */
	buf_set(&m, b.data, b.len);
	m.data[1]--;
	expect_reject(m.data, m.len, "trailing");
	/* Size 0. */
	expect_reject((const uint8_t *)"\0\0", 2, "empty");
	/* An inner TPM2B that claims more than there is. */
	buf_set(&m, b.data, b.len);
	m.data[22] = 0x7f; /* unique.x.size high byte */
	expect_reject(m.data, m.len, "parse");
	/* KEYEDHASH objects are not keys we can use. */
	buf_set(&m, b.data, b.len);
	m.data[2] = 0x00;
	m.data[3] = 0x08;
	expect_reject(m.data, m.len, "");
	/* Unknown nameAlg. */
	buf_set(&m, b.data, b.len);
	m.data[4] = 0x00;
	m.data[5] = 0x12; /* SM3_256 */
	expect_reject(m.data, m.len, "nameAlg");
	/* Garbage. */
	uint8_t junk[300];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37 + 11);
	junk[0] = 0x01;
	junk[1] = 0x2a;
	expect_reject(junk, sizeof(junk), "");
	expect_reject(junk, 1, "truncated");
	buf_free(&b);
	buf_free(&m);
}

/* A point off the curve and an unknown curve decode (they are well-formed structures) but
 * never become keys. ECC layout: ... scheme(2+2) curve(2) kdf(2) x(2+32) y(2+32). */
static void test_ecc_bad_points(void **state)
{
	buf_t b = BUF_INIT;
	err_t e = {""};
	(void)state;

	load(&b, "tpm2/ak_ecc.pub");
	assert_int_equal(b.data[18] << 8 | b.data[19], 0x0003); /* NIST P-256 */
	b.data[b.len - 1] ^= 1;                                 /* y off the curve */
	tpm2_pub_t *k = tpm2_pub_decode(b.data, b.len, &e);
	assert_non_null(k);
	assert_null(tpm2_pub_to_pkey(k, &e));
	assert_true(e.msg[0] != 0);
	assert_int_equal(tpm2_pub_check_ak(k, &e), -1);
	tpm2_pub_free(k);
	b.data[b.len - 1] ^= 1;
	b.data[19] = 0x20; /* SM2 curve */
	k = tpm2_pub_decode(b.data, b.len, &e);
	assert_non_null(k);
	assert_null(tpm2_pub_to_pkey(k, &e));
	assert_non_null(strstr(e.msg, "curve"));
	tpm2_pub_free(k);
	buf_free(&b);
}

static void test_check_ak_real(void **state)
{
	err_t e = {""};
	(void)state;

	tpm2_pub_t *k = load_pub("tpm2/ak_rsa.pub");
	assert_int_equal(tpm2_pub_check_ak(k, &e), 0);
	tpm2_pub_free(k);
	k = load_pub("tpm2/ak_ecc.pub");
	assert_int_equal(tpm2_pub_check_ak(k, &e), 0);
	tpm2_pub_free(k);
	/* The EKs are restricted decryption keys: refused, for the right reason. */
	static const char *eks[] = {"tpm2/ek_rsa.pub", "tpm2/ek_ecc.pub", "tpm2/ek_ecc384.pub"};
	for (size_t i = 0; i < 3; i++) {
		k = load_pub(eks[i]);
		assert_int_equal(tpm2_pub_check_ak(k, &e), -1);
		assert_string_equal(e.msg, "AK is a decryption key (decrypt attribute set)");
		tpm2_pub_free(k);
	}
}

/* Check one mutation of a recorded AK: refused, with this message fragment. */
static void ak_mutant(const char *file, size_t off, const uint8_t *bytes, size_t n,
                      const char *want)
{
	buf_t b = BUF_INIT;
	err_t e = {""};

	load(&b, file);
	memcpy(b.data + off, bytes, n);
	tpm2_pub_t *k = tpm2_pub_decode(b.data, b.len, &e);
	assert_non_null(k);
	assert_int_equal(tpm2_pub_check_ak(k, &e), -1);
	if (strstr(e.msg, want) == NULL)
		fail_msg("%s: got \"%s\", want \"%s\"", file, e.msg, want);
	tpm2_pub_free(k);
	buf_free(&b);
}

static void test_check_ak_rules(void **state)
{
	static const struct {
		uint32_t clear; /* attribute bits cleared */
		uint32_t set;   /* attribute bits set */
		const char *msg;
	} v[] = {
	    {0x00000002, 0, "AK is not fixedTPM"},
	    {0x00000010, 0, "AK is not fixedParent"},
	    {0x00000020, 0, "AK is not sensitiveDataOrigin"},
	    {0x00010000, 0, "AK is not restricted"},
	    {0x00040000, 0, "AK is not a signing key"},
	    {0, 0x00020000, "AK is a decryption key"},
	};
	buf_t b = BUF_INIT;
	(void)state;

	load(&b, "tpm2/ak_rsa.pub");
	uint32_t attrs = (uint32_t)b.data[6] << 24 | (uint32_t)b.data[7] << 16 |
	                 (uint32_t)b.data[8] << 8 | b.data[9];
	assert_int_equal(attrs & 0x00070032, 0x00050032); /* the rules hold as recorded */
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint32_t a = (attrs & ~v[i].clear) | v[i].set;
		uint8_t x[4] = {(uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8),
		                (uint8_t)a};
		ak_mutant("tpm2/ak_rsa.pub", 6, x, 4, v[i].msg);
		ak_mutant("tpm2/ak_ecc.pub", 6, x, 4, v[i].msg);
	}
	/* nameAlg SHA-1. */
	ak_mutant("tpm2/ak_rsa.pub", 4, (const uint8_t *)"\x00\x04", 2, "weaker than SHA-256");
	ak_mutant("tpm2/ak_ecc.pub", 4, (const uint8_t *)"\x00\x04", 2, "weaker than SHA-256");
	/* RSA-1024 (keyBits only: the rule fires before the key is looked at). */
	ak_mutant("tpm2/ak_rsa.pub", 18, (const uint8_t *)"\x04\x00", 2, "at least RSA-2048");
	/* RSAPSS instead of RSASSA. */
	assert_int_equal(b.data[14] << 8 | b.data[15], 0x0014);
	ak_mutant("tpm2/ak_rsa.pub", 14, (const uint8_t *)"\x00\x16", 2, "RSASSA is required");
	/* ECSCHNORR instead of ECDSA. */
	ak_mutant("tpm2/ak_ecc.pub", 14, (const uint8_t *)"\x00\x1c", 2, "ECDSA is required");
	buf_free(&b);
}

static void test_alg_helpers(void **state)
{
	(void)state;
	assert_ptr_equal(tpm2_alg_md(TPM2_ALG_SHA256_ID), EVP_sha256());
	assert_ptr_equal(tpm2_alg_md(TPM2_ALG_SHA1_ID), EVP_sha1());
	assert_null(tpm2_alg_md(0x0012));
	assert_int_equal(tpm2_alg_size(TPM2_ALG_SHA384_ID), 48);
	assert_int_equal(tpm2_alg_size(TPM2_ALG_SHA512_ID), 64);
	assert_int_equal(tpm2_alg_size(0), 0);
	assert_string_equal(tpm2_alg_name(TPM2_ALG_SHA256_ID), "sha256");
	assert_null(tpm2_alg_name(0x0012));
	assert_int_equal(tpm2_alg_from_name("sha1"), TPM2_ALG_SHA1_ID);
	assert_int_equal(tpm2_alg_from_name("SHA384"), TPM2_ALG_SHA384_ID);
	assert_int_equal(tpm2_alg_from_name("sm3_256"), 0);
	assert_int_equal(tpm2_alg_from_name(NULL), 0);
	/* The whole table, as the event log sees it: SM3 and SHA-3 named, exact spelling. */
	assert_string_equal(tpm2_hash_alg(TPM2_ALG_SM3_256_ID)->name, "sm3_256");
	assert_int_equal(tpm2_hash_alg(TPM2_ALG_SHA3_384_ID)->size, 48);
	assert_null(tpm2_hash_alg(0x1234));
	assert_int_equal(tpm2_hash_alg_by_name("sha3_512")->alg, TPM2_ALG_SHA3_512_ID);
	assert_null(tpm2_hash_alg_by_name("SHA256"));
	assert_null(tpm2_hash_alg_by_name(NULL));
	assert_int_equal(EVP_MD_get_size(tpm2_hash_alg_fetched(TPM2_ALG_SHA3_256_ID)), 32);
	/* Banks only: the fetched digest is shared and matches the table's size. */
	assert_int_equal(tpm2_alg_bank(TPM2_ALG_SHA512_ID), 3);
	assert_int_equal(tpm2_alg_bank(TPM2_ALG_SM3_256_ID), -1);
	assert_int_equal(EVP_MD_get_size(tpm2_alg_md_fetched(TPM2_ALG_SHA384_ID)), 48);
	assert_ptr_equal(tpm2_alg_md_fetched(TPM2_ALG_SHA1_ID),
	                 tpm2_alg_md_fetched(TPM2_ALG_SHA1_ID));
	assert_null(tpm2_alg_md_fetched(TPM2_ALG_SHA3_256_ID));
	size_t fb = 0;
	assert_string_equal(tpm2_curve_group(0x0005, &fb), "P-521");
	assert_int_equal(fb, 66);
	assert_null(tpm2_curve_group(0x0001, &fb));
	assert_int_equal(fb, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decode_real),
	    cmocka_unit_test(test_name_matches_tpm),
	    cmocka_unit_test(test_pkey_and_pem_match_ek_cert),
	    cmocka_unit_test(test_to_pkey),
	    cmocka_unit_test(test_rsa_exponent),
	    cmocka_unit_test(test_decode_rejects),
	    cmocka_unit_test(test_ecc_bad_points),
	    cmocka_unit_test(test_check_ak_real),
	    cmocka_unit_test(test_check_ak_rules),
	    cmocka_unit_test(test_alg_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

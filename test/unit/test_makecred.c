/* Unit tests for common/makecred: the KDFs against OpenSSL's own SP 800-108 (KBKDF) and
 * SP 800-56C (SSKDF); whole credentials made for software EKs (RSA, P-256, P-384) and
 * activated here with OpenSSL alone, as a TPM would; the blob codec, including blobs
 * written by tpm2_makecredential; and refusal of bad keys, Names and blobs. The real TPM
 * check is test/integration/t_makecred.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rsa.h>

#include <tss2/tss2_mu.h>

#include "common/base/buf.h"
#include "common/crypto/makecred.h"
#include "common/crypto/makecred_priv.h"
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

/* OpenSSL's KBKDF in counter mode with HMAC: [i] || label || 00 || context || [L]. */
static void ossl_kbkdf(const char *md, const uint8_t *key, size_t klen, const char *label,
                       const uint8_t *ctx, size_t clen, uint8_t *out, size_t outlen)
{
	char mode[] = "counter", mac[] = "HMAC", dig[16];
	uint8_t dummy = 0;
	OSSL_PARAM p[7];
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "KBKDF", NULL);
	EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf);

	snprintf(dig, sizeof(dig), "%s", md);
	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, mode, 0);
	p[1] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, mac, 0);
	p[2] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, dig, 0);
	p[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)(uintptr_t)key, klen);
	p[4] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)(uintptr_t)label,
	                                         strlen(label));
	p[5] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
	                                         clen ? (void *)(uintptr_t)ctx : &dummy, clen);
	p[6] = OSSL_PARAM_construct_end();
	assert_non_null(kctx);
	assert_int_equal(EVP_KDF_derive(kctx, out, outlen, p), 1);
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
}

/* OpenSSL's one-step KDF: H([i] || Z || fixedinfo). */
static void ossl_sskdf(const char *md, const uint8_t *z, size_t zlen, const uint8_t *info,
                       size_t ilen, uint8_t *out, size_t outlen)
{
	char dig[16];
	OSSL_PARAM p[4];
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SSKDF", NULL);
	EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf);

	snprintf(dig, sizeof(dig), "%s", md);
	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, dig, 0);
	p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)(uintptr_t)z, zlen);
	p[2] =
	    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)(uintptr_t)info, ilen);
	p[3] = OSSL_PARAM_construct_end();
	assert_non_null(kctx);
	assert_int_equal(EVP_KDF_derive(kctx, out, outlen, p), 1);
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
}

static void test_kdfa_matches_openssl(void **state)
{
	static const uint16_t algs[] = {TPM2_ALG_SHA1_ID, TPM2_ALG_SHA256_ID, TPM2_ALG_SHA384_ID,
	                                TPM2_ALG_SHA512_ID};
	static const size_t lens[] = {16, 20, 32, 33, 48, 64, 100};
	uint8_t key[48], ctx[34], a[100], b[100];
	(void)state;

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < sizeof(ctx); i++)
		ctx[i] = (uint8_t)(0xa0 + i);
	for (size_t i = 0; i < 4; i++) {
		for (size_t j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
			const char *md = tpm2_alg_name(algs[i]);
			assert_int_equal(makecred_kdfa(algs[i], key, 32, "STORAGE", ctx, 34, NULL,
			                               0, a, lens[j] * 8),
			                 0);
			ossl_kbkdf(md, key, 32, "STORAGE", ctx, 34, b, lens[j]);
			assert_memory_equal(a, b, lens[j]);
			/* context_u || context_v is one context. */
			assert_int_equal(makecred_kdfa(algs[i], key, 32, "STORAGE", ctx, 10,
			                               ctx + 10, 24, b, lens[j] * 8),
			                 0);
			assert_memory_equal(a, b, lens[j]);
			assert_int_equal(makecred_kdfa(algs[i], key, 48, "INTEGRITY", NULL, 0, NULL,
			                               0, a, lens[j] * 8),
			                 0);
			ossl_kbkdf(md, key, 48, "INTEGRITY", NULL, 0, b, lens[j]);
			assert_memory_equal(a, b, lens[j]);
		}
	}
	assert_int_equal(makecred_kdfa(0x0012, key, 32, "X", NULL, 0, NULL, 0, a, 128), -1);
	assert_int_equal(makecred_kdfa(TPM2_ALG_SHA256_ID, key, 32, "X", NULL, 0, NULL, 0, a, 7),
	                 -1);
}

static void test_kdfe_matches_openssl(void **state)
{
	uint8_t z[66], u[66], v[66], info[9 + 132], a[96], b[96];
	(void)state;

	for (size_t i = 0; i < 66; i++) {
		z[i] = (uint8_t)(i * 3);
		u[i] = (uint8_t)(0x40 + i);
		v[i] = (uint8_t)(0x90 ^ i);
	}
	static const uint16_t algs[] = {TPM2_ALG_SHA256_ID, TPM2_ALG_SHA384_ID, TPM2_ALG_SHA512_ID};
	static const size_t fbs[] = {32, 48, 66};
	for (size_t i = 0; i < 3; i++) {
		size_t fb = fbs[i], want = tpm2_alg_size(algs[i]);
		memcpy(info, "IDENTITY", 9);
		memcpy(info + 9, u, fb);
		memcpy(info + 9 + fb, v, fb);
		for (size_t outl = want; outl <= 96; outl += want) {
			assert_int_equal(
			    makecred_kdfe(algs[i], z, fb, "IDENTITY", u, fb, v, fb, a, outl * 8),
			    0);
			ossl_sskdf(tpm2_alg_name(algs[i]), z, fb, info, 9 + 2 * fb, b, outl);
			assert_memory_equal(a, b, outl);
		}
	}
}

/* A software "TPM": an EK key pair made here and its TPM2B_PUBLIC as a TPM would
 * marshal it (TCG EK template attributes, AES-CFB, NULL scheme). */
typedef struct sw_ek {
	EVP_PKEY *key;  /* private key */
	buf_t pub;      /* marshalled TPM2B_PUBLIC */
	uint16_t alg;   /* nameAlg */
	size_t symbits; /* AES key size */
} sw_ek_t;

static void sw_ek_make(sw_ek_t *k, const char *kind)
{
	TPM2B_PUBLIC p;
	uint8_t out[sizeof(TPM2B_PUBLIC)];
	size_t off = 0;

	memset(&p, 0, sizeof(p));
	memset(k, 0, sizeof(*k));
	TPMT_PUBLIC *a = &p.publicArea;
	a->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	                      TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
	                      TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
	k->alg = strcmp(kind, "P-384") == 0 ? TPM2_ALG_SHA384_ID : TPM2_ALG_SHA256_ID;
	k->symbits = strcmp(kind, "P-384") == 0 ? 256 : 128;
	a->nameAlg = k->alg;
	if (strcmp(kind, "RSA") == 0) {
		BIGNUM *n = NULL;
		k->key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		assert_non_null(k->key);
		a->type = TPM2_ALG_RSA;
		a->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
		a->parameters.rsaDetail.symmetric.keyBits.aes = 128;
		a->parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
		a->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
		a->parameters.rsaDetail.keyBits = 2048;
		assert_int_equal(EVP_PKEY_get_bn_param(k->key, OSSL_PKEY_PARAM_RSA_N, &n), 1);
		a->unique.rsa.size = 256;
		assert_int_equal(BN_bn2binpad(n, a->unique.rsa.buffer, 256), 256);
		BN_free(n);
	} else {
		uint8_t pt[1 + 2 * 48];
		size_t ptlen = 0, fb = strcmp(kind, "P-384") == 0 ? 48 : 32;
		k->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", kind);
		assert_non_null(k->key);
		a->type = TPM2_ALG_ECC;
		a->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
		a->parameters.eccDetail.symmetric.keyBits.aes = (TPMI_AES_KEY_BITS)k->symbits;
		a->parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
		a->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
		a->parameters.eccDetail.curveID =
		    fb == 48 ? TPM2_ECC_NIST_P384 : TPM2_ECC_NIST_P256;
		a->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
		assert_int_equal(EVP_PKEY_get_octet_string_param(k->key,
		                                                 OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
		                                                 pt, sizeof(pt), &ptlen),
		                 1);
		assert_int_equal(ptlen, 1 + 2 * fb);
		a->unique.ecc.x.size = (UINT16)fb;
		memcpy(a->unique.ecc.x.buffer, pt + 1, fb);
		a->unique.ecc.y.size = (UINT16)fb;
		memcpy(a->unique.ecc.y.buffer, pt + 1 + fb, fb);
	}
	assert_int_equal(Tss2_MU_TPM2B_PUBLIC_Marshal(&p, out, sizeof(out), &off), TSS2_RC_SUCCESS);
	buf_set(&k->pub, out, off);
}

static void sw_ek_free(sw_ek_t *k)
{
	EVP_PKEY_free(k->key);
	buf_free(&k->pub);
}

/* TPM2_ActivateCredential, done with OpenSSL primitives only. Returns the credential
 * length, or -1 when the integrity check fails. */
static int sw_activate(const sw_ek_t *k, const tpm2_pub_t *ek, const uint8_t *name, size_t name_len,
                       const buf_t *id, const buf_t *sec, uint8_t *cred)
{
	const char *md = tpm2_alg_name(k->alg);
	size_t dsize = tpm2_alg_size(k->alg), seedlen = dsize;
	uint8_t seed[512], symkey[32], hmackey[64], mac[64], plain[80];
	unsigned int maclen = 0;
	int l1 = 0, l2 = 0;

	if (tpm2_pub_type(ek) == TPM2_ALG_RSA_ID) {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k->key, NULL);
		unsigned char *label = OPENSSL_memdup("IDENTITY", 9);
		seedlen = sizeof(seed);
		assert_int_equal(EVP_PKEY_decrypt_init(c), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_get_digestbyname(md)), 1);
		assert_int_equal(EVP_PKEY_CTX_set0_rsa_oaep_label(c, label, 9), 1);
		assert_int_equal(EVP_PKEY_decrypt(c, seed, &seedlen, sec->data + 2, sec->len - 2),
		                 1);
		EVP_PKEY_CTX_free(c);
		assert_int_equal(seedlen, dsize);
	} else {
		/* secret = TPM2B(TPMS_ECC_POINT(x, y)) of the sender's ephemeral key. */
		const TPMT_PUBLIC *a = tpm2_pub_area(ek);
		size_t fb = a->unique.ecc.x.size, zlen = 66;
		uint8_t pt[1 + 2 * 48], z[66], info[9 + 96];
		assert_int_equal(sec->len, 2 + 2 + fb + 2 + fb);
		pt[0] = 4;
		memcpy(pt + 1, sec->data + 4, fb);
		memcpy(pt + 1 + fb, sec->data + 4 + fb + 2, fb);
		char group[] = "P-256";
		if (fb == 48)
			memcpy(group, "P-384", 5);
		OSSL_PARAM prm[3] = {
		    OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
		    OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * fb),
		    OSSL_PARAM_construct_end()};
		EVP_PKEY *peer = NULL;
		EVP_PKEY_CTX *fc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
		assert_int_equal(EVP_PKEY_fromdata_init(fc), 1);
		assert_int_equal(EVP_PKEY_fromdata(fc, &peer, EVP_PKEY_PUBLIC_KEY, prm), 1);
		EVP_PKEY_CTX *dc = EVP_PKEY_CTX_new_from_pkey(NULL, k->key, NULL);
		assert_int_equal(EVP_PKEY_derive_init(dc), 1);
		assert_int_equal(EVP_PKEY_derive_set_peer(dc, peer), 1);
		assert_int_equal(EVP_PKEY_derive(dc, z, &zlen), 1);
		memcpy(info, "IDENTITY", 9);
		memcpy(info + 9, pt + 1, fb);
		memcpy(info + 9 + fb, a->unique.ecc.x.buffer, fb);
		ossl_sskdf(md, z, zlen, info, 9 + 2 * fb, seed, dsize);
		EVP_PKEY_CTX_free(dc);
		EVP_PKEY_CTX_free(fc);
		EVP_PKEY_free(peer);
	}
	ossl_kbkdf(md, seed, dsize, "STORAGE", name, name_len, symkey, k->symbits / 8);
	ossl_kbkdf(md, seed, dsize, "INTEGRITY", NULL, 0, hmackey, dsize);
	/* id = TPM2B( TPM2B(integrity) || encIdentity ) */
	size_t isize = (size_t)(id->data[2] << 8 | id->data[3]);
	assert_int_equal(isize, dsize);
	const uint8_t *integrity = id->data + 4, *enc = id->data + 4 + isize;
	size_t enclen = id->len - 4 - isize;
	uint8_t msg[200];
	memcpy(msg, enc, enclen);
	memcpy(msg + enclen, name, name_len);
	HMAC(EVP_get_digestbyname(md), hmackey, (int)dsize, msg, enclen + name_len, mac, &maclen);
	if (maclen != dsize || memcmp(mac, integrity, dsize) != 0)
		return -1;
	EVP_CIPHER_CTX *cc = EVP_CIPHER_CTX_new();
	static const uint8_t iv[16];
	assert_int_equal(
	    EVP_DecryptInit_ex(cc, k->symbits == 256 ? EVP_aes_256_cfb128() : EVP_aes_128_cfb128(),
	                       NULL, symkey, iv),
	    1);
	assert_int_equal(EVP_DecryptUpdate(cc, plain, &l1, enc, (int)enclen), 1);
	assert_int_equal(EVP_DecryptFinal_ex(cc, plain + l1, &l2), 1);
	EVP_CIPHER_CTX_free(cc);
	size_t clen = (size_t)(plain[0] << 8 | plain[1]);
	assert_int_equal(clen + 2, (size_t)(l1 + l2));
	memcpy(cred, plain + 2, clen);
	return (int)clen;
}

static void roundtrip(const char *kind)
{
	static const char cred[] = "0123456789abcdefghijABCDEFGHIJkl"; /* Keylime: 32 chars */
	sw_ek_t k;
	buf_t name = BUF_INIT, blob = BUF_INIT, blob2 = BUF_INIT, id = BUF_INIT, sec = BUF_INIT;
	err_t e = {""};
	uint8_t got[64];

	sw_ek_make(&k, kind);
	tpm2_pub_t *ek = tpm2_pub_decode(k.pub.data, k.pub.len, &e);
	assert_non_null(ek);
	tpm2_pub_t *ak = load_pub("tpm2/ak_rsa.pub");
	assert_int_equal(tpm2_pub_name(ak, &name, &e), 0);

	buf_append(&blob, "pre", 3); /* makecred_blob appends */
	if (makecred_blob(ek, name.data, name.len, (const uint8_t *)cred, 32, &blob, &e) < 0)
		fail_msg("%s: %s", kind, e.msg);
	assert_memory_equal(blob.data, "pre", 3);
	assert_int_equal(makecred_blob_decode(blob.data + 3, blob.len - 3, &id, &sec, &e), 0);
	size_t dsize = tpm2_alg_size(k.alg);
	assert_int_equal(id.len, 2 + 2 + dsize + 2 + 32);
	assert_int_equal(sw_activate(&k, ek, name.data, name.len, &id, &sec, got), 32);
	assert_memory_equal(got, cred, 32);

	/* Bound to the Name: another object's Name fails the integrity check. */
	buf_t other = BUF_INIT;
	tpm2_pub_t *ak2 = load_pub("tpm2/ak_ecc.pub");
	assert_int_equal(tpm2_pub_name(ak2, &other, &e), 0);
	assert_int_equal(sw_activate(&k, ek, other.data, other.len, &id, &sec, got), -1);

	/* Fresh randomness every time. */
	assert_int_equal(
	    makecred_blob(ek, name.data, name.len, (const uint8_t *)cred, 32, &blob2, &e), 0);
	assert_int_equal(blob2.len, blob.len - 3);
	assert_memory_not_equal(blob2.data, blob.data + 3, blob2.len);

	tpm2_pub_free(ak2);
	tpm2_pub_free(ak);
	tpm2_pub_free(ek);
	sw_ek_free(&k);
	buf_free(&other);
	buf_free(&name);
	buf_free(&blob);
	buf_free(&blob2);
	buf_free(&id);
	buf_free(&sec);
}

static void test_roundtrip_rsa(void **state)
{
	(void)state;
	roundtrip("RSA");
}

static void test_roundtrip_p256(void **state)
{
	(void)state;
	roundtrip("P-256");
}

static void test_roundtrip_p384(void **state)
{
	(void)state;
	roundtrip("P-384");
}

/* Blobs for the recorded swtpm EKs have the sizes tpm2_makecredential's have. */
static void test_blob_layout_real_eks(void **state)
{
	static const struct {
		const char *ek;    /* recorded EK */
		size_t len;        /* whole blob */
		size_t secret_len; /* marshalled TPM2B_ENCRYPTED_SECRET */
	} v[] = {
	    {"tpm2/ek_rsa.pub", 336, 2 + 256},
	    {"tpm2/ek_ecc.pub", 148, 2 + 2 + 32 + 2 + 32},
	    {"tpm2/ek_ecc384.pub", 8 + 2 + 2 + 48 + 2 + 32 + 2 + 2 + 48 + 2 + 48,
	     2 + 2 + 48 + 2 + 48},
	};
	(void)state;
	for (size_t i = 0; i < 3; i++) {
		buf_t name = BUF_INIT, blob = BUF_INIT, id = BUF_INIT, sec = BUF_INIT, t = BUF_INIT;
		err_t e = {""};
		tpm2_pub_t *ek = load_pub(v[i].ek), *ak = load_pub("tpm2/ak_ecc.pub");
		assert_int_equal(tpm2_pub_name(ak, &name, &e), 0);
		assert_int_equal(makecred_blob(ek, name.data, name.len,
		                               (const uint8_t *)"abcdefghijABCDEFGHIJ0123456789xy",
		                               32, &blob, &e),
		                 0);
		assert_int_equal(blob.len, v[i].len);
		assert_int_equal(makecred_blob_decode(blob.data, blob.len, &id, &sec, &e), 0);
		assert_int_equal(sec.len, v[i].secret_len);
		if (i < 2) {
			load(&t, i == 0 ? "makecred/tools_rsa.blob" : "makecred/tools_ecc.blob");
			assert_int_equal(t.len, blob.len);
			assert_memory_equal(t.data, blob.data, 10); /* magic, version, id size */
		}
		tpm2_pub_free(ek);
		tpm2_pub_free(ak);
		buf_free(&name);
		buf_free(&blob);
		buf_free(&id);
		buf_free(&sec);
		buf_free(&t);
	}
}

static void test_decode_tools_blobs(void **state)
{
	static const char *f[] = {"makecred/tools_rsa.blob", "makecred/tools_ecc.blob"};
	(void)state;
	for (size_t i = 0; i < 2; i++) {
		buf_t b = BUF_INIT, id = BUF_INIT, sec = BUF_INIT;
		err_t e = {""};
		load(&b, f[i]);
		assert_int_equal(makecred_blob_decode(b.data, b.len, &id, &sec, &e), 0);
		/* The pieces are the marshalled TPM2Bs, back to back after the header. */
		assert_int_equal(8 + id.len + sec.len, b.len);
		assert_memory_equal(id.data, b.data + 8, id.len);
		assert_memory_equal(sec.data, b.data + 8 + id.len, sec.len);
		assert_int_equal(id.data[0] << 8 | id.data[1], id.len - 2);
		buf_free(&b);
		buf_free(&id);
		buf_free(&sec);
	}
}

static void expect_decode_fail(const buf_t *b, const char *want)
{
	buf_t id = BUF_INIT, sec = BUF_INIT;
	err_t e = {""};

	assert_int_equal(makecred_blob_decode(b->data, b->len, &id, &sec, &e), -1);
	if (strstr(e.msg, want) == NULL)
		fail_msg("reason \"%s\" does not mention \"%s\"", e.msg, want);
	assert_int_equal(id.len, 0);
	assert_int_equal(sec.len, 0);
}

static void test_decode_rejects(void **state)
{
	buf_t b = BUF_INIT, m = BUF_INIT;
	(void)state;

	load(&b, "makecred/tools_ecc.blob");
	for (size_t n = 0; n < b.len; n++) {
		buf_t id = BUF_INIT, sec = BUF_INIT;
		assert_int_equal(makecred_blob_decode(b.data, n, &id, &sec, NULL), -1);
	}
	buf_set(&m, b.data, b.len);
	buf_append(&m, "\0", 1);
	expect_decode_fail(&m, "trailing");
	buf_set(&m, b.data, b.len);
	m.data[0] = 0xde;
	expect_decode_fail(&m, "magic");
	buf_set(&m, b.data, b.len);
	m.data[7] = 2;
	expect_decode_fail(&m, "version");
	/* ID object size beyond the blob. */
	buf_set(&m, b.data, b.len);
	m.data[8] = 0x01;
	expect_decode_fail(&m, "ID_OBJECT");
	/* integrityHMAC size that is no digest size. */
	buf_set(&m, b.data, b.len);
	m.data[11] = 33;
	expect_decode_fail(&m, "malformed ID object");
	/* Empty encrypted secret. */
	buf_reset(&m);
	buf_append(&m, b.data, 8 + 2 + 0x44);
	buf_append_u16be(&m, 0);
	expect_decode_fail(&m, "empty");
	/* A secret larger than any TPM's. */
	buf_reset(&m);
	buf_append(&m, b.data, 8 + 2 + 0x44);
	buf_append_u16be(&m, 520);
	for (int i = 0; i < 520; i++)
		buf_append(&m, "x", 1);
	expect_decode_fail(&m, "ENCRYPTED_SECRET");
	buf_free(&b);
	buf_free(&m);
}

static void test_makecred_rejects(void **state)
{
	tpm2_pub_t *ek = load_pub("tpm2/ek_rsa.pub"), *ak = load_pub("tpm2/ak_rsa.pub");
	buf_t name = BUF_INIT, blob = BUF_INIT, raw = BUF_INIT;
	err_t e = {""};
	const uint8_t cred[65] = {1};
	(void)state;

	assert_int_equal(tpm2_pub_name(ak, &name, &e), 0);
	/* The AK is no EK. */
	assert_int_equal(makecred_blob(ak, name.data, name.len, cred, 32, &blob, &e), -1);
	assert_string_equal(e.msg, "EK is not a restricted decryption key");
	/* Names: wrong length, unknown algorithm, missing. */
	assert_int_equal(makecred_blob(ek, name.data, name.len - 1, cred, 32, &blob, &e), -1);
	assert_non_null(strstr(e.msg, "Name"));
	name.data[1] = 0x12;
	assert_int_equal(makecred_blob(ek, name.data, name.len, cred, 32, &blob, &e), -1);
	name.data[1] = 0x0b;
	assert_int_equal(makecred_blob(ek, NULL, 0, cred, 32, &blob, &e), -1);
	/* Credential longer than the EK's nameAlg digest, or empty. */
	assert_int_equal(makecred_blob(ek, name.data, name.len, cred, 33, &blob, &e), -1);
	assert_non_null(strstr(e.msg, "credential"));
	assert_int_equal(makecred_blob(ek, name.data, name.len, cred, 0, &blob, &e), -1);
	assert_int_equal(blob.len, 0);
	/* An EK whose symmetric scheme is not AES-CFB. Layout: size type nameAlg attrs
	 * authPolicy(2+32) then symmetric algorithm. */
	load(&raw, "tpm2/ek_rsa.pub");
	assert_int_equal(raw.data[10] << 8 | raw.data[11], 32);
	assert_int_equal(raw.data[44] << 8 | raw.data[45], 0x0006);
	raw.data[49] = 0x40; /* mode OFB */
	tpm2_pub_t *bad = tpm2_pub_decode(raw.data, raw.len, &e);
	assert_non_null(bad);
	assert_int_equal(makecred_blob(bad, name.data, name.len, cred, 32, &blob, &e), -1);
	assert_non_null(strstr(e.msg, "AES-CFB"));
	assert_int_equal(blob.len, 0);
	tpm2_pub_free(bad);
	tpm2_pub_free(ek);
	tpm2_pub_free(ak);
	buf_free(&name);
	buf_free(&blob);
	buf_free(&raw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kdfa_matches_openssl),
	    cmocka_unit_test(test_kdfe_matches_openssl),
	    cmocka_unit_test(test_roundtrip_rsa),
	    cmocka_unit_test(test_roundtrip_p256),
	    cmocka_unit_test(test_roundtrip_p384),
	    cmocka_unit_test(test_blob_layout_real_eks),
	    cmocka_unit_test(test_decode_tools_blobs),
	    cmocka_unit_test(test_decode_rejects),
	    cmocka_unit_test(test_makecred_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

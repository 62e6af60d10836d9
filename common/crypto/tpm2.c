/* tpm2: TPM2B_PUBLIC decoding (tss2-mu), conversion to OpenSSL keys, Names and the
 * attestation-key rules. Pure data handling: nothing here talks to a TPM. */
#include "common/crypto/tpm2.h"

#include <pthread.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <tss2/tss2_mu.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"

/* A TPM2B_PUBLIC can never be larger than its 2-byte size allows; anything beyond is not
 * one, and the marshalled form cannot exceed the unmarshalled struct either. */
#define TPM2_PUB_MAX (2 + sizeof(TPMT_PUBLIC))

struct tpm2_pub {
	TPM2B_PUBLIC pub; /* decoded structure */
	uint8_t *bytes;   /* the marshalled input, owned; Names hash bytes[2..] */
	size_t len;       /* length of bytes */
};

/* The one table of TPM hash algorithms. The first TPM2_HASH_BANKS rows are the SHA-1 and
 * SHA-2 banks vigil quotes, replays and checks, and the only ones tpm2_alg_* answer for;
 * the rest may appear in a UEFI event log, which names and replays them but checks nothing
 * against them. */
static const tpm2_hash_alg_t hash_algs[] = {
    {TPM2_ALG_SHA1_ID, "sha1", 20, "SHA1", EVP_sha1},
    {TPM2_ALG_SHA256_ID, "sha256", 32, "SHA256", EVP_sha256},
    {TPM2_ALG_SHA384_ID, "sha384", 48, "SHA384", EVP_sha384},
    {TPM2_ALG_SHA512_ID, "sha512", 64, "SHA512", EVP_sha512},
    {TPM2_ALG_SM3_256_ID, "sm3_256", 32, "SM3", NULL},
    {TPM2_ALG_SHA3_256_ID, "sha3_256", 32, "SHA3-256", NULL},
    {TPM2_ALG_SHA3_384_ID, "sha3_384", 48, "SHA3-384", NULL},
    {TPM2_ALG_SHA3_512_ID, "sha3_512", 64, "SHA3-512", NULL},
};
#define N_HASH_ALGS (sizeof(hash_algs) / sizeof(hash_algs[0]))

/* Digests fetched once per process and never freed, because the implicit fetch behind
 * EVP_sha256() takes a lock and a lookup on every EVP_DigestInit. NULL where this OpenSSL
 * lacks the algorithm (SM3 in some builds). */
static EVP_MD *hash_md[N_HASH_ALGS];
static pthread_once_t hash_md_once = PTHREAD_ONCE_INIT;

static void hash_md_fetch(void)
{
	/* A digest this OpenSSL lacks is not an error of whoever asked first: leave nothing
	 * on its thread's error queue for a later err_set_ssl to report. */
	ERR_set_mark();
	for (size_t i = 0; i < N_HASH_ALGS; i++)
		hash_md[i] = EVP_MD_fetch(NULL, hash_algs[i].ossl, NULL);
	ERR_pop_to_mark();
}

static int hash_index(uint16_t alg)
{
	for (size_t i = 0; i < N_HASH_ALGS; i++)
		if (hash_algs[i].alg == alg)
			return (int)i;
	return -1;
}

const tpm2_hash_alg_t *tpm2_hash_alg(uint16_t alg)
{
	int i = hash_index(alg);

	return i < 0 ? NULL : &hash_algs[i];
}

const tpm2_hash_alg_t *tpm2_hash_alg_by_name(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < N_HASH_ALGS; i++)
		if (strcmp(hash_algs[i].name, name) == 0)
			return &hash_algs[i];
	return NULL;
}

const EVP_MD *tpm2_hash_alg_fetched(uint16_t alg)
{
	int i = hash_index(alg);

	if (i < 0)
		return NULL;
	pthread_once(&hash_md_once, hash_md_fetch);
	return hash_md[i];
}

int tpm2_alg_bank(uint16_t alg)
{
	int i = hash_index(alg);

	return i < TPM2_HASH_BANKS ? i : -1;
}

const EVP_MD *tpm2_alg_md(uint16_t alg)
{
	int i = tpm2_alg_bank(alg);

	return i < 0 ? NULL : hash_algs[i].builtin();
}

const EVP_MD *tpm2_alg_md_fetched(uint16_t alg)
{
	return tpm2_alg_bank(alg) < 0 ? NULL : tpm2_hash_alg_fetched(alg);
}

size_t tpm2_alg_size(uint16_t alg)
{
	int i = tpm2_alg_bank(alg);

	return i < 0 ? 0 : hash_algs[i].size;
}

const char *tpm2_alg_name(uint16_t alg)
{
	int i = tpm2_alg_bank(alg);

	return i < 0 ? NULL : hash_algs[i].name;
}

uint16_t tpm2_alg_from_name(const char *name)
{
	if (name == NULL)
		return 0;
	for (size_t i = 0; i < TPM2_HASH_BANKS; i++)
		if (strcasecmp(hash_algs[i].name, name) == 0)
			return hash_algs[i].alg;
	return 0;
}

const char *tpm2_curve_group(uint16_t curve, size_t *field_bytes)
{
	const char *group = NULL;
	size_t n = 0;

	switch (curve) {
	case TPM2_ECC_NIST_P256:
		group = "P-256";
		n = 32;
		break;
	case TPM2_ECC_NIST_P384:
		group = "P-384";
		n = 48;
		break;
	case TPM2_ECC_NIST_P521:
		group = "P-521";
		n = 66;
		break;
	default:
		break;
	}
	if (field_bytes != NULL)
		*field_bytes = n;
	return group;
}

tpm2_pub_t *tpm2_pub_decode(const uint8_t *p, size_t len, err_t *e)
{
	TPM2B_PUBLIC pub;
	size_t off = 0;
	TSS2_RC rc;
	tpm2_pub_t *k;

	if (p == NULL || len < 2) {
		err_set(e, "TPM2B_PUBLIC truncated (%zu bytes)", len);
		return NULL;
	}
	if (len > TPM2_PUB_MAX) {
		err_set(e, "TPM2B_PUBLIC too large (%zu bytes)", len);
		return NULL;
	}
	/* Check the outer size ourselves so a lying size field gets a precise reason
	 * instead of whatever the inner unmarshal trips over. */
	size_t declared = ((size_t)p[0] << 8) | p[1];
	if (declared == 0) {
		err_set(e, "TPM2B_PUBLIC is empty");
		return NULL;
	}
	if (declared + 2 > len) {
		err_set(e, "TPM2B_PUBLIC truncated: size says %zu bytes, %zu present", declared,
		        len - 2);
		return NULL;
	}
	if (declared + 2 < len) {
		err_set(e, "TPM2B_PUBLIC has %zu trailing bytes", len - 2 - declared);
		return NULL;
	}
	memset(&pub, 0, sizeof(pub));
	rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(p, len, &off, &pub);
	if (rc != TSS2_RC_SUCCESS) {
		err_set(e, "TPM2B_PUBLIC does not parse (tss2-mu 0x%x)", (unsigned)rc);
		return NULL;
	}
	/* tss2-mu (3.2) reports success having consumed only the size field when the inner
	 * TPMT_PUBLIC is malformed; catch that here. */
	if (off <= 2) {
		err_set(e, "TPM2B_PUBLIC does not parse (malformed public area)");
		return NULL;
	}
	/* The inner TPMT_PUBLIC must fill exactly the declared size: tss2-mu does not insist
	 * on it, and a Name is a hash over exactly these bytes. */
	if (off != len || (size_t)pub.size != declared) {
		err_set(e, "TPM2B_PUBLIC size %zu does not match its contents (%zu bytes)",
		        declared, off - 2);
		return NULL;
	}
	if (pub.publicArea.type != TPM2_ALG_RSA && pub.publicArea.type != TPM2_ALG_ECC) {
		err_set(e, "unsupported key type 0x%04x (only RSA and ECC)", pub.publicArea.type);
		return NULL;
	}
	if (tpm2_alg_md(pub.publicArea.nameAlg) == NULL) {
		err_set(e, "unsupported nameAlg 0x%04x", pub.publicArea.nameAlg);
		return NULL;
	}
	k = xcalloc(1, sizeof(*k));
	k->pub = pub;
	k->bytes = xmemdup(p, len);
	k->len = len;
	return k;
}

void tpm2_pub_free(tpm2_pub_t *k)
{
	if (k == NULL)
		return;
	free(k->bytes);
	free(k);
}

const uint8_t *tpm2_pub_bytes(const tpm2_pub_t *k, size_t *len)
{
	*len = k->len;
	return k->bytes;
}

const TPMT_PUBLIC *tpm2_pub_area(const tpm2_pub_t *k)
{
	return &k->pub.publicArea;
}

uint16_t tpm2_pub_type(const tpm2_pub_t *k)
{
	return k->pub.publicArea.type;
}

uint16_t tpm2_pub_name_alg(const tpm2_pub_t *k)
{
	return k->pub.publicArea.nameAlg;
}

uint32_t tpm2_pub_attributes(const tpm2_pub_t *k)
{
	return k->pub.publicArea.objectAttributes;
}

int tpm2_pub_key_bits(const tpm2_pub_t *k)
{
	const TPMT_PUBLIC *a = &k->pub.publicArea;
	size_t n = 0;

	if (a->type == TPM2_ALG_RSA)
		return a->parameters.rsaDetail.keyBits;
	if (tpm2_curve_group(a->parameters.eccDetail.curveID, &n) == NULL)
		return 0;
	return n == 66 ? 521 : (int)n * 8;
}

/* check: run OpenSSL's public-key check too. Not for RSA: there it includes a randomised
 * Miller-Rabin test whose verdict on a hostile modulus can differ from run to run, and the
 * same key must always get the same answer; rsa_to_pkey checks what matters itself. */
static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld, int check, err_t *e)
{
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL, *chk = NULL;
	EVP_PKEY *pkey = NULL;

	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
		err_set_ssl(e, "%s public key rejected", type);
		goto out;
	}
	/* fromdata takes the numbers as given; a point off the curve or an even modulus
	 * must be refused here, not discovered later by a failing MakeCredential. */
	if (!check)
		goto out;
	chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (chk == NULL || EVP_PKEY_public_check(chk) != 1) {
		err_set_ssl(e, "%s public key is not valid", type);
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
out:
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

static EVP_PKEY *rsa_to_pkey(const TPMT_PUBLIC *a, err_t *e)
{
	const TPMS_RSA_PARMS *rp = &a->parameters.rsaDetail;
	const TPM2B_PUBLIC_KEY_RSA *n = &a->unique.rsa;
	uint32_t exp = rp->exponent ? rp->exponent : 65537;
	OSSL_PARAM_BLD *bld = NULL;
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	EVP_PKEY *pkey = NULL;

	if (rp->keyBits < 1024 || rp->keyBits % 8 != 0 || (size_t)n->size * 8 != rp->keyBits) {
		err_set(e, "RSA modulus is %u bytes but keyBits is %u", n->size, rp->keyBits);
		return NULL;
	}
	/* What a usable public key needs: a full-size odd modulus, an odd exponent > 1. */
	if ((n->buffer[0] & 0x80) == 0 || (n->buffer[n->size - 1] & 1) == 0) {
		err_set(e, "RSA modulus is not a full-size odd number");
		return NULL;
	}
	if (exp < 3 || (exp & 1) == 0) {
		err_set(e, "RSA exponent %u is not valid", exp);
		return NULL;
	}
	bn_n = BN_bin2bn(n->buffer, n->size, NULL);
	bn_e = BN_new();
	bld = OSSL_PARAM_BLD_new();
	if (bn_n == NULL || bn_e == NULL || bld == NULL || !BN_set_word(bn_e, exp) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e)) {
		err_set_ssl(e, "cannot build RSA key");
		goto out;
	}
	pkey = pkey_from_params("RSA", bld, 0, e);
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	return pkey;
}

int tpm2_ecc_point_octets(uint16_t curve, const TPMS_ECC_POINT *pt, uint8_t *out, size_t *outlen,
                          err_t *e)
{
	size_t fb = 0;

	if (tpm2_curve_group(curve, &fb) == NULL) {
		err_set(e, "unsupported ECC curve 0x%04x", curve);
		return -1;
	}
	if (pt->x.size == 0 || pt->y.size == 0 || pt->x.size > fb || pt->y.size > fb) {
		err_set(e, "ECC point coordinates are %u and %u bytes, curve needs %zu", pt->x.size,
		        pt->y.size, fb);
		return -1;
	}
	/* Coordinates are big-endian integers; a TPM may drop leading zero bytes, so pad
	 * them back to the field size for the uncompressed SEC1 form. */
	memset(out, 0, 1 + 2 * fb);
	out[0] = 0x04;
	memcpy(out + 1 + fb - pt->x.size, pt->x.buffer, pt->x.size);
	memcpy(out + 1 + 2 * fb - pt->y.size, pt->y.buffer, pt->y.size);
	*outlen = 1 + 2 * fb;
	return 0;
}

static EVP_PKEY *ecc_to_pkey(const TPMT_PUBLIC *a, err_t *e)
{
	uint16_t curve = a->parameters.eccDetail.curveID;
	uint8_t oct[1 + 2 * 66];
	size_t olen = 0;
	const char *group = tpm2_curve_group(curve, NULL);
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *pkey = NULL;

	if (tpm2_ecc_point_octets(curve, &a->unique.ecc, oct, &olen, e) < 0)
		return NULL;
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, oct, olen)) {
		err_set_ssl(e, "cannot build ECC key");
		goto out;
	}
	pkey = pkey_from_params("EC", bld, 1, e);
out:
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

EVP_PKEY *tpm2_pub_to_pkey(const tpm2_pub_t *k, err_t *e)
{
	const TPMT_PUBLIC *a = &k->pub.publicArea;

	if (a->type == TPM2_ALG_RSA)
		return rsa_to_pkey(a, e);
	return ecc_to_pkey(a, e);
}

int tpm2_pub_pem(const tpm2_pub_t *k, buf_t *pem, err_t *e)
{
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	char *p = NULL;
	long n;
	int rv = -1;

	if ((pkey = tpm2_pub_to_pkey(k, e)) == NULL)
		goto out;
	if ((bio = BIO_new(BIO_s_mem())) == NULL || !PEM_write_bio_PUBKEY(bio, pkey)) {
		err_set_ssl(e, "cannot write public key PEM");
		goto out;
	}
	n = BIO_get_mem_data(bio, &p);
	if (n <= 0) {
		err_set(e, "empty public key PEM");
		goto out;
	}
	buf_set(pem, p, (size_t)n);
	rv = 0;
out:
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	return rv;
}

int tpm2_pub_name(const tpm2_pub_t *k, buf_t *name, err_t *e)
{
	const EVP_MD *md = tpm2_alg_md(k->pub.publicArea.nameAlg);
	uint8_t dig[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;

	/* Hash the bytes as received: they are what the TPM hashed, byte for byte. */
	if (md == NULL || !EVP_Digest(k->bytes + 2, k->len - 2, dig, &dlen, md, NULL)) {
		err_set_ssl(e, "cannot hash the public area");
		return -1;
	}
	buf_reset(name);
	buf_append_u16be(name, k->pub.publicArea.nameAlg);
	buf_append(name, dig, dlen);
	return 0;
}

int tpm2_pub_matches_pkey(const tpm2_pub_t *k, EVP_PKEY *pkey)
{
	EVP_PKEY *mine;
	int same;

	if (pkey == NULL || (mine = tpm2_pub_to_pkey(k, NULL)) == NULL) {
		ERR_clear_error();
		return 0;
	}
	same = EVP_PKEY_eq(mine, pkey) == 1;
	EVP_PKEY_free(mine);
	ERR_clear_error();
	return same;
}

int tpm2_pub_check_ak(const tpm2_pub_t *k, err_t *e)
{
	static const struct {
		uint32_t bit;     /* TPMA_OBJECT bit */
		int want;         /* 1 must be set, 0 must be clear */
		const char *text; /* the rule, as the operator reads it */
	} rules[] = {
	    {TPMA_OBJECT_FIXEDTPM, 1, "AK is not fixedTPM: it could be duplicated off the TPM"},
	    {TPMA_OBJECT_FIXEDPARENT, 1, "AK is not fixedParent: it could be re-parented"},
	    {TPMA_OBJECT_SENSITIVEDATAORIGIN, 1,
	     "AK is not sensitiveDataOrigin: its private part was not made by the TPM"},
	    {TPMA_OBJECT_RESTRICTED, 1,
	     "AK is not restricted: it could sign data that mimics a quote"},
	    {TPMA_OBJECT_DECRYPT, 0, "AK is a decryption key (decrypt attribute set)"},
	    {TPMA_OBJECT_SIGN_ENCRYPT, 1, "AK is not a signing key (sign attribute clear)"},
	};
	const TPMT_PUBLIC *a = &k->pub.publicArea;
	uint32_t attrs = a->objectAttributes;

	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		if (((attrs & rules[i].bit) != 0) != rules[i].want) {
			err_set(e, "%s", rules[i].text);
			return -1;
		}
	}
	switch (a->nameAlg) {
	case TPM2_ALG_SHA256_ID:
	case TPM2_ALG_SHA384_ID:
	case TPM2_ALG_SHA512_ID:
		break;
	default:
		err_set(e, "AK nameAlg %s (0x%04x) is weaker than SHA-256",
		        tpm2_alg_name(a->nameAlg) ? tpm2_alg_name(a->nameAlg) : "unknown",
		        a->nameAlg);
		return -1;
	}
	if (a->type == TPM2_ALG_RSA) {
		const TPMS_RSA_PARMS *rp = &a->parameters.rsaDetail;
		if (rp->keyBits < 2048) {
			err_set(e, "AK is RSA-%u; at least RSA-2048 is required", rp->keyBits);
			return -1;
		}
		if (rp->scheme.scheme != TPM2_ALG_RSASSA) {
			err_set(e, "AK RSA scheme is 0x%04x; RSASSA is required",
			        rp->scheme.scheme);
			return -1;
		}
	} else {
		const TPMS_ECC_PARMS *ep = &a->parameters.eccDetail;
		if (tpm2_curve_group(ep->curveID, NULL) == NULL) {
			err_set(e, "AK ECC curve 0x%04x is not supported (P-256/384/521)",
			        ep->curveID);
			return -1;
		}
		if (ep->scheme.scheme != TPM2_ALG_ECDSA) {
			err_set(e, "AK ECC scheme is 0x%04x; ECDSA is required", ep->scheme.scheme);
			return -1;
		}
	}
	/* Last, because a key OpenSSL cannot use is useless whatever its attributes. */
	EVP_PKEY *pkey = tpm2_pub_to_pkey(k, e);
	if (pkey == NULL)
		return -1;
	EVP_PKEY_free(pkey);
	return 0;
}

/* softtpm: see softtpm.h. The structures are filled in as tss2 types and marshalled by
 * tss2-mu, the library tpm2-tools itself uses, so the bytes are a TPM's bytes; the AK
 * Name comes from common/crypto/tpm2 and the PCR blob from common/evidence/quote, the
 * code the verifier decodes with. */
#include "test/loadgen/softtpm.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <tss2/tss2_mu.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/crypto/makecred.h"
#include "common/crypto/tpm2.h"
#include "common/evidence/quote.h"

#define SOFTTPM_NONCE_MAX 64 /* TPM2B_DATA: qualifyingData */

struct softtpm {
	int rsa;                                   /* 1: RSA-2048 AK, 0: ECC P-256 */
	EVP_PKEY *ak;                              /* the AK's private key */
	EVP_PKEY_CTX *sctx;                        /* signing context, prepared once */
	buf_t pub;                                 /* marshalled TPM2B_PUBLIC */
	buf_t name;                                /* AK Name: nameAlg || SHA-256 */
	uint8_t pcr[SOFTTPM_PCRS][SOFTTPM_DIGEST]; /* SHA-256 bank */
	uint64_t clock_base;                       /* ms, the monotonic clock at start */
	uint64_t last_clock;                       /* clock of the last quote */
	uint32_t reset_count;                      /* TPM Resets (boots) */
	buf_t values;                              /* scratch: selected PCR values */
	EVP_PKEY *ek;                              /* the EK's private key, once made */
	buf_t ek_pub;                              /* its marshalled TPM2B_PUBLIC */
	char *ek_cert;                             /* its certificate (PEM) */
};

static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md; /* fetched once, never freed (used until exit) */

static void sha256_fetch(void)
{
	if ((sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
		fatalx("softtpm: no SHA-256 in OpenSSL");
}

void softtpm_sha256(const void *p, size_t n, uint8_t out[SOFTTPM_DIGEST])
{
	pthread_once(&sha256_once, sha256_fetch);
	if (EVP_Digest(p, n, out, NULL, sha256_md, NULL) != 1)
		fatalx("softtpm: SHA-256 failed");
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The AK public area a TPM would report for a restricted signing key. */
static int ak_public(softtpm_t *t, err_t *e)
{
	TPM2B_PUBLIC p;
	uint8_t out[sizeof(TPM2B_PUBLIC)];
	size_t off = 0;
	BIGNUM *bn = NULL;
	int rv = -1;

	memset(&p, 0, sizeof(p));
	p.publicArea.nameAlg = TPM2_ALG_SHA256;
	p.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	                                TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
	                                TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
	if (t->rsa) {
		TPMS_RSA_PARMS *r = &p.publicArea.parameters.rsaDetail;
		p.publicArea.type = TPM2_ALG_RSA;
		r->symmetric.algorithm = TPM2_ALG_NULL;
		r->scheme.scheme = TPM2_ALG_RSASSA;
		r->scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
		r->keyBits = 2048;
		r->exponent = 0; /* 65537 */
		if (EVP_PKEY_get_bn_param(t->ak, OSSL_PKEY_PARAM_RSA_N, &bn) != 1 ||
		    BN_bn2binpad(bn, p.publicArea.unique.rsa.buffer, 256) != 256) {
			err_set_ssl(e, "RSA modulus");
			goto out;
		}
		p.publicArea.unique.rsa.size = 256;
	} else {
		TPMS_ECC_PARMS *c = &p.publicArea.parameters.eccDetail;
		uint8_t pt[65];
		size_t ptlen = 0;
		p.publicArea.type = TPM2_ALG_ECC;
		c->symmetric.algorithm = TPM2_ALG_NULL;
		c->scheme.scheme = TPM2_ALG_ECDSA;
		c->scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
		c->curveID = TPM2_ECC_NIST_P256;
		c->kdf.scheme = TPM2_ALG_NULL;
		if (EVP_PKEY_get_octet_string_param(t->ak, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt),
		                                    &ptlen) != 1 ||
		    ptlen != 65 || pt[0] != 0x04) {
			err_set_ssl(e, "EC public point");
			goto out;
		}
		memcpy(p.publicArea.unique.ecc.x.buffer, pt + 1, 32);
		memcpy(p.publicArea.unique.ecc.y.buffer, pt + 33, 32);
		p.publicArea.unique.ecc.x.size = p.publicArea.unique.ecc.y.size = 32;
	}
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(&p, out, sizeof(out), &off) != TSS2_RC_SUCCESS) {
		err_set(e, "cannot marshal the AK's TPM2B_PUBLIC");
		goto out;
	}
	buf_set(&t->pub, out, off);
	rv = 0;
out:
	BN_free(bn);
	return rv;
}

softtpm_t *softtpm_new(int rsa, uint32_t reset_count, err_t *e)
{
	softtpm_t *t = xcalloc(1, sizeof(*t));
	tpm2_pub_t *pub = NULL;

	t->rsa = rsa;
	t->reset_count = reset_count;
	t->clock_base = now_ms();
	t->ak = rsa ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
	            : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (t->ak == NULL) {
		err_set_ssl(e, "AK key generation");
		goto fail;
	}
	if ((t->sctx = EVP_PKEY_CTX_new(t->ak, NULL)) == NULL || EVP_PKEY_sign_init(t->sctx) != 1 ||
	    (rsa && EVP_PKEY_CTX_set_rsa_padding(t->sctx, RSA_PKCS1_PADDING) != 1) ||
	    EVP_PKEY_CTX_set_signature_md(t->sctx, EVP_sha256()) != 1) {
		err_set_ssl(e, "AK signing context");
		goto fail;
	}
	if (ak_public(t, e) < 0)
		goto fail;
	/* The Name as the verifier computes it from what it is given. */
	if ((pub = tpm2_pub_decode(t->pub.data, t->pub.len, e)) == NULL ||
	    tpm2_pub_check_ak(pub, e) < 0 || tpm2_pub_name(pub, &t->name, e) < 0)
		goto fail;
	tpm2_pub_free(pub);
	return t;
fail:
	tpm2_pub_free(pub);
	softtpm_free(t);
	return NULL;
}

void softtpm_free(softtpm_t *t)
{
	if (t == NULL)
		return;
	EVP_PKEY_CTX_free(t->sctx);
	EVP_PKEY_free(t->ak);
	EVP_PKEY_free(t->ek);
	buf_free(&t->ek_pub);
	free(t->ek_cert);
	buf_free(&t->pub);
	buf_free(&t->name);
	buf_free(&t->values);
	free(t);
}

const buf_t *softtpm_ak_public(const softtpm_t *t)
{
	return &t->pub;
}

int softtpm_ak_pem(const softtpm_t *t, buf_t *out)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p;
	long n;
	int rv = -1;

	if (bio != NULL && PEM_write_bio_PUBKEY(bio, t->ak) == 1 &&
	    (n = BIO_get_mem_data(bio, &p)) > 0) {
		buf_set(out, p, (size_t)n);
		rv = 0;
	}
	BIO_free(bio);
	return rv;
}

const char *softtpm_sign_alg(const softtpm_t *t)
{
	return t->rsa ? "rsassa" : "ecdsa";
}

const char *softtpm_key_alg(const softtpm_t *t, int legacy)
{
	if (legacy)
		return t->rsa ? "rsa" : "ecc";
	return t->rsa ? "rsa2048" : "ecc256";
}

void softtpm_pcr_extend(softtpm_t *t, unsigned pcr, const uint8_t digest[SOFTTPM_DIGEST])
{
	uint8_t in[2 * SOFTTPM_DIGEST];

	if (pcr >= SOFTTPM_PCRS)
		return;
	memcpy(in, t->pcr[pcr], SOFTTPM_DIGEST);
	memcpy(in + SOFTTPM_DIGEST, digest, SOFTTPM_DIGEST);
	softtpm_sha256(in, sizeof(in), t->pcr[pcr]);
}

void softtpm_pcr_reset(softtpm_t *t, unsigned pcr)
{
	if (pcr < SOFTTPM_PCRS)
		memset(t->pcr[pcr], 0, SOFTTPM_DIGEST);
}

void softtpm_pcr_set(softtpm_t *t, unsigned pcr, const uint8_t value[SOFTTPM_DIGEST])
{
	if (pcr < SOFTTPM_PCRS)
		memcpy(t->pcr[pcr], value, SOFTTPM_DIGEST);
}

const uint8_t *softtpm_pcr(const softtpm_t *t, unsigned pcr)
{
	return pcr < SOFTTPM_PCRS ? t->pcr[pcr] : NULL;
}

/* One INTEGER of a DER ECDSA-Sig-Value, at *p and before end, into out as 32 bytes
 * big-endian; *p moves past it. 0, or -1 when it is not one or is over 32 bytes. */
static int der_int32(const uint8_t **p, const uint8_t *end, uint8_t out[32])
{
	const uint8_t *q = *p;
	size_t len;

	if (end - q < 2 || q[0] != 0x02 || (len = q[1]) == 0 || len > (size_t)(end - q - 2))
		return -1;
	q += 2;
	*p = q + len;
	for (; len > 32; len--, q++)
		if (*q != 0)
			return -1;
	memset(out, 0, 32 - len);
	memcpy(out + 32 - len, q, len);
	return 0;
}

/* Sign H(attest) with the AK into a marshalled TPMT_SIGNATURE. An ECDSA signature is
 * taken apart here (SEQUENCE of two INTEGERs, short lengths for P-256), not with
 * d2i_ECDSA_SIG, which allocates three objects a round. */
static int sign(softtpm_t *t, const uint8_t *attest, size_t len, buf_t *sig, err_t *e)
{
	uint8_t md[32], der[512], out[sizeof(TPMT_SIGNATURE)];
	size_t dlen = sizeof(der), off = 0;
	TPMT_SIGNATURE s;
	const uint8_t *dp = der + 2;

	memset(&s, 0, sizeof(s));
	softtpm_sha256(attest, len, md);
	if (EVP_PKEY_sign(t->sctx, der, &dlen, md, sizeof(md)) != 1) {
		err_set_ssl(e, "AK signature");
		return -1;
	}
	if (t->rsa) {
		s.sigAlg = TPM2_ALG_RSASSA;
		s.signature.rsassa.hash = TPM2_ALG_SHA256;
		memcpy(s.signature.rsassa.sig.buffer, der, dlen);
		s.signature.rsassa.sig.size = (UINT16)dlen;
	} else {
		s.sigAlg = TPM2_ALG_ECDSA;
		s.signature.ecdsa.hash = TPM2_ALG_SHA256;
		if (dlen < 2 || der[0] != 0x30 || der[1] != dlen - 2 ||
		    der_int32(&dp, der + dlen, s.signature.ecdsa.signatureR.buffer) < 0 ||
		    der_int32(&dp, der + dlen, s.signature.ecdsa.signatureS.buffer) < 0 ||
		    dp != der + dlen) {
			err_set(e, "ECDSA signature: not a P-256 ECDSA-Sig-Value");
			return -1;
		}
		s.signature.ecdsa.signatureR.size = s.signature.ecdsa.signatureS.size = 32;
	}
	if (Tss2_MU_TPMT_SIGNATURE_Marshal(&s, out, sizeof(out), &off) != TSS2_RC_SUCCESS) {
		err_set(e, "cannot marshal TPMT_SIGNATURE");
		return -1;
	}
	buf_set(sig, out, off);
	return 0;
}

int softtpm_quote(softtpm_t *t, const uint8_t *nonce, size_t nonce_len, uint32_t mask,
                  buf_t *attest, buf_t *sig, buf_t *blob, err_t *e)
{
	TPMS_ATTEST a;
	uint8_t out[sizeof(TPMS_ATTEST)];
	size_t off = 0;
	uint64_t clock;
	quote_pcrsel_t sel = {.count = 1};

	if (nonce_len > SOFTTPM_NONCE_MAX || (mask & ~0xffffffu)) {
		err_set(e, "quote: nonce over 64 bytes or a PCR above 23");
		return -1;
	}
	buf_reset(&t->values);
	for (unsigned i = 0; i < SOFTTPM_PCRS; i++)
		if (mask & (1u << i))
			buf_append(&t->values, t->pcr[i], SOFTTPM_DIGEST);
	clock = now_ms() - t->clock_base;
	if (clock <= t->last_clock)
		clock = t->last_clock + 1;
	t->last_clock = clock;

	memset(&a, 0, sizeof(a));
	a.magic = TPM2_GENERATED_VALUE;
	a.type = TPM2_ST_ATTEST_QUOTE;
	memcpy(a.qualifiedSigner.name, t->name.data, t->name.len);
	a.qualifiedSigner.size = (UINT16)t->name.len;
	memcpy(a.extraData.buffer, nonce, nonce_len);
	a.extraData.size = (UINT16)nonce_len;
	a.clockInfo.clock = clock;
	a.clockInfo.resetCount = t->reset_count;
	a.clockInfo.restartCount = 0;
	a.clockInfo.safe = TPM2_YES;
	a.firmwareVersion = 0x2023051900000000ull;
	a.attested.quote.pcrSelect.count = 1;
	a.attested.quote.pcrSelect.pcrSelections[0].hash = TPM2_ALG_SHA256;
	a.attested.quote.pcrSelect.pcrSelections[0].sizeofSelect = 3;
	for (int i = 0; i < 3; i++)
		a.attested.quote.pcrSelect.pcrSelections[0].pcrSelect[i] =
		    (uint8_t)(mask >> (8 * i));
	softtpm_sha256(t->values.data ? t->values.data : (const uint8_t *)"", t->values.len,
	               a.attested.quote.pcrDigest.buffer);
	a.attested.quote.pcrDigest.size = 32;
	if (Tss2_MU_TPMS_ATTEST_Marshal(&a, out, sizeof(out), &off) != TSS2_RC_SUCCESS) {
		err_set(e, "cannot marshal TPMS_ATTEST");
		return -1;
	}
	buf_set(attest, out, off);
	if (sign(t, out, off, sig, e) < 0)
		return -1;
	sel.bank[0].alg = TPM2_ALG_SHA256_ID;
	sel.bank[0].mask = mask;
	buf_reset(blob);
	return quote_pcrblob_encode(blob, &sel, t->values.data, t->values.len, e);
}

/* ---- the endorsement key ---- */

/* The TCG default EK policy (PolicySecret(TPM_RH_ENDORSEMENT)), SHA-256. */
static const uint8_t ek_policy[32] = {
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
    0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa};

/* The EK public area of the TCG ECC P-256 template (restricted decryption key, AES-128-CFB),
 * with t->ek's point. */
static int ek_public(softtpm_t *t, err_t *e)
{
	TPM2B_PUBLIC p;
	TPMS_ECC_PARMS *c = &p.publicArea.parameters.eccDetail;
	uint8_t out[sizeof(TPM2B_PUBLIC)], pt[65];
	size_t off = 0, ptlen = 0;

	memset(&p, 0, sizeof(p));
	p.publicArea.type = TPM2_ALG_ECC;
	p.publicArea.nameAlg = TPM2_ALG_SHA256;
	p.publicArea.objectAttributes =
	    TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
	    TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
	p.publicArea.authPolicy.size = sizeof(ek_policy);
	memcpy(p.publicArea.authPolicy.buffer, ek_policy, sizeof(ek_policy));
	c->symmetric.algorithm = TPM2_ALG_AES;
	c->symmetric.keyBits.aes = 128;
	c->symmetric.mode.aes = TPM2_ALG_CFB;
	c->scheme.scheme = TPM2_ALG_NULL;
	c->curveID = TPM2_ECC_NIST_P256;
	c->kdf.scheme = TPM2_ALG_NULL;
	if (EVP_PKEY_get_octet_string_param(t->ek, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt),
	                                    &ptlen) != 1 ||
	    ptlen != 65 || pt[0] != 0x04) {
		err_set_ssl(e, "EK public point");
		return -1;
	}
	memcpy(p.publicArea.unique.ecc.x.buffer, pt + 1, 32);
	memcpy(p.publicArea.unique.ecc.y.buffer, pt + 33, 32);
	p.publicArea.unique.ecc.x.size = p.publicArea.unique.ecc.y.size = 32;
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(&p, out, sizeof(out), &off) != TSS2_RC_SUCCESS) {
		err_set(e, "cannot marshal the EK's TPM2B_PUBLIC");
		return -1;
	}
	buf_set(&t->ek_pub, out, off);
	return 0;
}

/* An EK certificate for t->ek issued by ca/ca_key: the TCG profile's essentials (not a CA,
 * keyUsage keyAgreement for an ECC EK, the EK certificate purpose). */
static int ek_certify(softtpm_t *t, const char *subject, X509 *ca, EVP_PKEY *ca_key, err_t *e)
{
	X509 *x = X509_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	BIO *bio = NULL;
	uint8_t serial[16];
	BIGNUM *bn = NULL;
	char *p;
	long n;
	int rv = -1;
	static const char *const exts[][2] = {{"basicConstraints", "critical,CA:FALSE"},
	                                      {"keyUsage", "critical,keyAgreement"},
	                                      {"extendedKeyUsage", "2.23.133.8.1"}};

	if (x == NULL || RAND_bytes(serial, sizeof(serial)) != 1)
		goto ssl;
	serial[0] &= 0x7f;
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL || !X509_set_version(x, 2) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca)) ||
	    !X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	                                (const unsigned char *)subject, -1, -1, 0) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365) == NULL ||
	    !X509_set_pubkey(x, t->ek))
		goto ssl;
	X509V3_set_ctx(&v3, ca, x, NULL, NULL, 0);
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		if ((ext = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1])) == NULL)
			goto ssl;
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (!X509_sign(x, ca_key, EVP_sha256()) || (bio = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_X509(bio, x) || (n = BIO_get_mem_data(bio, &p)) <= 0)
		goto ssl;
	t->ek_cert = xstrndup(p, (size_t)n);
	rv = 0;
	goto out;
ssl:
	err_set_ssl(e, "EK certificate");
out:
	BN_free(bn);
	BIO_free(bio);
	X509_free(x);
	return rv;
}

int softtpm_ek_make(softtpm_t *t, const char *subject, X509 *ca, EVP_PKEY *ca_key, err_t *e)
{
	if (t->ek != NULL)
		return 0;
	if ((t->ek = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL) {
		err_set_ssl(e, "EK key generation");
		return -1;
	}
	if (ek_public(t, e) < 0 || ek_certify(t, subject, ca, ca_key, e) < 0) {
		EVP_PKEY_free(t->ek);
		t->ek = NULL;
		return -1;
	}
	return 0;
}

const buf_t *softtpm_ek_public(const softtpm_t *t)
{
	return &t->ek_pub;
}

const char *softtpm_ek_cert(const softtpm_t *t)
{
	return t->ek_cert;
}

int softtpm_activate(softtpm_t *t, const uint8_t *blob, size_t len, buf_t *cred, err_t *e)
{
	tpm2_pub_t *ek;
	int rv = -1;

	if (t->ek == NULL) {
		err_set(e, "no EK made yet");
		return -1;
	}
	if ((ek = tpm2_pub_decode(t->ek_pub.data, t->ek_pub.len, e)) != NULL)
		rv = makecred_activate(ek, t->ek, t->name.data, t->name.len, blob, len, cred, e);
	tpm2_pub_free(ek);
	return rv;
}

/* tpm: the agent's only door to the TPM (tpm2-tss ESAPI through tss2-tctildr).
 *
 * What lives here: EK selection (TCG EK Credential Profile templates, persistent or
 * created), EK certificate and chain from NV, the AK kept in the state directory,
 * ActivateCredential with the EK policy, PCR read/reset/extend and Quote. Everything that
 * crosses the interface is plain bytes so the module can become a separate process. */
#include "agent/tpm.h"
#include "agent/tpm_priv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "common/base/log.h"
#include "common/base/statefile.h"
#include "common/base/xmalloc.h"
#include "common/crypto/tpm2.h"

/* TCG handles and NV indices (EK Credential Profile 2.x, Provisioning Guidance). */
#define EK_HANDLE_RSA2048 0x81010001u
#define EK_HANDLE_ECC256  0x81010002u
#define EK_HANDLE_ECC384  0x81010016u
#define EK_NV_RSA2048     0x01c00002u
#define EK_NV_ECC256      0x01c0000au
#define EK_NV_RSA2048_H1  0x01c00012u
#define EK_NV_ECC256_H2   0x01c00014u
#define EK_NV_ECC384      0x01c00016u
#define AK_FILE_MAX       4096 /* ak.pub / ak.priv are a few hundred bytes */
#define EK_ATTRS_LOW                                                                               \
	0x000300b2u               /* fixedTPM fixedParent sensitiveDataOrigin                      \
	                             adminWithPolicy restricted decrypt */
#define EK_ATTRS_HIGH 0x000300f2u /* the same plus userWithAuth */

/* PolicyC of the TCG EK Credential Profile: TPM2_PolicyAuthorizeNV on the EK policy NV
 * index (0x01c07f01 for SHA-256, 0x01c07f02 for SHA-384). It depends on the public area of
 * that index, so it cannot be computed here; it is a constant of the specification.
 * Checked: PolicyOR(PolicyA, PolicyC) gives exactly the authPolicy of swtpm's P-384 EK
 * (b26e7d28...0e12) and the spec's SHA-256 PolicyB (ca3d0a99...b7a0). */
static const uint8_t policy_c_sha256[32] = {
    0x37, 0x67, 0xe2, 0xed, 0xd4, 0x3f, 0xf4, 0x5a, 0x3a, 0x7e, 0x1e, 0xae, 0xfc, 0xef, 0x78, 0x64,
    0x3d, 0xca, 0x96, 0x46, 0x32, 0xe7, 0xaa, 0xd8, 0x2c, 0x67, 0x3a, 0x30, 0xd8, 0x63, 0x3f, 0xde};
static const uint8_t policy_c_sha384[48] = {
    0xd6, 0x03, 0x2c, 0xe6, 0x1f, 0x2f, 0xb3, 0xc2, 0x40, 0xeb, 0x3c, 0xf6, 0xa3, 0x32, 0x37, 0xef,
    0x2b, 0x6a, 0x16, 0xf4, 0x29, 0x3c, 0x22, 0xb4, 0x55, 0xe2, 0x61, 0xcf, 0xfd, 0x21, 0x7a, 0xd5,
    0xb4, 0x94, 0x7c, 0x2d, 0x73, 0xe6, 0x30, 0x05, 0xee, 0xd2, 0xdc, 0x2b, 0x35, 0x93, 0xd1, 0x65};

/* ---- helpers ---- */

/* The tss2 response code without the layer bits, for comparisons with TPM2_RC_*. */
static TSS2_RC rc_base(TSS2_RC rc)
{
	rc &= ~(TSS2_RC)TSS2_RC_LAYER_MASK;
	if (rc & TPM2_RC_FMT1)
		rc &= 0xbf; /* drop the parameter/handle/session number of format-one codes */
	return rc;
}

/* Put our text and tss2's decoding of rc into e, and a debug line in the log. */
void tpm_tss_err(err_t *e, TSS2_RC rc, const char *fmt, ...)
{
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	log_debug("tpm: %s: %s (0x%08x)", what, Tss2_RC_Decode(rc), (unsigned)rc);
	if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TPM_RC_LAYER &&
	    (rc_base(rc) == TPM2_RC_OBJECT_MEMORY || rc_base(rc) == TPM2_RC_SESSION_MEMORY))
		/* Seen on TPMs without a resource manager after a process died with its keys
		 * loaded; the operator can fix it, so say how. */
		err_set(e,
		        "%s: %s (the TPM is full of stale objects: flush them with "
		        "tpm2_flushcontext -t / -s, or use /dev/tpmrm0)",
		        what, Tss2_RC_Decode(rc));
	else
		err_set(e, "%s: %s", what, Tss2_RC_Decode(rc));
}

/* One policy-digest update: digest = H(digest || cc || data). */
static void policy_update(const EVP_MD *md, uint8_t *digest, uint32_t cc, const uint8_t *data,
                          size_t len)
{
	uint8_t ccb[4] = {(uint8_t)(cc >> 24), (uint8_t)(cc >> 16), (uint8_t)(cc >> 8),
	                  (uint8_t)cc};
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;

	if (ctx == NULL || !EVP_DigestInit_ex(ctx, md, NULL) ||
	    !EVP_DigestUpdate(ctx, digest, (size_t)EVP_MD_get_size(md)) ||
	    !EVP_DigestUpdate(ctx, ccb, sizeof(ccb)) || !EVP_DigestUpdate(ctx, data, len) ||
	    !EVP_DigestFinal_ex(ctx, digest, &n))
		fatalx("tpm: digest computation failed");
	EVP_MD_CTX_free(ctx);
}

/* PolicyA = PolicySecret(TPM_RH_ENDORSEMENT) with an empty policyRef, from a zero digest:
 * H(H(0 || CC_PolicySecret || Name(TPM_RH_ENDORSEMENT)) || policyRef). */
static size_t policy_a(TPMI_ALG_HASH alg, uint8_t *out)
{
	static const uint8_t rh_endorsement[4] = {0x40, 0x00, 0x00, 0x0b};
	const EVP_MD *md = tpm2_alg_md(alg);
	size_t n;
	unsigned int l = 0;

	if (md == NULL)
		return 0;
	n = (size_t)EVP_MD_get_size(md);
	memset(out, 0, n);
	policy_update(md, out, TPM2_CC_PolicySecret, rh_endorsement, sizeof(rh_endorsement));
	/* The second step hashes the digest with the (empty) policyRef only. */
	if (!EVP_Digest(out, n, out, &l, md, NULL))
		fatalx("tpm: digest computation failed");
	return n;
}

/* PolicyC for alg, or NULL when the profile defines none we know. */
static const uint8_t *policy_c(TPMI_ALG_HASH alg, size_t *len)
{
	if (alg == TPM2_ALG_SHA256) {
		*len = sizeof(policy_c_sha256);
		return policy_c_sha256;
	}
	if (alg == TPM2_ALG_SHA384) {
		*len = sizeof(policy_c_sha384);
		return policy_c_sha384;
	}
	return NULL;
}

/* PolicyB = PolicyOR(PolicyA, PolicyC) = H(0 || CC_PolicyOR || A || C). */
static size_t policy_b(TPMI_ALG_HASH alg, uint8_t *out)
{
	uint8_t a[TPM2_SHA512_DIGEST_SIZE], cat[2 * TPM2_SHA512_DIGEST_SIZE];
	size_t n = policy_a(alg, a), clen = 0;
	const uint8_t *c = policy_c(alg, &clen);

	if (n == 0 || c == NULL || clen != n)
		return 0;
	memcpy(cat, a, n);
	memcpy(cat + n, c, n);
	memset(out, 0, n);
	policy_update(tpm2_alg_md(alg), out, TPM2_CC_PolicyOR, cat, 2 * n);
	return n;
}

/* Which of the TCG EK policies authPolicy is. */
static ek_policy_t ek_policy_classify(const TPMT_PUBLIC *p)
{
	uint8_t d[TPM2_SHA512_DIGEST_SIZE];
	size_t n;

	n = policy_a(p->nameAlg, d);
	if (n && p->authPolicy.size == n && memcmp(p->authPolicy.buffer, d, n) == 0)
		return EK_POLICY_A;
	n = policy_b(p->nameAlg, d);
	if (n && p->authPolicy.size == n && memcmp(p->authPolicy.buffer, d, n) == 0)
		return EK_POLICY_B;
	return EK_POLICY_UNKNOWN;
}

/* The TCG EK template for alg (EK Credential Profile 2.5, templates L-1, L-2, H-3). */
static void ek_template(tpm_ek_alg_t alg, TPM2B_PUBLIC *t)
{
	TPMT_PUBLIC *p = &t->publicArea;
	uint8_t d[TPM2_SHA512_DIGEST_SIZE];

	memset(t, 0, sizeof(*t));
	switch (alg) {
	case TPM_EK_RSA2048:
		p->type = TPM2_ALG_RSA;
		p->nameAlg = TPM2_ALG_SHA256;
		p->objectAttributes = EK_ATTRS_LOW;
		p->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
		p->parameters.rsaDetail.symmetric.keyBits.aes = 128;
		p->parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
		p->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
		p->parameters.rsaDetail.keyBits = 2048;
		p->parameters.rsaDetail.exponent = 0;
		/* Low-range templates fill unique with zeros of the key's size. */
		p->unique.rsa.size = 256;
		break;
	case TPM_EK_ECC256:
		p->type = TPM2_ALG_ECC;
		p->nameAlg = TPM2_ALG_SHA256;
		p->objectAttributes = EK_ATTRS_LOW;
		p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
		p->parameters.eccDetail.symmetric.keyBits.aes = 128;
		p->parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
		p->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
		p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
		p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
		p->unique.ecc.x.size = 32;
		p->unique.ecc.y.size = 32;
		break;
	case TPM_EK_ECC384:
		p->type = TPM2_ALG_ECC;
		p->nameAlg = TPM2_ALG_SHA384;
		p->objectAttributes = EK_ATTRS_HIGH;
		p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
		p->parameters.eccDetail.symmetric.keyBits.aes = 256;
		p->parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
		p->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
		p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P384;
		p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
		/* High-range templates have an empty unique field (userWithAuth is set and the
		 * policy is PolicyB instead). swtpm_setup's P-384 EK is made exactly so. */
		break;
	}
	if (alg == TPM_EK_ECC384)
		p->authPolicy.size = (UINT16)policy_b(p->nameAlg, d);
	else
		p->authPolicy.size = (UINT16)policy_a(p->nameAlg, d);
	memcpy(p->authPolicy.buffer, d, p->authPolicy.size);
}

static uint32_t ek_template_handle(tpm_ek_alg_t alg)
{
	return alg == TPM_EK_RSA2048  ? EK_HANDLE_RSA2048
	       : alg == TPM_EK_ECC256 ? EK_HANDLE_ECC256
	                              : EK_HANDLE_ECC384;
}

/* Marshal a TPMT_PUBLIC with unique cleared and an RSA exponent of 65537 written as 0,
 * so a key can be compared with the template it should have been created from. */
static int public_shape(const TPMT_PUBLIC *in, uint8_t *out, size_t cap, size_t *len)
{
	TPMT_PUBLIC p = *in;

	memset(&p.unique, 0, sizeof(p.unique));
	if (p.type == TPM2_ALG_RSA && p.parameters.rsaDetail.exponent == 65537)
		p.parameters.rsaDetail.exponent = 0;
	*len = 0;
	return Tss2_MU_TPMT_PUBLIC_Marshal(&p, out, cap, len) == TSS2_RC_SUCCESS ? 0 : -1;
}

static int public_matches_template(const TPMT_PUBLIC *key, const TPMT_PUBLIC *tmpl)
{
	uint8_t a[sizeof(TPMT_PUBLIC)], b[sizeof(TPMT_PUBLIC)];
	size_t al, bl;

	if (public_shape(key, a, sizeof(a), &al) < 0 || public_shape(tmpl, b, sizeof(b), &bl) < 0)
		return 0;
	return al == bl && memcmp(a, b, al) == 0;
}

static int public_marshal(const TPM2B_PUBLIC *p, buf_t *out)
{
	uint8_t tmp[sizeof(TPM2B_PUBLIC)];
	size_t off = 0;

	if (Tss2_MU_TPM2B_PUBLIC_Marshal(p, tmp, sizeof(tmp), &off) != TSS2_RC_SUCCESS)
		return -1;
	buf_set(out, tmp, off);
	return 0;
}

/* 1 when handle is listed by GetCapability(TPM_CAP_HANDLES), 0 when not, -1 on error.
 * Asking first keeps tss2 from logging errors for handles that simply are not there. */
int tpm_handle_exists(tpm_t *t, uint32_t handle, err_t *e)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more = 0;
	TSS2_RC rc;
	int found = 0;

	rc = Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
	                        handle, 1, &more, &cap);
	if (rc != TSS2_RC_SUCCESS) {
		tpm_tss_err(e, rc, "GetCapability(handles 0x%08x)", handle);
		return -1;
	}
	if (cap->data.handles.count > 0 && cap->data.handles.handle[0] == handle)
		found = 1;
	Esys_Free(cap);
	return found;
}

/* Start a policy session satisfying the EK's authPolicy. Caller flushes *s. 0 or -1. */
static int ek_policy_session(tpm_t *t, ESYS_TR *s, err_t *e)
{
	TPMT_SYM_DEF sym = {.algorithm = TPM2_ALG_NULL};
	TPMI_ALG_HASH alg = t->ek_pub.publicArea.nameAlg;
	TSS2_RC rc;

	*s = ESYS_TR_NONE;
	if (t->ek_policy == EK_POLICY_UNKNOWN) {
		err_set(e,
		        "the EK's authPolicy is not a TCG EK policy (PolicySecret(endorsement) or "
		        "its high-range PolicyOR); cannot authorise it");
		return -1;
	}
	rc = Esys_StartAuthSession(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	                           ESYS_TR_NONE, NULL, TPM2_SE_POLICY, &sym, alg, s);
	if (rc != TSS2_RC_SUCCESS) {
		tpm_tss_err(e, rc, "StartAuthSession(policy)");
		*s = ESYS_TR_NONE;
		return -1;
	}
	/* Keep the session alive after use; we always flush it ourselves, which works the same
	 * whether the authorised command succeeded or failed. */
	Esys_TRSess_SetAttributes(t->esys, *s, TPMA_SESSION_CONTINUESESSION, 0xff);
	rc = Esys_PolicySecret(t->esys, ESYS_TR_RH_ENDORSEMENT, *s, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	                       ESYS_TR_NONE, NULL, NULL, NULL, 0, NULL, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		tpm_tss_err(
		    e, rc,
		    "PolicySecret(endorsement) (is the endorsement hierarchy password set?)");
		goto fail;
	}
	if (t->ek_policy == EK_POLICY_B) {
		/* High-range EK templates (H-1..H-7, e.g. swtpm's P-384 EK) carry PolicyB =
		 * PolicyOR(PolicyA, PolicyC). PolicyC is the PolicyAuthorizeNV branch that lets an
		 * owner of the EK policy NV index authorise the EK; we take branch A: after
		 * PolicySecret(endorsement) the session digest equals PolicyA, and PolicyOR with
		 * the list {PolicyA, PolicyC} then replaces it by PolicyB, the EK's authPolicy.
		 * The TPM only checks that the current digest is in the list, so the C digest is
		 * never evaluated, only hashed in. */
		TPML_DIGEST list = {.count = 2};
		size_t n = policy_a(alg, list.digests[0].buffer), clen = 0;
		const uint8_t *c = policy_c(alg, &clen);

		if (n == 0 || c == NULL) {
			err_set(e, "no TCG PolicyC for the EK's name algorithm 0x%04x", alg);
			goto fail;
		}
		list.digests[0].size = (UINT16)n;
		list.digests[1].size = (UINT16)clen;
		memcpy(list.digests[1].buffer, c, clen);
		rc = Esys_PolicyOR(t->esys, *s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &list);
		if (rc != TSS2_RC_SUCCESS) {
			tpm_tss_err(e, rc, "PolicyOR(PolicyA, PolicyC)");
			goto fail;
		}
	}
	return 0;
fail:
	Esys_FlushContext(t->esys, *s);
	*s = ESYS_TR_NONE;
	return -1;
}

static void session_flush(tpm_t *t, ESYS_TR *s)
{
	if (*s != ESYS_TR_NONE)
		Esys_FlushContext(t->esys, *s);
	*s = ESYS_TR_NONE;
}

/* ---- public API ---- */

int tpm_ek_alg_parse(const char *s, tpm_ek_alg_t *alg)
{
	if (strcmp(s, "rsa2048") == 0 || strcmp(s, "rsa") == 0)
		*alg = TPM_EK_RSA2048;
	else if (strcmp(s, "ecc256") == 0 || strcmp(s, "ecc") == 0)
		*alg = TPM_EK_ECC256;
	else if (strcmp(s, "ecc384") == 0)
		*alg = TPM_EK_ECC384;
	else
		return -1;
	return 0;
}

int tpm_ak_alg_parse(const char *s, tpm_ak_alg_t *alg)
{
	if (strcmp(s, "rsa") == 0 || strcmp(s, "rsa2048") == 0)
		*alg = TPM_AK_RSA;
	else if (strcmp(s, "ecc") == 0 || strcmp(s, "ecc256") == 0)
		*alg = TPM_AK_ECC;
	else
		return -1;
	return 0;
}

tpm_t *tpm_open(const char *tcti, err_t *e)
{
	tpm_t *t = xcalloc(1, sizeof(*t));
	TSS2_RC rc;

	t->ek = t->ak = ESYS_TR_NONE;
	/* tss2 prints its own ERROR lines for every failed command, including the ones we
	 * expect and handle (an AK that no longer loads). Our errors carry tss2's decoding of
	 * the code, so keep the library quiet unless the operator asked (TSS2_LOG). */
	setenv("TSS2_LOG", "all+none", 0);
	rc = Tss2_TctiLdr_Initialize(tcti, &t->tcti);
	if (rc != TSS2_RC_SUCCESS) {
		tpm_tss_err(e, rc, "cannot open the TPM through TCTI \"%s\"", tcti);
		free(t);
		return NULL;
	}
	rc = Esys_Initialize(&t->esys, t->tcti, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		tpm_tss_err(e, rc, "cannot start ESAPI on TCTI \"%s\"", tcti);
		Tss2_TctiLdr_Finalize(&t->tcti);
		free(t);
		return NULL;
	}
	/* One harmless command proves the TPM answers (a socket TCTI connects lazily). */
	if (tpm_handle_exists(t, EK_HANDLE_RSA2048, e) < 0) {
		char why[sizeof(e->msg)];
		snprintf(why, sizeof(why), "%s", e ? e->msg : "");
		err_set(e, "TPM at \"%s\" does not answer: %s", tcti, why);
		tpm_free(t);
		return NULL;
	}
	return t;
}

void tpm_free(tpm_t *t)
{
	if (t == NULL)
		return;
	if (t->esys) {
		if (t->ak != ESYS_TR_NONE)
			Esys_FlushContext(t->esys, t->ak);
		if (t->ek != ESYS_TR_NONE) {
			if (t->ek_persistent)
				Esys_TR_Close(t->esys, &t->ek);
			else
				Esys_FlushContext(t->esys, t->ek);
		}
		Esys_Finalize(&t->esys);
	}
	if (t->tcti)
		Tss2_TctiLdr_Finalize(&t->tcti);
	free(t);
}

/* Open the persistent key at handle and read its public area. 0 or -1. */
static int ek_open_persistent(tpm_t *t, uint32_t handle, ESYS_TR *obj, TPM2B_PUBLIC *pub, err_t *e)
{
	TPM2B_PUBLIC *out = NULL;
	TSS2_RC rc;

	rc = Esys_TR_FromTPMPublic(t->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, obj);
	if (rc != TSS2_RC_SUCCESS) {
		tpm_tss_err(e, rc, "cannot open persistent key 0x%08x", handle);
		return -1;
	}
	rc = Esys_ReadPublic(t->esys, *obj, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &out, NULL,
	                     NULL);
	if (rc != TSS2_RC_SUCCESS) {
		tpm_tss_err(e, rc, "ReadPublic(0x%08x)", handle);
		Esys_TR_Close(t->esys, obj);
		return -1;
	}
	*pub = *out;
	Esys_Free(out);
	return 0;
}

/* NV index of the EK certificate that goes with the EK's kind. */
static uint32_t ek_cert_index(const TPMT_PUBLIC *p, ek_policy_t pol)
{
	if (p->type == TPM2_ALG_RSA)
		return pol == EK_POLICY_B ? EK_NV_RSA2048_H1 : EK_NV_RSA2048;
	if (p->type == TPM2_ALG_ECC && p->parameters.eccDetail.curveID == TPM2_ECC_NIST_P384)
		return EK_NV_ECC384;
	if (p->type == TPM2_ALG_ECC)
		return pol == EK_POLICY_B ? EK_NV_ECC256_H2 : EK_NV_ECC256;
	return 0;
}

int tpm_ek_load(tpm_t *t, tpm_ek_alg_t alg, uint32_t handle, err_t *e)
{
	TPM2B_PUBLIC tmpl, pub, *out = NULL;
	TPM2B_SENSITIVE_CREATE sens;
	TPM2B_DATA outside;
	TPML_PCR_SELECTION pcrs;
	ESYS_TR obj = ESYS_TR_NONE;
	TSS2_RC rc;
	int ex;

	if (t->ek != ESYS_TR_NONE) {
		err_set(e, "EK already loaded");
		return -1;
	}
	if (handle != 0) {
		/* The operator named the EK: use it as it is, whatever template made it. */
		if ((ex = tpm_handle_exists(t, handle, e)) < 0)
			return -1;
		if (ex == 0) {
			err_set(e, "no persistent key at agent.ek_handle 0x%08x", handle);
			return -1;
		}
		if (ek_open_persistent(t, handle, &obj, &pub, e) < 0)
			return -1;
		t->ek_persistent = 1;
		goto have;
	}
	ek_template(alg, &tmpl);
	handle = ek_template_handle(alg);
	if ((ex = tpm_handle_exists(t, handle, e)) < 0)
		return -1;
	if (ex) {
		if (ek_open_persistent(t, handle, &obj, &pub, e) < 0)
			return -1;
		if (public_matches_template(&pub.publicArea, &tmpl.publicArea)) {
			t->ek_persistent = 1;
			log_debug("tpm: using the persistent EK at 0x%08x", handle);
			goto have;
		}
		log_warnx("the key at 0x%08x is not a TCG EK of the configured kind; creating the "
		          "EK from the template instead",
		          handle);
		Esys_TR_Close(t->esys, &obj);
	}
	memset(&sens, 0, sizeof(sens));
	memset(&outside, 0, sizeof(outside));
	memset(&pcrs, 0, sizeof(pcrs));
	rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	                        ESYS_TR_NONE, &sens, &tmpl, &outside, &pcrs, &obj, &out, NULL, NULL,
	                        NULL);
	if (rc != TSS2_RC_SUCCESS) {
		tpm_tss_err(e, rc, "CreatePrimary(EK)");
		return -1;
	}
	pub = *out;
	Esys_Free(out);
	t->ek_persistent = 0;
	log_debug("tpm: created the EK from the TCG template");
have:
	t->ek = obj;
	t->ek_pub = pub;
	t->ek_policy = ek_policy_classify(&pub.publicArea);
	t->ek_cert_nv = ek_cert_index(&pub.publicArea, t->ek_policy);
	if (t->ek_policy == EK_POLICY_UNKNOWN)
		log_warnx("the EK's authPolicy is not a TCG EK policy; credential activation will "
		          "not work with it");
	return 0;
}

int tpm_ek_public(const tpm_t *t, buf_t *out)
{
	if (t->ek == ESYS_TR_NONE)
		return -1;
	return public_marshal(&t->ek_pub, out);
}

const char *tpm_ek_key_alg(const tpm_t *t)
{
	const TPMT_PUBLIC *p = &t->ek_pub.publicArea;

	if (p->type == TPM2_ALG_RSA)
		switch (p->parameters.rsaDetail.keyBits) {
		case 2048:
			return "rsa2048";
		case 3072:
			return "rsa3072";
		case 4096:
			return "rsa4096";
		default:
			return "rsa";
		}
	if (p->type == TPM2_ALG_ECC)
		switch (p->parameters.eccDetail.curveID) {
		case TPM2_ECC_NIST_P256:
			return "ecc256";
		case TPM2_ECC_NIST_P384:
			return "ecc384";
		case TPM2_ECC_NIST_P521:
			return "ecc521";
		default:
			return "ecc";
		}
	return "unknown";
}

int tpm_ek_is_persistent(const tpm_t *t)
{
	return t->ek_persistent;
}

/* ---- AK ---- */

static void ak_template(tpm_ak_alg_t alg, TPM2B_PUBLIC *t)
{
	TPMT_PUBLIC *p = &t->publicArea;

	memset(t, 0, sizeof(*t));
	p->nameAlg = TPM2_ALG_SHA256;
	/* A restricted signing key whose private part never leaves this TPM: the attributes
	 * the registrar checks (fixedTPM, fixedParent, sensitiveDataOrigin, restricted, sign);
	 * userWithAuth with an empty password so the agent can quote without a policy. */
	p->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	                      TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
	                      TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
	if (alg == TPM_AK_RSA) {
		p->type = TPM2_ALG_RSA;
		p->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
		p->parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
		p->parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
		p->parameters.rsaDetail.keyBits = 2048;
		p->parameters.rsaDetail.exponent = 0;
	} else {
		p->type = TPM2_ALG_ECC;
		p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
		p->parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
		p->parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
		p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
		p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	}
}

/* Read ak.pub / ak.priv. 1 when both exist and parse, 0 when absent, -1 on error. */
static int ak_files_read(const char *dir, TPM2B_PUBLIC *pub, TPM2B_PRIVATE *priv, err_t *e)
{
	char *pp = xasprintf("%s/ak.pub", dir), *pv = xasprintf("%s/ak.priv", dir);
	buf_t a = BUF_INIT, b = BUF_INIT;
	size_t off;
	int rv = -1;

	if (buf_read_file(&a, pp, AK_FILE_MAX) < 0 || buf_read_file(&b, pv, AK_FILE_MAX) < 0) {
		if (errno == ENOENT) {
			rv = 0;
			goto out;
		}
		err_set(e, "cannot read the AK files in %s: %s", dir, strerror(errno));
		goto out;
	}
	memset(pub, 0, sizeof(*pub));
	memset(priv, 0, sizeof(*priv));
	off = 0;
	if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(a.data, a.len, &off, pub) != TSS2_RC_SUCCESS ||
	    off != a.len) {
		err_set(e, "%s is not a TPM2B_PUBLIC", pp);
		goto out;
	}
	off = 0;
	if (Tss2_MU_TPM2B_PRIVATE_Unmarshal(b.data, b.len, &off, priv) != TSS2_RC_SUCCESS ||
	    off != b.len) {
		err_set(e, "%s is not a TPM2B_PRIVATE", pv);
		goto out;
	}
	rv = 1;
out:
	buf_free(&a);
	buf_free_secret(&b);
	free(pp);
	free(pv);
	return rv;
}

static int ak_files_write(const char *dir, const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv,
                          err_t *e)
{
	uint8_t a[sizeof(TPM2B_PUBLIC)], b[sizeof(TPM2B_PRIVATE)];
	size_t al = 0, bl = 0;
	char *pp = xasprintf("%s/ak.pub", dir), *pv = xasprintf("%s/ak.priv", dir);
	int rv = -1;

	if (Tss2_MU_TPM2B_PUBLIC_Marshal(pub, a, sizeof(a), &al) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Marshal(priv, b, sizeof(b), &bl) != TSS2_RC_SUCCESS) {
		err_set(e, "cannot marshal the new AK");
		goto out;
	}
	/* Private first: a crash between the two leaves an old ak.pub that fails to load with
	 * the new ak.priv, and the next start makes a fresh pair, never a mixed one that loads. */
	if (statefile_write(pv, b, bl, 0600, e) < 0 || statefile_write(pp, a, al, 0644, e) < 0)
		goto out;
	rv = 0;
out:
	OPENSSL_cleanse(b, sizeof(b));
	free(pp);
	free(pv);
	return rv;
}

/* Load pub/priv under the EK. 0, or -1 with e set (and *tpm_rc the TPM's code). */
static int ak_load(tpm_t *t, const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv, TSS2_RC *tpm_rc,
                   err_t *e)
{
	ESYS_TR s = ESYS_TR_NONE, obj = ESYS_TR_NONE;
	TSS2_RC rc;

	*tpm_rc = 0;
	if (ek_policy_session(t, &s, e) < 0)
		return -1;
	rc = Esys_Load(t->esys, t->ek, s, ESYS_TR_NONE, ESYS_TR_NONE, priv, pub, &obj);
	session_flush(t, &s);
	if (rc != TSS2_RC_SUCCESS) {
		*tpm_rc = rc;
		tpm_tss_err(e, rc, "Load(AK) under the EK");
		return -1;
	}
	rc = Esys_TR_GetTpmHandle(t->esys, obj, &t->ak_handle);
	if (rc != TSS2_RC_SUCCESS)
		t->ak_handle = 0;
	t->ak = obj;
	t->ak_pub = *pub;
	return 0;
}

static int ak_is_kind(const TPMT_PUBLIC *p, tpm_ak_alg_t alg)
{
	TPM2B_PUBLIC t;

	ak_template(alg, &t);
	return public_matches_template(p, &t.publicArea);
}

int tpm_ak_load_or_create(tpm_t *t, tpm_ak_alg_t alg, const char *state_dir, int *created, err_t *e)
{
	TPM2B_PUBLIC pub, tmpl, *opub = NULL;
	TPM2B_PRIVATE priv, *opriv = NULL;
	TPM2B_DATA outside;
	TPML_PCR_SELECTION pcrs;
	TPM2B_SENSITIVE_CREATE sens;
	ESYS_TR s = ESYS_TR_NONE;
	TSS2_RC rc, lrc;
	int have, rv = -1;

	if (created)
		*created = 0;
	if (t->ek == ESYS_TR_NONE) {
		err_set(e, "EK not loaded");
		return -1;
	}
	if (t->ak != ESYS_TR_NONE) {
		err_set(e, "AK already loaded");
		return -1;
	}
	have = ak_files_read(state_dir, &pub, &priv, e);
	if (have < 0)
		return -1;
	if (have && !ak_is_kind(&pub.publicArea, alg)) {
		log_warnx("the AK in %s is not of the configured kind (agent.ak_alg); making a new "
		          "AK. The registrar refuses a new AK for a registered UUID (403) until an "
		          "admin deletes the old record",
		          state_dir);
		have = 0;
	}
	if (have) {
		if (ak_load(t, &pub, &priv, &lrc, e) == 0) {
			rv = 0;
			goto out;
		}
		/* A TPM error on the blob (integrity, wrong parent) means the AK belongs to
		 * another EK or TPM: replace it. A transport or resource error stops here. */
		if ((lrc & TSS2_RC_LAYER_MASK) != TSS2_TPM_RC_LAYER ||
		    rc_base(lrc) == TPM2_RC_OBJECT_MEMORY || rc_base(lrc) == TPM2_RC_SESSION_MEMORY)
			goto out;
		log_warnx("the AK in %s does not load under this EK (%s); making a new AK. The "
		          "registrar refuses a new AK for a registered UUID (403) until an admin "
		          "deletes the old record",
		          state_dir, e ? e->msg : "");
	}
	ak_template(alg, &tmpl);
	memset(&sens, 0, sizeof(sens));
	memset(&outside, 0, sizeof(outside));
	memset(&pcrs, 0, sizeof(pcrs));
	if (ek_policy_session(t, &s, e) < 0)
		goto out;
	rc = Esys_Create(t->esys, t->ek, s, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl, &outside,
	                 &pcrs, &opriv, &opub, NULL, NULL, NULL);
	session_flush(t, &s);
	if (rc != TSS2_RC_SUCCESS) {
		tpm_tss_err(e, rc, "Create(AK) under the EK");
		goto out;
	}
	if (ak_files_write(state_dir, opub, opriv, e) < 0)
		goto out;
	if (ak_load(t, opub, opriv, &lrc, e) < 0)
		goto out;
	if (created)
		*created = 1;
	rv = 0;
out:
	if (opriv)
		OPENSSL_cleanse(opriv, sizeof(*opriv));
	Esys_Free(opriv);
	Esys_Free(opub);
	OPENSSL_cleanse(&priv, sizeof(priv));
	return rv;
}

int tpm_ak_public(const tpm_t *t, buf_t *out)
{
	if (t->ak == ESYS_TR_NONE)
		return -1;
	return public_marshal(&t->ak_pub, out);
}

int tpm_ak_name(const tpm_t *t, buf_t *out)
{
	TPM2B_NAME *name = NULL;

	if (t->ak == ESYS_TR_NONE)
		return -1;
	if (Esys_TR_GetName(t->esys, t->ak, &name) != TSS2_RC_SUCCESS)
		return -1;
	buf_set(out, name->name, name->size);
	Esys_Free(name);
	return 0;
}

uint32_t tpm_ak_handle(const tpm_t *t)
{
	return t->ak_handle;
}

const char *tpm_ak_hash_alg(const tpm_t *t)
{
	(void)t;
	return "sha256"; /* both AK kinds sign with SHA-256 */
}

const char *tpm_ak_sign_alg(const tpm_t *t)
{
	return t->ak_pub.publicArea.type == TPM2_ALG_ECC ? "ecdsa" : "rsassa";
}

const char *tpm_ak_key_alg(const tpm_t *t, int legacy)
{
	if (t->ak_pub.publicArea.type == TPM2_ALG_ECC)
		return legacy ? "ecc" : "ecc256";
	return legacy ? "rsa" : "rsa2048";
}

int tpm_activate_credential(tpm_t *t, const uint8_t *id_object, size_t id_len,
                            const uint8_t *secret, size_t secret_len, buf_t *cred, err_t *e)
{
	TPM2B_ID_OBJECT id;
	TPM2B_ENCRYPTED_SECRET sec;
	TPM2B_DIGEST *info = NULL;
	ESYS_TR s = ESYS_TR_NONE;
	size_t off;
	TSS2_RC rc;

	if (t->ak == ESYS_TR_NONE || t->ek == ESYS_TR_NONE) {
		err_set(e, "EK and AK must be loaded before activation");
		return -1;
	}
	memset(&id, 0, sizeof(id));
	memset(&sec, 0, sizeof(sec));
	off = 0;
	if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(id_object, id_len, &off, &id) != TSS2_RC_SUCCESS ||
	    off != id_len) {
		err_set(e, "credential blob: malformed TPM2B_ID_OBJECT");
		return -1;
	}
	off = 0;
	if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(secret, secret_len, &off, &sec) !=
	        TSS2_RC_SUCCESS ||
	    off != secret_len) {
		err_set(e, "credential blob: malformed TPM2B_ENCRYPTED_SECRET");
		return -1;
	}
	if (ek_policy_session(t, &s, e) < 0)
		return -1;
	/* activateHandle (the AK) needs the ADMIN role: its password, since the AK has no
	 * adminWithPolicy; keyHandle (the EK) is authorised by its policy. */
	rc = Esys_ActivateCredential(t->esys, t->ak, t->ek, ESYS_TR_PASSWORD, s, ESYS_TR_NONE, &id,
	                             &sec, &info);
	session_flush(t, &s);
	if (rc != TSS2_RC_SUCCESS) {
		tpm_tss_err(e, rc, "ActivateCredential");
		return -1;
	}
	buf_set(cred, info->buffer, info->size);
	OPENSSL_cleanse(info, sizeof(*info));
	Esys_Free(info);
	return 0;
}

/* ---- PCRs and quotes ---- */

static void pcr_select(TPML_PCR_SELECTION *sel, uint16_t bank, uint32_t mask)
{
	memset(sel, 0, sizeof(*sel));
	sel->count = 1;
	sel->pcrSelections[0].hash = bank;
	sel->pcrSelections[0].sizeofSelect = 3;
	sel->pcrSelections[0].pcrSelect[0] = (uint8_t)(mask & 0xff);
	sel->pcrSelections[0].pcrSelect[1] = (uint8_t)((mask >> 8) & 0xff);
	sel->pcrSelections[0].pcrSelect[2] = (uint8_t)((mask >> 16) & 0xff);
}

int tpm_pcr_read(tpm_t *t, uint16_t bank, uint32_t mask, tpm_pcrs_t *out, err_t *e)
{
	const EVP_MD *md = tpm2_alg_md(bank);
	uint32_t todo = mask & 0xffffffu;
	int first = 1;

	memset(out, 0, sizeof(*out));
	if (md == NULL) {
		err_set(e, "unsupported PCR bank 0x%04x", bank);
		return -1;
	}
	if (mask & ~0xffffffu) {
		err_set(e, "PCR mask 0x%x names PCRs above 23", mask);
		return -1;
	}
	out->bank = bank;
	out->digest_len = (size_t)EVP_MD_get_size(md);
	/* The TPM returns at most 8 digests per call: ask again for what is still missing. */
	while (todo) {
		TPML_PCR_SELECTION sel, *osel = NULL;
		TPML_DIGEST *vals = NULL;
		UINT32 counter = 0;
		uint32_t got = 0;
		size_t k = 0;
		TSS2_RC rc;

		pcr_select(&sel, bank, todo);
		rc = Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel,
		                   &counter, &osel, &vals);
		if (rc != TSS2_RC_SUCCESS) {
			tpm_tss_err(e, rc, "PCR_Read");
			return -1;
		}
		if (osel->count == 1 && osel->pcrSelections[0].hash == bank)
			for (int i = 0; i < osel->pcrSelections[0].sizeofSelect && i < 3; i++)
				got |= (uint32_t)osel->pcrSelections[0].pcrSelect[i] << (8 * i);
		got &= todo;
		if (!first && counter != out->update_counter) {
			Esys_Free(osel);
			Esys_Free(vals);
			err_set(e, "PCRs changed while being read; try again");
			return -1;
		}
		first = 0;
		out->update_counter = counter;
		for (int pcr = 0; pcr < TPM_NUM_PCRS; pcr++) {
			if (!(got & (1u << pcr)))
				continue;
			if (k >= vals->count || vals->digests[k].size != out->digest_len) {
				Esys_Free(osel);
				Esys_Free(vals);
				err_set(e, "PCR_Read returned an inconsistent digest list");
				return -1;
			}
			memcpy(out->value[pcr], vals->digests[k].buffer, out->digest_len);
			k++;
		}
		Esys_Free(osel);
		Esys_Free(vals);
		if (got == 0) {
			err_set(e, "the TPM has no %s PCR bank allocated (PCRs 0x%06x missing)",
			        EVP_MD_get0_name(md), todo);
			return -1;
		}
		out->mask |= got;
		todo &= ~got;
	}
	return 0;
}

int tpm_pcr_reset(tpm_t *t, int pcr, err_t *e)
{
	TSS2_RC rc;

	if (pcr < 0 || pcr >= TPM_NUM_PCRS) {
		err_set(e, "no PCR %d", pcr);
		return -1;
	}
	rc = Esys_PCR_Reset(t->esys, ESYS_TR_PCR0 + (ESYS_TR)pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	                    ESYS_TR_NONE);
	if (rc != TSS2_RC_SUCCESS) {
		tpm_tss_err(e, rc, "PCR_Reset(%d)", pcr);
		return -1;
	}
	return 0;
}

int tpm_pcr_extend(tpm_t *t, int pcr, uint16_t bank, const uint8_t *digest, size_t len, err_t *e)
{
	const EVP_MD *md = tpm2_alg_md(bank);
	TPML_DIGEST_VALUES v;
	TSS2_RC rc;

	if (pcr < 0 || pcr >= TPM_NUM_PCRS) {
		err_set(e, "no PCR %d", pcr);
		return -1;
	}
	if (md == NULL || (size_t)EVP_MD_get_size(md) != len) {
		err_set(e, "PCR extend: digest of %zu bytes does not fit bank 0x%04x", len, bank);
		return -1;
	}
	memset(&v, 0, sizeof(v));
	v.count = 1;
	v.digests[0].hashAlg = bank;
	memcpy(&v.digests[0].digest, digest, len);
	rc = Esys_PCR_Extend(t->esys, ESYS_TR_PCR0 + (ESYS_TR)pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	                     ESYS_TR_NONE, &v);
	if (rc != TSS2_RC_SUCCESS) {
		tpm_tss_err(e, rc, "PCR_Extend(%d)", pcr);
		return -1;
	}
	return 0;
}

int tpm_quote(tpm_t *t, const uint8_t *nonce, size_t nonce_len, uint16_t bank, uint32_t mask,
              buf_t *attest, buf_t *sig, err_t *e)
{
	TPML_PCR_SELECTION sel;
	TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_NULL};
	TPM2B_DATA qd;
	TPM2B_ATTEST *quoted = NULL;
	TPMT_SIGNATURE *signature = NULL;
	uint8_t tmp[sizeof(TPMT_SIGNATURE)];
	size_t off = 0;
	TSS2_RC rc;
	int rv = -1;

	if (t->ak == ESYS_TR_NONE) {
		err_set(e, "AK not loaded");
		return -1;
	}
	if (nonce_len > sizeof(qd.buffer)) {
		err_set(e, "nonce of %zu bytes is too long", nonce_len);
		return -1;
	}
	if (tpm2_alg_md(bank) == NULL || (mask & ~0xffffffu)) {
		err_set(e, "bad PCR selection (bank 0x%04x, mask 0x%x)", bank, mask);
		return -1;
	}
	memset(&qd, 0, sizeof(qd));
	qd.size = (UINT16)nonce_len;
	if (nonce_len)
		memcpy(qd.buffer, nonce, nonce_len);
	pcr_select(&sel, bank, mask);
	/* A NULL scheme makes the TPM use the AK's own (RSASSA or ECDSA with SHA-256). */
	rc = Esys_Quote(t->esys, t->ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &qd, &scheme,
	                &sel, &quoted, &signature);
	if (rc != TSS2_RC_SUCCESS) {
		tpm_tss_err(e, rc, "Quote");
		goto out;
	}
	if (Tss2_MU_TPMT_SIGNATURE_Marshal(signature, tmp, sizeof(tmp), &off) != TSS2_RC_SUCCESS) {
		err_set(e, "cannot marshal the quote signature");
		goto out;
	}
	buf_set(attest, quoted->attestationData, quoted->size);
	buf_set(sig, tmp, off);
	rv = 0;
out:
	Esys_Free(quoted);
	Esys_Free(signature);
	return rv;
}

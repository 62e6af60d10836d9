/* ear_check: the offline check of an EAR token from outside (ear.h). The envelope is
 * decoded first (JWS compact form, or COSE_Sign1 read with libcbor's streaming decoder,
 * which allocates nothing and so cannot be made to allocate what a length claims), the
 * signature checked, and only then the claims read, into their JWT (JSON) form, which one
 * set of rules checks whatever the encoding. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/crypto/ear.h"
#include "common/crypto/ear_priv.h"

const char *ear_rc_str(ear_rc_t rc)
{
	switch (rc) {
	case EAR_OK:
		return "ok";
	case EAR_ERR_MALFORMED:
		return "malformed token";
	case EAR_ERR_ALG:
		return "unsupported algorithm";
	case EAR_ERR_SIGNATURE:
		return "bad signature";
	case EAR_ERR_PROFILE:
		return "wrong profile";
	case EAR_ERR_EXPIRED:
		return "expired";
	case EAR_ERR_FUTURE:
		return "issued in the future";
	case EAR_ERR_CLAIMS:
		return "bad claims";
	}
	return "?";
}

/* ES256: 1 when sig (r||s, len bytes) is pub's signature of msg. */
static int ear_es256_verify(EVP_PKEY *pub, const uint8_t *msg, size_t len, const uint8_t *sig,
                            size_t sig_len)
{
	EVP_MD_CTX *c = NULL;
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *der = NULL;
	int n, ok = 0;

	if (sig_len != EAR_ES256_SIG_LEN)
		return 0;
	if ((es = ECDSA_SIG_new()) == NULL || (r = BN_bin2bn(sig, 32, NULL)) == NULL ||
	    (s = BN_bin2bn(sig + 32, 32, NULL)) == NULL || !ECDSA_SIG_set0(es, r, s))
		fatalx("out of memory");
	r = s = NULL;
	if ((n = i2d_ECDSA_SIG(es, &der)) <= 0 || (c = EVP_MD_CTX_new()) == NULL)
		goto out;
	ok = EVP_DigestVerifyInit(c, NULL, EVP_sha256(), NULL, pub) == 1 &&
	     EVP_DigestVerify(c, der, (size_t)n, msg, len) == 1;
out:
	ERR_clear_error();
	OPENSSL_free(der);
	EVP_MD_CTX_free(c);
	ECDSA_SIG_free(es);
	BN_free(r);
	BN_free(s);
	return ok;
}

/* ---- a pull reader over libcbor's streaming decoder ---- */

typedef enum {
	CI_UINT,  /* u: the value */
	CI_NINT,  /* the value is -1 - u */
	CI_BYTES, /* p, len */
	CI_TEXT,  /* p, len (not checked for UTF-8 here) */
	CI_ARRAY, /* u: count, unless indef */
	CI_MAP,   /* u: pairs, unless indef */
	CI_TAG,   /* u: the tag; the tagged item follows */
	CI_BOOL,  /* u: 0 or 1 */
	CI_NULL,
	CI_BREAK, /* the end of an indefinite array or map */
	CI_OTHER, /* floats, undefined, simple values, indefinite strings: never accepted */
} ci_kind_t;

typedef struct citem {
	ci_kind_t kind;   /* what it is */
	uint64_t u;       /* value, count or tag, by kind */
	const uint8_t *p; /* CI_BYTES, CI_TEXT: the content (in the input) */
	size_t len;       /* ... its length */
	int indef;        /* CI_ARRAY, CI_MAP: indefinite length */
} citem_t;

typedef struct creader {
	const uint8_t *p; /* the input */
	size_t len, off;  /* its length, and how much is read */
} creader_t;

static void ci_u8(void *c, uint8_t v)
{
	((citem_t *)c)->kind = CI_UINT, ((citem_t *)c)->u = v;
}
static void ci_u16(void *c, uint16_t v)
{
	((citem_t *)c)->kind = CI_UINT, ((citem_t *)c)->u = v;
}
static void ci_u32(void *c, uint32_t v)
{
	((citem_t *)c)->kind = CI_UINT, ((citem_t *)c)->u = v;
}
static void ci_u64(void *c, uint64_t v)
{
	((citem_t *)c)->kind = CI_UINT, ((citem_t *)c)->u = v;
}
static void ci_n8(void *c, uint8_t v)
{
	((citem_t *)c)->kind = CI_NINT, ((citem_t *)c)->u = v;
}
static void ci_n16(void *c, uint16_t v)
{
	((citem_t *)c)->kind = CI_NINT, ((citem_t *)c)->u = v;
}
static void ci_n32(void *c, uint32_t v)
{
	((citem_t *)c)->kind = CI_NINT, ((citem_t *)c)->u = v;
}
static void ci_n64(void *c, uint64_t v)
{
	((citem_t *)c)->kind = CI_NINT, ((citem_t *)c)->u = v;
}

static void ci_bytes(void *c, cbor_data p, size_t n)
{
	citem_t *it = c;

	it->kind = CI_BYTES, it->p = p, it->len = n;
}

static void ci_text(void *c, cbor_data p, size_t n)
{
	citem_t *it = c;

	it->kind = CI_TEXT, it->p = p, it->len = n;
}

static void ci_array(void *c, size_t n)
{
	citem_t *it = c;

	it->kind = CI_ARRAY, it->u = n, it->indef = 0;
}

static void ci_map(void *c, size_t n)
{
	citem_t *it = c;

	it->kind = CI_MAP, it->u = n, it->indef = 0;
}

static void ci_array_indef(void *c)
{
	((citem_t *)c)->kind = CI_ARRAY, ((citem_t *)c)->indef = 1;
}
static void ci_map_indef(void *c)
{
	((citem_t *)c)->kind = CI_MAP, ((citem_t *)c)->indef = 1;
}
static void ci_tag(void *c, uint64_t v)
{
	((citem_t *)c)->kind = CI_TAG, ((citem_t *)c)->u = v;
}
static void ci_bool(void *c, bool v)
{
	((citem_t *)c)->kind = CI_BOOL, ((citem_t *)c)->u = v;
}
static void ci_null(void *c)
{
	((citem_t *)c)->kind = CI_NULL;
}
static void ci_break(void *c)
{
	((citem_t *)c)->kind = CI_BREAK;
}
static void ci_other(void *c)
{
	((citem_t *)c)->kind = CI_OTHER;
}
static void ci_other_f(void *c, float v)
{
	(void)v, ((citem_t *)c)->kind = CI_OTHER;
}
static void ci_other_d(void *c, double v)
{
	(void)v, ((citem_t *)c)->kind = CI_OTHER;
}

/* libcbor 0.8's field names for the string callbacks are swapped against its comments:
 * byte_string and string carry a definite string, *_start an indefinite one. */
static const struct cbor_callbacks ci_callbacks = {
    .uint8 = ci_u8,
    .uint16 = ci_u16,
    .uint32 = ci_u32,
    .uint64 = ci_u64,
    .negint8 = ci_n8,
    .negint16 = ci_n16,
    .negint32 = ci_n32,
    .negint64 = ci_n64,
    .byte_string = ci_bytes,
    .byte_string_start = ci_other,
    .string = ci_text,
    .string_start = ci_other,
    .array_start = ci_array,
    .indef_array_start = ci_array_indef,
    .map_start = ci_map,
    .indef_map_start = ci_map_indef,
    .tag = ci_tag,
    .float2 = ci_other_f,
    .float4 = ci_other_f,
    .float8 = ci_other_d,
    .undefined = ci_other,
    .null = ci_null,
    .boolean = ci_bool,
    .indef_break = ci_break,
};

/* The next item's head (and a string's content). 0, or -1 when the input ends or is not
 * well-formed CBOR. */
static int cr_next(creader_t *r, citem_t *it)
{
	struct cbor_decoder_result res;

	memset(it, 0, sizeof(*it));
	it->kind = CI_OTHER;
	if (r->off >= r->len)
		return -1;
	/* libcbor 0.8 refuses the one-byte heads of tags 6..20 (0xc6..0xd4) as reserved,
	 * COSE_Sign1's tag 18 among them: read those heads here (fixed in later libcbor). */
	if ((r->p[r->off] & 0xe0) == 0xc0 && (r->p[r->off] & 0x1f) < 24) {
		it->kind = CI_TAG;
		it->u = r->p[r->off++] & 0x1f;
		return 0;
	}
	res = cbor_stream_decode(r->p + r->off, r->len - r->off, &ci_callbacks, it);
	if (res.status != CBOR_DECODER_FINISHED || res.read == 0 || res.read > r->len - r->off)
		return -1;
	/* The decoder checks that a string fits; check again rather than trust it. */
	if ((it->kind == CI_BYTES || it->kind == CI_TEXT) &&
	    (it->p < r->p + r->off || it->len > (size_t)(r->p + r->len - it->p)))
		return -1;
	r->off += res.read;
	/* Every element takes at least one byte: a count past what is left is a lie. */
	if ((it->kind == CI_ARRAY || it->kind == CI_MAP) && !it->indef &&
	    it->u > (r->len - r->off) / (it->kind == CI_MAP ? 2 : 1))
		return -1;
	return 0;
}

/* Skip the rest of the item whose head is it (its content, for a container). */
static int cr_skip(creader_t *r, const citem_t *it, int depth)
{
	citem_t sub;

	if (depth > EAR_CBOR_DEPTH_MAX)
		return -1;
	switch (it->kind) {
	case CI_TAG:
		return cr_next(r, &sub) < 0 || sub.kind == CI_BREAK ? -1
		                                                    : cr_skip(r, &sub, depth + 1);
	case CI_ARRAY:
	case CI_MAP:
		for (uint64_t i = 0;; i++) {
			if (!it->indef && i >= it->u * (it->kind == CI_MAP ? 2 : 1))
				return 0;
			if (cr_next(r, &sub) < 0)
				return -1;
			if (sub.kind == CI_BREAK)
				return it->indef && (it->kind == CI_ARRAY || i % 2 == 0) ? 0 : -1;
			if (cr_skip(r, &sub, depth + 1) < 0)
				return -1;
		}
	case CI_BREAK:
	case CI_OTHER:
		return -1;
	default:
		return 0;
	}
}

/* ---- COSE_Sign1 ---- */

/* Check a header map (the protected one, or the unprotected one at r): alg must be ES256
 * in the protected bucket, and nothing critical. EAR_OK or an error with e. */
static ear_rc_t ear_cose_headers(creader_t *r, int is_protected, err_t *e)
{
	citem_t m, k, v;
	int alg = 0;

	if (cr_next(r, &m) < 0 || m.kind != CI_MAP) {
		err_set(e, "the COSE %s header is not a map",
		        is_protected ? "protected" : "unprotected");
		return EAR_ERR_MALFORMED;
	}
	for (uint64_t i = 0; m.indef || i < m.u; i++) {
		if (cr_next(r, &k) < 0) {
			err_set(e, "the COSE header is cut short");
			return EAR_ERR_MALFORMED;
		}
		if (k.kind == CI_BREAK && m.indef)
			break;
		if (cr_skip(r, &k, 1) < 0 || cr_next(r, &v) < 0) {
			err_set(e, "the COSE header does not decode");
			return EAR_ERR_MALFORMED;
		}
		if (k.kind == CI_UINT && (k.u == COSE_HEADER_ALG || k.u == COSE_HEADER_CRIT)) {
			if (!is_protected) {
				err_set(e,
				        "COSE header parameter %" PRIu64
				        " in the unprotected bucket",
				        k.u);
				return EAR_ERR_ALG;
			}
			if (k.u == COSE_HEADER_CRIT) {
				err_set(
				    e,
				    "the COSE header has critical parameters this check does not "
				    "understand");
				return EAR_ERR_ALG;
			}
			if (v.kind != CI_NINT || v.u != (uint64_t)(-1 - COSE_ALG_ES256)) {
				err_set(e, "the COSE alg is not ES256 (-7)");
				return EAR_ERR_ALG;
			}
			alg = 1;
		}
		if (cr_skip(r, &v, 1) < 0) {
			err_set(e, "the COSE header does not decode");
			return EAR_ERR_MALFORMED;
		}
	}
	if (is_protected && !alg) {
		err_set(e, "the COSE protected header names no alg (ES256 expected)");
		return EAR_ERR_ALG;
	}
	return EAR_OK;
}

/* Take a COSE_Sign1 apart and check its signature: the payload is then at *payload. */
static ear_rc_t ear_cose_open(const uint8_t *tok, size_t len, EVP_PKEY *pub,
                              const uint8_t **payload, size_t *payload_len, err_t *e)
{
	creader_t r = {tok, len, 0}, hr;
	citem_t it, prot, pay, sig;
	buf_t tbs = BUF_INIT;
	ear_rc_t rc;

	if (cr_next(&r, &it) < 0)
		goto bad;
	if (it.kind == CI_TAG) {
		if (it.u != COSE_SIGN1_TAG) {
			err_set(e, "CBOR tag %" PRIu64 ": not a COSE_Sign1 (tag 18)", it.u);
			return EAR_ERR_MALFORMED;
		}
		if (cr_next(&r, &it) < 0)
			goto bad;
	}
	if (it.kind != CI_ARRAY || it.indef || it.u != 4) {
		err_set(e, "not a COSE_Sign1: expected an array of 4 items");
		return EAR_ERR_MALFORMED;
	}
	if (cr_next(&r, &prot) < 0 || prot.kind != CI_BYTES || prot.len > EAR_PROTECTED_MAX) {
		err_set(e, "the COSE protected header is not a byte string (of at most %d bytes)",
		        EAR_PROTECTED_MAX);
		return EAR_ERR_MALFORMED;
	}
	hr = (creader_t){prot.p, prot.len, 0};
	if (prot.len == 0) {
		err_set(e, "the COSE protected header is empty: no alg");
		return EAR_ERR_ALG;
	}
	if ((rc = ear_cose_headers(&hr, 1, e)) != EAR_OK)
		return rc;
	if (hr.off != hr.len) {
		err_set(e, "bytes after the COSE protected header map");
		return EAR_ERR_MALFORMED;
	}
	if ((rc = ear_cose_headers(&r, 0, e)) != EAR_OK)
		return rc;
	if (cr_next(&r, &pay) < 0 || pay.kind != CI_BYTES) {
		err_set(e, "the COSE payload is not a byte string (detached payloads are not "
		           "supported)");
		return EAR_ERR_MALFORMED;
	}
	if (cr_next(&r, &sig) < 0 || sig.kind != CI_BYTES || sig.len != EAR_ES256_SIG_LEN) {
		err_set(e, "the COSE signature is not a byte string of %d bytes (ES256 r||s)",
		        EAR_ES256_SIG_LEN);
		return EAR_ERR_MALFORMED;
	}
	if (r.off != r.len) {
		err_set(e, "trailing bytes after the COSE_Sign1 (%zu)", r.len - r.off);
		return EAR_ERR_MALFORMED;
	}
	ear_sig_structure(prot.p, prot.len, pay.p, pay.len, &tbs);
	if (!ear_es256_verify(pub, tbs.data, tbs.len, sig.p, sig.len)) {
		buf_free(&tbs);
		err_set(e, "the signature does not verify with the key given (a different key, "
		           "or the token was altered)");
		return EAR_ERR_SIGNATURE;
	}
	buf_free(&tbs);
	*payload = pay.p;
	*payload_len = pay.len;
	return EAR_OK;
bad:
	err_set(e, "not well-formed CBOR");
	return EAR_ERR_MALFORMED;
}

/* ---- CWT claims into their JWT form ---- */

/* Where a map is, for the names of its integer keys. */
typedef enum {
	CX_GENERIC,
	CX_TOP,       /* the claims set */
	CX_VID,       /* ear.verifier-id */
	CX_SUBMODS,   /* submods: every value an appraisal */
	CX_APPRAISAL, /* one EAR-appraisal */
	CX_TV,        /* ear.trustworthiness-vector */
} cx_t;

/* The JWT name of integer key k in context cx (and the context of its value), or NULL. */
static const char *ear_key_name(cx_t cx, int64_t k, cx_t *child)
{
	*child = CX_GENERIC;
	switch (cx) {
	case CX_TOP:
		switch (k) {
		case EAR_KEY_PROFILE:
			return "eat_profile";
		case EAR_KEY_IAT:
			return "iat";
		case EAR_KEY_NONCE:
			return "eat_nonce";
		case EAR_KEY_RAW_EVIDENCE:
			return "ear.raw-evidence";
		case EAR_KEY_VERIFIER_ID:
			*child = CX_VID;
			return "ear.verifier-id";
		case EAR_KEY_SUBMODS:
			*child = CX_SUBMODS;
			return "submods";
		}
		return NULL;
	case CX_VID:
		return k == EAR_VID_KEY_DEVELOPER ? "developer"
		       : k == EAR_VID_KEY_BUILD   ? "build"
		                                  : NULL;
	case CX_APPRAISAL:
		switch (k) {
		case EAR_KEY_STATUS:
			return "ear.status";
		case EAR_KEY_TV:
			*child = CX_TV;
			return "ear.trustworthiness-vector";
		case EAR_KEY_POLICY_ID:
			return "ear.appraisal-policy-id";
		case EAR_KEY_PROFILE:
			return "eat_profile";
		case EAR_VIGIL_CLAIM_KEY:
			return EAR_VIGIL_CLAIM;
		}
		return NULL;
	case CX_TV:
		return k >= 0 && k < EAR_TV_N ? ear_tv_name((ear_tv_claim_t)k) : NULL;
	default:
		return NULL;
	}
}

/* A text item as a NUL-terminated UTF-8 string (caller frees), or NULL. */
static char *ear_text_dup(const citem_t *it)
{
	json_t *j;
	char *s;

	if (memchr(it->p, 0, it->len) != NULL ||
	    (j = json_stringn((const char *)it->p, it->len)) == NULL)
		return NULL;
	s = xstrdup(json_string_value(j));
	json_decref(j);
	return s;
}

static int ear_int_of(const citem_t *it, int64_t *v)
{
	if (it->u > INT64_MAX)
		return -1;
	*v = it->kind == CI_UINT ? (int64_t)it->u : -1 - (int64_t)it->u;
	return 0;
}

static json_t *ear_cbor_value(creader_t *r, const citem_t *it, int depth, cx_t cx, err_t *e);

static json_t *ear_cbor_map(creader_t *r, const citem_t *m, int depth, cx_t cx, err_t *e)
{
	json_t *o = json_object();
	citem_t k, v;

	for (uint64_t i = 0; m->indef || i < m->u; i++) {
		cx_t child = cx == CX_SUBMODS ? CX_APPRAISAL : CX_GENERIC;
		const char *name = NULL;
		char *key = NULL, num[24];
		json_t *val;
		int64_t ik = 0;

		if (cr_next(r, &k) < 0)
			goto bad;
		if (k.kind == CI_BREAK && m->indef)
			break;
		if ((k.kind == CI_UINT || k.kind == CI_NINT) && cx == CX_SUBMODS) {
			err_set(e, "a submods label is an integer, not text");
			goto fail;
		} else if (k.kind == CI_UINT || k.kind == CI_NINT) {
			if (ear_int_of(&k, &ik) < 0)
				goto bad;
			if ((name = ear_key_name(cx, ik, &child)) == NULL) {
				snprintf(num, sizeof(num), "%" PRId64, ik);
				name = num;
			}
		} else if (k.kind == CI_TEXT) {
			if ((key = ear_text_dup(&k)) == NULL) {
				err_set(e, "a map key is not UTF-8 text");
				goto fail;
			}
			name = key;
		} else {
			err_set(e, "a map key is neither an integer nor text");
			goto fail;
		}
		if (json_object_get(o, name) != NULL) {
			err_set(e, "duplicate map key \"%.64s\"", name);
			free(key);
			goto fail;
		}
		if (cr_next(r, &v) < 0 ||
		    (val = ear_cbor_value(r, &v, depth + 1, child, e)) == NULL) {
			free(key);
			goto fail;
		}
		/* ear.status travels as its tier's integer (draft §3.3.1); name it. */
		if (cx == CX_APPRAISAL && k.kind == CI_UINT && ik == EAR_KEY_STATUS &&
		    json_is_integer(val)) {
			json_int_t t = json_integer_value(val);

			if (t == EAR_NONE || t == EAR_AFFIRMING || t == EAR_WARNING ||
			    t == EAR_CONTRAINDICATED) {
				json_decref(val);
				val = json_string(ear_tier_name((ear_tier_t)t));
			}
		}
		json_object_set_new(o, name, val);
		free(key);
	}
	return o;
bad:
	err_set(e, "the claims are not well-formed CBOR");
fail:
	json_decref(o);
	return NULL;
}

/* The JSON form of the CBOR item whose head is it. NULL with e when it is not one the
 * claims may hold (floats, tags, undefined, indefinite strings, integers past 64 bits
 * signed) or does not decode. */
static json_t *ear_cbor_value(creader_t *r, const citem_t *it, int depth, cx_t cx, err_t *e)
{
	json_t *a;
	citem_t sub;
	int64_t v;

	if (depth > EAR_CBOR_DEPTH_MAX) {
		err_set(e, "the claims nest deeper than %d levels", EAR_CBOR_DEPTH_MAX);
		return NULL;
	}
	switch (it->kind) {
	case CI_UINT:
	case CI_NINT:
		if (ear_int_of(it, &v) < 0) {
			err_set(e, "an integer claim is out of the signed 64-bit range");
			return NULL;
		}
		return json_integer(v);
	case CI_BYTES: {
		buf_t b = BUF_INIT;
		json_t *s;

		base64url_encode(&b, it->p, it->len);
		s = json_stringn(b.len ? (const char *)b.data : "", b.len);
		buf_free(&b);
		return s;
	}
	case CI_TEXT:
		if (memchr(it->p, 0, it->len) != NULL ||
		    (a = json_stringn((const char *)it->p, it->len)) == NULL) {
			err_set(e, "a text claim is not UTF-8 (or holds a NUL)");
			return NULL;
		}
		return a;
	case CI_ARRAY:
		a = json_array();
		for (uint64_t i = 0; it->indef || i < it->u; i++) {
			json_t *x;

			if (cr_next(r, &sub) < 0) {
				err_set(e, "the claims are not well-formed CBOR");
				json_decref(a);
				return NULL;
			}
			if (sub.kind == CI_BREAK && it->indef)
				break;
			if ((x = ear_cbor_value(r, &sub, depth + 1, CX_GENERIC, e)) == NULL) {
				json_decref(a);
				return NULL;
			}
			json_array_append_new(a, x);
		}
		return a;
	case CI_MAP:
		return ear_cbor_map(r, it, depth, cx, e);
	case CI_BOOL:
		return json_boolean(it->u);
	case CI_NULL:
		return json_null();
	case CI_TAG:
		err_set(e, "CBOR tag %" PRIu64 " inside the claims", it->u);
		return NULL;
	case CI_BREAK:
		err_set(e, "the claims are not well-formed CBOR (a stray break)");
		return NULL;
	case CI_OTHER:
		break;
	}
	err_set(e, "a claim is a float, undefined, or an indefinite-length string");
	return NULL;
}

static ear_rc_t ear_cwt_claims(const uint8_t *p, size_t len, json_t **out, err_t *e)
{
	creader_t r = {p, len, 0};
	citem_t it;
	json_t *o;

	if (cr_next(&r, &it) < 0 || it.kind != CI_MAP) {
		err_set(e, "the CWT payload is not a CBOR map");
		return EAR_ERR_CLAIMS;
	}
	if ((o = ear_cbor_value(&r, &it, 0, CX_TOP, e)) == NULL)
		return EAR_ERR_CLAIMS;
	if (r.off != r.len) {
		err_set(e, "trailing bytes after the claims map (%zu)", r.len - r.off);
		json_decref(o);
		return EAR_ERR_CLAIMS;
	}
	*out = o;
	return EAR_OK;
}

/* ---- JWT ---- */

static json_t *ear_json_part(const char *p, size_t n, size_t max)
{
	buf_t b = BUF_INIT;
	json_t *j = NULL;

	if (n <= max && base64url_decode(&b, p, n) == 0 && b.len > 0)
		j = json_loadb((const char *)b.data, b.len, JSON_REJECT_DUPLICATES, NULL);
	buf_free(&b);
	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

static ear_rc_t ear_jwt_open(const char *tok, size_t len, EVP_PKEY *pub, json_t **out, err_t *e)
{
	const char *d1 = memchr(tok, '.', len), *d2, *alg;
	json_t *h = NULL, *crit;
	buf_t sig = BUF_INIT;
	ear_rc_t rc = EAR_ERR_MALFORMED;

	d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok)) : NULL;
	if (d1 == NULL || d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok))) {
		err_set(e, "not a JWT: expected three base64url parts joined by '.'");
		goto out;
	}
	if ((h = ear_json_part(tok, (size_t)(d1 - tok), EAR_JWT_HEADER_MAX)) == NULL) {
		err_set(e, "the JWT header is not base64url of a JSON object");
		goto out;
	}
	alg = json_string_value(json_object_get(h, "alg"));
	if (alg == NULL || strcmp(alg, "ES256") != 0) {
		err_set(e, "the JWT alg is \"%.32s\", not ES256", alg ? alg : "(none)");
		rc = EAR_ERR_ALG;
		goto out;
	}
	if ((crit = json_object_get(h, "crit")) != NULL) {
		err_set(e, "the JWT header has critical parameters this check does not understand");
		rc = EAR_ERR_ALG;
		goto out;
	}
	if (base64url_decode(&sig, d2 + 1, len - (size_t)(d2 + 1 - tok)) < 0 ||
	    sig.len != EAR_ES256_SIG_LEN) {
		err_set(e, "the JWT signature is not base64url of %d bytes (ES256 r||s)",
		        EAR_ES256_SIG_LEN);
		goto out;
	}
	if (!ear_es256_verify(pub, (const uint8_t *)tok, (size_t)(d2 - tok), sig.data, sig.len)) {
		err_set(e, "the signature does not verify with the key given (a different key, "
		           "or the token was altered)");
		rc = EAR_ERR_SIGNATURE;
		goto out;
	}
	if ((*out = ear_json_part(d1 + 1, (size_t)(d2 - d1 - 1), EAR_TOKEN_MAX)) == NULL) {
		err_set(e, "the JWT payload is not base64url of a JSON object");
		rc = EAR_ERR_CLAIMS;
		goto out;
	}
	rc = EAR_OK;
out:
	json_decref(h);
	buf_free(&sig);
	return rc;
}

/* ---- the claims' rules (one set for both encodings) ---- */

static int ear_is_str(json_t *o, const char *k)
{
	return json_is_string(json_object_get(o, k));
}

static ear_rc_t ear_check_vigil(json_t *v, const char *label, err_t *e)
{
	json_t *x, *p;
	size_t i;

	if (!json_is_object(v) || !ear_is_str(v, "node-uuid")) {
		err_set(e, "submods.%.64s: %s needs a node-uuid string", label, EAR_VIGIL_CLAIM);
		return EAR_ERR_CLAIMS;
	}
	if (((x = json_object_get(v, "quote-time")) && !json_is_integer(x)) ||
	    ((x = json_object_get(v, "tpm-reset-count")) &&
	     (!json_is_integer(x) || json_integer_value(x) < 0))) {
		err_set(e, "submods.%.64s: %s: quote-time and tpm-reset-count are integers", label,
		        EAR_VIGIL_CLAIM);
		return EAR_ERR_CLAIMS;
	}
	if ((x = json_object_get(v, "policies")) != NULL) {
		if (!json_is_array(x) || json_array_size(x) > EAR_POLICIES_MAX) {
			err_set(e, "submods.%.64s: %s: policies is an array of at most %d", label,
			        EAR_VIGIL_CLAIM, EAR_POLICIES_MAX);
			return EAR_ERR_CLAIMS;
		}
		json_array_foreach(x, i, p)
		{
			if (!json_is_object(p) || !ear_is_str(p, "kind") ||
			    !ear_is_str(p, "name") || !ear_is_str(p, "digest")) {
				err_set(e,
				        "submods.%.64s: %s: policy %zu needs kind, name and digest "
				        "strings",
				        label, EAR_VIGIL_CLAIM, i);
				return EAR_ERR_CLAIMS;
			}
		}
	}
	return EAR_OK;
}

static ear_rc_t ear_check_appraisal(json_t *a, const char *label, err_t *e)
{
	const char *st, *k;
	json_t *tv, *v;
	int status, worst = EAR_NONE;

	if (!json_is_object(a)) {
		err_set(e, "submods.%.64s is not an object", label);
		return EAR_ERR_CLAIMS;
	}
	st = json_string_value(json_object_get(a, "ear.status"));
	if (st == NULL || (status = ear_tier_from_name(st)) < 0) {
		err_set(e,
		        "submods.%.64s: ear.status is missing or not affirming, warning, "
		        "contraindicated or none",
		        label);
		return EAR_ERR_CLAIMS;
	}
	if ((tv = json_object_get(a, "ear.trustworthiness-vector")) != NULL) {
		if (!json_is_object(tv)) {
			err_set(e, "submods.%.64s: ear.trustworthiness-vector is not an object",
			        label);
			return EAR_ERR_CLAIMS;
		}
		json_object_foreach(tv, k, v)
		{
			if (ear_tv_from_name(k) < 0 || !json_is_integer(v) ||
			    json_integer_value(v) < -128 || json_integer_value(v) > 127) {
				err_set(
				    e,
				    "submods.%.64s: trustworthiness claim \"%.32s\" is unknown or "
				    "not an integer in -128..127",
				    label, k);
				return EAR_ERR_CLAIMS;
			}
			if ((int)ear_tier_of((int)json_integer_value(v)) > worst)
				worst = (int)ear_tier_of((int)json_integer_value(v));
		}
	}
	/* draft §3.1: a status no better than the worst claim of the vector. */
	if (status != EAR_NONE && status < worst) {
		err_set(e,
		        "submods.%.64s: ear.status is %s, better than its worst trustworthiness "
		        "claim (%s)",
		        label, st, ear_tier_name((ear_tier_t)worst));
		return EAR_ERR_CLAIMS;
	}
	if ((v = json_object_get(a, "ear.appraisal-policy-id")) != NULL && !json_is_string(v)) {
		err_set(e, "submods.%.64s: ear.appraisal-policy-id is not a string", label);
		return EAR_ERR_CLAIMS;
	}
	if ((v = json_object_get(a, EAR_VIGIL_CLAIM)) != NULL)
		return ear_check_vigil(v, label, e);
	return EAR_OK;
}

static ear_rc_t ear_check_claims(json_t *c, const ear_window_t *w, err_t *e)
{
	const char *prof = json_string_value(json_object_get(c, "eat_profile")), *label;
	json_t *iat = json_object_get(c, "iat"), *vid, *sub, *x, *a;
	json_int_t t;
	ear_rc_t rc;
	buf_t b = BUF_INIT;

	if (prof == NULL) {
		err_set(e, "no eat_profile claim (a string) in the token");
		return EAR_ERR_PROFILE;
	}
	if (strcmp(prof, EAR_PROFILE) != 0) {
		err_set(e, "eat_profile is \"%.80s\", not the EAR profile \"%s\"", prof,
		        EAR_PROFILE);
		return EAR_ERR_PROFILE;
	}
	if (!json_is_integer(iat)) {
		err_set(e, iat ? "iat is not an integer (EAT allows no fractional times)"
		               : "no iat claim in the token");
		return EAR_ERR_CLAIMS;
	}
	t = json_integer_value(iat);
	if (t <= 0) {
		err_set(e, "iat %" JSON_INTEGER_FORMAT " is not a positive unix time", t);
		return EAR_ERR_CLAIMS;
	}
	if (t > w->now && t - w->now > w->skew) {
		err_set(e,
		        "iat %" JSON_INTEGER_FORMAT " is %" JSON_INTEGER_FORMAT
		        " s in the future (clock skew allowed: %" PRId64 " s)",
		        t, t - w->now, w->skew);
		return EAR_ERR_FUTURE;
	}
	if (w->max_age > 0 && t < w->now && w->now - t > w->max_age) {
		err_set(e,
		        "iat %" JSON_INTEGER_FORMAT " is %" JSON_INTEGER_FORMAT
		        " s old, older than the %" PRId64 " s allowed: expired",
		        t, w->now - t, w->max_age);
		return EAR_ERR_EXPIRED;
	}
	vid = json_object_get(c, "ear.verifier-id");
	if (!json_is_object(vid) || !ear_is_str(vid, "developer") || !ear_is_str(vid, "build")) {
		err_set(e, "ear.verifier-id is missing or lacks its developer and build strings");
		return EAR_ERR_CLAIMS;
	}
	if ((x = json_object_get(c, "ear.raw-evidence")) != NULL) {
		int ok = json_is_string(x) &&
		         base64url_decode(&b, json_string_value(x), json_string_length(x)) == 0;

		buf_free(&b);
		if (!ok) {
			err_set(e, "ear.raw-evidence is not base64url text");
			return EAR_ERR_CLAIMS;
		}
	}
	sub = json_object_get(c, "submods");
	if (!json_is_object(sub) || json_object_size(sub) == 0 ||
	    json_object_size(sub) > EAR_NODES_MAX) {
		err_set(e, "submods is missing, empty, or has more than %d entries", EAR_NODES_MAX);
		return EAR_ERR_CLAIMS;
	}
	json_object_foreach(sub, label, a)
	{
		if ((rc = ear_check_appraisal(a, label, e)) != EAR_OK)
			return rc;
	}
	return EAR_OK;
}

ear_rc_t ear_claims_decode(const uint8_t *p, size_t len, ear_format_t f, const ear_window_t *w,
                           json_t **claims, err_t *e)
{
	json_t *c = NULL;
	ear_rc_t rc;

	*claims = NULL;
	if (len > EAR_TOKEN_MAX) {
		err_set(e, "the claims are %zu bytes, over the limit of %u", len, EAR_TOKEN_MAX);
		return EAR_ERR_MALFORMED;
	}
	if (f == EAR_FORMAT_CWT) {
		if ((rc = ear_cwt_claims(p, len, &c, e)) != EAR_OK)
			return rc;
	} else if ((c = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, NULL)) == NULL ||
	           !json_is_object(c)) {
		json_decref(c);
		err_set(e, "the claims are not a JSON object");
		return EAR_ERR_CLAIMS;
	}
	if ((rc = ear_check_claims(c, w, e)) != EAR_OK) {
		json_decref(c);
		return rc;
	}
	*claims = c;
	return EAR_OK;
}

/* ---- the entry point ---- */

/* 1 when p (n bytes) is only base64url characters and dots. */
static int ear_looks_jwt(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return n > 0;
}

ear_rc_t ear_verify(const uint8_t *tok, size_t len, EVP_PKEY *pub, const ear_window_t *w,
                    json_t **claims, ear_format_t *format, err_t *e)
{
	const uint8_t *payload;
	size_t payload_len, n = len;
	json_t *c = NULL;
	ear_rc_t rc;

	*claims = NULL;
	if (len > EAR_TOKEN_MAX) {
		err_set(e, "the token is %zu bytes, over the limit of %u", len, EAR_TOKEN_MAX);
		return EAR_ERR_MALFORMED;
	}
	if (!ear_key_is_p256(pub)) {
		err_set(e, "the key given is not an ECDSA P-256 public key");
		return EAR_ERR_ALG;
	}
	if (len > 0 && (tok[0] == 0xd2 || tok[0] == 0x84)) { /* tag 18, or a bare array(4) */
		if (format)
			*format = EAR_FORMAT_CWT;
		if ((rc = ear_cose_open(tok, len, pub, &payload, &payload_len, e)) != EAR_OK)
			return rc;
		if ((rc = ear_cwt_claims(payload, payload_len, &c, e)) != EAR_OK)
			return rc;
	} else {
		if (n > 0 && tok[n - 1] == '\n')
			n--;
		if (n > 0 && tok[n - 1] == '\r')
			n--;
		if (!ear_looks_jwt(tok, n)) {
			err_set(e, "neither a JWT (base64url parts joined by '.') nor a COSE_Sign1 "
			           "(CBOR tag 18)");
			return EAR_ERR_MALFORMED;
		}
		if (format)
			*format = EAR_FORMAT_JWT;
		if ((rc = ear_jwt_open((const char *)tok, n, pub, &c, e)) != EAR_OK)
			return rc;
	}
	if ((rc = ear_check_claims(c, w, e)) != EAR_OK) {
		json_decref(c);
		return rc;
	}
	*claims = c;
	return EAR_OK;
}

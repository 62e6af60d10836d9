/* revnotice: build, sign and verify Keylime revocation messages (docs/wire.md §6.1). */
#include "common/crypto/revnotice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

/* jansson writes ", " and ": " without JSON_COMPACT and on one line without an indent:
 * the same text as Python's json.dumps, which Keylime uses. */
#define REVNOTICE_DUMP_FLAGS (JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII)

const char *revnotice_rc_str(revnotice_rc_t rc)
{
	switch (rc) {
	case REVNOTICE_OK:
		return "ok";
	case REVNOTICE_TOO_LARGE:
		return "too large";
	case REVNOTICE_MALFORMED:
		return "malformed";
	case REVNOTICE_UNSIGNED:
		return "unsigned";
	case REVNOTICE_BAD_BASE64:
		return "bad base64";
	case REVNOTICE_BAD_SIGNATURE:
		return "bad signature";
	case REVNOTICE_BAD_CERT:
		return "bad certificate";
	case REVNOTICE_BAD_MSG:
		return "bad message";
	}
	return "unknown";
}

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

/* Python's time.asctime(): "Mon Aug  3 07:14:14 2026", local time. */
static void asctime_text(time_t t, char out[32])
{
	struct tm tm;
	char tmp[32];
	size_t n;

	if (t == 0)
		t = time(NULL);
	if (localtime_r(&t, &tm) == NULL || asctime_r(&tm, tmp) == NULL) {
		snprintf(out, 32, "%s", "Thu Jan  1 00:00:00 1970");
		return;
	}
	n = strcspn(tmp, "\n");
	memcpy(out, tmp, n);
	out[n] = '\0';
}

int revnotice_msg_build(const revnotice_fields_t *f, buf_t *out, err_t *e)
{
	json_t *o = json_object();
	char when[32], *text = NULL;
	int rv = -1;

	asctime_text(f->event_time, when);
	/* json_string fails only on text that is not UTF-8. */
	if (json_object_set_new(o, "type", json_string(str_or_empty(f->type))) < 0 ||
	    json_object_set_new(o, "ip", json_string(str_or_empty(f->ip))) < 0 ||
	    json_object_set_new(o, "agent_id", json_string(str_or_empty(f->agent_id))) < 0 ||
	    json_object_set_new(o, "port", json_integer(f->port)) < 0 ||
	    json_object_set_new(o, "tpm_policy", json_string(str_or_empty(f->tpm_policy))) < 0 ||
	    json_object_set_new(o, "meta_data", json_string(str_or_empty(f->meta_data))) < 0 ||
	    json_object_set_new(o, "event_time", json_string(when)) < 0) {
		err_set(e, "a field of the revocation message is not UTF-8");
		goto out;
	}
	/* Keylime adds the event's fields only when there is an event; context is the
	 * JSON text of a dict (json.dumps), carried as a string. */
	if (f->event_id != NULL &&
	    (json_object_set_new(o, "event_id", json_string(f->event_id)) < 0 ||
	     json_object_set_new(o, "severity_label",
	                         json_string(str_or_empty(f->severity_label))) < 0 ||
	     json_object_set_new(o, "context", json_string(f->context ? f->context : "{}")) < 0)) {
		err_set(e, "an event field of the revocation message is not UTF-8");
		goto out;
	}
	if ((text = json_dumps(o, REVNOTICE_DUMP_FLAGS)) == NULL) {
		err_set(e, "cannot serialise the revocation message");
		goto out;
	}
	buf_set(out, text, strlen(text));
	rv = 0;
out:
	free(text);
	json_decref(o);
	return rv;
}

/* The private key in pem, if it is RSA of at least REVNOTICE_MIN_BITS. */
static EVP_PKEY *key_parse(const char *pem, err_t *e)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	if (k == NULL) {
		err_set_ssl(e, "the revocation key is not a PEM private key");
		return NULL;
	}
	if (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA) {
		err_set(e, "the revocation key is %s, not RSA", EVP_PKEY_get0_type_name(k));
		EVP_PKEY_free(k);
		return NULL;
	}
	if (EVP_PKEY_get_bits(k) < REVNOTICE_MIN_BITS) {
		err_set(e, "the revocation key has %d bits, fewer than %d", EVP_PKEY_get_bits(k),
		        REVNOTICE_MIN_BITS);
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

/* The public key of the certificate in pem, if it is RSA of at least REVNOTICE_MIN_BITS. */
static EVP_PKEY *cert_key(const char *pem, err_t *e)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *c = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	EVP_PKEY *k = NULL;

	BIO_free(b);
	if (c == NULL) {
		err_set_ssl(e, "the revocation certificate is not a PEM X.509 certificate");
		return NULL;
	}
	k = X509_get_pubkey(c);
	X509_free(c);
	if (k == NULL) {
		err_set_ssl(e, "the revocation certificate's public key does not parse");
		return NULL;
	}
	if (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA) {
		err_set(e, "the revocation certificate's key is %s, not RSA (wrong key type)",
		        EVP_PKEY_get0_type_name(k));
		EVP_PKEY_free(k);
		return NULL;
	}
	if (EVP_PKEY_get_bits(k) < REVNOTICE_MIN_BITS) {
		err_set(e, "the revocation certificate's RSA key has %d bits, fewer than %d",
		        EVP_PKEY_get_bits(k), REVNOTICE_MIN_BITS);
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

int revnotice_key_check(const char *key_pem, err_t *e)
{
	EVP_PKEY *k = key_parse(key_pem, e);

	EVP_PKEY_free(k);
	return k ? 0 : -1;
}

int revnotice_cert_check(const char *cert_pem, err_t *e)
{
	EVP_PKEY *k = cert_key(cert_pem, e);

	EVP_PKEY_free(k);
	return k ? 0 : -1;
}

/* PSS with SHA-256, MGF1-SHA-256 and the longest salt, on a DigestSign/Verify context. */
static int pss_setup(EVP_PKEY_CTX *pc)
{
	return EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) > 0 &&
	               EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha256()) > 0 &&
	               EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_MAX) > 0
	           ? 0
	           : -1;
}

int revnotice_seal(const char *msg, size_t len, const char *key_pem, buf_t *out, err_t *e)
{
	EVP_MD_CTX *mc = NULL;
	EVP_PKEY_CTX *pc = NULL;
	EVP_PKEY *k = NULL;
	json_t *o = NULL;
	buf_t sig = BUF_INIT, b64 = BUF_INIT;
	char *text = NULL;
	size_t slen = 0;
	int rv = -1;

	if (key_pem != NULL && *key_pem != '\0') {
		if ((k = key_parse(key_pem, e)) == NULL)
			goto out;
		mc = EVP_MD_CTX_new();
		if (mc == NULL || EVP_DigestSignInit(mc, &pc, EVP_sha256(), NULL, k) != 1 ||
		    pss_setup(pc) < 0 ||
		    EVP_DigestSign(mc, NULL, &slen, (const uint8_t *)msg, len) != 1) {
			err_set_ssl(e, "cannot sign the revocation message");
			goto out;
		}
		buf_reserve(&sig, slen);
		if (EVP_DigestSign(mc, sig.data, &slen, (const uint8_t *)msg, len) != 1) {
			err_set_ssl(e, "cannot sign the revocation message");
			goto out;
		}
		sig.len = slen;
		base64_encode(&b64, sig.data, sig.len);
	}
	o = json_object();
	if (json_object_set_new(o, "msg", json_stringn(msg, len)) < 0) {
		err_set(e, "the revocation message is not UTF-8 text");
		goto out;
	}
	json_object_set_new(o, "signature", json_string(b64.data ? (const char *)b64.data : ""));
	if ((text = json_dumps(o, REVNOTICE_DUMP_FLAGS)) == NULL) {
		err_set(e, "cannot serialise the revocation notice");
		goto out;
	}
	buf_set(out, text, strlen(text));
	rv = 0;
out:
	free(text);
	json_decref(o);
	buf_free(&sig);
	buf_free(&b64);
	EVP_MD_CTX_free(mc);
	EVP_PKEY_free(k);
	return rv;
}

int revnotice_sign(const revnotice_fields_t *f, const char *key_pem, buf_t *out, err_t *e)
{
	buf_t msg = BUF_INIT;
	int rv = -1;

	if (revnotice_msg_build(f, &msg, e) == 0 &&
	    revnotice_seal((const char *)msg.data, msg.len, key_pem, out, e) == 0)
		rv = 0;
	buf_free(&msg);
	return rv;
}

revnotice_rc_t revnotice_verify(const uint8_t *body, size_t len, const char *cert_pem, json_t **msg,
                                err_t *e)
{
	json_t *outer = NULL, *jm, *js, *inner = NULL;
	EVP_MD_CTX *mc = NULL;
	EVP_PKEY_CTX *pc = NULL;
	EVP_PKEY *k = NULL;
	json_error_t je;
	buf_t sig = BUF_INIT;
	const char *m, *s;
	size_t mlen, slen;
	revnotice_rc_t rc;

	*msg = NULL;
	if (len > REVNOTICE_MAX_BODY) {
		err_set(e, "notice of %zu bytes is over the limit of %d", len, REVNOTICE_MAX_BODY);
		return REVNOTICE_TOO_LARGE;
	}
	/* Duplicate keys are refused: which "msg" a signature covers must not depend on
	 * which of two a parser keeps. */
	outer = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &je);
	if (outer == NULL || !json_is_object(outer)) {
		err_set(e, "notice is not a JSON object%s%s", outer ? "" : ": ",
		        outer ? "" : je.text);
		rc = REVNOTICE_MALFORMED;
		goto out;
	}
	jm = json_object_get(outer, "msg");
	js = json_object_get(outer, "signature");
	if (!json_is_string(jm) || (js != NULL && !json_is_string(js) && !json_is_null(js))) {
		err_set(e, "notice lacks a string \"msg\"%s",
		        json_is_string(jm) ? " or its \"signature\" is not a string" : "");
		rc = REVNOTICE_MALFORMED;
		goto out;
	}
	m = json_string_value(jm);
	mlen = json_string_length(jm);
	s = json_is_string(js) ? json_string_value(js) : "";
	slen = json_is_string(js) ? json_string_length(js) : 0;
	if (slen == 0 || strcmp(s, "none") == 0) {
		err_set(e, "notice is unsigned");
		rc = REVNOTICE_UNSIGNED;
		goto out;
	}
	if (slen > REVNOTICE_MAX_SIG || base64_decode(&sig, s, slen) < 0) {
		err_set(e, "notice signature is not base64%s",
		        slen > REVNOTICE_MAX_SIG ? " of a plausible length" : "");
		rc = REVNOTICE_BAD_BASE64;
		goto out;
	}
	if ((k = cert_key(cert_pem, e)) == NULL) {
		rc = REVNOTICE_BAD_CERT;
		goto out;
	}
	mc = EVP_MD_CTX_new();
	if (mc == NULL || EVP_DigestVerifyInit(mc, &pc, EVP_sha256(), NULL, k) != 1 ||
	    pss_setup(pc) < 0) {
		err_set_ssl(e, "cannot set up the signature check");
		rc = REVNOTICE_BAD_CERT;
		goto out;
	}
	if (sig.len != (size_t)EVP_PKEY_get_size(k) ||
	    EVP_DigestVerify(mc, sig.data, sig.len, (const uint8_t *)m, mlen) != 1) {
		/* Drained, not logged: a forged notice is the peer's doing, said once by
		 * the caller. */
		ERR_clear_error();
		err_set(e, "notice signature does not verify with the revocation certificate");
		rc = REVNOTICE_BAD_SIGNATURE;
		goto out;
	}
	inner = json_loadb(m, mlen, JSON_REJECT_DUPLICATES, &je);
	if (inner == NULL || !json_is_object(inner)) {
		err_set(e, "notice msg is not a JSON object%s%s", inner ? "" : ": ",
		        inner ? "" : je.text);
		json_decref(inner);
		rc = REVNOTICE_BAD_MSG;
		goto out;
	}
	*msg = inner;
	rc = REVNOTICE_OK;
out:
	EVP_MD_CTX_free(mc);
	EVP_PKEY_free(k);
	buf_free(&sig);
	json_decref(outer);
	return rc;
}

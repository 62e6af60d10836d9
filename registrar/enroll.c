/* enroll: registration body parser and checks, in the order a client can act on: shape of
 * the JSON, each field's form and size, the TPM structures, then EK trust. */
#include "registrar/enroll.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <tss2/tss2_tpm2_types.h>

#include "common/base/buf.h"
#include "common/base/log.h"
#include "common/base/xmalloc.h"

int enroll_id_is_valid(const char *id)
{
	size_t n = 0;

	if (id == NULL)
		return 0;
	for (const char *p = id; *p; p++, n++) {
		char c = *p;
		if (n >= ENROLL_MAX_ID)
			return 0;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	/* "." and ".." would read as path segments in URLs built from the id. */
	return n > 0 && strcmp(id, ".") != 0 && strcmp(id, "..") != 0;
}

char *enroll_text_clean(char *s)
{
	for (unsigned char *p = (unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	return s;
}

void enroll_req_free(enroll_req_t *r)
{
	if (r == NULL)
		return;
	free(r->agent_id);
	free(r->ek_tpm);
	free(r->ekcert);
	free(r->aik_tpm);
	free(r->mtls_cert);
	free(r->ip);
	tpm2_pub_free(r->ek);
	tpm2_pub_free(r->ak);
	free(r);
}

/* Fetch an optional string member. 0 with *out NULL when absent or null, 0 with the text
 * when a string within max characters, -1 (e set) otherwise. */
static int get_str(json_t *o, const char *key, size_t max, const char **out, size_t *len, err_t *e)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (len)
		*len = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		err_set(e, "%s must be a string", key);
		return -1;
	}
	if (json_string_length(v) > max) {
		err_set(e, "%s is too long (%zu characters, at most %zu)", key,
		        json_string_length(v), max);
		return -1;
	}
	/* jansson refuses \u0000 by default, so the value has no embedded NUL. */
	*out = json_string_value(v);
	if (len)
		*len = json_string_length(v);
	return 0;
}

/* Decode a base64 TPM2B_PUBLIC field. */
static tpm2_pub_t *decode_pub(const char *key, const char *text, size_t len, err_t *e)
{
	buf_t raw = BUF_INIT;
	tpm2_pub_t *k = NULL;
	err_t why = {""};

	if (base64_decode(&raw, text, len) < 0) {
		err_set(e, "%s is not valid base64", key);
		goto out;
	}
	if ((k = tpm2_pub_decode(raw.data, raw.len, &why)) == NULL) {
		err_set(e, "%s is not a valid TPM2B_PUBLIC: %s", key, why.msg);
		goto out;
	}
out:
	buf_free(&raw);
	return k;
}

static int check_ip(const char *ip)
{
	unsigned char a[16];
	size_t n = strlen(ip);

	if (inet_pton(AF_INET, ip, a) == 1 || inet_pton(AF_INET6, ip, a) == 1)
		return 0;
	/* Otherwise a DNS name: letters, digits, '-' and '.', no empty label. */
	if (n == 0 || ip[0] == '.' || ip[0] == '-' || strstr(ip, "..") != NULL)
		return -1;
	for (const char *p = ip; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			return -1;
	return 0;
}

static int get_port(json_t *o, int *port, err_t *e)
{
	json_t *v = json_object_get(o, "port");
	long p = -1;

	*port = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		p = (i >= 1 && i <= 65535) ? (long)i : -1;
	} else if (json_is_string(v)) {
		/* Some clients send the port as a string of digits. */
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		if (n >= 1 && n <= 5 && strspn(s, "0123456789") == n) {
			p = strtol(s, NULL, 10);
			if (p < 1 || p > 65535)
				p = -1;
		}
	}
	if (p < 0) {
		err_set(e, "port must be an integer from 1 to 65535");
		return -1;
	}
	*port = (int)p;
	return 0;
}

static int check_mtls_cert(const char *text, size_t len, err_t *e)
{
	BIO *bio;
	X509 *x;

	if (strcmp(text, "disabled") == 0)
		return 0;
	if ((bio = BIO_new_mem_buf(text, (int)len)) == NULL)
		fatalx("out of memory");
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (x == NULL) {
		ERR_clear_error();
		err_set(e, "mtls_cert is neither \"disabled\" nor a PEM certificate");
		return -1;
	}
	X509_free(x);
	return 0;
}

/* The EK must be a storage-type key (restricted, decrypt, not sign): MakeCredential
 * encrypts its seed to it, and a TPM only activates credentials with such a key. */
static int check_ek(const tpm2_pub_t *ek, err_t *e)
{
	uint32_t a = tpm2_pub_attributes(ek);
	uint16_t t = tpm2_pub_type(ek);

	if (t != TPM2_ALG_RSA_ID && t != TPM2_ALG_ECC_ID) {
		err_set(e, "ek_tpm is neither an RSA nor an ECC key");
		return -1;
	}
	if (!(a & TPMA_OBJECT_RESTRICTED) || !(a & TPMA_OBJECT_DECRYPT) ||
	    (a & TPMA_OBJECT_SIGN_ENCRYPT)) {
		err_set(
		    e, "ek_tpm is not an endorsement key (needs restricted and decrypt, not sign)");
		return -1;
	}
	if (tpm2_alg_md(tpm2_pub_name_alg(ek)) == NULL) {
		err_set(e, "ek_tpm has an unsupported name algorithm 0x%04x",
		        tpm2_pub_name_alg(ek));
		return -1;
	}
	return 0;
}

/* ekcert checks: parse, same public key as ek_tpm, chain to a vendor CA. */
static int check_ekcert(enroll_req_t *r, size_t len, const enroll_policy_t *pol, int *status,
                        err_t *e)
{
	X509 *leaf = NULL;
	STACK_OF(X509) *chain = NULL;
	err_t why = {""};
	int rv = -1;

	if (ekcert_parse(r->ekcert, len, &leaf, &chain, &why) < 0) {
		err_set(e, "%s", why.msg); /* ekcert_parse's texts start with "ekcert: " */
		goto out;
	}
	if (!tpm2_pub_matches_pkey(r->ek, X509_get0_pubkey(leaf))) {
		err_set(e, "ekcert certifies a different public key than ek_tpm");
		goto out;
	}
	X509_NAME_oneline(X509_get_issuer_name(leaf), r->ek_issuer, sizeof(r->ek_issuer));
	if (pol->ekca == NULL) {
		*status = 403;
		err_set(e, "EK certificate not trusted: the registrar has no EK CA store");
		goto out;
	}
	if (ekca_verify(pol->ekca, leaf, chain, &why) < 0) {
		*status = 403;
		/* ekca_verify's text already says "EK certificate not trusted: ..." */
		if (strncmp(why.msg, "EK certificate", 14) == 0)
			err_set(e, "%s", why.msg);
		else
			err_set(e, "EK certificate not trusted: %s", why.msg);
		goto out;
	}
	rv = 0;
out:
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	return rv;
}

enroll_req_t *enroll_parse(const uint8_t *body, size_t len, const char *path_id,
                           const enroll_policy_t *pol, int *status, err_t *e)
{
	enroll_req_t *r = xcalloc(1, sizeof(*r));
	json_error_t jerr;
	json_t *o = NULL;
	const char *id, *ek, *ekc, *aik, *mtls, *ip;
	size_t ek_len, ekc_len, aik_len, mtls_len;
	err_t why = {""};
	int ok = 0;

	*status = 400;
	o = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL) {
		err_set(e, "body is not valid JSON: %s (line %d, column %d)", jerr.text, jerr.line,
		        jerr.column);
		goto out;
	}
	if (!json_is_object(o)) {
		err_set(e, "body must be a JSON object");
		goto out;
	}

	/* agent_id: from the path, the body, or both when they agree. */
	if (get_str(o, "agent_id", ENROLL_MAX_ID, &id, NULL, e) < 0)
		goto out;
	if (path_id && id && strcmp(path_id, id) != 0) {
		err_set(e, "agent_id in the body differs from the one in the URL");
		goto out;
	}
	if (path_id == NULL && id == NULL) {
		err_set(e, "agent_id is missing (POST /agents needs it in the body)");
		goto out;
	}
	if (!enroll_id_is_valid(path_id ? path_id : id)) {
		err_set(e, "agent_id must be 1 to %d characters of A-Z a-z 0-9 . _ -",
		        ENROLL_MAX_ID);
		goto out;
	}
	r->agent_id = xstrdup(path_id ? path_id : id);

	/* Every field's type and size before any decoding. */
	if (get_str(o, "ek_tpm", ENROLL_MAX_TPM2B, &ek, &ek_len, e) < 0 ||
	    get_str(o, "aik_tpm", ENROLL_MAX_TPM2B, &aik, &aik_len, e) < 0 ||
	    get_str(o, "ekcert", ENROLL_MAX_EKCERT, &ekc, &ekc_len, e) < 0 ||
	    get_str(o, "mtls_cert", ENROLL_MAX_MTLS, &mtls, &mtls_len, e) < 0 ||
	    get_str(o, "ip", ENROLL_MAX_IP, &ip, NULL, e) < 0 || get_port(o, &r->port, e) < 0)
		goto out;
	if (ek == NULL || ek_len == 0) {
		err_set(e, "ek_tpm is missing");
		goto out;
	}
	if (aik == NULL || aik_len == 0) {
		err_set(e, "aik_tpm is missing");
		goto out;
	}
	if (ip && *ip && check_ip(ip) < 0) {
		err_set(e, "ip is neither an IP address nor a host name");
		goto out;
	}
	if (mtls && check_mtls_cert(mtls, mtls_len, e) < 0)
		goto out;

	/* TPM structures. */
	if ((r->ek = decode_pub("ek_tpm", ek, ek_len, e)) == NULL || check_ek(r->ek, e) < 0)
		goto out;
	if ((r->ak = decode_pub("aik_tpm", aik, aik_len, e)) == NULL)
		goto out;
	if (tpm2_pub_check_ak(r->ak, &why) < 0) {
		err_set(e, "aik_tpm is not an acceptable attestation key: %s", why.msg);
		goto out;
	}
	r->ek_tpm = xstrndup(ek, ek_len);
	r->aik_tpm = xstrndup(aik, aik_len);
	r->mtls_cert = mtls ? xstrndup(mtls, mtls_len) : NULL;
	r->ip = (ip && *ip) ? xstrdup(ip) : NULL;

	/* EK trust. An empty ekcert is how agents say "none in NV" (Keylime reads it so). */
	if (ekc && ekc_len > 0) {
		r->ekcert = xstrndup(ekc, ekc_len);
		if (check_ekcert(r, ekc_len, pol, status, e) < 0)
			goto out;
	} else if (pol->require_ek_cert) {
		err_set(e, "ekcert is missing, and this registrar requires EK certificates "
		           "(registrar.require_ek_cert)");
		goto out;
	}
	ok = 1;
out:
	json_decref(o);
	if (!ok) {
		/* Parser texts may quote the body. */
		if (e)
			enroll_text_clean(e->msg);
		enroll_req_free(r);
		return NULL;
	}
	*status = 200;
	return r;
}

int enroll_parse_auth_tag(const uint8_t *body, size_t len, char tag[ENROLL_MAX_AUTHTAG + 1],
                          err_t *e)
{
	json_error_t jerr;
	json_t *o = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *t;
	size_t n;
	int rv = -1;

	if (o == NULL || !json_is_object(o)) {
		err_set(e, "body must be a JSON object {\"auth_tag\": \"<hex>\"}");
		goto out;
	}
	if (get_str(o, "auth_tag", 4 * ENROLL_MAX_AUTHTAG, &t, &n, e) < 0)
		goto out;
	if (t == NULL) {
		err_set(e, "auth_tag is missing");
		goto out;
	}
	if (n != ENROLL_MAX_AUTHTAG || strspn(t, "0123456789abcdef") != n) {
		err_set(e, "auth_tag must be %d lowercase hex characters (HMAC-SHA-384)",
		        ENROLL_MAX_AUTHTAG);
		goto out;
	}
	memcpy(tag, t, n + 1);
	rv = 0;
out:
	if (rv < 0 && e)
		enroll_text_clean(e->msg);
	json_decref(o);
	return rv;
}

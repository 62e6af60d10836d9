/* identity: the agent UUID and the self-signed mTLS certificate. */
#include "agent/identity.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "common/base/log.h"
#include "common/crypto/pki.h"
#include "common/crypto/tpm2.h"
#include "common/base/xmalloc.h"

#define TLS_CERT_DAYS  365
#define TLS_RENEW_SECS (7 * 24 * 3600)

/* 8-4-4-4-12 hex digits. */
static int is_uuid(const char *s)
{
	static const int dash[] = {8, 13, 18, 23};
	size_t i;

	if (strlen(s) != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		int want_dash = i == (size_t)dash[0] || i == (size_t)dash[1] ||
		                i == (size_t)dash[2] || i == (size_t)dash[3];
		if (want_dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

const char *identity_uuid_check(const char *v)
{
	if (strcmp(v, "generate") == 0 || strcmp(v, "hash_ek") == 0 || is_uuid(v))
		return NULL;
	return "not a UUID (8-4-4-4-12 hex digits), \"generate\" or \"hash_ek\"";
}

char *identity_uuid(const char *setting, const buf_t *ek_tpm, err_t *e)
{
	if (strcmp(setting, "generate") == 0) {
		uint8_t r[16];

		if (RAND_bytes(r, sizeof(r)) != 1) {
			err_set_ssl(e, "no random bytes for a UUID");
			return NULL;
		}
		r[6] = (uint8_t)((r[6] & 0x0f) | 0x40); /* version 4 */
		r[8] = (uint8_t)((r[8] & 0x3f) | 0x80); /* RFC 4122 variant */
		return xasprintf(
		    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
		    r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
		    r[13], r[14], r[15]);
	}
	if (strcmp(setting, "hash_ek") == 0) {
		tpm2_pub_t *k = tpm2_pub_decode(ek_tpm->data, ek_tpm->len, e);
		buf_t pem = BUF_INIT, hex = BUF_INIT;
		uint8_t d[32];
		char *out = NULL;

		if (k == NULL)
			return NULL;
		/* Keylime hashes the PEM text of the EK's SubjectPublicKeyInfo, newline included:
		 * the same bytes `tpm2_readpublic -f pem` writes. */
		if (tpm2_pub_pem(k, &pem, e) == 0 &&
		    EVP_Digest(pem.data, pem.len, d, NULL, EVP_sha256(), NULL)) {
			hex_encode(&hex, d, sizeof(d));
			out = (char *)buf_steal(&hex, NULL);
		} else if (e && !e->msg[0]) {
			err_set_ssl(e, "cannot hash the EK public key");
		}
		buf_free(&pem);
		tpm2_pub_free(k);
		return out;
	}
	if (!is_uuid(setting)) {
		err_set(e, "agent.uuid \"%s\" is %s", setting, identity_uuid_check(setting));
		return NULL;
	}
	char *u = xstrdup(setting);
	for (char *p = u; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return u;
}

/* Why cert does not fit (a static text), or NULL when it does. */
static const char *cert_misfit(X509 *cert, EVP_PKEY *key, const char *uuid, const char *ip)
{
	char cn[256] = "";
	time_t soon = time(NULL) + TLS_RENEW_SECS;

	if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn)) <
	        0 ||
	    strcmp(cn, uuid) != 0)
		return "it is for another agent UUID";
	if (X509_check_ip_asc(cert, ip, 0) != 1 && X509_check_host(cert, ip, 0, 0, NULL) != 1)
		return "it does not name agent.contact_ip";
	if (X509_cmp_time(X509_get0_notAfter(cert), &soon) <= 0)
		return "it expires within a week";
	if (X509_check_private_key(cert, key) != 1)
		return "it is for another key";
	return NULL;
}

int identity_tls_ensure(const char *dir, const char *uuid, const char *contact_ip, buf_t *cert_pem,
                        err_t *e)
{
	char *kp = xasprintf("%s/server-private.pem", dir);
	char *cp = xasprintf("%s/server-cert.pem", dir);
	const char *sans[] = {contact_ip, NULL};
	const char *why = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	struct stat st;
	int rv = -1;

	if (stat(kp, &st) == 0) {
		if ((key = pki_key_load(kp, e)) == NULL)
			goto out;
	} else {
		log_info("generating the agent's TLS key %s", kp);
		key = pki_key_new(PKI_KEY_EC256);
		if (pki_key_save(key, kp, e) < 0)
			goto out;
	}
	if (stat(cp, &st) == 0) {
		err_t ce = {""};
		cert = pki_cert_load(cp, &ce);
		why = cert ? cert_misfit(cert, key, uuid, contact_ip) : "it does not parse";
	} else {
		why = "there is none";
	}
	if (why) {
		log_info("issuing a self-signed TLS certificate %s for agent %s (%s)", cp, uuid,
		         why);
		X509_free(cert);
		cert =
		    pki_cert_issue(key, uuid, sans, TLS_CERT_DAYS, PKI_CERT_SERVER, NULL, NULL, e);
		if (cert == NULL || pki_cert_save(cert, cp, e) < 0)
			goto out;
	}
	buf_reset(cert_pem);
	if (pki_cert_pem(cert, cert_pem) < 0) {
		err_set_ssl(e, "cannot write the TLS certificate as PEM");
		goto out;
	}
	rv = 0;
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	free(kp);
	free(cp);
	return rv;
}

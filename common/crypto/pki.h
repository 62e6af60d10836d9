/* pki: keys and X.509 certificates for vigil's own TLS: the fleet CA (`vigilctl ca`),
 * server and client certificates, and the agent's self-signed mTLS certificate. */
#ifndef VIGIL_PKI_H
#define VIGIL_PKI_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/base/buf.h"
#include "common/base/err.h"

#define PKI_DAYS_MAX 36500 /* longest validity pki_cert_issue accepts (100 years) */
#define PKI_CN_MAX   64    /* ub-common-name (RFC 5280) */
#define PKI_SANS_MAX 64    /* subjectAltName entries per certificate */

typedef enum {
	PKI_KEY_EC256,   /* ECDSA P-256 (default for TLS) */
	PKI_KEY_RSA2048, /* RSA-2048 (payload key) */
} pki_key_type_t;

/* Extensions per kind (all certificates also get subjectKeyIdentifier and
 * authorityKeyIdentifier; basicConstraints and keyUsage are critical):
 *   CA      CA:TRUE, pathlen:0; keyCertSign, cRLSign; no extendedKeyUsage
 *   SERVER  CA:FALSE; digitalSignature (+ keyEncipherment for RSA); serverAuth, and
 *           clientAuth too when self-signed (the agent's cert serves both ways)
 *   CLIENT  CA:FALSE; same keyUsage; clientAuth
 *   BOTH    CA:FALSE; same keyUsage; serverAuth, clientAuth */
typedef enum {
	PKI_CERT_CA,     /* CA:TRUE, keyCertSign, cRLSign */
	PKI_CERT_SERVER, /* serverAuth (+ clientAuth for the agent's self-signed cert) */
	PKI_CERT_CLIENT, /* clientAuth */
	PKI_CERT_BOTH,   /* serverAuth + clientAuth */
} pki_cert_kind_t;

EVP_PKEY *pki_key_new(pki_key_type_t t); /* caller frees; fatal on failure */
/* Load an unencrypted PEM private key (PKCS#8 or traditional); NULL on error. */
EVP_PKEY *pki_key_load(const char *path, err_t *e);
/* Write a PKCS#8 PEM private key with mode 0600 through statefile_write (statefile.h:
 * atomic, never through a file or link someone else made). 0 or -1. */
int pki_key_save(EVP_PKEY *k, const char *path, err_t *e);
/* SubjectPublicKeyInfo PEM of k, appended to out. 0 or -1. */
int pki_pubkey_pem(EVP_PKEY *k, buf_t *out);

/* Check one subjectAltName entry: an IPv4/IPv6 literal or a DNS name (LDH labels, at
 * most 253 characters; no wildcards). 0 or -1 with the reason in e. */
int pki_san_check(const char *san, err_t *e);

/* Issue a certificate for key (borrowed) with subject CN = cn (1..PKI_CN_MAX bytes),
 * subjectAltNames from sans (a NULL-terminated array of IP literals or DNS names, each
 * checked by pki_san_check; sans may be NULL), a random 128-bit serial, valid from one
 * hour ago (clock skew) for days (1..PKI_DAYS_MAX) but never past the CA's own expiry,
 * signed by ca_key / ca_cert (borrowed; ca_cert must be a CA whose key is ca_key), or
 * self-signed with key when ca_cert is NULL (ca_key is then ignored). Signed with
 * SHA-256. Caller frees; NULL with the reason in e. */
X509 *pki_cert_issue(EVP_PKEY *key, const char *cn, const char *const *sans, int days,
                     pki_cert_kind_t kind, X509 *ca_cert, EVP_PKEY *ca_key, err_t *e);
X509 *pki_cert_load(const char *path, err_t *e);        /* first PEM cert in file */
int pki_cert_save(X509 *c, const char *path, err_t *e); /* PEM, statefile_write, 0644 */
int pki_cert_pem(X509 *c, buf_t *out);                  /* PEM appended to out */

#endif

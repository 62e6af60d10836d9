/* pki: keys and X.509 certificates for vigil's own TLS: the fleet CA (`vigilctl ca`),
 * server and client certificates, and the agent's self-signed mTLS certificate. */
#ifndef VIGIL_PKI_H
#define VIGIL_PKI_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/buf.h"
#include "common/err.h"

typedef enum {
	PKI_KEY_EC256,   /* ECDSA P-256 (default for TLS) */
	PKI_KEY_RSA2048, /* RSA-2048 (payload key) */
} pki_key_type_t;

typedef enum {
	PKI_CERT_CA,     /* CA:TRUE, keyCertSign, cRLSign */
	PKI_CERT_SERVER, /* serverAuth (+ clientAuth for the agent's self-signed cert) */
	PKI_CERT_CLIENT, /* clientAuth */
	PKI_CERT_BOTH,   /* serverAuth + clientAuth */
} pki_cert_kind_t;

EVP_PKEY *pki_key_new(pki_key_type_t t); /* caller frees; fatal on failure */
/* Load a PEM private key; NULL on error. */
EVP_PKEY *pki_key_load(const char *path, err_t *e);
/* Write a PEM private key atomically with mode 0600. 0 or -1. */
int pki_key_save(EVP_PKEY *k, const char *path, err_t *e);
/* SubjectPublicKeyInfo PEM of k, appended to out. */
int pki_pubkey_pem(EVP_PKEY *k, buf_t *out);

/* Issue a certificate for key (subject CN = cn, SANs: each entry an IP literal or DNS
 * name; may be NULL) valid for days, signed by ca_key / ca_cert, or self-signed when
 * ca_cert is NULL. Caller frees. */
X509 *pki_cert_issue(EVP_PKEY *key, const char *cn, const char *const *sans, int days,
                     pki_cert_kind_t kind, X509 *ca_cert, EVP_PKEY *ca_key, err_t *e);
X509 *pki_cert_load(const char *path, err_t *e);        /* first PEM cert in file */
int pki_cert_save(X509 *c, const char *path, err_t *e); /* PEM, mode 0644 */
int pki_cert_pem(X509 *c, buf_t *out);                  /* PEM appended to out */

#endif

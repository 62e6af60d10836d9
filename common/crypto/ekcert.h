/* ekcert: EK certificates: parsing what agents send (PEM blocks, EK first then its chain,
 * or base64 DER) and checking the chain against a directory of TPM vendor CAs. */
#ifndef VIGIL_EKCERT_H
#define VIGIL_EKCERT_H

#include <stddef.h>

#include <openssl/x509.h>

#include "common/base/err.h"

typedef struct ekca ekca_t; /* trust store of TPM vendor root (and intermediate) CAs */

/* Load every *.pem / *.crt / *.cer file (PEM, one or more certs) in dir. A file that does
 * not parse is logged and skipped. NULL when dir cannot be read. */
ekca_t *ekca_load_dir(const char *dir, err_t *e);
void ekca_free(ekca_t *s);
int ekca_count(const ekca_t *s); /* certificates loaded */

/* Parse the registration's ekcert text: one or more PEM CERTIFICATE blocks separated by
 * whitespace only (the first is the EK certificate, the rest, at most 8, untrusted
 * intermediates) or base64 of one DER certificate. An empty text is an error here: the
 * caller decides that "" means no certificate. Certificates are kept as encoded (a BER
 * vendor certificate still verifies). leaf: caller frees; chain: caller frees with
 * sk_X509_pop_free (may be empty). On error both are NULL. */
int ekcert_parse(const char *text, size_t len, X509 **leaf, STACK_OF(X509) * *chain, err_t *e);

/* The TCG EK Credential Profile's rules for the EK certificate itself: not a CA
 * (basicConstraints), keyUsage (when present) allows keyEncipherment for an RSA key or
 * keyAgreement for an ECC key, extendedKeyUsage (when present) contains
 * tcg-kp-EKCertificate (2.23.133.8.1). 0, or -1 with a reason that starts "EK certificate
 * refused: ". ekca_verify applies it first. */
int ekcert_check_profile(X509 *leaf, err_t *e);

/* Build a path from leaf through chain (untrusted; may be NULL) to a certificate in s,
 * checking signatures, CA constraints and validity periods. Any certificate in s is a
 * trust anchor, so a vendor intermediate alone is enough (X509_V_FLAG_PARTIAL_CHAIN).
 * Critical extensions OpenSSL does not know are tolerated on the EK certificate only,
 * never on a CA. The leaf must pass ekcert_check_profile first; the path is checked for
 * X509_PURPOSE_ANY (see ekcert.c for why). 0 or -1 (e has the profile's reason, or
 * OpenSSL's with the depth and the subject). */
int ekca_verify(const ekca_t *s, X509 *leaf, STACK_OF(X509) * chain, err_t *e);

/* The DER of cert as base64 (what the registrar's GET returns as ekcert). */
int ekcert_to_b64der(X509 *cert, char **out); /* caller frees out */

#endif

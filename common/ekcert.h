/* ekcert: EK certificates: parsing what agents send (PEM blocks, EK first then its chain,
 * or base64 DER) and checking the chain against a directory of TPM vendor CAs. */
#ifndef VIGIL_EKCERT_H
#define VIGIL_EKCERT_H

#include <stddef.h>

#include <openssl/x509.h>

#include "common/err.h"

typedef struct ekca ekca_t; /* trust store of TPM vendor root (and intermediate) CAs */

/* Load every *.pem / *.crt / *.cer file (PEM, one or more certs) in dir. A file that does
 * not parse is logged and skipped. NULL when dir cannot be read. */
ekca_t *ekca_load_dir(const char *dir, err_t *e);
void ekca_free(ekca_t *s);
int ekca_count(const ekca_t *s); /* certificates loaded */

/* Parse the registration's ekcert text: one or more PEM blocks (the first is the EK
 * certificate, the rest untrusted intermediates) or base64 of one DER certificate.
 * leaf: caller frees; chain: caller frees with sk_X509_pop_free (may be empty). */
int ekcert_parse(const char *text, size_t len, X509 **leaf, STACK_OF(X509) * *chain, err_t *e);

/* Build a path from leaf through chain (untrusted) to a CA in s, checking signatures and
 * validity periods. EK certificates' unhandled critical extensions (TPM SAN forms) are
 * tolerated. 0 or -1 (e has OpenSSL's reason and the subject). */
int ekca_verify(const ekca_t *s, X509 *leaf, STACK_OF(X509) * chain, err_t *e);

/* The DER of cert as base64 (what the registrar's GET returns as ekcert). */
int ekcert_to_b64der(X509 *cert, char **out); /* caller frees out */

#endif

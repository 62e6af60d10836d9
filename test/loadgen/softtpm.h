/* softtpm: a software stand-in for one node's TPM, for the load generator only: an
 * attestation key held in memory (ECC P-256 / ECDSA-SHA256, or RSA-2048 / RSASSA-SHA256),
 * a SHA-256 PCR bank, a clock, and TPM2_Quote's outputs built with tss2-mu exactly as a
 * TPM marshals them. It lives under test/ on purpose: a quote made without a TPM proves
 * nothing, so no daemon may ever link this. Not thread-safe: one thread per node. */
#ifndef VIGIL_LOADGEN_SOFTTPM_H
#define VIGIL_LOADGEN_SOFTTPM_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/base/buf.h"
#include "common/base/err.h"

#define SOFTTPM_PCRS   24 /* PCRs 0..23 */
#define SOFTTPM_DIGEST 32 /* SHA-256 bank */

typedef struct softtpm softtpm_t;

/* A new TPM with a fresh AK (rsa: RSA-2048, else ECC P-256), PCRs all zero, clock at 0
 * with resetCount reset_count. NULL on an OpenSSL failure (e says why). */
softtpm_t *softtpm_new(int rsa, uint32_t reset_count, err_t *e);
void softtpm_free(softtpm_t *t);

/* The AK as a marshalled TPM2B_PUBLIC (what a registrar stores as aik_tpm; restricted
 * signing key attributes, so the verifier's AK checks pass); borrowed. */
const buf_t *softtpm_ak_public(const softtpm_t *t);
/* The AK as SubjectPublicKeyInfo PEM (for tpm2_checkquote -u); replaces out. 0 or -1. */
int softtpm_ak_pem(const softtpm_t *t, buf_t *out);
/* Keylime's names: "ecdsa"/"rsassa", "ecc256"/"rsa2048" ("ecc"/"rsa" when legacy). */
const char *softtpm_sign_alg(const softtpm_t *t);
const char *softtpm_key_alg(const softtpm_t *t, int legacy);

/* SHA-256 of p[0..n) into out, with a digest fetched once per process (OpenSSL 3 looks
 * EVP_sha256() up again at every use). */
void softtpm_sha256(const void *p, size_t n, uint8_t out[SOFTTPM_DIGEST]);

/* PCR operations on the SHA-256 bank. */
void softtpm_pcr_extend(softtpm_t *t, unsigned pcr, const uint8_t digest[SOFTTPM_DIGEST]);
void softtpm_pcr_reset(softtpm_t *t, unsigned pcr);
/* Set a PCR to a value a reset and extends are known to give (no digest computed). */
void softtpm_pcr_set(softtpm_t *t, unsigned pcr, const uint8_t value[SOFTTPM_DIGEST]);
const uint8_t *softtpm_pcr(const softtpm_t *t, unsigned pcr);

/* TPM2_Quote over the PCRs in mask (bits 0..23) with qualifyingData = nonce (at most 64
 * bytes): attest gets the TPMS_ATTEST bytes (no TPM2B size), sig the marshalled
 * TPMT_SIGNATURE, blob the tpm2-tools PCR blob of the same selection (all replaced).
 * The clock advances with the wall clock and strictly from one quote to the next. 0 or
 * -1 (e). */
int softtpm_quote(softtpm_t *t, const uint8_t *nonce, size_t nonce_len, uint32_t mask,
                  buf_t *attest, buf_t *sig, buf_t *blob, err_t *e);

/* The endorsement key, for enrollment at a registrar: an ECC P-256 key of the TCG EK
 * template (a restricted decryption key, AES-128-CFB), made on the first call, and its EK
 * certificate (subject CN=subject) issued by ca with ca_key. 0 or -1 (e). */
int softtpm_ek_make(softtpm_t *t, const char *subject, X509 *ca, EVP_PKEY *ca_key, err_t *e);
/* Its marshalled TPM2B_PUBLIC and certificate PEM (borrowed; after softtpm_ek_make). */
const buf_t *softtpm_ek_public(const softtpm_t *t);
const char *softtpm_ek_cert(const softtpm_t *t);
/* TPM2_ActivateCredential: open a registrar's credential blob made for this EK and the AK's
 * Name; the credential replaces cred. 0 or -1 (e). */
int softtpm_activate(softtpm_t *t, const uint8_t *blob, size_t len, buf_t *cred, err_t *e);

#endif

/* tpm: everything vigil-agent asks of its TPM, and the only module that talks to it.
 *
 * The interface is deliberately narrow and byte-oriented: every argument and result is
 * plain memory (marshalled TPM structures, PEM text, digests), never a tss2 type or an
 * ESYS handle, so the module can later move into its own privilege-separated process
 * behind a pipe without changing its callers. */
#ifndef VIGIL_AGENT_TPM_H
#define VIGIL_AGENT_TPM_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/buf.h"
#include "common/base/err.h"

typedef struct tpm tpm_t;

/* Endorsement key kinds, each one TCG EK Credential Profile template. */
typedef enum {
	TPM_EK_RSA2048, /* template L-1: RSA-2048, SHA-256, cert at NV 0x01c00002 */
	TPM_EK_ECC256,  /* template L-2: ECC NIST P-256, SHA-256, cert at NV 0x01c0000a */
	TPM_EK_ECC384,  /* template H-3: ECC NIST P-384, SHA-384, cert at NV 0x01c00016 */
} tpm_ek_alg_t;

/* Attestation key kinds (restricted signing keys under the EK). */
typedef enum {
	TPM_AK_RSA, /* RSA-2048, RSASSA-SHA256 */
	TPM_AK_ECC, /* ECC NIST P-256, ECDSA-SHA256 */
} tpm_ak_alg_t;

/* Parse "rsa2048" / "ecc256" / "ecc384" and "rsa" / "ecc". 0 or -1. */
int tpm_ek_alg_parse(const char *s, tpm_ek_alg_t *alg);
int tpm_ak_alg_parse(const char *s, tpm_ak_alg_t *alg);

/* Connect through a TCTI configuration string as tss2-tctildr takes it, e.g.
 * "device:/dev/tpmrm0" or "swtpm:host=127.0.0.1,port=2321". NULL on error (e says why). */
tpm_t *tpm_open(const char *tcti, err_t *e);
/* Flush what this module loaded (transient EK, AK) and close. NULL does nothing. */
void tpm_free(tpm_t *t);

/* Make the EK usable. handle 0: use the persistent EK at the template's handle when its
 * public area matches the template, else create it from the template (CreatePrimary).
 * handle != 0: use the persistent key at that handle as it is. 0 or -1. */
int tpm_ek_load(tpm_t *t, tpm_ek_alg_t alg, uint32_t handle, err_t *e);
/* The EK public area as a marshalled TPM2B_PUBLIC (what the registrar gets as ek_tpm);
 * replaces out. 0, or -1 before tpm_ek_load. */
int tpm_ek_public(const tpm_t *t, buf_t *out);
/* The EK's key type as "rsa2048", "ecc256", "ecc384" ("rsa<bits>", "ecc<bits>" for
 * others a named ek_handle may have). */
const char *tpm_ek_key_alg(const tpm_t *t);
/* 1 when the EK is a persistent key, 0 when created by this module. */
int tpm_ek_is_persistent(const tpm_t *t);
/* The EK certificate and its chain as PEM text, EK certificate first, then the chain
 * certificates found in NV 0x01c00100..0x01c001ff; replaces out, which stays empty when
 * the TPM holds no EK certificate. *ncerts (may be NULL) gets the number of certs.
 * A certificate that does not parse, or a chain index that cannot be read, is logged and
 * left out. 0, or -1 on a TPM error reading the EK certificate index. */
int tpm_ek_cert_chain_pem(tpm_t *t, buf_t *out, int *ncerts, err_t *e);

/* Load the AK kept in state_dir (ak.pub, ak.priv) under the EK; when there is none, it
 * does not load, or it is not of kind alg, create a new one there. *created (may be NULL)
 * says which happened. Requires tpm_ek_load. 0 or -1. */
int tpm_ak_load_or_create(tpm_t *t, tpm_ak_alg_t alg, const char *state_dir, int *created,
                          err_t *e);
/* The AK public area as a marshalled TPM2B_PUBLIC (aik_tpm); replaces out. 0 or -1. */
int tpm_ak_public(const tpm_t *t, buf_t *out);
/* The AK Name (nameAlg || digest of its TPMT_PUBLIC); replaces out. 0 or -1. */
int tpm_ak_name(const tpm_t *t, buf_t *out);
/* The AK's TPM handle (a transient handle, 0x80xxxxxx), as /agent/info reports it. */
uint32_t tpm_ak_handle(const tpm_t *t);
/* Algorithm names of the AK, in Keylime's spelling: hash "sha256", signature "rsassa" or
 * "ecdsa", key "rsa2048" or "ecc256" (legacy: "rsa" or "ecc" for API < 2.5). */
const char *tpm_ak_hash_alg(const tpm_t *t);
const char *tpm_ak_sign_alg(const tpm_t *t);
const char *tpm_ak_key_alg(const tpm_t *t, int legacy);

/* TPM2_ActivateCredential for the AK with the EK (using the EK's policy). id_object and
 * secret are the marshalled TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET (with their size
 * fields). The recovered credential replaces cred (wipe it with buf_free_secret). 0/-1. */
int tpm_activate_credential(tpm_t *t, const uint8_t *id_object, size_t id_len,
                            const uint8_t *secret, size_t secret_len, buf_t *cred, err_t *e);

/* ---- PCRs and quotes ---- */

#define TPM_NUM_PCRS   24
#define TPM_MAX_DIGEST 64

/* PCR values of one bank. */
typedef struct tpm_pcrs {
	uint16_t bank;                               /* TPM_ALG_ID of the bank */
	uint32_t mask;                               /* bit i set: pcr[i] is valid */
	size_t digest_len;                           /* bytes per value */
	uint8_t value[TPM_NUM_PCRS][TPM_MAX_DIGEST]; /* the values, by PCR number */
	uint32_t update_counter;                     /* TPM pcrUpdateCounter at the read */
} tpm_pcrs_t;

/* Read the PCRs in mask (bits 0..23) of bank (TPM_ALG_ID). A PCR the TPM does not
 * return (bank not allocated) is an error. 0 or -1. */
int tpm_pcr_read(tpm_t *t, uint16_t bank, uint32_t mask, tpm_pcrs_t *out, err_t *e);
/* TPM2_PCR_Reset of one resettable PCR (16 or 23). 0 or -1. */
int tpm_pcr_reset(tpm_t *t, int pcr, err_t *e);
/* TPM2_PCR_Extend of one PCR in one bank with a digest of that bank's size. 0 or -1. */
int tpm_pcr_extend(tpm_t *t, int pcr, uint16_t bank, const uint8_t *digest, size_t len, err_t *e);
/* TPM2_Quote with the AK over the PCRs in mask of bank, qualifying data = nonce bytes
 * (at most 64). attest gets the TPMS_ATTEST bytes (without the TPM2B size), sig the
 * marshalled TPMT_SIGNATURE (both replaced). The signature scheme is the AK's. 0 or -1. */
int tpm_quote(tpm_t *t, const uint8_t *nonce, size_t nonce_len, uint16_t bank, uint32_t mask,
              buf_t *attest, buf_t *sig, err_t *e);

#endif

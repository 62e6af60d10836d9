/* quote: the Keylime quote string 'r' b64(TPMS_ATTEST) ':' b64(TPMT_SIGNATURE) ':'
 * b64(PCR blob) (docs/wire.md §2.3). The agent encodes it from raw TPM outputs; the
 * verifier decodes it strictly and checks it every round, so the decoder keeps its buffers
 * in a reusable quote_t and the signature check reuses one prepared OpenSSL context per
 * attestation key (quote_ak_t): after the first round a check allocates next to nothing.
 *
 * Hash algorithms are TPM_ALG_IDs (TPM2_ALG_SHA256_ID etc. from common/crypto/tpm2.h); SHA-1,
 * SHA-256, SHA-384 and SHA-512 are known. Neither quote_t nor quote_ak_t may be used by two
 * threads at once; one of each per node in the worker that owns the node is the intent. */
#ifndef VIGIL_QUOTE_H
#define VIGIL_QUOTE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "common/base/buf.h"
#include "common/base/err.h"

/* Size limits. A real quote is about 1.5 KB of text (4 PCRs) to 3 KB (all 24). */
#define QUOTE_STRING_MAX  65536            /* whole quote string, bytes */
#define QUOTE_ATTEST_MAX  1024             /* decoded TPMS_ATTEST */
#define QUOTE_SIG_MAX     1024             /* decoded TPMT_SIGNATURE */
#define QUOTE_PCRBLOB_MAX (136 + 532 * 48) /* 16 banks x 24 PCRs, 8 values per group */
#define QUOTE_PCR_COUNT   24               /* PCRs 0..23 exist */
#define QUOTE_BANKS_MAX   16               /* TPML_PCR_SELECTION entries */
#define QUOTE_DIGEST_MAX  64               /* largest PCR value (SHA-512) */

/* TPMT_SIGNATURE sigAlg values. */
#define QUOTE_SIG_RSASSA 0x0014
#define QUOTE_SIG_RSAPSS 0x0016
#define QUOTE_SIG_ECDSA  0x0018

/* The outcome of a decode or check. Each failure has its own event id
 * (quote_status_event) and every function also sets a specific reason in err_t. */
typedef enum quote_status {
	QUOTE_OK = 0,
	QUOTE_ERR_FORMAT,        /* quote_validation.format: string, base64, sizes */
	QUOTE_ERR_ATTEST,        /* quote_validation.attest: malformed TPMS_ATTEST */
	QUOTE_ERR_SIG_FORMAT,    /* quote_validation.signature_format */
	QUOTE_ERR_PCR_BLOB,      /* quote_validation.pcr_blob: malformed PCR blob */
	QUOTE_ERR_SIG_ALG,       /* quote_validation.signature_algorithm (RSAPSS, key mismatch) */
	QUOTE_ERR_HASH_ALG,      /* quote_validation.hash_algorithm */
	QUOTE_ERR_SIGNATURE,     /* quote_validation.signature: does not verify */
	QUOTE_ERR_NONCE,         /* quote_validation.nonce: extraData differs */
	QUOTE_ERR_PCR_SELECTION, /* quote_validation.pcr_selection: blob vs quoted */
	QUOTE_ERR_PCR_DIGEST,    /* quote_validation.pcr_digest: values vs pcrDigest */
	QUOTE_ERR_CLOCK,         /* quote_validation.clock */
	QUOTE_ERR_PCR16_MISSING, /* pcr_validation.missing_pcr_16 */
	QUOTE_ERR_PCR16,         /* pcr_validation.invalid_pcr_16 */
	QUOTE_ERR_INTERNAL,      /* internal.quote: OpenSSL failure, misuse */
} quote_status_t;

/* vigil's event id for a status, e.g. "quote_validation.nonce"; "" for QUOTE_OK. */
const char *quote_status_event(quote_status_t st);
/* The id Keylime itself would record: every quote_validation.* is Keylime's single
 * "qoute_validation.quote_validation" (its spelling), PCR 16 ones are the same as ours. */
const char *quote_status_keylime_event(quote_status_t st);

/* A PCR selection: banks in list order (which is also the order the TPM hashes them). */
typedef struct quote_pcrsel {
	unsigned count; /* banks used, 0..QUOTE_BANKS_MAX */
	struct {
		uint16_t alg;    /* bank's TPM_ALG_ID */
		uint32_t mask;   /* bit i = PCR i; only bits 0..23 */
	} bank[QUOTE_BANKS_MAX]; /* bank[0..count-1] used */
} quote_pcrsel_t;

/* TPMS_CLOCK_INFO, also what the verifier stores between rounds. */
typedef struct quote_clock {
	uint64_t clock;         /* ms the TPM has run, persisted across power cycles */
	uint32_t reset_count;   /* TPM Resets (reboots) */
	uint32_t restart_count; /* TPM Restarts (resume) since the last Reset */
	uint8_t safe;           /* 1 when clock never went back */
} quote_clock_t;

/* ---- PCR blob: tpm2-tools' little-endian struct dump (docs/wire.md §2.3) ---- */

/* Bytes of the values of a selection: sum of popcount(mask) * digest size. 0 when a bank's
 * algorithm is unknown. */
size_t quote_pcrsel_values_len(const quote_pcrsel_t *sel);
/* Encode a blob exactly as tpm2_quote -o writes it: selection in 16 slots, values in
 * groups of 8. values = the selected PCR values concatenated in selection order (banks
 * in list order, PCRs ascending), i.e. the bytes TPM2_Quote hashes into pcrDigest;
 * len must be quote_pcrsel_values_len(sel). Appends to out. 0 or -1 (e says why). */
int quote_pcrblob_encode(buf_t *out, const quote_pcrsel_t *sel, const uint8_t *values, size_t len,
                         err_t *e);
/* Strict decode: exact length 136 + 532*N, known banks with sizeofSelect 3, no PCR above
 * 23, zeroed unused slots and padding, every value the bank's digest size, as many values
 * as selected. sel receives the selection, values (replaced) the concatenated values as
 * for quote_pcrblob_encode. QUOTE_OK or QUOTE_ERR_PCR_BLOB. */
quote_status_t quote_pcrblob_decode(const uint8_t *p, size_t len, quote_pcrsel_t *sel,
                                    buf_t *values, err_t *e);

/* ---- the quote string ---- */

/* Agent side: append 'r' b64(attest) ':' b64(sig) ':' b64(pcrblob) to out. attest is
 * TPM2B_ATTEST.attestationData (no size prefix), sig the marshalled TPMT_SIGNATURE, pcrblob
 * from quote_pcrblob_encode. The parts are not parsed, only their sizes limited. 0 or -1. */
int quote_encode(buf_t *out, const uint8_t *attest, size_t attest_len, const uint8_t *sig,
                 size_t sig_len, const uint8_t *pcrblob, size_t pcrblob_len, err_t *e);

typedef struct quote quote_t; /* a decoded quote plus reusable scratch space */

quote_t *quote_new(void); /* caller frees with quote_free */
void quote_free(quote_t *q);
/* Forget the decoded quote and give its buffers back (q stays usable): for a decoder kept
 * per node between rounds, whose buffers would otherwise sit idle in every node. */
void quote_release(quote_t *q);

/* Verifier side: decode a quote string (need not be NUL-terminated; at most
 * QUOTE_STRING_MAX bytes). Replaces what q held. Strict: 'r', exactly three non-empty
 * standard-base64 parts, then each part as below. On failure q holds no quote. */
quote_status_t quote_decode(quote_t *q, const char *s, size_t len, err_t *e);
/* The same from the three raw parts (as tpm2_quote -m / -s / -o files). The TPMS_ATTEST
 * must be a quote (TPM_GENERATED, TPM_ST_ATTEST_QUOTE) and the TPMT_SIGNATURE RSASSA,
 * RSAPSS or ECDSA with a known hash; neither may have trailing bytes. */
quote_status_t quote_decode_parts(quote_t *q, const uint8_t *attest, size_t attest_len,
                                  const uint8_t *sig, size_t sig_len, const uint8_t *pcrblob,
                                  size_t pcrblob_len, err_t *e);

/* Accessors of the last successful decode; pointers are borrowed from q and valid until
 * the next decode or quote_free. On a q without a quote they return NULL / 0. */
const uint8_t *quote_attest_bytes(const quote_t *q, size_t *len);  /* raw TPMS_ATTEST */
const uint8_t *quote_sig_bytes(const quote_t *q, size_t *len);     /* raw TPMT_SIGNATURE */
const uint8_t *quote_pcrblob_bytes(const quote_t *q, size_t *len); /* raw PCR blob */
const uint8_t *quote_qualified_signer(const quote_t *q, size_t *len);
const uint8_t *quote_extra_data(const quote_t *q, size_t *len); /* the nonce as quoted */
const uint8_t *quote_pcr_digest(const quote_t *q, size_t *len);
const quote_pcrsel_t *quote_attest_selection(const quote_t *q); /* signed selection */
const quote_pcrsel_t *quote_blob_selection(const quote_t *q);   /* the blob's (unsigned) */
int quote_clock_info(const quote_t *q, quote_clock_t *out);     /* 0, or -1 without quote */
uint64_t quote_firmware_version(const quote_t *q);
uint16_t quote_sig_alg(const quote_t *q);      /* QUOTE_SIG_* */
uint16_t quote_sig_hash_alg(const quote_t *q); /* TPM_ALG_ID */
/* The value of PCR pcr in bank alg from the blob; NULL when not in the blob. Trust it only
 * after quote_check_pcrs (or quote_verify) passed. */
const uint8_t *quote_pcr_value(const quote_t *q, uint16_t alg, unsigned pcr, size_t *len);

/* ---- verification (verifier side) ---- */

typedef struct quote_ak quote_ak_t; /* an AK prepared for repeated signature checks */

/* Prepare pkey (RSA or EC) for checking quotes. Takes its own reference to pkey
 * (EVP_PKEY_up_ref); the caller keeps and frees its own. NULL on error. */
quote_ak_t *quote_ak_new(EVP_PKEY *pkey, err_t *e);
void quote_ak_free(quote_ak_t *ak);

/* The checks, each usable alone; quote_verify runs the first three in Keylime's order.
 * q is not const because hashing uses scratch space inside q. */

/* Signature over H(TPMS_ATTEST) by ak. As Keylime: RSA keys need RSASSA (RSAPSS is
 * refused), EC keys ECDSA; the signature's hash must be hash_alg. */
quote_status_t quote_check_signature(quote_t *q, quote_ak_t *ak, uint16_t hash_alg, err_t *e);
/* extraData must equal the nonce bytes (pull mode: the ASCII nonce as sent). */
quote_status_t quote_check_nonce(const quote_t *q, const void *nonce, size_t nonce_len, err_t *e);
/* The blob's selection must equal the quoted one, and H_sig(values) must equal pcrDigest,
 * H_sig being the signature's hash algorithm. After this, quote_pcr_value is trustworthy. */
quote_status_t quote_check_pcrs(quote_t *q, err_t *e);
/* Signature, nonce, PCR selection and digest, in that order; the first failure wins. */
quote_status_t quote_verify(quote_t *q, quote_ak_t *ak, uint16_t hash_alg, const void *nonce,
                            size_t nonce_len, err_t *e);

/* PCR 16 binding (docs/wire.md §2.4): PCR 16 of bank hash_alg must equal
 * H(0^n || H(pem)), pem being the exact pubkey string the agent sent. Missing PCR 16 is
 * QUOTE_ERR_PCR16_MISSING, a different value QUOTE_ERR_PCR16. */
quote_status_t quote_check_pcr16(quote_t *q, uint16_t hash_alg, const void *pem, size_t pem_len,
                                 err_t *e);

/* Clock check against the clock info stored after the previous good round (prev NULL on
 * the first round: only safe is checked). As docs/wire.md §5.2 item 7: safe must be 1,
 * resetCount must not decrease, restartCount must not decrease, and when either count
 * is unchanged the clock must strictly increase. One deliberate difference from Keylime:
 * restartCount may drop when resetCount grew, because a TPM Reset (reboot) sets
 * restartCount back to 0 and Keylime would wrongly fail a node that once resumed from
 * hibernation and then rebooted. On QUOTE_OK the caller stores quote_clock_info(q). */
quote_status_t quote_check_clock(const quote_t *q, const quote_clock_t *prev, err_t *e);

#endif

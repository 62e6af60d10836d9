/* tpm2: TPM 2.0 structure helpers on tss2-mu and OpenSSL 3: decode TPM2B_PUBLIC, turn it
 * into an EVP_PKEY, compute its Name, check AK attributes. No TPM is talked to here. */
#ifndef VIGIL_TPM2_H
#define VIGIL_TPM2_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include <tss2/tss2_tpm2_types.h>

#include "common/base/buf.h"
#include "common/base/err.h"

typedef struct tpm2_pub tpm2_pub_t; /* a decoded TPM2B_PUBLIC */

/* TPM_ALG_ID values used across vigil. */
#define TPM2_ALG_SHA1_ID     0x0004
#define TPM2_ALG_SHA256_ID   0x000B
#define TPM2_ALG_SHA384_ID   0x000C
#define TPM2_ALG_SHA512_ID   0x000D
#define TPM2_ALG_SM3_256_ID  0x0012
#define TPM2_ALG_SHA3_256_ID 0x0027
#define TPM2_ALG_SHA3_384_ID 0x0028
#define TPM2_ALG_SHA3_512_ID 0x0029
#define TPM2_ALG_RSA_ID      0x0001
#define TPM2_ALG_ECC_ID      0x0023

/* Decode a marshalled TPM2B_PUBLIC (with its 2-byte size); the whole input must be
 * consumed and the size field must match the contents exactly. Only RSA and ECC keys with
 * a SHA-1/256/384/512 nameAlg decode. NULL on error (e says why: truncated, trailing
 * bytes, size mismatch, malformed, unsupported type or nameAlg). Key material is checked
 * by tpm2_pub_to_pkey, not here. */
tpm2_pub_t *tpm2_pub_decode(const uint8_t *p, size_t len, err_t *e);
void tpm2_pub_free(tpm2_pub_t *k);
/* The marshalled bytes as given to tpm2_pub_decode; borrowed. */
const uint8_t *tpm2_pub_bytes(const tpm2_pub_t *k, size_t *len);

uint16_t tpm2_pub_type(const tpm2_pub_t *k);     /* TPM2_ALG_RSA_ID / TPM2_ALG_ECC_ID */
uint16_t tpm2_pub_name_alg(const tpm2_pub_t *k); /* nameAlg */
uint32_t tpm2_pub_attributes(const tpm2_pub_t *k);
/* RSA key bits or ECC curve bits (256, 384, 521). */
int tpm2_pub_key_bits(const tpm2_pub_t *k);
/* The decoded public area, for code that needs the details (makecred); borrowed. */
const TPMT_PUBLIC *tpm2_pub_area(const tpm2_pub_t *k);

/* The public key as an EVP_PKEY (caller frees). RSA: modulus of keyBits with the top bit
 * set and odd, exponent 0 meaning 65537, else odd and > 1. ECC: P-256/384/521, the point
 * on the curve (OpenSSL's public-key check). NULL on error. */
EVP_PKEY *tpm2_pub_to_pkey(const tpm2_pub_t *k, err_t *e);
/* SubjectPublicKeyInfo PEM of the key, as Keylime's hash_ek hashes it. 0 or -1. */
int tpm2_pub_pem(const tpm2_pub_t *k, buf_t *pem, err_t *e);
/* Name = nameAlg (u16be) || H_nameAlg(marshalled TPMT_PUBLIC). Replaces name. 0 or -1. */
int tpm2_pub_name(const tpm2_pub_t *k, buf_t *name, err_t *e);
/* 1 when pkey (e.g. from an EK certificate) is the same public key as k. */
int tpm2_pub_matches_pkey(const tpm2_pub_t *k, EVP_PKEY *pkey);

/* Attestation-key checks: fixedTPM, fixedParent, sensitiveDataOrigin, restricted, sign,
 * not decrypt; nameAlg SHA-256 or stronger; RSA-2048+ with RSASSA or ECC with ECDSA.
 * 0 when fine, else -1 with the first failing rule in e. */
int tpm2_pub_check_ak(const tpm2_pub_t *k, err_t *e);

/* The one table of TPM hash algorithms: TPM_ALG_ID, name, digest size, OpenSSL digest.
 * Every place that names, sizes or hashes by TPM_ALG_ID asks here. */
typedef struct tpm2_hash_alg {
	uint16_t alg;                   /* TPM_ALG_ID */
	const char *name;               /* tpm2-tools spelling: "sha256", "sm3_256" */
	size_t size;                    /* digest bytes */
	const char *ossl;               /* OpenSSL fetch name: "SHA256", "SM3" */
	const EVP_MD *(*builtin)(void); /* OpenSSL's constant (EVP_sha256); banks only */
} tpm2_hash_alg_t;

/* Every algorithm in the table: SHA-1, SHA-2, SM3-256, SHA-3. Borrowed, static; NULL
 * when unknown. by_name matches the tpm2-tools spelling exactly (case matters). */
const tpm2_hash_alg_t *tpm2_hash_alg(uint16_t alg);
const tpm2_hash_alg_t *tpm2_hash_alg_by_name(const char *name);
/* The digest for any algorithm in the table, fetched once per process and shared (do not
 * free); NULL when unknown or when this OpenSSL lacks it. */
const EVP_MD *tpm2_hash_alg_fetched(uint16_t alg);

/* The banks vigil quotes, replays and checks: SHA-1, SHA-256, SHA-384, SHA-512. The
 * helpers below answer for these only: NULL / 0 / -1 for any other algorithm. */
#define TPM2_HASH_BANKS 4
int tpm2_alg_bank(uint16_t alg);                 /* 0 .. TPM2_HASH_BANKS - 1, or -1 */
const EVP_MD *tpm2_alg_md(uint16_t alg);         /* OpenSSL's constant (EVP_sha256()) */
const EVP_MD *tpm2_alg_md_fetched(uint16_t alg); /* prefetched, shared; do not free */
size_t tpm2_alg_size(uint16_t alg);
const char *tpm2_alg_name(uint16_t alg);       /* "sha256", ...; NULL when unknown */
uint16_t tpm2_alg_from_name(const char *name); /* 0 when unknown; case-insensitive */

/* OpenSSL group name ("P-256", "P-384", "P-521") of a TPM_ECC_CURVE, and its field size
 * in bytes when field_bytes is not NULL. NULL / 0 for other curves. */
const char *tpm2_curve_group(uint16_t curve, size_t *field_bytes);
/* The uncompressed SEC1 encoding (04 || X || Y, coordinates left-padded to the field
 * size) of pt on curve into out (room for 1 + 2 * 66 bytes). 0 or -1. */
int tpm2_ecc_point_octets(uint16_t curve, const TPMS_ECC_POINT *pt, uint8_t *out, size_t *outlen,
                          err_t *e);

#endif

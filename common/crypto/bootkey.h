/* bootkey: the cryptography of Keylime's secure payload (docs/wire.md §2.5, §7), both
 * halves, so the agent (which opens) and a tenant (which seals) share one definition.
 *
 * The tenant picks a bootstrap key K (32 bytes in Keylime; 16 also works) and splits it
 * into two shares, K = U xor V. Each share travels RSA-OAEP encrypted (SHA-1, MGF1-SHA-1,
 * empty label) to the agent's payload key. The U share carries auth_tag, the lowercase
 * hex of HMAC-SHA-384(K, agent UUID), so the agent can tell the right pair; the payload
 * is IV(16) || AES-GCM_K(plaintext) || tag(16), no additional data. */
#ifndef VIGIL_BOOTKEY_H
#define VIGIL_BOOTKEY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "common/base/buf.h"
#include "common/base/err.h"

#define BOOTKEY_MAX      32 /* longest share or key (AES-256) */
#define BOOTKEY_MAC_LEN  48 /* HMAC-SHA-384 */
#define BOOTKEY_HMAC_HEX 96 /* its lowercase hex */
#define BOOTKEY_IV_LEN   16 /* Keylime's IV length (not GCM's usual 12) */
#define BOOTKEY_TAG_LEN  16 /* GCM tag */

/* 1 when len is a key length Keylime uses (16 or 32 bytes). */
int bootkey_len_ok(size_t len);

/* Decrypt one share with the payload private key (borrowed). out gets the share, *outlen
 * its length (16 or 32). 0, or -1 with the reason in e (OAEP failure or a share of
 * another length); nothing is left in out on failure. */
int bootkey_unwrap(EVP_PKEY *priv, const uint8_t *in, size_t len, uint8_t out[BOOTKEY_MAX],
                   size_t *outlen, err_t *e);
/* Encrypt one share to the payload public key (borrowed), appending to out. 0 or -1. */
int bootkey_wrap(EVP_PKEY *pub, const uint8_t *share, size_t len, buf_t *out, err_t *e);

/* HMAC-SHA-384(key, msg) as 96 lowercase hex digits and a NUL in out. 0, or -1 (logged). */
int bootkey_hmac_hex(const uint8_t *key, size_t klen, const void *msg, size_t mlen,
                     char out[BOOTKEY_HMAC_HEX + 1]);
/* 1 when mac (BOOTKEY_MAC_LEN raw bytes) is HMAC-SHA-384(key, msg), compared in constant
 * time; 0 otherwise. */
int bootkey_hmac_matches(const uint8_t *key, size_t klen, const void *msg, size_t mlen,
                         const uint8_t mac[BOOTKEY_MAC_LEN]);

/* Open a payload: IV || ciphertext || tag under key (16 or 32 bytes: AES-128/256-GCM).
 * The plaintext replaces the contents of plain only when the tag checks; 0, or -1 with
 * the reason in e (too short, bad tag). */
int bootkey_open(const uint8_t *key, size_t klen, const uint8_t *in, size_t len, buf_t *plain,
                 err_t *e);
/* Seal plaintext under key with a random IV, appending IV || ciphertext || tag to out.
 * 0 or -1. */
int bootkey_seal(const uint8_t *key, size_t klen, const uint8_t *plain, size_t len, buf_t *out,
                 err_t *e);

#endif

/* keys: the agent's side of Keylime's bootstrap key (docs/payload.md, docs/wire.md §2.5):
 * the shares U (from a tenant, with auth_tag and the encrypted payload) and V (from a
 * verifier, once a quote passed) POSTed to /v{ver}/keys/ukey and /keys/vkey, and the
 * proof GET /keys/verify?challenge=C.
 *
 * Shares may come in any order and more than once. Every share received is kept (the
 * newest KEYS_MAX_SHARES of each kind) until a pair matches: each U is tried with each V,
 * K = U xor V, and the first K whose HMAC-SHA-384 over the agent's UUID equals that U's
 * auth_tag (compared in constant time) becomes the key. Then both lists are emptied, as
 * Keylime's agent does, and derived() gets K and that U's payload; a later matching pair
 * replaces K. Shares and K live in memory only and are wiped when dropped. */
#ifndef VIGIL_AGENT_KEYS_H
#define VIGIL_AGENT_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "common/base/buf.h"
#include "common/base/err.h"
#include "common/crypto/bootkey.h"

#define KEYS_MAX_SHARES  16   /* U shares, and V shares, kept while no pair matches */
#define KEYS_MAX_KEY_B64 2048 /* longest encrypted_key accepted, base64 characters */

typedef struct keys keys_t;

/* K was found: k (klen bytes; wiped after the call) and the payload that came with its U
 * share (IV || ciphertext || tag; NULL and 0 when the tenant sent none). Both borrowed
 * for the call. */
typedef void (*keys_derived_fn)(void *arg, const uint8_t *k, size_t klen, const uint8_t *payload,
                                size_t plen);

/* payload_key: the agent's RSA payload key (borrowed; outlives keys). uuid is copied.
 * derived may be NULL. */
keys_t *keys_new(EVP_PKEY *payload_key, const char *uuid, keys_derived_fn derived, void *arg);
/* Wipes every share and K. NULL is fine. */
void keys_free(keys_t *k);

/* A /keys/ukey body, parsed: {"encrypted_key": base64, "auth_tag": hex, "payload"?:
 * base64}; other members are ignored, as the Keylime agent ignores them. */
typedef struct keys_ukey_req {
	buf_t encrypted_key;               /* decoded RSA-OAEP ciphertext */
	uint8_t auth_tag[BOOTKEY_MAC_LEN]; /* decoded HMAC */
	int has_payload;                   /* 1 when "payload" was present */
	buf_t payload;                     /* decoded payload (IV || ciphertext || tag) */
} keys_ukey_req_t;

/* Parse a /keys/ukey body (len bytes). 0, or -1 with the reason in e; req is filled in
 * either case and freed with keys_ukey_req_free. */
int keys_parse_ukey(const uint8_t *body, size_t len, keys_ukey_req_t *req, err_t *e);
void keys_ukey_req_free(keys_ukey_req_t *req);
/* Parse a /keys/vkey body {"encrypted_key": base64} into encrypted_key (appended). 0, or
 * -1 with the reason in e. */
int keys_parse_vkey(const uint8_t *body, size_t len, buf_t *encrypted_key, err_t *e);

/* The POSTs: the HTTP status to answer. 200 when the share was decrypted and kept (also
 * when no pair matches yet: the other share may come later); 400 with the reason in e
 * (bad JSON, base64 or hex, an auth_tag of the wrong size, a share that does not decrypt
 * with the payload key or is not 16 or 32 bytes), in which case nothing changed. Every
 * outcome is logged, with peer (borrowed). */
int keys_post_ukey(keys_t *k, const uint8_t *body, size_t len, const char *peer, err_t *e);
int keys_post_vkey(keys_t *k, const uint8_t *body, size_t len, const char *peer, err_t *e);

/* GET /keys/verify: hmac gets hex(HMAC-SHA-384(K, challenge)). 200; or 400 with the
 * reason in e: no challenge (NULL or empty), one that is not ASCII letters and digits,
 * or no K yet (e is then exactly Keylime's "Bootstrap key not yet available."). */
int keys_verify(keys_t *k, const char *challenge, char hmac[BOOTKEY_HMAC_HEX + 1], err_t *e);

/* The pairing itself, after decryption (unit tests, and the POSTs): keep a share and try
 * every pair. 1 when this share completed a pair (K replaced, derived() called), 0 when
 * it is kept waiting. The bytes are copied; u and v must be 16 or 32 bytes. */
int keys_add_u(keys_t *k, const uint8_t *u, size_t ulen, const uint8_t tag[BOOTKEY_MAC_LEN],
               const uint8_t *payload, size_t plen, int has_payload);
int keys_add_v(keys_t *k, const uint8_t *v, size_t vlen);

/* 1 once a K was derived. */
int keys_have_key(const keys_t *k);
/* Shares waiting (tests). */
size_t keys_waiting_u(const keys_t *k);
size_t keys_waiting_v(const keys_t *k);

#endif

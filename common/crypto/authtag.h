/* authtag: the Keylime activation proof, written once for both sides. The agent computes
 * it from the credential TPM2_ActivateCredential recovered; the registrar, from the key
 * it kept when it issued the challenge (docs/wire.md §3.3). */
#ifndef VIGIL_AUTHTAG_H
#define VIGIL_AUTHTAG_H

#include <stddef.h>
#include <stdint.h>

#define AUTHTAG_HEX_LEN 96 /* lowercase hex of an HMAC-SHA-384 */

/* auth_tag = lowercase hex of HMAC-SHA-384(key = the ASCII bytes of key_b64, message =
 * agent_id). key_b64 is base64(credential): Keylime keys the HMAC with the base64 *text*,
 * not the credential. out gets 96 hex digits and a NUL. 0, or -1 (logged) when OpenSSL
 * fails. Borrowed arguments; the MAC is wiped. */
int authtag_from_key(const char *key_b64, const char *agent_id, char out[AUTHTAG_HEX_LEN + 1]);

/* The same from the raw credential bytes (what the agent holds). */
int authtag_from_credential(const uint8_t *cred, size_t len, const char *agent_id,
                            char out[AUTHTAG_HEX_LEN + 1]);

/* 1 when tag (NUL-terminated, as received) is the auth_tag for key_b64 and agent_id,
 * compared in constant time; 0 otherwise, also when the HMAC cannot be computed. */
int authtag_matches(const char *key_b64, const char *agent_id, const char *tag);

#endif

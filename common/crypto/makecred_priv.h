/* makecred_priv: the TPM key-derivation functions behind makecred, exposed for unit tests
 * that check them against OpenSSL's own SP 800-108 / SP 800-56C implementations. */
#ifndef VIGIL_MAKECRED_PRIV_H
#define VIGIL_MAKECRED_PRIV_H

#include <stddef.h>
#include <stdint.h>

/* KDFa (TPM 2.0 Part 1, 11.4.10.2): SP 800-108 counter mode with HMAC-hash,
 * input [i]32 || label || 00 || context_u || context_v || [bits]32. bits is a multiple
 * of 8; out receives bits / 8 bytes. label is a C string (its NUL is the separator).
 * 0 or -1 (unknown hash). */
int makecred_kdfa(uint16_t hash_alg, const uint8_t *key, size_t key_len, const char *label,
                  const uint8_t *context_u, size_t u_len, const uint8_t *context_v, size_t v_len,
                  uint8_t *out, size_t bits);

/* KDFe (11.4.10.3): SP 800-56C one-step hash KDF, input
 * [i]32 || Z || label || 00 || party_u || party_v. Same conventions as makecred_kdfa. */
int makecred_kdfe(uint16_t hash_alg, const uint8_t *z, size_t z_len, const char *label,
                  const uint8_t *party_u, size_t u_len, const uint8_t *party_v, size_t v_len,
                  uint8_t *out, size_t bits);

#endif

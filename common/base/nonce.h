/* nonce: random text of [A-Za-z0-9] from the CSPRNG, for Keylime's quote nonces (20
 * characters) and registration challenges (32 characters). */
#ifndef VIGIL_NONCE_H
#define VIGIL_NONCE_H

#include <stddef.h>

/* len characters, each of the 62 equally likely, then a NUL (out holds len + 1 bytes).
 * Fatal if the CSPRNG fails: there is no safe fallback. */
void nonce_alnum(char *out, size_t len);

#endif

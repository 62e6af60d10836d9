/* payload: the agent's payload key (Keylime's "NK"): RSA-2048, made on first start and
 * kept in the state dir as payload-private.pem (mode 0600). Its public half, as a
 * SubjectPublicKeyInfo PEM, is bound into PCR 16 of every quote and sent as "pubkey";
 * tenants and verifiers encrypt the payload key shares (U, V) to it. */
#ifndef VIGIL_AGENT_PAYLOAD_H
#define VIGIL_AGENT_PAYLOAD_H

#include <openssl/evp.h>

#include "common/base/buf.h"
#include "common/base/err.h"

/* Load dir/payload-private.pem, or generate and save it when missing. A key that is not
 * RSA-2048 is refused (Keylime's tenants only encrypt to RSA). The public key PEM replaces
 * pub_pem: exactly the bytes to hash into PCR 16 and to send. Caller frees the key. NULL
 * on error (e says why). */
EVP_PKEY *payload_key_ensure(const char *dir, buf_t *pub_pem, err_t *e);

#endif

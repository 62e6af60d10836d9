/* identity: who this agent says it is: its UUID (literal, generated, or derived from the
 * EK as Keylime's hash_ek) and its self-signed mTLS certificate in the state dir. */
#ifndef VIGIL_AGENT_IDENTITY_H
#define VIGIL_AGENT_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/buf.h"
#include "common/base/err.h"

/* Config check for agent.uuid: NULL when it is a UUID, "generate" or "hash_ek". */
const char *identity_uuid_check(const char *v);

/* Resolve agent.uuid: the literal UUID (lowercased), a fresh random v4 UUID for
 * "generate", or for "hash_ek" the lowercase hex SHA-256 of the EK public key's
 * SubjectPublicKeyInfo PEM (ek_tpm: marshalled TPM2B_PUBLIC). Caller frees. NULL on error. */
char *identity_uuid(const char *setting, const buf_t *ek_tpm, err_t *e);

/* Make sure dir/server-private.pem (EC P-256) and dir/server-cert.pem (self-signed,
 * CN = uuid, SAN = contact_ip, 365 days) exist and fit: a missing key is generated; a
 * certificate that is missing, for another UUID or address, for another key, or expiring
 * within a week is reissued. The certificate PEM replaces cert_pem. 0 or -1. */
int identity_tls_ensure(const char *dir, const char *uuid, const char *contact_ip, buf_t *cert_pem,
                        err_t *e);

#endif

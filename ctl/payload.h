/* payload: the tenant's half of Keylime's secure payload for `vigilctl add --payload`
 * (docs/payload.md): K, V and U = K xor V, the auth_tag, the payload sealed under K, U
 * posted to the agent's /keys/ukey over mutual TLS, and the /keys/verify check. V goes to
 * the verifier with AddNode, which posts it after the node's first good quote. */
#ifndef VIGIL_CTL_PAYLOAD_H
#define VIGIL_CTL_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/buf.h"
#include "common/base/err.h"
#include "ctl/ctlconf.h"

#define CTL_PAYLOAD_MAX (1024 * 1024) /* Keylime's [tenant] max_payload_size */

typedef struct ctl_payload {
	uint8_t k[32];       /* the bootstrap key */
	uint8_t u[32];       /* the agent's share, K xor V */
	uint8_t v[32];       /* the verifier's share */
	char auth_tag[97];   /* hex HMAC-SHA-384(K, uuid) */
	buf_t sealed_b64;    /* base64(IV || AES-256-GCM_K(plaintext) || tag) */
	char api_version[8]; /* the agent's, once asked */
} ctl_payload_t;

/* Pick K and V, derive U and the auth tag for uuid, seal plain (at most CTL_PAYLOAD_MAX
 * bytes). 0, or -1 (e). */
int ctl_payload_make(ctl_payload_t *p, const char *uuid, const uint8_t *plain, size_t len,
                     err_t *e);
/* Build Keylime's certificate package for uuid from a `vigilctl ca` directory dir: a ZIP
 * of <uuid>-cert.crt, <uuid>-private.pem, cacert.crt and RevocationNotifier-cert.crt (from
 * dir/<uuid>.crt, dir/<uuid>.key, dir/ca.crt, dir/RevocationNotifier.crt). 0, or -1 (e). */
int ctl_payload_cert_package(const char *dir, const char *uuid, buf_t *zip, err_t *e);
/* Read the agent's payload public key and post U with the payload to it (host:port, its
 * mTLS certificate pem pinned, the operator's client certificate from c). 0, or -1 (e). */
int ctl_payload_send_u(const ctl_conf_t *c, const char *ip, int port, const char *pem,
                       ctl_payload_t *p, err_t *e);
/* Poll the agent's /keys/verify with a random challenge until it answers with the HMAC
 * of K, at most timeout_s seconds. 0 when it does, -1 (e) otherwise. */
int ctl_payload_verify(const ctl_conf_t *c, const char *ip, int port, const char *pem,
                       const ctl_payload_t *p, int timeout_s, err_t *e);
/* Wipe the keys and free the sealed payload. */
void ctl_payload_clear(ctl_payload_t *p);

#endif

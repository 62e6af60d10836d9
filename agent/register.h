/* register: enrollment at the registrar (Keylime registrar API v2.x, docs/wire.md §3):
 * version negotiation, POST of the TPM identity, ActivateCredential on the returned
 * blob and the PUT that proves it with auth_tag. */
#ifndef VIGIL_AGENT_REGISTER_H
#define VIGIL_AGENT_REGISTER_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/api_version.h"
#include "agent/tpm.h"
#include "common/base/buf.h"
#include "common/base/err.h"

typedef struct register_opts {
	const char *registrar;          /* "host:port" of the registrar's agent (HTTP) port */
	const char *uuid;               /* agent UUID */
	const buf_t *ek_tpm;            /* marshalled TPM2B_PUBLIC of the EK */
	const char *ekcert;             /* PEM: EK cert then chain; "" when there is none */
	const buf_t *aik_tpm;           /* marshalled TPM2B_PUBLIC of the AK */
	const char *mtls_cert;          /* PEM of the agent's HTTPS certificate */
	const char *contact_ip;         /* where verifiers reach the agent */
	int contact_port;               /* and its port */
	const api_versions_t *versions; /* versions we may speak */
	int timeout_s;                  /* per request */
	int retries;                    /* attempts after the first while unreachable (0: none) */
	int retry_initial_s;            /* first wait between attempts; doubles each time */
	int retry_max_s;                /* longest wait between attempts */
	volatile int *stop;             /* set (by a signal) to give up waiting; may be NULL */
} register_opts_t;

/* Register and activate. On success version (at least 8 bytes) gets the API version
 * used. 0, or -1 with the reason in e (already fit for an operator). */
int register_agent(const register_opts_t *o, tpm_t *tpm, char *version, size_t vlen, err_t *e);

/* auth_tag = lowercase hex of HMAC-SHA384(key = ASCII of base64(cred), msg = uuid); out
 * gets 96 hex digits and a NUL (out must hold 97 bytes). */
void register_auth_tag(const uint8_t *cred, size_t len, const char *uuid, char *out);

/* Parse a registrar's 200 answer to GET /version (strictly: an envelope whose results
 * carry current_version and supported_versions) and pick the version to use with ours.
 * 0, or -1 (e says why). */
int register_parse_version(const uint8_t *body, size_t len, const api_versions_t *ours, char *ver,
                           size_t vlen, err_t *e);
/* Parse a registrar's 200 answer to the registration: the base64 credential blob in
 * results.blob, decoded into blob (replaced). 0 or -1. */
int register_parse_blob(const uint8_t *body, size_t len, buf_t *blob, err_t *e);

/* The registration JSON body (caller frees). */
char *register_body(const register_opts_t *o);

#endif

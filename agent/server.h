/* server: the agent's HTTPS API (Keylime agent API v2.1-2.6, docs/wire.md §2) with
 * mutual TLS: /version, /v{ver}/agent/info, /v{ver}/quotes/integrity and
 * /v{ver}/quotes/identity, POST /v{ver}/notifications/revocation (agent/revocation.h),
 * and the secure payload's /v{ver}/keys/{ukey,vkey,pubkey,verify} (agent/keys.h,
 * agent/secure.h). */
#ifndef VIGIL_AGENT_SERVER_H
#define VIGIL_AGENT_SERVER_H

#include <openssl/evp.h>

#include "common/base/api_version.h"
#include "agent/tpm.h"
#include "common/base/err.h"

struct event_base;

typedef struct agent_server agent_server_t;

typedef struct agent_server_opts {
	const char *listen;                 /* "host:port" */
	const char *cert_file;              /* PEM server certificate */
	const char *key_file;               /* PEM server key */
	const char *client_ca_file;         /* PEM CA(s) verifier/tenant client certs chain to */
	int timeout_s;                      /* a connection silent mid-request or mid-reply */
	int idle_timeout_s;                 /* deadline for a complete request (http.h) */
	unsigned max_conns_per_peer;        /* untrusted connections per peer (http.h) */
	const char *uuid;                   /* agent UUID (borrowed) */
	const api_versions_t *versions;     /* versions served (borrowed) */
	tpm_t *tpm;                         /* the TPM (borrowed) */
	const char *pubkey_pem;             /* payload key public PEM, NUL-ended (borrowed) */
	EVP_PKEY *payload_key;              /* the payload key itself (borrowed) */
	const char *secure_dir;             /* where payloads are unpacked (secure.h) */
	int payload_script_timeout_s;       /* autorun.sh's time limit */
	const char *ima_log;                /* IMA ascii measurement list path; "" for none */
	const char *event_log;              /* binary UEFI event log path; "" for none */
	size_t ima_max;                     /* largest IMA list sent, bytes */
	size_t event_max;                   /* largest event log sent, bytes */
	int logs_pinned;                    /* read ima_fd/event_fd, not the paths (quotes.h) */
	int ima_fd;                         /* IMA list opened before a privilege drop, or -1 */
	int event_fd;                       /* event log opened before a privilege drop, or -1 */
	const char *revocation_cert_pem;    /* RevocationNotifier cert PEM, or NULL: refused */
	const char *revocation_actions_dir; /* executables run on a valid notice; "" none */
	const char *revocation_work_dir;    /* where their message temp files go */
	int revocation_action_timeout_s;    /* each action's time limit */
} agent_server_opts_t;

/* Start serving on base. The options and what they point to must outlive the server.
 * NULL on error (e says why). */
agent_server_t *agent_server_new(struct event_base *base, const agent_server_opts_t *o, err_t *e);
void agent_server_free(agent_server_t *s);

#endif

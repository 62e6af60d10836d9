/* vctx: the verifier's shared context: settings read once from the configuration, and
 * the shared objects (node registry, policy cache, workers). Read-only after start-up
 * except through the objects' own locks. */
#ifndef VIGIL_VERIFIER_VCTX_H
#define VIGIL_VERIFIER_VCTX_H

#include <stddef.h>
#include <stdint.h>

#include "common/net/http.h"

struct registry;
struct policies;
struct worker;
struct store;
struct watch_hub;
struct vmetrics;
struct lease;
struct storeq;
struct evp_pkey_st;

typedef struct vctx {
	char *verifier_id;         /* this instance's name (config or hostname) */
	char *database;            /* store URL */
	int quote_interval_ms;     /* pause between good rounds */
	int retry_interval_ms;     /* first retry delay; doubles per retry when backoff */
	int max_retries;           /* retries before the comm-error state */
	int exponential_backoff;   /* 1: delays double; 0: constant */
	int request_timeout_s;     /* per request to an agent */
	int connect_timeout_ms;    /* to connect and send a request, 0: none */
	int answer_timeout_ms;     /* from a request sent to its answer's first byte, 0: none */
	int flush_interval_ms;     /* how often progress is written to the store */
	int progress_interval_ms;  /* ... when only round counters and times changed */
	int first_rounds_per_s;    /* costly first rounds admitted per second, all workers */
	size_t max_response;       /* largest agent response accepted, bytes */
	size_t max_round_response; /* ... for a round asking IMA entries after a known one */
	size_t answer_budget;      /* bytes of answers arriving at once, per worker */
	char *registrar_host;      /* registrar admin API for re-pinning, or NULL */
	int registrar_port;        /* its port */
	char *registrar_ca;        /* PEM CA of the registrar's server certificate */
	char *tls_cert;            /* client certificate towards agents (PEM file) */
	char *tls_key;             /* its key */
	char *tls_cert_pem;        /* tls_cert's content, read once at start */
	char *tls_key_pem;         /* tls_key's content (wiped at exit) */
	char *revocation_key_pem;  /* RSA key signing revocation notices, or NULL: unsigned */
	int notice_timeout_s;      /* per revocation notice sent to an agent */
	int notice_rate;           /* notice requests started per second, all workers */
	char accept_hash[64];      /* comma list of accepted quote hash algorithms */
	char accept_sign[64];      /* comma list of accepted signature schemes */
	struct registry *registry; /* uuid -> node, for the API */
	struct policies *policies; /* parsed policies shared by content hash */
	struct worker **workers;   /* the worker threads */
	int nworkers;              /* how many */
	struct store *api_store;   /* the gRPC thread's store connection */
	struct storeq *storeq;     /* the store thread: the workers' progress and verdicts */
	char *audit_pub_pem;       /* public half of the audit key (PEM), for GetAuditKey */
	char audit_key_id[65];     /* its id: hex SHA-256 of its DER SubjectPublicKeyInfo */
	struct evp_pkey_st *report_key; /* the attestation-result key (EAR tokens) */
	char *report_pub_pem;           /* its public half (PEM), for GetReportKey */
	char report_key_id[65];         /* its id, as audit_key_id */
	struct watch_hub *watch;        /* WatchEvents' thread */
	struct vmetrics *metrics;       /* the workers' counters and the metrics listener */
	struct lease *lease;            /* the pool's lease manager (PostgreSQL), or NULL */
} vctx_t;

/* The worker that owns node uuid (a stable hash of the UUID). */
struct worker *vctx_worker_for(vctx_t *ctx, const char *uuid);

#endif

/* storm: the enrollment storm. Every simulated node registers at a vigil (or Keylime)
 * registrar and activates its enrollment as a Keylime agent does (docs/wire.md §3): POST
 * its EK, EK certificate, AK, mTLS certificate and contact to /v{ver}/agents/{uuid}, open
 * the credential blob with its software TPM's ActivateCredential, PUT the auth_tag. Many
 * nodes at once, each over its own connections, from a few threads. */
#ifndef VIGIL_LOADGEN_STORM_H
#define VIGIL_LOADGEN_STORM_H

#include "test/loadgen/simnode.h"

typedef struct storm_opts {
	const char *host;     /* the registrar's agent listener (plain HTTP; borrowed) */
	int port;             /* its port */
	int conns;            /* registrations in flight at once (one thread each) */
	const char *mtls_pem; /* the mtls_cert every node sends (borrowed) */
	int timeout_s;        /* per request */
} storm_opts_t;

typedef struct storm_result {
	int ok;              /* nodes registered and activated */
	int failed;          /* nodes that were not */
	double seconds;      /* from the first request to the last answer */
	double p50_ms;       /* per node: register + activate, median */
	double p99_ms;       /* ... 99th percentile */
	double max_ms;       /* ... slowest */
	char first_err[256]; /* why the first failed node failed, "" when none did */
} storm_result_t;

/* Enroll nodes[0..n) (each must have its EK made: softtpm_ek_make). Fills *r; 0 when every
 * node was enrolled, -1 otherwise. */
int storm_run(simnode_t *const *nodes, int n, const storm_opts_t *o, storm_result_t *r);

#endif

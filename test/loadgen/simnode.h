/* simnode: one simulated Keylime agent of the load generator: its software TPM, its PCRs
 * (fixed boot PCRs, PCR 10 = its IMA list, PCR 16 = the payload key binding), an IMA list
 * that grows at a set rate, its faults, and the answer to a quote request (the whole
 * Keylime envelope, written straight into a buffer: no JSON tree per round).
 *
 * What every node shares (the payload key, the IMA entries it picks from, the fixed PCR
 * values) is a simnode_world_t, made once and read-only afterwards. A node is used by one
 * thread only (the worker that owns its port). */
#ifndef VIGIL_LOADGEN_SIMNODE_H
#define VIGIL_LOADGEN_SIMNODE_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/buf.h"
#include "common/base/err.h"
#include "common/evidence/quotes_query.h"
#include "test/loadgen/softtpm.h"

#define SIMNODE_GOOD_FILES 16 /* distinct measured files a good node's IMA list cycles over */
#define SIMNODE_BAD_PCR    7  /* the PCR a --bad-kind pcr node changes */

typedef enum simnode_bad_kind {
	SIMNODE_BAD_IMA,        /* an IMA entry no policy allows (a file with an unknown digest) */
	SIMNODE_BAD_PCR_CHANGE, /* PCR SIMNODE_BAD_PCR extended: differs from the PCR policy */
} simnode_bad_kind_t;

typedef struct simnode_world simnode_world_t;

/* The shared part: a fresh RSA-2048 payload key, the IMA entry table. NULL on error. */
simnode_world_t *simnode_world_new(err_t *e);
void simnode_world_free(simnode_world_t *w);
/* The runtime (IMA) policy that allows every good entry (boot_aggregate included, SHA-1
 * template hashes as on real lists); replaces out. */
void simnode_world_runtime_policy(const simnode_world_t *w, buf_t *out);
/* The PCR policy naming the fixed PCRs 0-7 (what a good node always quotes). */
void simnode_world_pcr_policy(const simnode_world_t *w, buf_t *out);
/* The payload public key PEM the nodes bind into PCR 16 (borrowed). */
const char *simnode_world_pubkey(const simnode_world_t *w);

typedef struct simnode simnode_t;

typedef struct simnode_opts {
	int index;                   /* 0-based node number */
	const char *ip;              /* contact address (borrowed, copied) */
	int port;                    /* contact port */
	int rsa;                     /* RSA-2048 AK instead of ECC P-256 */
	double ima_rate;             /* IMA entries per second (0: only boot_aggregate) */
	double bad_at;               /* seconds after start when the node turns bad; < 0: never */
	simnode_bad_kind_t bad_kind; /* how */
	double silent_at;            /* seconds after start when it stops answering; < 0: never */
} simnode_opts_t;

/* A node with a new AK; start is the run's start (CLOCK_MONOTONIC seconds). NULL on
 * error (e). w must outlive the node. */
simnode_t *simnode_new(const simnode_world_t *w, const simnode_opts_t *o, double start, err_t *e);
void simnode_free(simnode_t *n);

const char *simnode_uuid(const simnode_t *n);
const char *simnode_ip(const simnode_t *n);
int simnode_port(const simnode_t *n);
softtpm_t *simnode_tpm(simnode_t *n);
/* One JSON line for the node file: uuid, ip, port, ak_tpm (base64 TPM2B_PUBLIC) and
 * mtls_cert (cert_pem, the agents' shared certificate). Appends to out. */
void simnode_describe(const simnode_t *n, const char *cert_pem, buf_t *out);

/* 1 once the node is past its --silent time (its requests are left unanswered). */
int simnode_is_silent(const simnode_t *n, double now);
/* Answer a parsed quote request for API 2.minor at time now: the whole envelope
 * {"code":200,"status":"Success","results":{...}} replaces out. 0, or -1 (e; a 500). */
int simnode_answer(simnode_t *n, quotes_kind_t kind, const quotes_query_t *q, int minor, double now,
                   buf_t *out, err_t *e);
/* Quote requests answered. */
unsigned long simnode_rounds(const simnode_t *n);

#endif

/* node: one attested node inside the verifier: its durable record, its live attestation
 * state, and the round loop that runs on the worker that owns it.
 *
 * Round state machine (operational_state, Keylime's numbers):
 *   START          first contact: GET /version picks the API version, then a quote
 *   GET_QUOTE      attested; the next round waits quote_interval
 *   GET_QUOTE_RETRY the agent did not answer; retried with backoff up to max_retries
 *   PROVIDE_V      a round passed and the node holds V, the verifier's share of a secure
 *                  payload's key: POST it to the agent's /keys/vkey, then forget it
 *   PROVIDE_V_RETRY that POST got no answer; retried with backoff up to max_retries,
 *                  then FAILED (comm error), and V goes after the next good round
 *   FAILED         still unreachable after max_retries (comm error, never a policy
 *                  failure); probed at the longest backoff and back to GET_QUOTE when
 *                  the agent answers and its evidence passes
 *   INVALID_QUOTE  evidence failed a check; polling stops until ReactivateNode
 *   TENANT_FAILED  stopped by an operator (StopNode); ReactivateNode resumes
 *   TERMINATED     being removed; freed when no request is in flight
 *
 * Only the owning worker's thread touches a node, except the status fields of rec, which
 * the gRPC thread reads under lock (node_snapshot). A round changes those fields in one
 * locked section when it ends (node_publish_locked), never piecemeal while it runs. */
#ifndef VIGIL_VERIFIER_NODE_H
#define VIGIL_VERIFIER_NODE_H

#include <pthread.h>
#include <stdint.h>

#include "common/base/rate.h"
#include "common/net/http.h"
#include "common/evidence/quote.h"
#include "common/store/store.h"
#include "verifier/attest.h"

struct event;
struct event_base;
struct node_waiter;
struct report_ev;
struct http_budget;
struct policy_obj;
struct store;
struct storeq_lane;
struct vctx;
struct vmetrics_worker;

/* What the owning worker lends the nodes it drives, filled in by the worker. A node uses
 * only this and never calls back into the worker: calls go worker -> node -> attest. */
typedef struct node_host {
	int id;                     /* the worker's number, for log lines */
	struct vctx *ctx;           /* shared settings, registry and policy cache; borrowed */
	struct event_base *base;    /* the worker's loop; borrowed */
	struct store *store;        /* the worker's store connection (set on its thread): for
	                               reads (policies) and rare writes (a re-pin), never for a
	                               round's progress or verdict */
	struct storeq_lane *writes; /* the worker's lane to the store thread (verifier/storeq.h) */
	int stopping;               /* the worker's loop has ended: verdicts are no longer
	                               announced to agents (they are durable all the same) */
	struct http_budget *budget; /* memory budget of the agents' answers on this worker */
	struct http_tls_pinned *agent_tls; /* the worker's one TLS context for its agents */
	/* Admission of costly first rounds (a whole IMA list replayed, a UEFI log judged):
	 * a token bucket of this worker's share of verifier.first_rounds_per_s. */
	rate_bucket_t first_rounds;      /* costly first rounds admitted (first_rounds_per_s) */
	struct node *nodes;              /* head of the worker's node list (node.c keeps it) */
	struct vmetrics_worker *metrics; /* the worker's counters (verifier/metrics.h) */
	struct notices_lane *notices;    /* revocation notices waiting to go (notices.c) */
	struct node_waiter *waiters;     /* AttestNow calls waiting for a round (attest_now.c) */
	struct quote *quote;             /* the worker's quote decoder, lent to a node's
	                                    attest_check (node.c), or NULL until first used */
	/* Send a signed revocation notice (body, borrowed) to every agent of the verifier:
	 * the worker posts it to each worker's nodes. Never blocks. */
	void (*announce)(struct node_host *h, const char *body);
} node_host_t;

enum {
	NODE_REGISTERED = 0,
	NODE_START = 1,
	NODE_GET_QUOTE = 3,
	NODE_GET_QUOTE_RETRY = 4,
	NODE_PROVIDE_V = 5,       /* posting V (payload key share) after the first good quote */
	NODE_PROVIDE_V_RETRY = 6, /* the agent did not take it yet: retried with backoff */
	NODE_FAILED = 7,
	NODE_TERMINATED = 8,
	NODE_INVALID_QUOTE = 9,
	NODE_TENANT_FAILED = 10,
};

typedef struct node {
	store_node_t rec;         /* durable record; progress fields guarded by lock */
	pthread_mutex_t lock;     /* guards rec's progress fields against the API reader */
	node_host_t *host;        /* what the owning worker lends its nodes */
	struct node *next, *prev; /* the worker's list of nodes */
	/* evidence checking */
	EVP_PKEY *ak_pkey;          /* enrolled AK */
	attest_state_t ev;          /* evidence state, read and advanced by attest_check */
	struct policy_obj *pcr;     /* static PCR policy, or NULL */
	struct policy_obj *runtime; /* runtime (IMA) policy, or NULL */
	struct policy_obj *mb;      /* measured-boot policy, or NULL */
	uint32_t mask;              /* PCRs requested (PCR 16 is added by the agent) */
	char hash_alg[16];          /* hash_alg of the last good quote; published under lock */
	char sign_alg[16];          /* sign_alg of the last good quote; published under lock */
	/* the round */
	http_client_t *conn; /* persistent mTLS connection to the agent */
	http_client_t *reg;  /* registrar lookup in flight (re-pinning), or NULL */
	char *repin_why;     /* the TLS failure that started it */
	int repin_tried;     /* re-pinning tried since the last good round */
	struct event *timer; /* next round / retry */
	int phase_ms;        /* its rounds' offset within the quote interval (random, given
	                        when it was made): good rounds come at its points */
	char nonce[21];      /* nonce of the request in flight */
	int in_flight;       /* a request is outstanding */
	unsigned gen;        /* bumped by stop and reactivate */
	unsigned req_gen;    /* gen when the request in flight was sent */
	int retries;         /* consecutive failed contacts */
	int dirty;           /* progress changed since it was last handed to the store thread */
	int counts_only;     /* ... and only the round's counters and times did (count, times,
	                        TPM clock): handed over at most every progress_interval */
	int64_t put_at;      /* when it was last handed over (clock_mono_ms) */
	unsigned writes;     /* writes of it at the store thread whose outcome has not come
	                        back: the node is not freed until they have */
	int removing;        /* free as soon as nothing is in flight */
	int lease_lost;      /* a write of it was refused by the lease fence (logged once) */
	int free_queued;     /* its release is queued on the loop */
	int partial;         /* 1 once the agent's pubkey is cached */
	int renegotiated;    /* asked /version again after a 400 since the last good round */
	int unreachable;     /* comm_error recorded, no good round since */
	int resumed;         /* loaded from the store attested (a restart, a takeover): its
	                        first good round is no verdict change and records no event */
	int v_due;           /* a round passed and rec.payload_v is to be posted before the
	                        next quote (PROVIDE_V) */
	unsigned deferred;   /* first-round admissions refused so far (a count for the log) */
	int64_t answered_at; /* when the agent last answered a quote request (unix s) */
	int64_t round_t0;    /* when this round's first request went out (prom_now_us), 0 */
	struct report_ev *report; /* the last round that reached the checks (report.h);
	                             published under lock */
} node_t;

/* Node commands, run on the owning worker's thread (through worker_post/worker_call) with
 * that worker's host. */
typedef void (*node_cmd_fn)(node_host_t *h, void *arg);
void node_cmd_add(node_host_t *h, void *rec); /* takes a store_node_t* (heap) */
/* The same for a node loaded from the store at start (or, later, taken over): its first
 * round comes at a random point of one quote interval, so that thousands of nodes loaded
 * together do not all ask at once. */
void node_cmd_load(node_host_t *h, void *rec);            /* takes a store_node_t* (heap) */
void node_cmd_remove(node_host_t *h, void *uuid);         /* takes a char* */
void node_cmd_stop(node_host_t *h, void *uuid);           /* takes a char* */
void node_cmd_reactivate(node_host_t *h, void *uuid);     /* takes a char* */
void node_cmd_policy_changed(node_host_t *h, void *name); /* takes a char* */

/* UpdateNode's fields (update_mask names), as bits of node_update_t.fields. */
enum {
	NODE_UPD_IP = 1u << 0,
	NODE_UPD_PORT = 1u << 1,
	NODE_UPD_MTLS_CERT = 1u << 2,
	NODE_UPD_PCR = 1u << 3,
	NODE_UPD_RUNTIME = 1u << 4,
	NODE_UPD_MB = 1u << 5,
};
/* What became of an update (node_update_t.rc). */
typedef enum {
	NODE_UPDATE_OK = 0,     /* stored and in force (or nothing differed) */
	NODE_UPDATE_GONE,       /* no live node of that uuid on this worker (being removed) */
	NODE_UPDATE_POLICY,     /* a named policy does not exist or cannot be loaded */
	NODE_UPDATE_FENCED,     /* the lease fence refused the write: another instance holds it */
	NODE_UPDATE_NOT_STORED, /* its row is gone from the store (removed meanwhile) */
	NODE_UPDATE_ERROR,      /* the store or the TLS client failed */
} node_update_rc_t;
/* An UpdateNode for node_cmd_update: the fields named in fields take the values here (a
 * policy NULL or "": none); the others keep theirs. The caller owns it all and reads rc
 * and why once the command ran. */
typedef struct node_update {
	char *uuid;
	unsigned fields; /* NODE_UPD_* */
	char *ip;
	int port;
	char *mtls_cert;
	char *pcr_policy, *runtime_policy, *mb_policy;
	node_update_rc_t rc; /* out */
	char why[512];       /* out: the reason when rc is not NODE_UPDATE_OK */
} node_update_t;
/* Change a node's contact and policies in place: the new policies are loaded and the
 * record stored (fenced by the lease epoch) before anything changes, so a refusal leaves
 * the node exactly as it was. Its counters, verdict, IMA position and running PCR 10 stay
 * (a new runtime policy judges the entries that come next; entries already judged stay
 * judged). A round in flight is dropped when its answer comes and asked again, so no
 * round is judged half with the old and half with the new settings; a new contact closes
 * the agent connection (a new one is pinned to the new certificate and address, and the
 * API version is negotiated again) and starts a round at once. Records node_updated and
 * waits until it is durable. Takes a node_update_t* (borrowed). */
void node_cmd_update(node_host_t *h, void *upd);

/* Called by the worker every flush_interval: hand every node's changed progress to the
 * store thread (coalesced there per node, written in one transaction per batch). */
void node_worker_tick(node_host_t *h);
/* The store thread's outcomes of this worker's writes (a storeq_results_t*, taken): a
 * node whose write the lease fence refused is dropped, one whose write failed is written
 * again by the next flush, a verdict now durable is logged and announced, a node being
 * removed is freed once its last write is back. */
void node_cmd_store_done(node_host_t *h, void *results);
/* The lease manager hands nodes back (a lost lease, a rebalance, a shutdown): hand their
 * progress to the store thread a last time (fenced), then stop them; each is freed once
 * its writes are back. A release of their leases must wait for those writes
 * (storeq_sync). Takes a NULL-terminated array of UUIDs (heap, each string heap). */
void node_cmd_drop(node_host_t *h, void *uuids);
/* The worker's loop has ended: hand every changed progress to the store thread a last
 * time. The worker then waits for the outcomes (storeq_lane_drain), runs them
 * (node_cmd_store_done), and calls node_worker_stop, which frees every node. */
void node_worker_flush(node_host_t *h);
void node_worker_stop(node_host_t *h);

/* What the API shows of a node: its record's status fields and the algorithms of its
 * last quote. */
typedef struct node_status {
	store_node_t rec;  /* copy of the status fields (strings owned: store_node_clear) */
	char hash_alg[16]; /* hash_alg of the last good quote, "" before one */
	char sign_alg[16]; /* sign_alg of the last good quote, "" before one */
} node_status_t;

/* The highest agent API version both sides speak, from the agent's /version answer (any
 * bytes: it is outside input); a static string, or NULL when there is none. */
const char *node_pick_version(const uint8_t *body, size_t len);

/* Copy n's status (under its lock) into out. */
void node_snapshot(node_t *n, node_status_t *out);

#endif

/* metrics: what the verifier counts and shows on verifier.metrics_listen (GET /metrics,
 * /healthz, /readyz; docs/metrics.md lists every metric).
 *
 * Each worker has its own block of counters (vmetrics_worker_t) that only its thread
 * writes, with no lock and no locked instruction on the round path; the metrics thread
 * (common/net/metricsrv.h) sums the blocks when it is scraped, and reads the store's
 * outbox counts on a connection of its own. Nothing here ever waits for a worker. */
#ifndef VIGIL_VERIFIER_METRICS_H
#define VIGIL_VERIFIER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/err.h"
#include "common/base/prom.h"

struct vctx;

#define VMETRICS_REASONS 24 /* failure reasons kept per worker; the last is "other" */
#define VMETRICS_STATES  11 /* operational_state values (node.h), 0..10 */

/* One failure reason: the first component of the failing check's event id. */
typedef struct vmetrics_reason {
	char name[32];    /* [a-z0-9_]; written once, before nreasons counts it */
	prom_counter_t n; /* failures */
} vmetrics_reason_t;

/* A worker's counters. Written by the worker's thread only. */
typedef struct vmetrics_worker {
	prom_hist_t round;                          /* each round: first request to verdict */
	vmetrics_reason_t reason[VMETRICS_REASONS]; /* failures by reason */
	_Atomic size_t nreasons;                    /* entries of reason in use (not "other") */
	prom_counter_t nodes[VMETRICS_STATES];      /* nodes owned, by state, at the last tick */
	prom_counter_t heartbeat_us;                /* prom_now_us of its last tick, 0: none */
} vmetrics_worker_t;

/* The store thread's counters (verifier/storeq.h). Written by the store thread, except
 * queued, which the threads queueing writes set under the queue's lock. */
typedef struct vmetrics_store {
	prom_hist_t batch;       /* each batch of writes: its events and progress transaction */
	prom_counter_t rows;     /* node rows the progress transactions wrote */
	prom_counter_t events;   /* events committed or tried (verdicts among them) */
	prom_counter_t failures; /* batches with a write that failed */
	prom_counter_t queued;   /* gauge: writes waiting for the next batch */
} vmetrics_store_t;

/* The pool's counters (verifier/lease.c), written by the lease thread only; all stay 0
 * for a verifier that is not in a pool. */
typedef struct vmetrics_lease {
	prom_counter_t claimed; /* nodes claimed: unowned, handed back, or left by an owner
	                           whose lease ran out (a takeover) */
	prom_counter_t handed;  /* nodes handed back to the pool (above the fair share) */
	prom_counter_t lost;    /* leases found taken by another instance at renewal */
	prom_counter_t held;    /* gauge: leases held now */
	prom_counter_t stalled; /* gauge: 1 while a worker stopped ticking (a stuck instance) */
} vmetrics_lease_t;

typedef struct vmetrics vmetrics_t;

/* The counters of nworkers workers; nothing listens yet. */
vmetrics_t *vmetrics_new(int nworkers);
/* Worker i's block (lent to its node_host_t). */
vmetrics_worker_t *vmetrics_worker(vmetrics_t *vm, int i);
/* The store thread's block. */
vmetrics_store_t *vmetrics_store(vmetrics_t *vm);
/* The lease thread's block. */
vmetrics_lease_t *vmetrics_lease(vmetrics_t *vm);
/* Serve on listen (HOST:PORT) from a thread of its own, reading ctx (its workers'
 * flush_interval, the database URL). 0, or -1 with e (the port is taken...). */
int vmetrics_serve(vmetrics_t *vm, const char *listen, const struct vctx *ctx, err_t *e);
/* Stop serving and free. NULL does nothing. */
void vmetrics_free(vmetrics_t *vm);

/* ---- on a worker's thread; m NULL does nothing ---- */

/* A request of a round goes out: the round's clock starts, unless it runs already. */
void vmetrics_round_start(int64_t *t0);
/* A round ended: passed (event_id NULL) or failed (event_id: the check's, or
 * "comm_error"); its duration since *t0 (0 when no request went out) is counted and *t0
 * cleared. */
void vmetrics_round_end(vmetrics_worker_t *m, int64_t *t0, const char *event_id);
/* The worker's periodic tick: its nodes by state (VMETRICS_STATES counts), and a sign
 * of life for /readyz. */
void vmetrics_tick(vmetrics_worker_t *m, const uint64_t *by_state);

#endif

/* lease: the verifier pool's lease manager (docs/verifier.md, "A pool of verifiers"). On
 * a database shared by several verifier instances (PostgreSQL), nodes are owned by lease:
 * this thread, with its own store connection, heartbeats the instance, renews its leases
 * every third of verifier.lease_time, claims unowned or expired nodes up to its fair share
 * (nodes / live instances, rounded up; checked again right after another instance's
 * soonest lease runs out, so a dead owner's nodes are claimed at once), hands back nodes
 * above it, and tells the workers
 * to load or drop nodes through worker posts only: it never touches a node. When a worker
 * stops ticking it stops renewing and claiming and heartbeats on marked stalled (counted
 * out of the fair shares), so that a stuck instance's nodes are taken over although its
 * process lives. */
#ifndef VIGIL_VERIFIER_LEASE_H
#define VIGIL_VERIFIER_LEASE_H

#include <stdint.h>

#include "common/base/err.h"

struct vctx;
typedef struct lease lease_t;

/* A lease manager for ctx's instance (ctx->verifier_id) with leases of lease_time_s
 * seconds; address (borrowed, may be NULL) is shown in the pool list. NULL on error. */
lease_t *lease_new(struct vctx *ctx, int lease_time_s, const char *address, err_t *e);
/* Start the thread (its first claim runs at once). 0 or -1. */
int lease_start(lease_t *l);
/* Stop the thread: no more claims or renewals. Before the workers stop. */
void lease_stop(lease_t *l);
/* After the workers stopped (their last writes done): release every lease, leave the
 * pool, free. NULL does nothing. */
void lease_free(lease_t *l);
/* 1 while this instance holds fewer nodes than its fair share: AddNode claims the new node
 * itself then. Thread-safe. */
int lease_under_share(lease_t *l);
/* The lease length in milliseconds. */
int64_t lease_time_ms(const lease_t *l);

#endif

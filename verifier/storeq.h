/* storeq: the verifier's store thread. The workers never wait on the store: they hand it
 * write jobs and go on with their rounds; the thread writes them in batches on a store
 * connection of its own and hands each job's outcome back to the worker that made it.
 *
 * Two kinds of job, both carrying a snapshot copy of the node's record that the job owns
 * (the thread never reads a node), with the lease epoch its worker held when it took the
 * snapshot, so every write is fenced as strongly as a write made on the worker:
 *   progress  a node's IMA position, running PCR 10, counters, times and keys. Coalesced
 *             per node UUID: a newer snapshot replaces one still waiting (the older one's
 *             outcome is STOREQ_SUPERSEDED), so the queue holds at most one per node
 *             however far the store falls behind. A batch writes them in one transaction.
 *   event     an event record (events_record) with its webhook deliveries, and, for a
 *             verdict change, the node's progress in the same transaction: each event is
 *             its own transaction, in the order they were queued. A verdict supersedes a
 *             waiting progress snapshot of its node (its own snapshot is newer).
 * A batch takes everything queued: the events first, in order, then the progress
 * transaction (every progress snapshot still waiting is newer than any event of its node,
 * since an event drops older ones). The outcomes go back per lane, one call per batch.
 *
 * Each worker has a lane: its jobs, its outcomes and a count of jobs whose outcome it has
 * not yet been given, so that it can wait for them at shutdown. storeq_free writes all
 * that is queued before it closes the store: nothing queued is lost. */
#ifndef VIGIL_VERIFIER_STOREQ_H
#define VIGIL_VERIFIER_STOREQ_H

#include <stddef.h>

#include "common/base/err.h"
#include "common/store/store.h"

struct vmetrics_store;

typedef struct storeq storeq_t;
typedef struct storeq_lane storeq_lane_t;

typedef enum {
	STOREQ_OK = 0,         /* written (an event: committed with its deliveries) */
	STOREQ_FENCED = 1,     /* refused by the lease fence: another instance holds the node
	                          (or it is no longer stored); nothing written */
	STOREQ_FAILED = 2,     /* the store failed (logged); nothing written */
	STOREQ_SUPERSEDED = 3, /* a progress snapshot replaced by a newer one of its node (or
	                          its verdict) before it was written */
} storeq_rc_t;

typedef enum {
	STOREQ_PROGRESS = 0, /* a progress snapshot */
	STOREQ_EVENT = 1,    /* an event, with the node's progress when save */
} storeq_kind_t;

/* One job's outcome. */
typedef struct storeq_result {
	void *token;        /* the submitter's, as given (borrowed: never dereferenced here) */
	storeq_kind_t kind; /* what the job was */
	storeq_rc_t rc;     /* how it went */
	int save;           /* an event: it carried the node's progress (a verdict change) */
	char *type;         /* an event: its type (owned) */
	char *event_id;     /* an event: its event_id, or NULL (owned) */
	char *reason;       /* an event: its reason, or NULL (owned) */
} storeq_result_t;

/* One batch's outcomes for one lane. */
typedef struct storeq_results {
	storeq_result_t *v; /* the outcomes, in the order the store saw them */
	size_t n;           /* how many */
} storeq_results_t;

void storeq_results_free(storeq_results_t *r); /* NULL does nothing */

/* Called on the store thread with a batch's outcomes of a lane (taken: the callee frees
 * them with storeq_results_free). Must not block and must not call into storeq. */
typedef void (*storeq_deliver_fn)(void *arg, storeq_results_t *r);

/* A queue writing to the store named by database, on a connection of its own (opened
 * here: NULL with e when it cannot be). m: where it counts its batches, queue depth and
 * failures, or NULL. */
storeq_t *storeq_new(const char *database, struct vmetrics_store *m, err_t *e);
/* Start the thread. 0 or -1 (logged). */
int storeq_start(storeq_t *q);
/* Write everything queued (on the thread, or here when it never started), deliver the
 * outcomes, stop and close the store. Every lane must have been drained and freed.
 * NULL does nothing. */
void storeq_free(storeq_t *q);

/* A lane whose outcomes go to deliver(arg, ...). Thread-safe. */
storeq_lane_t *storeq_lane_new(storeq_t *q, storeq_deliver_fn deliver, void *arg);
/* Free a lane with no job outstanding (storeq_lane_drain first). NULL does nothing. */
void storeq_lane_free(storeq_lane_t *l);

/* Queue a node's progress snapshot (taken: every string of snap, which is zeroed); its
 * uuid and lease_epoch name the row and fence it. token comes back in the outcome.
 * Never blocks on the store. */
void storeq_put_progress(storeq_lane_t *l, void *token, store_node_t *snap);
/* Queue an event of type about the node of snap (taken as above; uuid, ip and port make
 * the event's body), event_id and reason copied (NULL: none). With save, snap's progress
 * is written in the event's transaction, fenced by its lease epoch. */
void storeq_put_event(storeq_lane_t *l, void *token, store_node_t *snap, int save, const char *type,
                      const char *event_id, const char *reason);

/* Jobs of the lane whose outcome has not been delivered yet. */
size_t storeq_lane_pending(storeq_lane_t *l);
/* Wait until every job of the lane has been written and its outcome delivered. */
void storeq_lane_drain(storeq_lane_t *l);
/* storeq_sync of the lane's queue. */
void storeq_lane_sync(storeq_lane_t *l);
/* Wait until every job queued (by any lane) before this call has been written and its
 * outcome delivered: what a release of a node's lease waits for. */
void storeq_sync(storeq_t *q);

/* Jobs waiting for the next batch (not counting the one being written). */
size_t storeq_depth(storeq_t *q);

#endif

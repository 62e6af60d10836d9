/* attest_now: AttestNow's node side. A call waiting for a node's next judged round is a
 * node_waiter_t on the owning worker's list (node_host_t.waiters): the round loop's hooks
 * (node_priv.h) answer it when the round is judged, when the agent does not answer, when
 * the node stops or goes away; the API's close callback cancels it. Nothing per node: a
 * worker with no waiter pays one pointer test per round. Everything here runs on the
 * owning worker's thread. */
#ifndef VIGIL_VERIFIER_ATTEST_NOW_H
#define VIGIL_VERIFIER_ATTEST_NOW_H

#include <stdint.h>

#include "common/base/err.h"
#include "verifier/node.h"
#include "verifier/report.h"

#define ATTEST_NOW_WAITERS_MAX 16 /* calls waiting on one node at once */

typedef struct node_waiter node_waiter_t;
/* Answer w and free it: code is a gRPC status (GRPCSRV_OK: the round was judged, n is the
 * node, valid for the call; otherwise why says what happened and n may be NULL). Called
 * exactly once per waiter, after it left the list. */
typedef void (*node_waiter_fn)(node_waiter_t *w, node_t *n, int code, const char *why);

struct node_waiter {
	node_waiter_t *next; /* the worker's list */
	node_t *node;        /* the node waited for (set by attest_now_start) */
	uint64_t id;         /* unique, for attest_now_cancel */
	node_waiter_fn done; /* answers and frees */
};

/* Wait for node uuid's next judged round, starting one now unless a request to its agent
 * is in flight already (then that round answers). GRPCSRV_OK when w waits (it is answered
 * later through w->done); otherwise a status, with e, and w is not kept: NOT_FOUND,
 * FAILED_PRECONDITION (stopped, failed and not polled, being removed), RESOURCE_EXHAUSTED
 * (ATTEST_NOW_WAITERS_MAX waiting already). */
int attest_now_start(node_host_t *h, const char *uuid, node_waiter_t *w, err_t *e);
/* The call of waiter id ended (client gone, deadline, shutdown): answer it with code and
 * why if it still waits. */
void attest_now_cancel(node_host_t *h, uint64_t id, int code, const char *why);

/* A consistent copy of n's status and report (one locked section): for the owning worker
 * or, from the registry's callback, for the API thread. */
void attest_now_snapshot(node_t *n, node_status_t *st, report_snap_t *rs);
/* The SHA-256 of the policies n judges by (owning worker only): kind-ordered pcr,
 * runtime, mb; "" when it has none of that kind. Borrowed. */
void attest_now_policy_digests(node_t *n, const char *out[3]);

#endif

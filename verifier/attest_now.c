/* attest_now: AttestNow's waiters on the owning worker. */
#include "verifier/attest_now.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/net/grpcsrv.h"
#include "verifier/node_priv.h"
#include "verifier/policies.h"

/* Unlink every waiter of n and answer each (code, why; n as given). */
static void attest_now_answer(node_t *n, int code, const char *why)
{
	node_host_t *h = n->host;
	node_waiter_t **pp = &h->waiters, *mine = NULL, **tail = &mine;

	/* Take them off the list first: an answer must not see a list being walked. */
	while (*pp) {
		node_waiter_t *w = *pp;
		if (w->node == n) {
			*pp = w->next;
			w->next = NULL;
			*tail = w;
			tail = &w->next;
		} else {
			pp = &w->next;
		}
	}
	while (mine) {
		node_waiter_t *w = mine;
		mine = w->next;
		w->next = NULL;
		w->done(w, code == GRPCSRV_OK ? n : NULL, code, why);
	}
}

static int attest_now_waits(const node_t *n)
{
	for (const node_waiter_t *w = n->host->waiters; w; w = w->next)
		if (w->node == n)
			return 1;
	return 0;
}

void attest_now_judged(node_t *n)
{
	if (n->host->waiters)
		attest_now_answer(n, GRPCSRV_OK, NULL);
}

void attest_now_unreachable(node_t *n, const char *why)
{
	char msg[300];

	if (n->host->waiters == NULL || !attest_now_waits(n))
		return;
	snprintf(msg, sizeof(msg), "node %s: its agent did not answer (%s); it is retried as usual",
	         n->rec.uuid, why ? why : "no answer");
	attest_now_answer(n, GRPCSRV_UNAVAILABLE, msg);
}

void attest_now_stopped(node_t *n)
{
	char msg[200];

	if (n->host->waiters == NULL || !attest_now_waits(n))
		return;
	snprintf(msg, sizeof(msg), "node %s was stopped by an operator before its round was judged",
	         n->rec.uuid);
	attest_now_answer(n, GRPCSRV_FAILED_PRECONDITION, msg);
}

void attest_now_gone(node_t *n)
{
	char msg[200];
	int code = GRPCSRV_UNAVAILABLE;

	if (n->host->waiters == NULL || !attest_now_waits(n))
		return;
	if (n->host->stopping) {
		snprintf(msg, sizeof(msg), "the verifier is shutting down; node %s was not judged",
		         n->rec.uuid);
	} else if (n->rec.operational_state == NODE_TERMINATED && !n->lease_lost) {
		code = GRPCSRV_NOT_FOUND;
		snprintf(msg, sizeof(msg), "node %s was removed before its round was judged",
		         n->rec.uuid);
	} else {
		snprintf(msg, sizeof(msg),
		         "node %s was handed to another instance of the pool before its round "
		         "was judged; ask again",
		         n->rec.uuid);
	}
	attest_now_answer(n, code, msg);
}

void attest_now_kick(node_t *n)
{
	if (n->host->waiters == NULL || !attest_now_waits(n) || n->in_flight)
		return;
	node_round_now(n);
}

int attest_now_start(node_host_t *h, const char *uuid, node_waiter_t *w, err_t *e)
{
	node_t *n = node_find(h, uuid);
	int waiting = 0;

	if (n == NULL) {
		err_set(e, "node %s not found (removed, or handed to another instance)", uuid);
		return GRPCSRV_NOT_FOUND;
	}
	switch (n->rec.operational_state) {
	case NODE_TENANT_FAILED:
		err_set(e, "node %s is stopped; ReactivateNode first", uuid);
		return GRPCSRV_FAILED_PRECONDITION;
	case NODE_INVALID_QUOTE:
		err_set(e,
		        "node %s failed attestation (%s; GetReport shows that round) and is not "
		        "polled; ReactivateNode first",
		        uuid, n->rec.last_event_id ? n->rec.last_event_id : "failed");
		return GRPCSRV_FAILED_PRECONDITION;
	case NODE_TERMINATED:
		err_set(e, "node %s is being removed", uuid);
		return GRPCSRV_FAILED_PRECONDITION;
	default:
		break;
	}
	for (node_waiter_t *o = h->waiters; o; o = o->next)
		waiting += o->node == n;
	if (waiting >= ATTEST_NOW_WAITERS_MAX) {
		err_set(e, "node %s has %d AttestNow calls waiting already (at most %d)", uuid,
		        waiting, ATTEST_NOW_WAITERS_MAX);
		return GRPCSRV_RESOURCE_EXHAUSTED;
	}
	w->node = n;
	w->next = h->waiters;
	h->waiters = w;
	/* A request in flight is this round: its answer is judged and answers w. Otherwise
	 * the round starts now, and the rounds after it keep the node's phase. The start may
	 * end at once (no connection: node_comm_error answers w). */
	if (!n->in_flight)
		node_round_now(n);
	return GRPCSRV_OK;
}

void attest_now_cancel(node_host_t *h, uint64_t id, int code, const char *why)
{
	for (node_waiter_t **pp = &h->waiters; *pp; pp = &(*pp)->next) {
		node_waiter_t *w = *pp;
		if (w->id != id)
			continue;
		*pp = w->next;
		w->next = NULL;
		w->done(w, NULL, code, why);
		return;
	}
}

void attest_now_snapshot(node_t *n, node_status_t *st, report_snap_t *rs)
{
	pthread_mutex_lock(&n->lock);
	node_snapshot_locked(n, st);
	st->rec.tpm_reset_count = n->rec.tpm_reset_count;
	st->rec.tpm_restart_count = n->rec.tpm_restart_count;
	report_snap_take(n->report, rs);
	pthread_mutex_unlock(&n->lock);
}

void attest_now_policy_digests(node_t *n, const char *out[3])
{
	out[0] = n->pcr ? n->pcr->sha256 : "";
	out[1] = n->runtime ? n->runtime->sha256 : "";
	out[2] = n->mb ? n->mb->sha256 : "";
}

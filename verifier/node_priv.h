/* node_priv: what the three files of a node share and nothing else includes.
 *   node.c      the node's life (creation, commands, release) and its round loop
 *   progress.c  what a round leaves behind: published to the API under the node's lock,
 *               handed to the store thread now (a verdict change) or in the worker's
 *               flush, and what the store thread says of those writes
 *   repin.c     re-pinning a renewed agent certificate from the registrar
 *   update.c    UpdateNode: a node's contact and policies changed in place
 * All run on the owning worker's thread. */
#ifndef VIGIL_VERIFIER_NODE_PRIV_H
#define VIGIL_VERIFIER_NODE_PRIV_H

#include "verifier/node.h"

/* ---- progress.c ---- */

/* Replace *dst with a copy of v (NULL clears it). Callers hold n->lock for rec's fields. */
void node_set_str(char **dst, const char *v);
/* node_snapshot's copy, for a caller that holds n->lock already. */
void node_snapshot_locked(node_t *n, node_status_t *out);
/* Set operational_state under the lock and mark the node dirty. */
void node_set_state(node_t *n, int state);
/* Publish what a finished round leaves behind into rec (the caller holds n->lock and
 * sets the verdict fields in the same section). out is NULL for a round that ended
 * before any evidence was checked. */
int node_publish_locked(node_t *n, const attest_out_t *out);
/* Mark n's progress changed in more than its round counters: the next flush writes it. */
void node_mark_dirty(node_t *n);
/* Hand this node's progress to the store thread now (a state change that records no
 * event), without waiting for it. */
void node_save_now(node_t *n);
/* The same in the worker's flush: only when it changed since it was last handed over. */
void node_put_progress_if_dirty(node_t *n);
/* A verdict change: the node's progress, its event (type, event_id, reason) and the
 * event's webhook deliveries, handed to the store thread as one transaction. Nothing of
 * it is logged or announced here: node_verdict_done does that once the store thread says
 * it is durable (or that its write failed: logged, the progress then written by the next
 * flush); when the lease fence refused it the node is dropped (another instance holds it)
 * and its verdict goes unannounced. */
void node_commit_verdict(node_t *n, const char *type, const char *event_id, const char *reason);
/* An event for the operator's history, from the node's record, with no progress: handed
 * to the store thread, in order with the node's verdicts. */
void node_record_event(node_t *n, const char *type, const char *event_id, const char *reason);

/* ---- node.c ---- */

/* A write of the node's state was refused by the lease fence (what: which write): another
 * instance holds it now. Logged once; the node stops and is freed when nothing is in
 * flight. Its verdict, if any, is never announced. */
void node_lease_lost(node_t *n, const char *what);

/* The verdict change committed by node_commit_verdict is durable: log and announce it
 * (type, event_id and reason as committed). */
void node_verdict_done(node_t *n, const char *type, const char *event_id, const char *reason);
/* Free a node being removed once nothing is in flight: no request to its agent and no
 * write of it at the store thread (on the next loop turn). */
void node_release_if_idle(node_t *n);

/* The live node named uuid on this worker (not one being removed), or NULL. */
node_t *node_find(node_host_t *h, const char *uuid);
/* A set of policies acquired from the cache, not yet in force. */
typedef struct node_polset {
	struct policy_obj *pcr, *rt, *mb; /* held references, or NULL */
} node_polset_t;
/* Acquire the policies named pcr_name, rt_name, mb_name (NULL: none) into *set. 0, or -1
 * (e) with nothing held. */
int node_policies_acquire(node_t *n, const char *pcr_name, const char *rt_name, const char *mb_name,
                          node_polset_t *set, err_t *e);
/* Put an acquired set in force (taken; *set is emptied) and derive the PCR mask. The
 * runtime evaluator, and with it the IMA position, is kept while the runtime policy's
 * content is the same; see node.c. */
void node_policies_install(node_t *n, node_polset_t *set);
/* The mutual-TLS connection to the agent at ip:port pinned to pem; NULL on error. */
http_client_t *node_conn_to(node_t *n, const char *ip, int port, const char *pem);
/* 1 while the node's rounds run (not failed, stopped or being removed). */
int node_polling(const node_t *n);
/* The next round in delay_ms (nothing once the node is being removed). */
void node_schedule(node_t *n, int delay_ms);
/* The next round after a good one: the next point of the node's phase. */
void node_schedule_next(node_t *n);
/* A round now, out of the schedule (AttestNow); the good rounds after it keep the node's
 * phase. */
void node_round_now(node_t *n);
/* An operator's command waits until what it changed is durable (the store thread). */
void node_wait_durable(node_t *n);
/* An answer (or its failure) arrived: 1 when it is to be judged (see node.c). */
int node_answer_begin(node_t *n);
/* The mutual-TLS connection to the agent pinned to pem; NULL on error (logged). */
http_client_t *node_conn_new(node_t *n, const char *pem);
void node_round_start(node_t *n);
/* The agent did not answer, or answered with a retryable error. */
void node_comm_error(node_t *n, const char *why);

/* ---- attest_now.c: hooks of the round loop for AttestNow's waiters (cheap when none) ---- */

/* The round was judged (pass or fail): answer n's waiters with its report. */
void attest_now_judged(node_t *n);
/* The agent did not answer (why): n's waiters get UNAVAILABLE. */
void attest_now_unreachable(node_t *n, const char *why);
/* The node stopped polling (stopped by an operator) or is being freed: its waiters are
 * answered now (attest_now.c says with what). */
void attest_now_stopped(node_t *n);
void attest_now_gone(node_t *n);
/* V was delivered: a waiter's round starts now instead of an interval later. */
void attest_now_kick(node_t *n);

/* ---- repin.c ---- */

/* The agent's certificate did not verify against the pin: ask the registrar for the
 * node's record, once per good round. 1 when the lookup is under way, 0 when not. */
int node_repin_start(node_t *n, const char *why);

#endif

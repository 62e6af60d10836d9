/* progress: what a node's rounds leave behind, in two places: published to the API
 * thread under the node's lock (one whole round at a time), and handed to the store
 * thread (verifier/storeq.h) as a snapshot copy: at once for a verdict change (announced
 * when its outcome comes back), in the worker's flush (node_worker_tick) otherwise. The
 * worker never waits for the store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/evidence/ima.h"
#include "common/policy/runtime_policy_eval.h"
#include "verifier/events.h"
#include "verifier/node_priv.h"
#include "verifier/report.h"
#include "verifier/storeq.h"
#include "verifier/vctx.h"

void node_set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = v ? xstrdup(v) : NULL;
}

void node_set_state(node_t *n, int state)
{
	pthread_mutex_lock(&n->lock);
	n->rec.operational_state = state;
	pthread_mutex_unlock(&n->lock);
	node_mark_dirty(n);
}

void node_mark_dirty(node_t *n)
{
	n->dirty = 1;
	n->counts_only = 0;
}

void node_snapshot(node_t *n, node_status_t *st)
{
	pthread_mutex_lock(&n->lock);
	node_snapshot_locked(n, st);
	pthread_mutex_unlock(&n->lock);
}

void node_snapshot_locked(node_t *n, node_status_t *st)
{
	store_node_t *out = &st->rec;

	memset(st, 0, sizeof(*st));
	out->uuid = xstrdup(n->rec.uuid);
	out->ip = xstrdup(n->rec.ip);
	out->port = n->rec.port;
	out->api_version = n->rec.api_version ? xstrdup(n->rec.api_version) : NULL;
	out->pcr_policy = n->rec.pcr_policy ? xstrdup(n->rec.pcr_policy) : NULL;
	out->runtime_policy = n->rec.runtime_policy ? xstrdup(n->rec.runtime_policy) : NULL;
	out->mb_policy = n->rec.mb_policy ? xstrdup(n->rec.mb_policy) : NULL;
	out->operational_state = n->rec.operational_state;
	out->attestation_count = n->rec.attestation_count;
	out->last_received_quote = n->rec.last_received_quote;
	out->last_successful_attestation = n->rec.last_successful_attestation;
	out->last_event_id = n->rec.last_event_id ? xstrdup(n->rec.last_event_id) : NULL;
	out->failure_reason = n->rec.failure_reason ? xstrdup(n->rec.failure_reason) : NULL;
	out->ima_state = n->rec.ima_state ? xstrdup(n->rec.ima_state) : NULL;
	out->mb_log_digest = n->rec.mb_log_digest ? xstrdup(n->rec.mb_log_digest) : NULL;
	out->has_clock = n->rec.has_clock;
	out->tpm_clock = n->rec.tpm_clock;
	memcpy(st->hash_alg, n->hash_alg, sizeof(st->hash_alg));
	memcpy(st->sign_alg, n->sign_alg, sizeof(st->sign_alg));
}

/* Publish what a finished round leaves behind (its IMA position, the TPM clock it
 * accepted, the quote's algorithms, a newly judged UEFI log) into rec. The caller holds
 * n->lock and changes the verdict fields (state, count, times) in the same section: the
 * API thread reads rec under that lock, so it sees one whole round or the one before,
 * never a count from this round beside a position from an older one. out is NULL for a
 * round that ended before any evidence was checked. 1 when something lasting changed (the
 * IMA position, the TPM's reset or restart count, the UEFI log digest), 0 when only the
 * TPM clock and the times did. */
int node_publish_locked(node_t *n, const attest_out_t *out)
{
	int changed = 0;

	if (n->ev.ima) {
		buf_t b = BUF_INIT;
		ima_state_format(n->ev.ima, &b);
		if (n->rec.ima_state == NULL ||
		    strcmp(n->rec.ima_state, (const char *)b.data) != 0) {
			node_set_str(&n->rec.ima_state, (const char *)b.data);
			changed = 1;
		}
		buf_free(&b);
	}
	changed |= n->rec.has_clock != n->ev.has_clock ||
	           n->rec.tpm_reset_count != n->ev.clock.reset_count ||
	           n->rec.tpm_restart_count != n->ev.clock.restart_count;
	n->rec.has_clock = n->ev.has_clock;
	n->rec.tpm_clock = (int64_t)n->ev.clock.clock;
	n->rec.tpm_reset_count = n->ev.clock.reset_count;
	n->rec.tpm_restart_count = n->ev.clock.restart_count;
	if (n->answered_at)
		n->rec.last_received_quote = n->answered_at;
	if (out && out->mb_log_digest[0] &&
	    (n->rec.mb_log_digest == NULL || strcmp(n->rec.mb_log_digest, out->mb_log_digest))) {
		node_set_str(&n->rec.mb_log_digest, out->mb_log_digest);
		changed = 1;
	}
	if (out && out->hash_alg[0]) {
		snprintf(n->hash_alg, sizeof(n->hash_alg), "%s", out->hash_alg);
		snprintf(n->sign_alg, sizeof(n->sign_alg), "%s", out->sign_alg);
	}
	if (out && out->report)
		report_publish(&n->report, out->report, n->ev.clock.safe);
	return changed;
}

/* Copy what the store keeps but the API never shows (the keys learned from keyring
 * measurements) into rec before a write (owner thread). */
static void node_sync_rec(node_t *n)
{
	buf_t b = BUF_INIT;

	if (n->ev.rt_eval == NULL)
		return;
	runtime_policy_eval_keys_export(n->ev.rt_eval, &b);
	pthread_mutex_lock(&n->lock);
	node_set_str(&n->rec.ima_keys, b.len ? (const char *)b.data : NULL);
	pthread_mutex_unlock(&n->lock);
	buf_free(&b);
}

/* What the store thread writes of n (owner thread): the progress fields and keys, what
 * names the row and fences it (uuid, lease_epoch), and what an event's body shows (ip,
 * port). A copy the job owns: the node runs on while the job waits. */
static void node_copy_rec(node_t *n, store_node_t *out)
{
	const store_node_t *r = &n->rec;

	node_sync_rec(n);
	memset(out, 0, sizeof(*out));
	out->uuid = xstrdup(r->uuid);
	out->ip = xstrdup(r->ip);
	out->port = r->port;
	out->api_version = r->api_version ? xstrdup(r->api_version) : NULL;
	out->operational_state = r->operational_state;
	out->attestation_count = r->attestation_count;
	out->last_received_quote = r->last_received_quote;
	out->last_successful_attestation = r->last_successful_attestation;
	out->last_event_id = r->last_event_id ? xstrdup(r->last_event_id) : NULL;
	out->failure_reason = r->failure_reason ? xstrdup(r->failure_reason) : NULL;
	out->ima_state = r->ima_state ? xstrdup(r->ima_state) : NULL;
	out->ima_keys = r->ima_keys ? xstrdup(r->ima_keys) : NULL;
	out->mb_log_digest = r->mb_log_digest ? xstrdup(r->mb_log_digest) : NULL;
	out->has_clock = r->has_clock;
	out->tpm_clock = r->tpm_clock;
	out->tpm_reset_count = r->tpm_reset_count;
	out->tpm_restart_count = r->tpm_restart_count;
	out->lease_epoch = r->lease_epoch;           /* the fence: the epoch held now */
	out->payload_v_forget = r->payload_v_forget; /* V was delivered or refused: delete it */
}

/* Hand the node's progress to the store thread. Clean from now on: a failed write makes
 * it dirty again (node_cmd_store_done), and the next flush hands over what it is then. */
static void node_put_progress(node_t *n)
{
	store_node_t snap;

	node_copy_rec(n, &snap);
	storeq_put_progress(n->host->writes, n, &snap);
	n->writes++;
	n->dirty = n->counts_only = 0;
	n->put_at = clock_mono_ms();
}

void node_save_now(node_t *n)
{
	node_put_progress(n);
}

void node_commit_verdict(node_t *n, const char *type, const char *event_id, const char *reason)
{
	store_node_t snap;

	node_copy_rec(n, &snap);
	storeq_put_event(n->host->writes, n, &snap, 1, type, event_id, reason);
	n->writes++;
	n->dirty = n->counts_only = 0;
	n->put_at = clock_mono_ms();
}

void node_record_event(node_t *n, const char *type, const char *event_id, const char *reason)
{
	store_node_t snap;

	node_copy_rec(n, &snap);
	storeq_put_event(n->host->writes, n, &snap, 0, type, event_id, reason);
	n->writes++;
}

void node_cmd_store_done(node_host_t *h, void *arg)
{
	storeq_results_t *res = arg;

	(void)h;
	for (size_t i = 0; i < res->n; i++) {
		const storeq_result_t *r = &res->v[i];
		node_t *n = r->token; /* kept alive while a write of it is out (n->writes) */

		n->writes--;
		if (r->rc == STOREQ_FENCED && (r->kind == STOREQ_PROGRESS || r->save))
			node_lease_lost(n, r->kind == STOREQ_PROGRESS ? "its progress" : r->type);
		else if (r->rc == STOREQ_FAILED && (r->kind == STOREQ_PROGRESS || r->save))
			node_mark_dirty(n); /* the next flush writes it again */
		/* A verdict is announced once durable (or, as before, once its write failed:
		 * the node's judgement stands either way); never when the fence refused it. */
		if (r->kind == STOREQ_EVENT && r->save && r->rc != STOREQ_FENCED)
			node_verdict_done(n, r->type, r->event_id, r->reason);
		node_release_if_idle(n);
	}
	storeq_results_free(res);
}

/* Every flush_interval: hand over each node whose progress changed, except one whose
 * only change is its round counters and times (each good round's), handed over at most
 * every progress_interval: a row per node per progress_interval, not one per round. */
void node_worker_tick(node_host_t *h)
{
	int64_t now = clock_mono_ms(), every = h->ctx->progress_interval_ms;

	for (node_t *n = h->nodes; n; n = n->next)
		if (n->dirty && !n->removing && (!n->counts_only || now - n->put_at >= every))
			node_put_progress(n);
}

void node_put_progress_if_dirty(node_t *n)
{
	if (n->dirty)
		node_put_progress(n);
}

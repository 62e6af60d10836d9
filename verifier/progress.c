/* progress: what a node's rounds leave behind, in two places: published to the API
 * thread under the node's lock (one whole round at a time), and written to the store,
 * at once for a verdict change or in the worker's batch (node_worker_tick) otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/evidence/ima.h"
#include "common/policy/runtime_policy_eval.h"
#include "verifier/events.h"
#include "verifier/metrics.h"
#include "verifier/node_priv.h"

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
	n->dirty = 1;
}

void node_snapshot(node_t *n, node_status_t *st)
{
	store_node_t *out = &st->rec;

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&n->lock);
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
	pthread_mutex_unlock(&n->lock);
}

/* Publish what a finished round leaves behind (its IMA position, the TPM clock it
 * accepted, the quote's algorithms, a newly judged UEFI log) into rec. The caller holds
 * n->lock and changes the verdict fields (state, count, times) in the same section: the
 * API thread reads rec under that lock, so it sees one whole round or the one before,
 * never a count from this round beside a position from an older one. out is NULL for a
 * round that ended before any evidence was checked. */
void node_publish_locked(node_t *n, const attest_out_t *out)
{
	if (n->ev.ima) {
		buf_t b = BUF_INIT;
		ima_state_format(n->ev.ima, &b);
		node_set_str(&n->rec.ima_state, (const char *)b.data);
		buf_free(&b);
	}
	n->rec.has_clock = n->ev.has_clock;
	n->rec.tpm_clock = (int64_t)n->ev.clock.clock;
	n->rec.tpm_reset_count = n->ev.clock.reset_count;
	n->rec.tpm_restart_count = n->ev.clock.restart_count;
	if (n->answered_at)
		n->rec.last_received_quote = n->answered_at;
	if (out && out->mb_log_digest[0])
		node_set_str(&n->rec.mb_log_digest, out->mb_log_digest);
	if (out && out->hash_alg[0]) {
		snprintf(n->hash_alg, sizeof(n->hash_alg), "%s", out->hash_alg);
		snprintf(n->sign_alg, sizeof(n->sign_alg), "%s", out->sign_alg);
	}
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

/* Write this node's progress now (a verdict change must be durable before it is
 * announced). */
void node_save_now(node_t *n)
{
	const store_node_t *one[1] = {&n->rec};
	int fenced = 0;
	err_t e = {""};

	/* Dirty until written: when this write fails, the next flush tries again. */
	n->dirty = 1;
	node_sync_rec(n);
	if (store_node_save(n->host->store, one, 1, &fenced, &e) != STORE_OK)
		log_warnx("node %s: cannot save its state: %s", n->rec.uuid, e.msg);
	else if (fenced)
		node_lease_lost(n, "its state");
	else
		n->dirty = 0;
}

int node_commit_verdict(node_t *n, const char *type, const char *event_id, const char *reason)
{
	int rv;

	/* Dirty until written: when this commit fails, the next flush saves the progress. */
	n->dirty = 1;
	node_sync_rec(n);
	rv = events_record(n->host->store, &n->rec, 1, type, event_id, reason);
	if (rv == 0)
		n->dirty = 0;
	if (rv == 1) {
		node_lease_lost(n, type);
		return -1;
	}
	return 0;
}

void node_worker_tick(node_host_t *h)
{
	node_save_batch(h, NULL);
}

size_t node_save_batch(node_host_t *h, const char *const *only)
{
	const store_node_t **v = NULL;
	node_t **nv = NULL;
	int *fenced = NULL;
	size_t k = 0, cap = 0, refused = 0;
	err_t e = {""};

	for (node_t *n = h->nodes; n; n = n->next) {
		if (!n->dirty || n->removing)
			continue;
		if (only) {
			size_t i;
			for (i = 0; only[i] && strcmp(only[i], n->rec.uuid) != 0; i++)
				;
			if (only[i] == NULL)
				continue;
		}
		if (k == cap) {
			cap = cap ? cap * 2 : 64;
			v = xrealloc(v, cap * sizeof(*v));
			nv = xrealloc(nv, cap * sizeof(*nv));
		}
		node_sync_rec(n);
		nv[k] = n;
		v[k++] = &n->rec;
	}
	fenced = k ? xcalloc(k, sizeof(*fenced)) : NULL;
	int64_t t0 = prom_now_us();
	store_rc_t rc = k ? store_node_save(h->store, v, k, fenced, &e) : STORE_OK;
	if (k)
		vmetrics_flush(h->metrics, t0, k);
	if (k && rc == STORE_OK) {
		for (size_t i = 0; i < k; i++) {
			nv[i]->dirty = 0;
			/* Another instance claimed it (its epoch moved): the write changed
			 * nothing, and this worker lets the node go. */
			if (fenced[i]) {
				node_lease_lost(nv[i], "its progress");
				refused++;
			}
		}
	} else if (k) {
		log_warnx("worker %d: cannot save the progress of %zu nodes: %s", h->id, k, e.msg);
	}
	free(fenced);
	free(nv);
	free(v);
	return refused;
}

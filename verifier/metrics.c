/* metrics: the verifier's counters and their exposition (verifier/metrics.h). */
#include "verifier/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/net/metricsrv.h"
#include "common/store/store.h"
#include "verifier/vctx.h"

/* Keylime's names of operational_state, as label values; NULL (and "saved"): a state
 * vigil never uses, left out. */
static const char *const vmetrics_state_names[VMETRICS_STATES] = {
    "registered", "start",  "saved" /* unused */, "get_quote",     "get_quote_retry", NULL,
    NULL,         "failed", "terminated",         "invalid_quote", "tenant_failed"};

struct vmetrics {
	int nworkers;         /* blocks in w */
	vmetrics_worker_t *w; /* one per worker */
	vmetrics_store_t st;  /* the store thread's */
	vmetrics_lease_t ls;  /* the lease thread's */
	metricsrv_t *srv;     /* the listener, or NULL */
	char *database;       /* store URL, for the metrics thread's own connection */
	struct store *store;  /* that connection (metrics thread), NULL until it opens */
	int64_t stale_us;     /* a worker silent this long is not ready */
};

vmetrics_t *vmetrics_new(int nworkers)
{
	vmetrics_t *vm = xcalloc(1, sizeof(*vm));

	vm->nworkers = nworkers;
	vm->w = xcalloc((size_t)nworkers, sizeof(*vm->w));
	for (int i = 0; i < nworkers; i++)
		snprintf(vm->w[i].reason[VMETRICS_REASONS - 1].name, 32, "other");
	return vm;
}

vmetrics_worker_t *vmetrics_worker(vmetrics_t *vm, int i)
{
	return &vm->w[i];
}

vmetrics_store_t *vmetrics_store(vmetrics_t *vm)
{
	return &vm->st;
}

vmetrics_lease_t *vmetrics_lease(vmetrics_t *vm)
{
	return &vm->ls;
}

/* ---- the workers' side ---- */

void vmetrics_round_start(int64_t *t0)
{
	if (*t0 == 0)
		*t0 = prom_now_us();
}

/* The slot of reason name (made when new; "other" once the table is full). */
static vmetrics_reason_t *vmetrics_reason(vmetrics_worker_t *m, const char *name)
{
	size_t n = atomic_load_explicit(&m->nreasons, memory_order_relaxed);

	for (size_t i = 0; i < n; i++)
		if (strcmp(m->reason[i].name, name) == 0)
			return &m->reason[i];
	if (n == VMETRICS_REASONS - 1)
		return &m->reason[VMETRICS_REASONS - 1];
	snprintf(m->reason[n].name, sizeof(m->reason[n].name), "%s", name);
	/* Release: a reader that sees the new count sees the name. */
	atomic_store_explicit(&m->nreasons, n + 1, memory_order_release);
	return &m->reason[n];
}

void vmetrics_round_end(vmetrics_worker_t *m, int64_t *t0, const char *event_id)
{
	int64_t now = prom_now_us();
	char name[32];

	if (m == NULL)
		return;
	prom_hist_observe(&m->round, *t0 && now > *t0 ? (uint64_t)(now - *t0) : 0);
	*t0 = 0;
	if (event_id == NULL)
		return;
	/* "ima.validation.ima-ng.not_in_allowlist" counts as "ima": a few checks, never
	 * one label per file or node. */
	prom_label_clean(name, sizeof(name), event_id, strcspn(event_id, "."));
	prom_add(&vmetrics_reason(m, name)->n, 1);
}

void vmetrics_tick(vmetrics_worker_t *m, const uint64_t *by_state)
{
	if (m == NULL)
		return;
	for (int i = 0; i < VMETRICS_STATES; i++)
		prom_set(&m->nodes[i], by_state[i]);
	prom_set(&m->heartbeat_us, (uint64_t)prom_now_us());
}

/* ---- the metrics thread's side ---- */

static void vmetrics_thread_start(void *arg)
{
	vmetrics_t *vm = arg;
	err_t e = {""};

	if ((vm->store = store_open(vm->database, &e)) == NULL)
		log_warnx("metrics: cannot open the store: %s", e.msg);
}

static void vmetrics_thread_stop(void *arg)
{
	vmetrics_t *vm = arg;

	store_close(vm->store);
	vm->store = NULL;
}

/* The store's counts, opening the thread's connection when it is not open. */
static int vmetrics_store_stats(vmetrics_t *vm, store_stats_t *st, err_t *e)
{
	if (vm->store == NULL && (vm->store = store_open(vm->database, e)) == NULL)
		return -1;
	return store_stats(vm->store, st, e) == STORE_OK ? 0 : -1;
}

/* Failures by reason summed over the workers, each name once. */
static void vmetrics_render_failures(vmetrics_t *vm, buf_t *b)
{
	struct {
		char name[32];
		uint64_t n;
	} sum[VMETRICS_REASONS * 2];
	size_t k = 0;

	memset(sum, 0, sizeof(sum));
	for (int w = 0; w < vm->nworkers; w++) {
		vmetrics_worker_t *m = &vm->w[w];
		size_t n = atomic_load_explicit(&m->nreasons, memory_order_acquire);
		for (size_t i = 0; i < VMETRICS_REASONS; i++) {
			size_t j;
			if (i >= n && i != VMETRICS_REASONS - 1)
				continue;
			uint64_t v = prom_get(&m->reason[i].n);
			if (v == 0)
				continue;
			for (j = 0; j < k && strcmp(sum[j].name, m->reason[i].name) != 0; j++)
				;
			if (j == k) {
				if (k == sizeof(sum) / sizeof(sum[0]))
					j = k - 1; /* all but impossible: fold into the last */
				else
					snprintf(sum[k++].name, sizeof(sum[0].name), "%s",
					         m->reason[i].name);
			}
			sum[j].n += v;
		}
	}
	prom_family(b, "vigil_verifier_round_failures_total", "counter",
	            "Rounds that failed, by reason: the first component of the failing check's "
	            "event id (ima, measured_boot, quote_validation, pcr_validation, ...), or "
	            "comm_error for a contact that failed.");
	for (size_t j = 0; j < k; j++)
		prom_sample(b, "vigil_verifier_round_failures_total", "reason", sum[j].name,
		            sum[j].n);
}

static void vmetrics_render(buf_t *b, void *arg)
{
	vmetrics_t *vm = arg;
	prom_hist_sum_t round, flush;
	uint64_t nodes[VMETRICS_STATES];
	store_stats_t st;
	err_t e = {""};
	int up;

	memset(&round, 0, sizeof(round));
	memset(&flush, 0, sizeof(flush));
	memset(nodes, 0, sizeof(nodes));
	/* Failures first: a round is counted before its failure, so failures read now never
	 * outnumber the rounds read after. */
	vmetrics_render_failures(vm, b);
	for (int w = 0; w < vm->nworkers; w++) {
		prom_hist_sum_add(&round, &vm->w[w].round);
		for (int s = 0; s < VMETRICS_STATES; s++)
			nodes[s] += prom_get(&vm->w[w].nodes[s]);
	}
	prom_scalar(b, "vigil_verifier_rounds_total", "counter",
	            "Attestation rounds ended: passed, failed a check, or a failed contact.",
	            prom_hist_sum_count(&round));
	prom_histogram(b, "vigil_verifier_round_duration_seconds",
	               "Seconds from a round's first request to the agent to its verdict.", &round);
	prom_family(b, "vigil_verifier_nodes", "gauge",
	            "Nodes this verifier owns, by operational state (as of each worker's last "
	            "flush tick).");
	for (int s = 0; s < VMETRICS_STATES; s++)
		if (vmetrics_state_names[s] && s != 2)
			prom_sample(b, "vigil_verifier_nodes", "state", vmetrics_state_names[s],
			            nodes[s]);
	prom_hist_sum_add(&flush, &vm->st.batch);
	prom_histogram(b, "vigil_verifier_store_batch_duration_seconds",
	               "Seconds each batch of the store thread took: the events it committed "
	               "(verdicts among them) and its transaction of attestation progress.",
	               &flush);
	prom_scalar(b, "vigil_verifier_store_batch_rows_total", "counter",
	            "Node rows written by the batched progress writes.", prom_get(&vm->st.rows));
	prom_scalar(b, "vigil_verifier_store_batch_events_total", "counter",
	            "Events (verdict changes among them) the store thread committed or tried.",
	            prom_get(&vm->st.events));
	prom_scalar(b, "vigil_verifier_store_batch_failures_total", "counter",
	            "Batches of the store thread in which a write failed (logged; progress is "
	            "kept in memory and written again).",
	            prom_get(&vm->st.failures));
	prom_scalar(b, "vigil_verifier_store_queue_depth", "gauge",
	            "Writes waiting for the store thread's next batch (at most one progress "
	            "snapshot per node, plus the events).",
	            prom_get(&vm->st.queued));
	prom_scalar(b, "vigil_verifier_lease_claimed_total", "counter",
	            "Nodes this instance claimed from the pool: unowned, handed back by another "
	            "instance, or taken over from an owner whose lease ran out.",
	            prom_get(&vm->ls.claimed));
	prom_scalar(b, "vigil_verifier_lease_handed_back_total", "counter",
	            "Nodes this instance handed back to the pool because it held more than its "
	            "fair share.",
	            prom_get(&vm->ls.handed));
	prom_scalar(b, "vigil_verifier_lease_lost_total", "counter",
	            "Leases this instance found taken by another instance when it renewed "
	            "(it was paused or stalled past its leases); their nodes were dropped.",
	            prom_get(&vm->ls.lost));
	prom_scalar(b, "vigil_verifier_leases_held", "gauge",
	            "Node leases this instance holds (0 outside a pool).", prom_get(&vm->ls.held));
	prom_scalar(b, "vigil_verifier_pool_stalled", "gauge",
	            "1 while a worker of this instance has stopped ticking: it renews and "
	            "claims no leases, so the pool takes its nodes over.",
	            prom_get(&vm->ls.stalled));
	prom_scalar(b, "vigil_verifier_workers", "gauge", "Worker threads.",
	            (uint64_t)vm->nworkers);

	up = vmetrics_store_stats(vm, &st, &e) == 0;
	prom_scalar(b, "vigil_verifier_store_up", "gauge",
	            "1 when the metrics thread could read the store for this scrape, else 0 "
	            "(and the outbox metrics are left out).",
	            (uint64_t)up);
	if (!up)
		return;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	int64_t age_ms =
	    st.outbox_oldest > 0 && now_ms > st.outbox_oldest ? now_ms - st.outbox_oldest : 0;
	prom_scalar(b, "vigil_verifier_outbox_pending", "gauge",
	            "Webhook deliveries waiting to be delivered (retries included).",
	            (uint64_t)st.outbox_pending);
	prom_scalar(b, "vigil_verifier_outbox_dead", "gauge",
	            "Webhook deliveries given up (dead-lettered), waiting for an operator.",
	            (uint64_t)st.outbox_dead);
	prom_family(b, "vigil_verifier_outbox_oldest_age_seconds", "gauge",
	            "Age of the oldest pending webhook delivery, 0 when none is pending.");
	prom_sample_seconds(b, "vigil_verifier_outbox_oldest_age_seconds", NULL, NULL,
	                    (uint64_t)age_ms * 1000);
}

static int vmetrics_ready(char *why, size_t n, void *arg)
{
	vmetrics_t *vm = arg;
	store_stats_t st;
	err_t e = {""};
	int64_t now = prom_now_us();

	for (int w = 0; w < vm->nworkers; w++) {
		uint64_t hb = prom_get(&vm->w[w].heartbeat_us);
		if (hb == 0) {
			snprintf(why, n, "worker %d has not started", w);
			return -1;
		}
		if (now - (int64_t)hb > vm->stale_us) {
			snprintf(why, n, "worker %d has not run for %lld s", w,
			         (long long)((now - (int64_t)hb) / 1000000));
			return -1;
		}
	}
	if (vmetrics_store_stats(vm, &st, &e) < 0) {
		snprintf(why, n, "store: %s", e.msg);
		return -1;
	}
	return 0;
}

int vmetrics_serve(vmetrics_t *vm, const char *listen, const struct vctx *ctx, err_t *e)
{
	metricsrv_ops_t ops = {
	    .render = vmetrics_render,
	    .ready = vmetrics_ready,
	    .thread_start = vmetrics_thread_start,
	    .thread_stop = vmetrics_thread_stop,
	    .arg = vm,
	};

	vm->database = xstrdup(ctx->database);
	/* A worker ticks every flush_interval; one that missed three, and five seconds
	 * more, is stuck (a long replay takes a second or so, not that). */
	vm->stale_us = (int64_t)ctx->flush_interval_ms * 3000 + 5000000;
	if ((vm->srv = metricsrv_start(listen, &ops, e)) == NULL)
		return -1;
	return 0;
}

void vmetrics_free(vmetrics_t *vm)
{
	if (vm == NULL)
		return;
	metricsrv_stop(vm->srv);
	free(vm->database);
	free(vm->w);
	free(vm);
}

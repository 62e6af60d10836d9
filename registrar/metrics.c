/* metrics: the registrar's counters and their exposition (registrar/metrics.h). */
#include "registrar/metrics.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/base/log.h"
#include "common/base/prom.h"
#include "common/base/xmalloc.h"
#include "common/net/metricsrv.h"
#include "common/store/store.h"

/* The reason label of each refusal; NULL for the successes. */
static const char *const rmetrics_reasons[RMETRICS_N] = {
    [RMETRICS_REG_INVALID] = "invalid",
    [RMETRICS_REG_EK_CERT] = "ek_cert",
    [RMETRICS_REG_IDENTITY_CONFLICT] = "identity_conflict",
    [RMETRICS_REG_EK_REUSE] = "ek_reuse",
    [RMETRICS_REG_CONFLICT] = "conflict",
    [RMETRICS_REG_STORE_ERROR] = "store_error",
    [RMETRICS_ACT_INVALID] = "invalid",
    [RMETRICS_ACT_RATE_LIMITED] = "rate_limited",
    [RMETRICS_ACT_NOT_REGISTERED] = "not_registered",
    [RMETRICS_ACT_ALREADY_ACTIVE] = "already_active",
    [RMETRICS_ACT_AUTH_TAG] = "auth_tag",
    [RMETRICS_ACT_EK_REUSE] = "ek_reuse",
    [RMETRICS_ACT_CONFLICT] = "conflict",
    [RMETRICS_ACT_STORE_ERROR] = "store_error",
};

struct rmetrics {
	prom_counter_t n[RMETRICS_N]; /* outcomes, written by the registrar's loop */
	metricsrv_t *srv;             /* the listener, or NULL */
	char *database;               /* store URL */
	store_t *store;               /* the metrics thread's connection, NULL until open */
};

rmetrics_t *rmetrics_new(void)
{
	return xcalloc(1, sizeof(rmetrics_t));
}

void rmetrics_count(rmetrics_t *m, rmetrics_what_t what)
{
	if (m != NULL && what < RMETRICS_N)
		prom_add(&m->n[what], 1);
}

static void rmetrics_thread_stop(void *arg)
{
	rmetrics_t *m = arg;

	store_close(m->store);
	m->store = NULL;
}

static int rmetrics_store_stats(rmetrics_t *m, store_stats_t *st, err_t *e)
{
	if (m->store == NULL && (m->store = store_open(m->database, e)) == NULL)
		return -1;
	return store_stats(m->store, st, e) == STORE_OK ? 0 : -1;
}

/* One family of refusals: the reasons of outcomes first..last. */
static void rmetrics_refusals(buf_t *b, rmetrics_t *m, const char *name, const char *help,
                              rmetrics_what_t first, rmetrics_what_t last)
{
	prom_family(b, name, "counter", help);
	for (int w = (int)first; w <= (int)last; w++)
		prom_sample(b, name, "reason", rmetrics_reasons[w], prom_get(&m->n[w]));
}

static void rmetrics_render(buf_t *b, void *arg)
{
	rmetrics_t *m = arg;
	store_stats_t st;
	err_t e = {""};
	int up;

	prom_scalar(b, "vigil_registrar_registrations_total", "counter",
	            "Registrations answered with a credential challenge.",
	            prom_get(&m->n[RMETRICS_REG_OK]));
	rmetrics_refusals(b, m, "vigil_registrar_registrations_refused_total",
	                  "Registrations refused, by reason.", RMETRICS_REG_INVALID,
	                  RMETRICS_REG_STORE_ERROR);
	prom_scalar(b, "vigil_registrar_activations_total", "counter",
	            "Activations whose proof matched: an enrollment completed.",
	            prom_get(&m->n[RMETRICS_ACT_OK]));
	rmetrics_refusals(b, m, "vigil_registrar_activations_refused_total",
	                  "Activations refused, by reason.", RMETRICS_ACT_INVALID,
	                  RMETRICS_ACT_STORE_ERROR);
	up = rmetrics_store_stats(m, &st, &e) == 0;
	prom_scalar(b, "vigil_registrar_store_up", "gauge",
	            "1 when the metrics thread could read the store for this scrape, else 0 "
	            "(and the enrollment counts are left out).",
	            (uint64_t)up);
	if (!up)
		return;
	prom_family(b, "vigil_registrar_enrollments", "gauge",
	            "Enrollments stored: active (activated) or pending (awaiting activation).");
	prom_sample(b, "vigil_registrar_enrollments", "state", "active",
	            (uint64_t)st.agents_active);
	prom_sample(b, "vigil_registrar_enrollments", "state", "pending",
	            (uint64_t)(st.agents - st.agents_active));
}

static int rmetrics_ready(char *why, size_t n, void *arg)
{
	rmetrics_t *m = arg;
	store_stats_t st;
	err_t e = {""};

	if (rmetrics_store_stats(m, &st, &e) < 0) {
		snprintf(why, n, "store: %s", e.msg);
		return -1;
	}
	return 0;
}

int rmetrics_serve(rmetrics_t *m, const char *listen, const char *database, err_t *e)
{
	metricsrv_ops_t ops = {
	    .render = rmetrics_render,
	    .ready = rmetrics_ready,
	    .thread_stop = rmetrics_thread_stop,
	    .arg = m,
	};

	m->database = xstrdup(database);
	if ((m->srv = metricsrv_start(listen, &ops, e)) == NULL)
		return -1;
	return 0;
}

void rmetrics_free(rmetrics_t *m)
{
	if (m == NULL)
		return;
	metricsrv_stop(m->srv);
	free(m->database);
	free(m);
}

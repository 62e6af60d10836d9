/* metrics: what the registrar counts and shows on registrar.metrics_listen (GET /metrics,
 * /healthz, /readyz; docs/metrics.md lists every metric). The registrar's loop is the one
 * writer of the counters, without locks; the metrics thread (common/net/metricsrv.h)
 * reads them, and counts the enrollments on a store connection of its own, so a scrape
 * never holds up a registration. */
#ifndef VIGIL_REGISTRAR_METRICS_H
#define VIGIL_REGISTRAR_METRICS_H

#include "common/base/err.h"

/* What is counted: each registration and activation ends as exactly one of these. */
typedef enum {
	RMETRICS_REG_OK,                /* challenge issued */
	RMETRICS_REG_INVALID,           /* malformed request, unusable key or AK */
	RMETRICS_REG_EK_CERT,           /* EK certificate missing or not trusted (403) */
	RMETRICS_REG_IDENTITY_CONFLICT, /* the id is enrolled with another EK, EK cert or AK */
	RMETRICS_REG_EK_REUSE,          /* the EK is enrolled under another id */
	RMETRICS_REG_CONFLICT,          /* changed under us (409) */
	RMETRICS_REG_STORE_ERROR,       /* the store failed (500) */
	RMETRICS_ACT_OK,                /* enrolled (or re-registration promoted) */
	RMETRICS_ACT_INVALID,           /* malformed auth_tag body */
	RMETRICS_ACT_RATE_LIMITED,      /* too many wrong auth_tags for the id (429) */
	RMETRICS_ACT_NOT_REGISTERED,    /* no such id (404) */
	RMETRICS_ACT_ALREADY_ACTIVE,    /* nothing to activate */
	RMETRICS_ACT_AUTH_TAG,          /* the proof did not match */
	RMETRICS_ACT_EK_REUSE,          /* the EK is enrolled under another id */
	RMETRICS_ACT_CONFLICT,          /* changed under us (409) */
	RMETRICS_ACT_STORE_ERROR,       /* the store failed (500) */
	RMETRICS_N
} rmetrics_what_t;

typedef struct rmetrics rmetrics_t;

rmetrics_t *rmetrics_new(void);
/* Count one outcome: from the registrar's loop only. m NULL does nothing. */
void rmetrics_count(rmetrics_t *m, rmetrics_what_t what);
/* Serve on listen (HOST:PORT), reading the store at database on the metrics thread's own
 * connection. 0, or -1 with e. */
int rmetrics_serve(rmetrics_t *m, const char *listen, const char *database, err_t *e);
/* Stop serving and free. NULL does nothing. */
void rmetrics_free(rmetrics_t *m);

#endif

/* metricsrv: the plain-HTTP listener of a daemon's metrics and health checks, on a thread
 * and event loop of its own, so that a slow scrape, a stuck store or a hostile client can
 * never hold up the daemon's real work. It serves
 *   GET /metrics  the Prometheus text (version 0.0.4) that render writes
 *   GET /healthz  200 "ok": the process serves
 *   GET /readyz   200 "ready", or 503 with the reason ready gives
 * Other methods get 405, other paths 404, and neither calls back; a request over the
 * size limits gets evhttp's 413.
 * It carries no secrets, but it is unauthenticated plain HTTP: keep it on loopback or a
 * trusted network. */
#ifndef VIGIL_METRICSRV_H
#define VIGIL_METRICSRV_H

#include <stddef.h>

#include "common/base/buf.h"
#include "common/base/err.h"

typedef struct metricsrv metricsrv_t;

typedef struct metricsrv_ops {
	/* Append the exposition text to out. Runs on the metrics thread; may block it (a
	 * store query), never anything else. */
	void (*render)(buf_t *out, void *arg);
	/* 0 when ready, else -1 with why (n bytes, one line) filled in. Metrics thread. */
	int (*ready)(char *why, size_t n, void *arg);
	/* Called once on the metrics thread before it serves, and once after it stops:
	 * where the thread opens and closes what render and ready use (its own store
	 * connection). Either may be NULL. */
	void (*thread_start)(void *arg);
	void (*thread_stop)(void *arg);
	void *arg; /* given to each */
} metricsrv_ops_t;

/* Bind listen ("HOST:PORT"; port 0: any, see metricsrv_port) at once, so that a port in
 * use is an error at start, and start the thread. NULL with e on error. ops is copied. */
metricsrv_t *metricsrv_start(const char *listen, const metricsrv_ops_t *ops, err_t *e);
/* The bound port. */
int metricsrv_port(const metricsrv_t *m);
/* Stop the thread (a scrape being rendered finishes first) and free. NULL does nothing. */
void metricsrv_stop(metricsrv_t *m);

#endif

/* metricsrv: the metrics and health listener on its own thread (common/net/metricsrv.h). */
#include "common/net/metricsrv.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/net/http.h"

#define METRICSRV_MAX_BODY  1024 /* GETs carry none; anything larger gets 413 */
#define METRICSRV_TIMEOUT_S 10   /* per connection, as for every listener */
#define METRICSRV_MAX_CONNS 32   /* scrapers and probes are few */
#define METRICSRV_PER_PEER  8    /* so one client cannot take them all */
#define METRICSRV_TEXT      "text/plain; version=0.0.4; charset=utf-8"

struct metricsrv {
	metricsrv_ops_t ops;     /* the daemon's callbacks */
	struct event_base *base; /* the thread's loop */
	http_server_t *http;     /* the listener, bound in metricsrv_start */
	pthread_t thread;        /* runs base */
	buf_t out;               /* the last reply's text, reused */
};

static void metricsrv_on_request(http_request_t *req, void *arg)
{
	metricsrv_t *m = arg;
	const char *path = http_request_path(req);
	http_method_t meth = http_request_method(req);
	char why[256];

	if (strcmp(path, "/metrics") != 0 && strcmp(path, "/healthz") != 0 &&
	    strcmp(path, "/readyz") != 0) {
		http_reply(req, 404, "text/plain", "not found\n", 10);
		return;
	}
	if (meth != HTTP_M_GET) {
		http_reply(req, 405, "text/plain", "method not allowed\n", 19);
		return;
	}
	buf_reset(&m->out);
	if (strcmp(path, "/healthz") == 0) {
		http_reply(req, 200, "text/plain", "ok\n", 3);
	} else if (strcmp(path, "/readyz") == 0) {
		why[0] = '\0';
		if (m->ops.ready == NULL || m->ops.ready(why, sizeof(why), m->ops.arg) == 0) {
			http_reply(req, 200, "text/plain", "ready\n", 6);
		} else {
			buf_appendf(&m->out, "not ready: %s\n", why[0] ? why : "unknown");
			http_reply(req, 503, "text/plain", m->out.data, m->out.len);
		}
	} else {
		if (m->ops.render)
			m->ops.render(&m->out, m->ops.arg);
		http_reply(req, 200, METRICSRV_TEXT, m->out.data, m->out.len);
	}
}

static void *metricsrv_main(void *arg)
{
	metricsrv_t *m = arg;

	if (m->ops.thread_start)
		m->ops.thread_start(m->ops.arg);
	event_base_dispatch(m->base);
	if (m->ops.thread_stop)
		m->ops.thread_stop(m->ops.arg);
	return NULL;
}

metricsrv_t *metricsrv_start(const char *listen, const metricsrv_ops_t *ops, err_t *e)
{
	metricsrv_t *m = xcalloc(1, sizeof(*m));

	/* The loop is stopped from another thread: libevent must lock it. Idempotent. */
	evthread_use_pthreads();
	m->ops = *ops;
	if ((m->base = event_base_new()) == NULL) {
		err_set(e, "cannot create an event loop");
		goto fail;
	}
	m->http = http_server_new(m->base, listen, NULL, METRICSRV_MAX_BODY, METRICSRV_TIMEOUT_S,
	                          metricsrv_on_request, m);
	if (m->http == NULL) {
		err_set(e, "cannot listen on %s", listen);
		goto fail;
	}
	http_server_set_max_connections(m->http, METRICSRV_MAX_CONNS);
	http_server_set_max_per_peer(m->http, METRICSRV_PER_PEER);
	if (pthread_create(&m->thread, NULL, metricsrv_main, m) != 0) {
		err_set(e, "cannot start its thread");
		goto fail;
	}
	return m;
fail:
	http_server_free(m->http);
	if (m->base)
		event_base_free(m->base);
	free(m);
	return NULL;
}

int metricsrv_port(const metricsrv_t *m)
{
	return http_server_port(m->http);
}

void metricsrv_stop(metricsrv_t *m)
{
	if (m == NULL)
		return;
	event_base_loopexit(m->base, NULL);
	pthread_join(m->thread, NULL);
	http_server_free(m->http);
	event_base_free(m->base);
	buf_free(&m->out);
	free(m);
}

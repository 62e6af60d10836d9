/* notices: send one revocation notice to many agents (see notices.h).
 *
 * A batch: the body, the targets, and the requests. notices_send only schedules; the
 * batch's "kick" event starts up to NOTICES_SLICE requests per loop turn while fewer than
 * NOTICES_MAX_INFLIGHT are open, and each answer (or failure) is counted and logged, its
 * client freed, and the kick scheduled again. The batch is freed from the kick once
 * nothing is left to start or to wait for, never inside an HTTP callback. */
#include "verifier/notices.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/rate.h"
#include "common/base/xmalloc.h"
#include "common/net/http.h"
#include "verifier/vctx.h"

typedef struct notice_batch notice_batch_t;

/* A worker's notices: its batches in order, one sending at a time, at a bounded rate. */
struct notices_lane {
	notice_batch_t *head, *tail; /* the batch sending, then those waiting */
	size_t queued;               /* batches in the list */
	rate_bucket_t bucket;        /* requests that may start (at rate) */
	double rate;                 /* requests per second for this worker */
};

/* A target's copy, owned by the batch. */
typedef struct owned_target {
	char *uuid;        /* the node's UUID */
	char *ip;          /* contact address */
	int port;          /* contact port */
	char *mtls_cert;   /* pinned certificate PEM, or NULL */
	char *api_version; /* "2.x", or NULL */
} owned_target_t;

typedef struct notice_req {
	notice_batch_t *b; /* owner */
	size_t idx;        /* its target */
	http_client_t *c;  /* the connection, while the request is open */
} notice_req_t;

struct notice_batch {
	struct event_base *base;              /* the loop; borrowed */
	const struct vctx *ctx;               /* client certificate and timeout; borrowed */
	const struct http_tls_pinned *shared; /* the worker's pinned TLS context, or NULL */
	char *body;                           /* the notice */
	size_t len;                           /* its length */
	owned_target_t *t;                    /* targets */
	notice_req_t *reqs;                   /* one per target */
	size_t n;                             /* how many */
	size_t next;                          /* first target not started */
	size_t inflight;                      /* requests open */
	size_t ok, failed;                    /* outcomes so far */
	struct event *kick;                   /* starts requests, and frees the batch at the end */
	notices_done_fn done;                 /* told the counts at the end, or NULL */
	void *arg;                            /* for done */
	notices_lane_t *lane;   /* the worker's lane it waits in, or NULL: on its own */
	notice_batch_t *next_b; /* the next batch of the lane */
};

/* How many requests the lane's rate allows to start now (tokens refilled). */
static size_t lane_allowance(notices_lane_t *l)
{
	double burst = l->rate < NOTICES_SLICE ? NOTICES_SLICE : l->rate;

	return rate_fill(&l->bucket, l->rate, burst, clock_mono_ms());
}

int notices_sign(const struct vctx *ctx, const revnotice_fields_t *f, buf_t *out, err_t *e)
{
	return revnotice_sign(f, ctx->revocation_key_pem, out, e);
}

static void batch_free(notice_batch_t *b)
{
	for (size_t i = 0; i < b->n; i++) {
		http_client_free(b->reqs[i].c);
		free(b->t[i].uuid);
		free(b->t[i].ip);
		free(b->t[i].mtls_cert);
		free(b->t[i].api_version);
	}
	if (b->kick)
		event_free(b->kick);
	free(b->reqs);
	free(b->t);
	free(b->body);
	free(b);
}

static void batch_kick(notice_batch_t *b)
{
	static const struct timeval now = {0, 0};

	evtimer_add(b->kick, &now);
}

/* The agent API version for the path: "2.x" as the node uses it, else 2.1 (every agent
 * version that has the route). Only digits and one dot pass into the path. */
static const char *target_version(const owned_target_t *t)
{
	const char *v = t->api_version;

	if (v == NULL || strlen(v) > 8 || strspn(v, "0123456789.") != strlen(v) ||
	    strchr(v, '.') == NULL || v[0] == '.')
		return "2.1";
	return v;
}

static void req_failed(notice_req_t *r, const char *why)
{
	const owned_target_t *t = &r->b->t[r->idx];

	log_warnx("revocation notice to agent %s (%s:%d) not delivered: %s", t->uuid, t->ip,
	          t->port, why);
	r->b->failed++;
}

static void on_answer(int status, const uint8_t *body, size_t len, const char *err, void *arg)
{
	notice_req_t *r = arg;
	notice_batch_t *b = r->b;
	const owned_target_t *t = &b->t[r->idx];
	char why[320], st[160];

	if (status == 200) {
		log_debug("revocation notice delivered to agent %s (%s:%d)", t->uuid, t->ip,
		          t->port);
		b->ok++;
	} else if (status == 0) {
		req_failed(r, err ? err : "no answer");
	} else {
		/* The envelope's status says why the agent refused; any bytes, so escaped. */
		json_t *j = json_loadb((const char *)body, len, 0, NULL);
		const char *s = json_string_value(json_object_get(j, "status"));
		text_escape(st, sizeof(st), s ? s : "", s ? strlen(s) : 0);
		snprintf(why, sizeof(why), "HTTP %d%s%s", status, s ? ": " : "", st);
		json_decref(j);
		req_failed(r, why);
	}
	http_client_free(r->c); /* safe from its own callback (http.h) */
	r->c = NULL;
	b->inflight--;
	batch_kick(b);
}

static void req_start(notice_batch_t *b, size_t i)
{
	notice_req_t *r = &b->reqs[i];
	const owned_target_t *t = &b->t[i];
	tls_client_opts_t tls;
	char path[64];

	r->b = b;
	r->idx = i;
	memset(&tls, 0, sizeof(tls));
	tls.ca_pem = t->mtls_cert;
	tls.cert_pem = b->ctx->tls_cert_pem;
	tls.key_pem = b->ctx->tls_key_pem;
	tls.check_hostname = 0; /* the agent's certificate is pinned */
	tls.shared = b->shared;
	tls.pin_pem = t->mtls_cert;
	if (t->mtls_cert == NULL || *t->mtls_cert == '\0') {
		req_failed(r, "no pinned agent certificate");
		return;
	}
	if ((r->c = http_client_new(b->base, t->ip, t->port, &tls, b->ctx->notice_timeout_s)) ==
	    NULL) {
		req_failed(r, "cannot set up the TLS client (see above)");
		return;
	}
	http_client_set_max_response(r->c, NOTICES_MAX_ANSWER);
	snprintf(path, sizeof(path), "/v%s/notifications/revocation", target_version(t));
	if (http_client_request(r->c, HTTP_M_POST, path, "application/json", b->body, b->len,
	                        on_answer, r) < 0) {
		req_failed(r, http_client_error(r->c));
		http_client_free(r->c);
		r->c = NULL;
		return;
	}
	b->inflight++;
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	notice_batch_t *b = arg;
	size_t started = 0;

	size_t allowed = b->lane ? lane_allowance(b->lane) : (size_t)-1;

	(void)fd;
	(void)what;
	while (b->next < b->n && b->inflight < NOTICES_MAX_INFLIGHT && started < NOTICES_SLICE &&
	       started < allowed) {
		req_start(b, b->next++);
		started++;
	}
	if (b->lane)
		rate_take(&b->lane->bucket, (double)started);
	if (b->next < b->n && b->inflight < NOTICES_MAX_INFLIGHT) {
		if (started < allowed) {
			batch_kick(b); /* the rest on the next turn: rounds run in between */
		} else {
			/* The lane's rate: come back when the next request may start. */
			long us = (long)(1e6 / b->lane->rate) + 1;
			struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
			evtimer_add(b->kick, &tv);
		}
		return;
	}
	if (b->next < b->n || b->inflight > 0)
		return; /* an answer kicks again */
	if (b->failed)
		log_warnx("revocation notice: %zu of %zu agents accepted it, %zu did not", b->ok,
		          b->n, b->failed);
	else
		log_info("revocation notice: all %zu agents accepted it", b->n);
	if (b->done)
		b->done(b->ok, b->failed, b->arg);
	if (b->lane) {
		notices_lane_t *l = b->lane;
		l->head = b->next_b;
		if (l->head == NULL)
			l->tail = NULL;
		l->queued--;
		if (l->head)
			batch_kick(l->head);
	}
	batch_free(b);
}

static notice_batch_t *batch_new(struct event_base *base, const struct vctx *ctx,
                                 const struct http_tls_pinned *shared, const notice_target_t *t,
                                 size_t n, const char *body, notices_done_fn done, void *arg)
{
	notice_batch_t *b = xcalloc(1, sizeof(*b));

	b->base = base;
	b->ctx = ctx;
	b->shared = shared;
	b->body = xstrdup(body);
	b->len = strlen(body);
	b->n = n;
	b->t = xcalloc(n ? n : 1, sizeof(*b->t));
	b->reqs = xcalloc(n ? n : 1, sizeof(*b->reqs));
	for (size_t i = 0; i < n; i++) {
		b->t[i].uuid = xstrdup(t[i].uuid ? t[i].uuid : "?");
		b->t[i].ip = xstrdup(t[i].ip ? t[i].ip : "");
		b->t[i].port = t[i].port;
		b->t[i].mtls_cert = t[i].mtls_cert ? xstrdup(t[i].mtls_cert) : NULL;
		b->t[i].api_version = t[i].api_version ? xstrdup(t[i].api_version) : NULL;
	}
	b->done = done;
	b->arg = arg;
	b->kick = evtimer_new(base, on_kick, b);
	return b;
}

void notices_send(struct event_base *base, const struct vctx *ctx,
                  const struct http_tls_pinned *shared, const notice_target_t *t, size_t n,
                  const char *body, notices_done_fn done, void *arg)
{
	batch_kick(batch_new(base, ctx, shared, t, n, body, done, arg));
}

void notices_lane_free(notices_lane_t *l)
{
	notice_batch_t *b, *next;

	if (l == NULL)
		return;
	for (b = l->head; b; b = next) {
		next = b->next_b;
		batch_free(b);
	}
	free(l);
}

void notices_fanout(node_host_t *h, const char *body)
{
	notice_target_t *t;
	size_t n = 0, i = 0;
	node_t *nd;

	for (nd = h->nodes; nd; nd = nd->next)
		n++;
	t = xcalloc(n ? n : 1, sizeof(*t));
	for (nd = h->nodes; nd; nd = nd->next) {
		if (nd->removing || nd->rec.operational_state == NODE_TERMINATED)
			continue;
		t[i++] = (notice_target_t){
		    .uuid = nd->rec.uuid,
		    .ip = nd->rec.ip,
		    .port = nd->rec.port,
		    .mtls_cert = nd->rec.mtls_cert,
		    .api_version = nd->rec.api_version,
		};
	}
	if (i == 0) {
		free(t);
		return;
	}
	if (h->notices == NULL) {
		h->notices = xcalloc(1, sizeof(*h->notices));
		h->notices->rate =
		    (double)h->ctx->notice_rate / (h->ctx->nworkers > 0 ? h->ctx->nworkers : 1);
	}
	if (h->notices->queued >= NOTICES_MAX_QUEUED) {
		/* Best effort, bounded: the event and its webhooks are stored already. */
		log_warnx(
		    "worker %d: a revocation notice is not sent to its %zu agents: %zu notices "
		    "are still waiting (verifier.notice_rate)",
		    h->id, i, h->notices->queued);
		free(t);
		return;
	}
	notice_batch_t *b = batch_new(h->base, h->ctx, h->agent_tls, t, i, body, NULL, NULL);
	b->lane = h->notices;
	if (h->notices->tail)
		h->notices->tail->next_b = b;
	else
		h->notices->head = b;
	h->notices->tail = b;
	if (h->notices->queued++ == 0)
		batch_kick(b);
	free(t);
}

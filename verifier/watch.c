/* watch: WatchEvents, the event log streamed to its watchers from one thread. */
#include "verifier/watch.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/thread.h"
#include "common/base/xmalloc.h"
#include "common/net/pb.h"
#include "common/store/store.h"
#include "verifier/api_events.h"
#include "verifier/apireq.h"
#include "verifier/event_ear.h"
#include "verifier/vctx.h"

/* Events read from the store for one watcher at a time, at most. */
#define WATCH_BATCH 64

typedef struct watcher {
	grpcsrv_call_t *call;
	const vctx_t *ctx;  /* signs the EAR JWT of verdict events */
	char *node;         /* filter: only this node's events, or NULL */
	char *type;         /* filter: only this type, or NULL */
	int64_t last_seq;   /* the last event queued to the call (or skipped by filter) */
	char resume_id[40]; /* the last event id surely taken by the client, or "" */
	char ring[WATCH_BATCH * 4][40]; /* ids of the events queued most recently */
	size_t queued;                  /* how many were queued in all */
	int64_t full_since;             /* ms since the queue is full with events waiting, 0: not */
	int closed;                     /* the client went away (atomic: set on the gRPC thread) */
	struct watcher *next;
} watcher_t;

struct watch_hub {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int wake;            /* events were appended since the last pass */
	int stop;            /* shut down */
	watcher_t *watchers; /* guarded by lock (the list; the rest is the thread's) */
	int count;           /* watchers in the list */
	int max_watchers;    /* refused beyond this */
	int max_stall_ms;    /* a full queue with events waiting this long ends the call */
	struct store *store; /* the thread's own connection */
};

static void watcher_free(watcher_t *w)
{
	free(w->node);
	free(w->type);
	free(w);
}

/* The id a watcher cut off should resume after: the newest event the client has surely
 * taken (those still queued, plus one in flight, are not). */
static const char *watch_resume_id(watcher_t *w, int room, int cap)
{
	size_t untaken = (size_t)(cap - room) + 1, ring = sizeof(w->ring) / sizeof(w->ring[0]);

	if (w->queued > untaken && untaken < ring)
		return w->ring[(w->queued - untaken - 1) % ring];
	return w->resume_id;
}

/* Queue what the watcher has not seen yet, as much as its queue takes. 0 to keep it,
 * -1 when its call ended (finished here). */
static int watch_serve(watch_hub_t *h, watcher_t *w, int cap, int *more)
{
	store_event_filter_t f = {.node_uuid = w->node, .type = w->type, .after_seq = w->last_seq};
	store_event_t *v = NULL;
	size_t n = 0, i;
	int room = grpcsrv_call_room(w->call);
	err_t e = {""};

	if (room < 0)
		return -1;
	f.limit = room > 0 ? (size_t)(room < WATCH_BATCH ? room : WATCH_BATCH) : 1;
	if (store_event_list(h->store, &f, &v, &n, &e) != STORE_OK) {
		log_warnx("WatchEvents: cannot read the event log: %s", e.msg);
		return 0;
	}
	if (n == 0) {
		w->full_since = 0;
		return 0;
	}
	if (room == 0) {
		int64_t now = clock_mono_ms();
		char why[200];
		store_events_free(v, n);
		if (w->full_since == 0) {
			w->full_since = now;
			return 0;
		}
		if (now - w->full_since < h->max_stall_ms)
			return 0;
		snprintf(why, sizeof(why),
		         "this watcher read too slowly: its queue of %d events stayed full for %d "
		         "ms; resume with since_id=%s",
		         cap, h->max_stall_ms, watch_resume_id(w, room, cap));
		log_warnx("WatchEvents from %s cut off: %s", grpcsrv_call_peer(w->call), why);
		grpcsrv_call_finish(w->call, GRPCSRV_RESOURCE_EXHAUSTED, why);
		return -1;
	}
	w->full_since = 0;
	for (i = 0; i < n; i++) {
		Vigil__V1__Event pe;
		buf_t b = BUF_INIT;
		size_t ring = sizeof(w->ring) / sizeof(w->ring[0]);
		buf_t ear = BUF_INIT;
		char *jwt = NULL;
		err_t ee = {""};

		api_event_fill(&pe, &v[i]);
		/* A verdict event carries its verdict's EAR JWT (not part of the hashed record). */
		switch (event_ear_jwt(w->ctx, v[i].type, v[i].node_uuid, v[i].body, &ear, &ee)) {
		case 1:
			jwt = xstrndup((const char *)ear.data,
			               strnlen((const char *)ear.data, ear.len));
			pe.ear = jwt;
			break;
		case -1:
			log_warnx("WatchEvents: event %s goes without its verdict's EAR token: %s",
			          v[i].id, ee.msg);
			break;
		default:
			break;
		}
		buf_free(&ear);
		pb_pack(&pe.base, &b);
		free(jwt);
		if (grpcsrv_call_send(w->call, b.data, b.len) < 0) {
			buf_free(&b);
			break; /* ended, or full meanwhile: the next pass tells which */
		}
		buf_free(&b);
		if (w->queued >= (size_t)cap + 1)
			memcpy(w->resume_id, w->ring[(w->queued - cap - 1) % ring], 40);
		memcpy(w->ring[w->queued % ring], v[i].id, 40);
		w->queued++;
		w->last_seq = v[i].seq;
	}
	if (i == n && n == f.limit)
		*more = 1;
	store_events_free(v, n);
	return 0;
}

static void *watch_main(void *arg)
{
	watch_hub_t *h = arg;
	int cap, more = 0;
	grpcsrv_limits_t lim;

	thread_name_set("vigil-watch");
	grpcsrv_limits_default(&lim);
	cap = lim.send_queue;
	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		watcher_t **pw;

		if (!h->wake && !more) {
			/* Idle: 200 ms at most (events of other writers, stalls to judge). */
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += 200 * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&h->cond, &h->lock, &until);
			if (h->stop)
				break;
		}
		h->wake = 0;
		more = 0;
		for (pw = &h->watchers; *pw;) {
			watcher_t *w = *pw;
			int gone = __atomic_load_n(&w->closed, __ATOMIC_RELAXED);
			pthread_mutex_unlock(&h->lock);
			if (gone)
				grpcsrv_call_finish(w->call, GRPCSRV_CANCELLED,
				                    "the watcher went away");
			else if (watch_serve(h, w, cap, &more) < 0)
				gone = 1;
			pthread_mutex_lock(&h->lock);
			if (gone) {
				*pw = w->next;
				h->count--;
				watcher_free(w);
			} else {
				pw = &w->next;
			}
		}
	}
	/* Shutdown: end every stream still open. */
	while (h->watchers) {
		watcher_t *w = h->watchers;
		h->watchers = w->next;
		pthread_mutex_unlock(&h->lock);
		grpcsrv_call_finish(w->call, GRPCSRV_UNAVAILABLE, "the verifier is shutting down");
		pthread_mutex_lock(&h->lock);
		watcher_free(w);
	}
	h->count = 0;
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

watch_hub_t *watch_hub_new(const char *store_url, int max_watchers, int max_stall_ms, err_t *e)
{
	watch_hub_t *h = xcalloc(1, sizeof(*h));

	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	h->max_watchers = max_watchers;
	h->max_stall_ms = max_stall_ms;
	if ((h->store = store_open(store_url, e)) == NULL ||
	    pthread_create(&h->thread, NULL, watch_main, h) != 0) {
		if (h->store)
			err_set(e, "cannot start the WatchEvents thread");
		store_close(h->store);
		pthread_cond_destroy(&h->cond);
		pthread_mutex_destroy(&h->lock);
		free(h);
		return NULL;
	}
	return h;
}

void watch_hub_notify(watch_hub_t *h)
{
	pthread_mutex_lock(&h->lock);
	h->wake = 1;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

void watch_hub_free(watch_hub_t *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&h->lock);
	h->stop = 1;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	store_close(h->store);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

/* The client went away or the server is stopping (gRPC thread, under the server's
 * lock): only flag it; the hub's thread finishes the call. */
static void watch_on_close(void *arg)
{
	watcher_t *w = arg;

	__atomic_store_n(&w->closed, 1, __ATOMIC_RELAXED);
}

int watch_events(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                 err_t *e)
{
	vctx_t *ctx = arg;
	watch_hub_t *h = ctx->watch;
	Vigil__V1__WatchEventsRequest *r = vigil__v1__watch_events_request__unpack(NULL, len, req);
	store_event_t ev;
	watcher_t *w = NULL;
	int code;

	(void)resp;
	memset(&ev, 0, sizeof(ev));
	if ((code = apireq_watch_events(r, e)) != GRPCSRV_OK) {
		log_info("WatchEvents from %s refused: %s", grpcsrv_call_peer(c), e->msg);
		goto out;
	}
	w = xcalloc(1, sizeof(*w));
	w->ctx = ctx;
	w->node = *r->node_uuid ? xstrdup(r->node_uuid) : NULL;
	w->type = *r->type ? xstrdup(r->type) : NULL;
	if (*r->since_id) {
		switch (store_event_get(ctx->api_store, r->since_id, &ev, e)) {
		case STORE_OK:
			w->last_seq = ev.seq;
			memcpy(w->resume_id, ev.id, sizeof(w->resume_id));
			break;
		case STORE_NOT_FOUND:
			err_set(e, "no event %s in this verifier's log", r->since_id);
			code = GRPCSRV_NOT_FOUND;
			goto out;
		default:
			code = GRPCSRV_INTERNAL;
			goto out;
		}
	} else if (r->after_seq > 0) {
		w->last_seq = (int64_t)r->after_seq;
	} else if (!r->from_start) {
		switch (store_event_last(ctx->api_store, &ev, e)) {
		case STORE_OK:
			w->last_seq = ev.seq;
			memcpy(w->resume_id, ev.id, sizeof(w->resume_id));
			break;
		case STORE_NOT_FOUND:
			break;
		default:
			code = GRPCSRV_INTERNAL;
			goto out;
		}
	}
	pthread_mutex_lock(&h->lock);
	if (h->count >= h->max_watchers) {
		pthread_mutex_unlock(&h->lock);
		err_set(e, "%d event watchers already (verifier.max_watchers)", h->max_watchers);
		code = GRPCSRV_RESOURCE_EXHAUSTED;
		goto out;
	}
	grpcsrv_call_on_close(c, watch_on_close, w);
	w->call = c;
	w->next = h->watchers;
	h->watchers = w;
	h->count++;
	h->wake = 1;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	log_info("WatchEvents from %s: node %s, type %s, after seq %lld", grpcsrv_call_peer(c),
	         w->node ? w->node : "any", w->type ? w->type : "any", (long long)w->last_seq);
	w = NULL;
	code = GRPCSRV_DEFERRED;
out:
	if (w)
		watcher_free(w);
	store_event_clear(&ev);
	vigil__v1__watch_events_request__free_unpacked(r, NULL);
	return code;
}

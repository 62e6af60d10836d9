/* worker: a thread with a libevent loop and a command queue fed by other threads. */
#include "verifier/worker.h"

#include <pthread.h>
#include <stdlib.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "common/base/log.h"
#include "common/base/thread.h"
#include "common/store/store.h"
#include "common/base/xmalloc.h"
#include "verifier/metrics.h"
#include "verifier/node.h"
#include "verifier/notices.h"
#include "verifier/storeq.h"
#include "verifier/vctx.h"

typedef struct worker_cmd {
	worker_fn fn;            /* what to run */
	void *arg;               /* its argument (fn owns it) */
	struct worker_cmd *next; /* queue link */
} worker_cmd_t;

struct worker {
	int id;                    /* 0 .. workers-1 */
	struct vctx *ctx;          /* shared verifier context (borrowed) */
	struct event_base *base;   /* this worker's loop */
	struct event *wake;        /* activated by worker_post */
	struct event *tick;        /* periodic: flush durable progress */
	pthread_t thread;          /* the worker thread */
	int started;               /* thread running */
	pthread_mutex_t lock;      /* guards the queue */
	worker_cmd_t *head, *tail; /* queued commands */
	http_budget_t *budget;     /* bytes of agents' answers arriving on this worker */
	node_host_t host;          /* lent to this worker's nodes: loop, store, node list */
};

static void worker_run_fanout(node_host_t *h, void *body)
{
	notices_fanout(h, body);
	free(body);
}

/* A node's revocation notice goes to the agents of every worker, each sent from the
 * worker that owns them. */
static void worker_announce(node_host_t *h, const char *body)
{
	for (int i = 0; i < h->ctx->nworkers; i++)
		worker_post_node(h->ctx->workers[i], worker_run_fanout, xstrdup(body));
}

static void worker_run_outcomes(worker_t *w, void *arg)
{
	node_cmd_store_done(&w->host, arg);
}

/* The store thread's outcomes of this worker's writes (on the store thread): run on the
 * worker's own, through its command queue. */
static void worker_deliver(void *arg, storeq_results_t *r)
{
	worker_post(arg, worker_run_outcomes, r);
}

/* Run at most WORKER_CMD_SLICE queued commands, then let the loop poll: thousands of
 * commands posted at once (nodes loaded by a takeover, a fleet added) are worked off in
 * slices between the rounds' own events, so the nodes already held never wait for all
 * of them. The rest runs after a zero timeout, which libevent fires only after its next
 * poll (an event activated again from its own callback would run in the same pass). */
#define WORKER_CMD_SLICE 64

static void worker_on_wake(evutil_socket_t fd, short what, void *arg)
{
	worker_t *w = arg;
	worker_cmd_t *c, *next, *last;
	int n = 1, more;
	const struct timeval now = {0, 0};

	(void)fd;
	(void)what;
	pthread_mutex_lock(&w->lock);
	c = last = w->head;
	while (last && last->next && n < WORKER_CMD_SLICE) {
		last = last->next;
		n++;
	}
	if (last) {
		w->head = last->next;
		last->next = NULL;
		if (w->head == NULL)
			w->tail = NULL;
	}
	more = w->head != NULL;
	pthread_mutex_unlock(&w->lock);
	if (more)
		event_add(w->wake, &now);
	for (; c; c = next) {
		next = c->next;
		c->fn(w, c->arg);
		free(c);
	}
}

/* After the loop ended: run the store thread's outcomes queued so far and nothing else
 * (the other commands are dropped by worker_free, as before: the gRPC server that would
 * be answered is gone). */
static void worker_run_queued_outcomes(worker_t *w)
{
	worker_cmd_t *c, *next, *keep = NULL, **tail = &keep;

	pthread_mutex_lock(&w->lock);
	c = w->head;
	w->head = w->tail = NULL;
	pthread_mutex_unlock(&w->lock);
	for (; c; c = next) {
		next = c->next;
		c->next = NULL;
		if (c->fn == worker_run_outcomes) {
			c->fn(w, c->arg);
			free(c);
		} else {
			*tail = c;
			tail = &c->next;
		}
	}
	pthread_mutex_lock(&w->lock);
	if (keep != NULL) {
		worker_cmd_t *last = keep;
		while (last->next)
			last = last->next;
		last->next = w->head;
		if (w->head == NULL)
			w->tail = last;
		w->head = keep;
	}
	pthread_mutex_unlock(&w->lock);
}

/* The metrics' nodes by state, and the worker's sign of life for /readyz. */
static void worker_count_nodes(worker_t *w)
{
	uint64_t by_state[VMETRICS_STATES] = {0};

	for (node_t *n = w->host.nodes; n; n = n->next)
		if (!n->removing && (unsigned)n->rec.operational_state < VMETRICS_STATES)
			by_state[n->rec.operational_state]++;
	vmetrics_tick(w->host.metrics, by_state);
}

static void worker_on_tick(evutil_socket_t fd, short what, void *arg)
{
	worker_t *w = arg;

	(void)fd;
	(void)what;
	node_worker_tick(&w->host);
	worker_count_nodes(w);
}

worker_t *worker_new(int id, struct vctx *ctx)
{
	worker_t *w = xcalloc(1, sizeof(*w));
	struct timeval tv;

	w->id = id;
	w->ctx = ctx;
	w->budget = http_budget_new(ctx->answer_budget);
	pthread_mutex_init(&w->lock, NULL);
	if ((w->base = http_event_base_new()) == NULL)
		fatalx("worker %d: cannot create an event base", id);
	w->host.id = id;
	w->host.ctx = ctx;
	w->host.base = w->base;
	w->host.budget = w->budget;
	{
		tls_client_opts_t me = {.cert_pem = ctx->tls_cert_pem, .key_pem = ctx->tls_key_pem};
		err_t e = {""};
		if ((w->host.agent_tls = http_tls_pinned_new(&me, &e)) == NULL)
			fatalx("worker %d: the TLS client context for agents: %s", id, e.msg);
	}
	w->host.announce = worker_announce;
	if (ctx->storeq != NULL)
		w->host.writes = storeq_lane_new(ctx->storeq, worker_deliver, w);
	w->host.metrics = ctx->metrics ? vmetrics_worker(ctx->metrics, id) : NULL;
	w->wake = event_new(w->base, -1, 0, worker_on_wake, w);
	w->tick = event_new(w->base, -1, EV_PERSIST, worker_on_tick, w);
	tv.tv_sec = ctx->flush_interval_ms / 1000;
	tv.tv_usec = (ctx->flush_interval_ms % 1000) * 1000;
	event_add(w->tick, &tv);
	return w;
}

static void *worker_main(void *arg)
{
	worker_t *w = arg;
	err_t e = {""};

	thread_name_set("vigil-worker%d", w->id);
	if ((w->host.store = store_open(w->ctx->database, &e)) == NULL)
		fatalx("worker %d: cannot open the store: %s", w->id, e.msg);
	worker_count_nodes(w); /* running: ready before the first tick */
	event_base_dispatch(w->base);
	/* Nothing queued is lost: the last progress goes to the store thread, and the nodes
	 * are freed only when every write of theirs is back (they own nothing the store
	 * thread reads, but the outcomes name them). */
	node_worker_flush(&w->host);
	while (w->host.writes != NULL && storeq_lane_pending(w->host.writes) > 0) {
		storeq_lane_drain(w->host.writes);
		worker_run_queued_outcomes(w);
	}
	node_worker_stop(&w->host);
	store_close(w->host.store);
	w->host.store = NULL;
	return NULL;
}

int worker_start(worker_t *w)
{
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
		log_warnx("worker %d: cannot start its thread", w->id);
		return -1;
	}
	w->started = 1;
	return 0;
}

static void worker_do_exit(worker_t *w, void *arg)
{
	(void)arg;
	event_base_loopexit(w->base, NULL);
}

void worker_free(worker_t *w)
{
	worker_cmd_t *c, *next;

	if (w == NULL)
		return;
	if (w->started) {
		worker_post(w, worker_do_exit, NULL);
		pthread_join(w->thread, NULL);
	}
	for (c = w->head; c; c = next) {
		next = c->next;
		free(c);
	}
	notices_lane_free(w->host.notices); /* its clients' events are on the base */
	storeq_lane_free(w->host.writes);
	event_free(w->wake);
	event_free(w->tick);
	event_base_free(w->base);
	http_budget_free(w->budget);
	http_tls_pinned_free(w->host.agent_tls);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

void worker_post(worker_t *w, worker_fn fn, void *arg)
{
	worker_cmd_t *c = xcalloc(1, sizeof(*c));

	c->fn = fn;
	c->arg = arg;
	pthread_mutex_lock(&w->lock);
	if (w->tail)
		w->tail->next = c;
	else
		w->head = c;
	w->tail = c;
	pthread_mutex_unlock(&w->lock);
	event_active(w->wake, 0, 0);
}

int worker_id(const worker_t *w)
{
	return w->id;
}

struct event_base *worker_base(worker_t *w)
{
	return w->base;
}

struct vctx *worker_ctx(worker_t *w)
{
	return w->ctx;
}

struct store *worker_store(worker_t *w)
{
	return w->host.store;
}

http_budget_t *worker_budget(worker_t *w)
{
	return w->budget;
}

node_host_t *worker_host(worker_t *w)
{
	return &w->host;
}

typedef struct worker_node_cmd {
	node_cmd_fn fn; /* the node command */
	void *arg;      /* its argument (fn takes it) */
} worker_node_cmd_t;

static void worker_run_node_cmd(worker_t *w, void *arg)
{
	worker_node_cmd_t *c = arg;

	c->fn(&w->host, c->arg);
	free(c);
}

void worker_post_node(worker_t *w, node_cmd_fn fn, void *arg)
{
	worker_node_cmd_t *c = xcalloc(1, sizeof(*c));

	c->fn = fn;
	c->arg = arg;
	worker_post(w, worker_run_node_cmd, c);
}

typedef struct worker_sync {
	worker_fn fn;         /* the command */
	void *arg;            /* its argument */
	int done;             /* set when it ran */
	pthread_mutex_t lock; /* guards done */
	pthread_cond_t cond;  /* signalled when done */
} worker_sync_t;

static void worker_run_sync(worker_t *w, void *arg)
{
	worker_sync_t *s = arg;

	s->fn(w, s->arg);
	pthread_mutex_lock(&s->lock);
	s->done = 1;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void worker_call(worker_t *w, worker_fn fn, void *arg)
{
	worker_sync_t s = {.fn = fn, .arg = arg};

	pthread_mutex_init(&s.lock, NULL);
	pthread_cond_init(&s.cond, NULL);
	worker_post(w, worker_run_sync, &s);
	pthread_mutex_lock(&s.lock);
	while (!s.done)
		pthread_cond_wait(&s.cond, &s.lock);
	pthread_mutex_unlock(&s.lock);
	pthread_cond_destroy(&s.cond);
	pthread_mutex_destroy(&s.lock);
}

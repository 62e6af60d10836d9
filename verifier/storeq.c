/* storeq: the verifier's store thread (see storeq.h). */
#include "verifier/storeq.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/log.h"
#include "common/base/prom.h"
#include "common/base/xmalloc.h"
#include "verifier/events.h"
#include "verifier/metrics.h"

/* One queued write. */
typedef struct sq_job {
	storeq_kind_t kind;  /* progress or event */
	storeq_lane_t *lane; /* whose outcome it is */
	void *token;         /* handed back in the outcome */
	store_node_t snap;   /* the node's record as its worker saw it (owned) */
	int save;            /* an event: write snap's progress with it */
	char *type;          /* an event: its type (owned) */
	char *event_id;      /* an event: its event_id or NULL (owned) */
	char *reason;        /* an event: its reason or NULL (owned) */
	int dead;            /* progress: superseded by its node's event; not written */
	struct sq_job *next; /* the events' queue, the superseded list */
} sq_job_t;

struct storeq_lane {
	storeq_t *q;               /* its queue */
	storeq_deliver_fn deliver; /* where its outcomes go */
	void *arg;                 /* deliver's argument */
	size_t pending;            /* jobs without a delivered outcome (q->lock) */
	storeq_results_t out;      /* the batch's outcomes being gathered (batch runner) */
	size_t out_cap;            /* room in out.v */
	size_t out_jobs;           /* jobs those outcomes account for */
	struct storeq_lane *next;  /* the queue's lanes (q->lock) */
};

struct storeq {
	store_t *store;           /* the thread's connection */
	struct vmetrics_store *m; /* its counters, or NULL */
	pthread_t thread;         /* the store thread */
	int started;              /* it runs */
	pthread_mutex_t lock;     /* guards everything below */
	pthread_cond_t wake;      /* work queued, or stop */
	pthread_cond_t done;      /* a batch's outcomes were delivered */
	int stop;                 /* storeq_free asked the thread to finish */
	sq_job_t *ev_head;        /* events waiting, in order */
	sq_job_t *ev_tail;        /* the last of them */
	sq_job_t **prog;          /* progress jobs waiting (a live or dead one per UUID) */
	size_t nprog;             /* how many */
	size_t prog_cap;          /* room in prog */
	sq_job_t **table;         /* UUID -> its job in prog (open addressing) */
	size_t tcap;              /* slots in table: a power of two, or 0 */
	sq_job_t *superseded;     /* outcome-only jobs of replaced snapshots */
	size_t depth;             /* jobs waiting to be written */
	uint64_t queued;          /* jobs queued since the start */
	uint64_t done_upto;       /* of them, those whose outcome was delivered */
	storeq_lane_t *lanes;     /* every lane */
};

void storeq_results_free(storeq_results_t *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].type);
		free(r->v[i].event_id);
		free(r->v[i].reason);
	}
	free(r->v);
	free(r);
}

/* ---- the waiting progress jobs, one per UUID ---- */

static size_t sq_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (size_t)h;
}

/* The slot of uuid in the table: its job's, or the empty one where it would go. */
static sq_job_t **sq_slot(storeq_t *q, const char *uuid)
{
	size_t i = sq_hash(uuid) & (q->tcap - 1);

	while (q->table[i] != NULL && strcmp(q->table[i]->snap.uuid, uuid) != 0)
		i = (i + 1) & (q->tcap - 1);
	return &q->table[i];
}

/* Room for one more UUID, the table at most half full. */
static void sq_table_grow(storeq_t *q)
{
	if ((q->nprog + 1) * 2 <= q->tcap)
		return;
	free(q->table);
	q->tcap = q->tcap ? q->tcap * 2 : 256;
	q->table = xcalloc(q->tcap, sizeof(*q->table));
	for (size_t i = 0; i < q->nprog; i++)
		*sq_slot(q, q->prog[i]->snap.uuid) = q->prog[i];
}

static void sq_job_free(sq_job_t *j)
{
	store_node_clear(&j->snap);
	free(j->type);
	free(j->event_id);
	free(j->reason);
	free(j);
}

/* The waiting snapshot of j is replaced: its submitter learns so with the next batch. */
static void sq_supersede(storeq_t *q, sq_job_t *j)
{
	sq_job_t *o = xcalloc(1, sizeof(*o));

	o->kind = STOREQ_PROGRESS;
	o->lane = j->lane;
	o->token = j->token;
	o->next = q->superseded;
	q->superseded = o;
	q->depth--;
}

static void sq_set_depth(storeq_t *q)
{
	if (q->m)
		prom_set(&q->m->queued, q->depth); /* written under q->lock only */
}

void storeq_put_progress(storeq_lane_t *l, void *token, store_node_t *snap)
{
	storeq_t *q = l->q;
	sq_job_t **slot, *j;

	pthread_mutex_lock(&q->lock);
	sq_table_grow(q);
	slot = sq_slot(q, snap->uuid);
	if ((j = *slot) != NULL) {
		/* Coalesced: only the newest snapshot of a node is written. */
		if (!j->dead)
			sq_supersede(q, j);
		store_node_clear(&j->snap);
	} else {
		j = xcalloc(1, sizeof(*j));
		j->kind = STOREQ_PROGRESS;
		if (q->nprog == q->prog_cap) {
			q->prog_cap = q->prog_cap ? q->prog_cap * 2 : 256;
			q->prog = xrealloc(q->prog, q->prog_cap * sizeof(*q->prog));
		}
		q->prog[q->nprog++] = j;
		*slot = j;
	}
	j->snap = *snap;
	memset(snap, 0, sizeof(*snap));
	j->lane = l;
	j->token = token;
	j->dead = 0;
	q->depth++;
	q->queued++;
	l->pending++;
	sq_set_depth(q);
	pthread_cond_signal(&q->wake);
	pthread_mutex_unlock(&q->lock);
}

void storeq_put_event(storeq_lane_t *l, void *token, store_node_t *snap, int save, const char *type,
                      const char *event_id, const char *reason)
{
	storeq_t *q = l->q;
	sq_job_t *j = xcalloc(1, sizeof(*j));

	j->kind = STOREQ_EVENT;
	j->lane = l;
	j->token = token;
	j->snap = *snap;
	memset(snap, 0, sizeof(*snap));
	j->save = save;
	j->type = xstrdup(type);
	j->event_id = event_id ? xstrdup(event_id) : NULL;
	j->reason = reason ? xstrdup(reason) : NULL;
	pthread_mutex_lock(&q->lock);
	if (save && q->tcap > 0) {
		/* The verdict's snapshot is newer than the node's waiting one, which must not
		 * be written after it: drop that one (its slot stays, for a newer one). */
		sq_job_t *w = *sq_slot(q, j->snap.uuid);
		if (w != NULL && !w->dead) {
			sq_supersede(q, w);
			w->dead = 1;
		}
	}
	if (q->ev_tail)
		q->ev_tail->next = j;
	else
		q->ev_head = j;
	q->ev_tail = j;
	q->depth++;
	q->queued++;
	l->pending++;
	sq_set_depth(q);
	pthread_cond_signal(&q->wake);
	pthread_mutex_unlock(&q->lock);
}

/* ---- a batch ---- */

static void sq_outcome(sq_job_t *j, storeq_rc_t rc)
{
	storeq_lane_t *l = j->lane;
	storeq_result_t *r;

	if (l->out.n == l->out_cap) {
		l->out_cap = l->out_cap ? l->out_cap * 2 : 64;
		l->out.v = xrealloc(l->out.v, l->out_cap * sizeof(*l->out.v));
	}
	r = &l->out.v[l->out.n++];
	memset(r, 0, sizeof(*r));
	r->token = j->token;
	r->kind = j->kind;
	r->rc = rc;
	r->save = j->save;
	/* The outcome takes the event's strings. */
	r->type = j->type;
	r->event_id = j->event_id;
	r->reason = j->reason;
	j->type = j->event_id = j->reason = NULL;
	l->out_jobs++;
}

/* Write one batch: everything queued now. 0 when there was nothing to do. */
static int sq_run_batch(storeq_t *q)
{
	sq_job_t *ev, *sup, **prog, *j, *next;
	size_t nprog, k = 0, nev = 0;
	const store_node_t **v = NULL;
	sq_job_t **vj = NULL;
	int *fenced = NULL, failed = 0;
	uint64_t upto;
	int64_t t0;
	err_t e = {""};

	pthread_mutex_lock(&q->lock);
	ev = q->ev_head;
	sup = q->superseded;
	prog = q->prog;
	nprog = q->nprog;
	q->ev_head = q->ev_tail = NULL;
	q->superseded = NULL;
	q->prog = NULL;
	q->nprog = q->prog_cap = 0;
	if (q->tcap > 0)
		memset(q->table, 0, q->tcap * sizeof(*q->table));
	q->depth = 0;
	sq_set_depth(q);
	upto = q->queued;
	pthread_mutex_unlock(&q->lock);
	if (ev == NULL && sup == NULL && nprog == 0) {
		free(prog);
		return 0;
	}

	t0 = prom_now_us();
	/* Events first, in the order they were queued, each in its own transaction. */
	for (j = ev; j; j = next) {
		int rv =
		    events_record(q->store, &j->snap, j->save, j->type, j->event_id, j->reason);
		next = j->next;
		if (rv < 0)
			failed = 1;
		sq_outcome(j, rv == 0 ? STOREQ_OK : rv == 1 ? STOREQ_FENCED : STOREQ_FAILED);
		sq_job_free(j);
		nev++;
	}
	/* Then the progress, newer than any event of its node, in one transaction. */
	if (nprog > 0) {
		v = xcalloc(nprog, sizeof(*v));
		vj = xcalloc(nprog, sizeof(*vj));
		fenced = xcalloc(nprog, sizeof(*fenced));
	}
	for (size_t i = 0; i < nprog; i++)
		if (!prog[i]->dead) {
			vj[k] = prog[i];
			v[k++] = &prog[i]->snap;
		}
	if (k > 0) {
		if (store_node_save(q->store, v, k, fenced, &e) != STORE_OK) {
			log_warnx("store thread: cannot write the progress of %zu nodes (kept in "
			          "memory, tried again at the next flush): %s",
			          k, e.msg);
			failed = 1;
			for (size_t i = 0; i < k; i++)
				sq_outcome(vj[i], STOREQ_FAILED);
		} else {
			for (size_t i = 0; i < k; i++)
				sq_outcome(vj[i], fenced[i] ? STOREQ_FENCED : STOREQ_OK);
		}
	}
	if (q->m && (nev > 0 || k > 0)) {
		int64_t now = prom_now_us();
		prom_hist_observe(&q->m->batch, now > t0 ? (uint64_t)(now - t0) : 0);
		prom_add(&q->m->rows, k);
		prom_add(&q->m->events, nev);
		if (failed)
			prom_add(&q->m->failures, 1);
	}
	for (size_t i = 0; i < nprog; i++)
		sq_job_free(prog[i]);
	for (j = sup; j; j = next) {
		next = j->next;
		sq_outcome(j, STOREQ_SUPERSEDED);
		sq_job_free(j);
	}
	free(prog);
	free(v);
	free(vj);
	free(fenced);

	/* Hand the outcomes over, then count them delivered: a lane drained has them. */
	pthread_mutex_lock(&q->lock);
	for (storeq_lane_t *l = q->lanes; l; l = l->next) {
		storeq_results_t *r;
		size_t jobs = l->out_jobs;
		if (jobs == 0)
			continue;
		r = xmalloc(sizeof(*r));
		*r = l->out;
		memset(&l->out, 0, sizeof(l->out));
		l->out_cap = 0;
		l->out_jobs = 0;
		l->deliver(l->arg, r);
		l->pending -= jobs;
	}
	q->done_upto = upto;
	pthread_cond_broadcast(&q->done);
	pthread_mutex_unlock(&q->lock);
	return 1;
}

/* ---- the thread ---- */

static int sq_has_work(const storeq_t *q)
{
	return q->ev_head != NULL || q->nprog > 0 || q->superseded != NULL;
}

static void *sq_main(void *arg)
{
	storeq_t *q = arg;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (!q->stop && !sq_has_work(q))
			pthread_cond_wait(&q->wake, &q->lock);
		if (!sq_has_work(q))
			break; /* stopping, and everything is written */
		pthread_mutex_unlock(&q->lock);
		sq_run_batch(q);
		pthread_mutex_lock(&q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

storeq_t *storeq_new(const char *database, struct vmetrics_store *m, err_t *e)
{
	storeq_t *q = xcalloc(1, sizeof(*q));

	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->wake, NULL);
	pthread_cond_init(&q->done, NULL);
	q->m = m;
	if ((q->store = store_open(database, e)) == NULL) {
		storeq_free(q);
		return NULL;
	}
	return q;
}

int storeq_start(storeq_t *q)
{
	if (pthread_create(&q->thread, NULL, sq_main, q) != 0) {
		log_warnx("cannot start the store thread");
		return -1;
	}
	q->started = 1;
	return 0;
}

void storeq_free(storeq_t *q)
{
	if (q == NULL)
		return;
	if (q->started) {
		pthread_mutex_lock(&q->lock);
		q->stop = 1;
		pthread_cond_signal(&q->wake);
		pthread_mutex_unlock(&q->lock);
		pthread_join(q->thread, NULL);
	} else if (q->store != NULL) {
		while (sq_run_batch(q))
			;
	}
	if (q->lanes != NULL)
		log_warnx("store thread: freed with a lane still open");
	store_close(q->store);
	free(q->table);
	free(q->prog);
	pthread_cond_destroy(&q->done);
	pthread_cond_destroy(&q->wake);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

/* ---- lanes ---- */

storeq_lane_t *storeq_lane_new(storeq_t *q, storeq_deliver_fn deliver, void *arg)
{
	storeq_lane_t *l = xcalloc(1, sizeof(*l));

	l->q = q;
	l->deliver = deliver;
	l->arg = arg;
	pthread_mutex_lock(&q->lock);
	l->next = q->lanes;
	q->lanes = l;
	pthread_mutex_unlock(&q->lock);
	return l;
}

void storeq_lane_free(storeq_lane_t *l)
{
	storeq_t *q;

	if (l == NULL)
		return;
	q = l->q;
	pthread_mutex_lock(&q->lock);
	for (storeq_lane_t **p = &q->lanes; *p; p = &(*p)->next)
		if (*p == l) {
			*p = l->next;
			break;
		}
	if (l->pending > 0)
		log_warnx("store thread: a lane freed with %zu writes outstanding", l->pending);
	pthread_mutex_unlock(&q->lock);
	free(l->out.v);
	free(l);
}

size_t storeq_lane_pending(storeq_lane_t *l)
{
	size_t n;

	pthread_mutex_lock(&l->q->lock);
	n = l->pending;
	pthread_mutex_unlock(&l->q->lock);
	return n;
}

void storeq_lane_drain(storeq_lane_t *l)
{
	storeq_t *q = l->q;

	if (!q->started) {
		while (storeq_lane_pending(l) > 0 && sq_run_batch(q))
			;
		return;
	}
	pthread_mutex_lock(&q->lock);
	while (l->pending > 0)
		pthread_cond_wait(&q->done, &q->lock);
	pthread_mutex_unlock(&q->lock);
}

void storeq_sync(storeq_t *q)
{
	uint64_t target;

	if (!q->started) {
		while (sq_run_batch(q))
			;
		return;
	}
	pthread_mutex_lock(&q->lock);
	target = q->queued;
	while (q->done_upto < target)
		pthread_cond_wait(&q->done, &q->lock);
	pthread_mutex_unlock(&q->lock);
}

void storeq_lane_sync(storeq_lane_t *l)
{
	storeq_sync(l->q);
}

size_t storeq_depth(storeq_t *q)
{
	size_t n;

	pthread_mutex_lock(&q->lock);
	n = q->depth;
	pthread_mutex_unlock(&q->lock);
	return n;
}

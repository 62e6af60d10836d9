/* lease: the lease manager's thread (see lease.h). */
#include "verifier/lease.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/base/log.h"
#include "common/base/prom.h"
#include "common/base/thread.h"
#include "common/base/xmalloc.h"
#include "common/store/store.h"
#include "verifier/metrics.h"
#include "verifier/node.h"
#include "verifier/storeq.h"
#include "verifier/vctx.h"
#include "verifier/worker.h"

/* At most this many nodes claimed per round of the manager: a takeover of thousands is
 * spread over a few rounds, LEASE_CLAIM_NEXT_MS apart, and each claim's first rounds over
 * the interval (node.c). */
#define LEASE_CLAIM_MAX     5000
#define LEASE_CLAIM_NEXT_MS 1000
/* A failed heartbeat or renewal is tried again this soon: the leases run on meanwhile. */
#define LEASE_RETRY_MS 1000
/* A round comes this long after another instance's lease runs out (the claim takes only
 * leases that ran out before its own now). */
#define LEASE_EXPIRY_MARGIN_MS 50
/* The manager looks this often for members whose process is gone (store_pool_reap, one
 * statement on a small table): their nodes are claimed within about this long of a
 * crash, not when their leases run out. Only then does a round (and its count of the
 * nodes) come early. */
#define LEASE_REAP_MS 1000

struct lease {
	struct vctx *ctx;       /* the verifier's shared context (borrowed) */
	struct store *store;    /* this thread's own connection */
	char *address;          /* shown in the pool list, or NULL */
	int64_t lease_ms;       /* verifier.lease_time */
	pthread_t thread;       /* the manager */
	int started;            /* thread running */
	pthread_mutex_t lock;   /* guards stop, with cond */
	pthread_cond_t cond;    /* wakes the thread to stop */
	int stop;               /* asked to stop */
	atomic_int under_share; /* fewer nodes held than the fair share */
	store_lease_t *held;    /* the nodes handed to workers, by uuid, with their epoch */
	size_t nheld;           /* how many */
	int64_t stalled;        /* a worker stopped ticking at (unix ms): holding nothing */
	int64_t renewed;        /* the last heartbeat and renewal (unix ms), 0: none yet */
};

static int64_t lease_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int lease_cmp(const void *a, const void *b)
{
	return strcmp(((const store_lease_t *)a)->uuid, ((const store_lease_t *)b)->uuid);
}

/* Per-worker lists of UUIDs to drop, NULL-terminated (node_cmd_drop takes them). */
typedef struct lease_drops {
	char ***lists; /* one per worker */
	size_t *n;     /* their lengths */
} lease_drops_t;

static void lease_drops_init(lease_drops_t *d, int nworkers)
{
	d->lists = xcalloc((size_t)nworkers, sizeof(*d->lists));
	d->n = xcalloc((size_t)nworkers, sizeof(*d->n));
}

static void lease_drops_add(lease_t *l, lease_drops_t *d, const char *uuid)
{
	struct worker *w = vctx_worker_for(l->ctx, uuid);
	int i = worker_id(w);

	d->lists[i] = xrealloc(d->lists[i], (d->n[i] + 2) * sizeof(char *));
	d->lists[i][d->n[i]++] = xstrdup(uuid);
	d->lists[i][d->n[i]] = NULL;
}

static void lease_run_drop(struct worker *w, void *arg)
{
	node_cmd_drop(worker_host(w), arg);
}

/* Hand the lists to the workers; with sync, wait until each has written and dropped
 * them (a release must follow the last write). */
static void lease_drops_post(lease_t *l, lease_drops_t *d, int sync)
{
	for (int i = 0; i < l->ctx->nworkers; i++) {
		if (d->lists[i] == NULL)
			continue;
		if (sync)
			worker_call(l->ctx->workers[i], lease_run_drop, d->lists[i]);
		else
			worker_post_node(l->ctx->workers[i], node_cmd_drop, d->lists[i]);
	}
	free(d->lists);
	free(d->n);
}

static void lease_load(lease_t *l, store_node_t *rec)
{
	store_node_t *copy = xcalloc(1, sizeof(*copy));

	*copy = *rec;
	memset(rec, 0, sizeof(*rec));
	worker_post_node(vctx_worker_for(l->ctx, copy->uuid), node_cmd_load, copy);
}

/* A worker that has not ticked for half a lease (at least three flush intervals) is stuck,
 * or its loop is: stuck[i] says which (for the log). Returns how many are. */
static int lease_workers_stuck(lease_t *l, int *stuck)
{
	int64_t now = prom_now_us(), limit = l->lease_ms * 1000 / 2;
	int n = 0;

	if (l->ctx->metrics == NULL)
		return 0;
	if (limit < 3 * (int64_t)l->ctx->flush_interval_ms * 1000)
		limit = 3 * (int64_t)l->ctx->flush_interval_ms * 1000;
	for (int i = 0; i < l->ctx->nworkers; i++) {
		uint64_t hb = prom_get(&vmetrics_worker(l->ctx->metrics, i)->heartbeat_us);
		stuck[i] = hb != 0 && now - (int64_t)hb > limit;
		n += stuck[i];
	}
	return n;
}

/* Renew, then compare what the store says this instance holds with what its workers were
 * given: a node lost (claimed by another instance while this one was paused, or removed)
 * is dropped; one held but never given (AddNode claimed it) is loaded. 0; 1 when some
 * leases kept their old expiry (their rows were locked: renew again soon); -1 when the
 * renewal failed (logged by the store). */
static int lease_renew(lease_t *l, int64_t now)
{
	store_lease_t *r = NULL;
	size_t nr = 0, i = 0, j = 0, lost = 0, nload = 0;
	const char **load = NULL; /* borrowed from r */
	lease_drops_t d;
	err_t e = {""};

	if (store_lease_renew(l->store, l->ctx->verifier_id, now + l->lease_ms, &r, &nr, &e) !=
	    STORE_OK)
		return -1;
	/* qsort(NULL, 0) is undefined behaviour (UBSan stops there). */
	if (nr > 0)
		qsort(r, nr, sizeof(*r), lease_cmp);
	lease_drops_init(&d, l->ctx->nworkers);
	while (i < l->nheld || j < nr) {
		int c = i == l->nheld ? 1 : j == nr ? -1 : strcmp(l->held[i].uuid, r[j].uuid);
		if (c == 0 && l->held[i].epoch == r[j].epoch) {
			i++, j++;
			continue;
		}
		if (c <= 0) { /* lost, or held again under a new epoch: drop the old one */
			lease_drops_add(l, &d, l->held[i].uuid);
			lost++;
			i++;
		}
		if (c >= 0) { /* held but not given (AddNode), or given under an old epoch */
			load = xrealloc(load, (nload + 1) * sizeof(*load));
			load[nload++] = r[j].uuid;
			j++;
		}
	}
	if (lost > 0) {
		log_warnx("pool: %zu leases of %s lost to other instances; their nodes are dropped",
		          lost, l->ctx->verifier_id);
		if (l->ctx->metrics)
			prom_add(&vmetrics_lease(l->ctx->metrics)->lost, lost);
	}
	/* The same worker gets a uuid's drop before its load (posts run in order). */
	lease_drops_post(l, &d, 0);
	for (size_t k = 0; k < nload; k++) {
		store_node_t rec;
		if (store_node_get(l->store, load[k], &rec, &e) == STORE_OK)
			lease_load(l, &rec);
	}
	free(load);
	store_leases_free(l->held, l->nheld);
	l->held = r;
	l->nheld = nr;
	for (i = 0; i < nr; i++)
		if (r[i].expiry < now + l->lease_ms)
			return 1;
	return 0;
}

static void lease_held_add(lease_t *l, const char *uuid, int64_t epoch)
{
	l->held = xrealloc(l->held, (l->nheld + 1) * sizeof(*l->held));
	l->held[l->nheld].uuid = xstrdup(uuid);
	l->held[l->nheld].expiry = 0; /* read only in what the store returns (lease_renew) */
	l->held[l->nheld++].epoch = epoch;
}

/* Members whose process is gone (their database session ended): their leases end now.
 * Returns how many were found: a round then claims their nodes at once (a hung member
 * keeps its session: its leases run out as before). */
static int64_t lease_reap(lease_t *l, int64_t now)
{
	int64_t gone = 0;
	char *desc = NULL;
	err_t e = {""};

	if (store_pool_reap(l->store, l->ctx->verifier_id, now, &gone, &desc, &e) != STORE_OK) {
		log_warnx("pool: %s", e.msg);
		return 0;
	}
	if (gone > 0)
		log_warnx("pool: %s found %lld member(s) gone, their database session ended "
		          "without leaving the pool (a crash, a kill): %s; their nodes are claimed "
		          "now",
		          l->ctx->verifier_id, (long long)gone, desc ? desc : "?");
	free(desc);
	return gone;
}

/* One round of the manager: heartbeat and renewal when a third of the lease has passed
 * since the last, then claims up to the fair share or a hand-back above it. Returns how
 * long to wait for the next round (ms): the next renewal, or sooner when something may
 * become claimable: right after the soonest lease of another instance runs out (a dead or
 * stuck owner's nodes are taken at once, not up to a third of a lease later), or soon
 * after a claim that stopped at LEASE_CLAIM_MAX with more to take. */
static int64_t lease_round(lease_t *l)
{
	int64_t now = lease_now_ms(), period = l->lease_ms / 3, wait, share, mine;
	int retry = 0;
	int *stuck = xcalloc((size_t)l->ctx->nworkers, sizeof(*stuck));
	store_pool_counts_t c;
	err_t e = {""};

	/* A stuck instance heartbeats on, marked stalled: vigilctl pool tells it from a dead
	 * one, and the others count it out of their fair shares. It only stops renewing: a
	 * stall shorter than what is left of the leases costs nothing (a busy box makes such
	 * stalls), a longer one lets them run out. The fence refuses what its workers write
	 * once another instance claimed a node, and the renewal after the stall drops the
	 * nodes lost. */
	if (lease_workers_stuck(l, stuck) > 0) {
		if (!l->stalled) {
			log_warnx("pool: a worker of %s has stopped ticking: no more lease "
			          "renewals or claims, so that other instances take its nodes over",
			          l->ctx->verifier_id);
			l->stalled = now;
			if (l->ctx->metrics)
				prom_set(&vmetrics_lease(l->ctx->metrics)->stalled, 1);
		}
		free(stuck);
		atomic_store(&l->under_share, 0);
		store_pool_heartbeat(l->store, l->ctx->verifier_id, l->address, now, l->stalled,
		                     &e);
		return period;
	}
	free(stuck);
	if (l->stalled) {
		log_info("pool: the workers of %s tick again", l->ctx->verifier_id);
		if (l->ctx->metrics)
			prom_set(&vmetrics_lease(l->ctx->metrics)->stalled, 0);
	}
	l->stalled = 0;
	if (l->renewed == 0 || now - l->renewed >= period) {
		int rv = -1;
		if (store_pool_heartbeat(l->store, l->ctx->verifier_id, l->address, now, 0, &e) !=
		        STORE_OK ||
		    (rv = lease_renew(l, now)) != 0) {
			if (rv != 1)
				return LEASE_RETRY_MS;
			retry = 1; /* claims go on; the renewal is tried again soon */
		} else {
			l->renewed = now;
		}
	}
	wait = retry ? LEASE_RETRY_MS : l->renewed + period - now;
	if (store_pool_counts(l->store, l->ctx->verifier_id, now - l->lease_ms, now, &c, &e) !=
	    STORE_OK)
		return wait;
	if (c.next_expiry > 0 && c.next_expiry - now + LEASE_EXPIRY_MARGIN_MS < wait)
		wait = c.next_expiry - now + LEASE_EXPIRY_MARGIN_MS;
	if (c.live < 1)
		c.live = 1;
	share = (c.nodes + c.live - 1) / c.live;
	mine = c.mine;
	if (mine < share) {
		store_node_t *got = NULL;
		size_t n = 0, want = (size_t)(share - mine);
		if (want > LEASE_CLAIM_MAX)
			want = LEASE_CLAIM_MAX;
		if (store_lease_claim(l->store, l->ctx->verifier_id, now, now + l->lease_ms, want,
		                      &got, &n, &e) == STORE_OK &&
		    n > 0) {
			log_info("pool: %s claimed %zu nodes (held %lld, fair share %lld of %lld "
			         "with %lld live instances)",
			         l->ctx->verifier_id, n, (long long)mine, (long long)share,
			         (long long)c.nodes, (long long)c.live);
			for (size_t i = 0; i < n; i++) {
				lease_held_add(l, got[i].uuid, got[i].lease_epoch);
				lease_load(l, &got[i]);
			}
			qsort(l->held, l->nheld, sizeof(*l->held), lease_cmp);
			mine += (int64_t)n;
			if (l->ctx->metrics)
				prom_add(&vmetrics_lease(l->ctx->metrics)->claimed, n);
			if (n == LEASE_CLAIM_MAX && mine < share && wait > LEASE_CLAIM_NEXT_MS)
				wait = LEASE_CLAIM_NEXT_MS;
		}
		store_nodes_free(got, n);
	} else if (mine > share && (size_t)mine == l->nheld) {
		/* Above the share (an instance joined): hand back half the excess per round,
		 * at least one, so the pool converges without a wave of reloads. */
		size_t k = (size_t)(mine - share + 1) / 2;
		lease_drops_t d;
		lease_drops_init(&d, l->ctx->nworkers);
		for (size_t i = 0; i < k; i++)
			lease_drops_add(l, &d, l->held[l->nheld - 1 - i].uuid);
		lease_drops_post(l, &d, 1);
		storeq_sync(l->ctx->storeq); /* their last writes are done: now release */
		for (size_t i = 0; i < k; i++) {
			store_lease_release(l->store, l->ctx->verifier_id,
			                    l->held[l->nheld - 1].uuid, &e);
			free(l->held[--l->nheld].uuid);
		}
		log_info("pool: %s handed back %zu nodes (fair share %lld of %lld with %lld live "
		         "instances)",
		         l->ctx->verifier_id, k, (long long)share, (long long)c.nodes,
		         (long long)c.live);
		mine -= (int64_t)k;
		if (l->ctx->metrics)
			prom_add(&vmetrics_lease(l->ctx->metrics)->handed, k);
	}
	if (l->ctx->metrics)
		prom_set(&vmetrics_lease(l->ctx->metrics)->held, l->nheld);
	/* AddNode's node counts in the share it would join: a lone instance takes every new
	 * node at once, as on SQLite. */
	atomic_store(&l->under_share, mine < (c.nodes + 1 + c.live - 1) / c.live);
	return wait;
}

static void *lease_main(void *arg)
{
	lease_t *l = arg;
	int64_t next_round = 0, next_reap = 0;

	thread_name_set("vigil-lease");
	pthread_mutex_lock(&l->lock);
	while (!l->stop) {
		struct timespec ts;
		int64_t now, wait;
		pthread_mutex_unlock(&l->lock);
		now = lease_now_ms();
		if (now >= next_reap) {
			next_reap = now + LEASE_REAP_MS;
			if (lease_reap(l, now) > 0)
				next_round = now;
		}
		if (now >= next_round)
			next_round = now + lease_round(l);
		wait = (next_round < next_reap ? next_round : next_reap) - lease_now_ms();
		if (wait < 0)
			wait = 0;
		pthread_mutex_lock(&l->lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)(wait / 1000);
		ts.tv_nsec += (long)(wait % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!l->stop && pthread_cond_timedwait(&l->cond, &l->lock, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

lease_t *lease_new(struct vctx *ctx, int lease_time_s, const char *address, err_t *e)
{
	lease_t *l = xcalloc(1, sizeof(*l));

	l->ctx = ctx;
	l->lease_ms = (int64_t)lease_time_s * 1000;
	l->address = address ? xstrdup(address) : NULL;
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->cond, NULL);
	if ((l->store = store_open(ctx->database, e)) == NULL) {
		lease_free(l);
		return NULL;
	}
	return l;
}

int lease_start(lease_t *l)
{
	if (pthread_create(&l->thread, NULL, lease_main, l) != 0) {
		log_warnx("pool: cannot start the lease manager's thread");
		return -1;
	}
	l->started = 1;
	return 0;
}

void lease_stop(lease_t *l)
{
	if (l == NULL || !l->started)
		return;
	pthread_mutex_lock(&l->lock);
	l->stop = 1;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
	pthread_join(l->thread, NULL);
	l->started = 0;
}

void lease_free(lease_t *l)
{
	err_t e = {""};

	if (l == NULL)
		return;
	lease_stop(l);
	if (l->store && store_pool_leave(l->store, l->ctx->verifier_id, &e) == STORE_OK)
		log_info("pool: %s released its %zu leases and left the pool", l->ctx->verifier_id,
		         l->nheld);
	store_close(l->store);
	store_leases_free(l->held, l->nheld);
	free(l->address);
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

int lease_under_share(lease_t *l)
{
	return l && atomic_load(&l->under_share);
}

int64_t lease_time_ms(const lease_t *l)
{
	return l->lease_ms;
}

/* webhook_bench: how fast verdicts reach a webhook receiver, with the verifier's own
 * delivery thread (verifier/outbox.c, linked in, not copied) and a receiver on 127.0.0.1
 * built on common/net/http_server that checks every delivery's Standard Webhooks
 * signature (common/net/webhook) and answers 204; only deliveries that verify count.
 * Each phase has a fresh SQLite store (WAL, synchronous=FULL) in DIR holding NODES nodes,
 * and commits events the way a verdict does: store_event_commit with the node's progress
 * record, the event body events_record builds and one outbox row for the receiver's URL,
 * then outbox_kick.
 *
 *   throughput: one thread commits EVENTS events, round robin over the nodes, as fast as
 *     it can while the delivery thread runs; deliveries per second from the first commit
 *     to the receiver's arrival of the last event.
 *   latency: VERDICTS verdicts, one per node, committed at RATE per second in all from 2
 *     threads, each with its own store connection as the verifier's workers have; for
 *     each event, the time from just before its commit to its arrival at the receiver.
 *
 * Prints "KEY VALUE" lines for test/bench/run.sh. Every wait has a deadline (-t seconds
 * per phase); the tool stops only its own threads and removes only the files it made.
 * Usage: webhook_bench [-d DIR] [-N NODES] [-k EVENTS] [-v VERDICTS] [-r RATE] [-t SECONDS] */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/base/buf.h"
#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/net/http.h"
#include "common/net/webhook.h"
#include "common/store/store.h"
#include "verifier/outbox.h"

int main(int argc, char **argv);

#define BENCH_COMMITTERS 2   /* verdict threads in the latency phase */
#define BENCH_TOLERANCE  300 /* seconds a delivery's timestamp may be off */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static struct timespec ms_to_ts(double ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1e3);
	ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1e3) * 1e6);
	return ts;
}

/* The receiver: its own thread and event loop. The counters are for the current phase,
 * which is named by the path its deliveries go to. */
typedef struct receiver {
	pthread_mutex_t mu;      /* guards everything below it */
	pthread_cond_t cond;     /* signalled on each new valid event */
	char path[32];           /* the current phase's path; other paths are stray */
	double *arrival;         /* per event seq: first valid arrival (ms), 0 = not yet */
	size_t cap;              /* seqs 1..cap - 1 are counted */
	size_t valid;            /* distinct events that arrived with a valid signature */
	size_t dups;             /* valid deliveries of an event seen before */
	size_t invalid;          /* refused: missing headers, bad signature, bad id */
	size_t stray;            /* deliveries to another phase's path */
	webhook_secret_t secret; /* the shared secret, as the verifier's */
	struct event_base *base; /* the receiver thread's loop */
	http_server_t *srv;      /* the server on 127.0.0.1 */
	pthread_t thread;        /* runs base */
} receiver_t;

static void rx_handle(http_request_t *req, void *arg)
{
	receiver_t *rx = arg;
	const char *id = http_request_header(req, "webhook-id");
	const char *ts = http_request_header(req, "webhook-timestamp");
	const char *sig = http_request_header(req, "webhook-signature");
	size_t len;
	const uint8_t *body = http_request_body(req, &len);
	double t = now_ms();
	long long seq = 0;
	char *end = NULL;
	err_t e = {""};
	int ok = 0;

	if (http_request_method(req) == HTTP_M_POST && id && ts && sig &&
	    webhook_verify(&rx->secret, id, ts, body, len, sig, time(NULL), BENCH_TOLERANCE, &e) ==
	        0) {
		/* An event id is "<seq>-<hash prefix>": the seq indexes the phase's tables. */
		errno = 0;
		seq = strtoll(id, &end, 10);
		ok = errno == 0 && end != id && *end == '-' && seq > 0;
	}
	pthread_mutex_lock(&rx->mu);
	if (!ok || (size_t)seq >= rx->cap)
		rx->invalid++;
	else if (strcmp(http_request_path(req), rx->path) != 0)
		rx->stray++;
	else if (rx->arrival[seq] != 0)
		rx->dups++;
	else {
		rx->arrival[seq] = t;
		rx->valid++;
		pthread_cond_broadcast(&rx->cond);
	}
	pthread_mutex_unlock(&rx->mu);
	http_reply(req, ok ? 204 : 401, NULL, NULL, 0);
}

static void *rx_main(void *arg)
{
	receiver_t *rx = arg;

	event_base_loop(rx->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

/* Count the next phase's deliveries, to path, for event seqs below cap. */
static void rx_phase(receiver_t *rx, const char *path, size_t cap)
{
	pthread_mutex_lock(&rx->mu);
	snprintf(rx->path, sizeof(rx->path), "%s", path);
	free(rx->arrival);
	rx->arrival = xcalloc(cap, sizeof(*rx->arrival));
	rx->cap = cap;
	rx->valid = rx->dups = rx->invalid = rx->stray = 0;
	pthread_mutex_unlock(&rx->mu);
}

/* Wait until want distinct events arrived, or until deadline_s seconds from now. The
 * number that arrived (want, or fewer at the deadline). */
static size_t rx_wait(receiver_t *rx, size_t want, int deadline_s)
{
	struct timespec dl;
	size_t got;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += deadline_s;
	pthread_mutex_lock(&rx->mu);
	while (rx->valid < want)
		if (pthread_cond_timedwait(&rx->cond, &rx->mu, &dl) == ETIMEDOUT)
			break;
	got = rx->valid;
	pthread_mutex_unlock(&rx->mu);
	return got;
}

/* What both phases share. */
typedef struct bench {
	const char *dir;    /* temp dir for the stores and the secret */
	char secret[300];   /* the whsec_ file */
	char db_path[300];  /* the current phase's SQLite file */
	char db_url[310];   /* "sqlite:" db_path */
	char hook_url[64];  /* the current phase's webhook URL */
	int port;           /* the receiver's port */
	int nodes;          /* node UUIDs */
	char (*uuids)[40];  /* their UUIDs */
	store_node_t *recs; /* their records, progress fields as after a failed verdict */
	receiver_t rx;      /* the receiver */
	int deadline_s;     /* longest wait per phase */
	store_t *st;        /* the phase's store (main thread's connection) */
	outbox_t *outbox;   /* the phase's delivery thread */
} bench_t;

/* The event body of a failed verdict, as events_record builds it (caller frees). */
static char *verdict_body(const store_node_t *n)
{
	return xasprintf(
	    "{\"agent_id\":\"%s\",\"context\":\"ima-ng entry 826: /usr/bin/evil is not "
	    "in the policy\",\"event_id\":\"ima.validation.ima-ng.not_in_allowlist\","
	    "\"ip\":\"%s\",\"port\":%d,\"severity_label\":\"emergency\","
	    "\"type\":\"revocation\"}",
	    n->uuid, n->ip, n->port);
}

/* One verdict of node n on connection st, as events_commit does it: the progress
 * record, the event and the outbox row in one transaction, then the delivery thread is
 * woken. *seq gets the event's sequence number. 0 or -1 (said on stderr). */
static int verdict_commit(bench_t *b, store_t *st, const store_node_t *n, int64_t *seq)
{
	const char *urls[1] = {b->hook_url};
	char *body = verdict_body(n);
	char id[40];
	err_t e = {""};
	int rv = -1;

	if (store_event_commit(st, n, n->uuid, "revocation", "emergency", body, urls, 1, id, seq,
	                       &e) != STORE_OK) {
		fprintf(stderr, "webhook_bench: event commit: %s\n", e.msg);
		goto out;
	}
	outbox_kick(b->outbox);
	rv = 0;
out:
	free(body);
	return rv;
}

static void phase_unlink(bench_t *b)
{
	char p[320];

	unlink(b->db_path);
	snprintf(p, sizeof(p), "%s-wal", b->db_path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", b->db_path);
	unlink(p);
}

/* A fresh store with the nodes, a receiver path and a delivery thread for phase name,
 * whose event seqs stay below cap. 0 or -1. */
static int phase_start(bench_t *b, const char *name, size_t cap)
{
	const char *urls[1] = {b->hook_url};
	char path[32];
	err_t e = {""};

	snprintf(b->db_path, sizeof(b->db_path), "%s/webhook-bench-%d-%s.db", b->dir, (int)getpid(),
	         name);
	snprintf(b->db_url, sizeof(b->db_url), "sqlite:%s", b->db_path);
	snprintf(path, sizeof(path), "/hook/%s", name);
	snprintf(b->hook_url, sizeof(b->hook_url), "http://127.0.0.1:%d%s", b->port, path);
	if ((b->st = store_open(b->db_url, &e)) == NULL) {
		fprintf(stderr, "webhook_bench: %s\n", e.msg);
		return -1;
	}
	for (int i = 0; i < b->nodes; i++)
		if (store_node_add(b->st, &b->recs[i], &e) != STORE_OK) {
			fprintf(stderr, "webhook_bench: adding node %d: %s\n", i, e.msg);
			return -1;
		}
	rx_phase(&b->rx, path, cap);
	outbox_conf_t oc = {
	    .database = b->db_url,
	    .urls = urls,
	    .nurls = 1,
	    .secret_file = b->secret,
	    .timeout_s = 10,
	    .max_age_ms = 3600 * 1000,
	    .backoff_max_ms = 1000,
	};
	if ((b->outbox = outbox_new(&oc, &e)) == NULL) {
		fprintf(stderr, "webhook_bench: %s\n", e.msg);
		return -1;
	}
	return outbox_start(b->outbox);
}

static void phase_stop(bench_t *b)
{
	outbox_free(b->outbox);
	b->outbox = NULL;
	store_close(b->st);
	b->st = NULL;
	phase_unlink(b);
}

static void phase_report(bench_t *b, const char *prefix)
{
	pthread_mutex_lock(&b->rx.mu);
	printf("%s_duplicates %zu\n%s_refused %zu\n%s_stray %zu\n", prefix, b->rx.dups, prefix,
	       b->rx.invalid, prefix, b->rx.stray);
	pthread_mutex_unlock(&b->rx.mu);
}

/* Throughput: events committed back to back from one thread while the delivery thread
 * sends them. 0 or -1. */
static int phase_throughput(bench_t *b, int events)
{
	double t0, t_commits, last = 0;
	int64_t seq;
	size_t got;
	int rv = -1;

	if (phase_start(b, "tput", (size_t)events + 1) < 0)
		goto out;
	t0 = now_ms();
	for (int i = 0; i < events; i++)
		if (verdict_commit(b, b->st, &b->recs[i % b->nodes], &seq) < 0)
			goto out;
	t_commits = now_ms();
	if ((got = rx_wait(&b->rx, (size_t)events, b->deadline_s)) < (size_t)events) {
		fprintf(stderr, "webhook_bench: only %zu of %d events delivered in %d s\n", got,
		        events, b->deadline_s);
		goto out;
	}
	for (int i = 1; i <= events; i++)
		if (b->rx.arrival[i] > last)
			last = b->rx.arrival[i];
	printf("throughput_events %d\n", events);
	printf("deliveries_per_s %.0f\n", events / ((last - t0) / 1e3));
	printf("commits_per_s %.0f\n", events / ((t_commits - t0) / 1e3));
	printf("throughput_seconds %.2f\n", (last - t0) / 1e3);
	phase_report(b, "throughput");
	rv = 0;
out:
	phase_stop(b);
	return rv;
}

/* One verdict thread of the latency phase: verdicts k = first, first + step, ... below
 * count, verdict k at start + k / rate seconds, for node k. */
typedef struct committer {
	bench_t *b;        /* the bench */
	int first;         /* its first verdict */
	int step;          /* BENCH_COMMITTERS */
	int count;         /* verdicts in all */
	double rate;       /* verdicts per second in all */
	double start;      /* the schedule's origin (ms, CLOCK_MONOTONIC) */
	double *commit_at; /* per event seq: just before its commit (ms) */
	double *commit_ms; /* per event seq: how long the commit took (ms) */
	size_t cap;        /* commit_at's length */
	double late_ms;    /* the latest a verdict started after its scheduled time */
	double end;        /* when its last commit returned (ms) */
	int failed;        /* a commit failed */
} committer_t;

static void *committer_main(void *arg)
{
	committer_t *c = arg;
	err_t e = {""};
	store_t *st = store_open(c->b->db_url, &e);

	if (st == NULL) {
		fprintf(stderr, "webhook_bench: %s\n", e.msg);
		c->failed = 1;
		return NULL;
	}
	for (int k = c->first; k < c->count; k += c->step) {
		double at = c->start + k * 1e3 / c->rate, t;
		struct timespec ts = ms_to_ts(at);
		int64_t seq = 0;

		/* Pacing, not synchronisation: the verdict's scheduled time. */
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		t = now_ms();
		if (t - at > c->late_ms)
			c->late_ms = t - at;
		if (verdict_commit(c->b, st, &c->b->recs[k % c->b->nodes], &seq) < 0) {
			c->failed = 1;
			break;
		}
		if (seq > 0 && (size_t)seq < c->cap) {
			c->commit_at[seq] = t;
			c->commit_ms[seq] = now_ms() - t;
		}
	}
	c->end = now_ms();
	store_close(st);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile p of the n sorted values v. */
static double percentile(const double *v, size_t n, double p)
{
	size_t r = (size_t)(p / 100.0 * (double)n + 0.999999);

	return v[r == 0 ? 0 : r - 1];
}

/* Latency: verdicts at a steady rate from BENCH_COMMITTERS threads. 0 or -1. */
static int phase_latency(bench_t *b, int verdicts, double rate)
{
	committer_t c[BENCH_COMMITTERS];
	pthread_t th[BENCH_COMMITTERS];
	size_t cap = (size_t)verdicts + 1, n = 0, got;
	double *commit_at = xcalloc(cap, sizeof(*commit_at));
	double *commit_ms = xcalloc(cap, sizeof(*commit_ms));
	double *lat = xcalloc(cap, sizeof(*lat));
	double late = 0, end = 0, start;
	int started = 0, failed = 0, rv = -1;

	if (phase_start(b, "latency", cap) < 0)
		goto out;
	/* The first verdict 100 ms from now, so both threads are ready for it. */
	start = now_ms() + 100;
	for (int i = 0; i < BENCH_COMMITTERS; i++) {
		c[i] = (committer_t){.b = b,
		                     .first = i,
		                     .step = BENCH_COMMITTERS,
		                     .count = verdicts,
		                     .rate = rate,
		                     .start = start,
		                     .commit_at = commit_at,
		                     .commit_ms = commit_ms,
		                     .cap = cap};
		if (pthread_create(&th[i], NULL, committer_main, &c[i]) != 0) {
			fprintf(stderr, "webhook_bench: cannot start a verdict thread\n");
			failed = 1;
			break;
		}
		started++;
	}
	for (int i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
		failed |= c[i].failed;
		if (c[i].late_ms > late)
			late = c[i].late_ms;
		if (c[i].end > end)
			end = c[i].end;
	}
	if (failed)
		goto out;
	if ((got = rx_wait(&b->rx, (size_t)verdicts, b->deadline_s)) < (size_t)verdicts) {
		fprintf(stderr, "webhook_bench: only %zu of %d verdicts delivered in %d s\n", got,
		        verdicts, b->deadline_s);
		goto out;
	}
	for (size_t s = 1; s < cap; s++)
		if (commit_at[s] > 0 && b->rx.arrival[s] > 0)
			lat[n++] = b->rx.arrival[s] - commit_at[s];
	if (n != (size_t)verdicts) {
		fprintf(stderr, "webhook_bench: %zu of %d verdicts have both times\n", n, verdicts);
		goto out;
	}
	qsort(lat, n, sizeof(*lat), cmp_double);
	printf("latency_verdicts %d\n", verdicts);
	printf("latency_rate_per_s %.0f\n", verdicts / ((end - start) / 1e3));
	printf("latency_max_late_ms %.2f\n", late);
	printf("latency_p50_ms %.2f\n", percentile(lat, n, 50));
	printf("latency_p99_ms %.2f\n", percentile(lat, n, 99));
	printf("latency_max_ms %.2f\n", lat[n - 1]);
	/* The commit's own share: what the disk took before the delivery thread could start. */
	qsort(commit_ms + 1, cap - 1, sizeof(*commit_ms), cmp_double);
	printf("latency_commit_p50_ms %.2f\n", percentile(commit_ms + 1, cap - 1, 50));
	printf("latency_commit_p99_ms %.2f\n", percentile(commit_ms + 1, cap - 1, 99));
	phase_report(b, "latency");
	rv = 0;
out:
	phase_stop(b);
	free(commit_at);
	free(commit_ms);
	free(lat);
	return rv;
}

/* A fresh random secret in DIR, in the whsec_ form the verifier reads. 0 or -1. */
static int secret_make(bench_t *b)
{
	uint8_t key[32];
	buf_t text = BUF_INIT;
	FILE *f = NULL;
	int rv = -1;

	snprintf(b->secret, sizeof(b->secret), "%s/webhook-bench-%d.secret", b->dir, (int)getpid());
	if (RAND_bytes(key, sizeof(key)) != 1)
		goto out;
	buf_append(&text, "whsec_", 6);
	base64_encode(&text, key, sizeof(key));
	if ((f = fopen(b->secret, "w")) == NULL || fwrite(text.data, 1, text.len, f) != text.len)
		goto out;
	rv = 0;
out:
	if (f != NULL && fclose(f) != 0)
		rv = -1;
	if (rv < 0)
		fprintf(stderr, "webhook_bench: cannot write %s\n", b->secret);
	OPENSSL_cleanse(key, sizeof(key));
	buf_free_secret(&text);
	return rv;
}

int main(int argc, char **argv)
{
	bench_t b;
	int events = 2000, verdicts = 1000, opt, rv = 1, rx_started = 0;
	double rate = 200;
	err_t e = {""};

	memset(&b, 0, sizeof(b));
	b.dir = "/tmp";
	b.nodes = 1000;
	b.deadline_s = 120;
	while ((opt = getopt(argc, argv, "d:N:k:v:r:t:")) != -1) {
		if (opt == 'd')
			b.dir = optarg;
		else if (opt == 'N')
			b.nodes = atoi(optarg);
		else if (opt == 'k')
			events = atoi(optarg);
		else if (opt == 'v')
			verdicts = atoi(optarg);
		else if (opt == 'r')
			rate = atof(optarg);
		else if (opt == 't')
			b.deadline_s = atoi(optarg);
		else {
			fprintf(stderr, "usage: webhook_bench [-d DIR] [-N NODES] [-k EVENTS] "
			                "[-v VERDICTS] [-r RATE] [-t SECONDS]\n");
			return 2;
		}
	}
	if (b.nodes < 1 || events < 1 || verdicts < 1 || rate <= 0 || b.deadline_s < 1)
		return 2;
	log_init("webhook_bench", 1, 0);
	evthread_use_pthreads();
	pthread_mutex_init(&b.rx.mu, NULL);
	pthread_cond_init(&b.rx.cond, NULL);

	b.uuids = xcalloc((size_t)b.nodes, sizeof(*b.uuids));
	b.recs = xcalloc((size_t)b.nodes, sizeof(*b.recs));
	for (int i = 0; i < b.nodes; i++) {
		store_node_t *n = &b.recs[i];
		snprintf(b.uuids[i], sizeof(b.uuids[i]), "00000000-0000-4000-8000-%012d", i);
		n->uuid = b.uuids[i];
		n->ak_tpm = (char *)"AAAA";
		n->ip = (char *)"127.0.0.1";
		n->port = 9002;
		n->operational_state = 9;
		n->last_event_id = (char *)"ima.validation.ima-ng.not_in_allowlist";
		n->failure_reason = (char *)"ima-ng entry 826: /usr/bin/evil is not in the policy";
	}
	if (secret_make(&b) < 0 || webhook_secret_load(b.secret, &b.rx.secret, &e) < 0) {
		fprintf(stderr, "webhook_bench: secret: %s\n", e.msg);
		goto out;
	}
	if ((b.rx.base = event_base_new()) == NULL ||
	    (b.rx.srv = http_server_new(b.rx.base, "127.0.0.1:0", NULL, 64 << 10, 30, rx_handle,
	                                &b.rx)) == NULL) {
		fprintf(stderr, "webhook_bench: cannot start the receiver\n");
		goto out;
	}
	b.port = http_server_port(b.rx.srv);
	if (pthread_create(&b.rx.thread, NULL, rx_main, &b.rx) != 0)
		goto out;
	rx_started = 1;
	if (phase_throughput(&b, events) < 0 || phase_latency(&b, verdicts, rate) < 0)
		goto out;
	rv = 0;
out:
	if (rx_started) {
		event_base_loopbreak(b.rx.base);
		pthread_join(b.rx.thread, NULL);
	}
	http_server_free(b.rx.srv);
	if (b.rx.base != NULL)
		event_base_free(b.rx.base);
	webhook_secret_wipe(&b.rx.secret);
	free(b.rx.arrival);
	unlink(b.secret);
	free(b.recs);
	free(b.uuids);
	return rv;
}

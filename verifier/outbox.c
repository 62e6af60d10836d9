/* outbox: the webhook delivery thread (see outbox.h). */
#include "verifier/outbox.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <jansson.h>

#include "common/base/log.h"
#include "common/base/thread.h"
#include "common/base/xmalloc.h"
#include "common/net/http.h"
#include "common/net/webhook.h"
#include "common/store/store.h"
#include "verifier/events.h"

#define OUTBOX_IDLE_MS     60000  /* look at the store at least this often */
#define OUTBOX_PRUNE_MS    600000 /* look for delivered rows to delete this often */
#define OUTBOX_PRUNE_BATCH 1000   /* rows deleted at a time (deliveries wait meanwhile) */

typedef struct outbox_target outbox_target_t;

/* One connection to one URL and the delivery it carries. State: idle (busy = 0), or
 * busy with row_id until its callback ran. */
typedef struct outbox_slot {
	outbox_target_t *t;    /* the URL it belongs to */
	http_client_t *client; /* kept-alive connection, made on first use */
	int busy;              /* a delivery is in flight */
	int64_t row_id;        /* its outbox row */
	int64_t since;         /* the row's max-age window start */
	int attempts;          /* the row's attempts before this one */
	char event_id[40];     /* for log lines */
} outbox_slot_t;

struct outbox_target {
	outbox_t *o;                       /* the outbox */
	char *url;                         /* as configured (the rows' key) */
	char *host;                        /* host name or IP literal */
	int port;                          /* port */
	char *path;                        /* path and query, starting with '/' */
	int tls;                           /* 1: https */
	outbox_slot_t slots[OUTBOX_CONNS]; /* its connections */
};

struct outbox {
	char *database;           /* store URL */
	store_t *store;           /* the thread's connection */
	webhook_secret_t secret;  /* signing key (wiped at free) */
	char *ca_file;            /* https trust anchors, or NULL */
	char *cert_file;          /* client certificate, or NULL */
	char *key_file;           /* its key */
	int timeout_s;            /* per request */
	int64_t max_age_ms;       /* dead-letter age */
	int backoff_max_ms;       /* longest retry delay */
	int64_t keep_ms;          /* delivered rows kept this long; 0: for ever */
	int64_t next_prune;       /* when to delete old delivered rows next (unix ms) */
	outbox_target_t *targets; /* one per URL */
	size_t ntargets;          /* how many */
	struct event_base *base;  /* the thread's loop */
	struct event *wake;       /* activated by outbox_kick and by finished deliveries */
	struct event *timer;      /* the next due retry */
	pthread_t thread;         /* the delivery thread */
	int started;              /* the thread runs */
	unsigned seed;            /* jitter */

	/* signs the EAR JWT of a verdict event (outbox_conf_t), or NULL */
	int (*ear)(const struct vctx *, const char *, const char *, const char *, buf_t *, err_t *);
	const struct vctx *ear_ctx; /* its argument */
};

static int64_t outbox_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Split url into its parts (caller frees host and path); NULL or why not. */
static const char *outbox_url_parse(const char *url, char **host, int *port, char **path, int *tls)
{
	const char *rest, *slash;
	char *hostport = NULL;
	const char *why = NULL;
	struct in_addr a4;

	*host = *path = NULL;
	if (strncmp(url, "https://", 8) == 0) {
		*tls = 1;
		rest = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		*tls = 0;
		rest = url + 7;
	} else {
		return "a webhook URL starts with https:// (or http:// to a loopback address)";
	}
	slash = strchr(rest, '/');
	hostport = slash ? xstrndup(rest, (size_t)(slash - rest)) : xstrdup(rest);
	if (*hostport == '\0' || strchr(hostport, '@') || strchr(hostport, '?') ||
	    strchr(hostport, '#')) {
		why =
		    "a webhook URL needs a host (no user info, query or fragment before the path)";
		goto out;
	}
	/* http_parse_hostport wants a port: add the scheme's default when there is none. */
	if (hostport[strlen(hostport) - 1] == ']' || strrchr(hostport, ':') == NULL ||
	    (hostport[0] == '[' && strstr(hostport, "]:") == NULL)) {
		char *with = xasprintf("%s:%d", hostport, *tls ? 443 : 80);
		free(hostport);
		hostport = with;
	}
	if (http_parse_hostport(hostport, host, port) < 0 || *port == 0) {
		why = "a webhook URL's host is a name or an IP address, with an optional port "
		      "1-65535";
		goto out;
	}
	*path = xstrdup(slash ? slash : "/");
	for (const char *p = *path; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '#') {
			why = "a webhook URL's path is printable ASCII without spaces or '#'";
			goto out;
		}
	if (!*tls && strcmp(*host, "localhost") != 0 && strcmp(*host, "::1") != 0 &&
	    !(inet_pton(AF_INET, *host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127))
		why = "http:// webhook URLs are allowed only to loopback (127.0.0.0/8, [::1], "
		      "localhost); use https:// elsewhere";
out:
	free(hostport);
	if (why != NULL) {
		free(*host);
		free(*path);
		*host = *path = NULL;
	}
	return why;
}

const char *outbox_url_check(const char *url)
{
	char *host, *path;
	int port, tls;
	const char *why = outbox_url_parse(url, &host, &port, &path, &tls);

	free(host);
	free(path);
	return why;
}

static void outbox_pump(outbox_t *o);

/* Wait before attempt number attempts + 1: 1 s doubling per attempt up to the cap, then a
 * random point in its upper half, so that many rows failing together do not come back
 * together. */
static int64_t outbox_backoff_ms(outbox_t *o, int attempts)
{
	int64_t d = OUTBOX_BACKOFF_MS;

	for (int i = 1; i < attempts && d < o->backoff_max_ms; i++)
		d *= 2;
	if (d > o->backoff_max_ms)
		d = o->backoff_max_ms;
	return d / 2 + (int64_t)(rand_r(&o->seed) % (unsigned)(d / 2 + 1));
}

/* A delivery's answer (or its failure), on the thread's loop. */
static void outbox_on_done(int status, const uint8_t *body, size_t len, const char *err, void *arg)
{
	outbox_slot_t *s = arg;
	outbox_t *o = s->t->o;
	int64_t now = outbox_now_ms();
	char why[300];
	err_t e = {""};

	(void)body;
	(void)len;
	s->busy = 0;
	if (status >= 200 && status <= 299) {
		if (store_outbox_delivered(o->store, s->row_id, &e) == STORE_ERROR)
			log_warnx(
			    "webhook: event %s delivered to %s but not marked (it will be sent "
			    "again): %s",
			    s->event_id, s->t->url, e.msg);
		else
			log_debug("webhook: event %s delivered to %s (HTTP %d)", s->event_id,
			          s->t->url, status);
	} else {
		if (status != 0)
			snprintf(why, sizeof(why), "HTTP %d", status);
		else
			snprintf(why, sizeof(why), "%s", err && *err ? err : "no answer");
		if (now - s->since >= o->max_age_ms) {
			if (store_outbox_dead(o->store, s->row_id, why, &e) == STORE_OK)
				log_warnx(
				    "webhook: delivery %lld of event %s to %s dead-lettered after "
				    "%d attempts (%s); 'vigilctl outbox retry %lld' sends it again",
				    (long long)s->row_id, s->event_id, s->t->url, s->attempts + 1,
				    why, (long long)s->row_id);
		} else {
			int64_t wait = outbox_backoff_ms(o, s->attempts + 1);
			if (store_outbox_failed(o->store, s->row_id, now + wait, why, &e) ==
			    STORE_OK)
				log_info(
				    "webhook: event %s to %s failed (%s), attempt %d; next in %lld "
				    "ms",
				    s->event_id, s->t->url, why, s->attempts + 1, (long long)wait);
		}
	}
	/* Look for the next row from the loop, not from inside the client's callback. */
	event_active(o->wake, EV_TIMEOUT, 0);
}

static int outbox_in_flight(const outbox_target_t *t, int64_t id)
{
	for (int i = 0; i < OUTBOX_CONNS; i++)
		if (t->slots[i].busy && t->slots[i].row_id == id)
			return 1;
	return 0;
}

/* body (taken) with the EAR JWT of the verdict row's event announces, as "ear"; body
 * itself when it announces none, or when the token cannot be made (logged). */
static char *outbox_with_ear(outbox_t *o, const store_outbox_t *row, char *body)
{
	buf_t tok = BUF_INIT;
	json_t *j = NULL;
	char *with = NULL;
	err_t e = {""};
	int rc;

	if (body == NULL || o->ear == NULL)
		return body;
	rc = o->ear(o->ear_ctx, row->event_type, row->node_uuid, row->event_body, &tok, &e);
	if (rc == 1 && (j = json_loads(body, 0, NULL)) != NULL &&
	    json_object_set_new(j, "ear",
	                        json_stringn((const char *)tok.data,
	                                     strnlen((const char *)tok.data, tok.len))) == 0)
		with = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	if (rc != 0 && with == NULL)
		log_warnx("webhook: event %s is sent without its verdict's EAR token: %s",
		          row->event_id, e.msg[0] ? e.msg : "cannot add it to the body");
	json_decref(j);
	buf_free(&tok);
	if (with == NULL)
		return body;
	free(body);
	return with;
}

/* Start the delivery of row on slot s. */
static void outbox_send(outbox_slot_t *s, const store_outbox_t *row)
{
	outbox_target_t *t = s->t;
	outbox_t *o = t->o;
	char sig[WEBHOOK_SIG_LEN], ts[32];
	char *body = outbox_with_ear(o, row, events_webhook_body(row));
	int64_t now = time(NULL);
	http_header_t h[3];

	s->row_id = row->id;
	s->since = row->since;
	s->attempts = row->attempts;
	snprintf(s->event_id, sizeof(s->event_id), "%s", row->event_id);
	if (body == NULL ||
	    webhook_sign(&o->secret, row->event_id, now, body, strlen(body), sig) < 0) {
		/* A stored event that cannot be sent never will be: give it up now. */
		err_t e = {""};
		if (store_outbox_dead(o->store, row->id, "cannot build or sign the body", &e) ==
		    STORE_OK)
			log_warnx(
			    "webhook: delivery %lld of event %s dead-lettered: cannot build or "
			    "sign its body",
			    (long long)row->id, row->event_id);
		free(body);
		return;
	}
	if (s->client == NULL) {
		tls_client_opts_t tls;
		memset(&tls, 0, sizeof(tls));
		tls.ca_file = o->ca_file;
		tls.cert_file = o->cert_file;
		tls.key_file = o->key_file;
		tls.check_hostname = 1;
		s->client =
		    http_client_new(o->base, t->host, t->port, t->tls ? &tls : NULL, o->timeout_s);
		if (s->client != NULL)
			http_client_set_max_response(s->client, 64 << 10);
	}
	snprintf(ts, sizeof(ts), "%lld", (long long)now);
	h[0] = (http_header_t){"webhook-id", row->event_id};
	h[1] = (http_header_t){"webhook-timestamp", ts};
	h[2] = (http_header_t){"webhook-signature", sig};
	s->busy = 1;
	if (s->client == NULL ||
	    http_client_request_headers(s->client, HTTP_M_POST, t->path, "application/json", h, 3,
	                                body, strlen(body), outbox_on_done, s) < 0)
		outbox_on_done(0, NULL, 0,
		               s->client ? http_client_error(s->client) : "cannot make a client",
		               s);
	free(body);
}

/* Send what is due on every URL with a free connection, then set the timer for the next
 * retry. */
/* Delete a batch of rows delivered more than keep_ms ago, at most every OUTBOX_PRUNE_MS
 * (again a second later while whole batches go). */
static void outbox_prune(outbox_t *o, int64_t now)
{
	int64_t n = 0;
	err_t e = {""};

	if (o->keep_ms == 0 || now < o->next_prune)
		return;
	o->next_prune = now + OUTBOX_PRUNE_MS;
	if (store_outbox_prune(o->store, now - o->keep_ms, OUTBOX_PRUNE_BATCH, &n, &e) !=
	    STORE_OK) {
		log_warnx("webhooks: cannot delete old delivered rows: %s", e.msg);
		return;
	}
	if (n > 0)
		log_info("webhooks: deleted %lld rows delivered more than %lld s ago", (long long)n,
		         (long long)(o->keep_ms / 1000));
	if (n == OUTBOX_PRUNE_BATCH)
		o->next_prune = now + 1000;
}

static void outbox_pump(outbox_t *o)
{
	int64_t now = outbox_now_ms(), when = 0, wait = OUTBOX_IDLE_MS;
	struct timeval tv;
	err_t e = {""};

	outbox_prune(o, now);

	for (size_t i = 0; i < o->ntargets; i++) {
		outbox_target_t *t = &o->targets[i];
		store_outbox_t *rows = NULL;
		size_t n = 0, k = 0;

		for (int j = 0; j < OUTBOX_CONNS; j++)
			if (!t->slots[j].busy)
				k++;
		if (k == 0)
			continue;
		/* In-flight rows are still due: ask for enough to find k others. */
		if (store_outbox_due(o->store, t->url, now, OUTBOX_CONNS + k, &rows, &n, &e) !=
		    STORE_OK)
			continue;
		for (size_t r = 0; r < n && k > 0; r++) {
			if (outbox_in_flight(t, rows[r].id))
				continue;
			for (int j = 0; j < OUTBOX_CONNS; j++)
				if (!t->slots[j].busy) {
					outbox_send(&t->slots[j], &rows[r]);
					k--;
					break;
				}
		}
		store_outbox_free(rows, n);
	}
	if (store_outbox_next_due(o->store, &when, &e) == STORE_OK)
		wait = when > now ? when - now : 1000; /* due now: a finished delivery wakes us */
	if (wait > OUTBOX_IDLE_MS)
		wait = OUTBOX_IDLE_MS;
	if (o->keep_ms && o->next_prune - now < wait)
		wait = o->next_prune > now ? o->next_prune - now : 1;
	tv.tv_sec = (time_t)(wait / 1000);
	tv.tv_usec = (suseconds_t)(wait % 1000) * 1000;
	evtimer_add(o->timer, &tv);
}

static void outbox_on_event(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	outbox_pump(arg);
}

outbox_t *outbox_new(const outbox_conf_t *c, err_t *e)
{
	outbox_t *o = xcalloc(1, sizeof(*o));

	if (webhook_secret_load(c->secret_file, &o->secret, e) < 0)
		goto fail;
	o->targets = xcalloc(c->nurls, sizeof(*o->targets));
	for (size_t i = 0; i < c->nurls; i++) {
		outbox_target_t *t = &o->targets[i];
		const char *why =
		    outbox_url_parse(c->urls[i], &t->host, &t->port, &t->path, &t->tls);
		if (why != NULL) {
			err_set(e, "webhook URL %s: %s", c->urls[i], why);
			goto fail;
		}
		t->o = o;
		t->url = xstrdup(c->urls[i]);
		for (int j = 0; j < OUTBOX_CONNS; j++)
			t->slots[j].t = t;
		o->ntargets++;
	}
	o->database = xstrdup(c->database);
	o->ca_file = c->ca_file && *c->ca_file ? xstrdup(c->ca_file) : NULL;
	o->cert_file = c->cert_file && *c->cert_file ? xstrdup(c->cert_file) : NULL;
	o->key_file = c->key_file && *c->key_file ? xstrdup(c->key_file) : NULL;
	o->timeout_s = c->timeout_s;
	o->max_age_ms = c->max_age_ms;
	o->keep_ms = c->keep_ms;
	o->ear = c->ear;
	o->ear_ctx = c->ear_ctx;
	o->backoff_max_ms =
	    c->backoff_max_ms < OUTBOX_BACKOFF_MS ? OUTBOX_BACKOFF_MS : c->backoff_max_ms;
	o->seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	if ((o->base = event_base_new()) == NULL) {
		err_set(e, "webhooks: cannot create an event base");
		goto fail;
	}
	o->wake = event_new(o->base, -1, 0, outbox_on_event, o);
	o->timer = evtimer_new(o->base, outbox_on_event, o);
	return o;
fail:
	outbox_free(o);
	return NULL;
}

static void *outbox_main(void *arg)
{
	outbox_t *o = arg;

	thread_name_set("vigil-outbox");
	outbox_pump(o);
	event_base_loop(o->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

int outbox_start(outbox_t *o)
{
	err_t e = {""};

	if ((o->store = store_open(o->database, &e)) == NULL) {
		log_warnx("webhooks: cannot open the store: %s", e.msg);
		return -1;
	}
	/* This connection only marks deliveries done, failed or dead: a mark lost to a power
	 * failure sends the delivery again (at least once), so it need not wait for the disk
	 * at every delivery. The events and their rows are written durably by the others. */
	store_relax_durability(o->store);
	if (pthread_create(&o->thread, NULL, outbox_main, o) != 0) {
		log_warnx("webhooks: cannot start the delivery thread");
		return -1;
	}
	o->started = 1;
	return 0;
}

void outbox_kick(void *arg)
{
	outbox_t *o = arg;

	event_active(o->wake, EV_TIMEOUT, 0);
}

void outbox_free(outbox_t *o)
{
	if (o == NULL)
		return;
	if (o->started) {
		event_base_loopbreak(o->base);
		pthread_join(o->thread, NULL);
	}
	for (size_t i = 0; i < o->ntargets; i++) {
		for (int j = 0; j < OUTBOX_CONNS; j++)
			http_client_free(o->targets[i].slots[j].client);
		free(o->targets[i].url);
		free(o->targets[i].host);
		free(o->targets[i].path);
	}
	free(o->targets);
	if (o->wake)
		event_free(o->wake);
	if (o->timer)
		event_free(o->timer);
	if (o->base)
		event_base_free(o->base);
	store_close(o->store);
	webhook_secret_wipe(&o->secret);
	free(o->database);
	free(o->ca_file);
	free(o->cert_file);
	free(o->key_file);
	free(o);
}

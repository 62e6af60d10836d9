/* outbox: the webhook delivery thread. It has its own event loop and store connection,
 * and sends what the store's outbox holds: woken when an event with deliveries was
 * committed (outbox_kick, from any thread) and by a timer when a retry falls due. Each
 * delivery is a signed POST (common/net/webhook.h) with its own timeout; a 2xx marks it
 * delivered, anything else is retried with exponential backoff and jitter (1 s doubling
 * up to webhook_backoff_max) until webhook_max_age has passed since it was queued, then it
 * is dead-lettered (logged; `vigilctl outbox retry` queues it again).
 *
 * At least once and in order per node and URL: the state is only the store, so a restart
 * or kill -9 resumes where the rows stand (a delivery that got its 2xx but was not yet
 * marked is sent again). Each URL has OUTBOX_CONNS connections: a hung receiver holds at
 * most those, each until its own timeout, and never delays another URL, a verdict or an
 * event record.
 *
 * A delivery of an event that announces a verdict (event_ear.h) carries the verdict's EAR
 * JWT as "ear" in its body, signed at each attempt (so covered by the webhook signature,
 * with iat the attempt's time); when it cannot be signed the event goes without it (logged).
 *
 * Delivered rows are deleted webhook_keep_delivered after their delivery, a bounded
 * number at a time (the events stay: they are the audit log). */
#ifndef VIGIL_VERIFIER_OUTBOX_H
#define VIGIL_VERIFIER_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/buf.h"
#include "common/base/err.h"

struct vctx;

#define OUTBOX_CONNS      4    /* concurrent deliveries per URL */
#define OUTBOX_BACKOFF_MS 1000 /* the first retry's delay; doubles per attempt */

typedef struct outbox outbox_t;

/* What the thread needs; strings are borrowed for outbox_new only. */
typedef struct outbox_conf {
	const char *database;    /* store URL (the thread opens its own connection) */
	const char *const *urls; /* webhook URLs, checked with outbox_url_check */
	size_t nurls;            /* how many (> 0) */
	const char *secret_file; /* whsec_<base64> file */
	const char *ca_file;     /* PEM trust anchors for https, NULL: the system's */
	const char *cert_file;   /* client certificate for https, or NULL */
	const char *key_file;    /* its key */
	int timeout_s;           /* per request, connect and TLS included */
	int64_t max_age_ms;      /* dead-letter a row this long after it was queued */
	int backoff_max_ms;      /* longest wait between two attempts */
	int64_t keep_ms;         /* delivered rows are deleted this long after delivery; 0:
	                          * kept for ever */
	/* The EAR JWT of the verdict an event announces (event_ear_jwt, called with ear_ctx),
	 * added to its body as "ear"; NULL: bodies without it. */
	int (*ear)(const struct vctx *ctx, const char *type, const char *node_uuid,
	           const char *body, buf_t *out, err_t *e);
	const struct vctx *ear_ctx;
} outbox_conf_t;

/* NULL when url is a webhook URL vigil sends to: https://HOST[:PORT][/PATH], or http://
 * only to a loopback address (127.0.0.0/8, [::1], localhost), since a plain-HTTP delivery
 * could be read or changed on the way. Else a static text saying why not. */
const char *outbox_url_check(const char *url);

/* Read the secret, parse the URLs, make the loop. NULL with e on error. */
outbox_t *outbox_new(const outbox_conf_t *c, err_t *e);
/* Start the thread (it opens the store and sends what is due). 0 or -1 (logged). */
int outbox_start(outbox_t *o);
/* Wake the thread to look for new rows now. Thread-safe, never blocks; arg is the
 * outbox_t (the signature of events_set_webhooks' kick). */
void outbox_kick(void *arg);
/* Stop the thread (deliveries in flight are dropped: they stay pending in the store and
 * are sent again at the next start) and free. NULL does nothing. */
void outbox_free(outbox_t *o);

#endif

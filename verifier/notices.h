/* notices: Keylime-format signed revocation notices sent to agents (docs/wire.md §6.2,
 * the "agent" channel): the verifier POSTs one signed body to /v{ver}/notifications/
 * revocation of every agent it knows, over mutual TLS with its client certificate and
 * each agent's pinned certificate, as the node rounds connect.
 *
 * Sending never blocks the caller: requests are started from the event loop a slice at a
 * time, each has its own timeout (vctx.notice_timeout_s), at most NOTICES_MAX_INFLIGHT are
 * open at once, and each outcome is logged and counted. A batch frees itself when its
 * last request has ended. */
#ifndef VIGIL_VERIFIER_NOTICES_H
#define VIGIL_VERIFIER_NOTICES_H

#include <stddef.h>

#include "common/base/buf.h"
#include "common/base/err.h"
#include "common/crypto/revnotice.h"
#include "verifier/node.h"

struct event_base;
struct vctx;
typedef struct notices_lane notices_lane_t;

#define NOTICES_SLICE        32  /* requests set up per loop turn (each makes a TLS context) */
#define NOTICES_MAX_INFLIGHT 128 /* requests open at once per batch */
#define NOTICES_MAX_ANSWER   (64 * 1024) /* an agent's answer is read up to this, then cut */
#define NOTICES_MAX_QUEUED   8 /* notices a worker keeps waiting; more are dropped, logged */

/* One agent to notify; the strings are copied by notices_send. */
typedef struct notice_target {
	const char *uuid;        /* the node's UUID, for log lines */
	const char *ip;          /* its agent's contact address */
	int port;                /* and port */
	const char *mtls_cert;   /* the agent's pinned certificate (PEM) */
	const char *api_version; /* "2.x" in use with it, or NULL: 2.1 */
} notice_target_t;

/* Called once from the loop when every request of a batch has ended. */
typedef void (*notices_done_fn)(size_t ok, size_t failed, void *arg);

/* The signed notice for f, with the verifier's revocation key (ctx->revocation_key_pem),
 * or unsigned (signature "") when there is none, as Keylime does. Replaces out. 0 or -1. */
int notices_sign(const struct vctx *ctx, const revnotice_fields_t *f, buf_t *out, err_t *e);

/* POST body (a notice, NUL-terminated; copied) to the n targets (copied) on base, whose
 * thread must run the loop; returns at once. ctx (borrowed; must outlive the batch) gives
 * the client certificate and the timeout; shared (may be NULL: a TLS context per request)
 * is the calling worker's pinned-connection context, also borrowed. done (may be NULL) is told the
 * counts. */
void notices_send(struct event_base *base, const struct vctx *ctx,
                  const struct http_tls_pinned *shared, const notice_target_t *t, size_t n,
                  const char *body, notices_done_fn done, void *arg);

/* Send body to every live node of worker h (h->nodes; not the ones being removed), from
 * the worker's own thread. Each worker sends one notice at a time, its requests started
 * at verifier.notice_rate (shared by the workers): a burst of failures in a large fleet
 * (n failures x n agents) cannot crowd out the rounds. At most NOTICES_MAX_QUEUED notices
 * wait; one beyond is dropped with a log line (notices are best effort: the event record
 * and its webhook deliveries are durable). */
void notices_fanout(node_host_t *h, const char *body);
/* Free a worker's lane and the notices in it (at worker stop; NULL does nothing). */
void notices_lane_free(notices_lane_t *l);

#endif

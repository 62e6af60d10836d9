/* grpcsrv: gRPC server on the gRPC core C API; many calls at once on one thread.
 *
 * One completion queue, one thread (grpcsrv_main) that owns every call object. A call
 * goes through these states (grpcsrv_state_t):
 *   CALL_WAIT    a grpc_server_request_call is outstanding for it: no client yet
 *   CALL_RECV    admitted; the request message is being received (receive deadline)
 *   CALL_SERVE   the request went to its handler; what the handler queues (messages, then
 *                a status) goes out one send at a time (send deadline on each)
 *   CALL_ENDING  a status was sent, or the call was refused or cancelled: waiting for
 *                gRPC to hand back every operation (send deadline, then a cancel)
 * and the object is freed (grpcsrv_call_reap) once it is ENDING, no operation is
 * outstanding and no handler holds it. Every way a call can end goes through
 * grpcsrv_call_close, which sends a status if none was sent yet and cancels otherwise.
 *
 * Other threads reach a call only through grpcsrv_call_reply/send/finish: they change the
 * fields marked "locked" under s->lock and wake the gRPC thread with an empty batch on the
 * call, which gRPC puts on the completion queue at once (grpc.h: "If a call to
 * grpc_call_start_batch with an empty batch returns GRPC_CALL_OK, the tag is put in the
 * completion queue immediately"). Every grpc_call_start_batch is made under s->lock, as
 * grpc.h asks batches on one call to be synchronized.
 *
 * Each call starts RECV_CLOSE_ON_SERVER in its own early batch, so a client that goes
 * away is seen at once (docs: grpc-core-c.md, Streaming). */
#include "common/net/grpcsrv.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/xmalloc.h"

#define GRPCSRV_WAITING 4 /* grpc_server_request_call kept outstanding */

enum { OP_NEW, OP_RECV, OP_CLOSE, OP_SEND, OP_STATUS, OP_WAKE, OP_COUNT, OP_SHUTDOWN };

typedef enum grpcsrv_state {
	CALL_WAIT,   /* request_call outstanding, no client yet */
	CALL_RECV,   /* admitted, receiving the request (receive deadline) */
	CALL_SERVE,  /* handed to the handler; its queue is being sent */
	CALL_ENDING, /* status sent, refused or cancelled; waiting for the operations */
} grpcsrv_state_t;

typedef struct grpcsrv_tag {
	int op;                 /* OP_* */
	struct grpcsrv_call *c; /* the call, NULL for the server's shutdown tag */
} grpcsrv_tag_t;

typedef struct grpcsrv_msg {
	grpc_byte_buffer *bb;     /* the message */
	struct grpcsrv_msg *next; /* queue link */
} grpcsrv_msg_t;

struct grpcsrv_call {
	struct grpcsrv *s;                /* its server */
	struct grpcsrv_call *prev, *next; /* s->calls list */
	grpcsrv_tag_t tags[OP_COUNT];     /* one tag per kind of operation */
	grpcsrv_state_t state;            /* see the top of the file */
	int nops;                         /* operations started and not yet back */
	int64_t deadline;                 /* monotonic ms when the current wait ends, 0: none */
	int admitted;                     /* counted against the caps */
	int md_sent;                      /* initial metadata started */
	int status_sent;                  /* status started */
	int cancel_sent;                  /* grpc_call_cancel done */
	int notified;                     /* on_close has run */
	grpc_call *call;                  /* owned reference */
	grpc_call_details details;        /* method and host */
	grpc_metadata_array request_md;   /* client metadata */
	grpc_byte_buffer *request;        /* received message, or NULL */
	grpc_byte_buffer *sending;        /* message in flight, or NULL */
	int cancelled;                    /* set by RECV_CLOSE_ON_SERVER */
	grpc_slice status_details;        /* text sent with the status */
	char peer[64];                    /* client IP address */
	const grpcsrv_method_t *method;   /* what was called, once known */
	void (*on_close)(void *arg);      /* handler's close callback, or NULL */
	void *on_close_arg;               /* its argument */
	/* Locked (s->lock): shared with the threads that hold the call. */
	grpcsrv_msg_t *qhead, *qtail; /* messages to send */
	int qlen;                     /* how many */
	int held;                     /* a handler holds the call */
	int wake_pending;             /* an empty batch is on its way */
	int ended;                    /* no more sends accepted */
	int finish;                   /* the handler asked for the status */
	int finish_code;              /* that status */
	char *finish_details;         /* its text (owned), or NULL */
};

struct grpcsrv {
	grpc_server *server;             /* the gRPC core server */
	grpc_completion_queue *cq;       /* its only completion queue */
	const grpcsrv_method_t *methods; /* borrowed method table */
	void *arg;                       /* borrowed handler argument */
	grpcsrv_limits_t lim;            /* bounds */
	pthread_t thread;                /* serving thread */
	int started;                     /* thread running */
	int shutting_down;               /* shutdown requested (atomic) */
	pthread_mutex_t lock;            /* guards the locked call fields and every batch */
	grpcsrv_call_t *calls;           /* every call object (gRPC thread only) */
	int ncalls;                      /* objects in the list */
	int nadmitted;                   /* admitted calls (the caps count these) */
	int nwaiting;                    /* calls in CALL_WAIT */
	int64_t last_refusal_log;        /* monotonic ms of the last refusal warning */
	grpcsrv_tag_t tag_shutdown;      /* grpc_server_shutdown_and_notify's tag */
};

void grpcsrv_limits_default(grpcsrv_limits_t *l)
{
	l->max_msg = 4u << 20;
	l->recv_timeout_ms = 10000;
	l->send_timeout_ms = 30000;
	l->max_calls = 64;
	l->max_calls_per_peer = 16;
	l->send_queue = 64;
}

static char *grpcsrv_read_pem(const char *path, err_t *e)
{
	buf_t b = BUF_INIT;

	if (buf_read_file(&b, path, 1 << 20) < 0) {
		err_set(e, "cannot read %s: %s", path, strerror(errno));
		buf_free(&b);
		return NULL;
	}
	return (char *)buf_steal(&b, NULL);
}

/* The end of a server whose core has stopped (shut down, no call left): destroy it, drain
 * and destroy its queue, and free it. */
static void grpcsrv_destroy(grpcsrv_t *s)
{
	grpc_server_destroy(s->server);
	grpc_completion_queue_shutdown(s->cq);
	while (grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
	       GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(s->cq);
	pthread_mutex_destroy(&s->lock);
	free(s);
	grpc_shutdown();
}

grpcsrv_t *grpcsrv_new(const char *listen, const grpcsrv_tls_t *tls,
                       const grpcsrv_method_t *methods, void *arg, const grpcsrv_limits_t *lim,
                       err_t *e)
{
	grpcsrv_t *s = xcalloc(1, sizeof(*s));
	grpc_server_credentials *creds = NULL;
	char *cert = NULL, *key = NULL, *ca = NULL;
	grpc_arg a[3];
	grpc_channel_args args = {.num_args = 3, .args = a};

	s->lim = *lim;
	memset(a, 0, sizeof(a));
	a[0].type = GRPC_ARG_INTEGER;
	a[0].key = (char *)(uintptr_t)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
	a[0].value.integer = (int)lim->max_msg;
	/* HTTP/2 streams per connection: past this the client queues them itself, so one
	 * connection cannot make more calls than the server serves in total. */
	a[1].type = GRPC_ARG_INTEGER;
	a[1].key = (char *)(uintptr_t)GRPC_ARG_MAX_CONCURRENT_STREAMS;
	a[1].value.integer = lim->max_calls;
	/* A connection that never finishes its TLS handshake and HTTP/2 preface is closed as
	 * soon as a call that never sends its request would be (gRPC's default: 120 s). */
	a[2].type = GRPC_ARG_INTEGER;
	a[2].key = (char *)(uintptr_t)GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS;
	a[2].value.integer = lim->recv_timeout_ms;
	grpc_init();
	pthread_mutex_init(&s->lock, NULL);
	s->methods = methods;
	s->arg = arg;
	s->tag_shutdown.op = OP_SHUTDOWN;
	s->server = grpc_server_create(&args, NULL);
	s->cq = grpc_completion_queue_create_for_next(NULL);
	grpc_server_register_completion_queue(s->server, s->cq, NULL);
	if (tls) {
		if ((cert = grpcsrv_read_pem(tls->cert_file, e)) == NULL ||
		    (key = grpcsrv_read_pem(tls->key_file, e)) == NULL ||
		    (ca = grpcsrv_read_pem(tls->client_ca_file, e)) == NULL)
			goto fail;
		grpc_ssl_pem_key_cert_pair pair = {.private_key = key, .cert_chain = cert};
		grpc_ssl_server_certificate_config *cfg =
		    grpc_ssl_server_certificate_config_create(ca, &pair, 1);
		grpc_ssl_server_credentials_options *opts =
		    grpc_ssl_server_credentials_create_options_using_config(
		        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY, cfg);
		creds = grpc_ssl_server_credentials_create_with_options(opts);
	} else {
		creds = grpc_insecure_server_credentials_create();
	}
	if (creds == NULL) {
		err_set(e, "cannot create gRPC server credentials");
		goto fail;
	}
	if (grpc_server_add_http2_port(s->server, listen, creds) == 0) {
		err_set(e, "cannot listen on %s for gRPC (address in use or invalid?)", listen);
		goto fail;
	}
	grpc_server_credentials_release(creds);
	if (key)
		xfree_secret(key, strlen(key));
	free(cert);
	free(ca);
	grpc_server_start(s->server);
	return s;
fail:
	if (creds)
		grpc_server_credentials_release(creds);
	if (key)
		xfree_secret(key, strlen(key));
	free(cert);
	free(ca);
	/* Never started: shut down and drain so core frees everything. */
	grpc_server_shutdown_and_notify(s->server, s->cq, &s->tag_shutdown);
	grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	grpcsrv_destroy(s);
	return NULL;
}

/* ---- call objects (gRPC thread) ---- */

static void grpcsrv_queue_drop_locked(grpcsrv_call_t *c)
{
	grpcsrv_msg_t *m, *next;

	for (m = c->qhead; m; m = next) {
		next = m->next;
		grpc_byte_buffer_destroy(m->bb);
		free(m);
	}
	c->qhead = c->qtail = NULL;
	c->qlen = 0;
}

/* Start a batch on c (under s->lock, as grpc.h asks) and count it. A refusal by gRPC is a
 * bug of ours; the call is cancelled so that it still ends. */
static void grpcsrv_batch(grpcsrv_call_t *c, const grpc_op *ops, size_t n, int op)
{
	grpc_call_error rc;

	pthread_mutex_lock(&c->s->lock);
	rc = grpc_call_start_batch(c->call, ops, n, &c->tags[op], NULL);
	pthread_mutex_unlock(&c->s->lock);
	if (rc == GRPC_CALL_OK) {
		c->nops++;
		return;
	}
	log_warnx("grpc: call from %s: cannot start operation %d (gRPC error %d); cancelling",
	          c->peer, op, (int)rc);
	grpc_call_cancel(c->call, NULL);
	c->cancel_sent = 1;
	c->state = CALL_ENDING;
}

static void grpcsrv_request(grpcsrv_t *s)
{
	grpcsrv_call_t *c;

	if (__atomic_load_n(&s->shutting_down, __ATOMIC_SEQ_CST))
		return;
	c = xcalloc(1, sizeof(*c));
	c->s = s;
	for (int i = 0; i < OP_COUNT; i++) {
		c->tags[i].op = i;
		c->tags[i].c = c;
	}
	c->state = CALL_WAIT;
	c->status_details = grpc_empty_slice();
	grpc_call_details_init(&c->details);
	grpc_metadata_array_init(&c->request_md);
	if (grpc_server_request_call(s->server, &c->call, &c->details, &c->request_md, s->cq, s->cq,
	                             &c->tags[OP_NEW]) != GRPC_CALL_OK)
		fatalx("grpc: cannot request a call");
	c->nops = 1;
	c->next = s->calls;
	if (s->calls)
		s->calls->prev = c;
	s->calls = c;
	s->ncalls++;
	s->nwaiting++;
}

/* Free c once nothing refers to it any more. */
static void grpcsrv_call_reap(grpcsrv_t *s, grpcsrv_call_t *c)
{
	int busy;

	if (c->state != CALL_ENDING || c->nops > 0)
		return;
	pthread_mutex_lock(&s->lock);
	busy = c->held || c->wake_pending;
	pthread_mutex_unlock(&s->lock);
	if (busy)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->ncalls--;
	if (c->admitted)
		s->nadmitted--;
	grpcsrv_queue_drop_locked(c); /* nobody else can reach c now */
	free(c->finish_details);
	if (c->call)
		grpc_call_unref(c->call);
	if (c->request)
		grpc_byte_buffer_destroy(c->request);
	if (c->sending)
		grpc_byte_buffer_destroy(c->sending);
	grpc_slice_unref(c->status_details);
	grpc_call_details_destroy(&c->details);
	grpc_metadata_array_destroy(&c->request_md);
	free(c);
}

/* The one way a call ends. With code >= 0 and no status sent yet, send that status
 * (details why) and give the client send_timeout to take it; otherwise cancel the call.
 * Either way no more messages are accepted, and a handler that holds the call hears of
 * it through its close callback. */
static void grpcsrv_call_close(grpcsrv_t *s, grpcsrv_call_t *c, int code, const char *why)
{
	pthread_mutex_lock(&s->lock);
	c->ended = 1;
	if (code >= 0 && !c->status_sent)
		grpcsrv_queue_drop_locked(c);
	/* Under the lock: a handler's finish cannot overtake it, so on_close's argument is
	 * still alive. */
	if (c->held && !c->finish && c->on_close && !c->notified) {
		c->notified = 1;
		c->on_close(c->on_close_arg);
	}
	pthread_mutex_unlock(&s->lock);
	if (code >= 0 && !c->status_sent && !c->cancel_sent) {
		grpc_op ops[2];
		size_t n = 0;
		memset(ops, 0, sizeof(ops));
		if (!c->md_sent) {
			ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
			c->md_sent = 1;
		}
		grpc_slice_unref(c->status_details);
		c->status_details = grpc_slice_from_copied_string(why ? why : "");
		ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
		ops[n].data.send_status_from_server.status = (grpc_status_code)code;
		ops[n++].data.send_status_from_server.status_details = &c->status_details;
		c->status_sent = 1;
		c->state = CALL_ENDING;
		c->deadline = clock_mono_ms() + s->lim.send_timeout_ms;
		grpcsrv_batch(c, ops, n, OP_STATUS);
	} else if (!c->cancel_sent) {
		grpc_call_cancel(c->call, NULL);
		c->cancel_sent = 1;
		c->state = CALL_ENDING;
		c->deadline = 0;
	}
}

/* "ipv4:127.0.0.1:5555" -> "127.0.0.1"; "ipv6:[::1]:5555" -> "::1". */
static void grpcsrv_peer_host(grpc_call *call, char *out, size_t outlen)
{
	char *p = grpc_call_get_peer(call), *h, *end;

	h = p ? strchr(p, ':') : NULL;
	h = h ? h + 1 : (p ? p : (char *)(uintptr_t) "");
	if (*h == '[') {
		h++;
		end = strchr(h, ']');
	} else if (strncmp(h, "%5B", 3) == 0) { /* URI-escaped brackets */
		h += 3;
		end = strstr(h, "%5D");
	} else {
		end = strrchr(h, ':');
	}
	snprintf(out, outlen, "%.*s", end ? (int)(end - h) : (int)strlen(h), h);
	gpr_free(p);
}

static int grpcsrv_peer_calls(grpcsrv_t *s, const char *peer)
{
	int n = 0;

	for (grpcsrv_call_t *c = s->calls; c; c = c->next)
		if (c->admitted && strcmp(c->peer, peer) == 0)
			n++;
	return n;
}

static void grpcsrv_on_new(grpcsrv_t *s, grpcsrv_call_t *c, int success)
{
	grpc_op ops[2];
	int refuse;

	s->nwaiting--;
	while (s->nwaiting < GRPCSRV_WAITING &&
	       !__atomic_load_n(&s->shutting_down, __ATOMIC_SEQ_CST))
		grpcsrv_request(s);
	c->state = CALL_ENDING;
	if (!success) /* shutdown: the request came back unused */
		return;
	grpcsrv_peer_host(c->call, c->peer, sizeof(c->peer));
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[0].data.recv_close_on_server.cancelled = &c->cancelled;
	grpcsrv_batch(c, ops, 1, OP_CLOSE);
	if (__atomic_load_n(&s->shutting_down, __ATOMIC_SEQ_CST)) {
		grpcsrv_call_close(s, c, GRPCSRV_UNAVAILABLE, "the server is shutting down");
		return;
	}
	if (s->nadmitted >= s->lim.max_calls)
		refuse = 1;
	else if (grpcsrv_peer_calls(s, c->peer) >= s->lim.max_calls_per_peer)
		refuse = 2;
	else
		refuse = 0;
	if (refuse) {
		int64_t now = clock_mono_ms();
		if (now - s->last_refusal_log >= 60000 || s->last_refusal_log == 0) {
			log_warnx("grpc: refusing calls from %s: %s (%d calls in progress)",
			          c->peer,
			          refuse == 1 ? "the server's limit is reached"
			                      : "too many calls from this address",
			          s->nadmitted);
			s->last_refusal_log = now;
		}
		grpcsrv_call_close(s, c, GRPCSRV_RESOURCE_EXHAUSTED,
		                   refuse == 1 ? "too many calls in progress on this server"
		                               : "too many calls in progress from this address");
		return;
	}
	c->admitted = 1;
	s->nadmitted++;
	c->state = CALL_RECV;
	c->deadline = clock_mono_ms() + s->lim.recv_timeout_ms;
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_RECV_MESSAGE;
	ops[1].data.recv_message.recv_message = &c->request;
	c->md_sent = 1;
	grpcsrv_batch(c, ops, 2, OP_RECV);
}

/* Send what the handler queued: one message at a time, then its status. */
static void grpcsrv_call_pump(grpcsrv_t *s, grpcsrv_call_t *c)
{
	grpcsrv_msg_t *m = NULL;
	int finish = 0, code = 0;
	char *details = NULL;

	if (c->state != CALL_SERVE || c->sending)
		return;
	pthread_mutex_lock(&s->lock);
	if ((m = c->qhead) != NULL) {
		c->qhead = m->next;
		if (c->qhead == NULL)
			c->qtail = NULL;
		c->qlen--;
	} else if (c->finish) {
		finish = 1;
		code = c->finish_code;
		details = c->finish_details;
		c->finish_details = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	if (m) {
		grpc_op op;
		memset(&op, 0, sizeof(op));
		op.op = GRPC_OP_SEND_MESSAGE;
		op.data.send_message.send_message = m->bb;
		c->sending = m->bb;
		free(m);
		c->deadline = clock_mono_ms() + s->lim.send_timeout_ms;
		grpcsrv_batch(c, &op, 1, OP_SEND);
	} else if (finish) {
		grpcsrv_call_close(s, c, code, details);
		free(details);
	}
}

static void grpcsrv_on_recv(grpcsrv_t *s, grpcsrv_call_t *c, int success)
{
	const grpcsrv_method_t *m;
	grpc_byte_buffer_reader reader;
	grpc_slice all;
	buf_t resp = BUF_INIT;
	err_t e = {""};
	int code;

	if (c->state != CALL_RECV) /* ended meanwhile (deadline, cancel) */
		return;
	c->deadline = 0;
	if (!success) {
		grpcsrv_call_close(s, c, -1, NULL);
		return;
	}
	for (m = s->methods; m->path; m++)
		if (grpc_slice_str_cmp(c->details.method, m->path) == 0)
			break;
	if (m->path == NULL) {
		char *name = grpc_slice_to_c_string(c->details.method);
		err_set(&e, "unknown method %s", name);
		log_debug("grpc: %s", e.msg);
		gpr_free(name);
		grpcsrv_call_close(s, c, GRPCSRV_UNIMPLEMENTED, e.msg);
		return;
	}
	c->method = m;
	if (c->request == NULL) {
		grpcsrv_call_close(s, c, GRPCSRV_INVALID_ARGUMENT, "no request message");
		return;
	}
	if (!grpc_byte_buffer_reader_init(&reader, c->request)) {
		grpcsrv_call_close(s, c, GRPCSRV_INTERNAL, "cannot read the request message");
		return;
	}
	all = grpc_byte_buffer_reader_readall(&reader);
	grpc_byte_buffer_reader_destroy(&reader);
	grpc_byte_buffer_destroy(c->request);
	c->request = NULL;
	/* The handler may hand c to another thread that answers before it returns. */
	c->state = CALL_SERVE;
	pthread_mutex_lock(&s->lock);
	c->held = 1;
	pthread_mutex_unlock(&s->lock);
	code = m->fn(s->arg, c, GRPC_SLICE_START_PTR(all), GRPC_SLICE_LENGTH(all), &resp, &e);
	grpc_slice_unref(all);
	if (code == GRPCSRV_DEFERRED) {
		log_debug("grpc: %s from %s: answered later", m->path, c->peer);
	} else {
		log_debug("grpc: %s from %s -> status %d%s%s", m->path, c->peer, code,
		          code ? ": " : "", code ? e.msg : "");
		grpcsrv_call_reply(c, code, resp.data, resp.len, e.msg);
	}
	buf_free(&resp);
	grpcsrv_call_pump(s, c);
}

static void grpcsrv_on_event(grpcsrv_t *s, grpcsrv_tag_t *tag, int success)
{
	grpcsrv_call_t *c = tag->c;

	if (tag->op != OP_WAKE) /* wakes are counted by wake_pending, not nops */
		c->nops--;
	switch (tag->op) {
	case OP_NEW:
		grpcsrv_on_new(s, c, success);
		break;
	case OP_RECV:
		grpcsrv_on_recv(s, c, success);
		break;
	case OP_CLOSE:
		/* The call is over for the client: a cancel (or shutdown) when no status was
		 * sent; otherwise the status went out. */
		if (c->state != CALL_ENDING)
			grpcsrv_call_close(s, c, -1, NULL);
		c->deadline = 0;
		break;
	case OP_SEND:
		grpc_byte_buffer_destroy(c->sending);
		c->sending = NULL;
		c->deadline = 0;
		if (!success && c->state != CALL_ENDING)
			grpcsrv_call_close(s, c, -1, NULL);
		grpcsrv_call_pump(s, c);
		break;
	case OP_STATUS:
		break;
	case OP_WAKE:
		pthread_mutex_lock(&s->lock);
		c->wake_pending = 0;
		pthread_mutex_unlock(&s->lock);
		grpcsrv_call_pump(s, c);
		break;
	}
	grpcsrv_call_reap(s, c);
}

/* End the waits that took too long; return the earliest deadline left (0: none). */
static int64_t grpcsrv_expire(grpcsrv_t *s)
{
	int64_t now = clock_mono_ms(), next = 0;
	grpcsrv_call_t *c, *n;
	char why[96];

	for (c = s->calls; c; c = n) {
		n = c->next;
		if (c->deadline == 0)
			continue;
		if (c->deadline > now) {
			if (next == 0 || c->deadline < next)
				next = c->deadline;
			continue;
		}
		c->deadline = 0;
		if (c->state == CALL_RECV) {
			log_debug("grpc: call from %s: no complete request within %d ms", c->peer,
			          s->lim.recv_timeout_ms);
			snprintf(why, sizeof(why), "no complete request within %d ms",
			         s->lim.recv_timeout_ms);
			grpcsrv_call_close(s, c, GRPCSRV_DEADLINE_EXCEEDED, why);
		} else {
			/* A send or status the client did not take in time. */
			log_debug("grpc: call from %s: reply not taken within %d ms; cancelled",
			          c->peer, s->lim.send_timeout_ms);
			c->status_sent = 1;
			grpcsrv_call_close(s, c, -1, NULL);
		}
		if (c->deadline && (next == 0 || c->deadline < next))
			next = c->deadline;
	}
	return next;
}

static void *grpcsrv_main(void *arg)
{
	grpcsrv_t *s = arg;
	int shutdown_seen = 0;

	for (int i = 0; i < GRPCSRV_WAITING; i++)
		grpcsrv_request(s);
	while (!shutdown_seen || s->ncalls > 0) {
		int64_t next = grpcsrv_expire(s);
		gpr_timespec until = gpr_inf_future(GPR_CLOCK_MONOTONIC);
		if (next) {
			int64_t wait = next - clock_mono_ms();
			until =
			    gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
			                 gpr_time_from_millis(wait > 0 ? wait : 0, GPR_TIMESPAN));
		}
		grpc_event ev = grpc_completion_queue_next(s->cq, until, NULL);
		if (ev.type == GRPC_QUEUE_TIMEOUT)
			continue;
		if (ev.type != GRPC_OP_COMPLETE)
			break;
		if (((grpcsrv_tag_t *)ev.tag)->op == OP_SHUTDOWN) {
			shutdown_seen = 1;
			continue;
		}
		grpcsrv_on_event(s, ev.tag, ev.success);
	}
	return NULL;
}

int grpcsrv_start(grpcsrv_t *s)
{
	if (pthread_create(&s->thread, NULL, grpcsrv_main, s) != 0) {
		log_warnx("grpc: cannot start the server thread");
		return -1;
	}
	s->started = 1;
	return 0;
}

void grpcsrv_free(grpcsrv_t *s)
{
	if (s == NULL)
		return;
	/* Flag first: the serving thread must not ask for new calls once shutdown began. */
	__atomic_store_n(&s->shutting_down, 1, __ATOMIC_SEQ_CST);
	grpc_server_shutdown_and_notify(s->server, s->cq, &s->tag_shutdown);
	grpc_server_cancel_all_calls(s->server);
	if (s->started)
		pthread_join(s->thread, NULL);
	else
		grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	grpcsrv_destroy(s);
}

/* ---- a taken call, from any thread ---- */

/* Have the gRPC thread look at c again. Caller holds s->lock. */
static void grpcsrv_call_wake_locked(grpcsrv_call_t *c)
{
	grpc_op none;

	memset(&none, 0, sizeof(none));
	if (c->wake_pending)
		return;
	c->wake_pending = 1;
	if (grpc_call_start_batch(c->call, &none, 0, &c->tags[OP_WAKE], NULL) != GRPC_CALL_OK)
		fatalx("grpc: cannot wake the server thread");
}

static void grpcsrv_enqueue_locked(grpcsrv_call_t *c, const uint8_t *msg, size_t len)
{
	grpcsrv_msg_t *m = xcalloc(1, sizeof(*m));
	grpc_slice sl = grpc_slice_from_copied_buffer((const char *)msg, len);

	m->bb = grpc_raw_byte_buffer_create(&sl, 1);
	grpc_slice_unref(sl);
	if (c->qtail)
		c->qtail->next = m;
	else
		c->qhead = m;
	c->qtail = m;
	c->qlen++;
}

int grpcsrv_call_send(grpcsrv_call_t *c, const uint8_t *msg, size_t len)
{
	int rv = -1;

	pthread_mutex_lock(&c->s->lock);
	if (c->ended || c->finish || c->qlen >= c->s->lim.send_queue)
		goto out;
	grpcsrv_enqueue_locked(c, msg, len);
	grpcsrv_call_wake_locked(c);
	rv = 0;
out:
	pthread_mutex_unlock(&c->s->lock);
	return rv;
}

int grpcsrv_call_room(grpcsrv_call_t *c)
{
	int room;

	pthread_mutex_lock(&c->s->lock);
	if (c->ended || c->finish)
		room = -1;
	else
		room = c->qlen < c->s->lim.send_queue ? c->s->lim.send_queue - c->qlen : 0;
	pthread_mutex_unlock(&c->s->lock);
	return room;
}

void grpcsrv_call_finish(grpcsrv_call_t *c, int code, const char *details)
{
	pthread_mutex_lock(&c->s->lock);
	c->finish = 1;
	c->finish_code = code;
	c->finish_details = xstrdup(details ? details : "");
	c->held = 0;
	grpcsrv_call_wake_locked(c);
	pthread_mutex_unlock(&c->s->lock);
}

void grpcsrv_call_reply(grpcsrv_call_t *c, int code, const uint8_t *msg, size_t len,
                        const char *details)
{
	pthread_mutex_lock(&c->s->lock);
	if (code == GRPCSRV_OK && !c->ended)
		grpcsrv_enqueue_locked(c, msg, len);
	pthread_mutex_unlock(&c->s->lock);
	grpcsrv_call_finish(c, code, details);
}

void grpcsrv_call_on_close(grpcsrv_call_t *c, void (*fn)(void *arg), void *arg)
{
	c->on_close = fn;
	c->on_close_arg = arg;
}

const char *grpcsrv_call_peer(const grpcsrv_call_t *c)
{
	return c->peer;
}

/* grpcsrv: a gRPC server on the gRPC core C API, for unary and (later) server-streaming
 * methods. It runs its own thread with one completion queue and serves many calls at
 * once: each call is an object with its own state, a receive deadline and a send
 * deadline, and a cap per client address and in total. Handlers see raw protobuf bytes;
 * the daemon unpacks them through common/net/pb.h.
 *
 * A handler runs on the gRPC thread and must not block there. It either answers at once
 * (returns a status code, the reply in resp) or takes the call (returns GRPCSRV_DEFERRED)
 * and answers later from any thread, e.g. from a worker that did the work:
 *   unary:     grpcsrv_call_reply(c, code, msg, len, details)          exactly once
 *   streaming: grpcsrv_call_send(c, msg, len) ... grpcsrv_call_finish(c, code, details)
 * Taking the call is holding a reference to it: reply/finish gives it back, and nothing
 * may touch c afterwards. Until then c stays valid even when the client went away (sends
 * then fail, and the close callback, if set, says so). */
#ifndef VIGIL_GRPCSRV_H
#define VIGIL_GRPCSRV_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/buf.h"
#include "common/base/err.h"

/* gRPC status codes used by handlers (values of grpc_status_code). */
enum {
	GRPCSRV_OK = 0,
	GRPCSRV_CANCELLED = 1,
	GRPCSRV_INVALID_ARGUMENT = 3,
	GRPCSRV_DEADLINE_EXCEEDED = 4,
	GRPCSRV_NOT_FOUND = 5,
	GRPCSRV_ALREADY_EXISTS = 6,
	GRPCSRV_PERMISSION_DENIED = 7,
	GRPCSRV_RESOURCE_EXHAUSTED = 8,
	GRPCSRV_FAILED_PRECONDITION = 9,
	GRPCSRV_UNIMPLEMENTED = 12,
	GRPCSRV_INTERNAL = 13,
	GRPCSRV_UNAVAILABLE = 14,
};

/* A handler's answer meaning "I took the call and will answer it later". */
#define GRPCSRV_DEFERRED (-1)

typedef struct grpcsrv_call grpcsrv_call_t;

/* Handle one request: req/req_len are the serialized request message (borrowed, valid
 * during the call only). Either return a status code above, with the serialized reply in
 * resp when it is GRPCSRV_OK and an operator-readable message in e otherwise (sent as the
 * status details); or return GRPCSRV_DEFERRED, keep c and answer it later (see above). */
typedef int (*grpcsrv_handler_fn)(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t req_len,
                                  buf_t *resp, err_t *e);

typedef struct grpcsrv_method {
	const char *path;      /* "/vigil.v1.Verifier/AddNode" */
	grpcsrv_handler_fn fn; /* its handler */
} grpcsrv_method_t;

typedef struct grpcsrv_tls {
	const char *cert_file;      /* PEM server certificate */
	const char *key_file;       /* PEM private key */
	const char *client_ca_file; /* PEM CA that client certificates must chain to */
} grpcsrv_tls_t;

/* Bounds on what clients may hold; grpcsrv_limits_default() fills sane values. */
typedef struct grpcsrv_limits {
	size_t max_msg;         /* largest request message, bytes */
	int recv_timeout_ms;    /* a call's whole request must arrive within this */
	int send_timeout_ms;    /* each message or status sent must be taken within this */
	int max_calls;          /* calls being served at once, in total */
	int max_calls_per_peer; /* ... from one client IP address */
	int send_queue;         /* messages a call may have queued before send refuses */
} grpcsrv_limits_t;

void grpcsrv_limits_default(grpcsrv_limits_t *l);

typedef struct grpcsrv grpcsrv_t;

/* Listen on "host:port" with mutual TLS (tls non-NULL) or plaintext (tls NULL; only for
 * tests: the caller enforces the explicit opt-in). methods ends with a NULL path and is
 * borrowed, as is arg; lim is copied. NULL on error (e says why). */
grpcsrv_t *grpcsrv_new(const char *listen, const grpcsrv_tls_t *tls,
                       const grpcsrv_method_t *methods, void *arg, const grpcsrv_limits_t *lim,
                       err_t *e);
/* Start serving in a new thread. 0 or -1. */
int grpcsrv_start(grpcsrv_t *s);
/* Stop: cancel the calls in flight, wait until every handler that took a call gave it
 * back (so the handlers' threads must still run), join the thread, free everything.
 * NULL does nothing. */
void grpcsrv_free(grpcsrv_t *s);

/* ---- A taken call (after GRPCSRV_DEFERRED). All of these are thread-safe. ---- */

/* Unary answer: msg/len (copied) is sent when code is GRPCSRV_OK, then the status with
 * details (copied, may be NULL). Gives the call back. */
void grpcsrv_call_reply(grpcsrv_call_t *c, int code, const uint8_t *msg, size_t len,
                        const char *details);
/* Streaming: queue one message (copied). 0, or -1 when the call's send queue is full
 * (lim.send_queue messages not yet taken by the client: a slow reader; drop or finish)
 * or the call has ended (client gone, deadline, shutdown). Never blocks. */
int grpcsrv_call_send(grpcsrv_call_t *c, const uint8_t *msg, size_t len);
/* Streaming: how many more messages grpcsrv_call_send would take now (the send queue's
 * free places), or -1 when the call has ended. */
int grpcsrv_call_room(grpcsrv_call_t *c);
/* Streaming: end the call with this status after the queued messages went out. Gives
 * the call back. */
void grpcsrv_call_finish(grpcsrv_call_t *c, int code, const char *details);
/* Call fn(arg) once, on the gRPC thread, when a taken call ends before the handler
 * finished it (client cancel, send deadline, shutdown), so that a stream's producer can
 * stop and finish it. Set it only inside the handler, before returning GRPCSRV_DEFERRED.
 * fn runs under the server's lock, never after grpcsrv_call_finish has returned (so arg
 * may be freed once finish returns): it must only set a flag or post a message, and never
 * call grpcsrv_call_* itself. The handler must still call grpcsrv_call_finish. */
void grpcsrv_call_on_close(grpcsrv_call_t *c, void (*fn)(void *arg), void *arg);
/* The client's IP address as text ("127.0.0.1", "::1"); borrowed, valid until the call
 * is given back. */
const char *grpcsrv_call_peer(const grpcsrv_call_t *c);

#endif

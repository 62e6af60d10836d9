/* agentsrv: the simulated agents' HTTPS server, for the load generator only. One per worker
 * thread, on that thread's event loop, with one TLS context (mutual TLS: the client
 * certificate must chain to the client CA), listening on every address of the thread's
 * nodes. It does what a verifier's kept-alive connections need and no more, as cheaply as
 * it can, so that the verifier, not the load generator, is what saturates: plain
 * nonblocking sockets and OpenSSL used directly, one read event armed for a connection's
 * whole life, a write event only while the socket is full, the request parsed where it
 * was read and the answer built in one reused buffer and written with one SSL_write.
 *
 * HTTP/1.1 with keep-alive and pipelining; a request is a request line, headers and an
 * optional Content-Length body (no chunked bodies: the verifier never sends one). A
 * request it cannot parse gets a 400 (413 when over the size limit) and the connection
 * is closed, and is counted in agentsrv_errors. Not thread-safe: the owning thread only,
 * except agentsrv_errors. */
#ifndef VIGIL_LOADGEN_AGENTSRV_H
#define VIGIL_LOADGEN_AGENTSRV_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/buf.h"
#include "common/net/http.h"

struct event_base;

typedef struct agentsrv agentsrv_t;

/* One complete request, valid for the handler's call only (all borrowed). */
typedef struct agentsrv_req {
	http_method_t method; /* GET, POST, PUT, DELETE; anything else is HTTP_M_OTHER */
	const char *path;     /* the target's path, as sent (not percent-decoded) */
	const char *query;    /* the raw query after '?', or NULL */
	const uint8_t *body;  /* Content-Length bytes (not NUL-terminated) */
	size_t body_len;      /* its length */
	int tag;              /* the tag of the address it came in on (agentsrv_listen) */
} agentsrv_req_t;

/* Answers one request: writes the JSON body into out (empty on entry, reused between
 * requests) and returns the HTTP status, or 0 to leave the request unanswered (a hung
 * agent: nothing more is read from the connection until the client closes it). */
typedef int (*agentsrv_handler_fn)(const agentsrv_req_t *r, buf_t *out, void *arg);

/* A server on base (borrowed) with a TLS context from tls (read now, not kept); bodies
 * over max_body get 413. A connection on which nothing arrives for idle_s seconds is
 * closed. NULL on error (logged). */
agentsrv_t *agentsrv_new(struct event_base *base, const tls_server_opts_t *tls, size_t max_body,
                         int idle_s, agentsrv_handler_fn fn, void *arg);
/* Closes every connection and listening socket. NULL does nothing. */
void agentsrv_free(agentsrv_t *s);
/* Listen on ip (an IPv4 literal) and port; requests that come in there carry tag. 0, or -1
 * (logged). */
int agentsrv_listen(agentsrv_t *s, const char *ip, int port, int tag);
/* At most n connections open at once (default 512): one over it is closed at once. */
void agentsrv_set_max_connections(agentsrv_t *s, unsigned n);
/* Requests refused as malformed or too large, since start. Any thread. */
unsigned long agentsrv_errors(const agentsrv_t *s);

#endif

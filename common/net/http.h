/* http: HTTP/1.1 server (libevent evhttp) and client (its own connection on a libevent
 * loop), with OpenSSL TLS (mutual TLS when asked), request size limits and timeouts on
 * every wait. TLS >= 1.2 both ways. Each
 * server and client belongs to the thread running its event_base. The first server or
 * client made sets SIGPIPE to ignored if it was at its default, and routes libevent's own
 * log messages to ours (errors as warnings, the rest at debug).
 *
 * One header for both halves, which share the method enum, the TLS options and
 * http_parse_hostport: the server is common/net/http_server.c, the client and http_fetch
 * common/net/http_client.c, and what both use inside common/net/http_common.c (http_priv.h). */
#ifndef VIGIL_HTTP_H
#define VIGIL_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/base/buf.h"
#include "common/base/err.h"

struct event_base;

typedef enum {
	HTTP_CLIENT_CERT_NONE,     /* do not ask for a client certificate */
	HTTP_CLIENT_CERT_OPTIONAL, /* ask; a presented cert must verify, absence is allowed */
	HTTP_CLIENT_CERT_REQUIRED, /* handshake fails without a verifying client cert */
} http_client_cert_t;

typedef struct tls_server_opts {
	const char *cert_file;          /* PEM certificate (chain) of the server */
	const char *key_file;           /* PEM private key */
	const char *client_ca_file;     /* PEM CA(s) that client certificates must chain to */
	http_client_cert_t client_cert; /* client certificate policy */
} tls_server_opts_t;

typedef struct tls_client_opts {
	const char *ca_file;   /* PEM trust anchors: a CA, or the peer's own (pinned) cert */
	const char *ca_pem;    /* the same, in memory (used when ca_file is NULL) */
	const char *cert_file; /* client certificate for mutual TLS, or NULL */
	const char *key_file;  /* its key */
	int check_hostname;    /* 1: the server name must match (0 for pinned agent certs) */
	const char *cert_pem;  /* client certificate in memory (used when cert_file is NULL): no
	                          file opened per client, so a verifier with many nodes reads
	                          its certificate once */
	const char *key_pem;   /* its key, in memory */
	/* Pinned mode (the verifier's agent connections): shared is a context made once by
	 * http_tls_pinned_new and lent to many clients, and pin_pem the one certificate the
	 * server must show (its DER compared byte for byte, and its validity dates checked).
	 * The fields above are then ignored: the identity is the shared context's. */
	const struct http_tls_pinned *shared;
	const char *pin_pem;
} tls_client_opts_t;

/* A client TLS context for pinned connections, holding the client identity (cert_pem and
 * key_pem of opts; nothing else of opts is used): one per thread, however many servers it
 * talks to, instead of one per client. NULL on error (e). Free it after its clients. */
typedef struct http_tls_pinned http_tls_pinned_t;
http_tls_pinned_t *http_tls_pinned_new(const tls_client_opts_t *opts, err_t *e);
void http_tls_pinned_free(http_tls_pinned_t *p); /* NULL does nothing */

typedef enum {
	HTTP_M_GET,
	HTTP_M_POST,
	HTTP_M_PUT,
	HTTP_M_DELETE,
	HTTP_M_OTHER, /* server side: HEAD, PATCH, OPTIONS (for a 405); not for the client */
} http_method_t;

/* ---- server (common/net/http_server.c) ---- */

typedef struct http_server http_server_t;
typedef struct http_request http_request_t; /* valid until the reply is sent */

/* Called once per complete request. The handler must reply exactly once, now or later
 * (the request stays valid until then). */
typedef void (*http_handler_fn)(http_request_t *req, void *arg);

/* Listen on "host:port" ("[::1]:port" for IPv6; port 0: any, see http_server_port). tls
 * NULL: plain HTTP. Bodies over max_body, or a request line plus headers over 16 KiB, get
 * 413 (evhttp's own small HTML page; libevent 2.1 has no hook to make it JSON) and the
 * connection is closed; a connection on which nothing moves for timeout_s (TLS handshake,
 * request, reply, or idle keep-alive) is closed, and so is one that has not delivered a
 * complete request 2 * timeout_s after it opened or after the previous reply (a peer
 * trickling bytes; see http_server_set_idle_timeout). The time the handler takes, and
 * the time a reply takes to go out, do not count.
 * Methods beyond GET/POST/PUT/DELETE/HEAD/PATCH/OPTIONS get 501; a malformed path or
 * query gets a 400 envelope before the handler. Rejections (TLS handshake failures with
 * the reason, 413/400/501) are logged at info with the peer, each request at debug. NULL
 * on error (logged). The options are used at once, not kept. */
http_server_t *http_server_new(struct event_base *base, const char *listen,
                               const tls_server_opts_t *tls, size_t max_body, int timeout_s,
                               http_handler_fn fn, void *arg);
/* Listen on one more "host:port" (port 0 is refused: nothing would say which port it
 * became) with the same handler, TLS context and limits; the caps count the connections
 * of every address together. One server, and one TLS context, can so serve many
 * addresses: the load generator's simulated agents, told apart by
 * http_request_local_port. 0, or -1 (logged). */
int http_server_listen(http_server_t *s, const char *listen);
/* Stops listening and closes every connection. A request handed out and not answered yet
 * stays valid for http_reply*(), which then only frees it. */
void http_server_free(http_server_t *s);
/* The bound port (what port 0 became). */
int http_server_port(const http_server_t *s);
/* Connections accepted so far (statistics, tests). */
unsigned long http_server_accepts(const http_server_t *s);
/* Caps on open connections: n in all (default 512; keep it under the process's file
 * descriptor limit), and per peer (default 16) counting only the peer's connections that
 * have not verified a client certificate in their TLS handshake (all of them for plain
 * HTTP). A peer is one IPv4 address or one IPv6 /64. A connection over a cap makes room:
 * the oldest connection without a verified client certificate that is between requests
 * (neither with the handler nor writing a reply; one never served first) of that peer,
 * or for the total cap of any peer, is closed; only when there is none is the newcomer
 * closed at once. So idle sockets or stalled handshakes cannot lock a client out of a
 * new connection, and a connection that verified a client certificate is never closed
 * for a newcomer. What the caps close is logged once per peer per minute, with counts. */
void http_server_set_max_connections(http_server_t *s, unsigned n);
void http_server_set_max_per_peer(http_server_t *s, unsigned n);
/* The deadline for a complete request, counted from when the connection opened (TLS
 * handshake included) or from the previous reply (keep-alive idle): a connection that
 * misses it is closed. Replaces the default of 2 * timeout_s. */
void http_server_set_idle_timeout(http_server_t *s, int seconds);

http_method_t http_request_method(const http_request_t *r);
/* Path without the query, percent-decoded (printable ASCII, else the request got 400);
 * borrowed. */
const char *http_request_path(const http_request_t *r);
/* Query parameter value, percent-decoded ('+' is a space), first of repeats, or NULL;
 * borrowed. */
const char *http_request_query(const http_request_t *r, const char *name);
/* Whole query string (raw) or NULL; borrowed. */
const char *http_request_query_string(const http_request_t *r);
/* Request body, len bytes followed by a NUL (data[len] == 0) for text parsers; never NULL;
 * borrowed. */
const uint8_t *http_request_body(const http_request_t *r, size_t *len);
/* Request header value or NULL (first one, name case-insensitive); borrowed. */
const char *http_request_header(const http_request_t *r, const char *name);
/* 1 when the peer presented a client certificate that verified against client_ca_file. */
int http_request_has_client_cert(const http_request_t *r);
/* "ip:port" or "[v6]:port" of the peer; borrowed. */
const char *http_request_peer(const http_request_t *r);
/* Our port the request's connection came in on (which of the server's addresses it
 * reached); 0 when unknown. */
int http_request_local_port(const http_request_t *r);

/* Each reply ends the request: r is freed (also when the client is gone). */
void http_reply(http_request_t *r, int code, const char *content_type, const void *body,
                size_t len);
/* Reply with a JSON document (compact); takes the reference to j (NULL sends null). */
void http_reply_json(http_request_t *r, int code, json_t *j);
/* Keylime envelope {"code": code, "status": status, "results": results}; takes results
 * (NULL means {}). */
void http_reply_envelope(http_request_t *r, int code, const char *status, json_t *results);

/* ---- client (common/net/http_client.c) ---- */

/* One persistent (keep-alive) connection to one server, reconnected when needed. An idle
 * connection stays open until the server closes it. */
typedef struct http_client http_client_t;

/* status: HTTP status, or 0 when no response came (connection, TLS or timeout error;
 * err says which). body is borrowed for the duration of the call. */
typedef void (*http_response_fn)(int status, const uint8_t *body, size_t len, const char *err,
                                 void *arg);

/* An event loop for a thread that keeps many connections alive (the verifier's workers):
 * on epoll, changes to a socket's events are applied once per loop turn, so an event
 * removed and added again within a turn costs no system call. (A client's kept-alive
 * connection keeps its read event armed and changes none per request anyway.) Safe
 * because no socket is dup()ed. NULL on failure. */
struct event_base *http_event_base_new(void);

/* host: name or IP literal (SNI and the hostname check use it; no SNI for IP literals).
 * tls NULL: plain HTTP. Trust anchors: ca_file, else ca_pem, else the system store; the
 * given certificates are anchors even when not self-signed roots (partial chains), so a
 * pinned peer certificate works. TLS >= 1.2; the session is resumed on reconnect. The
 * SSL_CTX is made here, once; the options are not kept. timeout_s bounds each request,
 * connect and handshake included. NULL on error (logged). Names are resolved with a
 * blocking getaddrinfo on each (re)connect: use IP literals on hot paths. */
http_client_t *http_client_new(struct event_base *base, const char *host, int port,
                               const tls_client_opts_t *tls, int timeout_s);
/* Closes the connection; a request in flight is dropped and its cb never runs. Safe from
 * inside the callback. */
void http_client_free(http_client_t *c);
/* Deadlines shorter than the whole request's timeout_s, in milliseconds (0: none, the
 * default): connect_ms to connect (TCP and TLS) and send the request, answer_ms from the
 * request sent to the first byte of the answer. A request past one fails with status 0 and
 * err saying which ("cannot connect: timed out ..." or "slow answer: ..."), so a peer that
 * hangs is reported long before timeout_s. */
void http_client_set_phase_timeouts(http_client_t *c, int connect_ms, int answer_ms);
/* A memory budget shared by clients on one thread: the bytes of answers arriving at once.
 * A client whose answer pushes the total over max fails that request (status 0, err says
 * so) and gives its bytes back, so many large answers together cannot take unbounded
 * memory and the others go on. An answer's bytes count from the first byte until it is
 * handed to the callback. */
typedef struct http_budget http_budget_t;
http_budget_t *http_budget_new(size_t max);
void http_budget_free(http_budget_t *b); /* after every client using it; NULL ok */
size_t http_budget_used(const http_budget_t *b);
void http_client_set_budget(http_client_t *c, http_budget_t *b);
/* Why http_client_request() returned -1 (borrowed, until the next request). */
const char *http_client_error(const http_client_t *c);
/* 1 when the last request failed because the server's certificate did not verify against
 * the trust anchors (for a pinned peer: it shows another certificate). */
int http_client_cert_rejected(const http_client_t *c);
/* Response body limit (default 32 MiB); over it the request fails with status 0. */
void http_client_set_max_response(http_client_t *c, size_t max);
/* Start a request; cb runs exactly once, always from the event loop (never from inside
 * this call), so it may start the next request or free the client. One request at a time
 * per client. The connection is kept alive and reused; when the server closed a kept-alive
 * connection under us before any response byte, GET/PUT/DELETE are resent once on a new
 * one (POST is not). path_query: printable ASCII starting with '/', no spaces; body is
 * copied; Content-Length is sent for any body and for POST/PUT. 0, or -1 when it could not
 * start (busy, bad arguments, HTTP_M_OTHER; cb not called). */
int http_client_request(http_client_t *c, http_method_t m, const char *path_query,
                        const char *content_type, const void *body, size_t len, http_response_fn cb,
                        void *arg);
/* One extra request header (both strings borrowed for the call). */
typedef struct http_header {
	const char *name;  /* a token: printable ASCII, no spaces or ':' */
	const char *value; /* printable ASCII (spaces allowed) */
} http_header_t;
/* http_client_request with extra headers (copied; sent on a resend too). -1 also when a
 * name or value is not acceptable. */
int http_client_request_headers(http_client_t *c, http_method_t m, const char *path_query,
                                const char *content_type, const http_header_t *headers,
                                size_t nheaders, const void *body, size_t len, http_response_fn cb,
                                void *arg);

/* Check a client certificate (chain) and key given in memory, as cert_pem/key_pem of
 * tls_client_opts_t: both parse and the key matches. 0, or -1 with e. */
int http_client_identity_check(const char *cert_pem, const char *key_pem, err_t *e);

/* Blocking convenience on a private event base: one request, whole response in resp
 * (replaced; may be NULL). Returns the HTTP status, or 0 when there was no response (e says
 * why). */
int http_fetch(const char *host, int port, const tls_client_opts_t *tls, int timeout_s,
               http_method_t m, const char *path_query, const char *content_type, const void *body,
               size_t len, buf_t *resp, err_t *e);

/* ---- shared (common/net/http_common.c) ---- */

/* Split "host:port" / "[v6]:port" into host (caller frees) and port (0..65535). Hosts are
 * names of [A-Za-z0-9._-] or bracketed IPv6 literals. 0 or -1 (*host NULL). */
int http_parse_hostport(const char *s, char **host, int *port);

#endif

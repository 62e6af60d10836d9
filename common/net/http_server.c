/* http_server: the HTTP/1.1 server of common/net/http.h, on libevent 2.1 evhttp with OpenSSL 3
 * for TLS.
 *
 * evhttp owns parsing, limits (headers, body, idle timeout) and keep-alive. Our
 * bufferevent callback makes a plain socket or an OpenSSL bufferevent per connection, so
 * TLS and client certificates are decided in the handshake, before evhttp sees a byte.
 * Two things evhttp does not tell us are logged through side doors: TLS failures through
 * the SSL info callback, and the error replies evhttp writes on its own (413 for a body or
 * headers over the limit, 400 for garbage) through a callback on the output buffer.
 *
 * The shared set-up, socket helpers and token check are in common/net/http_common.c. */
#include "common/net/http.h"
#include "common/net/http_priv.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"

#define HTTP_MAX_HEADERS  16384        /* request line + headers a server accepts */
#define HTTP_PEER_LEN     64           /* "[v6 address]:port" */
#define HTTP_SID_CTX      "vigil-http" /* session id context (resumption with mTLS) */
#define HTTP_MAX_CONNS    512          /* default cap on a server's open connections */
#define HTTP_MAX_PER_PEER 16           /* default cap on one peer's untrusted connections */
#define HTTP_LOG_INTERVAL 60           /* seconds between two summaries about one peer */
#define HTTP_PEER_KEY     9            /* family byte + IPv4 address or IPv6 /64 */
#define HTTP_ALLOWED_METHODS                                                                       \
	(EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD | \
	 EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS)

/* Set while one of our replies is being written, so that the output-buffer watcher only
 * reports the replies evhttp makes up on its own. Thread-local: one loop per thread. */
static _Thread_local int http_replying;

/* What the TLS info callback of a server connection remembers; freed with the SSL. */
struct server_tls_conn {
	char peer[HTTP_PEER_LEN]; /* "ip:port", taken while the socket surely has a peer */
	int logged;               /* the handshake failure was reported */
};

struct server_conn;
struct server_peer;

struct http_server {
	struct event_base *base;        /* borrowed loop */
	struct evhttp *http;            /* libevent server: parsing, limits, keep-alive */
	SSL_CTX *ctx;                   /* NULL for plain HTTP */
	http_client_cert_t client_cert; /* client certificate policy (TLS only) */
	size_t max_body;                /* request body limit, for log lines */
	int port;                       /* bound port (useful when asked for 0) */
	unsigned long accepts;          /* connections accepted so far */
	http_handler_fn fn;             /* the daemon's request handler */
	void *arg;                      /* its argument */
	struct http_request *pending;   /* requests handed out and not answered yet */
	struct server_conn *unattached; /* connections accepted, not yet attached */
	struct server_conn **conns;     /* attached connections by socket fd */
	size_t conns_len;               /* entries in conns */
	TAILQ_HEAD(, server_conn) all;  /* attached connections, oldest first */
	LIST_HEAD(, server_peer) peers; /* peers with at least one attached connection */
	unsigned nconns;                /* attached connections open */
	unsigned max_conns;             /* cap on all connections */
	unsigned max_per_peer;          /* cap on one peer's untrusted connections */
	int deadline_s;                 /* a request must be complete this long after the
	                                   connection opened or the previous reply */
};

/* What a connection is doing, as far as the caps and the deadline care. */
typedef enum {
	CONN_ATTACHING, /* accepted; evhttp has not made its connection object yet */
	CONN_WAITING,   /* no complete request since it opened or since the last reply: the
	                   deadline runs (a TLS handshake, a request arriving, keep-alive) */
	CONN_BUSY,      /* a complete request is with the handler: no deadline, never evicted */
} server_conn_state_t;

/* Our record of one server connection, for what evhttp 2.1 cannot do: caps on open
 * connections, in total and per peer, and a deadline for a whole request (its idle
 * timeout restarts with every byte, so a peer trickling bytes would keep a connection
 * forever).
 *
 * evhttp makes the connection object only after our bufferevent callback returns, so the
 * record is attached from an event activated there: it runs in the same loop pass, before
 * the loop polls the new socket, so the connection cannot be gone by then. From then on,
 * evhttp's close callback tells us when the connection is freed.
 *
 * A connection is trusted once its TLS handshake verified a client certificate. The
 * per-peer cap counts only untrusted connections, and a connection over a cap makes room
 * by closing the peer's (or, for the total cap, anyone's) oldest untrusted connection
 * that is not serving a request: so idle sockets, or handshakes that never finish, from
 * the address a verifier also uses cannot keep the verifier out, and never close a
 * verifier's connection once its handshake is done. */
struct server_conn {
	http_server_t *s;                   /* owning server */
	struct bufferevent *bev;            /* the connection's bufferevent (evhttp owns it) */
	struct evhttp_connection *evcon;    /* evhttp's connection, once attached */
	struct event *timer;                /* first the attach event, then the deadline */
	int fd;                             /* socket: index into s->conns */
	server_conn_state_t state;          /* see above */
	int served;                         /* a reply was sent on it */
	struct server_peer *peer;           /* where it comes from, once attached */
	struct server_conn *prev;           /* unattached list links */
	struct server_conn *next;           /* unattached list links */
	TAILQ_ENTRY(server_conn) all_link;  /* s->all, once attached */
	TAILQ_ENTRY(server_conn) peer_link; /* peer->conns, once attached */
};

/* The attached connections from one address (IPv6: one /64, what one host is usually
 * given), for the per-peer cap and to log what was closed once per interval rather than
 * once per socket. */
struct server_peer {
	unsigned char key[HTTP_PEER_KEY]; /* family byte, then the address or the /64 */
	char name[INET6_ADDRSTRLEN + 4];  /* the address, for log lines */
	TAILQ_HEAD(, server_conn) conns;  /* its attached connections, oldest first */
	unsigned nconns;                  /* entries in conns */
	int logged;                       /* a summary was logged at logged_at */
	time_t logged_at;                 /* when (monotonic seconds) */
	unsigned evicted;                 /* closed to make room, not logged yet */
	unsigned refused;                 /* closed at once (no room), not logged yet */
	unsigned expired;                 /* closed by the deadline, not logged yet */
	LIST_ENTRY(server_peer) link;     /* s->peers */
};

struct http_request {
	http_server_t *s;           /* owning server; NULL once it was freed */
	struct server_conn *conn;   /* its connection record, or NULL */
	struct evhttp_request *req; /* libevent's request; NULL once the server was freed */
	struct http_request *prev;  /* pending list links */
	struct http_request *next;  /* pending list links */
	http_method_t method;       /* request method */
	const char *method_name;    /* method as text, for log lines */
	char *path;                 /* percent-decoded path; owned */
	const char *query_raw;      /* raw query or NULL; borrowed from req */
	struct evkeyvalq query;     /* decoded query parameters */
	const uint8_t *body;        /* request body, NUL-terminated; borrowed from req */
	size_t body_len;            /* its length */
	char peer[HTTP_PEER_LEN];   /* "ip:port" of the client */
	int has_cert;               /* 1: a verified client certificate was presented */
	int local_port;             /* our port the connection came in on, 0 if unknown */
};

/* Logs the one line for a failed TLS handshake on the server side. Called by OpenSSL for
 * state changes; a handshake function returning in the error state means the handshake
 * is over (our verify failure, the peer's fatal alert, not TLS at all...). */
static void server_tls_info_cb(const SSL *ssl, int where, int ret)
{
	struct server_tls_conn *tc = SSL_get_ex_data(ssl, http_ssl_idx_server);
	char reason[256] = "unknown error";
	const char *peer;
	unsigned long code;
	long vr;

	(void)ret;
	if (tc == NULL)
		return;
	if ((where & SSL_CB_HANDSHAKE_START) && tc->peer[0] == '\0') {
		/* Now, not at failure time: a peer that aborts may have reset the socket. */
		http_fd_peer(SSL_get_fd(ssl), tc->peer, sizeof(tc->peer));
		http_fd_nodelay(SSL_get_fd(ssl));
	}
	if (!(where & SSL_CB_EXIT) || strcmp(SSL_state_string_long(ssl), "error") != 0)
		return;
	if (tc->logged)
		return;
	tc->logged = 1;
	peer = tc->peer[0] ? tc->peer : "?";
	/* Peek, do not drain: bufferevent_openssl collects the queue after we return. */
	if ((code = ERR_peek_last_error()) != 0)
		ERR_error_string_n(code, reason, sizeof(reason));
	vr = SSL_get_verify_result(ssl);
	if (vr != X509_V_OK) {
		log_info("http: TLS handshake with %s failed: client certificate rejected: %s",
		         peer, X509_verify_cert_error_string(vr));
		return;
	}
	if (ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING &&
	    SSL_get_state(ssl) == TLS_ST_BEFORE) {
		log_debug("http: %s closed the connection before the TLS handshake", peer);
		return;
	}
	log_info("http: TLS handshake with %s failed: %s", peer, reason);
}

/* Watches what is written to a server connection. Our replies are written with
 * http_replying set; any other status line is one evhttp made up (413, 400, 501, 417):
 * the request was rejected before it reached the handler, so log it here. */
static void server_output_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct bufferevent *bev = arg;
	struct evbuffer_ptr pos;
	char head[16] = "", peer[HTTP_PEER_LEN];
	const char *why;
	int code;

	if (http_replying || info->n_added < 12)
		return;
	if (evbuffer_ptr_set(buf, &pos, info->orig_size, EVBUFFER_PTR_SET) != 0)
		return;
	if (evbuffer_copyout_from(buf, &pos, head, 12) != 12)
		return;
	if (memcmp(head, "HTTP/1.", 7) != 0 || head[8] != ' ')
		return;
	code = atoi(head + 9);
	if (code < 400)
		return; /* 100 Continue */
	switch (code) {
	case 413:
		why = "request too large (body or headers over the limit)";
		break;
	case 400:
		why = "malformed request";
		break;
	case 501:
		why = "method not supported";
		break;
	case 417:
		why = "unsupported Expect header";
		break;
	default:
		why = "rejected by the HTTP parser";
		break;
	}
	http_fd_peer(bufferevent_getfd(bev), peer, sizeof(peer));
	log_info("http: rejected a request from %s: %d, %s", peer, code, why);
}

/* Our port of a connected or listening socket, 0 when unknown. */
static int http_fd_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

static void server_conn_unlink(struct server_conn *sc)
{
	if (sc->prev)
		sc->prev->next = sc->next;
	else if (sc->s->unattached == sc)
		sc->s->unattached = sc->next;
	if (sc->next)
		sc->next->prev = sc->prev;
	sc->prev = sc->next = NULL;
}

static void server_conn_free(struct server_conn *sc)
{
	event_free(sc->timer);
	free(sc);
}

static time_t http_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* The peer key of a socket address: IPv4 (also IPv4-mapped IPv6) by address, IPv6 by its
 * /64. 0, or -1 for other families. */
static int peer_key(const struct sockaddr_storage *ss, unsigned char key[HTTP_PEER_KEY], char *name,
                    size_t n)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)ss;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)ss;
	struct in6_addr net;

	memset(key, 0, HTTP_PEER_KEY);
	if (ss->ss_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &in->sin_addr, 4);
		inet_ntop(AF_INET, &in->sin_addr, name, (socklen_t)n);
	} else if (ss->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
		key[0] = 4;
		memcpy(key + 1, in6->sin6_addr.s6_addr + 12, 4);
		inet_ntop(AF_INET, key + 1, name, (socklen_t)n);
	} else if (ss->ss_family == AF_INET6) {
		key[0] = 6;
		memcpy(key + 1, in6->sin6_addr.s6_addr, 8);
		memset(&net, 0, sizeof(net));
		memcpy(net.s6_addr, in6->sin6_addr.s6_addr, 8);
		inet_ntop(AF_INET6, &net, name, (socklen_t)n);
		if (strlen(name) + 4 <= n)
			strcat(name, "/64");
	} else {
		return -1;
	}
	return 0;
}

/* The record of the peer fd comes from, made when it is new; NULL when the socket has no
 * IP peer (it is then under the total cap only). */
static struct server_peer *server_peer_get(http_server_t *s, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	unsigned char key[HTTP_PEER_KEY];
	char name[INET6_ADDRSTRLEN + 4];
	struct server_peer *p;

	if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0 ||
	    peer_key(&ss, key, name, sizeof(name)) != 0)
		return NULL;
	for (p = LIST_FIRST(&s->peers); p != NULL; p = LIST_NEXT(p, link))
		if (memcmp(p->key, key, sizeof(key)) == 0)
			return p;
	p = xcalloc(1, sizeof(*p));
	memcpy(p->key, key, sizeof(key));
	snprintf(p->name, sizeof(p->name), "%s", name);
	TAILQ_INIT(&p->conns);
	LIST_INSERT_HEAD(&s->peers, p, link);
	return p;
}

/* Log what was closed for p since the last summary, and start a new interval. */
static void server_peer_log(http_server_t *s, struct server_peer *p)
{
	if (p->evicted > 0)
		log_info("http: closed %u idle connection(s) from %s to make room: over %u "
		         "connections without a verified client certificate or a request in "
		         "progress (per-peer cap), or over %u in all",
		         p->evicted, p->name, s->max_per_peer, s->max_conns);
	if (p->refused > 0)
		log_info("http: refused %u connection(s) from %s: the connection cap is reached "
		         "and no open connection may be closed for it",
		         p->refused, p->name);
	if (p->expired > 0)
		log_info("http: closed %u connection(s) from %s: no complete request within %d s",
		         p->expired, p->name, s->deadline_s);
	p->evicted = p->refused = p->expired = 0;
	p->logged = 1;
	p->logged_at = http_now();
}

/* Count one closed connection (*counter of p) and log at most one summary per peer per
 * HTTP_LOG_INTERVAL: the first at once, the rest with the next one (or when the peer's
 * last connection goes). */
static void server_peer_note(http_server_t *s, struct server_peer *p, unsigned *counter)
{
	(*counter)++;
	if (!p->logged || http_now() - p->logged_at >= HTTP_LOG_INTERVAL)
		server_peer_log(s, p);
}

/* evhttp is freeing the connection (any reason): forget it. */
static void server_conn_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct server_conn *sc = arg;
	http_server_t *s = sc->s;
	struct server_peer *p = sc->peer;
	http_request_t *r;

	(void)evcon;
	if (sc->fd >= 0 && (size_t)sc->fd < s->conns_len && s->conns[sc->fd] == sc)
		s->conns[sc->fd] = NULL;
	/* A request whose client went away stays with the handler; it must not reach a
	 * record that is gone. */
	for (r = s->pending; r != NULL; r = r->next)
		if (r->conn == sc)
			r->conn = NULL;
	TAILQ_REMOVE(&s->all, sc, all_link);
	if (p != NULL) {
		TAILQ_REMOVE(&p->conns, sc, peer_link);
		if (--p->nconns == 0) {
			if (p->evicted + p->refused + p->expired > 0)
				server_peer_log(s, p);
			LIST_REMOVE(p, link);
			free(p);
		}
	}
	s->nconns--;
	server_conn_free(sc);
}

static void server_conn_arm(struct server_conn *sc)
{
	struct timeval tv = {sc->s->deadline_s, 0};

	evtimer_add(sc->timer, &tv);
}

/* A reply is still on its way out. */
static int server_conn_is_writing(const struct server_conn *sc)
{
	return evbuffer_get_length(bufferevent_get_output(sc->bev)) > 0;
}

/* The TLS handshake is done and verified a client certificate. */
static int server_conn_is_trusted(const struct server_conn *sc)
{
	SSL *ssl;

	if (sc->s->ctx == NULL || (ssl = bufferevent_openssl_get_ssl(sc->bev)) == NULL)
		return 0;
	return SSL_is_init_finished(ssl) && SSL_get0_peer_certificate(ssl) != NULL &&
	       SSL_get_verify_result(ssl) == X509_V_OK;
}

/* The connection a cap may close for a newcomer: untrusted, not with the handler, not
 * writing a reply; one that was never served first, then the oldest. NULL when none. */
static struct server_conn *server_pick_victim(http_server_t *s, struct server_peer *p,
                                              const struct server_conn *newcomer)
{
	struct server_conn *sc, *served = NULL;

	for (sc = p ? TAILQ_FIRST(&p->conns) : TAILQ_FIRST(&s->all); sc != NULL;
	     sc = p ? TAILQ_NEXT(sc, peer_link) : TAILQ_NEXT(sc, all_link)) {
		if (sc == newcomer || sc->state != CONN_WAITING || server_conn_is_writing(sc) ||
		    server_conn_is_trusted(sc))
			continue;
		if (!sc->served)
			return sc;
		if (served == NULL)
			served = sc;
	}
	return served;
}

/* sc is over a cap: close a victim for it, or sc itself when there is none. 0 when sc
 * stays open. */
static int server_make_room(http_server_t *s, struct server_conn *sc, struct server_peer *p)
{
	struct server_conn *victim = server_pick_victim(s, p, sc);

	if (victim != NULL) {
		if (victim->peer != NULL)
			server_peer_note(s, victim->peer, &victim->peer->evicted);
		evhttp_connection_free(victim->evcon);
		return 0;
	}
	if (sc->peer != NULL)
		server_peer_note(s, sc->peer, &sc->peer->refused);
	evhttp_connection_free(sc->evcon);
	return -1;
}

static unsigned server_peer_untrusted(const struct server_peer *p)
{
	const struct server_conn *sc;
	unsigned n = 0;

	for (sc = TAILQ_FIRST(&p->conns); sc != NULL; sc = TAILQ_NEXT(sc, peer_link))
		n += !server_conn_is_trusted(sc);
	return n;
}

/* First run: attach the record to evhttp's connection and apply the caps. Later runs: the
 * request deadline passed. Freeing the connection calls server_conn_close_cb, which frees
 * sc (and this event: libevent allows that from the event's own callback). */
static void server_conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server_conn *sc = arg;
	http_server_t *s = sc->s;
	char peer[HTTP_PEER_LEN];
	void *cbarg = NULL;

	(void)fd;
	(void)what;
	if (sc->evcon != NULL) {
		/* A reply still going out is watched by evhttp's own timeout (nothing moves
		 * for timeout_s); the deadline is for receiving. */
		if (server_conn_is_writing(sc)) {
			server_conn_arm(sc);
			return;
		}
		http_fd_peer(sc->fd, peer, sizeof(peer));
		log_debug("http: closing the connection from %s: no complete request within %d s",
		          peer, s->deadline_s);
		/* An idle kept-alive connection closing is normal; one that never delivered a
		 * request is worth a line. */
		if (sc->peer != NULL && !sc->served)
			server_peer_note(s, sc->peer, &sc->peer->expired);
		evhttp_connection_free(sc->evcon);
		return;
	}
	server_conn_unlink(sc);
	bufferevent_getcb(sc->bev, NULL, NULL, NULL, &cbarg);
	sc->fd = bufferevent_getfd(sc->bev);
	if (cbarg == NULL || sc->fd < 0) { /* not an evhttp connection after all */
		server_conn_free(sc);
		return;
	}
	sc->evcon = cbarg;
	if ((size_t)sc->fd >= s->conns_len) {
		size_t n = (size_t)sc->fd + 64;
		s->conns = xrealloc(s->conns, n * sizeof(*s->conns));
		memset(s->conns + s->conns_len, 0, (n - s->conns_len) * sizeof(*s->conns));
		s->conns_len = n;
	}
	s->conns[sc->fd] = sc;
	s->nconns++;
	sc->state = CONN_WAITING;
	TAILQ_INSERT_TAIL(&s->all, sc, all_link);
	if ((sc->peer = server_peer_get(s, sc->fd)) != NULL) {
		TAILQ_INSERT_TAIL(&sc->peer->conns, sc, peer_link);
		sc->peer->nconns++;
	}
	evhttp_connection_set_closecb(sc->evcon, server_conn_close_cb, sc);
	server_conn_arm(sc);
	if (sc->peer != NULL && server_peer_untrusted(sc->peer) > s->max_per_peer &&
	    server_make_room(s, sc, sc->peer) < 0)
		return;
	if (s->nconns > s->max_conns)
		server_make_room(s, sc, NULL);
}

/* The record of the connection a request came on, or NULL. */
static struct server_conn *server_conn_of(http_server_t *s, struct bufferevent *bev)
{
	int fd = bufferevent_getfd(bev);

	if (fd < 0 || (size_t)fd >= s->conns_len || s->conns[fd] == NULL ||
	    s->conns[fd]->bev != bev)
		return NULL;
	return s->conns[fd];
}

/* evhttp asks for the bufferevent of each accepted connection (fd set later by evhttp). */
static struct bufferevent *server_bevcb(struct event_base *base, void *arg)
{
	http_server_t *s = arg;
	struct server_conn *sc;
	struct bufferevent *bev;
	SSL *ssl;

	s->accepts++;
	if (s->ctx == NULL) {
		bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	} else {
		/* Returning NULL would make evhttp fall back to a plain socket on the TLS
		 * port; these only fail when memory is exhausted, which is fatal anyway. */
		if ((ssl = SSL_new(s->ctx)) == NULL)
			fatalx("http: SSL_new failed");
		SSL_set_ex_data(ssl, http_ssl_idx_server,
		                xcalloc(1, sizeof(struct server_tls_conn)));
		bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
		                                     BEV_OPT_CLOSE_ON_FREE);
		if (bev != NULL)
			bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	}
	if (bev == NULL)
		fatalx("http: cannot create a bufferevent");
	evbuffer_add_cb(bufferevent_get_output(bev), server_output_cb, bev);
	sc = xcalloc(1, sizeof(*sc));
	sc->s = s;
	sc->bev = bev;
	sc->fd = -1;
	if ((sc->timer = evtimer_new(base, server_conn_timer_cb, sc)) == NULL)
		fatalx("http: cannot create an event");
	sc->next = s->unattached;
	if (s->unattached)
		s->unattached->prev = sc;
	s->unattached = sc;
	event_active(sc->timer, EV_TIMEOUT, 0);
	return bev;
}

static SSL_CTX *server_ctx_new(const tls_server_opts_t *tls, err_t *e)
{
	SSL_CTX *ctx;
	STACK_OF(X509_NAME) * names;
	int mode;

	if (tls->cert_file == NULL || tls->key_file == NULL) {
		err_set(e, "TLS server needs a certificate and a key");
		return NULL;
	}
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		err_set_ssl(e, "SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* IGNORE_UNEXPECTED_EOF: OpenSSL 3 reports a peer closing without close_notify as an
	 * error that libevent 2.1 does not recognise as a dirty shutdown. HTTP framing
	 * (Content-Length) already protects against truncation. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	                             SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, tls->cert_file) != 1) {
		err_set_ssl(e, "cannot load certificate %s", tls->cert_file);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, tls->key_file, SSL_FILETYPE_PEM) != 1) {
		err_set_ssl(e, "cannot load key %s", tls->key_file);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		err_set_ssl(e, "key %s does not match certificate %s", tls->key_file,
		            tls->cert_file);
		goto fail;
	}
	/* Without a session id context a resumed session fails once peers are verified. */
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)HTTP_SID_CTX,
	                               sizeof(HTTP_SID_CTX) - 1);
	if (tls->client_cert != HTTP_CLIENT_CERT_NONE) {
		if (tls->client_ca_file == NULL) {
			err_set(e, "client certificates need client_ca_file");
			goto fail;
		}
		if (SSL_CTX_load_verify_locations(ctx, tls->client_ca_file, NULL) != 1) {
			err_set_ssl(e, "cannot load client CA %s", tls->client_ca_file);
			goto fail;
		}
		/* Tell clients which CAs we take, so they pick the right certificate. */
		if ((names = SSL_load_client_CA_file(tls->client_ca_file)) != NULL)
			SSL_CTX_set_client_CA_list(ctx, names);
		ERR_clear_error();
		mode = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;
		if (tls->client_cert == HTTP_CLIENT_CERT_REQUIRED)
			mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		SSL_CTX_set_verify(ctx, mode, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	SSL_CTX_set_info_callback(ctx, server_tls_info_cb);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static void request_unlink(http_request_t *r)
{
	if (r->s == NULL)
		return;
	if (r->prev)
		r->prev->next = r->next;
	else
		r->s->pending = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
}

static void request_free(http_request_t *r)
{
	request_unlink(r);
	evhttp_clear_headers(&r->query);
	free(r->path);
	free(r);
}

static http_method_t method_from_evhttp(enum evhttp_cmd_type t, const char **name)
{
	switch (t) {
	case EVHTTP_REQ_GET:
		*name = "GET";
		return HTTP_M_GET;
	case EVHTTP_REQ_POST:
		*name = "POST";
		return HTTP_M_POST;
	case EVHTTP_REQ_PUT:
		*name = "PUT";
		return HTTP_M_PUT;
	case EVHTTP_REQ_DELETE:
		*name = "DELETE";
		return HTTP_M_DELETE;
	case EVHTTP_REQ_HEAD:
		*name = "HEAD";
		return HTTP_M_OTHER;
	case EVHTTP_REQ_PATCH:
		*name = "PATCH";
		return HTTP_M_OTHER;
	case EVHTTP_REQ_OPTIONS:
		*name = "OPTIONS";
		return HTTP_M_OTHER;
	default:
		*name = "OTHER";
		return HTTP_M_OTHER;
	}
}

static void server_request_cb(struct evhttp_request *req, void *arg)
{
	http_server_t *s = arg;
	http_request_t *r;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct bufferevent *bev;
	const char *path, *bad = NULL;
	char *addr = NULL;
	ev_uint16_t port = 0;
	size_t n;
	SSL *ssl;

	r = xcalloc(1, sizeof(*r));
	TAILQ_INIT(&r->query);
	r->s = s;
	r->req = req;
	r->next = s->pending;
	if (s->pending)
		s->pending->prev = r;
	s->pending = r;
	r->method = method_from_evhttp(evhttp_request_get_command(req), &r->method_name);

	evhttp_connection_get_peer(evcon, &addr, &port);
	if (addr != NULL && strchr(addr, ':') != NULL)
		snprintf(r->peer, sizeof(r->peer), "[%s]:%u", addr, port);
	else
		snprintf(r->peer, sizeof(r->peer), "%s:%u", addr ? addr : "?", port);

	bev = evhttp_connection_get_bufferevent(evcon);
	r->local_port = http_fd_local_port(bufferevent_getfd(bev));
	/* The request is complete: no deadline while the daemon works on it. */
	if ((r->conn = server_conn_of(s, bev)) != NULL) {
		evtimer_del(r->conn->timer);
		r->conn->state = CONN_BUSY;
	}
	if (s->ctx != NULL && (ssl = bufferevent_openssl_get_ssl(bev)) != NULL)
		r->has_cert = SSL_get0_peer_certificate(ssl) != NULL &&
		              SSL_get_verify_result(ssl) == X509_V_OK;

	/* The body, NUL-terminated for text parsers; evhttp already enforced max_body. */
	n = evbuffer_get_length(in);
	evbuffer_add(in, "", 1);
	r->body = evbuffer_pullup(in, -1);
	r->body_len = n;

	path = uri ? evhttp_uri_get_path(uri) : NULL;
	if (path == NULL || *path == '\0')
		path = "/";
	r->path = evhttp_uridecode(path, 0, &n);
	if (r->path == NULL || !http_token_ok(r->path, 1) || strlen(r->path) != n) {
		bad = "malformed path"; /* also control characters: the path is logged */
	} else if (uri && (r->query_raw = evhttp_uri_get_query(uri)) != NULL &&
	           evhttp_parse_query_str(r->query_raw, &r->query) != 0) {
		bad = "malformed query";
	}
	if (bad != NULL) {
		log_info("http: rejected a request from %s: 400, %s", r->peer, bad);
		free(r->path);
		r->path = xstrdup("?");
		http_reply_envelope(r, 400, bad, NULL);
		return;
	}
	s->fn(r, s->arg);
}

/* Bind one more listening socket; its port when fine, -1 when not (logged). */
static int server_bind(http_server_t *s, const char *listen)
{
	struct evhttp_bound_socket *sock;
	char *host = NULL;
	int port;

	if (http_parse_hostport(listen, &host, &port) != 0) {
		log_warnx("http: bad listen address \"%s\" (want host:port or [v6]:port)",
		          listen ? listen : "");
		return -1;
	}
	sock = evhttp_bind_socket_with_handle(s->http, host, (ev_uint16_t)port);
	free(host);
	if (sock == NULL) {
		log_warn("http: cannot listen on %s", listen);
		return -1;
	}
	return http_fd_local_port(evhttp_bound_socket_get_fd(sock));
}

http_server_t *http_server_new(struct event_base *base, const char *listen,
                               const tls_server_opts_t *tls, size_t max_body, int timeout_s,
                               http_handler_fn fn, void *arg)
{
	http_server_t *s;
	char *host = NULL;
	int port;
	err_t e = {""};

	http_init();
	if (http_parse_hostport(listen, &host, &port) != 0) {
		log_warnx("http: bad listen address \"%s\" (want host:port or [v6]:port)",
		          listen ? listen : "");
		return NULL;
	}
	free(host);
	if (max_body == 0 || max_body > SSIZE_MAX || timeout_s <= 0) {
		log_warnx("http: bad limits for %s", listen);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->base = base;
	s->fn = fn;
	s->arg = arg;
	s->max_body = max_body;
	s->max_conns = HTTP_MAX_CONNS;
	s->max_per_peer = HTTP_MAX_PER_PEER;
	TAILQ_INIT(&s->all);
	LIST_INIT(&s->peers);
	s->deadline_s = timeout_s > INT_MAX / 2 ? INT_MAX : 2 * timeout_s;
	if (tls != NULL) {
		if ((s->ctx = server_ctx_new(tls, &e)) == NULL) {
			log_warnx("http: %s: %s", listen, e.msg);
			goto fail;
		}
		s->client_cert = tls->client_cert;
	}
	if ((s->http = evhttp_new(base)) == NULL) {
		log_warnx("http: evhttp_new failed");
		goto fail;
	}
	evhttp_set_max_body_size(s->http, (ev_ssize_t)max_body);
	evhttp_set_max_headers_size(s->http, HTTP_MAX_HEADERS);
	evhttp_set_timeout(s->http, timeout_s);
	evhttp_set_allowed_methods(s->http, HTTP_ALLOWED_METHODS);
	evhttp_set_default_content_type(s->http, "application/json");
	evhttp_set_bevcb(s->http, server_bevcb, s);
	evhttp_set_gencb(s->http, server_request_cb, s);
	if ((s->port = server_bind(s, listen)) < 0)
		goto fail;
	return s;
fail:
	http_server_free(s);
	return NULL;
}

int http_server_listen(http_server_t *s, const char *listen)
{
	char *host = NULL;
	int port = 0;

	if (http_parse_hostport(listen, &host, &port) == 0 && port == 0) {
		log_warnx("http: %s: an added address needs its port", listen);
		free(host);
		return -1;
	}
	free(host);
	return server_bind(s, listen) < 0 ? -1 : 0;
}

void http_server_free(http_server_t *s)
{
	http_request_t *r, *next;

	if (s == NULL)
		return;
	/* evhttp_free frees the requests still waiting for a reply; their wrappers stay
	 * with the daemon, which may still reply (that only frees them now). */
	for (r = s->pending; r != NULL; r = next) {
		next = r->next;
		r->s = NULL;
		r->req = NULL;
		r->conn = NULL;
		r->prev = r->next = NULL;
	}
	s->pending = NULL;
	/* Frees every connection; the attached records go with their close callbacks. */
	if (s->http)
		evhttp_free(s->http);
	while (s->unattached != NULL) {
		struct server_conn *sc = s->unattached;
		server_conn_unlink(sc);
		server_conn_free(sc);
	}
	free(s->conns);
	SSL_CTX_free(s->ctx);
	free(s);
}

int http_server_port(const http_server_t *s)
{
	return s->port;
}

unsigned long http_server_accepts(const http_server_t *s)
{
	return s->accepts;
}

void http_server_set_max_connections(http_server_t *s, unsigned n)
{
	s->max_conns = n > 0 ? n : 1;
}

void http_server_set_max_per_peer(http_server_t *s, unsigned n)
{
	s->max_per_peer = n > 0 ? n : 1;
}

void http_server_set_idle_timeout(http_server_t *s, int seconds)
{
	s->deadline_s = seconds > 0 ? seconds : 1;
}

http_method_t http_request_method(const http_request_t *r)
{
	return r->method;
}

const char *http_request_path(const http_request_t *r)
{
	return r->path;
}

const char *http_request_query(const http_request_t *r, const char *name)
{
	return evhttp_find_header(&r->query, name);
}

const char *http_request_query_string(const http_request_t *r)
{
	return r->query_raw;
}

const uint8_t *http_request_body(const http_request_t *r, size_t *len)
{
	if (len)
		*len = r->body_len;
	return r->body;
}

const char *http_request_header(const http_request_t *r, const char *name)
{
	if (r->req == NULL)
		return NULL;
	return evhttp_find_header(evhttp_request_get_input_headers(r->req), name);
}

int http_request_has_client_cert(const http_request_t *r)
{
	return r->has_cert;
}

const char *http_request_peer(const http_request_t *r)
{
	return r->peer;
}

int http_request_local_port(const http_request_t *r)
{
	return r->local_port;
}

void http_reply(http_request_t *r, int code, const char *content_type, const void *body, size_t len)
{
	struct evhttp_request *req = r->req;

	if (req != NULL) {
		if (len > 0)
			evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
		if (content_type != NULL)
			evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			                  content_type);
		log_debug("http: %s %s %s -> %d (%zu bytes)", r->peer, r->method_name, r->path,
		          code, len);
		/* The next request on this connection has the deadline again. */
		if (r->conn != NULL && r->s != NULL) {
			r->conn->state = CONN_WAITING;
			r->conn->served = 1;
			server_conn_arm(r->conn);
		}
		http_replying = 1;
		evhttp_send_reply(req, code, NULL, NULL);
		http_replying = 0;
	}
	request_free(r);
}

void http_reply_json(http_request_t *r, int code, json_t *j)
{
	char *text = NULL;

	if (j != NULL)
		text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	if (text == NULL) {
		static const char null_text[] = "null";
		http_reply(r, code, "application/json", null_text, sizeof(null_text) - 1);
	} else {
		http_reply(r, code, "application/json", text, strlen(text));
	}
	free(text);
	json_decref(j);
}

void http_reply_envelope(http_request_t *r, int code, const char *status, json_t *results)
{
	json_t *env;

	if (results == NULL)
		results = json_object();
	env = json_pack("{s:i, s:s, s:o}", "code", code, "status", status ? status : "", "results",
	                results);
	if (env == NULL) /* only when status is not UTF-8; answer anyway */
		env = json_pack("{s:i, s:s, s:{}}", "code", code, "status", "Error");
	http_reply_json(r, code, env);
}

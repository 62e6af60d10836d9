/* http: HTTP/1.1 server and client on libevent 2.1 evhttp, with OpenSSL 3 for TLS.
 *
 * Server: evhttp owns parsing, limits (headers, body, idle timeout) and keep-alive. Our
 * bufferevent callback makes a plain socket or an OpenSSL bufferevent per connection, so
 * TLS and client certificates are decided in the handshake, before evhttp sees a byte.
 * Two things evhttp does not tell us are logged through side doors: TLS failures through
 * the SSL info callback, and the error replies evhttp writes on its own (413 for a body or
 * headers over the limit, 400 for garbage) through a callback on the output buffer.
 *
 * Client: one evhttp_connection at a time per client, replaced by a fresh one (new socket,
 * new SSL object, resumed TLS session) once the old one is closed or failed. The result
 * of a request is always handed to the caller from an event of our own, never from inside
 * evhttp, so the caller may free the client or start the next request in its callback. */
#include "common/net/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"

#define HTTP_MAX_HEADERS      16384        /* request line + headers a server accepts */
#define HTTP_MAX_RESP_HEADERS 65536        /* response headers a client accepts */
#define HTTP_MAX_RESPONSE     (32u << 20)  /* default response body limit of a client */
#define HTTP_PEER_LEN         64           /* "[v6 address]:port" */
#define HTTP_SID_CTX          "vigil-http" /* session id context (resumption with mTLS) */
#define HTTP_MAX_CONNS        512          /* default cap on a server's open connections */
#define HTTP_MAX_PER_PEER     16           /* default cap on one peer's untrusted connections */
#define HTTP_LOG_INTERVAL     60           /* seconds between two summaries about one peer */
#define HTTP_PEER_KEY         9            /* family byte + IPv4 address or IPv6 /64 */
#define HTTP_ALLOWED_METHODS                                                                       \
	(EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD | \
	 EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS)

/* ---- shared ---- */

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static int http_ssl_idx_server = -1; /* SSL ex_data: struct server_tls_conn of a server SSL */
static int http_ssl_idx_client = -1; /* SSL ex_data: the http_client_t owning a client SSL */

/* Set while one of our replies is being written, so that the output-buffer watcher only
 * reports the replies evhttp makes up on its own. Thread-local: one loop per thread. */
static _Thread_local int http_replying;

static void http_libevent_log(int severity, const char *msg)
{
	/* libevent's own warnings repeat what we report with more context (a refused connect,
	 * a closed socket); keep them for debugging only. */
	if (severity >= EVENT_LOG_ERR)
		log_warnx("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

/* What the TLS info callback of a server connection remembers; freed with the SSL. */
struct server_tls_conn {
	char peer[HTTP_PEER_LEN]; /* "ip:port", taken while the socket surely has a peer */
	int logged;               /* the handshake failure was reported */
};

static void server_tls_conn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                                 void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	free(ptr);
}

static void http_init_once(void)
{
	struct sigaction sa;

	/* libevent and OpenSSL write to sockets without MSG_NOSIGNAL: a peer gone mid-write
	 * must be an error, not the death of the process. Only a default disposition is
	 * changed; a program's own SIGPIPE handler stays. */
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_IGN;
		sigaction(SIGPIPE, &sa, NULL);
	}
	http_ssl_idx_server = SSL_get_ex_new_index(0, NULL, NULL, NULL, server_tls_conn_free);
	http_ssl_idx_client = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (http_ssl_idx_server < 0 || http_ssl_idx_client < 0)
		fatalx("http: cannot allocate OpenSSL ex_data indexes");
	event_set_log_callback(http_libevent_log);
}

static void http_init(void)
{
	if (pthread_once(&http_once, http_init_once) != 0)
		fatalx("http: pthread_once failed");
}

/* "ip:port" or "[v6]:port" of a socket address. */
static void http_format_addr(const struct sockaddr *sa, char *out, size_t n)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(out, n, "%s:%u", ip, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(out, n, "[%s]:%u", ip, ntohs(in6->sin6_port));
	} else {
		snprintf(out, n, "?");
	}
}

/* No Nagle: bufferevent_openssl writes a request or reply as several TLS records, and
 * the second would wait for the peer's delayed ACK (40 ms a request). */
static void http_fd_nodelay(int fd)
{
	int one = 1;

	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void http_fd_peer(int fd, char *out, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) != 0) {
		snprintf(out, n, "?");
		return;
	}
	http_format_addr((struct sockaddr *)&ss, out, n);
}

static const char *http_method_name(http_method_t m)
{
	switch (m) {
	case HTTP_M_GET:
		return "GET";
	case HTTP_M_POST:
		return "POST";
	case HTTP_M_PUT:
		return "PUT";
	case HTTP_M_DELETE:
		return "DELETE";
	default:
		return "OTHER";
	}
}

int http_parse_hostport(const char *s, char **host, int *port)
{
	const char *h, *colon, *end;
	size_t hlen;
	char *p;
	long v;

	*host = NULL;
	*port = 0;
	if (s == NULL || *s == '\0' || strlen(s) > 300)
		return -1;
	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL || end[1] != ':')
			return -1;
		h = s + 1;
		hlen = (size_t)(end - h);
		colon = end + 1;
		if (hlen == 0 || memchr(h, ':', hlen) == NULL)
			return -1; /* brackets are for IPv6 literals only */
		for (size_t i = 0; i < hlen; i++)
			if (!(h[i] == ':' || h[i] == '.' || (h[i] >= '0' && h[i] <= '9') ||
			      (h[i] >= 'a' && h[i] <= 'f') || (h[i] >= 'A' && h[i] <= 'F')))
				return -1;
	} else {
		if ((colon = strchr(s, ':')) == NULL || strchr(colon + 1, ':') != NULL)
			return -1; /* no port, or an unbracketed IPv6 literal */
		h = s;
		hlen = (size_t)(colon - s);
		if (hlen == 0 || hlen > 253)
			return -1;
		for (size_t i = 0; i < hlen; i++)
			if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z') ||
			      (h[i] >= '0' && h[i] <= '9') || h[i] == '.' || h[i] == '-' ||
			      h[i] == '_'))
				return -1;
	}
	if (colon[1] < '0' || colon[1] > '9')
		return -1;
	errno = 0;
	v = strtol(colon + 1, &p, 10);
	if (errno != 0 || *p != '\0' || v < 0 || v > 65535 || p - (colon + 1) > 5)
		return -1;
	*host = xstrndup(h, hlen);
	*port = (int)v;
	return 0;
}

/* 1 when s is non-empty printable ASCII without spaces: it goes into the request line or
 * a header as is, so CR/LF must never pass. */
static int http_token_ok(const char *s, int spaces)
{
	if (s == NULL || *s == '\0' || strlen(s) > 8192)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || (*s == ' ' && !spaces))
			return 0;
	return 1;
}

/* 1 when host is an IPv4 or IPv6 literal (no SNI for those; match the IP SAN). */
static int http_host_is_ip(const char *host)
{
	unsigned char tmp[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1;
}

/* ---- server ---- */

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

http_server_t *http_server_new(struct event_base *base, const char *listen,
                               const tls_server_opts_t *tls, size_t max_body, int timeout_s,
                               http_handler_fn fn, void *arg)
{
	http_server_t *s;
	struct evhttp_bound_socket *sock;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char *host = NULL;
	int port;
	err_t e = {""};

	http_init();
	if (http_parse_hostport(listen, &host, &port) != 0) {
		log_warnx("http: bad listen address \"%s\" (want host:port or [v6]:port)",
		          listen ? listen : "");
		return NULL;
	}
	if (max_body == 0 || max_body > SSIZE_MAX || timeout_s <= 0) {
		log_warnx("http: bad limits for %s", listen);
		free(host);
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
	if ((sock = evhttp_bind_socket_with_handle(s->http, host, (ev_uint16_t)port)) == NULL) {
		log_warn("http: cannot listen on %s", listen);
		goto fail;
	}
	if (getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &sl) == 0)
		s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
		                                         : ((struct sockaddr_in *)&ss)->sin_port);
	free(host);
	return s;
fail:
	free(host);
	http_server_free(s);
	return NULL;
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

/* ---- client ---- */

struct http_client {
	struct event_base *base; /* borrowed loop */
	char *host;              /* server name or IP literal; owned */
	int port;                /* server port */
	char *host_header;       /* Host header value; owned */
	int host_is_ip;          /* 1: host is an IP literal */
	SSL_CTX *ctx;            /* NULL for plain HTTP; made once per client */
	int check_hostname;      /* 1: the certificate must name host */
	int timeout_s;           /* deadline for one request, connect included */
	int connect_ms;          /* deadline to connect and send the request, 0: none */
	int answer_ms;           /* deadline from the request sent to the answer's first byte */
	size_t max_response;     /* response body limit */
	SSL_SESSION *session;    /* last TLS session, to resume on reconnect */

	struct evhttp_connection *evcon; /* current connection, or NULL */
	struct bufferevent *bev;         /* its bufferevent (owned by evcon) */
	int evcon_dead;                  /* closed or failed: replace before the next request */
	int evcon_used;                  /* a response already came over evcon */
	int sent;                        /* bytes of this request went to the server */
	int received;                    /* bytes of a response arrived */
	int ev_error;                    /* evhttp's error for this request, or -1 */
	char verify_err[128];            /* why the server certificate was rejected */
	int alert;                       /* fatal TLS alert the server sent, or -1 */
	int tls_started;                 /* the TLS handshake began (TCP connected) */
	int sock_err;                    /* errno of a failed TCP connect, or 0 */
	http_budget_t *budget;           /* shared count of answer bytes in flight, or NULL */
	size_t buffered;                 /* this request's bytes counted in budget */
	int over_budget;                 /* the budget ran out while this answer arrived */
	int phase_timeout;               /* 1: connect timed out, 2: answer, 3: over budget */

	int busy;                 /* a request is in flight (until its cb runs) */
	int done;                 /* its result is ready to be delivered */
	int retry;                /* deliver event must resend instead */
	int retried;              /* this request was already resent once */
	enum evhttp_cmd_type cmd; /* the request, kept for one resend */
	char *path;               /* owned */
	char *content_type;       /* owned, or NULL */
	buf_t req_body;           /* request body copy */
	http_response_fn cb;      /* caller's callback */
	void *cb_arg;             /* its argument */
	int status;               /* result: HTTP status or 0 */
	buf_t resp;               /* result: response body */
	char err[256];            /* result: error text when status is 0 */
	struct event *timer;      /* request deadline */
	struct event *phase;      /* connect, then first-byte deadline (when set) */
	struct event *deliver;    /* runs the callback (or resend) from the loop */
};

struct http_budget {
	size_t max;  /* bytes of answers in flight allowed */
	size_t used; /* bytes counted now */
};

http_budget_t *http_budget_new(size_t max)
{
	http_budget_t *b = xcalloc(1, sizeof(*b));

	b->max = max;
	return b;
}

void http_budget_free(http_budget_t *b)
{
	free(b);
}

size_t http_budget_used(const http_budget_t *b)
{
	return b->used;
}

void http_client_set_budget(http_client_t *c, http_budget_t *b)
{
	c->budget = b;
}

/* Give this request's counted bytes back to the budget. */
static void client_budget_release(http_client_t *c)
{
	if (c->budget != NULL)
		c->budget->used -= c->buffered;
	c->buffered = 0;
}

static int client_verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl;
	http_client_t *c;
	int err;

	if (ok)
		return 1;
	ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	c = ssl ? SSL_get_ex_data(ssl, http_ssl_idx_client) : NULL;
	err = X509_STORE_CTX_get_error(xs);
	if (c != NULL && c->verify_err[0] == '\0')
		snprintf(c->verify_err, sizeof(c->verify_err), "%s (depth %d)",
		         X509_verify_cert_error_string(err), X509_STORE_CTX_get_error_depth(xs));
	return 0;
}

/* Notes how far a client handshake got and the server's fatal alert: the error queue
 * does not always survive to the failure report (a reset after the alert). */
static void client_tls_info_cb(const SSL *ssl, int where, int ret)
{
	http_client_t *c = SSL_get_ex_data(ssl, http_ssl_idx_client);

	if (c == NULL)
		return;
	if ((where & SSL_CB_HANDSHAKE_START) && !c->tls_started && !c->sock_err) {
		/* bufferevent_openssl starts the handshake when the TCP connect completes,
		 * also when it failed: the socket's pending error tells which. */
		int fd = SSL_get_fd(ssl), err = 0;
		socklen_t len = sizeof(err);
		if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0) {
			c->sock_err = err;
		} else {
			c->tls_started = 1;
			http_fd_nodelay(fd);
		}
	}
	if ((where & SSL_CB_HANDSHAKE_DONE) && !c->sent) /* not for TLS 1.3 tickets later */
		log_debug("http: %s: TLS connected (%s, %s)", c->host_header, SSL_get_version(ssl),
		          SSL_session_reused(ssl) ? "session resumed" : "full handshake");
	if ((where & SSL_CB_READ_ALERT) && (ret >> 8) == SSL3_AL_FATAL && c->alert < 0)
		c->alert = ret & 0xff;
}

static int client_load_pem_anchors(SSL_CTX *ctx, const char *pem, err_t *e)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	BIO *bio;
	X509 *x;
	int n = 0, rv = -1;

	if ((bio = BIO_new_mem_buf(pem, -1)) == NULL) {
		err_set_ssl(e, "BIO_new_mem_buf");
		return -1;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(store, x) != 1) {
			X509_free(x);
			err_set_ssl(e, "cannot add trust anchor");
			goto out;
		}
		X509_free(x);
		n++;
	}
	ERR_clear_error(); /* the end of the PEM data reads as an error */
	if (n == 0) {
		err_set(e, "no certificate in the trust anchor PEM");
		goto out;
	}
	rv = 0;
out:
	BIO_free(bio);
	return rv;
}

/* The client certificate (chain) and key from memory. 0 or -1 (e). */
static int client_use_pem_identity(SSL_CTX *ctx, const tls_client_opts_t *tls, err_t *e)
{
	BIO *bio = BIO_new_mem_buf(tls->cert_pem, -1), *kb = NULL;
	X509 *x = NULL;
	EVP_PKEY *pk = NULL;
	int rv = -1;

	if (bio == NULL || (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL ||
	    SSL_CTX_use_certificate(ctx, x) != 1) {
		err_set_ssl(e, "cannot use the client certificate");
		goto out;
	}
	/* The rest of the PEM is the chain, if any. */
	X509 *ca;
	while ((ca = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		if (SSL_CTX_add0_chain_cert(ctx, ca) != 1) {
			X509_free(ca);
			err_set_ssl(e, "cannot add a chain certificate");
			goto out;
		}
	ERR_clear_error(); /* the end of the PEM data reads as an error */
	if (tls->key_pem == NULL || (kb = BIO_new_mem_buf(tls->key_pem, -1)) == NULL ||
	    (pk = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL)) == NULL ||
	    SSL_CTX_use_PrivateKey(ctx, pk) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		err_set_ssl(e, "the client key is unusable or does not match the certificate");
		goto out;
	}
	rv = 0;
out:
	X509_free(x);
	EVP_PKEY_free(pk);
	BIO_free(bio);
	BIO_free(kb);
	return rv;
}

int http_client_identity_check(const char *cert_pem, const char *key_pem, err_t *e)
{
	tls_client_opts_t tls = {.cert_pem = cert_pem, .key_pem = key_pem};
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int rv;

	if (ctx == NULL) {
		err_set_ssl(e, "SSL_CTX_new");
		return -1;
	}
	rv = client_use_pem_identity(ctx, &tls, e);
	SSL_CTX_free(ctx);
	return rv;
}

static SSL_CTX *client_ctx_new(const tls_client_opts_t *tls, err_t *e)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		err_set_ssl(e, "SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* We keep the last session ourselves (one server per client); CLIENT mode makes
	 * OpenSSL accept TLS 1.3 tickets for it. */
	SSL_CTX_set_session_cache_mode(ctx,
	                               SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	if (tls->ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, tls->ca_file, NULL) != 1) {
			err_set_ssl(e, "cannot load trust anchors %s", tls->ca_file);
			goto fail;
		}
	} else if (tls->ca_pem != NULL) {
		if (client_load_pem_anchors(ctx, tls->ca_pem, e) != 0)
			goto fail;
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		err_set_ssl(e, "cannot load the system trust store");
		goto fail;
	}
	if (tls->ca_file != NULL || tls->ca_pem != NULL) {
		/* The given certificates are anchors even when not self-signed roots: an
		 * agent's pinned certificate, or an intermediate CA. */
		X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx), X509_V_FLAG_PARTIAL_CHAIN);
	}
	if (tls->cert_file != NULL) {
		if (SSL_CTX_use_certificate_chain_file(ctx, tls->cert_file) != 1) {
			err_set_ssl(e, "cannot load client certificate %s", tls->cert_file);
			goto fail;
		}
		if (tls->key_file == NULL ||
		    SSL_CTX_use_PrivateKey_file(ctx, tls->key_file, SSL_FILETYPE_PEM) != 1) {
			err_set_ssl(e, "cannot load client key %s",
			            tls->key_file ? tls->key_file : "(none)");
			goto fail;
		}
		if (SSL_CTX_check_private_key(ctx) != 1) {
			err_set_ssl(e, "client key %s does not match %s", tls->key_file,
			            tls->cert_file);
			goto fail;
		}
	} else if (tls->cert_pem != NULL && client_use_pem_identity(ctx, tls, e) != 0) {
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, client_verify_cb);
	SSL_CTX_set_info_callback(ctx, client_tls_info_cb);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static void client_timer_cb(evutil_socket_t fd, short what, void *arg);

static void client_phase_cb(evutil_socket_t fd, short what, void *arg);

static void client_deliver_cb(evutil_socket_t fd, short what, void *arg);

static http_client_t *client_create(struct event_base *base, const char *host, int port,
                                    const tls_client_opts_t *tls, int timeout_s, err_t *e)
{
	http_client_t *c;

	http_init();
	if (host == NULL || *host == '\0' || strlen(host) > 253 || port <= 0 || port > 65535 ||
	    timeout_s <= 0) {
		err_set(e, "bad client parameters");
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->base = base;
	c->host = xstrdup(host);
	c->port = port;
	c->host_is_ip = http_host_is_ip(host);
	if (strchr(host, ':') != NULL)
		c->host_header = xasprintf("[%s]:%d", host, port);
	else
		c->host_header = xasprintf("%s:%d", host, port);
	c->timeout_s = timeout_s;
	c->max_response = HTTP_MAX_RESPONSE;
	c->ev_error = -1;
	if (tls != NULL) {
		if ((c->ctx = client_ctx_new(tls, e)) == NULL)
			goto fail;
		c->check_hostname = tls->check_hostname;
	}
	c->timer = evtimer_new(base, client_timer_cb, c);
	c->phase = evtimer_new(base, client_phase_cb, c);
	c->deliver = event_new(base, -1, 0, client_deliver_cb, c);
	if (c->timer == NULL || c->phase == NULL || c->deliver == NULL) {
		err_set(e, "cannot create events");
		goto fail;
	}
	return c;
fail:
	http_client_free(c);
	return NULL;
}

http_client_t *http_client_new(struct event_base *base, const char *host, int port,
                               const tls_client_opts_t *tls, int timeout_s)
{
	http_client_t *c;
	err_t e = {""};

	if ((c = client_create(base, host, port, tls, timeout_s, &e)) == NULL)
		log_warnx("http: client for %s:%d: %s", host ? host : "", port, e.msg);
	return c;
}

const char *http_client_error(const http_client_t *c)
{
	return c->err[0] ? c->err : "cannot start the request";
}

int http_client_cert_rejected(const http_client_t *c)
{
	return c->verify_err[0] != '\0';
}

void http_client_set_phase_timeouts(http_client_t *c, int connect_ms, int answer_ms)
{
	c->connect_ms = connect_ms > 0 ? connect_ms : 0;
	c->answer_ms = answer_ms > 0 ? answer_ms : 0;
}

static void client_phase_arm(http_client_t *c, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	if (ms > 0)
		evtimer_add(c->phase, &tv);
	else
		evtimer_del(c->phase);
}

void http_client_set_max_response(http_client_t *c, size_t max)
{
	c->max_response = max > SSIZE_MAX ? SSIZE_MAX : max;
	if (c->evcon != NULL)
		evhttp_connection_set_max_body_size(c->evcon, (ev_ssize_t)c->max_response);
}

/* Remember the TLS session of the current connection for the next one. Must run before
 * evhttp resets the connection, and must keep a copy: SSL_clear() and SSL_free() on a
 * connection closed without close_notify mark its session object not resumable. */
static void client_keep_session(http_client_t *c)
{
	SSL *ssl;
	SSL_SESSION *sess, *copy;

	if (c->ctx == NULL || c->bev == NULL || (ssl = bufferevent_openssl_get_ssl(c->bev)) == NULL)
		return;
	if ((sess = SSL_get_session(ssl)) == NULL || !SSL_SESSION_is_resumable(sess))
		return;
	if ((copy = SSL_SESSION_dup(sess)) == NULL) {
		ERR_clear_error();
		return;
	}
	SSL_SESSION_free(c->session);
	c->session = copy;
}

/* Free the current connection. Never called from inside an evhttp callback. */
static void client_drop_connection(http_client_t *c)
{
	if (c->evcon == NULL)
		return;
	if (!c->evcon_dead)
		client_keep_session(c);
	evhttp_connection_free(c->evcon);
	c->evcon = NULL;
	c->bev = NULL;
	c->evcon_dead = 0;
	c->evcon_used = 0;
}

static void client_close_cb(struct evhttp_connection *evcon, void *arg)
{
	http_client_t *c = arg;

	(void)evcon;
	client_keep_session(c);
	c->evcon_dead = 1; /* freed before the next request, outside evhttp */
}

/* Notes bytes leaving for the server (after the TLS handshake, for TLS) and arriving from
 * it: they tell a failed connect from a connection lost before or during the response. */
static void client_output_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	http_client_t *c = arg;

	(void)buf;
	if (info->n_deleted > 0 && !c->sent) {
		c->sent = 1;
		if (c->busy && !c->done && !c->received)
			client_phase_arm(c, c->answer_ms);
	}
}

static void client_input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	http_client_t *c = arg;

	(void)buf;
	if (info->n_added > 0 && !c->received) {
		c->received = 1;
		evtimer_del(c->phase);
	}
	if (c->budget != NULL && info->n_added > 0 && c->busy && !c->done) {
		c->buffered += info->n_added;
		c->budget->used += info->n_added;
		/* Over: drop this answer from the loop (not from inside evhttp's read). */
		if (c->budget->used > c->budget->max && !c->over_budget) {
			c->over_budget = 1;
			event_active(c->phase, EV_TIMEOUT, 0);
		}
	}
}

static int client_connect(http_client_t *c)
{
	struct bufferevent *bev;
	SSL *ssl = NULL;

	if (c->ctx != NULL) {
		if ((ssl = SSL_new(c->ctx)) == NULL) {
			err_set_ssl(NULL, "SSL_new");
			snprintf(c->err, sizeof(c->err), "SSL_new failed");
			return -1;
		}
		SSL_set_ex_data(ssl, http_ssl_idx_client, c);
		if (!c->host_is_ip)
			SSL_set_tlsext_host_name(ssl, c->host);
		if (c->check_hostname) {
			if (c->host_is_ip)
				X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), c->host);
			else
				SSL_set1_host(ssl, c->host);
		}
		if (c->session != NULL && SSL_SESSION_is_resumable(c->session))
			SSL_set_session(ssl, c->session);
		bev =
		    bufferevent_openssl_socket_new(c->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
		                                   BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if (bev == NULL) {
			SSL_free(ssl);
		} else {
			bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
		}
	} else {
		bev = bufferevent_socket_new(c->base, -1,
		                             BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	}
	if (bev == NULL) {
		snprintf(c->err, sizeof(c->err), "cannot create a bufferevent");
		return -1;
	}
	c->evcon = evhttp_connection_base_bufferevent_new(c->base, NULL, bev, c->host,
	                                                  (ev_uint16_t)c->port);
	if (c->evcon == NULL) {
		bufferevent_free(bev);
		snprintf(c->err, sizeof(c->err), "cannot create a connection");
		return -1;
	}
	c->bev = bev;
	evbuffer_add_cb(bufferevent_get_output(bev), client_output_cb, c);
	evbuffer_add_cb(bufferevent_get_input(bev), client_input_cb, c);
	evhttp_connection_set_retries(c->evcon, 0);
	/* A server refusing a large body (413) closes while we still write: read its
	 * answer instead of reporting the write error. */
	evhttp_connection_set_flags(c->evcon, EVHTTP_CON_READ_ON_WRITE_ERROR);
	evhttp_connection_set_max_body_size(c->evcon, (ev_ssize_t)c->max_response);
	evhttp_connection_set_max_headers_size(c->evcon, HTTP_MAX_RESP_HEADERS);
	evhttp_connection_set_closecb(c->evcon, client_close_cb, c);
	c->evcon_dead = 0;
	c->evcon_used = 0;
	return 0;
}

/* What a failed TCP connect's errno means to an operator. */
static const char *client_connect_error_text(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return "connection refused (nothing listens on that port)";
	case ETIMEDOUT:
		return "timed out";
	case EHOSTUNREACH:
		return "host unreachable";
	case ENETUNREACH:
		return "network unreachable";
	case EMFILE:
		return "cannot open a socket: too many open files in this process (raise the "
		       "open-file limit)";
	case ENFILE:
		return "cannot open a socket: too many open files in the system";
	default:
		return strerror(err);
	}
}

static const char *client_ev_error_text(int err)
{
	switch (err) {
	case EVREQ_HTTP_TIMEOUT:
		return "timeout";
	case EVREQ_HTTP_EOF:
		return "connection closed";
	case EVREQ_HTTP_INVALID_HEADER:
		return "malformed response";
	case EVREQ_HTTP_BUFFER_ERROR:
		return "connection error";
	case EVREQ_HTTP_DATA_TOO_LONG:
		return "response too large";
	default:
		return "request failed";
	}
}

/* Compose the error text of a request that got no response. */
static void client_fail_text(http_client_t *c)
{
	char tls[200] = "";
	unsigned long code, newest = 0;
	size_t n;

	/* bufferevent_openssl keeps SSL_get_error()'s small code first, then the error
	 * queue; it pops the newest first. */
	while (c->bev != NULL && c->ctx != NULL && (code = bufferevent_get_openssl_error(c->bev)))
		if (newest == 0 && ERR_GET_LIB(code) != 0)
			newest = code;
	if (c->verify_err[0] != '\0') {
		snprintf(tls, sizeof(tls), ": server certificate rejected: %s", c->verify_err);
	} else if (c->alert >= 0) {
		/* OpenSSL 3.0 has no text for TLS 1.3's certificate_required (116). */
		snprintf(tls, sizeof(tls), ": TLS alert from the server: %s",
		         c->alert == 116 ? "certificate required"
		                         : SSL_alert_desc_string_long(c->alert));
	} else if (newest != 0) {
		n = (size_t)snprintf(tls, sizeof(tls), ": TLS: ");
		ERR_error_string_n(newest, tls + n, sizeof(tls) - n);
	} else if (c->ctx != NULL && c->tls_started && !c->sent) {
		snprintf(tls, sizeof(tls),
		         c->ev_error == EVREQ_HTTP_TIMEOUT ? " (in the TLS handshake)"
		                                           : ": TLS handshake failed");
	}
	if (!c->sent && !c->sock_err && !c->tls_started && c->phase_timeout == 0 &&
	    c->ev_error != EVREQ_HTTP_TIMEOUT) {
		/* No TCP connection was even attempted, or it failed before anything we can
		 * see: when this process cannot open a socket now, that is why. */
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 && (errno == EMFILE || errno == ENFILE))
			c->sock_err = errno;
		else if (fd >= 0)
			close(fd);
	}
	if (!c->sent && c->sock_err)
		snprintf(c->err, sizeof(c->err), "%s: cannot connect: %s", c->host_header,
		         client_connect_error_text(c->sock_err));
	else if (c->phase_timeout == 1)
		snprintf(c->err, sizeof(c->err), "%s: cannot connect: timed out after %d ms%s",
		         c->host_header, c->connect_ms, tls);
	else if (c->phase_timeout == 3)
		snprintf(c->err, sizeof(c->err),
		         "%s: answer dropped after %zu bytes: the answers in flight on this thread "
		         "reached their memory budget (%zu bytes)",
		         c->host_header, c->buffered, c->budget ? c->budget->max : 0);
	else if (c->phase_timeout == 2)
		snprintf(c->err, sizeof(c->err),
		         "%s: slow answer: nothing within %d ms of the request", c->host_header,
		         c->answer_ms);
	else if (c->ev_error == EVREQ_HTTP_TIMEOUT)
		snprintf(c->err, sizeof(c->err), "%s: timeout after %d s%s", c->host_header,
		         c->timeout_s, tls);
	else if (c->ev_error == EVREQ_HTTP_DATA_TOO_LONG)
		snprintf(c->err, sizeof(c->err), "%s: response over %zu bytes", c->host_header,
		         c->max_response);
	else if (!c->sent)
		snprintf(c->err, sizeof(c->err), "%s: cannot connect%s", c->host_header,
		         tls[0] ? tls : "");
	else if (!c->received)
		snprintf(c->err, sizeof(c->err), "%s: connection closed before a response%s",
		         c->host_header, tls);
	else
		snprintf(c->err, sizeof(c->err), "%s: %s%s", c->host_header,
		         client_ev_error_text(c->ev_error), tls);
}

static void client_error_cb(enum evhttp_request_error err, void *arg)
{
	http_client_t *c = arg;

	c->ev_error = (int)err;
}

/* evhttp's completion callback: req is NULL, or has response code 0, on failure. Runs
 * inside evhttp, so it only records the outcome; client_deliver_cb acts on it. */
static void client_done_cb(struct evhttp_request *req, void *arg)
{
	http_client_t *c = arg;
	struct evbuffer *in;
	int code = req ? evhttp_request_get_response_code(req) : 0;

	if (!c->busy || c->done)
		return;
	if (code != 0) {
		in = evhttp_request_get_input_buffer(req);
		buf_reset(&c->resp);
		buf_reserve(&c->resp, evbuffer_get_length(in));
		c->resp.len = (size_t)evbuffer_remove(in, c->resp.data, evbuffer_get_length(in));
		c->resp.data[c->resp.len] = 0;
		c->status = code;
		c->evcon_used = 1;
	} else {
		/* A connection that served a response before may have been closed by the
		 * server just as we reused it: resend once on a fresh one when nothing of a
		 * response came and the method is idempotent. */
		c->evcon_dead = 1;
		if (c->evcon_used && !c->received && !c->retried && c->cmd != EVHTTP_REQ_POST &&
		    c->ev_error != EVREQ_HTTP_TIMEOUT) {
			c->retry = 1;
			event_active(c->deliver, EV_TIMEOUT, 0);
			return;
		}
		c->status = 0;
		client_fail_text(c);
	}
	c->done = 1;
	event_active(c->deliver, EV_TIMEOUT, 0);
}

static int client_send(http_client_t *c)
{
	struct evhttp_request *req;
	struct evkeyvalq *h;
	char len[32];

	if (c->evcon != NULL && c->evcon_dead)
		client_drop_connection(c);
	if (c->evcon == NULL && client_connect(c) != 0)
		return -1;
	c->sent = c->received = 0;
	c->ev_error = -1;
	c->verify_err[0] = '\0';
	c->alert = -1;
	c->tls_started = 0;
	c->sock_err = 0;
	c->phase_timeout = 0;
	c->over_budget = 0;
	client_budget_release(c);
	if ((req = evhttp_request_new(client_done_cb, c)) == NULL) {
		snprintf(c->err, sizeof(c->err), "cannot create a request");
		return -1;
	}
	evhttp_request_set_error_cb(req, client_error_cb);
	h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", c->host_header);
	if (c->content_type != NULL)
		evhttp_add_header(h, "Content-Type", c->content_type);
	if (c->req_body.len > 0 || c->cmd == EVHTTP_REQ_POST || c->cmd == EVHTTP_REQ_PUT) {
		snprintf(len, sizeof(len), "%zu", c->req_body.len);
		evhttp_add_header(h, "Content-Length", len);
		evbuffer_add(evhttp_request_get_output_buffer(req), c->req_body.data,
		             c->req_body.len);
	}
	/* Idle, the connection had no timeout (see client_deliver_cb); this request has. */
	evhttp_connection_set_timeout(c->evcon, c->timeout_s + 1);
	client_phase_arm(c, c->connect_ms);
	if (evhttp_make_request(c->evcon, req, c->cmd, c->path) != 0) {
		/* evhttp freed req, or failed to connect with req unqueued: either way it is
		 * gone from the connection, which we replace. A socket that could not be made
		 * is the usual cause: say so when errno tells. */
		int err = errno;
		c->evcon_dead = 1;
		if (err == EMFILE || err == ENFILE)
			snprintf(c->err, sizeof(c->err),
			         "%s: cannot open a socket: %s (raise the open-file limit)",
			         c->host_header,
			         err == EMFILE ? "too many open files in this process"
			                       : "too many open files in the system");
		else
			snprintf(c->err, sizeof(c->err), "%s: cannot start the request",
			         c->host_header);
		return -1;
	}
	return 0;
}

int http_client_request(http_client_t *c, http_method_t m, const char *path_query,
                        const char *content_type, const void *body, size_t len, http_response_fn cb,
                        void *arg)
{
	struct timeval tv = {c->timeout_s, 0};

	if (c->busy || !http_token_ok(path_query, 0) || path_query[0] != '/' || cb == NULL ||
	    (content_type != NULL && !http_token_ok(content_type, 1)))
		return -1;
	switch (m) {
	case HTTP_M_GET:
		c->cmd = EVHTTP_REQ_GET;
		break;
	case HTTP_M_POST:
		c->cmd = EVHTTP_REQ_POST;
		break;
	case HTTP_M_PUT:
		c->cmd = EVHTTP_REQ_PUT;
		break;
	case HTTP_M_DELETE:
		c->cmd = EVHTTP_REQ_DELETE;
		break;
	default:
		return -1;
	}
	free(c->path);
	c->path = xstrdup(path_query);
	free(c->content_type);
	c->content_type = content_type ? xstrdup(content_type) : NULL;
	buf_set(&c->req_body, body, body ? len : 0);
	c->cb = cb;
	c->cb_arg = arg;
	c->busy = 1;
	c->done = c->retry = c->retried = 0;
	c->status = 0;
	c->err[0] = '\0';
	buf_reset(&c->resp);
	log_debug("http: %s %s%s", http_method_name(m), c->host_header, path_query);
	if (client_send(c) != 0) {
		c->busy = 0;
		return -1;
	}
	/* evhttp may already have failed the request inside evhttp_make_request (an
	 * immediately refused connect); client_done_cb then queued the delivery. */
	evtimer_add(c->timer, &tv);
	return 0;
}

static void client_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	http_client_t *c = arg;

	(void)fd;
	(void)what;
	if (!c->busy || c->done)
		return;
	/* Freeing the connection drops the request without calling evhttp's callbacks. */
	c->ev_error = EVREQ_HTTP_TIMEOUT;
	client_fail_text(c);
	client_drop_connection(c);
	c->status = 0;
	c->retry = 0;
	c->done = 1;
	event_active(c->deliver, EV_TIMEOUT, 0);
}

/* The connect or first-byte deadline passed: fail the request as the total deadline
 * does, saying which phase was slow. */
static void client_phase_cb(evutil_socket_t fd, short what, void *arg)
{
	http_client_t *c = arg;

	(void)what;
	if (!c->busy || c->done)
		return;
	if (c->over_budget)
		c->phase_timeout = 3;
	else if (c->received)
		return;
	else
		c->phase_timeout = c->sent ? 2 : 1;
	client_timer_cb(fd, EV_TIMEOUT, c);
}

static void client_deliver_cb(evutil_socket_t fd, short what, void *arg)
{
	http_client_t *c = arg;
	http_response_fn cb;
	void *cb_arg;
	uint8_t *body;
	size_t len;
	int status;
	char err[sizeof(c->err)];

	(void)fd;
	(void)what;
	if (!c->busy)
		return;
	if (c->retry && !c->done) {
		c->retry = 0;
		c->retried = 1;
		log_debug("http: %s: kept-alive connection was closed, resending once",
		          c->host_header);
		if (client_send(c) == 0)
			return;
		c->status = 0;
		c->done = 1;
	}
	if (!c->done)
		return;
	evtimer_del(c->timer);
	evtimer_del(c->phase);
	client_budget_release(c); /* the body moved to c->resp, handed out below */
	if (c->evcon != NULL && c->evcon_dead)
		client_drop_connection(c);
	else if (c->evcon != NULL)
		/* Keep an idle connection until the server closes it: evhttp would close it
		 * after its read timeout. The next request sets the timeout again. */
		bufferevent_set_timeouts(c->bev, NULL, NULL);
	/* Take everything out of c first: the callback may free c or start a request. */
	cb = c->cb;
	cb_arg = c->cb_arg;
	status = c->status;
	snprintf(err, sizeof(err), "%s", c->err);
	body = buf_steal(&c->resp, &len);
	c->busy = 0;
	c->done = 0;
	c->cb = NULL;
	if (status == 0)
		log_debug("http: %s", err);
	cb(status, body, len, status == 0 ? err : NULL, cb_arg);
	free(body);
}

void http_client_free(http_client_t *c)
{
	if (c == NULL)
		return;
	client_drop_connection(c);
	client_budget_release(c);
	if (c->timer)
		event_free(c->timer);
	if (c->phase)
		event_free(c->phase);
	if (c->deliver)
		event_free(c->deliver);
	SSL_SESSION_free(c->session);
	SSL_CTX_free(c->ctx);
	buf_free(&c->req_body);
	buf_free(&c->resp);
	free(c->path);
	free(c->content_type);
	free(c->host_header);
	free(c->host);
	free(c);
}

/* ---- blocking fetch ---- */

struct fetch_state {
	int done;    /* the callback ran */
	int status;  /* its status */
	buf_t *resp; /* where the body goes, or NULL */
	err_t *e;    /* where the error goes, or NULL */
};

static void fetch_cb(int status, const uint8_t *body, size_t len, const char *err, void *arg)
{
	struct fetch_state *st = arg;

	st->done = 1;
	st->status = status;
	if (status == 0)
		err_set(st->e, "%s", err ? err : "request failed");
	else if (st->resp != NULL)
		buf_set(st->resp, body, len);
}

int http_fetch(const char *host, int port, const tls_client_opts_t *tls, int timeout_s,
               http_method_t m, const char *path_query, const char *content_type, const void *body,
               size_t len, buf_t *resp, err_t *e)
{
	struct event_base *base;
	http_client_t *c = NULL;
	struct fetch_state st = {0, 0, resp, e};

	if ((base = event_base_new()) == NULL) {
		err_set(e, "event_base_new failed");
		return 0;
	}
	if ((c = client_create(base, host, port, tls, timeout_s, e)) == NULL)
		goto out;
	if (http_client_request(c, m, path_query, content_type, body, len, fetch_cb, &st) != 0) {
		err_set(e, "%s", c->err[0] ? c->err : "bad request parameters");
		goto out;
	}
	while (!st.done)
		if (event_base_loop(base, EVLOOP_ONCE) < 0) {
			err_set(e, "event loop failed");
			break;
		}
out:
	http_client_free(c);
	event_base_free(base);
	return st.done ? st.status : 0;
}

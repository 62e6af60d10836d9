/* agentsrv: see agentsrv.h.
 *
 * A connection is a socket, an SSL object and two events made when it is accepted: the
 * read event stays armed until the connection closes (it notices requests, the client
 * closing, and drives the handshake), the write event is armed only while OpenSSL waits
 * for room in the socket. A request on a kept-alive connection therefore changes no event
 * and costs one read(2) and one write(2): SSL_read into the thread's scratch buffer, the
 * bytes appended to the connection's input (a buffer that keeps its memory between
 * requests), parsed there, the handler's body and the head put together in the thread's
 * reply buffer and written as one TLS record. Nothing is allocated per request once a
 * connection has served its first one, but what OpenSSL itself allocates: its buffers are
 * given back whenever they are empty (SSL_MODE_RELEASE_BUFFERS), so an idle connection
 * holds only its SSL object. */
#include "test/loadgen/agentsrv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "test/loadgen/agentsrv_priv.h"

#define AGENTSRV_READ_CHUNK 16384           /* one TLS record's plaintext at most */
#define AGENTSRV_ACCEPTS    64              /* connections accepted per listener wake-up */
#define AGENTSRV_SWEEP_S    5               /* seconds between two idle sweeps */
#define AGENTSRV_MAX_CONNS  512             /* default cap on open connections */
#define AGENTSRV_SID_CTX    "vigil-loadgen" /* session id context (resumption with mTLS) */
#define AGENTSRV_LOG_EVERY  60              /* seconds between two "refused" log lines */

/* Where a connection is. */
typedef enum conn_state {
	CONN_HANDSHAKE, /* TLS handshake in progress */
	CONN_OPEN,      /* reading requests and answering them */
	CONN_HUNG,      /* a request is left unanswered (a hung agent): input is discarded */
	CONN_CLOSING,   /* the last answer is being written; then the connection closes */
} conn_state_t;

typedef struct listener {
	agentsrv_t *s;    /* owning server */
	int fd;           /* listening socket */
	int tag;          /* what its requests carry */
	struct event *ev; /* EV_READ|EV_PERSIST: connections to accept */
} listener_t;

typedef struct conn {
	agentsrv_t *s;          /* owning server */
	int fd;                 /* socket */
	SSL *ssl;               /* its TLS */
	int tag;                /* the tag of the listener it came from */
	struct event *ev_read;  /* EV_READ|EV_PERSIST, armed for the connection's life */
	struct event *ev_write; /* EV_WRITE|EV_PERSIST, armed only while write_armed */
	int write_armed;        /* ev_write is armed */
	conn_state_t state;     /* see conn_state_t */
	buf_t in;               /* bytes read and not yet taken by a request */
	buf_t out;              /* answer bytes the socket had no room for yet */
	size_t out_off;         /* bytes of out already written */
	time_t last;            /* monotonic seconds when bytes last came in */
	struct conn *prev;      /* s->conns links */
	struct conn *next;      /* s->conns links */
} conn_t;

struct agentsrv {
	struct event_base *base;           /* borrowed loop */
	SSL_CTX *ctx;                      /* one TLS context for every address */
	size_t max_body;                   /* request body limit */
	int idle_s;                        /* idle connections are closed after this */
	agentsrv_handler_fn fn;            /* the request handler */
	void *arg;                         /* its argument */
	listener_t **ls;                   /* listening sockets */
	size_t nls;                        /* entries in ls */
	size_t capls;                      /* room in ls */
	conn_t *conns;                     /* open connections */
	unsigned nconns;                   /* entries in conns */
	unsigned max_conns;                /* cap on nconns */
	struct event *sweep;               /* closes idle connections every AGENTSRV_SWEEP_S */
	buf_t body;                        /* the handler's answer body, reused */
	buf_t reply;                       /* head and body of an answer, reused */
	uint8_t rbuf[AGENTSRV_READ_CHUNK]; /* what SSL_read gives, before it is appended */
	atomic_ulong errors;               /* requests refused as malformed or too large */
	unsigned refused;                  /* connections over the cap, not logged yet */
	time_t refused_logged;             /* when they were last logged */
};

static time_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec;
}

/* "ip:port" of the connection's peer, for log lines. */
static void conn_peer(const conn_t *c, char *out, size_t n)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char ip[INET_ADDRSTRLEN];

	if (getpeername(c->fd, (struct sockaddr *)&sin, &len) != 0 || sin.sin_family != AF_INET ||
	    inet_ntop(AF_INET, &sin.sin_addr, ip, sizeof(ip)) == NULL)
		snprintf(out, n, "?");
	else
		snprintf(out, n, "%s:%u", ip, ntohs(sin.sin_port));
}

/* Close c and free everything it holds; c is gone afterwards. */
static void conn_close(conn_t *c, const char *reason)
{
	agentsrv_t *s = c->s;

	if (log_is_verbose()) {
		char peer[32];
		conn_peer(c, peer, sizeof(peer));
		log_debug("loadgen: connection from %s closed: %s", peer, reason);
	}
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	s->nconns--;
	event_free(c->ev_read);
	event_free(c->ev_write);
	SSL_free(c->ssl);
	close(c->fd);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
}

/* Arm or disarm the write event. */
static void conn_want_write(conn_t *c, int on)
{
	if (on == c->write_armed)
		return;
	if (on)
		event_add(c->ev_write, NULL);
	else
		event_del(c->ev_write);
	c->write_armed = on;
}

/* ---- the request's parser ---- */

/* 1 when the comma-separated header value v (n bytes) holds token t, case-insensitive. */
static int value_has(const char *v, size_t n, const char *t)
{
	size_t tl = strlen(t), i = 0;

	while (i < n) {
		size_t b, e;
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		for (b = i; i < n && v[i] != ','; i++)
			;
		for (e = i; e > b && (v[e - 1] == ' ' || v[e - 1] == '\t'); e--)
			;
		if (e - b == tl && strncasecmp(v + b, t, tl) == 0)
			return 1;
	}
	return 0;
}

static http_method_t method_of(const char *m, size_t n)
{
	if (n == 3 && memcmp(m, "GET", 3) == 0)
		return HTTP_M_GET;
	if (n == 4 && memcmp(m, "POST", 4) == 0)
		return HTTP_M_POST;
	if (n == 3 && memcmp(m, "PUT", 3) == 0)
		return HTTP_M_PUT;
	if (n == 6 && memcmp(m, "DELETE", 6) == 0)
		return HTTP_M_DELETE;
	return HTTP_M_OTHER;
}

/* The request line: METHOD SP /target SP HTTP/1.x. 0, or -1 (malformed). */
static int req_line(const char *l, size_t n, req_head_t *h, int *http10)
{
	const char *sp1 = memchr(l, ' ', n), *sp2;
	size_t mlen;

	if (sp1 == NULL || (mlen = (size_t)(sp1 - l)) == 0 || mlen > 16)
		return -1;
	for (size_t i = 0; i < mlen; i++)
		if (l[i] < 'A' || l[i] > 'Z')
			return -1;
	h->method = method_of(l, mlen);
	h->target = sp1 + 1;
	if ((sp2 = memchr(h->target, ' ', n - mlen - 1)) == NULL)
		return -1;
	h->target_len = (size_t)(sp2 - h->target);
	if (h->target_len == 0 || h->target[0] != '/')
		return -1;
	for (size_t i = 0; i < h->target_len; i++)
		if (h->target[i] <= ' ' || h->target[i] > '~')
			return -1;
	if ((size_t)(l + n - (sp2 + 1)) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
	    (sp2[8] != '0' && sp2[8] != '1'))
		return -1;
	*http10 = sp2[8] == '0';
	return 0;
}

/* One header line (its line end removed). 0, or an HTTP status refusing the request (*why
 * says why). */
static int req_header(const char *l, size_t n, size_t max_body, req_head_t *h, int *have_len,
                      int *keepalive, const char **why)
{
	const char *colon = memchr(l, ':', n), *v;
	size_t nlen, vlen, len = 0;

	*why = "malformed header";
	if (colon == NULL || (nlen = (size_t)(colon - l)) == 0)
		return 400;
	for (size_t i = 0; i < nlen; i++)
		if (l[i] <= ' ' || l[i] > '~')
			return 400; /* also an obsolete folded line, which starts with a space */
	for (v = colon + 1; v < l + n && (*v == ' ' || *v == '\t'); v++)
		;
	for (vlen = (size_t)(l + n - v); vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t');
	     vlen--)
		;
	if (nlen == 14 && strncasecmp(l, "Content-Length", 14) == 0) {
		*why = "malformed Content-Length";
		if (vlen == 0)
			return 400;
		for (size_t i = 0; i < vlen; i++) {
			if (v[i] < '0' || v[i] > '9')
				return 400;
			if (len > max_body) {
				*why = "body too large";
				return 413;
			}
			len = len * 10 + (size_t)(v[i] - '0');
		}
		if (len > max_body) {
			*why = "body too large";
			return 413;
		}
		if (*have_len && len != h->body_len)
			return 400;
		*have_len = 1;
		h->body_len = len;
	} else if (nlen == 17 && strncasecmp(l, "Transfer-Encoding", 17) == 0) {
		*why = "no Transfer-Encoding is supported";
		return 501;
	} else if (nlen == 10 && strncasecmp(l, "Connection", 10) == 0) {
		if (value_has(v, vlen, "close"))
			h->close = 1;
		if (value_has(v, vlen, "keep-alive"))
			*keepalive = 1;
	}
	return 0;
}

/* See agentsrv_priv.h (not static only for the fuzz target). */
int agentsrv_req_parse(const char *p, size_t n, size_t max_body, req_head_t *h, const char **why)
{
	const char *ls = p, *end = p + n, *nl;
	int have_len = 0, keepalive = 0, http10 = 0, rv;

	memset(h, 0, sizeof(*h));
	*why = "malformed request";
	for (;;) {
		size_t len;
		if ((nl = memchr(ls, '\n', (size_t)(end - ls))) == NULL) {
			if (n > AGENTSRV_MAX_HEAD) {
				*why = "request line and headers too large";
				return 413;
			}
			return 0;
		}
		if ((size_t)(nl + 1 - p) > AGENTSRV_MAX_HEAD) {
			*why = "request line and headers too large";
			return 413;
		}
		len = (size_t)(nl - ls);
		if (len > 0 && ls[len - 1] == '\r')
			len--;
		for (size_t i = 0; i < len; i++)
			if (((unsigned char)ls[i] < ' ' && ls[i] != '\t') || ls[i] == 0x7f)
				return 400;
		if (ls == p) {
			if (req_line(ls, len, h, &http10) < 0)
				return 400;
		} else if (len == 0) {
			break;
		} else if ((rv = req_header(ls, len, max_body, h, &have_len, &keepalive, why)) !=
		           0) {
			return rv;
		}
		ls = nl + 1;
	}
	h->head_len = (size_t)(nl + 1 - p);
	if (http10 && !keepalive)
		h->close = 1;
	return n - h->head_len >= h->body_len ? 1 : 0;
}

/* ---- answers ---- */

static const char *reason_of(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Payload Too Large";
	case 501:
		return "Not Implemented";
	default:
		return code >= 500 ? "Internal Server Error" : "Error";
	}
}

static int conn_process(conn_t *c);

/* Write out what is left of c->out. 0, or -1 when c was closed. */
static int conn_flush(conn_t *c)
{
	while (c->out_off < c->out.len) {
		size_t n = c->out.len - c->out_off;
		int r, err;

		ERR_clear_error();
		r = SSL_write(c->ssl, c->out.data + c->out_off, n > INT_MAX ? INT_MAX : (int)n);
		if (r > 0) {
			c->out_off += (size_t)r;
			continue;
		}
		err = SSL_get_error(c->ssl, r);
		if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
			conn_want_write(c, err == SSL_ERROR_WANT_WRITE);
			return 0;
		}
		conn_close(c, "write error");
		return -1;
	}
	/* Sent: an answer that waited for room is rare, so its memory goes back. */
	buf_free(&c->out);
	c->out_off = 0;
	conn_want_write(c, 0);
	if (c->state == CONN_CLOSING) {
		SSL_shutdown(c->ssl); /* close_notify, best effort */
		conn_close(c, "answered, closing as asked");
		return -1;
	}
	return 0;
}

/* Send one answer: the head and body in s->reply, written as one TLS record when the socket
 * has room (what it has no room for waits in c->out). close: the connection closes once it
 * is written. 0, or -1 when c was closed. */
static int conn_answer(conn_t *c, int code, const buf_t *body, int close_after)
{
	agentsrv_t *s = c->s;
	char head[160];
	int hl, r, err;

	hl = snprintf(head, sizeof(head),
	              "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: "
	              "%zu\r\n%s\r\n",
	              code, reason_of(code), body->len, close_after ? "Connection: close\r\n" : "");
	buf_reset(&s->reply);
	buf_reserve(&s->reply, (size_t)hl + body->len);
	buf_append(&s->reply, head, (size_t)hl);
	buf_append(&s->reply, body->data, body->len);
	if (close_after)
		c->state = CONN_CLOSING;
	ERR_clear_error();
	r = SSL_write(c->ssl, s->reply.data, (int)s->reply.len);
	if (r > 0 && (size_t)r == s->reply.len) {
		if (!close_after)
			return 0;
		SSL_shutdown(c->ssl);
		conn_close(c, "answered, closing as asked");
		return -1;
	}
	if (r <= 0) {
		err = SSL_get_error(c->ssl, r);
		if (err != SSL_ERROR_WANT_WRITE && err != SSL_ERROR_WANT_READ) {
			conn_close(c, "write error");
			return -1;
		}
		r = 0;
	}
	/* The socket is full: the rest waits for the write event, and so do further requests. */
	buf_set(&c->out, s->reply.data + r, s->reply.len - (size_t)r);
	c->out_off = 0;
	return conn_flush(c);
}

/* Refuse a request that cannot be parsed: an error envelope, then close. -1 (c closed, or
 * closing once the answer is out). */
static int conn_refuse(conn_t *c, int code, const char *why)
{
	agentsrv_t *s = c->s;
	char peer[32];

	atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
	conn_peer(c, peer, sizeof(peer));
	log_info("loadgen: refused a request from %s: %d, %s", peer, code, why);
	buf_reset(&s->body);
	buf_appendf(&s->body, "{\"code\": %d, \"status\": \"%s: %s\", \"results\": {}}", code,
	            reason_of(code), why);
	if (conn_answer(c, code, &s->body, 1) == 0)
		buf_reset(&c->in); /* nothing more is read from it */
	return -1;
}

/* Answer the complete requests in c->in, in order, while the socket takes the answers. 0,
 * or -1 when c was closed (or is closing). */
static int conn_process(conn_t *c)
{
	agentsrv_t *s = c->s;
	agentsrv_req_t r;
	req_head_t h;
	const char *why;
	char *p;
	size_t used, qoff;
	int rv, code;

	while (c->state == CONN_OPEN && c->out.len == 0 && c->in.len > 0) {
		p = (char *)c->in.data;
		/* Empty lines before a request are to be ignored (RFC 9112 §2.2). */
		for (used = 0; used < c->in.len && (p[used] == '\r' || p[used] == '\n'); used++)
			;
		if (used > 0) {
			memmove(p, p + used, c->in.len - used);
			c->in.len -= used;
			p[c->in.len] = '\0';
			continue;
		}
		rv = agentsrv_req_parse(p, c->in.len, s->max_body, &h, &why);
		if (rv == 0)
			return 0;
		if (rv != 1)
			return conn_refuse(c, rv, why);
		/* NUL-terminate the path and the query in place: the target is followed by a
		 * space, and its '?' ends the path. */
		p[h.target + h.target_len - p] = '\0';
		r.method = h.method;
		r.path = h.target;
		r.query = NULL;
		for (qoff = 0; qoff < h.target_len; qoff++)
			if (h.target[qoff] == '?') {
				p[h.target + qoff - p] = '\0';
				r.query = h.target + qoff + 1;
				break;
			}
		r.body = (const uint8_t *)p + h.head_len;
		r.body_len = h.body_len;
		r.tag = c->tag;
		buf_reset(&s->body);
		code = s->fn(&r, &s->body, s->arg);
		used = h.head_len + h.body_len;
		if (used < c->in.len)
			memmove(p, p + used, c->in.len - used);
		c->in.len -= used;
		p[c->in.len] = '\0';
		if (code == 0) {
			/* A hung agent: this request stays unanswered and nothing more is read. */
			c->state = CONN_HUNG;
			buf_free(&c->in);
			return 0;
		}
		if (conn_answer(c, code, &s->body, h.close) < 0)
			return -1;
	}
	return 0;
}

/* ---- the connection's events ---- */

/* Go on with the TLS handshake. 0 (done, or waiting for the peer), or -1 (c closed). */
static int conn_handshake(conn_t *c)
{
	char peer[32], why[160];
	unsigned long code;
	long vr;
	int r, err;

	ERR_clear_error();
	if ((r = SSL_do_handshake(c->ssl)) == 1) {
		c->state = CONN_OPEN;
		conn_want_write(c, 0);
		return 0;
	}
	err = SSL_get_error(c->ssl, r);
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
		conn_want_write(c, err == SSL_ERROR_WANT_WRITE);
		return 0;
	}
	code = ERR_peek_last_error();
	if ((vr = SSL_get_verify_result(c->ssl)) != X509_V_OK)
		snprintf(why, sizeof(why), "client certificate: %s",
		         X509_verify_cert_error_string(vr));
	else if (code != 0)
		snprintf(why, sizeof(why), "%s", ERR_reason_error_string(code));
	else
		snprintf(why, sizeof(why), "connection closed");
	conn_peer(c, peer, sizeof(peer));
	if (code != 0 || vr != X509_V_OK)
		log_info("loadgen: TLS handshake with %s failed: %s", peer, why);
	ERR_clear_error();
	conn_close(c, why);
	return -1;
}

/* Read what the socket has, and answer the requests that are complete. 0, or -1 when c
 * was closed. */
static int conn_input(conn_t *c)
{
	agentsrv_t *s = c->s;
	int n, err;

	for (;;) {
		ERR_clear_error();
		n = SSL_read(c->ssl, s->rbuf, sizeof(s->rbuf));
		if (n <= 0) {
			err = SSL_get_error(c->ssl, n);
			if (err == SSL_ERROR_WANT_READ)
				return 0;
			if (err == SSL_ERROR_WANT_WRITE) {
				conn_want_write(c, 1);
				return 0;
			}
			conn_close(c, err == SSL_ERROR_ZERO_RETURN ? "closed by the client"
			                                           : "read error or reset");
			return -1;
		}
		if (c->state == CONN_OPEN) {
			buf_append(&c->in, s->rbuf, (size_t)n);
			if (conn_process(c) < 0)
				return -1;
			/* Requests that pile up behind an answer the socket has no room for. */
			if (c->in.len > AGENTSRV_MAX_HEAD + s->max_body) {
				atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
				conn_close(c, "requests piling up unanswered");
				return -1;
			}
		}
		/* The socket is level-triggered: when OpenSSL holds nothing more, the loop
		 * wakes us again if the socket does, so no read(2) is spent on EAGAIN. */
		if (!SSL_has_pending(c->ssl))
			return 0;
	}
}

static void conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_t *c = arg;

	(void)fd;
	(void)what;
	c->last = mono_s();
	if (c->state == CONN_HANDSHAKE && (conn_handshake(c) < 0 || c->state == CONN_HANDSHAKE))
		return;
	conn_input(c);
}

static void conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_t *c = arg;

	(void)fd;
	(void)what;
	if (c->state == CONN_HANDSHAKE) {
		if (conn_handshake(c) < 0 || c->state == CONN_HANDSHAKE)
			return;
		conn_input(c); /* the first request may have come with the handshake's end */
		return;
	}
	if (c->out.len > 0) {
		if (conn_flush(c) < 0 || c->out.len > 0)
			return;
		conn_process(c); /* requests that waited behind the answer */
		return;
	}
	/* An SSL_read that wanted to write (a TLS 1.3 key update, say): read again. */
	conn_want_write(c, 0);
	conn_input(c);
}

static void conn_new(agentsrv_t *s, int fd, int tag)
{
	conn_t *c;
	int one = 1;

	if (s->nconns >= s->max_conns) {
		time_t now = mono_s();
		close(fd);
		s->refused++;
		if (now - s->refused_logged >= AGENTSRV_LOG_EVERY) {
			log_warnx("loadgen: %u connection(s) refused: %u open, the cap", s->refused,
			          s->nconns);
			s->refused = 0;
			s->refused_logged = now;
		}
		return;
	}
	/* No Nagle: an answer is one record, and it must not wait for the peer's ACK. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = xcalloc(1, sizeof(*c));
	c->s = s;
	c->fd = fd;
	c->tag = tag;
	c->last = mono_s();
	c->ssl = SSL_new(s->ctx);
	c->ev_read = event_new(s->base, fd, EV_READ | EV_PERSIST, conn_read_cb, c);
	c->ev_write = event_new(s->base, fd, EV_WRITE | EV_PERSIST, conn_write_cb, c);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, fd) != 1 || c->ev_read == NULL ||
	    c->ev_write == NULL || event_add(c->ev_read, NULL) != 0) {
		log_warnx("loadgen: cannot set up a connection");
		ERR_clear_error();
		if (c->ev_read != NULL)
			event_free(c->ev_read);
		if (c->ev_write != NULL)
			event_free(c->ev_write);
		SSL_free(c->ssl);
		close(fd);
		free(c);
		return;
	}
	SSL_set_accept_state(c->ssl);
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
}

static void listener_cb(evutil_socket_t fd, short what, void *arg)
{
	listener_t *l = arg;

	(void)what;
	for (int i = 0; i < AGENTSRV_ACCEPTS; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("loadgen: accept");
			return;
		}
		conn_new(l->s, cfd, l->tag);
	}
}

/* Close the connections on which nothing came in for idle_s. */
static void sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	agentsrv_t *s = arg;
	time_t now = mono_s();
	conn_t *c, *next;

	(void)fd;
	(void)what;
	for (c = s->conns; c != NULL; c = next) {
		next = c->next;
		if (now - c->last >= s->idle_s)
			conn_close(c, "idle");
	}
}

/* ---- the server ---- */

static SSL_CTX *ctx_new(const tls_server_opts_t *tls)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	STACK_OF(X509_NAME) * names;
	int mode = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;

	if (ctx == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* IGNORE_UNEXPECTED_EOF: a verifier closing without close_notify is a plain close. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	                             SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* Buffers go back when empty; a write that stopped part way goes on from c->out (the
	 * same bytes at another address); read-ahead takes a request's records in one
	 * read(2), and conn_input reads on while OpenSSL holds any of them. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
	                          SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_read_ahead(ctx, 1);
	if (SSL_CTX_use_certificate_chain_file(ctx, tls->cert_file) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, tls->key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	/* Without a session id context a resumed session fails once peers are verified. */
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)AGENTSRV_SID_CTX,
	                               sizeof(AGENTSRV_SID_CTX) - 1);
	if (tls->client_cert == HTTP_CLIENT_CERT_NONE) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return ctx;
	}
	if (tls->client_ca_file == NULL ||
	    SSL_CTX_load_verify_locations(ctx, tls->client_ca_file, NULL) != 1)
		goto fail;
	/* Tell clients which CAs we take, so they pick the right certificate. */
	if ((names = SSL_load_client_CA_file(tls->client_ca_file)) != NULL)
		SSL_CTX_set_client_CA_list(ctx, names);
	ERR_clear_error();
	if (tls->client_cert == HTTP_CLIENT_CERT_REQUIRED)
		mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_CTX_set_verify(ctx, mode, NULL);
	return ctx;
fail:
	log_warnx("loadgen: TLS context from %s, %s, %s: %s", tls->cert_file, tls->key_file,
	          tls->client_ca_file ? tls->client_ca_file : "(no client CA)",
	          ERR_reason_error_string(ERR_peek_last_error()));
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

agentsrv_t *agentsrv_new(struct event_base *base, const tls_server_opts_t *tls, size_t max_body,
                         int idle_s, agentsrv_handler_fn fn, void *arg)
{
	agentsrv_t *s = xcalloc(1, sizeof(*s));
	struct timeval tv = {AGENTSRV_SWEEP_S, 0};

	s->base = base;
	s->max_body = max_body;
	s->idle_s = idle_s;
	s->fn = fn;
	s->arg = arg;
	s->max_conns = AGENTSRV_MAX_CONNS;
	atomic_init(&s->errors, 0);
	if ((s->ctx = ctx_new(tls)) == NULL ||
	    (s->sweep = event_new(base, -1, EV_PERSIST, sweep_cb, s)) == NULL ||
	    event_add(s->sweep, &tv) != 0) {
		agentsrv_free(s);
		return NULL;
	}
	return s;
}

void agentsrv_free(agentsrv_t *s)
{
	if (s == NULL)
		return;
	while (s->conns != NULL)
		conn_close(s->conns, "server stopped");
	for (size_t i = 0; i < s->nls; i++) {
		event_free(s->ls[i]->ev);
		close(s->ls[i]->fd);
		free(s->ls[i]);
	}
	free(s->ls);
	if (s->sweep != NULL)
		event_free(s->sweep);
	SSL_CTX_free(s->ctx);
	buf_free(&s->body);
	buf_free(&s->reply);
	free(s);
}

int agentsrv_listen(agentsrv_t *s, const char *ip, int port, int tag)
{
	struct sockaddr_in sin;
	listener_t *l;
	int fd, one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (port <= 0 || port > 65535 || inet_pton(AF_INET, ip, &sin.sin_addr) != 1) {
		log_warnx("loadgen: bad listen address %s:%d", ip, port);
		return -1;
	}
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		log_warn("loadgen: socket");
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(fd, SOMAXCONN) != 0) {
		log_warn("loadgen: cannot listen on %s:%d", ip, port);
		close(fd);
		return -1;
	}
	l = xcalloc(1, sizeof(*l));
	l->s = s;
	l->fd = fd;
	l->tag = tag;
	if ((l->ev = event_new(s->base, fd, EV_READ | EV_PERSIST, listener_cb, l)) == NULL ||
	    event_add(l->ev, NULL) != 0) {
		log_warnx("loadgen: cannot watch %s:%d", ip, port);
		if (l->ev != NULL)
			event_free(l->ev);
		close(fd);
		free(l);
		return -1;
	}
	if (s->nls == s->capls) {
		s->capls = s->capls ? 2 * s->capls : 16;
		s->ls = xrealloc(s->ls, s->capls * sizeof(*s->ls));
	}
	s->ls[s->nls++] = l;
	return 0;
}

void agentsrv_set_max_connections(agentsrv_t *s, unsigned n)
{
	s->max_conns = n;
}

unsigned long agentsrv_errors(const agentsrv_t *s)
{
	return atomic_load_explicit(&s->errors, memory_order_relaxed);
}

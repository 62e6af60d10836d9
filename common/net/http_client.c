/* http_client: the HTTP/1.1 client of common/net/http.h, on a nonblocking socket with
 * OpenSSL 3 used directly for TLS, and the blocking http_fetch on top of it.
 *
 * One connection at a time per client, replaced by a fresh one (new socket, new SSL
 * object, resumed TLS session) once the old one is closed or failed. A connection has two
 * events for its whole life: reading, always armed (it also notices a server closing an
 * idle kept-alive connection), and writing, armed only while a connect, a handshake or a
 * request waits for room in the socket. A request on a kept-alive connection is written
 * at once with SSL_write and its answer read with SSL_read as it arrives, so a round
 * changes no event and costs no epoll_ctl. The answer is parsed as it comes (status line
 * and headers, then a Content-Length, chunked or until-close body) into a buffer sized to
 * it; nothing is held between requests but the socket and the SSL object, whose buffers
 * OpenSSL gives back when empty. The result of a request is always handed to the caller
 * from an event of our own, so the caller may free the client or start the next request
 * in its callback.
 *
 * The shared set-up, socket helpers and token check are in common/net/http_common.c. */
#include "common/net/http.h"
#include "common/net/http_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"

#define HTTP_MAX_RESP_HEADERS 65536       /* response headers (and trailers) a client accepts */
#define HTTP_MAX_CHUNK_LINE   1024        /* one chunk-size line of a chunked answer */
#define HTTP_MAX_RESPONSE     (32u << 20) /* default response body limit of a client */
#define HTTP_READ_CHUNK       16384       /* bytes read from the connection at a time */

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

/* 1 when host is an IPv4 or IPv6 literal (no SNI for those; match the IP SAN). */
static int http_host_is_ip(const char *host)
{
	unsigned char tmp[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1;
}

/* Where the connection is. */
enum conn_state {
	CS_NONE,       /* no connection */
	CS_CONNECTING, /* TCP connect in progress */
	CS_HANDSHAKE,  /* TLS handshake in progress */
	CS_OPEN,       /* ready for requests */
};

/* Where the answer's parser is. */
enum resp_state {
	RS_HEAD,       /* status line and headers */
	RS_BODY_LEN,   /* a Content-Length body */
	RS_BODY_EOF,   /* a body that ends when the server closes */
	RS_CHUNK_SIZE, /* a chunk-size line */
	RS_CHUNK_DATA, /* a chunk's bytes */
	RS_CHUNK_CRLF, /* the line end after a chunk's bytes */
	RS_TRAILER,    /* trailer lines after the last chunk */
};

/* Why a request got no answer (the kinds client_fail_text tells apart). */
enum fail_kind {
	FK_NONE,      /* not failed */
	FK_TIMEOUT,   /* a deadline passed (or the budget ran out: phase_timeout says) */
	FK_EOF,       /* the server closed the connection */
	FK_MALFORMED, /* the answer is not HTTP/1.x */
	FK_CONN,      /* connect, TLS or socket error */
	FK_TOO_LONG,  /* the answer's body or headers are over their limit */
};

struct http_client {
	struct event_base *base; /* borrowed loop */
	char *host;              /* server name or IP literal; owned */
	int port;                /* server port */
	char *host_header;       /* Host header value; owned */
	int host_is_ip;          /* 1: host is an IP literal */
	SSL_CTX *ctx;            /* NULL for plain HTTP; made once per client (or shared) */
	int check_hostname;      /* 1: the certificate must name host */
	int timeout_s;           /* deadline for one request, connect included */
	int connect_ms;          /* deadline to connect and send the request, 0: none */
	int answer_ms;           /* deadline from the request sent to the answer's first byte */
	size_t max_response;     /* response body limit */
	SSL_SESSION *session;    /* last TLS session, to resume on reconnect */
	int pinned;              /* pinned mode: only the certificate of pin is accepted */
	uint8_t pin[32];         /* SHA-256 of its DER (not the DER: ~0.4 KiB less a node) */

	/* The connection. */
	int fd;                 /* socket, or -1 */
	SSL *ssl;               /* its TLS, or NULL (plain HTTP, or no connection) */
	struct event *ev_read;  /* EV_READ|EV_PERSIST on fd, armed for the connection's life */
	struct event *ev_write; /* EV_WRITE|EV_PERSIST on fd, armed only while needed */
	int write_armed;        /* ev_write is armed */
	enum conn_state cstate; /* where the connection is */
	int conn_dead;          /* not reusable: closed before the next request */
	int conn_used;          /* an answer already came over it */

	/* This request's progress, for the error text and the resend decision. */
	int sent;                 /* bytes of this request went to the server */
	int received;             /* bytes of a response arrived */
	enum fail_kind fail;      /* why it got no answer */
	int alert;                /* fatal TLS alert the server sent, or -1 */
	int tls_started;          /* the TLS handshake began (TCP connected) */
	int sock_err;             /* errno of a failed TCP connect, or 0 */
	unsigned long ssl_err;    /* newest OpenSSL error of this request, or 0 */
	http_budget_t *budget;    /* shared count of answer bytes in flight, or NULL */
	size_t buffered;          /* this request's bytes counted in budget */
	int over_budget;          /* the budget ran out while this answer arrived */
	int phase_timeout;        /* 1: connect timed out, 2: answer, 3: over budget */
	struct client_text *text; /* failure texts, or NULL (none since the last answer) */

	/* The request. */
	int busy;              /* a request is in flight (until its cb runs) */
	int done;              /* its result is ready to be delivered */
	int retry;             /* deliver event must resend instead */
	int retried;           /* this request was already resent once */
	http_method_t method;  /* the request's method */
	buf_t out;             /* the whole request as sent (kept for one resend) */
	size_t out_off;        /* bytes of out written on this connection */
	int wdone;             /* all of out was written */
	int wfailed;           /* writing failed: only the answer may still be read */
	http_response_fn cb;   /* caller's callback */
	void *cb_arg;          /* its argument */
	int status;            /* result: HTTP status or 0 */
	buf_t resp;            /* result: response body */
	struct event *timer;   /* request deadline */
	struct event *phase;   /* connect, then first-byte deadline (when set) */
	struct event *deliver; /* runs the callback (or resend) from the loop */

	/* The answer's parser. */
	enum resp_state rstate;    /* where it is */
	buf_t line;                /* the line being gathered (status, header, chunk size) */
	size_t head_bytes;         /* bytes of status line, headers and trailers so far */
	int resp_status;           /* the status line's code, 0 before it */
	int resp_http10;           /* the answer is HTTP/1.0 */
	int resp_chunked;          /* Transfer-Encoding: chunked */
	int resp_close;            /* Connection: close (or HTTP/1.0 without keep-alive) */
	int resp_keepalive;        /* Connection: keep-alive */
	int have_length;           /* a Content-Length came */
	size_t length;             /* its value */
	size_t remain;             /* body or chunk bytes still to come */
	enum fail_kind parse_fail; /* why the parser refused the answer */
};

/* A client's failure texts: made by its first failure, given back by its next answer, so
 * that the many clients whose requests go well hold none (~0.5 KiB each). */
#define CLIENT_ERR_MAX 256
struct client_text {
	char err[CLIENT_ERR_MAX]; /* result: error text when status is 0 */
	char verify_err[128];     /* why the server certificate was rejected */
	char conn_err[96];        /* a connect failure's own text (name resolution), or "" */
};

static struct client_text *client_text(http_client_t *c)
{
	if (c->text == NULL)
		c->text = xcalloc(1, sizeof(*c->text));
	return c->text;
}

static const char *client_verify_err(const http_client_t *c)
{
	return c->text != NULL ? c->text->verify_err : "";
}

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
	if (c != NULL && client_verify_err(c)[0] == '\0')
		snprintf(client_text(c)->verify_err, sizeof(c->text->verify_err), "%s (depth %d)",
		         X509_verify_cert_error_string(err), X509_STORE_CTX_get_error_depth(xs));
	return 0;
}

/* Notes how far a client handshake got and the server's fatal alert: the error queue
 * does not always survive to the failure report (a reset after the alert). */
/* Notes the server's fatal alert: the error queue does not always survive to the failure
 * report (a reset after the alert). */
static void client_tls_info_cb(const SSL *ssl, int where, int ret)
{
	http_client_t *c = SSL_get_ex_data(ssl, http_ssl_idx_client);

	if (c == NULL)
		return;
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

struct http_tls_pinned {
	SSL_CTX *ctx; /* shared by the clients (each holds a reference) */
};

/* Pinned mode's whole-chain check (it replaces OpenSSL's chain building): the server's
 * certificate must be the pinned one, byte for byte, and within its validity dates. */
static int client_pin_verify_cb(X509_STORE_CTX *xs, void *arg)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	http_client_t *c = ssl ? SSL_get_ex_data(ssl, http_ssl_idx_client) : NULL;
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int err = X509_V_OK;

	(void)arg;
	if (c == NULL || leaf == NULL || !c->pinned)
		err = X509_V_ERR_UNSPECIFIED;
	else if (X509_digest(leaf, EVP_sha256(), md, &mdlen) != 1 || mdlen != sizeof(c->pin) ||
	         CRYPTO_memcmp(md, c->pin, sizeof(c->pin)) != 0)
		err = X509_V_ERR_CERT_UNTRUSTED;
	else if (X509_cmp_current_time(X509_get0_notBefore(leaf)) >= 0)
		err = X509_V_ERR_CERT_NOT_YET_VALID;
	else if (X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0)
		err = X509_V_ERR_CERT_HAS_EXPIRED;
	if (err == X509_V_OK)
		return 1;
	X509_STORE_CTX_set_error(xs, err);
	if (c != NULL && client_verify_err(c)[0] == '\0')
		snprintf(client_text(c)->verify_err, sizeof(c->text->verify_err), "%s",
		         err == X509_V_ERR_CERT_UNTRUSTED ? "not the pinned certificate"
		                                          : X509_verify_cert_error_string(err));
	return 0;
}

static SSL_CTX *client_ctx_new(const tls_client_opts_t *tls, int pinned, err_t *e);

http_tls_pinned_t *http_tls_pinned_new(const tls_client_opts_t *opts, err_t *e)
{
	tls_client_opts_t id = {.cert_pem = opts->cert_pem, .key_pem = opts->key_pem};
	http_tls_pinned_t *p;
	SSL_CTX *ctx;

	http_init();
	/* No anchors: the pin is checked by client_pin_verify_cb, not by chain building. */
	if ((ctx = client_ctx_new(&id, 1, e)) == NULL)
		return NULL;
	SSL_CTX_set_cert_verify_callback(ctx, client_pin_verify_cb, NULL);
	p = xcalloc(1, sizeof(*p));
	p->ctx = ctx;
	return p;
}

void http_tls_pinned_free(http_tls_pinned_t *p)
{
	if (p == NULL)
		return;
	SSL_CTX_free(p->ctx);
	free(p);
}

/* The pin into c: the SHA-256 of its DER (a certificate of the same digest is the same
 * certificate). 0 or -1 (e). */
static int client_set_pin(http_client_t *c, const char *pem, err_t *e)
{
	BIO *bio = pem ? BIO_new_mem_buf(pem, -1) : NULL;
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	unsigned char *der = NULL;
	int len = x ? i2d_X509(x, &der) : -1;

	BIO_free(bio);
	X509_free(x);
	if (len <= 0) {
		ERR_clear_error();
		err_set(e, "the pinned certificate is not a PEM certificate");
		return -1;
	}
	if (EVP_Digest(der, (size_t)len, c->pin, NULL, EVP_sha256(), NULL) != 1) {
		OPENSSL_free(der);
		err_set_ssl(e, "cannot hash the pinned certificate");
		return -1;
	}
	OPENSSL_free(der);
	c->pinned = 1;
	return 0;
}

/* A client context from tls; pinned: no trust anchors at all (the caller installs the
 * pin check). */
static SSL_CTX *client_ctx_new(const tls_client_opts_t *tls, int pinned, err_t *e)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		err_set_ssl(e, "SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* Read and write buffers are given back whenever they are empty: an idle kept-alive
	 * connection then holds none. Writes may end part way (we keep the rest and go on
	 * from where it stopped, with the same bytes at a possibly moved address). Read-ahead
	 * (an answer's records in one read(2) rather than two each) is safe because
	 * client_read always reads until OpenSSL wants more from the socket. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
	                          SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_read_ahead(ctx, 1);
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
	} else if (!pinned && SSL_CTX_set_default_verify_paths(ctx) != 1) {
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
	c->fd = -1;
	c->host = xstrdup(host);
	c->port = port;
	c->host_is_ip = http_host_is_ip(host);
	if (strchr(host, ':') != NULL)
		c->host_header = xasprintf("[%s]:%d", host, port);
	else
		c->host_header = xasprintf("%s:%d", host, port);
	c->timeout_s = timeout_s;
	c->max_response = HTTP_MAX_RESPONSE;
	c->alert = -1;
	if (tls != NULL && tls->shared != NULL) {
		if (client_set_pin(c, tls->pin_pem, e) < 0)
			goto fail;
		SSL_CTX_up_ref(tls->shared->ctx);
		c->ctx = tls->shared->ctx;
	} else if (tls != NULL) {
		if ((c->ctx = client_ctx_new(tls, 0, e)) == NULL)
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
	return c->text != NULL && c->text->err[0] ? c->text->err : "cannot start the request";
}

int http_client_cert_rejected(const http_client_t *c)
{
	return client_verify_err(c)[0] != '\0';
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
}

/* Remember the TLS session of the current connection for the next one. Keeps a copy:
 * SSL_free() on a connection closed without close_notify marks its session object not
 * resumable. */
static void client_keep_session(http_client_t *c)
{
	SSL_SESSION *sess, *copy;

	if (c->ssl == NULL || (sess = SSL_get_session(c->ssl)) == NULL ||
	    !SSL_SESSION_is_resumable(sess))
		return;
	if ((copy = SSL_SESSION_dup(sess)) == NULL) {
		ERR_clear_error();
		return;
	}
	SSL_SESSION_free(c->session);
	c->session = copy;
}

/* Close the current connection (also from inside its own event's callback). */
static void client_drop_connection(http_client_t *c)
{
	if (c->ssl != NULL) {
		client_keep_session(c);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->ev_read != NULL)
		event_free(c->ev_read);
	if (c->ev_write != NULL)
		event_free(c->ev_write);
	c->ev_read = c->ev_write = NULL;
	c->write_armed = 0;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->cstate = CS_NONE;
	c->conn_dead = 0;
	c->conn_used = 0;
}

/* Arm or disarm the write event (one epoll change at most, applied with the loop's next
 * turn, and none when it flips back within the turn). */
static void client_want_write(http_client_t *c, int on)
{
	if (on == c->write_armed || c->ev_write == NULL)
		return;
	if (on)
		event_add(c->ev_write, NULL);
	else
		event_del(c->ev_write);
	c->write_armed = on;
}

/* Note the newest OpenSSL error with a library (the most telling), and empty the queue. */
static void client_take_ssl_error(http_client_t *c)
{
	unsigned long code;

	while ((code = ERR_get_error()) != 0)
		if (ERR_GET_LIB(code) != 0)
			c->ssl_err = code;
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

static const char *client_fail_kind_text(enum fail_kind k)
{
	switch (k) {
	case FK_TIMEOUT:
		return "timeout";
	case FK_EOF:
		return "connection closed";
	case FK_MALFORMED:
		return "malformed response";
	case FK_CONN:
		return "connection error";
	case FK_TOO_LONG:
		return "response too large";
	default:
		return "request failed";
	}
}

/* Compose the error text of a request that got no response. */
static void client_fail_text(http_client_t *c)
{
	struct client_text *t = client_text(c);
	char tls[200] = "";
	size_t n;

	if (t->verify_err[0] != '\0') {
		snprintf(tls, sizeof(tls), ": server certificate rejected: %s", t->verify_err);
	} else if (c->alert >= 0) {
		/* OpenSSL 3.0 has no text for TLS 1.3's certificate_required (116). */
		snprintf(tls, sizeof(tls), ": TLS alert from the server: %s",
		         c->alert == 116 ? "certificate required"
		                         : SSL_alert_desc_string_long(c->alert));
	} else if (c->ssl_err != 0) {
		n = (size_t)snprintf(tls, sizeof(tls), ": TLS: ");
		ERR_error_string_n(c->ssl_err, tls + n, sizeof(tls) - n);
	} else if (c->ctx != NULL && c->tls_started && !c->sent) {
		snprintf(tls, sizeof(tls),
		         c->fail == FK_TIMEOUT ? " (in the TLS handshake)"
		                               : ": TLS handshake failed");
	}
	if (!c->sent && c->sock_err)
		snprintf(t->err, sizeof(t->err), "%s: cannot connect: %s", c->host_header,
		         client_connect_error_text(c->sock_err));
	else if (!c->sent && t->conn_err[0] != '\0')
		snprintf(t->err, sizeof(t->err), "%s: cannot connect: %s", c->host_header,
		         t->conn_err);
	else if (c->phase_timeout == 1)
		snprintf(t->err, sizeof(t->err), "%s: cannot connect: timed out after %d ms%s",
		         c->host_header, c->connect_ms, tls);
	else if (c->phase_timeout == 3)
		snprintf(t->err, sizeof(t->err),
		         "%s: answer dropped after %zu bytes: the answers in flight on this thread "
		         "reached their memory budget (%zu bytes)",
		         c->host_header, c->buffered, c->budget ? c->budget->max : 0);
	else if (c->phase_timeout == 2)
		snprintf(t->err, sizeof(t->err),
		         "%s: slow answer: nothing within %d ms of the request", c->host_header,
		         c->answer_ms);
	else if (c->fail == FK_TIMEOUT)
		snprintf(t->err, sizeof(t->err), "%s: timeout after %d s%s", c->host_header,
		         c->timeout_s, tls);
	else if (c->fail == FK_TOO_LONG)
		snprintf(t->err, sizeof(t->err), "%s: response over %zu bytes", c->host_header,
		         c->max_response);
	else if (!c->sent)
		snprintf(t->err, sizeof(t->err), "%s: cannot connect%s", c->host_header,
		         tls[0] ? tls : "");
	else if (!c->received)
		snprintf(t->err, sizeof(t->err), "%s: connection closed before a response%s",
		         c->host_header, tls);
	else
		snprintf(t->err, sizeof(t->err), "%s: %s%s", c->host_header,
		         client_fail_kind_text(c->fail), tls);
}

/* The request got no answer: close the connection, and deliver the failure from the loop,
 * or resend once instead when the server closed a kept-alive connection under us before
 * any response byte and the method is idempotent. */
static void client_fail(http_client_t *c, enum fail_kind k)
{
	if (!c->busy || c->done || c->retry)
		return;
	c->fail = k;
	if (c->conn_used && !c->received && !c->retried && c->method != HTTP_M_POST &&
	    k != FK_TIMEOUT) {
		client_drop_connection(c);
		c->retry = 1;
		event_active(c->deliver, EV_TIMEOUT, 0);
		return;
	}
	client_fail_text(c);
	client_drop_connection(c);
	c->status = 0;
	c->done = 1;
	event_active(c->deliver, EV_TIMEOUT, 0);
}

/* The whole answer is in: deliver it from the loop. */
static void client_complete(http_client_t *c)
{
	c->status = c->resp_status;
	c->done = 1;
	c->conn_used = 1;
	/* An answer that came before the whole request went out, or that ends the
	 * connection, leaves it unusable. */
	if (c->resp_close || c->rstate == RS_BODY_EOF || !c->wdone || c->wfailed)
		c->conn_dead = 1;
	/* Bytes past the answer (nothing asked for them) would be read as the next
	 * request's answer: never reuse such a connection. */
	if (c->ssl != NULL && SSL_has_pending(c->ssl))
		c->conn_dead = 1;
	if (c->conn_dead)
		client_drop_connection(c);
	else if (c->ssl != NULL)
		SSL_free_buffers(c->ssl); /* already given back when empty; this makes sure */
	buf_free(&c->line);
	event_active(c->deliver, EV_TIMEOUT, 0);
}

/* ---- the answer's parser ---- */

/* Append n body bytes, within the limit. 0, or -1 (failed). */
static int resp_body(http_client_t *c, const uint8_t *p, size_t n)
{
	if (n > c->max_response - c->resp.len) {
		c->parse_fail = FK_TOO_LONG;
		return -1;
	}
	buf_append(&c->resp, p, n);
	return 0;
}

/* The headers ended: decide how the body comes. 1 when the answer is complete, 0 to go
 * on, -1 when it failed. */
static int resp_headers_done(http_client_t *c)
{
	int st = c->resp_status;

	if (st >= 100 && st < 200) {
		/* An interim answer (100 Continue and the like): the real one follows. */
		c->resp_status = 0;
		c->resp_chunked = c->resp_close = c->resp_keepalive = c->have_length = 0;
		return 0;
	}
	if (c->resp_http10 && !c->resp_keepalive)
		c->resp_close = 1;
	if (st == 204 || st == 304)
		return 1;
	if (c->resp_chunked) {
		c->rstate = RS_CHUNK_SIZE;
		return 0;
	}
	if (c->have_length) {
		if (c->length > c->max_response) {
			c->parse_fail = FK_TOO_LONG;
			return -1;
		}
		if (c->length == 0)
			return 1;
		buf_reserve(&c->resp, c->length);
		c->remain = c->length;
		c->rstate = RS_BODY_LEN;
		return 0;
	}
	c->rstate = RS_BODY_EOF;
	return 0;
}

/* 1 when the comma-separated header value v holds token t (case-insensitive). */
static int resp_value_has(const char *v, const char *t)
{
	size_t tl = strlen(t);

	while (*v != '\0') {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		const char *end = v;
		while (*end != '\0' && *end != ',')
			end++;
		const char *e = end;
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((size_t)(e - v) == tl && strncasecmp(v, t, tl) == 0)
			return 1;
		v = end;
	}
	return 0;
}

/* The status line. 0, or -1 (malformed). */
static int resp_status_line(http_client_t *c, const char *l)
{
	int st = 0;

	if (strncmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1') || l[8] != ' ')
		return -1;
	for (int i = 9; i < 12; i++) {
		if (l[i] < '0' || l[i] > '9')
			return -1;
		st = st * 10 + (l[i] - '0');
	}
	if ((l[12] != '\0' && l[12] != ' ') || st < 100 || st > 599)
		return -1;
	c->resp_status = st;
	c->resp_http10 = l[7] == '0';
	return 0;
}

/* One header line (NUL-terminated, line end removed). 0, or -1 (malformed). */
static int resp_header_line(http_client_t *c, char *l)
{
	char *colon, *v, *end;

	if (*l == ' ' || *l == '\t')
		return 0; /* an obsolete folded continuation: of no header we read */
	if ((colon = strchr(l, ':')) == NULL || colon == l)
		return -1;
	for (char *p = l; p < colon; p++)
		if (*p <= ' ' || *p > '~')
			return -1;
	*colon = '\0';
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	for (end = v + strlen(v); end > v && (end[-1] == ' ' || end[-1] == '\t'); end--)
		;
	*end = '\0';
	if (strcasecmp(l, "Content-Length") == 0) {
		size_t n = 0;
		if (*v == '\0')
			return -1;
		for (const char *p = v; *p != '\0'; p++) {
			if (*p < '0' || *p > '9' || n > (SIZE_MAX - 9) / 10)
				return -1;
			n = n * 10 + (size_t)(*p - '0');
		}
		if (c->have_length && n != c->length)
			return -1;
		c->have_length = 1;
		c->length = n;
	} else if (strcasecmp(l, "Transfer-Encoding") == 0) {
		c->resp_chunked = strcasecmp(v, "chunked") == 0;
	} else if (strcasecmp(l, "Connection") == 0) {
		if (resp_value_has(v, "close"))
			c->resp_close = 1;
		if (resp_value_has(v, "keep-alive"))
			c->resp_keepalive = 1;
	}
	return 0;
}

/* A chunk-size line: hex digits, then extensions after ';'. 0, or -1 (malformed). */
static int resp_chunk_size(http_client_t *c, const char *l, size_t *size)
{
	size_t n = 0;
	const char *p = l;

	for (; *p != '\0' && *p != ';' && *p != ' ' && *p != '\t'; p++) {
		int d = hex_digit_value((unsigned char)*p);
		if (d < 0 || n > (SIZE_MAX >> 4))
			return -1;
		n = (n << 4) | (size_t)d;
	}
	if (p == l)
		return -1;
	(void)c;
	*size = n;
	return 0;
}

/* A complete line of the answer (line end removed). 1 when the answer is complete, 0 to go
 * on, -1 when it failed. */
static int resp_line(http_client_t *c, char *l)
{
	size_t size;

	switch (c->rstate) {
	case RS_HEAD:
		if (c->resp_status == 0) {
			if (resp_status_line(c, l) != 0)
				goto malformed;
			return 0;
		}
		if (*l == '\0')
			return resp_headers_done(c);
		if (resp_header_line(c, l) != 0)
			goto malformed;
		return 0;
	case RS_CHUNK_SIZE:
		if (resp_chunk_size(c, l, &size) != 0)
			goto malformed;
		if (size == 0) {
			c->rstate = RS_TRAILER;
			return 0;
		}
		if (size > c->max_response - c->resp.len) {
			c->parse_fail = FK_TOO_LONG;
			return -1;
		}
		c->remain = size;
		c->rstate = RS_CHUNK_DATA;
		return 0;
	case RS_CHUNK_CRLF:
		if (*l != '\0')
			goto malformed;
		c->rstate = RS_CHUNK_SIZE;
		return 0;
	case RS_TRAILER:
		return *l == '\0' ? 1 : 0;
	default:
		goto malformed;
	}
malformed:
	c->parse_fail = FK_MALFORMED;
	return -1;
}

/* Bytes of the answer as they arrive. 1 when the answer is complete, 0 to go on, -1 when
 * it failed. */
static int resp_feed(http_client_t *c, const uint8_t *p, size_t n)
{
	int rv;

	while (n > 0) {
		switch (c->rstate) {
		case RS_BODY_LEN:
		case RS_CHUNK_DATA: {
			size_t k = n < c->remain ? n : c->remain;
			if (resp_body(c, p, k) != 0)
				return -1;
			p += k;
			n -= k;
			c->remain -= k;
			if (c->remain > 0)
				break;
			if (c->rstate == RS_BODY_LEN) {
				c->resp_close |= n > 0; /* bytes past the answer */
				return 1;
			}
			c->rstate = RS_CHUNK_CRLF;
			break;
		}
		case RS_BODY_EOF:
			if (resp_body(c, p, n) != 0)
				return -1;
			n = 0;
			break;
		default: {
			/* Line by line: status line, headers, chunk sizes, trailers. */
			const uint8_t *nl = memchr(p, '\n', n);
			size_t k = nl ? (size_t)(nl - p) + 1 : n;
			size_t limit = c->rstate == RS_CHUNK_SIZE || c->rstate == RS_CHUNK_CRLF
			                   ? HTTP_MAX_CHUNK_LINE
			                   : HTTP_MAX_RESP_HEADERS;
			if (c->rstate == RS_HEAD || c->rstate == RS_TRAILER)
				c->head_bytes += k;
			if (c->line.len + k > limit || c->head_bytes > HTTP_MAX_RESP_HEADERS) {
				c->parse_fail =
				    limit == HTTP_MAX_CHUNK_LINE ? FK_MALFORMED : FK_TOO_LONG;
				return -1;
			}
			buf_append(&c->line, p, k);
			p += k;
			n -= k;
			if (nl == NULL)
				break;
			c->line.len--; /* the '\n' */
			if (c->line.len > 0 && c->line.data[c->line.len - 1] == '\r')
				c->line.len--;
			c->line.data[c->line.len] = '\0';
			if (memchr(c->line.data, '\0', c->line.len) != NULL) {
				c->parse_fail = FK_MALFORMED;
				return -1;
			}
			rv = resp_line(c, (char *)c->line.data);
			buf_reset(&c->line);
			if (rv > 0)
				c->resp_close |= n > 0; /* bytes past the answer */
			if (rv != 0)
				return rv;
			break;
		}
		}
	}
	return 0;
}

int http_answer_parse(const uint8_t *p, size_t n, size_t split, size_t max, int *status,
                      size_t *body_len)
{
	http_client_t c;
	int rv;

	memset(&c, 0, sizeof(c));
	c.max_response = max;
	c.rstate = RS_HEAD;
	if (split > n)
		split = n;
	rv = resp_feed(&c, p, split);
	if (rv == 0)
		rv = resp_feed(&c, p + split, n - split);
	if (rv == 0 && c.rstate == RS_BODY_EOF)
		rv = 1; /* the server closing now ends the answer */
	*status = rv > 0 ? c.resp_status : 0;
	*body_len = c.resp.len;
	if (c.resp.len > max ||
	    (rv > 0 && c.have_length && !c.resp_chunked && c.resp_status != 204 &&
	     c.resp_status != 304 && c.resp.len != c.length))
		abort(); /* the parser broke its own rules */
	buf_free(&c.line);
	buf_free(&c.resp);
	return rv;
}

/* ---- the connection's input and output ---- */

/* Write what is left of the request. 0 (written, waiting for room, or the write failed
 * and only the answer may still come: wfailed), or -1 when the request failed. */
static int client_write(http_client_t *c)
{
	while (c->out_off < c->out.len) {
		size_t n = c->out.len - c->out_off;
		ssize_t k;

		if (c->ssl != NULL) {
			int r;
			ERR_clear_error();
			r = SSL_write(c->ssl, c->out.data + c->out_off,
			              n > INT_MAX ? INT_MAX : (int)n);
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
					client_want_write(c, e == SSL_ERROR_WANT_WRITE);
					return 0;
				}
				client_take_ssl_error(c);
				goto failed;
			}
			k = r;
		} else {
			k = send(c->fd, c->out.data + c->out_off, n, MSG_NOSIGNAL);
			if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
				client_want_write(c, 1);
				return 0;
			}
			if (k <= 0)
				goto failed;
		}
		c->out_off += (size_t)k;
		if (!c->sent) {
			c->sent = 1;
			if (!c->received)
				client_phase_arm(c, c->answer_ms);
		}
	}
	c->wdone = 1;
	client_want_write(c, 0);
	return 0;
failed:
	/* A server refusing a large body (413) closes while we still write: read its
	 * answer instead of reporting the write error. */
	c->wfailed = 1;
	c->conn_dead = 1;
	client_want_write(c, 0);
	return 0;
}

/* Read what the server sent while a request is in flight. */
static void client_read(http_client_t *c)
{
	uint8_t tmp[HTTP_READ_CHUNK];
	int rv;

	for (;;) {
		ssize_t k;

		if (c->ssl != NULL) {
			int r;
			ERR_clear_error();
			r = SSL_read(c->ssl, tmp, sizeof(tmp));
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_READ)
					return;
				if (e == SSL_ERROR_WANT_WRITE) {
					client_want_write(c, 1);
					return;
				}
				if (e == SSL_ERROR_ZERO_RETURN)
					goto eof;
				client_take_ssl_error(c);
				client_fail(c, FK_CONN);
				return;
			}
			k = r;
		} else {
			k = recv(c->fd, tmp, sizeof(tmp), 0);
			if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
				return;
			if (k == 0)
				goto eof;
			if (k < 0) {
				client_fail(c, FK_CONN);
				return;
			}
		}
		if (!c->received) {
			c->received = 1;
			evtimer_del(c->phase);
		}
		if (c->budget != NULL) {
			c->buffered += (size_t)k;
			c->budget->used += (size_t)k;
			if (c->budget->used > c->budget->max) {
				c->over_budget = 1;
				c->phase_timeout = 3;
				client_fail(c, FK_TIMEOUT);
				return;
			}
		}
		if ((rv = resp_feed(c, tmp, (size_t)k)) < 0) {
			client_fail(c, c->parse_fail);
			return;
		}
		if (rv > 0) {
			client_complete(c);
			return;
		}
	}
eof:
	if (c->rstate == RS_BODY_EOF) {
		c->resp_close = 1;
		client_complete(c);
	} else {
		client_fail(c, FK_EOF);
	}
}

/* The connection is idle and something happened on it: the server closed it (or sent
 * what nobody asked for; or, over TLS, a session ticket, which is kept). */
static void client_idle_read(http_client_t *c)
{
	uint8_t tmp[256];

	if (c->ssl != NULL) {
		int r;
		ERR_clear_error();
		r = SSL_read(c->ssl, tmp, sizeof(tmp));
		if (r <= 0 && SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_READ) {
			SSL_free_buffers(c->ssl);
			return;
		}
		ERR_clear_error();
	} else {
		ssize_t k = recv(c->fd, tmp, sizeof(tmp), 0);
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
	}
	log_debug("http: %s: the server closed the kept-alive connection", c->host_header);
	client_drop_connection(c);
}

/* A pinned connection's peer certificates past the first: the pin check looked at the
 * server's own certificate only, and nothing reads the others (an agent whose TLS server
 * sends its CA with its certificate). The session keeps the decoded chain as long as the
 * connection lives (and the copy kept for resumption with it): ~3.5 KiB a certificate,
 * given back now. */
static void client_trim_peer_chain(SSL *ssl)
{
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);

	while (chain != NULL && sk_X509_num(chain) > 1)
		X509_free(sk_X509_pop(chain));
}

/* The TLS handshake goes on. 0 when it is done, 1 when it waits, -1 when it failed (and
 * with it the request). */
static int client_handshake(http_client_t *c)
{
	int r, e;

	ERR_clear_error();
	if ((r = SSL_connect(c->ssl)) == 1) {
		if (c->pinned)
			client_trim_peer_chain(c->ssl);
		c->cstate = CS_OPEN;
		client_want_write(c, 0);
		return 0;
	}
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		client_want_write(c, e == SSL_ERROR_WANT_WRITE);
		return 1;
	}
	client_take_ssl_error(c);
	client_fail(c, FK_CONN);
	return -1;
}

/* TCP is connected: start TLS, or be ready. */
static void client_connected(http_client_t *c)
{
	http_fd_nodelay(c->fd);
	if (c->ssl != NULL) {
		c->tls_started = 1;
		c->cstate = CS_HANDSHAKE;
	} else {
		c->cstate = CS_OPEN;
	}
	client_want_write(c, 0);
}

/* Everything that happens on the connection. */
static void client_io_cb(evutil_socket_t fd, short what, void *arg)
{
	http_client_t *c = arg;

	if (c->cstate == CS_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt((int)fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err != 0) {
			c->sock_err = err;
			client_fail(c, FK_CONN);
			return;
		}
		if (!(what & EV_WRITE))
			return; /* not connected yet: the socket turns writable when it is */
		client_connected(c);
	}
	if (c->cstate == CS_HANDSHAKE && client_handshake(c) != 0)
		return;
	if (c->cstate != CS_OPEN)
		return;
	if (!c->busy || c->done || c->retry) {
		if (what & EV_READ)
			client_idle_read(c);
		return;
	}
	if (!c->wdone && !c->wfailed)
		client_write(c);
	if ((what & EV_READ) || c->wfailed || (c->ssl != NULL && SSL_has_pending(c->ssl)))
		client_read(c);
}

/* Open a new connection: a nonblocking connect, its events, and the SSL object. 0 when
 * under way (or failed, with the failure delivered from the loop), -1 when it could not
 * start at all (http_client_error says why). */
static int client_connect(http_client_t *c)
{
	struct addrinfo hints, *ai = NULL;
	char port[8];
	int fd, r, gai;

	if (c->ctx != NULL) {
		if ((c->ssl = SSL_new(c->ctx)) == NULL) {
			err_set_ssl(NULL, "SSL_new");
			snprintf(client_text(c)->err, CLIENT_ERR_MAX, "SSL_new failed");
			return -1;
		}
		SSL_set_ex_data(c->ssl, http_ssl_idx_client, c);
		if (!c->host_is_ip)
			SSL_set_tlsext_host_name(c->ssl, c->host);
		if (c->check_hostname) {
			if (c->host_is_ip)
				X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), c->host);
			else
				SSL_set1_host(c->ssl, c->host);
		}
		if (c->session != NULL && SSL_SESSION_is_resumable(c->session))
			SSL_set_session(c->ssl, c->session);
		SSL_set_connect_state(c->ssl);
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (c->host_is_ip ? AI_NUMERICHOST : 0);
	snprintf(port, sizeof(port), "%d", c->port);
	if ((gai = getaddrinfo(c->host, port, &hints, &ai)) != 0 || ai == NULL) {
		snprintf(client_text(c)->conn_err, sizeof(c->text->conn_err),
		         "cannot resolve %s: %s", c->host,
		         gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
		goto failed;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		c->sock_err = errno;
		goto failed;
	}
	r = connect(fd, ai->ai_addr, ai->ai_addrlen);
	if (r != 0 && errno != EINPROGRESS) {
		c->sock_err = errno;
		close(fd);
		goto failed;
	}
	freeaddrinfo(ai);
	ai = NULL;
	c->fd = fd;
	if (c->ssl != NULL)
		SSL_set_fd(c->ssl, fd);
	c->ev_read = event_new(c->base, fd, EV_READ | EV_PERSIST, client_io_cb, c);
	c->ev_write = event_new(c->base, fd, EV_WRITE | EV_PERSIST, client_io_cb, c);
	if (c->ev_read == NULL || c->ev_write == NULL || event_add(c->ev_read, NULL) != 0) {
		client_drop_connection(c);
		snprintf(client_text(c)->err, CLIENT_ERR_MAX, "cannot create a connection");
		return -1;
	}
	if (r == 0) {
		client_connected(c);
	} else {
		c->cstate = CS_CONNECTING;
		client_want_write(c, 1);
	}
	return 0;
failed:
	if (ai != NULL)
		freeaddrinfo(ai);
	client_fail(c, FK_CONN);
	return 0;
}

/* Send the request in c->out: on the kept-alive connection when there is one, else on a
 * new one. 0 (under way, or failed with the failure delivered from the loop), or -1 when it
 * could not start. */
static int client_send(http_client_t *c)
{
	if (c->conn_dead)
		client_drop_connection(c);
	c->sent = c->received = 0;
	c->fail = FK_NONE;
	if (c->text != NULL)
		c->text->verify_err[0] = c->text->conn_err[0] = '\0';
	c->alert = -1;
	c->tls_started = 0;
	c->sock_err = 0;
	c->ssl_err = 0;
	c->phase_timeout = 0;
	c->over_budget = 0;
	client_budget_release(c);
	c->out_off = 0;
	c->wdone = c->wfailed = 0;
	c->rstate = RS_HEAD;
	c->head_bytes = 0;
	c->resp_status = c->resp_http10 = c->resp_chunked = 0;
	c->resp_close = c->resp_keepalive = c->have_length = 0;
	c->length = c->remain = 0;
	buf_reset(&c->line);
	buf_reset(&c->resp);
	client_phase_arm(c, c->connect_ms);
	if (c->cstate == CS_NONE && client_connect(c) != 0)
		return -1;
	if (c->busy && !c->done && !c->retry) {
		/* On a kept-alive connection, the request goes out now; the handshake of a
		 * new one may have completed at once too. */
		if (c->cstate == CS_HANDSHAKE && client_handshake(c) != 0)
			return 0;
		if (c->cstate == CS_OPEN)
			client_write(c);
		if (c->wfailed && c->busy && !c->done && !c->retry)
			client_read(c);
	}
	return 0;
}

int http_client_request(http_client_t *c, http_method_t m, const char *path_query,
                        const char *content_type, const void *body, size_t len, http_response_fn cb,
                        void *arg)
{
	return http_client_request_headers(c, m, path_query, content_type, NULL, 0, body, len, cb,
	                                   arg);
}

int http_client_request_headers(http_client_t *c, http_method_t m, const char *path_query,
                                const char *content_type, const http_header_t *headers,
                                size_t nheaders, const void *body, size_t len, http_response_fn cb,
                                void *arg)
{
	struct timeval tv = {c->timeout_s, 0};

	if (c->busy || !http_token_ok(path_query, 0) || path_query[0] != '/' || cb == NULL ||
	    (content_type != NULL && !http_token_ok(content_type, 1)))
		return -1;
	if (m != HTTP_M_GET && m != HTTP_M_POST && m != HTTP_M_PUT && m != HTTP_M_DELETE)
		return -1;
	for (size_t i = 0; i < nheaders; i++)
		if (headers[i].name == NULL || headers[i].value == NULL ||
		    !http_token_ok(headers[i].name, 0) || !http_token_ok(headers[i].value, 1) ||
		    strchr(headers[i].name, ':') != NULL)
			return -1;
	if (body == NULL)
		len = 0;
	buf_reset(&c->out);
	buf_reserve(&c->out, 256 + len);
	buf_appendf(&c->out, "%s %s HTTP/1.1\r\nHost: %s\r\n", http_method_name(m), path_query,
	            c->host_header);
	if (content_type != NULL)
		buf_appendf(&c->out, "Content-Type: %s\r\n", content_type);
	for (size_t i = 0; i < nheaders; i++)
		buf_appendf(&c->out, "%s: %s\r\n", headers[i].name, headers[i].value);
	if (len > 0 || m == HTTP_M_POST || m == HTTP_M_PUT)
		buf_appendf(&c->out, "Content-Length: %zu\r\n", len);
	buf_append(&c->out, "\r\n", 2);
	if (len > 0)
		buf_append(&c->out, body, len);
	c->method = m;
	c->cb = cb;
	c->cb_arg = arg;
	c->busy = 1;
	c->done = c->retry = c->retried = 0;
	c->status = 0;
	if (c->text != NULL)
		c->text->err[0] = '\0';
	log_debug("http: %s %s%s", http_method_name(m), c->host_header, path_query);
	if (client_send(c) != 0) {
		c->busy = 0;
		buf_free(&c->out);
		return -1;
	}
	/* The request may already have failed inside client_send (a refused connect); the
	 * delivery is queued then. */
	evtimer_add(c->timer, &tv);
	return 0;
}

static void client_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	http_client_t *c = arg;

	(void)fd;
	(void)what;
	if (!c->busy || c->done || c->retry)
		return;
	c->retried = 1; /* a deadline is never followed by a resend */
	client_fail(c, FK_TIMEOUT);
}

/* The connect or first-byte deadline passed: fail the request as the total deadline
 * does, saying which phase was slow. */
static void client_phase_cb(evutil_socket_t fd, short what, void *arg)
{
	http_client_t *c = arg;

	(void)what;
	if (!c->busy || c->done || c->retry)
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
	char err[CLIENT_ERR_MAX];

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
	if (c->conn_dead)
		client_drop_connection(c);
	buf_free(&c->out);
	buf_free(&c->line);
	/* Take everything out of c first: the callback may free c or start a request. */
	cb = c->cb;
	cb_arg = c->cb_arg;
	status = c->status;
	snprintf(err, sizeof(err), "%s", c->text != NULL ? c->text->err : "");
	if (status != 0) { /* an answer: no failure text is kept */
		free(c->text);
		c->text = NULL;
	}
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
	free(c->text);
	buf_free(&c->out);
	buf_free(&c->line);
	buf_free(&c->resp);
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
		err_set(e, "%s",
		        c->text != NULL && c->text->err[0] ? c->text->err
		                                           : "bad request parameters");
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

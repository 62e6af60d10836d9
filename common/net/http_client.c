/* http_client: the HTTP/1.1 client of common/net/http.h, on libevent 2.1 evhttp with OpenSSL 3
 * for TLS, and the blocking http_fetch on top of it.
 *
 * One evhttp_connection at a time per client, replaced by a fresh one (new socket,
 * new SSL object, resumed TLS session) once the old one is closed or failed. The result
 * of a request is always handed to the caller from an event of our own, never from inside
 * evhttp, so the caller may free the client or start the next request in its callback.
 *
 * The shared set-up, socket helpers and token check are in common/net/http_common.c. */
#include "common/net/http.h"
#include "common/net/http_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"

#define HTTP_MAX_RESP_HEADERS 65536       /* response headers a client accepts */
#define HTTP_MAX_RESPONSE     (32u << 20) /* default response body limit of a client */

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
	uint8_t *pin;            /* pinned mode: the DER of the one certificate accepted */
	size_t pin_len;          /* its length */

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
	buf_t extra_headers;      /* "name\0value\0" pairs sent with this request */
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
	unsigned char *der = NULL;
	int len, err = X509_V_OK;

	(void)arg;
	if (c == NULL || leaf == NULL || c->pin == NULL)
		err = X509_V_ERR_UNSPECIFIED;
	else if ((len = i2d_X509(leaf, &der)) < 0 || (size_t)len != c->pin_len ||
	         memcmp(der, c->pin, c->pin_len) != 0)
		err = X509_V_ERR_CERT_UNTRUSTED;
	else if (X509_cmp_current_time(X509_get0_notBefore(leaf)) >= 0)
		err = X509_V_ERR_CERT_NOT_YET_VALID;
	else if (X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0)
		err = X509_V_ERR_CERT_HAS_EXPIRED;
	OPENSSL_free(der);
	if (err == X509_V_OK)
		return 1;
	X509_STORE_CTX_set_error(xs, err);
	if (c != NULL && c->verify_err[0] == '\0')
		snprintf(c->verify_err, sizeof(c->verify_err), "%s",
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

/* The pin's DER into c. 0 or -1 (e). */
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
	c->pin = xmemdup(der, (size_t)len);
	c->pin_len = (size_t)len;
	OPENSSL_free(der);
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
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* No read-ahead (which would read an answer's records in one read(2) rather than two
	 * each): bufferevent_openssl then misses data already buffered in the SSL object and
	 * waits on a socket with nothing more to come. */
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
	for (size_t off = 0; off < c->extra_headers.len;) {
		const char *name = (const char *)c->extra_headers.data + off;
		const char *value = name + strlen(name) + 1;
		evhttp_add_header(h, name, value);
		off += strlen(name) + strlen(value) + 2;
	}
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
	for (size_t i = 0; i < nheaders; i++)
		if (headers[i].name == NULL || headers[i].value == NULL ||
		    !http_token_ok(headers[i].name, 0) || !http_token_ok(headers[i].value, 1) ||
		    strchr(headers[i].name, ':') != NULL)
			return -1;
	buf_reset(&c->extra_headers);
	for (size_t i = 0; i < nheaders; i++) {
		buf_append(&c->extra_headers, headers[i].name, strlen(headers[i].name) + 1);
		buf_append(&c->extra_headers, headers[i].value, strlen(headers[i].value) + 1);
	}
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
	free(c->pin);
	buf_free(&c->req_body);
	buf_free(&c->extra_headers);
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

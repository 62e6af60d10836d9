/* Unit tests for common/http: a server and a client in one process on 127.0.0.1, plain
 * and TLS, with certificates made here (a CA with a server and a client certificate, an
 * unrelated CA with its own client certificate, and a self-signed server certificate to
 * pin). They check what a daemon and its peers see: round trips, the Keylime envelope,
 * limits, client-certificate policies, pinning, keep-alive, timeouts, http_fetch. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cmocka.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/base/buf.h"
#include "common/net/http.h"
#include "common/base/log.h"
#include "common/base/xmalloc.h"

int main(void);

static char tmpdir[] = "/tmp/vigil-test-http.XXXXXX";
static struct event_base *base;
static char *self_pem;  /* the self-signed server certificate, for pinning */
static char *other_pem; /* another self-signed certificate, which must not verify */

/* ---- certificates ---- */

static char *path_of(const char *name)
{
	return xasprintf("%s/%s", tmpdir, name);
}

static void add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/* Make name.crt / name.key: issued by issuer (NULL: self-signed); ca: a CA certificate. */
static void make_cert(const char *name, const char *cn, const char *issuer, int ca, const char *san,
                      X509 **out_cert, EVP_PKEY **out_key)
{
	static long serial = 1;
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *ikey = key;
	X509 *x = X509_new(), *ix = NULL;
	X509V3_CTX v3;
	X509_NAME *n;
	FILE *f;
	char *p;

	assert_non_null(key);
	if (issuer != NULL) {
		p = xasprintf("%s/%s.crt", tmpdir, issuer);
		f = fopen(p, "r");
		assert_non_null(f);
		ix = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
		free(p);
		p = xasprintf("%s/%s.key", tmpdir, issuer);
		f = fopen(p, "r");
		assert_non_null(f);
		ikey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		free(p);
		assert_non_null(ix);
		assert_non_null(ikey);
	}
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, ix ? X509_get_subject_name(ix) : n);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, ix ? ix : x, x, NULL, NULL, 0);
	add_ext(x, &v3, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
	add_ext(x, &v3, NID_subject_key_identifier, "hash");
	if (ca) {
		add_ext(x, &v3, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(x, &v3, NID_key_usage, "critical,digitalSignature");
		add_ext(x, &v3, NID_ext_key_usage, "serverAuth,clientAuth");
	}
	if (san != NULL)
		add_ext(x, &v3, NID_subject_alt_name, san);
	assert_true(X509_sign(x, ikey, EVP_sha256()) > 0);

	p = xasprintf("%s/%s.crt", tmpdir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	PEM_write_X509(f, x);
	fclose(f);
	free(p);
	p = xasprintf("%s/%s.key", tmpdir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	free(p);
	if (ikey != key)
		EVP_PKEY_free(ikey);
	X509_free(ix);
	if (out_cert)
		*out_cert = x;
	else
		X509_free(x);
	if (out_key)
		*out_key = key;
	else
		EVP_PKEY_free(key);
}

static char *read_text(const char *name)
{
	buf_t b = BUF_INIT;
	char *p = path_of(name);
	assert_int_equal(buf_read_file(&b, p, 1 << 20), 0);
	free(p);
	return (char *)buf_steal(&b, NULL);
}

static int group_setup(void **state)
{
	(void)state;
	log_init("test_http", 1, getenv("HTTP_TEST_VERBOSE") != NULL);
	evthread_use_pthreads();
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	make_cert("ca", "vigil test CA", NULL, 1, NULL, NULL, NULL);
	make_cert("server", "server", "ca", 0, "IP:127.0.0.1,DNS:localhost", NULL, NULL);
	make_cert("client", "client", "ca", 0, NULL, NULL, NULL);
	make_cert("ca2", "unrelated CA", NULL, 1, NULL, NULL, NULL);
	make_cert("client2", "stranger", "ca2", 0, NULL, NULL, NULL);
	make_cert("self", "agent-self-signed", NULL, 0, NULL, NULL, NULL);
	make_cert("other", "another-self-signed", NULL, 0, NULL, NULL, NULL);
	self_pem = read_text("self.crt");
	other_pem = read_text("other.crt");
	base = event_base_new();
	return base ? 0 : -1;
}

static int group_teardown(void **state)
{
	char *cmd = xasprintf("rm -rf %s", tmpdir);
	(void)state;
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	free(cmd);
	free(self_pem);
	free(other_pem);
	event_base_free(base);
	return 0;
}

/* ---- server side ---- */

static http_request_t *held; /* a request answered later by the test */

static void handler(http_request_t *r, void *arg)
{
	const char *path = http_request_path(r);
	json_t *res;
	const uint8_t *body;
	size_t len;
	const char *q;

	(void)arg;
	if (strcmp(path, "/echo") == 0) {
		body = http_request_body(r, &len);
		q = http_request_query(r, "a");
		res = json_pack("{s:s, s:s, s:s?, s:s?, s:s%, s:i, s:s, s:s?}", "method",
		                http_request_method(r) == HTTP_M_GET    ? "GET"
		                : http_request_method(r) == HTTP_M_POST ? "POST"
		                                                        : "OTHER",
		                "path", path, "a", q, "query", http_request_query_string(r), "body",
		                (const char *)body, len, "has_cert",
		                http_request_has_client_cert(r), "peer", http_request_peer(r),
		                "ctype", http_request_header(r, "content-type"));
		assert_non_null(res);
		assert_int_equal(body[len], 0);
		http_reply_envelope(r, 200, "Success", res);
	} else if (strcmp(path, "/only-get") == 0) {
		if (http_request_method(r) != HTTP_M_GET)
			http_reply_envelope(r, 405, "Method Not Allowed", NULL);
		else
			http_reply(r, 200, "text/plain", "got", 3);
	} else if (strcmp(path, "/later") == 0) {
		held = r; /* answered from the test's loop, after the handler returned */
	} else if (strcmp(path, "/raw") == 0) {
		http_reply_json(r, 201, json_pack("[i,i]", 1, 2));
	} else if (strcmp(path, "/local-port") == 0) {
		http_reply_json(r, 200, json_pack("{s:i}", "port", http_request_local_port(r)));
	} else {
		http_reply_envelope(r, 404, "Not Found", NULL);
	}
}

static http_server_t *server_start(const tls_server_opts_t *tls, size_t max_body, int timeout_s)
{
	http_server_t *s =
	    http_server_new(base, "127.0.0.1:0", tls, max_body, timeout_s, handler, NULL);
	assert_non_null(s);
	assert_true(http_server_port(s) > 0);
	return s;
}

static tls_server_opts_t server_tls(http_client_cert_t policy, const char *cert)
{
	static char *c, *k, *ca;
	tls_server_opts_t o;

	free(c);
	free(k);
	free(ca);
	c = xasprintf("%s/%s.crt", tmpdir, cert);
	k = xasprintf("%s/%s.key", tmpdir, cert);
	ca = path_of("ca.crt");
	o.cert_file = c;
	o.key_file = k;
	o.client_ca_file = ca;
	o.client_cert = policy;
	return o;
}

/* Client options: trust the test CA; present client cert `who` (NULL: none). */
static tls_client_opts_t client_tls(const char *who)
{
	static char *ca, *c, *k;
	tls_client_opts_t o;

	free(ca);
	free(c);
	free(k);
	ca = path_of("ca.crt");
	c = who ? xasprintf("%s/%s.crt", tmpdir, who) : NULL;
	k = who ? xasprintf("%s/%s.key", tmpdir, who) : NULL;
	o.ca_file = ca;
	o.ca_pem = NULL;
	o.cert_file = c;
	o.key_file = k;
	o.check_hostname = 1;
	return o;
}

/* ---- client side ---- */

struct result {
	int done;      /* callback ran (counts calls: must end at 1) */
	int status;    /* status given */
	buf_t body;    /* body given */
	char err[256]; /* error text given */
	json_t *json;  /* body parsed, when JSON */
};

static void result_cb(int status, const uint8_t *body, size_t len, const char *err, void *arg)
{
	struct result *r = arg;

	r->done++;
	r->status = status;
	buf_set(&r->body, body, len);
	snprintf(r->err, sizeof(r->err), "%s", err ? err : "");
	if (status != 0)
		r->json = json_loadb((const char *)body, len, 0, NULL);
}

static void result_clear(struct result *r)
{
	buf_free(&r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

static void pump(struct result *r)
{
	while (!r->done)
		assert_true(event_base_loop(base, EVLOOP_ONCE) >= 0);
	/* One more turn: a second (wrong) callback would show up now. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(r->done, 1);
}

static void request(http_client_t *c, http_method_t m, const char *path, const char *body,
                    struct result *r)
{
	memset(r, 0, sizeof(*r));
	assert_int_equal(http_client_request(c, m, path, body ? "application/json" : NULL, body,
	                                     body ? strlen(body) : 0, result_cb, r),
	                 0);
	assert_int_equal(r->done, 0); /* never from inside the call */
	pump(r);
}

static const char *res_str(const struct result *r, const char *key)
{
	return json_string_value(json_object_get(json_object_get(r->json, "results"), key));
}

static json_int_t res_int(const struct result *r, const char *key)
{
	return json_integer_value(json_object_get(json_object_get(r->json, "results"), key));
}

static http_client_t *client_for(const http_server_t *s, const tls_client_opts_t *tls,
                                 int timeout_s)
{
	http_client_t *c = http_client_new(base, "127.0.0.1", http_server_port(s), tls, timeout_s);
	assert_non_null(c);
	return c;
}

/* ---- tests ---- */

static void test_plain_get_post(void **state)
{
	http_server_t *s = server_start(NULL, 4096, 5);
	http_client_t *c = client_for(s, NULL, 5);
	struct result r;

	(void)state;
	request(c, HTTP_M_GET, "/echo?a=1%202&b=x", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(r.json);
	assert_string_equal(res_str(&r, "method"), "GET");
	assert_string_equal(res_str(&r, "path"), "/echo");
	assert_string_equal(res_str(&r, "a"), "1 2");
	assert_string_equal(res_str(&r, "query"), "a=1%202&b=x");
	assert_string_equal(res_str(&r, "body"), "");
	assert_int_equal(res_int(&r, "has_cert"), 0);
	assert_int_equal(strncmp(res_str(&r, "peer"), "127.0.0.1:", 10), 0);
	result_clear(&r);

	request(c, HTTP_M_POST, "/echo", "{\"x\": [1, 2]}", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(res_str(&r, "method"), "POST");
	assert_string_equal(res_str(&r, "body"), "{\"x\": [1, 2]}");
	assert_null(res_str(&r, "a"));
	assert_null(res_str(&r, "query"));
	assert_string_equal(res_str(&r, "ctype"), "application/json");
	result_clear(&r);

	/* A percent-decoded path. */
	request(c, HTTP_M_GET, "/%65cho", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(res_str(&r, "path"), "/echo");
	result_clear(&r);

	/* Plain JSON reply, another status. */
	request(c, HTTP_M_GET, "/raw", NULL, &r);
	assert_int_equal(r.status, 201);
	assert_int_equal(r.body.len, 5);
	assert_memory_equal(r.body.data, "[1,2]", 5);
	result_clear(&r);
	http_client_free(c);
	http_server_free(s);
}

/* A port nobody listens on now (bound, read, closed). */
static int unused_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* One server on two addresses: both answer, each request knows which port it came in on,
 * and an added address without a port is refused. */
static void test_listen_more(void **state)
{
	http_server_t *s = server_start(NULL, 4096, 5);
	int p2 = unused_port();
	char addr[32];
	http_client_t *c1, *c2;
	struct result r;

	(void)state;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", p2);
	assert_int_equal(http_server_listen(s, addr), 0);
	assert_int_equal(http_server_listen(s, "127.0.0.1:0"), -1);
	assert_int_equal(http_server_listen(s, "nonsense"), -1);
	c1 = client_for(s, NULL, 5);
	c2 = http_client_new(base, "127.0.0.1", p2, NULL, 5);
	assert_non_null(c2);
	request(c1, HTTP_M_GET, "/local-port", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "port")), http_server_port(s));
	result_clear(&r);
	request(c2, HTTP_M_GET, "/local-port", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "port")), p2);
	result_clear(&r);
	assert_int_equal(http_server_accepts(s), 2);
	http_client_free(c1);
	http_client_free(c2);
	http_server_free(s);
}

static void test_envelope(void **state)
{
	http_server_t *s = server_start(NULL, 4096, 5);
	http_client_t *c = client_for(s, NULL, 5);
	struct result r;

	(void)state;
	request(c, HTTP_M_GET, "/nowhere", NULL, &r);
	assert_int_equal(r.status, 404);
	assert_non_null(r.json);
	assert_int_equal(json_object_size(r.json), 3);
	assert_int_equal(json_integer_value(json_object_get(r.json, "code")), 404);
	assert_string_equal(json_string_value(json_object_get(r.json, "status")), "Not Found");
	assert_true(json_is_object(json_object_get(r.json, "results")));
	assert_int_equal(json_object_size(json_object_get(r.json, "results")), 0);
	result_clear(&r);

	request(c, HTTP_M_GET, "/echo", NULL, &r);
	assert_int_equal(json_integer_value(json_object_get(r.json, "code")), 200);
	assert_string_equal(json_string_value(json_object_get(r.json, "status")), "Success");
	result_clear(&r);

	/* A malformed query is answered 400 before the handler sees it. */
	request(c, HTTP_M_GET, "/echo?novalue", NULL, &r);
	assert_int_equal(r.status, 400);
	assert_int_equal(json_integer_value(json_object_get(r.json, "code")), 400);
	result_clear(&r);
	http_client_free(c);
	http_server_free(s);
}

static void test_404_405(void **state)
{
	http_server_t *s = server_start(NULL, 4096, 5);
	http_client_t *c = client_for(s, NULL, 5);
	struct result r;

	(void)state;
	request(c, HTTP_M_DELETE, "/only-get", NULL, &r);
	assert_int_equal(r.status, 405);
	assert_string_equal(json_string_value(json_object_get(r.json, "status")),
	                    "Method Not Allowed");
	result_clear(&r);
	request(c, HTTP_M_GET, "/only-get", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body.len, 3);
	result_clear(&r);
	request(c, HTTP_M_PUT, "/missing", "{}", &r);
	assert_int_equal(r.status, 404);
	result_clear(&r);
	http_client_free(c);
	http_server_free(s);
}

static void test_body_limit(void **state)
{
	http_server_t *s = server_start(NULL, 1024, 5);
	http_client_t *c = client_for(s, NULL, 5);
	struct result r;
	char *big = xmalloc(4097);

	(void)state;
	memset(big, 'x', 4096);
	big[4096] = 0;
	request(c, HTTP_M_POST, "/echo", big, &r);
	assert_int_equal(r.status, 413);
	result_clear(&r);
	/* Far over: the server answers and closes while the client still writes; the client
	 * reads the answer rather than dying of SIGPIPE or reporting the write error. */
	{
		size_t n = 8 << 20;
		char *huge = xmalloc(n);
		memset(huge, 'y', n);
		memset(&r, 0, sizeof(r));
		assert_int_equal(http_client_request(c, HTTP_M_POST, "/echo", "text/plain", huge, n,
		                                     result_cb, &r),
		                 0);
		free(huge);
		pump(&r);
		assert_int_equal(r.status, 413);
		result_clear(&r);
	}
	/* Exactly at the limit is fine, and the client recovers from the closed connection. */
	big[1024] = 0;
	request(c, HTTP_M_POST, "/echo", big, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(strlen(res_str(&r, "body")), 1024);
	result_clear(&r);
	free(big);
	http_client_free(c);
	http_server_free(s);
}

static void test_mtls_required(void **state)
{
	tls_server_opts_t so = server_tls(HTTP_CLIENT_CERT_REQUIRED, "server");
	http_server_t *s = server_start(&so, 4096, 5);
	tls_client_opts_t co;
	http_client_t *c;
	struct result r;

	(void)state;
	/* No certificate: the handshake fails. */
	co = client_tls(NULL);
	c = client_for(s, &co, 5);
	request(c, HTTP_M_GET, "/echo", NULL, &r);
	assert_int_equal(r.status, 0);
	assert_true(strlen(r.err) > 0);
	assert_non_null(strstr(r.err, "TLS"));
	result_clear(&r);
	http_client_free(c);

	/* A certificate from another CA: fails too. */
	co = client_tls("client2");
	c = client_for(s, &co, 5);
	request(c, HTTP_M_GET, "/echo", NULL, &r);
	assert_int_equal(r.status, 0);
	assert_true(strlen(r.err) > 0);
	result_clear(&r);
	http_client_free(c);

	/* The right certificate: served, and the handler sees it. */
	co = client_tls("client");
	c = client_for(s, &co, 5);
	request(c, HTTP_M_GET, "/echo?a=tls", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(res_int(&r, "has_cert"), 1);
	assert_string_equal(res_str(&r, "a"), "tls");
	result_clear(&r);
	http_client_free(c);
	http_server_free(s);
}

static void test_mtls_optional(void **state)
{
	tls_server_opts_t so = server_tls(HTTP_CLIENT_CERT_OPTIONAL, "server");
	http_server_t *s = server_start(&so, 4096, 5);
	tls_client_opts_t co;
	http_client_t *c;
	struct result r;

	(void)state;
	co = client_tls(NULL);
	c = client_for(s, &co, 5);
	request(c, HTTP_M_GET, "/echo", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(res_int(&r, "has_cert"), 0);
	result_clear(&r);
	http_client_free(c);

	co = client_tls("client");
	c = client_for(s, &co, 5);
	request(c, HTTP_M_GET, "/echo", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(res_int(&r, "has_cert"), 1);
	result_clear(&r);
	http_client_free(c);

	/* A presented certificate must verify even when optional. */
	co = client_tls("client2");
	c = client_for(s, &co, 5);
	request(c, HTTP_M_GET, "/echo", NULL, &r);
	assert_int_equal(r.status, 0);
	result_clear(&r);
	http_client_free(c);
	http_server_free(s);
}

static void test_server_cert_checks(void **state)
{
	tls_server_opts_t so = server_tls(HTTP_CLIENT_CERT_NONE, "self");
	http_server_t *s = server_start(&so, 4096, 5);
	tls_client_opts_t co = {.check_hostname = 0};
	http_client_t *c;
	struct result r;

	(void)state;
	/* The agent case: its self-signed certificate pinned, no name check. */
	co.ca_pem = self_pem;
	c = client_for(s, &co, 5);
	request(c, HTTP_M_GET, "/echo", NULL, &r);
	assert_int_equal(r.status, 200);
	result_clear(&r);
	http_client_free(c);

	/* Pinning another certificate: rejected. */
	co.ca_pem = other_pem;
	c = client_for(s, &co, 5);
	request(c, HTTP_M_GET, "/echo", NULL, &r);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "certificate"));
	result_clear(&r);
	http_client_free(c);

	/* The pinned certificate names no host: with the name check on, rejected. */
	co.ca_pem = self_pem;
	co.check_hostname = 1;
	c = client_for(s, &co, 5);
	request(c, HTTP_M_GET, "/echo", NULL, &r);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "mismatch"));
	result_clear(&r);
	http_client_free(c);
	http_server_free(s);

	/* CA-issued certificate with IP SAN 127.0.0.1 and the name check on: accepted; a
	 * client trusting only the other CA: rejected. */
	so = server_tls(HTTP_CLIENT_CERT_NONE, "server");
	s = server_start(&so, 4096, 5);
	co = client_tls(NULL);
	c = client_for(s, &co, 5);
	request(c, HTTP_M_GET, "/echo", NULL, &r);
	assert_int_equal(r.status, 200);
	result_clear(&r);
	http_client_free(c);
	{
		char *ca2 = path_of("ca2.crt");
		co.ca_file = ca2;
		c = client_for(s, &co, 5);
		request(c, HTTP_M_GET, "/echo", NULL, &r);
		assert_int_equal(r.status, 0);
		assert_non_null(strstr(r.err, "certificate"));
		result_clear(&r);
		http_client_free(c);
		free(ca2);
	}
	http_server_free(s);
}

/* Run the loop for ms milliseconds. */
static void idle_for(int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void keepalive_run(const tls_server_opts_t *so, const tls_client_opts_t *co)
{
	http_server_t *s = server_start(so, 4096, 1);
	http_client_t *c = client_for(s, co, 5);
	struct result r;
	char peer[64];

	request(c, HTTP_M_GET, "/echo", NULL, &r);
	assert_int_equal(r.status, 200);
	snprintf(peer, sizeof(peer), "%s", res_str(&r, "peer"));
	result_clear(&r);
	request(c, HTTP_M_POST, "/echo", "{}", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(res_str(&r, "peer"), peer); /* same source port */
	result_clear(&r);
	assert_int_equal(http_server_accepts(s), 1);

	/* The server's idle timeout (1 s) closes the connection; the client notices and
	 * the next request goes over a new one. */
	idle_for(1600);
	request(c, HTTP_M_GET, "/echo", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_not_equal(res_str(&r, "peer"), peer);
	/* Over TLS the new connection resumes the session; the server still knows the
	 * client certificate from it. */
	assert_int_equal(res_int(&r, "has_cert"), co != NULL && co->cert_file != NULL);
	result_clear(&r);
	assert_int_equal(http_server_accepts(s), 2);
	http_client_free(c);
	http_server_free(s);
}

/* Pinned mode: one shared context for many clients, each with its own pin. */
static void test_pinned_shared(void **state)
{
	tls_server_opts_t so = server_tls(HTTP_CLIENT_CERT_NONE, "self");
	http_server_t *s = server_start(&so, 4096, 5);
	tls_client_opts_t none = {0};
	err_t e = {""};
	http_tls_pinned_t *shared = http_tls_pinned_new(&none, &e);
	tls_client_opts_t co = {.shared = shared};
	http_client_t *c, *c2;
	struct result r;

	(void)state;
	assert_non_null(shared);
	co.pin_pem = self_pem;
	c = client_for(s, &co, 5);
	co.pin_pem = other_pem;
	c2 = client_for(s, &co, 5);
	request(c, HTTP_M_GET, "/echo", NULL, &r);
	assert_int_equal(r.status, 200);
	result_clear(&r);
	request(c2, HTTP_M_GET, "/echo", NULL, &r);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "not the pinned certificate"));
	assert_true(http_client_cert_rejected(c2));
	result_clear(&r);
	/* The context outlives its maker's reference while a client holds it. */
	http_tls_pinned_free(shared);
	request(c, HTTP_M_GET, "/echo", NULL, &r);
	assert_int_equal(r.status, 200);
	result_clear(&r);
	http_client_free(c);
	http_client_free(c2);
	/* A pin that is not a certificate: no client. */
	shared = http_tls_pinned_new(&none, &e);
	co.shared = shared;
	co.pin_pem = "not a certificate";
	assert_null(http_client_new(base, "127.0.0.1", http_server_port(s), &co, 5));
	http_tls_pinned_free(shared);
	http_server_free(s);
}

/* Pinned mode against a server that sends its CA with its certificate (a CA-issued agent
 * certificate: OpenSSL's server adds the chain it finds): only the server's own
 * certificate counts (the CA pinned instead is refused), the rest of the chain is let
 * go after the handshake, and a kept-alive connection, then a resumed one, still works. */
static void test_pinned_chain(void **state)
{
	tls_server_opts_t so = server_tls(HTTP_CLIENT_CERT_REQUIRED, "server");
	http_server_t *s = server_start(&so, 4096, 1);
	char *server_pem = read_text("server.crt"), *ca_pem = read_text("ca.crt");
	char *cert_pem = read_text("client.crt"), *key_pem = read_text("client.key");
	tls_client_opts_t id = {.cert_pem = cert_pem, .key_pem = key_pem};
	err_t e = {""};
	http_tls_pinned_t *shared = http_tls_pinned_new(&id, &e);
	tls_client_opts_t co = {.shared = shared};
	http_client_t *c;
	struct result r;
	char peer[64];

	(void)state;
	assert_non_null(shared);
	co.pin_pem = ca_pem;
	c = client_for(s, &co, 5);
	request(c, HTTP_M_GET, "/echo", NULL, &r);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "not the pinned certificate"));
	assert_true(http_client_cert_rejected(c));
	result_clear(&r);
	http_client_free(c);

	co.pin_pem = server_pem;
	c = client_for(s, &co, 5);
	request(c, HTTP_M_GET, "/echo", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_false(http_client_cert_rejected(c));
	assert_int_equal(res_int(&r, "has_cert"), 1);
	snprintf(peer, sizeof(peer), "%s", res_str(&r, "peer"));
	result_clear(&r);
	request(c, HTTP_M_POST, "/echo", "{}", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(res_str(&r, "peer"), peer); /* the same connection */
	result_clear(&r);
	/* The server's idle timeout (1 s) closes it: the next request resumes the session
	 * kept from a connection whose chain was cut. */
	idle_for(1600);
	request(c, HTTP_M_GET, "/echo", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_not_equal(res_str(&r, "peer"), peer);
	assert_int_equal(res_int(&r, "has_cert"), 1);
	result_clear(&r);
	assert_int_equal(http_server_accepts(s), 3);
	http_client_free(c);
	http_tls_pinned_free(shared);
	http_server_free(s);
	free(server_pem);
	free(ca_pem);
	free(cert_pem);
	free(key_pem);
}

static void test_keepalive_outlives_client_timeout(void **state)
{
	tls_server_opts_t so = server_tls(HTTP_CLIENT_CERT_REQUIRED, "server");
	tls_client_opts_t co = client_tls("client");
	http_server_t *s = server_start(&so, 4096, 10);
	http_client_t *c = client_for(s, &co, 1);
	struct result r;

	(void)state;
	/* The client's 1 s timeout bounds requests, not how long it keeps an idle
	 * connection: that is up to the server (10 s here). */
	request(c, HTTP_M_GET, "/echo", NULL, &r);
	assert_int_equal(r.status, 200);
	result_clear(&r);
	idle_for(2500);
	request(c, HTTP_M_GET, "/echo", NULL, &r);
	assert_int_equal(r.status, 200);
	result_clear(&r);
	assert_int_equal(http_server_accepts(s), 1);
	http_client_free(c);
	http_server_free(s);
}

static void test_keepalive_plain(void **state)
{
	(void)state;
	keepalive_run(NULL, NULL);
}

static void test_keepalive_tls(void **state)
{
	tls_server_opts_t so = server_tls(HTTP_CLIENT_CERT_REQUIRED, "server");
	tls_client_opts_t co = client_tls("client");

	(void)state;
	keepalive_run(&so, &co);
}

/* A listening socket that never accepts: the connect succeeds (backlog), nothing answers. */
static int silent_listener(int *port)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static void test_client_timeout(void **state)
{
	int port, fd = silent_listener(&port);
	http_client_t *c = http_client_new(base, "127.0.0.1", port, NULL, 1);
	tls_client_opts_t co = client_tls(NULL);
	struct result r;

	(void)state;
	assert_non_null(c);
	request(c, HTTP_M_GET, "/", NULL, &r);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "timeout"));
	result_clear(&r);
	/* The client is usable again after a failure. */
	request(c, HTTP_M_GET, "/", NULL, &r);
	assert_int_equal(r.status, 0);
	result_clear(&r);
	http_client_free(c);

	/* TLS handshake that never gets an answer. */
	c = http_client_new(base, "127.0.0.1", port, &co, 1);
	assert_non_null(c);
	request(c, HTTP_M_GET, "/", NULL, &r);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "timeout"));
	result_clear(&r);
	http_client_free(c);
	close(fd);
}

static void test_connect_refused(void **state)
{
	int port, fd = silent_listener(&port);
	http_client_t *c;
	struct result r;

	(void)state;
	close(fd); /* nothing listens there now */
	c = http_client_new(base, "127.0.0.1", port, NULL, 5);
	assert_non_null(c);
	request(c, HTTP_M_GET, "/", NULL, &r);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "cannot connect"));
	result_clear(&r);
	http_client_free(c);

	/* Over TLS the refusal is named as such, not as a failed handshake. */
	tls_client_opts_t co = client_tls(NULL);
	c = http_client_new(base, "127.0.0.1", port, &co, 5);
	assert_non_null(c);
	request(c, HTTP_M_GET, "/", NULL, &r);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "cannot connect: connection refused"));
	assert_null(strstr(r.err, "handshake"));
	result_clear(&r);
	http_client_free(c);
}

/* Deadlines shorter than the request's: a TCP peer that never speaks TLS is a connect
 * timeout; a server that takes the request and never answers is a slow answer. Both well
 * before the 30 s request timeout. */
static void test_phase_timeouts(void **state)
{
	int port, fd = silent_listener(&port);
	tls_client_opts_t co = client_tls(NULL);
	http_server_t *s = server_start(NULL, 4096, 30);
	http_client_t *c = http_client_new(base, "127.0.0.1", port, &co, 30);
	struct result r;

	(void)state;
	assert_non_null(c);
	http_client_set_phase_timeouts(c, 200, 200);
	request(c, HTTP_M_GET, "/", NULL, &r);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "cannot connect: timed out after 200 ms"));
	result_clear(&r);
	http_client_free(c);
	close(fd);

	c = client_for(s, NULL, 30);
	http_client_set_phase_timeouts(c, 200, 200);
	request(c, HTTP_M_GET, "/later", NULL, &r); /* the handler keeps it unanswered */
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "slow answer: nothing within 200 ms"));
	result_clear(&r);
	http_client_free(c);
	if (held) {
		http_reply(held, 200, NULL, "", 0);
		held = NULL;
	}
	http_server_free(s);
}

/* A process out of descriptors: the error says so, not just "cannot connect". */
static void test_client_emfile(void **state)
{
	int port, fd = silent_listener(&port), fds[64], n = 0;
	http_client_t *c = http_client_new(base, "127.0.0.1", port, NULL, 5);
	struct rlimit rl, low;
	struct result r;

	(void)state;
	close(fd);
	assert_non_null(c);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	/* Lower the limit to what is open now, plus a few that dup then fills. */
	low = rl;
	fd = open("/dev/null", O_RDONLY);
	assert_true(fd >= 0);
	low.rlim_cur = (rlim_t)fd + 1;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	while (n < 64 && (fds[n] = dup(fd)) >= 0)
		n++;
	assert_true(n < 64);
	request(c, HTTP_M_GET, "/", NULL, &r);
	while (n > 0)
		close(fds[--n]);
	close(fd);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "too many open files in this process"));
	result_clear(&r);
	http_client_free(c);
}

static void test_deferred_reply(void **state)
{
	http_server_t *s = server_start(NULL, 4096, 5);
	http_client_t *c = client_for(s, NULL, 5);
	struct result r;

	(void)state;
	held = NULL;
	memset(&r, 0, sizeof(r));
	assert_int_equal(
	    http_client_request(c, HTTP_M_GET, "/later?a=1", NULL, NULL, 0, result_cb, &r), 0);
	while (held == NULL)
		event_base_loop(base, EVLOOP_ONCE);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(r.done, 0);
	assert_string_equal(http_request_query(held, "a"), "1");
	http_reply(held, 202, "text/plain", "later", 5);
	held = NULL;
	pump(&r);
	assert_int_equal(r.status, 202);
	assert_memory_equal(r.body.data, "later", 5);
	result_clear(&r);

	/* Busy client refuses a second request. */
	assert_int_equal(http_client_request(c, HTTP_M_GET, "/later", NULL, NULL, 0, result_cb, &r),
	                 0);
	assert_int_equal(http_client_request(c, HTTP_M_GET, "/echo", NULL, NULL, 0, result_cb, &r),
	                 -1);
	while (held == NULL)
		event_base_loop(base, EVLOOP_ONCE);
	/* Server goes away with the request unanswered: replying later only frees it. */
	http_server_free(s);
	http_reply_envelope(held, 200, "Success", NULL);
	held = NULL;
	pump(&r);
	assert_int_equal(r.status, 0);
	result_clear(&r);
	http_client_free(c);
}

static int freed_in_cb;

static void free_in_cb(int status, const uint8_t *body, size_t len, const char *err, void *arg)
{
	(void)status;
	(void)body;
	(void)len;
	(void)err;
	http_client_free(arg);
	freed_in_cb = 1;
}

static void test_free_in_callback(void **state)
{
	http_server_t *s = server_start(NULL, 4096, 5);
	http_client_t *c = client_for(s, NULL, 5);

	(void)state;
	freed_in_cb = 0;
	assert_int_equal(http_client_request(c, HTTP_M_GET, "/echo", NULL, NULL, 0, free_in_cb, c),
	                 0);
	while (!freed_in_cb)
		event_base_loop(base, EVLOOP_ONCE);
	http_server_free(s);
}

/* A server on its own loop in a thread, for the blocking http_fetch. */
struct bg {
	struct event_base *base; /* the thread's loop */
	http_server_t *s;        /* its server */
	pthread_t th;            /* the thread */
};

static void *bg_main(void *arg)
{
	struct bg *b = arg;
	event_base_loop(b->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

static void test_fetch(void **state)
{
	tls_server_opts_t so = server_tls(HTTP_CLIENT_CERT_REQUIRED, "server");
	tls_client_opts_t co = client_tls("client");
	struct bg b;
	buf_t resp = BUF_INIT;
	err_t e = {""};
	int st;

	(void)state;
	b.base = event_base_new();
	assert_non_null(b.base);
	b.s = http_server_new(b.base, "127.0.0.1:0", &so, 4096, 5, handler, NULL);
	assert_non_null(b.s);
	assert_int_equal(pthread_create(&b.th, NULL, bg_main, &b), 0);

	st = http_fetch("127.0.0.1", http_server_port(b.s), &co, 5, HTTP_M_POST, "/echo?a=f",
	                "application/json", "[1]", 3, &resp, &e);
	assert_int_equal(st, 200);
	assert_non_null(strstr((const char *)resp.data, "\"a\":\"f\""));
	assert_non_null(strstr((const char *)resp.data, "\"body\":\"[1]\""));

	co = client_tls(NULL);
	st = http_fetch("127.0.0.1", http_server_port(b.s), &co, 5, HTTP_M_GET, "/echo", NULL, NULL,
	                0, &resp, &e);
	assert_int_equal(st, 0);
	assert_true(strlen(e.msg) > 0);

	event_base_loopbreak(b.base);
	pthread_join(b.th, NULL);
	http_server_free(b.s);
	event_base_free(b.base);

	/* Nothing listening any more. */
	e.msg[0] = 0;
	st = http_fetch("127.0.0.1", 1, NULL, 2, HTTP_M_GET, "/", NULL, NULL, 0, &resp, &e);
	assert_int_equal(st, 0);
	assert_true(strlen(e.msg) > 0);
	buf_free(&resp);
}

static void test_parse_hostport(void **state)
{
	static const struct {
		const char *in;   /* input */
		const char *host; /* expected host, NULL: rejected */
		int port;         /* expected port */
	} cases[] = {
	    {"127.0.0.1:8890", "127.0.0.1", 8890},
	    {"localhost:0", "localhost", 0},
	    {"[::1]:9002", "::1", 9002},
	    {"[fe80::1]:65535", "fe80::1", 65535},
	    {"registrar.example-1.org:443", "registrar.example-1.org", 443},
	    {"::1:80", NULL, 0},
	    {"host", NULL, 0},
	    {"host:", NULL, 0},
	    {":80", NULL, 0},
	    {"host:65536", NULL, 0},
	    {"host:-1", NULL, 0},
	    {"host:80x", NULL, 0},
	    {"host:+80", NULL, 0},
	    {"[::1]", NULL, 0},
	    {"[::1]80", NULL, 0},
	    {"[host]:80", NULL, 0},
	    {"[]:80", NULL, 0},
	    {"ho st:80", NULL, 0},
	    {"", NULL, 0},
	    {"host:0000000080", NULL, 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *h = NULL;
		int port = -1, rv = http_parse_hostport(cases[i].in, &h, &port);
		if (cases[i].host == NULL) {
			if (rv != -1)
				fail_msg("accepted \"%s\"", cases[i].in);
			assert_null(h);
		} else {
			if (rv != 0)
				fail_msg("rejected \"%s\"", cases[i].in);
			assert_string_equal(h, cases[i].host);
			assert_int_equal(port, cases[i].port);
		}
		free(h);
	}
}

static void test_ipv6(void **state)
{
	http_server_t *s = http_server_new(base, "[::1]:0", NULL, 4096, 5, handler, NULL);
	http_client_t *c;
	struct result r;

	(void)state;
	if (s == NULL) {
		print_message("skip: no IPv6 loopback (::1) on this machine\n");
		skip();
	}
	c = http_client_new(base, "::1", http_server_port(s), NULL, 5);
	assert_non_null(c);
	request(c, HTTP_M_GET, "/echo?a=6", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(res_str(&r, "a"), "6");
	assert_int_equal(strncmp(res_str(&r, "peer"), "[::1]:", 6), 0);
	result_clear(&r);
	http_client_free(c);
	http_server_free(s);
}

static void test_client_limits(void **state)
{
	http_server_t *s = server_start(NULL, 4096, 5);
	http_client_t *c = client_for(s, NULL, 5);
	struct result r;

	(void)state;
	/* Request line and header injection are refused before anything is sent. */
	assert_int_equal(http_client_request(c, HTTP_M_GET, "/echo HTTP/1.0\r\nX: y", NULL, NULL, 0,
	                                     result_cb, &r),
	                 -1);
	assert_int_equal(http_client_request(c, HTTP_M_GET, "echo", NULL, NULL, 0, result_cb, &r),
	                 -1);
	assert_int_equal(
	    http_client_request(c, HTTP_M_POST, "/echo", "a\r\nX: y", "{}", 2, result_cb, &r), -1);
	assert_int_equal(
	    http_client_request(c, HTTP_M_OTHER, "/echo", NULL, NULL, 0, result_cb, &r), -1);
	/* A response over the client's limit fails cleanly; the client goes on. */
	http_client_set_max_response(c, 20);
	request(c, HTTP_M_GET, "/echo", NULL, &r);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "response over 20 bytes"));
	result_clear(&r);
	http_client_set_max_response(c, 1 << 20);
	request(c, HTTP_M_GET, "/echo", NULL, &r);
	assert_int_equal(r.status, 200);
	result_clear(&r);
	http_client_free(c);
	http_server_free(s);
}

/* A scripted raw HTTP server in a thread: on its first connection it answers one request
 * and then closes on the next without answering (a keep-alive connection the server drops
 * just as the client reuses it); later connections answer one request each. */
struct raw_srv {
	int lfd;      /* listening socket */
	int accepts;  /* connections accepted */
	pthread_t th; /* the thread */
};

static int raw_read_request(int fd)
{
	char buf[4096];
	size_t n = 0;
	ssize_t k;

	while (n < sizeof(buf) - 1 && (k = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0) {
		n += (size_t)k;
		buf[n] = 0;
		if (strstr(buf, "\r\n\r\n") != NULL) {
			/* Small bodies arrive with the headers; enough for this test. */
			return 0;
		}
	}
	return -1;
}

static void *raw_main(void *arg)
{
	struct raw_srv *rs = arg;
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	int fd;

	while ((fd = accept(rs->lfd, NULL, NULL)) >= 0) {
		rs->accepts++;
		if (raw_read_request(fd) == 0) {
			ssize_t w = write(fd, ok, sizeof(ok) - 1);
			(void)w; /* a short write shows up as a failed request */
		}
		if (rs->accepts == 1)
			raw_read_request(fd); /* then drop it unanswered */
		close(fd);
	}
	return NULL;
}

static void stale_run(http_method_t second, int want_status, int want_accepts)
{
	struct raw_srv rs = {0, 0, 0};
	int port;
	http_client_t *c;
	struct result r;

	rs.lfd = silent_listener(&port);
	assert_int_equal(pthread_create(&rs.th, NULL, raw_main, &rs), 0);
	c = http_client_new(base, "127.0.0.1", port, NULL, 3);
	assert_non_null(c);
	request(c, HTTP_M_GET, "/a", NULL, &r);
	assert_int_equal(r.status, 200);
	result_clear(&r);
	request(c, second, "/b", second == HTTP_M_POST ? "{}" : NULL, &r);
	assert_int_equal(r.status, want_status);
	if (want_status == 0)
		assert_non_null(strstr(r.err, "closed before a response"));
	result_clear(&r);
	http_client_free(c);
	shutdown(rs.lfd, SHUT_RDWR);
	close(rs.lfd);
	pthread_join(rs.th, NULL);
	assert_int_equal(rs.accepts, want_accepts);
}

static void test_stale_keepalive_resend(void **state)
{
	(void)state;
	/* GET is resent once on a new connection; POST is not (it may have been acted on). */
	stale_run(HTTP_M_GET, 200, 2);
	stale_run(HTTP_M_POST, 0, 1);
}

/* A raw server that answers the n-th connection's request with answers[n] (in two pieces,
 * so the client parses across reads), then closes. */
struct scripted_srv {
	int lfd;              /* listening socket */
	const char **answers; /* one per connection, NULL-terminated */
	const size_t *lens;   /* their lengths */
	pthread_t th;         /* the thread */
};

static void *scripted_main(void *arg)
{
	struct scripted_srv *ss = arg;
	int fd;

	for (size_t i = 0; ss->answers[i] != NULL && (fd = accept(ss->lfd, NULL, NULL)) >= 0; i++) {
		size_t half = ss->lens[i] / 2;
		struct timespec ts = {0, 20 * 1000 * 1000};
		if (raw_read_request(fd) == 0 && write(fd, ss->answers[i], half) >= 0) {
			nanosleep(&ts, NULL);
			ssize_t w = write(fd, ss->answers[i] + half, ss->lens[i] - half);
			(void)w;
		}
		close(fd);
	}
	return NULL;
}

/* The answer parser: chunked, until-close and interim answers are read whole; malformed
 * ones, and ones over the limits, fail with the reason; a body cut short is an error. */
static void test_client_answer_forms(void **state)
{
	static char big_head[70100];
	const char *answers[] = {
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n"
	    "X-Trailer: 1\r\n\r\n",
	    "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello",
	    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
	    "HTTP/1.1 204 No Content\r\n\r\n",
	    "HTTP/2 200\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
	    "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n"
	    "0123456789abcdef0123456789abcdef\r\n0\r\n\r\n",
	    big_head,
	    NULL,
	};
	const struct {
		int status;      /* expected status */
		const char *out; /* expected body (status != 0) or a part of the error */
	} want[] = {
	    {200, "abcde"},
	    {200, "hello"},
	    {201, "ok"},
	    {204, ""},
	    {0, "malformed response"},
	    {0, "malformed response"},
	    {0, "malformed response"},
	    {0, "connection closed"},
	    {0, "response over 10 bytes"},
	    {0, "response over"},
	};
	size_t lens[sizeof(answers) / sizeof(answers[0])];
	struct scripted_srv ss = {0, answers, lens, 0};
	int port;
	struct result r;

	(void)state;
	snprintf(big_head, sizeof(big_head), "HTTP/1.1 200 OK\r\nX-Big: ");
	memset(big_head + strlen(big_head), 'a', 70000);
	for (size_t i = 0; answers[i] != NULL; i++)
		lens[i] = strlen(answers[i]);
	ss.lfd = silent_listener(&port);
	assert_int_equal(pthread_create(&ss.th, NULL, scripted_main, &ss), 0);
	for (size_t i = 0; answers[i] != NULL; i++) {
		http_client_t *c = http_client_new(base, "127.0.0.1", port, NULL, 5);
		assert_non_null(c);
		if (want[i].status == 0 && strstr(want[i].out, "over 10") != NULL)
			http_client_set_max_response(c, 10);
		request(c, HTTP_M_GET, "/", NULL, &r);
		assert_int_equal(r.status, want[i].status);
		if (r.status != 0) {
			assert_int_equal(r.body.len, strlen(want[i].out));
			assert_memory_equal(r.body.data, want[i].out, r.body.len);
		} else {
			assert_non_null(strstr(r.err, want[i].out));
		}
		result_clear(&r);
		http_client_free(c);
	}
	pthread_join(ss.th, NULL);
	close(ss.lfd);
}

/* A blocking TCP connection to port on 127.0.0.1. */
static int raw_connect(int port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

/* 1 when the server closed fd (EOF or reset), 0 when it is open with nothing to read. */
static int raw_is_closed(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static void test_trickle_deadline(void **state)
{
	static const char req[] = "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n";
	http_server_t *s = server_start(NULL, 4096, 1);
	int fd = raw_connect(http_server_port(s)), closed_at = -1;

	(void)state;
	/* One byte every 300 ms: never idle for the 1 s timeout, but the request is not
	 * complete within the 2 s deadline. */
	for (int i = 0; i < 12 && closed_at < 0; i++) {
		ssize_t w = send(fd, &req[i], 1, MSG_NOSIGNAL);
		(void)w;
		idle_for(300);
		if (raw_is_closed(fd))
			closed_at = i;
	}
	assert_true(closed_at >= 5 && closed_at <= 8);
	close(fd);

	/* A slow handler is not cut off by the deadline: only receiving counts. */
	{
		http_client_t *c = client_for(s, NULL, 10);
		struct result r;
		held = NULL;
		memset(&r, 0, sizeof(r));
		assert_int_equal(
		    http_client_request(c, HTTP_M_GET, "/later", NULL, NULL, 0, result_cb, &r), 0);
		while (held == NULL)
			event_base_loop(base, EVLOOP_ONCE);
		idle_for(2500);
		http_reply(held, 200, "text/plain", "slow", 4);
		held = NULL;
		pump(&r);
		assert_int_equal(r.status, 200);
		result_clear(&r);
		http_client_free(c);
	}
	http_server_free(s);
}

/* Run the loop until fd is closed by the server, for at most ms. */
static int wait_closed(int fd, int ms)
{
	for (int i = 0; i < ms / 20; i++) {
		if (raw_is_closed(fd))
			return 1;
		idle_for(20);
	}
	return raw_is_closed(fd);
}

static void test_connection_cap(void **state)
{
	http_server_t *s = server_start(NULL, 4096, 5);
	int fd[3];
	http_client_t *c;
	struct result r;

	(void)state;
	http_server_set_max_connections(s, 2);
	for (int i = 0; i < 3; i++) {
		fd[i] = raw_connect(http_server_port(s));
		idle_for(100);
	}
	/* The third makes room by closing the oldest idle one, not itself. */
	assert_true(wait_closed(fd[0], 2000));
	assert_false(raw_is_closed(fd[1]));
	assert_false(raw_is_closed(fd[2]));
	/* A client still gets in: the next oldest idle socket goes. */
	c = client_for(s, NULL, 5);
	request(c, HTTP_M_GET, "/echo", NULL, &r);
	assert_int_equal(r.status, 200);
	result_clear(&r);
	assert_true(wait_closed(fd[1], 2000));
	assert_false(raw_is_closed(fd[2]));
	/* With the handler busy on the client's connection and fd[2] the only other one,
	 * a newcomer closes fd[2]; the busy connection is never closed for it. */
	held = NULL;
	memset(&r, 0, sizeof(r));
	assert_int_equal(http_client_request(c, HTTP_M_GET, "/later", NULL, NULL, 0, result_cb, &r),
	                 0);
	while (held == NULL)
		event_base_loop(base, EVLOOP_ONCE);
	fd[0] = raw_connect(http_server_port(s));
	assert_true(wait_closed(fd[2], 2000));
	/* Now the cap holds the busy connection and fd[0]: fd[0] is closed for the next. */
	fd[1] = raw_connect(http_server_port(s));
	assert_true(wait_closed(fd[0], 2000));
	http_reply(held, 200, "text/plain", "late", 4);
	held = NULL;
	pump(&r);
	assert_int_equal(r.status, 200);
	result_clear(&r);
	http_client_free(c);
	for (int i = 0; i < 3; i++)
		close(fd[i]);
	http_server_free(s);
}

/* 600 idle sockets from 127.0.0.1, some starting a TLS handshake they never finish: a
 * client with a verified certificate from the same address keeps its connection and gets
 * a new one; the flood holds at most the per-peer cap. */
static void test_peer_cap(void **state)
{
	tls_server_opts_t so = server_tls(HTTP_CLIENT_CERT_REQUIRED, "server");
	tls_client_opts_t co = client_tls("client");
	http_server_t *s = server_start(&so, 4096, 30);
	http_client_t *c = client_for(s, &co, 5), *c2;
	enum { N = 600, CAP = 4 };
	static int fd[N];
	int open_ = 0;
	struct result r;
	char peer[64];

	(void)state;
	http_server_set_max_per_peer(s, CAP);
	request(c, HTTP_M_GET, "/echo", NULL, &r);
	assert_int_equal(r.status, 200);
	snprintf(peer, sizeof(peer), "%s", res_str(&r, "peer"));
	result_clear(&r);
	for (int i = 0; i < N; i++) {
		fd[i] = raw_connect(http_server_port(s));
		if (i % 2)
			assert_int_equal(send(fd[i], "\x16\x03\x01\x00", 4, MSG_NOSIGNAL), 4);
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	/* A new verified connection from the same address gets in. */
	c2 = client_for(s, &co, 5);
	request(c2, HTTP_M_GET, "/echo", NULL, &r);
	assert_int_equal(r.status, 200);
	result_clear(&r);
	/* The first one was never closed: same connection, same source port. */
	request(c, HTTP_M_GET, "/echo", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(res_str(&r, "peer"), peer);
	result_clear(&r);
	assert_int_equal(http_server_accepts(s), N + 2);
	for (int i = 0; i < N; i++)
		open_ += !raw_is_closed(fd[i]);
	assert_true(open_ >= 1 && open_ <= CAP);
	assert_false(raw_is_closed(fd[N - 1])); /* the newest stay, the oldest went */
	for (int i = 0; i < N; i++)
		close(fd[i]);
	http_client_free(c);
	http_client_free(c2);
	http_server_free(s);
}

/* The idle timeout replaces the default deadline (2 * timeout_s): a socket that never
 * starts its TLS handshake is closed after it, and so is an idle kept-alive one. */
static void test_idle_timeout(void **state)
{
	tls_server_opts_t so = server_tls(HTTP_CLIENT_CERT_REQUIRED, "server");
	tls_client_opts_t co = client_tls("client");
	http_server_t *s = server_start(&so, 4096, 30);
	http_client_t *c = client_for(s, &co, 5);
	struct timespec t0, t1;
	struct result r;
	char peer[64];
	int fd;

	(void)state;
	http_server_set_idle_timeout(s, 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fd = raw_connect(http_server_port(s));
	assert_true(wait_closed(fd, 3000));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9 >= 0.9);
	close(fd);
	request(c, HTTP_M_GET, "/echo", NULL, &r);
	assert_int_equal(r.status, 200);
	snprintf(peer, sizeof(peer), "%s", res_str(&r, "peer"));
	result_clear(&r);
	idle_for(1600);
	request(c, HTTP_M_GET, "/echo", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_not_equal(res_str(&r, "peer"), peer);
	result_clear(&r);
	http_client_free(c);
	http_server_free(s);
}

static void test_bad_server_config(void **state)
{
	tls_server_opts_t so = server_tls(HTTP_CLIENT_CERT_REQUIRED, "server");
	tls_client_opts_t co = {.ca_pem = "not a certificate"};

	(void)state;
	assert_null(http_server_new(base, "127.0.0.1", NULL, 10, 5, handler, NULL));
	assert_null(http_server_new(base, "127.0.0.1:0", NULL, 0, 5, handler, NULL));
	so.client_ca_file = NULL;
	assert_null(http_server_new(base, "127.0.0.1:0", &so, 10, 5, handler, NULL));
	so = server_tls(HTTP_CLIENT_CERT_NONE, "server");
	so.key_file = so.client_ca_file; /* a certificate is not a key */
	assert_null(http_server_new(base, "127.0.0.1:0", &so, 10, 5, handler, NULL));
	assert_null(http_client_new(base, "127.0.0.1", 80, &co, 5));
	assert_null(http_client_new(base, "127.0.0.1", 0, NULL, 5));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_hostport),
	    cmocka_unit_test(test_plain_get_post),
	    cmocka_unit_test(test_listen_more),
	    cmocka_unit_test(test_envelope),
	    cmocka_unit_test(test_404_405),
	    cmocka_unit_test(test_body_limit),
	    cmocka_unit_test(test_mtls_required),
	    cmocka_unit_test(test_mtls_optional),
	    cmocka_unit_test(test_server_cert_checks),
	    cmocka_unit_test(test_pinned_shared),
	    cmocka_unit_test(test_pinned_chain),
	    cmocka_unit_test(test_keepalive_plain),
	    cmocka_unit_test(test_keepalive_tls),
	    cmocka_unit_test(test_keepalive_outlives_client_timeout),
	    cmocka_unit_test(test_client_timeout),
	    cmocka_unit_test(test_connect_refused),
	    cmocka_unit_test(test_phase_timeouts),
	    cmocka_unit_test(test_client_emfile),
	    cmocka_unit_test(test_deferred_reply),
	    cmocka_unit_test(test_free_in_callback),
	    cmocka_unit_test(test_fetch),
	    cmocka_unit_test(test_ipv6),
	    cmocka_unit_test(test_client_limits),
	    cmocka_unit_test(test_stale_keepalive_resend),
	    cmocka_unit_test(test_client_answer_forms),
	    cmocka_unit_test(test_trickle_deadline),
	    cmocka_unit_test(test_connection_cap),
	    cmocka_unit_test(test_peer_cap),
	    cmocka_unit_test(test_idle_timeout),
	    cmocka_unit_test(test_bad_server_config),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

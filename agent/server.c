/* server: routes the agent API the way the Rust Keylime agent does, so a Keylime
 * verifier or tenant cannot tell the difference:
 *   GET /version                       versions, outside any version scope
 *   /v{maj}.{min}/...  with a version we do not serve
 *                                      400 "API version not supported: v{maj}.{min}"
 *                                      (the verifier renegotiates on exactly this text)
 *   a known path with the wrong method 405
 *   anything else                      400
 * Every answer is the Keylime envelope {"code", "status", "results"}. */
#include "agent/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/keys.h"
#include "agent/quotes.h"
#include "agent/revocation.h"
#include "agent/runner.h"
#include "agent/secure.h"
#include "common/net/http.h"
#include "common/base/log.h"
#include "common/base/xmalloc.h"

#define SERVER_MAX_BODY (1024 * 1024) /* largest request: Keylime's max payload size */

struct agent_server {
	agent_server_opts_t o; /* copied options; pointers borrowed */
	http_server_t *http;   /* the listener */
	quotes_t *quotes;      /* the quote engine and its buffers */
	revocation_t *rev;     /* revocation notices and their actions */
	runner_t *runner;      /* child processes: revocation actions, autorun.sh */
	keys_t *keys;          /* the U and V shares, and K */
	secure_t *secure;      /* the payload's unpacking and its script */
};

typedef void (*route_fn)(agent_server_t *s, http_request_t *req, int minor);

/* One versioned route. */
typedef struct route {
	const char *path;     /* path after /v{ver} */
	http_method_t method; /* the one method it takes */
	int min_minor;        /* first 2.x version that has it */
	route_fn fn;          /* handler */
} route_t;

static void on_agent_info(agent_server_t *s, http_request_t *req, int minor)
{
	json_t *r;

	/* API 2.5 renamed the key algorithms ("rsa" became "rsa2048"); answer each version in
	 * its own spelling. ak_handle is a number, as the Rust agent sends it. */
	r = json_pack("{s:s, s:s, s:s, s:s, s:I}", "agent_uuid", s->o.uuid, "tpm_hash_alg",
	              tpm_ak_hash_alg(s->o.tpm), "tpm_enc_alg", tpm_ak_key_alg(s->o.tpm, minor < 5),
	              "tpm_sign_alg", tpm_ak_sign_alg(s->o.tpm), "ak_handle",
	              (json_int_t)tpm_ak_handle(s->o.tpm));
	if (r == NULL) {
		http_reply_envelope(req, 500, "Internal Server Error", NULL);
		return;
	}
	http_reply_envelope(req, 200, "Success", r);
}

/* Both quote kinds: a bad query is 400 with the reason, a TPM failure 500 (which the
 * verifier retries). The handler runs to completion on the event loop, so TPM commands of
 * two requests never interleave. */
static void on_quote(agent_server_t *s, http_request_t *req, int minor, quotes_kind_t kind)
{
	quotes_query_t q;
	err_t e = {""};
	char msg[sizeof(e.msg) + 16];
	json_t *r;

	if (quotes_query_parse(http_request_query_string(req), kind, &q, &e) < 0) {
		snprintf(msg, sizeof(msg), "Bad Request: %s", e.msg);
		http_reply_envelope(req, 400, msg, NULL);
		return;
	}
	if ((r = quotes_answer(s->quotes, kind, &q, minor, &e)) == NULL) {
		log_warnx("quote for %s failed: %s", http_request_peer(req), e.msg);
		http_reply_envelope(req, 500, "Internal Server Error: TPM quote failed", NULL);
		return;
	}
	http_reply_envelope(req, 200, "Success", r);
}

static void on_quote_integrity(agent_server_t *s, http_request_t *req, int minor)
{
	on_quote(s, req, minor, QUOTES_INTEGRITY);
}

static void on_quote_identity(agent_server_t *s, http_request_t *req, int minor)
{
	on_quote(s, req, minor, QUOTES_IDENTITY);
}

/* A verifier's revocation notice (docs/wire.md §6.2): 200 once it verified and its
 * actions are queued (they run afterwards, off this request); a refusal says why, in the
 * envelope's status, and runs nothing. */
static void on_revocation(agent_server_t *s, http_request_t *req, int minor)
{
	size_t len;
	const uint8_t *body = http_request_body(req, &len);
	err_t e = {""};
	char msg[sizeof(e.msg) + 32];
	const char *what;
	int code;

	(void)minor;
	code = revocation_receive(s->rev, body, len, http_request_peer(req), &e);
	switch (code) {
	case 200:
		http_reply_envelope(req, 200, "Success", NULL);
		return;
	case 403:
		what = "Forbidden";
		break;
	case 413:
		what = "Payload Too Large";
		break;
	case 500:
		what = "Internal Server Error";
		break;
	case 503:
		what = "Service Unavailable";
		break;
	default:
		what = "Bad Request";
		break;
	}
	snprintf(msg, sizeof(msg), "%s: %s", what, e.msg);
	http_reply_envelope(req, code, msg, NULL);
}

/* Answer 400 (or code) with reason in the envelope's status, as "Bad Request: reason";
 * Keylime's one exact text, for /keys/verify before K, goes out bare. */
static void reply_refusal(http_request_t *req, int code, const char *reason)
{
	char msg[sizeof(((err_t *)0)->msg) + 32];

	if (strcmp(reason, "Bootstrap key not yet available.") == 0)
		snprintf(msg, sizeof(msg), "%s", reason);
	else
		snprintf(msg, sizeof(msg), "%s: %s",
		         code == 400 ? "Bad Request" : "Internal Server Error", reason);
	http_reply_envelope(req, code, msg, NULL);
}

/* POST /keys/ukey and /keys/vkey: 200 with "results": null, as the Rust agent answers an
 * empty success; a refusal says why. */
static void on_share(agent_server_t *s, http_request_t *req, int is_u)
{
	size_t len;
	const uint8_t *body = http_request_body(req, &len);
	err_t e = {""};
	int code;

	code = is_u ? keys_post_ukey(s->keys, body, len, http_request_peer(req), &e)
	            : keys_post_vkey(s->keys, body, len, http_request_peer(req), &e);
	if (code == 200)
		http_reply_envelope(req, 200, "Success", json_null());
	else
		reply_refusal(req, code, e.msg);
}

static void on_ukey(agent_server_t *s, http_request_t *req, int minor)
{
	(void)minor;
	on_share(s, req, 1);
}

static void on_vkey(agent_server_t *s, http_request_t *req, int minor)
{
	(void)minor;
	on_share(s, req, 0);
}

/* The payload key's PEM, the very string the quotes carry (and PCR 16 binds). */
static void on_pubkey(agent_server_t *s, http_request_t *req, int minor)
{
	(void)minor;
	http_reply_envelope(req, 200, "Success", json_pack("{s:s}", "pubkey", s->o.pubkey_pem));
}

static void on_verify(agent_server_t *s, http_request_t *req, int minor)
{
	char hmac[BOOTKEY_HMAC_HEX + 1];
	err_t e = {""};
	int code;

	(void)minor;
	code = keys_verify(s->keys, http_request_query(req, "challenge"), hmac, &e);
	if (code != 200) {
		log_info("key challenge from %s refused: %s", http_request_peer(req), e.msg);
		reply_refusal(req, code, e.msg);
		return;
	}
	http_reply_envelope(req, 200, "Success", json_pack("{s:s}", "hmac", hmac));
}

/* K is known: unpack its payload, if one came with the U share. */
static void on_derived(void *arg, const uint8_t *k, size_t klen, const uint8_t *payload,
                       size_t plen)
{
	agent_server_t *s = arg;
	err_t e = {""};

	if (payload == NULL) {
		log_info("the U share came without a payload: nothing to unpack");
		return;
	}
	(void)secure_deliver(s->secure, k, klen, payload, plen, &e); /* logged there */
}

static const route_t routes[] = {
    {"/agent/info", HTTP_M_GET, 2, on_agent_info},
    {"/quotes/integrity", HTTP_M_GET, 0, on_quote_integrity},
    {"/quotes/identity", HTTP_M_GET, 0, on_quote_identity},
    {"/notifications/revocation", HTTP_M_POST, 0, on_revocation},
    {"/keys/ukey", HTTP_M_POST, 0, on_ukey},
    {"/keys/vkey", HTTP_M_POST, 0, on_vkey},
    {"/keys/pubkey", HTTP_M_GET, 0, on_pubkey},
    {"/keys/verify", HTTP_M_GET, 0, on_verify},
};

static void on_version(agent_server_t *s, http_request_t *req)
{
	json_t *list = json_array(), *r;
	char v[16];

	for (int i = 0; i < s->o.versions->n; i++) {
		snprintf(v, sizeof(v), "2.%d", s->o.versions->minor[i]);
		json_array_append_new(list, json_string(v));
	}
	api_versions_latest(s->o.versions, v, sizeof(v));
	r = json_pack("{s:s, s:o}", "supported_version", v, "supported_versions", list);
	http_reply_envelope(req, 200, "Success", r);
}

static void on_request(http_request_t *req, void *arg)
{
	agent_server_t *s = arg;
	const char *path = http_request_path(req), *rest;
	http_method_t m = http_request_method(req);
	int major, minor, known = 0;

	if (strcmp(path, "/version") == 0) {
		if (m != HTTP_M_GET)
			http_reply_envelope(req, 405, "Method Not Allowed", NULL);
		else
			on_version(s, req);
		return;
	}
	if (!api_path_split(path, &major, &minor, &rest)) {
		http_reply_envelope(req, 400, "Bad Request: no such path", NULL);
		return;
	}
	if (!api_versions_has(s->o.versions, major, minor)) {
		char msg[64];
		snprintf(msg, sizeof(msg), "API version not supported: v%d.%d", major, minor);
		http_reply_envelope(req, 400, msg, NULL);
		return;
	}
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const route_t *r = &routes[i];
		if (strcmp(rest, r->path) != 0 || minor < r->min_minor)
			continue;
		if (m == r->method) {
			r->fn(s, req, minor);
			return;
		}
		known = 1;
	}
	if (known)
		http_reply_envelope(req, 405, "Method Not Allowed", NULL);
	else
		http_reply_envelope(req, 400, "Bad Request: no such path", NULL);
}

agent_server_t *agent_server_new(struct event_base *base, const agent_server_opts_t *o, err_t *e)
{
	agent_server_t *s = xcalloc(1, sizeof(*s));
	tls_server_opts_t tls = {
	    .cert_file = o->cert_file,
	    .key_file = o->key_file,
	    .client_ca_file = o->client_ca_file,
	    .client_cert = HTTP_CLIENT_CERT_REQUIRED,
	};

	quotes_opts_t qo = {
	    .tpm = o->tpm,
	    .pubkey_pem = o->pubkey_pem,
	    .ima_log = o->ima_log,
	    .event_log = o->event_log,
	    .ima_max = o->ima_max,
	    .event_max = o->event_max,
	    .logs_pinned = o->logs_pinned,
	    .ima_fd = o->ima_fd,
	    .event_fd = o->event_fd,
	};

	revocation_opts_t ro = {
	    .cert_pem = o->revocation_cert_pem,
	    .actions_dir = o->revocation_actions_dir,
	    .work_dir = o->revocation_work_dir,
	    .timeout_s = o->revocation_action_timeout_s,
	};

	s->o = *o;
	if ((s->runner = runner_new(base)) == NULL) {
		err_set(e, "cannot watch child processes on the event loop");
		free(s);
		return NULL;
	}
	ro.runner = s->runner;
	if ((s->rev = revocation_new(&ro, e)) == NULL) {
		runner_free(s->runner);
		free(s);
		return NULL;
	}
	secure_opts_t so = {
	    .dir = o->secure_dir,
	    .runner = s->runner,
	    .timeout_s = o->payload_script_timeout_s,
	};
	s->secure = secure_new(&so);
	s->keys = keys_new(o->payload_key, o->uuid, on_derived, s);
	s->quotes = quotes_new(&qo);
	s->http =
	    http_server_new(base, o->listen, &tls, SERVER_MAX_BODY, o->timeout_s, on_request, s);
	if (s->http == NULL) {
		err_set(e, "cannot serve HTTPS on %s (see the messages above)", o->listen);
		agent_server_free(s);
		return NULL;
	}
	http_server_set_idle_timeout(s->http, o->idle_timeout_s);
	http_server_set_max_per_peer(s->http, o->max_conns_per_peer);
	return s;
}

void agent_server_free(agent_server_t *s)
{
	if (s == NULL)
		return;
	http_server_free(s->http);
	quotes_free(s->quotes);
	keys_free(s->keys);
	secure_free(s->secure);
	revocation_free(s->rev);
	runner_free(s->runner);
	free(s);
}

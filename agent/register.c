/* register: enroll this node at the registrar, the way the Rust Keylime agent does it
 * (docs/wire.md §1.3, §3), so either registrar accepts either agent.
 *
 * One attempt = GET /version, POST the identity, ActivateCredential, PUT the auth_tag.
 * An attempt that fails because the registrar is unreachable (no answer, or 5xx), or
 * because it refused an activation our TPM answered correctly (its challenge was replaced
 * by another registration of this UUID, or activations are rate-limited: 400/404/429), is
 * repeated after an exponentially growing wait; any other refusal ends registration with
 * an explanation for the operator. */
#include "agent/register.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "common/crypto/authtag.h"
#include "common/net/http.h"
#include "common/base/log.h"
#include "common/crypto/makecred.h"
#include "common/base/xmalloc.h"

#define REG_MAX_RESPONSE (256 * 1024) /* a blob answer is well under 1 KiB */
#define REG_MAX_BLOB     8192         /* decoded credential blob */

/* Outcome of one step of an attempt. */
typedef enum {
	STEP_OK,        /* go on */
	STEP_TRANSIENT, /* registrar unreachable or failing: wait and start again */
	STEP_FATAL,     /* refused or broken: stop, e says why */
	STEP_NEXT,      /* this API version is not served: try an older one */
} step_t;

typedef struct reg {
	const register_opts_t *o; /* borrowed options */
	tpm_t *tpm;               /* borrowed TPM */
	char *host;               /* owned registrar host */
	int port;                 /* registrar port */
	buf_t resp;               /* last response body */
} reg_t;

void register_auth_tag(const uint8_t *cred, size_t len, const char *uuid, char *out)
{
	if (authtag_from_credential(cred, len, uuid, out) < 0)
		fatalx("HMAC-SHA384 failed");
}

char *register_body(const register_opts_t *o)
{
	buf_t ek = BUF_INIT, ak = BUF_INIT;
	json_t *j;
	char *s;

	base64_encode(&ek, o->ek_tpm->data, o->ek_tpm->len);
	base64_encode(&ak, o->aik_tpm->data, o->aik_tpm->len);
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "ekcert", o->ekcert, "ek_tpm",
	              (const char *)ek.data, "aik_tpm", (const char *)ak.data, "mtls_cert",
	              o->mtls_cert, "ip", o->contact_ip, "port", o->contact_port);
	if (j == NULL)
		fatalx("cannot build the registration request");
	s = json_dumps(j, JSON_COMPACT);
	if (s == NULL)
		fatalx("cannot build the registration request");
	json_decref(j);
	buf_free(&ek);
	buf_free(&ak);
	return s;
}

/* Parse a registrar answer strictly (as the Rust agent does): a JSON object with a
 * numeric code, a status text and results. NULL when it is not such an envelope. */
static json_t *envelope_parse(const uint8_t *body, size_t len)
{
	json_t *j = body ? json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;

	if (j == NULL)
		return NULL;
	if (!json_is_object(j) || !json_is_integer(json_object_get(j, "code")) ||
	    !json_is_string(json_object_get(j, "status")) ||
	    json_object_get(j, "results") == NULL) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* The envelope's status text, for messages ("" when none). Borrowed from j. */
static const char *envelope_status(json_t *j)
{
	const char *s = j ? json_string_value(json_object_get(j, "status")) : NULL;
	return s ? s : "";
}

int register_parse_version(const uint8_t *body, size_t len, const api_versions_t *ours, char *ver,
                           size_t vlen, err_t *e)
{
	json_t *j, *res, *sup, *cur;
	const char *list[API_VERSIONS_MAX * 4 + 1];
	size_t i, n = 0;
	int rv = -1;

	ver[0] = '\0';
	j = envelope_parse(body, len);
	res = j ? json_object_get(j, "results") : NULL;
	sup = res ? json_object_get(res, "supported_versions") : NULL;
	cur = res ? json_object_get(res, "current_version") : NULL;
	/* Like the Rust agent: a 200 without both fields is not a registrar we understand. */
	if (!json_is_string(cur) || !json_is_array(sup)) {
		err_set(e, "the registrar's GET /version answer lacks current_version or "
		           "supported_versions; is it a Keylime-compatible registrar?");
		goto out;
	}
	for (i = 0; i < json_array_size(sup) && n < API_VERSIONS_MAX * 4; i++)
		if (json_is_string(json_array_get(sup, i)))
			list[n++] = json_string_value(json_array_get(sup, i));
	list[n] = NULL;
	if (api_versions_negotiate(ours, json_string_value(cur), list, ver, vlen) < 0) {
		char mine[8];
		api_versions_latest(ours, mine, sizeof(mine));
		err_set(e,
		        "the registrar speaks none of our API versions (it is at %.16s, we are "
		        "at %s); check agent.api_versions",
		        json_string_value(cur), mine);
		goto out;
	}
	rv = 0;
out:
	json_decref(j);
	return rv;
}

int register_parse_blob(const uint8_t *body, size_t len, buf_t *blob, err_t *e)
{
	json_t *j = envelope_parse(body, len);
	const char *b64;
	size_t n;
	int rv = -1;

	buf_reset(blob);
	b64 = j ? json_string_value(json_object_get(json_object_get(j, "results"), "blob")) : NULL;
	if (b64 == NULL) {
		err_set(e, "the registrar's answer carries no credential blob");
		goto out;
	}
	n = strlen(b64);
	if (n > REG_MAX_BLOB * 2 || base64_decode(blob, b64, n) < 0) {
		err_set(e, "the registrar's credential blob is not valid base64");
		goto out;
	}
	rv = 0;
out:
	json_decref(j);
	return rv;
}

/* One request. Returns the HTTP status, 0 when no answer came (e says why). */
static int reg_request(reg_t *r, http_method_t m, const char *path, const char *body, err_t *e)
{
	int status;

	buf_reset(&r->resp);
	status = http_fetch(r->host, r->port, NULL, r->o->timeout_s, m, path,
	                    body ? "application/json" : NULL, body, body ? strlen(body) : 0,
	                    &r->resp, e);
	if (status > 0 && r->resp.len > REG_MAX_RESPONSE) {
		err_set(e, "registrar answered %zu bytes to %s", r->resp.len, path);
		return 0;
	}
	return status;
}

/* GET /version: the version both sides speak, or an empty string when the registrar does
 * not say (older registrars), in which case we try ours from newest to oldest. */
static step_t reg_version(reg_t *r, char *ver, size_t vlen, err_t *e)
{
	int status;

	ver[0] = '\0';
	status = reg_request(r, HTTP_M_GET, "/version", NULL, e);
	if (status == 0 || status >= 500) {
		if (status)
			err_set(e, "GET /version: HTTP %d", status);
		return STEP_TRANSIENT;
	}
	if (status == 403) {
		err_set(e, "the registrar refused GET /version (403 Forbidden)");
		return STEP_FATAL;
	}
	if (status < 200 || status > 299) {
		log_info("registrar at %s:%d answers GET /version with HTTP %d; trying our API "
		         "versions from the newest",
		         r->host, r->port, status);
		return STEP_OK;
	}
	if (register_parse_version(r->resp.data, r->resp.len, r->o->versions, ver, vlen, e) < 0)
		return STEP_FATAL;
	return STEP_OK;
}

/* POST /v{ver}/agents/{uuid}: the identity goes up, the credential blob comes back. */
static step_t reg_post(reg_t *r, const char *ver, int fallback, buf_t *blob, err_t *e)
{
	char *path = xasprintf("/v%s/agents/%s", ver, r->o->uuid);
	char *body = register_body(r->o);
	json_t *j = NULL;
	int status;
	step_t rv = STEP_FATAL;

	status = reg_request(r, HTTP_M_POST, path, body, e);
	if (status == 0 || status >= 500) {
		if (status)
			err_set(e, "POST %s: HTTP %d", path, status);
		rv = STEP_TRANSIENT;
		goto out;
	}
	j = envelope_parse(r->resp.data, r->resp.len);
	if (status == 403) {
		/* The operator's answer to this one is always the same; say it plainly. */
		err_set(e,
		        "403 Forbidden: the registrar holds a record for this UUID with a "
		        "different EK, EK certificate or AK (an admin must delete the old record "
		        "at the registrar before this node can register again), or this TPM is "
		        "already enrolled under another UUID (one TPM, one node: the registrar's "
		        "log names it), or its EK certificate was refused (%s)",
		        envelope_status(j));
		goto out;
	}
	if (fallback && (status == 400 || status == 404 || status == 405)) {
		log_debug("registrar does not take API v%s (HTTP %d)", ver, status);
		rv = STEP_NEXT;
		goto out;
	}
	if (status != 200) {
		err_set(e, "the registrar refused the registration: HTTP %d %s", status,
		        envelope_status(j));
		goto out;
	}
	if (register_parse_blob(r->resp.data, r->resp.len, blob, e) < 0)
		goto out;
	rv = STEP_OK;
out:
	json_decref(j);
	free(body);
	free(path);
	return rv;
}

/* ActivateCredential on the blob, then PUT /v{ver}/agents/{uuid} {"auth_tag": ...}. */
static step_t reg_activate(reg_t *r, const char *ver, const buf_t *blob, err_t *e)
{
	buf_t id = BUF_INIT, secret = BUF_INIT, cred = BUF_INIT;
	char tag[97], *path = NULL, *body = NULL;
	json_t *j = NULL;
	int status;
	step_t rv = STEP_FATAL;

	if (makecred_blob_decode(blob->data, blob->len, &id, &secret, e) < 0)
		goto out;
	if (tpm_activate_credential(r->tpm, id.data, id.len, secret.data, secret.len, &cred, e) <
	    0) {
		char why[sizeof(e->msg)];
		snprintf(why, sizeof(why), "%s", e ? e->msg : "");
		err_set(e,
		        "the TPM could not activate the registrar's credential (was it made for "
		        "this EK and AK?): %s",
		        why);
		goto out;
	}
	register_auth_tag(cred.data, cred.len, r->o->uuid, tag);
	path = xasprintf("/v%s/agents/%s", ver, r->o->uuid);
	j = json_pack("{s:s}", "auth_tag", tag);
	body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	j = NULL;
	status = reg_request(r, HTTP_M_PUT, path, body, e);
	if (status == 0 || status >= 500) {
		if (status)
			err_set(e, "PUT %s: HTTP %d", path, status);
		rv = STEP_TRANSIENT;
		goto out;
	}
	if (status != 200) {
		j = envelope_parse(r->resp.data, r->resp.len);
		if (status == 400 || status == 404 || status == 429) {
			/* Our TPM answered its own challenge, so the registrar holds another one:
			 * a registration of this UUID from elsewhere replaced it (the registrar
			 * stages re-registrations), or too many wrong activations were tried for
			 * this UUID (429). Neither is ours to fix: register again, with backoff. */
			err_set(e,
			        "the registrar refused the activation (HTTP %d %s): another "
			        "registration of this UUID may have replaced our challenge; "
			        "registering again",
			        status, envelope_status(j));
			rv = STEP_TRANSIENT;
		} else {
			err_set(e, "the registrar refused the activation: HTTP %d %s", status,
			        envelope_status(j));
		}
		goto out;
	}
	rv = STEP_OK;
out:
	OPENSSL_cleanse(tag, sizeof(tag));
	json_decref(j);
	free(body);
	free(path);
	buf_free(&id);
	buf_free(&secret);
	buf_free_secret(&cred);
	return rv;
}

/* One whole attempt. */
static step_t reg_attempt(reg_t *r, char *version, size_t vlen, err_t *e)
{
	buf_t blob = BUF_INIT;
	char ver[16];
	step_t st;
	int i;

	st = reg_version(r, ver, sizeof(ver), e);
	if (st != STEP_OK)
		return st;
	if (ver[0]) {
		log_info("registering agent %s at %s:%d (API v%s)", r->o->uuid, r->host, r->port,
		         ver);
		st = reg_post(r, ver, 0, &blob, e);
	} else {
		/* The registrar did not say: try ours from the newest down. */
		st = STEP_NEXT;
		for (i = r->o->versions->n - 1; i >= 0 && st == STEP_NEXT; i--) {
			snprintf(ver, sizeof(ver), "2.%d", r->o->versions->minor[i]);
			log_info("registering agent %s at %s:%d (trying API v%s)", r->o->uuid,
			         r->host, r->port, ver);
			st = reg_post(r, ver, 1, &blob, e);
		}
		if (st == STEP_NEXT) {
			err_set(e, "the registrar at %s:%d takes none of our API versions", r->host,
			        r->port);
			st = STEP_FATAL;
		}
	}
	if (st == STEP_OK)
		st = reg_activate(r, ver, &blob, e);
	if (st == STEP_OK)
		snprintf(version, vlen, "%s", ver);
	buf_free(&blob);
	return st;
}

/* Sleep s seconds unless asked to stop. 0, or -1 when stopped. */
static int reg_wait(const register_opts_t *o, int s)
{
	struct timespec tick = {0, 100 * 1000 * 1000};

	for (int i = 0; i < s * 10; i++) {
		if (o->stop && *o->stop)
			return -1;
		nanosleep(&tick, NULL);
	}
	return o->stop && *o->stop ? -1 : 0;
}

int register_agent(const register_opts_t *o, tpm_t *tpm, char *version, size_t vlen, err_t *e)
{
	reg_t r = {.o = o, .tpm = tpm, .resp = BUF_INIT};
	int attempt = 0, wait = o->retry_initial_s > 0 ? o->retry_initial_s : 1, rv = -1;
	step_t st;

	if (http_parse_hostport(o->registrar, &r.host, &r.port) < 0) {
		err_set(e, "agent.registrar \"%s\" is not host:port", o->registrar);
		return -1;
	}
	for (;;) {
		st = reg_attempt(&r, version, vlen, e);
		if (st == STEP_OK) {
			rv = 0;
			break;
		}
		if (st != STEP_TRANSIENT)
			break;
		if (attempt >= o->retries) {
			char why[sizeof(e->msg)];
			snprintf(why, sizeof(why), "%s", e ? e->msg : "");
			err_set(e, "registrar %s unreachable after %d attempts: %s", o->registrar,
			        attempt + 1, why);
			break;
		}
		attempt++;
		log_warnx("registration at %s failed (%s); retrying in %d s (attempt %d of %d)",
		          o->registrar, e ? e->msg : "", wait, attempt + 1, o->retries + 1);
		if (reg_wait(o, wait) < 0) {
			err_set(e, "registration interrupted");
			break;
		}
		wait = wait * 2 > o->retry_max_s ? o->retry_max_s : wait * 2;
		if (wait < 1)
			wait = 1;
	}
	free(r.host);
	buf_free(&r.resp);
	return rv;
}

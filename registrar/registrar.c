/* registrar: routes, enrollment state changes and their replies. Every state change is
 * committed to the store before the reply goes out, and every refusal happens before the
 * store is touched, so bad input never changes what is stored. */
#include "registrar/registrar.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "common/crypto/authtag.h"
#include "common/base/buf.h"
#include "common/crypto/ekcert.h"
#include "common/net/http.h"
#include "common/base/log.h"
#include "common/crypto/makecred.h"
#include "common/base/nonce.h"
#include "common/store/store.h"
#include "common/crypto/tpm2.h"
#include "common/base/xmalloc.h"
#include "registrar/api.h"
#include "registrar/enroll.h"
#include "registrar/metrics.h"
#include "registrar/route.h"

#define CRED_LEN 32 /* credential: 32 characters of [A-Za-z0-9], as Keylime makes it */

/* Failed activations (a wrong auth_tag) allowed per agent id within one window; further
 * activations of that id are answered 429 until the window ends. A genuine agent needs
 * one try; the budget only bounds how fast anyone can make the registrar discard attempts
 * and write log lines. */
#define ACTFAIL_BUDGET  5
#define ACTFAIL_WINDOW  60    /* seconds */
#define ACTFAIL_MAX_IDS 65536 /* ids tracked at once; beyond that, activations get 429 */

/* The API versions served; the last is the current one. */

/* Failed activations of one agent id in the current window. */
typedef struct actfail {
	char id[ENROLL_MAX_ID + 1]; /* agent id */
	time_t start;               /* monotonic seconds the window began */
	int count;                  /* wrong auth_tags in the window */
} actfail_t;

typedef struct listener {
	struct registrar *r; /* owner */
	int tls;             /* 1 on the HTTPS (admin) listener */
} listener_t;

struct registrar {
	const config_t *cfg;    /* borrowed configuration */
	store_t *store;         /* enrollments */
	ekca_t *ekca;           /* TPM vendor CAs, NULL when none are configured */
	enroll_policy_t policy; /* what registrations must satisfy */
	int allow_ek_reuse;     /* 1: one EK may be enrolled under several agent ids */
	actfail_t *fails;       /* failed-activation windows, unordered */
	size_t nfails;          /* entries in fails */
	http_server_t *http;    /* agent routes */
	http_server_t *https;   /* admin routes (and agent routes), NULL when disabled */
	listener_t l_http;      /* callback context of http */
	listener_t l_https;     /* callback context of https */
	rmetrics_t *metrics;    /* outcome counters and the metrics listener */
	regapi_t *api;          /* the gRPC API and its thread, NULL when off */
};

/* ---- helpers ---- */

static void reply_error(http_request_t *req, int code, const char *status)
{
	http_reply_envelope(req, code, status, NULL);
}

static int str_eq_null(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static const char *key_desc(const tpm2_pub_t *k, char *s, size_t n)
{
	const char *alg = tpm2_alg_name(tpm2_pub_name_alg(k));

	snprintf(s, n, "%s-%d/%s", tpm2_pub_type(k) == TPM2_ALG_RSA_ID ? "rsa" : "ecc",
	         tpm2_pub_key_bits(k), alg ? alg : "?");
	return s;
}

static time_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* The failure window of id, NULL when none is open. Ended windows are dropped first, so
 * the table only holds ids that failed within the last ACTFAIL_WINDOW seconds. */
static actfail_t *actfail_find(registrar_t *r, const char *id)
{
	time_t now = mono_now();
	size_t i = 0;

	while (i < r->nfails) {
		if (now - r->fails[i].start >= ACTFAIL_WINDOW) {
			r->fails[i] = r->fails[--r->nfails];
			continue;
		}
		i++;
	}
	for (i = 0; i < r->nfails; i++)
		if (strcmp(r->fails[i].id, id) == 0)
			return &r->fails[i];
	return NULL;
}

/* 1 when id has used up its failed-activation budget (or the table is full). */
static int actfail_is_limited(registrar_t *r, const char *id)
{
	actfail_t *f = actfail_find(r, id);

	if (f == NULL)
		return r->nfails >= ACTFAIL_MAX_IDS;
	return f->count >= ACTFAIL_BUDGET;
}

static void actfail_count(registrar_t *r, const char *id)
{
	actfail_t *f = actfail_find(r, id);

	if (f == NULL) {
		if (r->nfails >= ACTFAIL_MAX_IDS)
			return;
		r->fails = xrealloc(r->fails, (r->nfails + 1) * sizeof(*r->fails));
		f = &r->fails[r->nfails++];
		snprintf(f->id, sizeof(f->id), "%s", id);
		f->start = mono_now();
		f->count = 0;
	}
	f->count++;
}

/* ---- routes ---- */

static void do_version(http_request_t *req)
{
	json_t *res = json_object(), *list = json_array();

	for (size_t i = 0; i < REGISTRAR_API_COUNT; i++)
		json_array_append_new(list, json_string(registrar_api_versions[i]));
	json_object_set_new(res, "current_version",
	                    json_string(registrar_api_versions[REGISTRAR_API_COUNT - 1]));
	json_object_set_new(res, "supported_versions", list);
	http_reply_envelope(req, 200, "Success", res);
}

/* The EK's identity for "one TPM, one node": hex SHA-256 of its DER SubjectPublicKeyInfo,
 * so that the same key spelled differently in a TPM2B_PUBLIC (an RSA exponent of 0 or
 * 65537, say) is still the same TPM. 0, or -1 when the key cannot be converted. */
static int ek_key_of(const tpm2_pub_t *ek, char out[2 * SHA256_DIGEST_LENGTH + 1])
{
	EVP_PKEY *pk = NULL;
	unsigned char *der = NULL, md[SHA256_DIGEST_LENGTH];
	buf_t hex = BUF_INIT;
	err_t e = {""};
	int n, rv = -1;

	out[0] = '\0';
	if ((pk = tpm2_pub_to_pkey(ek, &e)) == NULL || (n = i2d_PUBKEY(pk, &der)) <= 0)
		goto out;
	SHA256(der, (size_t)n, md);
	hex_encode(&hex, md, sizeof(md));
	memcpy(out, hex.data, 2 * SHA256_DIGEST_LENGTH + 1);
	rv = 0;
out:
	OPENSSL_free(der);
	EVP_PKEY_free(pk);
	buf_free(&hex);
	return rv;
}

/* ek_key_of for a stored ek_tpm text. */
static int ek_key_of_text(const char *ek_tpm, char out[2 * SHA256_DIGEST_LENGTH + 1])
{
	buf_t raw = BUF_INIT;
	tpm2_pub_t *k = NULL;
	err_t e = {""};
	int rv = -1;

	out[0] = '\0';
	if (base64_decode(&raw, ek_tpm, strlen(ek_tpm)) == 0 &&
	    (k = tpm2_pub_decode(raw.data, raw.len, &e)) != NULL)
		rv = ek_key_of(k, out);
	tpm2_pub_free(k);
	buf_free(&raw);
	return rv;
}

/* Records written before schema 4 have no ek_key: fill it in once, at start, so that
 * the EK reuse check sees every enrollment. 0, or -1 on a storage error. */
static int ek_keys_backfill(registrar_t *r)
{
	char **ids = NULL, key[2 * SHA256_DIGEST_LENGTH + 1];
	size_t n = 0, done = 0;
	err_t e = {""};
	int rv = -1;

	if (store_agent_list(r->store, &ids, &n, &e) != STORE_OK)
		return -1;
	for (size_t i = 0; i < n; i++) {
		store_agent_t a;
		if (store_agent_get(r->store, ids[i], &a, &e) != STORE_OK)
			goto out;
		if (a.ek_key == NULL) {
			if (ek_key_of_text(a.ek_tpm, key) < 0) {
				log_warnx(
				    "agent %s: stored ek_tpm does not decode; it is left out of "
				    "the EK reuse check",
				    ids[i]);
			} else {
				a.ek_key = xstrdup(key);
				if (store_agent_put(r->store, &a, &e) != STORE_OK) {
					store_agent_clear(&a);
					goto out;
				}
				done++;
			}
		}
		store_agent_clear(&a);
	}
	if (done)
		log_info("EK key identities recorded for %zu enrollment(s) from before", done);
	rv = 0;
out:
	store_ids_free(ids);
	return rv;
}

/* One TPM, one node: refuse an EK that another id has enrolled (unless the operator
 * allows it). The other id goes to the log only: the caller, who may hold nothing but the
 * public EK, learns nothing about the fleet. 0 when the EK is free, -1 when the reply was
 * sent (a refusal), -2 when it was sent for a storage error. */
static int ek_reuse_refused(registrar_t *r, http_request_t *req, const char *what, const char *id,
                            const char *ek_key)
{
	char *other = NULL;
	err_t e = {""};
	store_rc_t rc;

	if (r->allow_ek_reuse)
		return 0;
	rc = store_agent_find_ek(r->store, ek_key, id, 1, &other, &e);
	if (rc == STORE_NOT_FOUND)
		return 0;
	if (rc == STORE_ERROR) {
		reply_error(req, 500, "registrar storage error");
		return -2;
	}
	log_info("%s of agent %s from %s rejected: its EK is already enrolled as agent %s "
	         "(registrar.allow_ek_reuse = no)",
	         what, id, http_request_peer(req), other);
	reply_error(req, 403,
	            "this TPM's EK is already enrolled under another agent id; one TPM enrolls "
	            "one node (an administrator must delete the other enrollment first)");
	free(other);
	return -1;
}

static void do_register(registrar_t *r, http_request_t *req, const char *path_id)
{
	const char *peer = http_request_peer(req);
	const uint8_t *body;
	size_t blen;
	enroll_req_t *q = NULL;
	store_agent_t old, rec;
	int status, have_old = 0, staged = 0;
	char cred[CRED_LEN + 1], kd[64], ad[64], ek_key[2 * SHA256_DIGEST_LENGTH + 1];
	buf_t name = BUF_INIT, blob = BUF_INIT, key = BUF_INIT, b64 = BUF_INIT;
	err_t e = {""};
	store_rc_t rc;

	memset(&old, 0, sizeof(old));
	memset(&rec, 0, sizeof(rec));
	cred[0] = '\0';
	body = http_request_body(req, &blen);
	if ((q = enroll_parse(body, blen, path_id, &r->policy, &status, &e)) == NULL) {
		log_info("registration of agent %s from %s rejected: %s",
		         path_id ? path_id : "(id in body)", peer, e.msg);
		rmetrics_count(r->metrics,
		               status == 403 ? RMETRICS_REG_EK_CERT : RMETRICS_REG_INVALID);
		reply_error(req, status, e.msg);
		goto out;
	}

	rc = store_agent_get(r->store, q->agent_id, &old, &e);
	if (rc == STORE_ERROR) {
		rmetrics_count(r->metrics, RMETRICS_REG_STORE_ERROR);
		reply_error(req, 500, "registrar storage error");
		goto out;
	}
	have_old = rc == STORE_OK;
	/* A UUID stays bound to one TPM identity: a different EK, EK certificate or AK
	 * needs an operator to delete the old enrollment first. */
	if (have_old &&
	    (!str_eq_null(old.ek_tpm, q->ek_tpm) || !str_eq_null(old.ekcert, q->ekcert) ||
	     !str_eq_null(old.aik_tpm, q->aik_tpm))) {
		const char *what = !str_eq_null(old.ek_tpm, q->ek_tpm)     ? "EK"
		                   : !str_eq_null(old.aik_tpm, q->aik_tpm) ? "AK"
		                                                           : "EK certificate";
		log_info("registration of agent %s from %s rejected: already enrolled with a "
		         "different %s (delete it first to re-enroll)",
		         q->agent_id, peer, what);
		err_set(&e,
		        "agent %s is already registered with a different %s; an administrator must "
		        "delete it first",
		        q->agent_id, what);
		rmetrics_count(r->metrics, RMETRICS_REG_IDENTITY_CONFLICT);
		reply_error(req, 403, e.msg);
		goto out;
	}
	if (ek_key_of(q->ek, ek_key) < 0) {
		log_info("registration of agent %s from %s rejected: ek_tpm is not a usable public "
		         "key",
		         q->agent_id, peer);
		rmetrics_count(r->metrics, RMETRICS_REG_INVALID);
		reply_error(req, 400, "ek_tpm is not a usable public key");
		goto out;
	}
	if ((status = ek_reuse_refused(r, req, "registration", q->agent_id, ek_key)) < 0) {
		rmetrics_count(r->metrics,
		               status == -2 ? RMETRICS_REG_STORE_ERROR : RMETRICS_REG_EK_REUSE);
		goto out;
	}

	/* The challenge: a fresh credential that only the TPM holding this EK can recover,
	 * and only for an object with this AK's name. */
	if (tpm2_pub_name(q->ak, &name, &e) < 0) {
		log_info("registration of agent %s from %s rejected: %s", q->agent_id, peer, e.msg);
		rmetrics_count(r->metrics, RMETRICS_REG_INVALID);
		reply_error(req, 400, e.msg);
		goto out;
	}
	nonce_alnum(cred, CRED_LEN);
	if (makecred_blob(q->ek, name.data, name.len, (const uint8_t *)cred, CRED_LEN, &blob, &e) <
	    0) {
		char msg[300];
		snprintf(msg, sizeof(msg), "cannot make a credential for this EK: %s", e.msg);
		log_info("registration of agent %s from %s rejected: %s", q->agent_id, peer, msg);
		rmetrics_count(r->metrics, RMETRICS_REG_INVALID);
		reply_error(req, 400, msg);
		goto out;
	}
	base64_encode(&key, cred, CRED_LEN);

	rec.agent_id = q->agent_id;
	rec.ek_tpm = q->ek_tpm;
	rec.ek_key = ek_key;
	rec.ekcert = q->ekcert;
	rec.aik_tpm = q->aik_tpm;
	rec.mtls_cert = q->mtls_cert;
	rec.ip = q->ip;
	rec.port = q->port;
	rec.pending_key = (char *)key.data;
	if (have_old && old.active) {
		/* Anyone can send an active node's public EK, EK certificate and AK: this
		 * attempt waits beside the enrollment and changes it only once its challenge
		 * is answered, which takes that TPM. */
		rc = store_agent_stage(r->store, &rec, &e);
		staged = 1;
	} else {
		rec.regcount = have_old ? old.regcount + 1 : 1;
		rec.active = 0;
		rc = store_agent_put(r->store, &rec, &e);
	}
	if (rc != STORE_OK) {
		rmetrics_count(r->metrics, rc == STORE_NOT_FOUND ? RMETRICS_REG_CONFLICT
		                                                 : RMETRICS_REG_STORE_ERROR);
		reply_error(req, rc == STORE_NOT_FOUND ? 409 : 500,
		            rc == STORE_NOT_FOUND
		                ? "agent changed during registration; register again"
		                : "registrar storage error");
		goto out;
	}
	if (staged)
		log_info("agent %s re-registered from %s: EK %s, AK %s; staged beside the active "
		         "enrollment (registration %d), which stays unchanged until activation",
		         q->agent_id, peer, key_desc(q->ek, kd, sizeof(kd)),
		         key_desc(q->ak, ad, sizeof(ad)), old.regcount);
	else
		log_info("agent %s registered from %s: EK %s%s%s, AK %s, registration %d; awaiting "
		         "activation",
		         q->agent_id, peer, key_desc(q->ek, kd, sizeof(kd)),
		         q->ekcert ? " certified by " : " without certificate",
		         q->ekcert ? q->ek_issuer : "", key_desc(q->ak, ad, sizeof(ad)),
		         rec.regcount);
	base64_encode(&b64, blob.data, blob.len);
	json_t *res = json_object();
	json_object_set_new(res, "blob", json_stringn((const char *)b64.data, b64.len));
	rmetrics_count(r->metrics, RMETRICS_REG_OK);
	http_reply_envelope(req, 200, "Success", res);
out:
	OPENSSL_cleanse(cred, sizeof(cred));
	buf_free_secret(&key);
	buf_free(&name);
	buf_free(&blob);
	buf_free(&b64);
	store_agent_clear(&old);
	enroll_req_free(q);
}

static void do_activate(registrar_t *r, http_request_t *req, const char *id)
{
	const char *peer = http_request_peer(req);
	const uint8_t *body;
	size_t blen;
	char tag[ENROLL_MAX_AUTHTAG + 1];
	store_agent_t a, st;
	err_t e = {""};
	char msg[300];
	store_rc_t rc;
	int staged, rv;

	memset(&a, 0, sizeof(a));
	memset(&st, 0, sizeof(st));
	tag[0] = '\0';
	body = http_request_body(req, &blen);
	if (enroll_parse_auth_tag(body, blen, tag, &e) < 0) {
		log_info("activation of agent %s from %s rejected: %s", id, peer, e.msg);
		rmetrics_count(r->metrics, RMETRICS_ACT_INVALID);
		reply_error(req, 400, e.msg);
		goto out;
	}
	if (actfail_is_limited(r, id)) {
		log_info("activation of agent %s from %s rejected: already %d wrong auth_tags "
		         "within %d s",
		         id, peer, ACTFAIL_BUDGET, ACTFAIL_WINDOW);
		snprintf(msg, sizeof(msg),
		         "too many failed activations of agent %s; try again in a minute", id);
		rmetrics_count(r->metrics, RMETRICS_ACT_RATE_LIMITED);
		reply_error(req, 429, msg);
		goto out;
	}
	rc = store_agent_get(r->store, id, &a, &e);
	if (rc == STORE_ERROR) {
		rmetrics_count(r->metrics, RMETRICS_ACT_STORE_ERROR);
		reply_error(req, 500, "registrar storage error");
		goto out;
	}
	if (rc == STORE_NOT_FOUND) {
		log_info("activation of agent %s from %s rejected: not registered", id, peer);
		snprintf(msg, sizeof(msg), "agent %s is not registered", id);
		rmetrics_count(r->metrics, RMETRICS_ACT_NOT_REGISTERED);
		reply_error(req, 404, msg);
		goto out;
	}
	/* An active enrollment is activated again only through a staged re-registration. */
	staged = a.active;
	if (staged) {
		rc = store_agent_get_staged(r->store, id, &st, &e);
		if (rc == STORE_ERROR) {
			rmetrics_count(r->metrics, RMETRICS_ACT_STORE_ERROR);
			reply_error(req, 500, "registrar storage error");
			goto out;
		}
	}
	if ((staged && rc == STORE_NOT_FOUND) || (!staged && a.pending_key == NULL)) {
		/* The challenge key is forgotten at activation, so a second answer cannot be
		 * checked; registering again issues a new challenge. */
		log_info("activation of agent %s from %s rejected: already active", id, peer);
		snprintf(msg, sizeof(msg),
		         "agent %s is already active; register again for a new challenge", id);
		rmetrics_count(r->metrics, RMETRICS_ACT_ALREADY_ACTIVE);
		reply_error(req, 400, msg);
		goto out;
	}
	if (!authtag_matches(staged ? st.pending_key : a.pending_key, id, tag)) {
		actfail_count(r, id);
		/* A wrong proof ends this attempt and nothing else: an active enrollment
		 * stays exactly as it was. A first registration that was never activated is
		 * no enrollment yet; it is removed, as Keylime does. */
		rc = staged ? store_agent_unstage(r->store, id, &e)
		            : store_agent_delete_pending(r->store, id, &e);
		if (rc == STORE_ERROR) {
			rmetrics_count(r->metrics, RMETRICS_ACT_STORE_ERROR);
			reply_error(req, 500, "registrar storage error");
			goto out;
		}
		rmetrics_count(r->metrics, RMETRICS_ACT_AUTH_TAG);
		log_info("activation of agent %s from %s rejected: auth_tag does not match; %s", id,
		         peer,
		         staged ? "the staged re-registration was discarded, the enrollment is "
		                  "unchanged"
		                : "its registration was removed");
		if (staged)
			snprintf(msg, sizeof(msg),
			         "auth_tag does not match; this re-registration of agent %s was "
			         "discarded and its enrollment is unchanged",
			         id);
		else
			snprintf(
			    msg, sizeof(msg),
			    "auth_tag does not match; the registration of agent %s was removed, "
			    "register again",
			    id);
		reply_error(req, 400, msg);
		goto out;
	}
	/* Proof of possession: the first activation of an EK another id holds is refused
	 * here too (registrations only see enrollments that were active then). */
	if (!staged && (rv = ek_reuse_refused(r, req, "activation", id, a.ek_key)) < 0) {
		rmetrics_count(r->metrics,
		               rv == -2 ? RMETRICS_ACT_STORE_ERROR : RMETRICS_ACT_EK_REUSE);
		goto out;
	}
	rc =
	    staged ? store_agent_promote(r->store, id, &e) : store_agent_activate(r->store, id, &e);
	if (rc == STORE_ERROR) {
		rmetrics_count(r->metrics, RMETRICS_ACT_STORE_ERROR);
		reply_error(req, 500, "registrar storage error");
		goto out;
	}
	if (rc == STORE_NOT_FOUND) { /* changed under us (another registrar on the store) */
		rmetrics_count(r->metrics, RMETRICS_ACT_CONFLICT);
		reply_error(req, 409, "agent changed during activation; register again");
		goto out;
	}
	if (staged)
		log_info("agent %s activated from %s: re-registration complete, contact %s:%d "
		         "(registration %d)",
		         id, peer, st.ip ? st.ip : "-", st.port, a.regcount + 1);
	else
		log_info("agent %s activated from %s: enrollment complete (registration %d)", id,
		         peer, a.regcount);
	rmetrics_count(r->metrics, RMETRICS_ACT_OK);
	/* The Rust agent requires "results": {} here, never null. */
	http_reply_envelope(req, 200, "Success", json_object());
out:
	OPENSSL_cleanse(tag, sizeof(tag));
	store_agent_clear(&a);
	store_agent_clear(&st);
}

static void do_list(registrar_t *r, http_request_t *req)
{
	char **ids = NULL;
	size_t n = 0;
	err_t e = {""};
	json_t *res, *list;

	if (store_agent_list(r->store, &ids, &n, &e) != STORE_OK) {
		reply_error(req, 500, "registrar storage error");
		return;
	}
	list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, json_string(ids[i]));
	store_ids_free(ids);
	res = json_object();
	json_object_set_new(res, "uuids", list);
	http_reply_envelope(req, 200, "Success", res);
}

static void do_get(registrar_t *r, http_request_t *req, const char *id)
{
	store_agent_t a;
	err_t e = {""};
	store_rc_t rc;
	char msg[160];
	json_t *res;

	memset(&a, 0, sizeof(a));
	rc = store_agent_get(r->store, id, &a, &e);
	if (rc == STORE_ERROR) {
		reply_error(req, 500, "registrar storage error");
		goto out;
	}
	/* Keylime answers 404 until the agent proved its AK: an unactivated record is not an
	 * identity anyone should trust yet. */
	if (rc == STORE_NOT_FOUND || !a.active) {
		snprintf(msg, sizeof(msg), "agent %s not found%s", id,
		         rc == STORE_OK ? " (registered but not activated)" : "");
		reply_error(req, 404, msg);
		goto out;
	}
	res = json_object();
	json_object_set_new(res, "agent_id", json_string(a.agent_id));
	json_object_set_new(res, "ek_tpm", json_string(a.ek_tpm));
	json_object_set_new(res, "aik_tpm", json_string(a.aik_tpm));
	/* ekcert goes out as base64 DER of the EK certificate (the first one received). */
	json_t *ekc = json_null();
	if (a.ekcert) {
		X509 *leaf = NULL;
		STACK_OF(X509) *chain = NULL;
		char *der = NULL;
		if (ekcert_parse(a.ekcert, strlen(a.ekcert), &leaf, &chain, &e) == 0 &&
		    ekcert_to_b64der(leaf, &der) == 0) {
			json_decref(ekc);
			ekc = json_string(der);
		} else {
			log_warnx("agent %s: stored ekcert does not parse: %s", id, e.msg);
		}
		free(der);
		X509_free(leaf);
		sk_X509_pop_free(chain, X509_free);
	}
	json_object_set_new(res, "ekcert", ekc);
	json_object_set_new(res, "mtls_cert", a.mtls_cert ? json_string(a.mtls_cert) : json_null());
	json_object_set_new(res, "ip", a.ip ? json_string(a.ip) : json_null());
	json_object_set_new(res, "port", a.port ? json_integer(a.port) : json_null());
	json_object_set_new(res, "regcount", json_integer(a.regcount));
	http_reply_envelope(req, 200, "Success", res);
out:
	store_agent_clear(&a);
}

static void do_delete(registrar_t *r, http_request_t *req, const char *id)
{
	err_t e = {""};
	char msg[160];
	store_rc_t rc = store_agent_delete(r->store, id, &e);

	if (rc == STORE_ERROR) {
		reply_error(req, 500, "registrar storage error");
		return;
	}
	if (rc == STORE_NOT_FOUND) {
		snprintf(msg, sizeof(msg), "agent %s not found", id);
		reply_error(req, 404, msg);
		return;
	}
	log_info("agent %s deleted by an administrator from %s", id, http_request_peer(req));
	http_reply_envelope(req, 200, "Success", json_object());
}

/* Admin routes need the HTTPS listener and a client certificate that verified against
 * registrar.trusted_client_ca. 1 when the request may go on. */
static int admin_allowed(const listener_t *l, http_request_t *req)
{
	if (!l->tls) {
		reply_error(req, 400,
		            "Bad Request: this route is only served over HTTPS on the admin port "
		            "(registrar.tls_listen)");
		return 0;
	}
	if (!http_request_has_client_cert(req)) {
		char path[128];
		snprintf(path, sizeof(path), "%s", http_request_path(req));
		log_info("admin request %s from %s refused: no client certificate",
		         enroll_text_clean(path), http_request_peer(req));
		reply_error(req, 403,
		            "Forbidden: admin routes need a client certificate issued by "
		            "registrar.trusted_client_ca");
		return 0;
	}
	return 1;
}

static void on_request(http_request_t *req, void *arg)
{
	listener_t *l = arg;
	registrar_t *r = l->r;
	http_method_t m = http_request_method(req);
	char id[ENROLL_MAX_ID + 2], ver[16], msg[200];
	route_t rt =
	    registrar_route_parse(http_request_path(req), id, sizeof(id), ver, sizeof(ver));

	if (rt == ROUTE_NONE) {
		reply_error(req, 404, "Not Found");
		return;
	}
	if (rt == ROUTE_BAD_API) {
		/* The agent's wording, so version negotiation code recognises it. */
		snprintf(msg, sizeof(msg), "API version not supported: v%s", ver);
		reply_error(req, 400, msg);
		return;
	}
	if (rt == ROUTE_VERSION) {
		if (m != HTTP_M_GET) {
			reply_error(req, 405, "Method Not Allowed");
			return;
		}
		do_version(req);
		return;
	}
	if ((rt == ROUTE_AGENT || rt == ROUTE_ACTIVATE) && !enroll_id_is_valid(id)) {
		snprintf(msg, sizeof(msg),
		         "invalid agent id: must be 1 to %d characters of A-Z a-z "
		         "0-9 . _ -",
		         ENROLL_MAX_ID);
		char path[128];
		snprintf(path, sizeof(path), "%s", http_request_path(req));
		log_info("request %s from %s rejected: invalid agent id", enroll_text_clean(path),
		         http_request_peer(req));
		reply_error(req, 400, msg);
		return;
	}
	switch (rt) {
	case ROUTE_COLLECTION:
		if (m == HTTP_M_POST) {
			do_register(r, req, NULL);
		} else if (m == HTTP_M_GET) {
			if (admin_allowed(l, req))
				do_list(r, req);
		} else {
			reply_error(req, 405, "Method Not Allowed");
		}
		return;
	case ROUTE_AGENT:
		if (m == HTTP_M_POST) {
			do_register(r, req, id);
		} else if (m == HTTP_M_PUT) {
			do_activate(r, req, id);
		} else if (m == HTTP_M_GET) {
			if (admin_allowed(l, req))
				do_get(r, req, id);
		} else if (m == HTTP_M_DELETE) {
			if (admin_allowed(l, req))
				do_delete(r, req, id);
		} else {
			reply_error(req, 405, "Method Not Allowed");
		}
		return;
	case ROUTE_ACTIVATE:
		if (m == HTTP_M_PUT || m == HTTP_M_POST)
			do_activate(r, req, id);
		else
			reply_error(req, 405, "Method Not Allowed");
		return;
	default:
		reply_error(req, 404, "Not Found");
		return;
	}
}

/* ---- life cycle ---- */

static char *database_url(const config_t *cfg)
{
	const char *db = config_str(cfg, "registrar", "database");
	const char *dir = config_str(cfg, "registrar", "state_dir");

	if (db && *db)
		return xstrdup(db);
	return xasprintf("sqlite:%s/registrar.db", dir);
}

/* mkdir -p: parents 0755, the directory itself 0700 (it holds pending challenge keys). */
static int make_dirs(const char *dir)
{
	char *p = xstrdup(dir);
	int rv = -1;

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			goto out;
		*s = '/';
	}
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		goto out;
	rv = 0;
out:
	free(p);
	return rv;
}

/* The connection limits of a listener (http.h). */
static void registrar_limits(http_server_t *h, const config_t *cfg)
{
	http_server_set_idle_timeout(h, (int)config_int(cfg, "registrar", "idle_timeout"));
	http_server_set_max_per_peer(h,
	                             (unsigned)config_int(cfg, "registrar", "max_conns_per_peer"));
}

registrar_t *registrar_new(struct event_base *base, const config_t *cfg)
{
	registrar_t *r = xcalloc(1, sizeof(*r));
	const char *dir = config_str(cfg, "registrar", "state_dir");
	const char *ekdir = config_str(cfg, "registrar", "ek_ca_dir");
	const char *db = config_str(cfg, "registrar", "database");
	const char *tls_listen = config_str(cfg, "registrar", "tls_listen");
	size_t max_body = (size_t)config_int(cfg, "registrar", "max_body");
	int timeout = (int)config_int(cfg, "registrar", "request_timeout");
	char *url = NULL, *shown; /* shown: url without a password, for the log */
	err_t e = {""};
	int ok = 0;

	r->cfg = cfg;
	/* The state directory only matters for the default database location. */
	if (!(db && *db) && make_dirs(dir) < 0) {
		log_warn("cannot create state directory %s", dir);
		goto out;
	}
	url = database_url(cfg);
	if ((r->store = store_open(url, &e)) == NULL) {
		log_warnx("cannot open the enrollment database: %s", e.msg);
		goto out;
	}
	if (ekdir && *ekdir) {
		if ((r->ekca = ekca_load_dir(ekdir, &e)) == NULL) {
			log_warnx("cannot load EK CA certificates from %s: %s", ekdir, e.msg);
			goto out;
		}
		if (ekca_count(r->ekca) == 0)
			log_warnx(
			    "no EK CA certificate in %s: every EK certificate will be refused",
			    ekdir);
		else
			log_info("%d EK CA certificate(s) loaded from %s", ekca_count(r->ekca),
			         ekdir);
	} else {
		log_warnx("registrar.ek_ca_dir is empty: every EK certificate will be refused");
	}
	r->policy.ekca = r->ekca;
	r->policy.require_ek_cert = config_bool(cfg, "registrar", "require_ek_cert");
	r->allow_ek_reuse = config_bool(cfg, "registrar", "allow_ek_reuse");
	if (r->allow_ek_reuse)
		log_info("registrar.allow_ek_reuse = yes: one TPM may be enrolled under several "
		         "agent ids");
	if (ek_keys_backfill(r) < 0) {
		log_warnx("cannot record the EK identities of existing enrollments");
		goto out;
	}
	if (!r->policy.require_ek_cert)
		log_info("registrar.require_ek_cert = no: agents without an EK certificate are "
		         "enrolled on their EK alone");

	r->l_http.r = r;
	r->l_http.tls = 0;
	r->http = http_server_new(base, config_str(cfg, "registrar", "listen"), NULL, max_body,
	                          timeout, on_request, &r->l_http);
	if (r->http == NULL)
		goto out;
	registrar_limits(r->http, cfg);
	if (tls_listen && *tls_listen) {
		tls_server_opts_t tls = {
		    .cert_file = config_str(cfg, "registrar", "tls_cert"),
		    .key_file = config_str(cfg, "registrar", "tls_key"),
		    .client_ca_file = config_str(cfg, "registrar", "trusted_client_ca"),
		    /* Optional, as Keylime: /version stays public; admin routes check. */
		    .client_cert = HTTP_CLIENT_CERT_OPTIONAL,
		};
		r->l_https.r = r;
		r->l_https.tls = 1;
		r->https = http_server_new(base, tls_listen, &tls, max_body, timeout, on_request,
		                           &r->l_https);
		if (r->https == NULL)
			goto out;
		registrar_limits(r->https, cfg);
	} else {
		log_info("registrar.tls_listen is empty: admin routes are disabled");
	}
	r->metrics = rmetrics_new();
	const char *mlisten = config_str(cfg, "registrar", "metrics_listen");
	if (*mlisten) {
		if (rmetrics_serve(r->metrics, mlisten, url, &e) < 0) {
			log_warnx("registrar.metrics_listen %s: %s", mlisten, e.msg);
			goto out;
		}
		log_info("metrics on http://%s/metrics (also /healthz, /readyz)", mlisten);
	}
	const char *glisten = config_str(cfg, "registrar", "grpc_listen");
	if (*glisten && (r->api = regapi_new(cfg, url, &e)) == NULL) {
		log_warnx("registrar.grpc_listen %s: %s", glisten, e.msg);
		goto out;
	}
	shown = store_url_redact(url);
	log_info("registrar ready: agents on http://%s%s%s%s%s, database %s",
	         config_str(cfg, "registrar", "listen"),
	         tls_listen && *tls_listen ? ", admin on https://" : "",
	         tls_listen && *tls_listen ? tls_listen : "", *glisten ? ", gRPC on " : "", glisten,
	         shown);
	free(shown);
	ok = 1;
out:
	free(url);
	if (!ok) {
		registrar_free(r);
		return NULL;
	}
	return r;
}

void registrar_free(registrar_t *r)
{
	if (r == NULL)
		return;
	regapi_free(r->api);       /* its thread has a store of its own, nothing of r */
	rmetrics_free(r->metrics); /* its thread reads the counters */
	http_server_free(r->https);
	http_server_free(r->http);
	ekca_free(r->ekca);
	store_close(r->store);
	free(r->fails);
	free(r);
}

/* storm: see storm.h. One request at a time per thread with http_fetch (a fresh connection
 * each, as an agent registering once makes): the registrar, not the client, is what the
 * storm measures. The API version is asked once (GET /version), not per node. */
#include "test/loadgen/storm.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "common/base/buf.h"
#include "common/base/xmalloc.h"
#include "common/crypto/authtag.h"
#include "common/net/http.h"

#define STORM_MAX_RESPONSE (64 * 1024) /* a blob answer is well under 1 KiB */

typedef struct storm {
	simnode_t *const *nodes; /* borrowed */
	int n;                   /* how many */
	const storm_opts_t *o;   /* borrowed */
	char ver[16];            /* API version both speak */
	atomic_int next;         /* next node to enroll */
	double *ms;              /* per node: its enrollment time, < 0 when failed */
	pthread_mutex_t mu;      /* guards first_err */
	char first_err[256];     /* the first failure */
} storm_t;

static double storm_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* results.blob of a 200 answer, decoded into blob. 0 or -1. */
static int storm_blob(const buf_t *resp, buf_t *blob, err_t *e)
{
	json_t *j = json_loadb((const char *)resp->data, resp->len, 0, NULL);
	const char *b64 = json_string_value(json_object_get(json_object_get(j, "results"), "blob"));
	int rv = -1;

	if (b64 == NULL)
		err_set(e, "the registrar's answer carries no blob");
	else if (base64_decode(blob, b64, strlen(b64)) < 0)
		err_set(e, "the registrar's blob is not base64");
	else
		rv = 0;
	json_decref(j);
	return rv;
}

static int storm_request(storm_t *s, http_method_t m, const char *path, const char *body,
                         buf_t *resp, err_t *e)
{
	int status;

	buf_reset(resp);
	status =
	    http_fetch(s->o->host, s->o->port, NULL, s->o->timeout_s, m, path,
	               body ? "application/json" : NULL, body, body ? strlen(body) : 0, resp, e);
	if (status > 0 && resp->len > STORM_MAX_RESPONSE) {
		err_set(e, "registrar answered %zu bytes to %s", resp->len, path);
		return 0;
	}
	return status;
}

/* Register and activate one node. 0 or -1 (e). */
static int storm_one(storm_t *s, simnode_t *nd, buf_t *resp, err_t *e)
{
	softtpm_t *t = simnode_tpm(nd);
	const char *uuid = simnode_uuid(nd);
	buf_t ek = BUF_INIT, ak = BUF_INIT, blob = BUF_INIT, cred = BUF_INIT;
	char path[160], tag[AUTHTAG_HEX_LEN + 1];
	char *body = NULL;
	json_t *j;
	int status, rv = -1;

	base64_encode(&ek, softtpm_ek_public(t)->data, softtpm_ek_public(t)->len);
	base64_encode(&ak, softtpm_ak_public(t)->data, softtpm_ak_public(t)->len);
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "ekcert", softtpm_ek_cert(t), "ek_tpm",
	              (const char *)ek.data, "aik_tpm", (const char *)ak.data, "mtls_cert",
	              s->o->mtls_pem, "ip", simnode_ip(nd), "port", simnode_port(nd));
	body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (body == NULL) {
		err_set(e, "cannot build the registration request");
		goto out;
	}
	snprintf(path, sizeof(path), "/v%s/agents/%s", s->ver, uuid);
	if ((status = storm_request(s, HTTP_M_POST, path, body, resp, e)) != 200) {
		if (status > 0)
			err_set(e, "POST %s: HTTP %d: %.*s", path, status,
			        (int)(resp->len > 160 ? 160 : resp->len), (const char *)resp->data);
		goto out;
	}
	if (storm_blob(resp, &blob, e) < 0 ||
	    softtpm_activate(t, blob.data, blob.len, &cred, e) < 0 ||
	    authtag_from_credential(cred.data, cred.len, uuid, tag) < 0)
		goto out;
	free(body);
	body = NULL;
	j = json_pack("{s:s}", "auth_tag", tag);
	body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (body == NULL) {
		err_set(e, "cannot build the activation request");
		goto out;
	}
	if ((status = storm_request(s, HTTP_M_PUT, path, body, resp, e)) != 200) {
		if (status > 0)
			err_set(e, "PUT %s: HTTP %d: %.*s", path, status,
			        (int)(resp->len > 160 ? 160 : resp->len), (const char *)resp->data);
		goto out;
	}
	rv = 0;
out:
	free(body);
	buf_free(&ek);
	buf_free(&ak);
	buf_free(&blob);
	if (cred.data)
		OPENSSL_cleanse(cred.data, cred.len);
	buf_free(&cred);
	return rv;
}

static void *storm_thread(void *arg)
{
	storm_t *s = arg;
	buf_t resp = BUF_INIT;
	int i;

	while ((i = atomic_fetch_add(&s->next, 1)) < s->n) {
		err_t e = {""};
		double t0 = storm_now();
		if (storm_one(s, s->nodes[i], &resp, &e) == 0) {
			s->ms[i] = (storm_now() - t0) * 1000.0;
			continue;
		}
		s->ms[i] = -1;
		pthread_mutex_lock(&s->mu);
		if (s->first_err[0] == '\0')
			snprintf(s->first_err, sizeof(s->first_err), "node %s: %s",
			         simnode_uuid(s->nodes[i]), e.msg);
		pthread_mutex_unlock(&s->mu);
	}
	buf_free(&resp);
	return NULL;
}

static int storm_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* GET /version: current_version, or "2.1" (the oldest route every registrar serves). */
static void storm_version(storm_t *s)
{
	buf_t resp = BUF_INIT;
	err_t e = {""};
	json_t *j;
	const char *v;

	snprintf(s->ver, sizeof(s->ver), "2.1");
	if (storm_request(s, HTTP_M_GET, "/version", NULL, &resp, &e) == 200 &&
	    (j = json_loadb((const char *)resp.data, resp.len, 0, NULL)) != NULL) {
		v = json_string_value(
		    json_object_get(json_object_get(j, "results"), "current_version"));
		if (v == NULL)
			v = json_string_value(json_object_get(j, "current_version"));
		if (v != NULL && strlen(v) < sizeof(s->ver) &&
		    strspn(v, "0123456789.") == strlen(v))
			snprintf(s->ver, sizeof(s->ver), "%s", v);
		json_decref(j);
	}
	buf_free(&resp);
}

int storm_run(simnode_t *const *nodes, int n, const storm_opts_t *o, storm_result_t *r)
{
	storm_t s = {.nodes = nodes, .n = n, .o = o};
	int conns = o->conns < 1 ? 1 : o->conns > n ? n : o->conns;
	pthread_t *th = xcalloc((size_t)conns, sizeof(*th));
	double t0, *ok = xcalloc((size_t)n + 1, sizeof(*ok));
	int k = 0;

	memset(r, 0, sizeof(*r));
	s.ms = xcalloc((size_t)n, sizeof(*s.ms));
	pthread_mutex_init(&s.mu, NULL);
	atomic_init(&s.next, 0);
	storm_version(&s);
	t0 = storm_now();
	for (int i = 0; i < conns; i++)
		if (pthread_create(&th[i], NULL, storm_thread, &s) != 0) {
			conns = i;
			break;
		}
	if (conns == 0)
		storm_thread(&s);
	for (int i = 0; i < conns; i++)
		pthread_join(th[i], NULL);
	r->seconds = storm_now() - t0;
	for (int i = 0; i < n; i++)
		if (s.ms[i] >= 0)
			ok[k++] = s.ms[i];
	r->ok = k;
	r->failed = n - k;
	if (k > 0) {
		qsort(ok, (size_t)k, sizeof(*ok), storm_cmp);
		r->p50_ms = ok[(size_t)(0.50 * (k - 1) + 0.5)];
		r->p99_ms = ok[(size_t)(0.99 * (k - 1) + 0.5)];
		r->max_ms = ok[k - 1];
	}
	snprintf(r->first_err, sizeof(r->first_err), "%s", s.first_err);
	pthread_mutex_destroy(&s.mu);
	free(s.ms);
	free(ok);
	free(th);
	return r->failed ? -1 : 0;
}

/* repin: an agent renewed its TLS certificate. The registrar's record is bound to the
 * AK the agent proved at activation, so a certificate it holds for the same AK is the
 * agent's own: the verifier pins it and asks again. Anything else is refused and the
 * round ends as a comm error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/base/buf.h"
#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "verifier/events.h"
#include "verifier/node_priv.h"
#include "verifier/vctx.h"

/* 1 when two base64 texts decode to the same bytes. */
static int node_same_b64(const char *a, const char *b)
{
	buf_t x = BUF_INIT, y = BUF_INIT;
	int same = base64_decode(&x, a, strlen(a)) == 0 && base64_decode(&y, b, strlen(b)) == 0 &&
	           x.len == y.len && memcmp(x.data, y.data, x.len) == 0;

	buf_free(&x);
	buf_free(&y);
	return same;
}

/* The registrar's answer about a node whose agent showed another certificate. Its record
 * is bound to the AK (the agent proved it holds that TPM when it activated), so a
 * certificate it holds for the same AK is the agent's own: pin it and ask again at once. */
static void node_on_registrar(int status, const uint8_t *body, size_t len, const char *err,
                              void *arg)
{
	node_t *n = arg;
	json_t *root = NULL, *res;
	const char *ak, *pem;
	http_client_t *conn;
	char why[300];
	err_t e = {""};
	store_rc_t src;

	if (!node_answer_begin(n))
		goto out;
	if (status != 200) {
		snprintf(why, sizeof(why), "the registrar answered %s",
		         status ? (status == 404 ? "404: no activated record" : "an error") : err);
		goto refuse;
	}
	root = json_loadb((const char *)body, len, 0, NULL);
	res = json_object_get(root, "results");
	ak = json_string_value(json_object_get(res, "aik_tpm"));
	pem = json_string_value(json_object_get(res, "mtls_cert"));
	if (ak == NULL || pem == NULL || !node_same_b64(ak, n->rec.ak_tpm)) {
		snprintf(why, sizeof(why), "the registrar's record has %s",
		         ak && pem ? "another AK" : "no AK or certificate");
		goto refuse;
	}
	if (n->rec.mtls_cert && strcmp(pem, n->rec.mtls_cert) == 0) {
		snprintf(why, sizeof(why),
		         "the registrar holds the pinned certificate, not the "
		         "one the agent shows");
		goto refuse;
	}
	if ((conn = node_conn_new(n, pem)) == NULL) {
		snprintf(why, sizeof(why), "the registrar's certificate is not usable");
		goto refuse;
	}
	if ((src = store_node_set_mtls_cert(n->host->store, n->rec.uuid, pem, n->rec.lease_epoch,
	                                    &e)) == STORE_FENCED) {
		http_client_free(conn);
		node_lease_lost(n, "its re-pinned certificate");
		goto out;
	}
	if (src != STORE_OK) {
		http_client_free(conn);
		snprintf(why, sizeof(why), "cannot store the new certificate: %s", e.msg);
		goto refuse;
	}
	http_client_free(n->conn);
	n->conn = conn;
	pthread_mutex_lock(&n->lock);
	node_set_str(&n->rec.mtls_cert, pem);
	pthread_mutex_unlock(&n->lock);
	node_record_event(n, EVENT_CERT_REPINNED, "tls.repinned",
	                  "the agent renewed its TLS certificate; the registrar holds the new "
	                  "one for the same AK");
	log_info("node %s: the agent shows a new TLS certificate and the registrar holds it for "
	         "the same AK: re-pinned, asking again",
	         n->rec.uuid);
	node_round_start(n);
	goto out;
refuse:
	log_warnx("node %s: the agent's TLS certificate is not the pinned one, and it was not "
	          "re-pinned: %s",
	          n->rec.uuid, why);
	node_comm_error(n, n->repin_why ? n->repin_why : "server certificate rejected");
out:
	json_decref(root);
	/* Freeing the client inside its own callback is allowed (http.h). */
	http_client_free(n->reg);
	n->reg = NULL;
}

/* The agent's certificate did not verify against the pin: ask the registrar for the
 * node's record, once per good round. 1 when the lookup is under way (the round goes on
 * in node_on_registrar), 0 when not (no registrar configured, already tried). */
int node_repin_start(node_t *n, const char *why)
{
	vctx_t *ctx = n->host->ctx;
	tls_client_opts_t tls;
	char path[160];

	if (n->repin_tried || ctx->registrar_host == NULL)
		return 0;
	n->repin_tried = 1;
	memset(&tls, 0, sizeof(tls));
	tls.ca_file = ctx->registrar_ca;
	tls.cert_file = ctx->tls_cert;
	tls.key_file = ctx->tls_key;
	tls.check_hostname = 1;
	n->reg = http_client_new(n->host->base, ctx->registrar_host, ctx->registrar_port, &tls,
	                         ctx->request_timeout_s);
	if (n->reg == NULL) {
		log_warnx("node %s: cannot reach the registrar to re-pin its certificate",
		          n->rec.uuid);
		return 0;
	}
	free(n->repin_why);
	n->repin_why = xstrdup(why ? why : "server certificate rejected");
	snprintf(path, sizeof(path), "/v2.6/agents/%s", n->rec.uuid);
	log_info("node %s: the agent shows another TLS certificate than the pinned one; asking "
	         "the registrar",
	         n->rec.uuid);
	n->in_flight = 1;
	n->req_gen = n->gen;
	if (http_client_request(n->reg, HTTP_M_GET, path, NULL, NULL, 0, node_on_registrar, n) <
	    0) {
		n->in_flight = 0;
		http_client_free(n->reg);
		n->reg = NULL;
		return 0;
	}
	return 1;
}

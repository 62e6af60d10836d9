/* api: vigil.v1.Verifier over gRPC. Handlers run on the gRPC thread and never wait for a
 * worker there: a request that needs a node's worker is posted to it as an api_job and
 * answered from the worker once the command ran (grpcsrv_call_reply). Request checks live
 * in apireq.c. */
#include "verifier/api.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "common/base/log.h"
#include "common/net/paging.h"
#include "common/net/pb.h"
#include "common/store/store.h"
#include "common/base/xmalloc.h"
#include "verifier/api_events.h"
#include "verifier/api_outbox.h"
#include "verifier/api_report.h"
#include "verifier/apireq.h"
#include "verifier/events.h"
#include "verifier/lease.h"
#include "verifier/node.h"
#include "verifier/policies.h"
#include "verifier/registry.h"
#include "verifier/vctx.h"
#include "verifier/watch.h"
#include "verifier/worker.h"

static const char *api_status_str(int state)
{
	switch (state) {
	case NODE_GET_QUOTE:
	case NODE_GET_QUOTE_RETRY:
	case 5:
	case 6:
		return "PASS";
	case NODE_FAILED:
	case NODE_INVALID_QUOTE:
	case NODE_TENANT_FAILED:
		return "FAIL";
	default:
		return "PENDING";
	}
}

static char *api_str(const char *s)
{
	return (char *)(uintptr_t)(s ? s : "");
}

/* Fill a proto Node from a snapshot (borrowing its strings). */
void api_node_fill(Vigil__V1__Node *pn, const node_status_t *st, const vctx_t *ctx)
{
	const store_node_t *s = &st->rec;

	vigil__v1__node__init(pn);
	pn->uuid = api_str(s->uuid);
	pn->ip = api_str(s->ip);
	pn->port = (uint32_t)s->port;
	pn->pcr_policy = api_str(s->pcr_policy);
	pn->runtime_policy = api_str(s->runtime_policy);
	pn->mb_policy = api_str(s->mb_policy);
	pn->operational_state = (Vigil__V1__OperationalState)s->operational_state;
	pn->attestation_count = (uint64_t)s->attestation_count;
	pn->last_successful_attestation = s->last_successful_attestation;
	pn->last_received_quote = s->last_received_quote;
	pn->last_event_id = api_str(s->last_event_id);
	pn->failure_reason = api_str(s->failure_reason);
	pn->attestation_status = api_str(api_status_str(s->operational_state));
	pn->api_version = api_str(s->api_version);
	pn->verifier_id = api_str(ctx->verifier_id);
	if (s->ima_state) {
		/* "ima1:<bank>:<next>:..." */
		const char *p = strchr(s->ima_state, ':');
		p = p ? strchr(p + 1, ':') : NULL;
		pn->ima_next_entry = p ? strtoull(p + 1, NULL, 10) : 0;
	}
	pn->hash_alg = (char *)(uintptr_t)st->hash_alg;
	pn->sign_alg = (char *)(uintptr_t)st->sign_alg;
}

static void api_snap_cb(void *n, void *arg)
{
	node_snapshot(n, arg);
}

/* Snapshot of a live node (0), or the record in store st when no worker holds it, e.g. it
 * failed to load (1); -1 when not found. st is the calling thread's store connection. */
static int api_node_get(vctx_t *ctx, struct store *st, const char *uuid, node_status_t *out,
                        err_t *e)
{
	if (registry_with(ctx->registry, uuid, api_snap_cb, out) == 0)
		return 0;
	memset(out, 0, sizeof(*out)); /* not live: no last-quote algorithms to show */
	if (store_node_get(st, uuid, &out->rec, e) == STORE_OK)
		return 1;
	err_set(e, "node %s not found", uuid);
	return -1;
}

static void api_nop_cb(void *n, void *arg)
{
	(void)n;
	(void)arg;
}

/* 1 when a worker attests the node (it is in the registry), 0 when it is only stored. */
static int api_node_is_live(vctx_t *ctx, const char *uuid)
{
	return registry_with(ctx->registry, uuid, api_nop_cb, NULL) == 0;
}

static int api_reply_node(vctx_t *ctx, struct store *st, const char *uuid, buf_t *resp, err_t *e)
{
	Vigil__V1__NodeResponse r = VIGIL__V1__NODE_RESPONSE__INIT;
	Vigil__V1__Node pn;
	node_status_t s;
	int stored_only;

	if ((stored_only = api_node_get(ctx, st, uuid, &s, e)) < 0)
		return GRPCSRV_NOT_FOUND;
	api_node_fill(&pn, &s, ctx);
	if (stored_only) {
		/* Its stored state may say GET_QUOTE: it must not read as PASS while nothing
		 * attests it. */
		pn.attestation_status = api_str("FAIL");
		pn.last_event_id = api_str("not_loaded");
		pn.failure_reason = api_str("stored, but this verifier could not load it (see "
		                            "its log): not attested; remove it and add it again");
	}
	r.node = &pn;
	pb_pack(&r.base, resp);
	store_node_clear(&s.rec);
	return GRPCSRV_OK;
}

/* What a job answers once its node command ran on the worker. */
typedef enum {
	API_ANSWER_NODE,    /* the node's status (StopNode, ReactivateNode) */
	API_ANSWER_REMOVED, /* an empty RemoveNodeResponse (RemoveNode) */
} api_answer_t;

/* A node command for the node's worker, answered from there once it ran. */
typedef struct api_job {
	vctx_t *ctx;          /* borrowed */
	grpcsrv_call_t *call; /* taken; the job answers it */
	node_cmd_fn fn;       /* the node command */
	void *arg;            /* its argument (fn takes it) */
	char *uuid;           /* the node (owned) */
	api_answer_t answer;  /* what to answer */
} api_job_t;

static void api_job_run(worker_t *w, void *arg)
{
	api_job_t *j = arg;
	Vigil__V1__RemoveNodeResponse removed = VIGIL__V1__REMOVE_NODE_RESPONSE__INIT;
	buf_t resp = BUF_INIT;
	err_t e = {""};
	int code = GRPCSRV_OK;

	j->fn(worker_host(w), j->arg);
	switch (j->answer) {
	case API_ANSWER_REMOVED:
		pb_pack(&removed.base, &resp);
		break;
	case API_ANSWER_NODE:
		code = api_reply_node(j->ctx, worker_store(w), j->uuid, &resp, &e);
		break;
	}
	grpcsrv_call_reply(j->call, code, resp.data, resp.len, e.msg);
	buf_free(&resp);
	free(j->uuid);
	free(j);
}

/* Post fn(arg) to uuid's worker and answer c from there. */
static int api_job_post(vctx_t *ctx, grpcsrv_call_t *c, const char *uuid, node_cmd_fn fn, void *arg,
                        api_answer_t answer)
{
	api_job_t *j = xcalloc(1, sizeof(*j));

	j->ctx = ctx;
	j->call = c;
	j->fn = fn;
	j->arg = arg;
	j->uuid = xstrdup(uuid);
	j->answer = answer;
	worker_post(vctx_worker_for(ctx, uuid), api_job_run, j);
	return GRPCSRV_DEFERRED;
}

static int api_check_policy_ref(vctx_t *ctx, const char *name, policy_kind_t k, err_t *e)
{
	store_policy_t p;
	int rv = GRPCSRV_OK;

	if (name == NULL || *name == '\0')
		return GRPCSRV_OK;
	if (store_policy_get(ctx->api_store, name, &p, e) != STORE_OK)
		return GRPCSRV_FAILED_PRECONDITION;
	if (strcmp(p.kind, policy_kind_store_name(k)) != 0) {
		err_set(e, "policy %s is a %s policy, not %s", name, p.kind,
		        policy_kind_store_name(k));
		rv = GRPCSRV_INVALID_ARGUMENT;
	}
	store_policy_clear(&p);
	return rv;
}

/* ---- AddNode and AddNodes ---- */

/* An AddNode or AddNodes call in flight. Its nodes are checked and stored on the gRPC
 * thread (one store transaction for all of them), then each stored node is set up by its
 * worker; the last of those jobs (or the handler, when no node needed one) answers. */
typedef struct api_add {
	vctx_t *ctx;                   /* borrowed */
	grpcsrv_call_t *call;          /* taken once a job was posted */
	int batch;                     /* 1: AddNodes (a result per node), 0: AddNode */
	size_t n;                      /* nodes asked for */
	Vigil__V1__AddNodeResult *res; /* n results: uuid and message owned, node unpacked */
	int left;                      /* jobs still to run, +1 while the handler runs (atomic) */
} api_add_t;

/* The job of one stored node on its worker. */
typedef struct api_add_job {
	api_add_t *add;    /* the call it belongs to */
	size_t i;          /* its node's index */
	store_node_t *rec; /* the stored record (node_cmd_add takes it) */
} api_add_job_t;

static void api_add_result(Vigil__V1__AddNodeResult *r, int code, const char *msg)
{
	r->code = (uint32_t)code;
	free(r->message);
	r->message = xstrdup(code == GRPCSRV_OK || msg == NULL ? "" : msg);
}

static void api_add_free(api_add_t *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->res[i].uuid);
		free(a->res[i].message);
		if (a->res[i].node)
			vigil__v1__node__free_unpacked(a->res[i].node, NULL);
	}
	free(a->res);
	free(a);
}

/* Pack the answer of a: the status code (AddNode: its node's; AddNodes: OK), the reply in
 * resp, the reason in e. */
static int api_add_pack(api_add_t *a, buf_t *resp, err_t *e)
{
	if (!a->batch) {
		Vigil__V1__AddNodeResponse r = VIGIL__V1__ADD_NODE_RESPONSE__INIT;
		if (a->res[0].code != GRPCSRV_OK) {
			err_set(e, "%s", a->res[0].message);
			return (int)a->res[0].code;
		}
		r.node = a->res[0].node;
		pb_pack(&r.base, resp);
		return GRPCSRV_OK;
	}
	Vigil__V1__AddNodesResponse out = VIGIL__V1__ADD_NODES_RESPONSE__INIT;
	Vigil__V1__AddNodeResult **pp = xcalloc(a->n, sizeof(*pp));
	size_t ok = 0;
	for (size_t i = 0; i < a->n; i++) {
		pp[i] = &a->res[i];
		ok += a->res[i].code == GRPCSRV_OK;
	}
	out.n_results = a->n;
	out.results = pp;
	pb_pack(&out.base, resp);
	free(pp);
	log_info("AddNodes: %zu of %zu nodes added", ok, a->n);
	return GRPCSRV_OK;
}

/* One job (or the handler) done: the last one answers the call and frees a. */
static void api_add_done(api_add_t *a)
{
	buf_t resp = BUF_INIT;
	err_t e = {""};
	int code;

	if (__atomic_sub_fetch(&a->left, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	code = api_add_pack(a, &resp, &e);
	grpcsrv_call_reply(a->call, code, resp.data, resp.len, e.msg);
	buf_free(&resp);
	api_add_free(a);
}

/* The node's status as the reply gives it (a NodeResponse's node, unpacked), or NULL. */
static Vigil__V1__Node *api_add_node_status(vctx_t *ctx, struct store *st, const char *uuid,
                                            err_t *e)
{
	buf_t b = BUF_INIT;
	Vigil__V1__NodeResponse *r;
	Vigil__V1__Node *n = NULL;

	if (api_reply_node(ctx, st, uuid, &b, e) == GRPCSRV_OK &&
	    (r = vigil__v1__node_response__unpack(NULL, b.len, b.data)) != NULL) {
		n = r->node;
		r->node = NULL;
		vigil__v1__node_response__free_unpacked(r, NULL);
	}
	buf_free(&b);
	return n;
}

static void api_add_job_run(worker_t *w, void *arg)
{
	api_add_job_t *j = arg;
	api_add_t *a = j->add;
	Vigil__V1__AddNodeResult *r = &a->res[j->i];
	err_t e = {""};

	/* One node is attested at once; a batch's first rounds are spread over one interval,
	 * or a thousand nodes added together would keep coming due together every round. */
	if (a->n > 1)
		node_cmd_load(worker_host(w), j->rec);
	else
		node_cmd_add(worker_host(w), j->rec);
	if (!api_node_is_live(a->ctx, r->uuid)) {
		/* The worker could not set it up (its reason is in the log): do not keep a
		 * node that is stored but never attested. */
		if (store_node_delete(worker_store(w), r->uuid, &e) != STORE_OK)
			log_warnx("node %s: cannot delete it again: %s", r->uuid, e.msg);
		err_set(&e, "node %s could not be set up for attestation; see the verifier's log",
		        r->uuid);
		api_add_result(r, GRPCSRV_INTERNAL, e.msg);
	} else if ((r->node = api_add_node_status(a->ctx, worker_store(w), r->uuid, &e)) == NULL) {
		api_add_result(r, GRPCSRV_INTERNAL, e.msg);
	} else {
		if (!a->batch)
			log_info("node %s added to attestation", r->uuid);
		api_add_result(r, GRPCSRV_OK, NULL);
	}
	free(j);
	api_add_done(a);
}

/* The checks of one request that need the store: its policies exist and are of its kinds. */
static int api_add_check_refs(vctx_t *ctx, const Vigil__V1__Node *in, err_t *e)
{
	int code;

	if ((code = api_check_policy_ref(ctx, in->pcr_policy, POLICY_PCR, e)) != GRPCSRV_OK ||
	    (code = api_check_policy_ref(ctx, in->runtime_policy, POLICY_RUNTIME, e)) !=
	        GRPCSRV_OK ||
	    (code = api_check_policy_ref(ctx, in->mb_policy, POLICY_MB, e)) != GRPCSRV_OK)
		return code;
	return GRPCSRV_OK;
}

static int api_add_code(store_rc_t rc)
{
	switch (rc) {
	case STORE_OK:
		return GRPCSRV_OK;
	case STORE_EXISTS:
		return GRPCSRV_ALREADY_EXISTS;
	case STORE_NOT_FOUND:
		return GRPCSRV_FAILED_PRECONDITION;
	default:
		return GRPCSRV_INTERNAL;
	}
}

/* Add the nodes of reqs[0..n) (AddNode: n = 1): check each, store those that pass in one
 * transaction with their node_added events, then have each one's worker set it up. */
static int api_add_run(vctx_t *ctx, grpcsrv_call_t *c, Vigil__V1__AddNodeRequest **reqs, size_t n,
                       int batch, buf_t *resp, err_t *e)
{
	api_add_t *a = xcalloc(1, sizeof(*a));
	store_node_add_item_t *items = xcalloc(n, sizeof(*items));
	store_node_t *recs = xcalloc(n, sizeof(*recs));
	buf_t *b64 = xcalloc(n, sizeof(*b64));
	buf_t *hexv = xcalloc(n, sizeof(*hexv)); /* each node's V as hex (a secret) */
	char **bodies = xcalloc(n, sizeof(*bodies));
	const char *const *urls;
	size_t nurls, posted = 0;
	err_t se = {""};
	int64_t expiry = 0;
	int code;

	a->ctx = ctx;
	a->call = c;
	a->batch = batch;
	a->n = n;
	a->res = xcalloc(n, sizeof(*a->res));
	a->left = 1;
	urls = events_urls(&nurls);
	/* In a pool the new nodes are this instance's when it holds less than its fair share;
	 * otherwise they are left unowned, for the instance that claims them. */
	int mine = ctx->lease == NULL || lease_under_share(ctx->lease);
	if (ctx->lease && mine) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		expiry =
		    (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 + lease_time_ms(ctx->lease);
	}
	for (size_t i = 0; i < n; i++) {
		Vigil__V1__AddNodeResult *r = &a->res[i];
		const Vigil__V1__Node *in = reqs[i] ? reqs[i]->node : NULL;
		store_node_t *rec = &recs[i];
		err_t ie = {""};

		vigil__v1__add_node_result__init(r);
		r->uuid = xstrdup(in && in->uuid ? in->uuid : "");
		r->message = xstrdup("");  /* owned, as api_add_result replaces it */
		items[i].rc = STORE_ERROR; /* not stored unless it passes */
		if ((code = apireq_add_node(reqs[i], &ie)) != GRPCSRV_OK ||
		    (code = api_add_check_refs(ctx, in, &ie)) != GRPCSRV_OK) {
			api_add_result(r, code, ie.msg);
			continue;
		}
		base64_encode(&b64[i], in->ak_tpm.data, in->ak_tpm.len);
		rec->uuid = in->uuid;
		rec->ak_tpm = (char *)b64[i].data;
		rec->ip = in->ip;
		rec->port = (int)in->port;
		rec->mtls_cert = in->mtls_cert;
		rec->pcr_policy = *in->pcr_policy ? in->pcr_policy : NULL;
		rec->runtime_policy = *in->runtime_policy ? in->runtime_policy : NULL;
		rec->mb_policy = *in->mb_policy ? in->mb_policy : NULL;
		if (reqs[i]->payload_v.len > 0) {
			hex_encode(&hexv[i], reqs[i]->payload_v.data, reqs[i]->payload_v.len);
			rec->payload_v = (char *)hexv[i].data;
		}
		rec->operational_state = NODE_START;
		if (ctx->lease && mine) {
			rec->lease_owner = ctx->verifier_id;
			rec->lease_expiry = expiry;
			rec->lease_epoch = 1;
		}
		if ((bodies[i] = events_node_body(rec, EVENT_NODE_ADDED, NULL,
		                                  "added by an operator")) == NULL) {
			api_add_result(r, GRPCSRV_INTERNAL, "cannot encode its node_added event");
			continue;
		}
		items[i].node = rec;
		items[i].type = EVENT_NODE_ADDED;
		items[i].severity = events_severity(EVENT_NODE_ADDED);
		items[i].body_json = bodies[i];
	}
	/* Only the items that passed go to the store (the others have no node). */
	{
		store_node_add_item_t *todo = xcalloc(n, sizeof(*todo));
		size_t *at = xcalloc(n, sizeof(*at)), k = 0;
		for (size_t i = 0; i < n; i++)
			if (items[i].node != NULL) {
				todo[k] = items[i];
				at[k++] = i;
			}
		if (k > 0 &&
		    store_node_add_many(ctx->api_store, todo, k, urls, nurls, &se) != STORE_OK)
			log_warnx("AddNode: storing %zu node(s) failed: %s", k, se.msg);
		for (size_t m = 0; m < k; m++)
			items[at[m]] = todo[m];
		free(todo);
		free(at);
		if (k > 0)
			events_committed();
	}
	for (size_t i = 0; i < n; i++) {
		Vigil__V1__AddNodeResult *r = &a->res[i];
		store_node_t *copy;
		err_t ge = {""};

		if (items[i].node == NULL)
			continue;
		if ((code = api_add_code(items[i].rc)) != GRPCSRV_OK) {
			api_add_result(r, code, items[i].err.msg);
			continue;
		}
		copy = xcalloc(1, sizeof(*copy));
		if (store_node_get(ctx->api_store, r->uuid, copy, &ge) != STORE_OK) {
			free(copy);
			api_add_result(r, GRPCSRV_INTERNAL, ge.msg);
			continue;
		}
		if (!mine) {
			log_info(
			    "node %s (%s:%u) stored for the pool: this instance holds its fair "
			    "share",
			    copy->uuid, copy->ip, (unsigned)copy->port);
			store_node_clear(copy);
			free(copy);
			api_add_result(r, GRPCSRV_OK, NULL);
			continue;
		}
		if (!batch)
			log_info("node %s (%s:%u) stored; setting it up for attestation",
			         copy->uuid, copy->ip, (unsigned)copy->port);
		api_add_job_t *j = xcalloc(1, sizeof(*j));
		j->add = a;
		j->i = i;
		j->rec = copy;
		__atomic_add_fetch(&a->left, 1, __ATOMIC_ACQ_REL);
		posted++;
		worker_post(vctx_worker_for(ctx, r->uuid), api_add_job_run, j);
	}
	for (size_t i = 0; i < n; i++) {
		buf_free(&b64[i]);
		buf_free_secret(&hexv[i]);
		free(bodies[i]);
	}
	free(b64);
	free(hexv);
	free(bodies);
	free(recs);
	free(items);
	if (posted > 0) {
		/* The jobs answer; the last one to finish (maybe this one) frees a. */
		api_add_done(a);
		return GRPCSRV_DEFERRED;
	}
	code = api_add_pack(a, resp, e);
	api_add_free(a);
	return code;
}

/* A payload key share V is a secret: wiped from the decoded request before it is freed
 * (the store and the node hold their own copies until it is delivered). */
static void api_add_wipe_v(Vigil__V1__AddNodeRequest *r)
{
	if (r && r->payload_v.data)
		OPENSSL_cleanse(r->payload_v.data, r->payload_v.len);
}

static int api_add_node(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                        err_t *e)
{
	Vigil__V1__AddNodeRequest *r = vigil__v1__add_node_request__unpack(NULL, len, req);
	int code = api_add_run(arg, c, &r, 1, 0, resp, e);

	api_add_wipe_v(r);
	vigil__v1__add_node_request__free_unpacked(r, NULL);
	return code;
}

static int api_add_nodes(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                         err_t *e)
{
	Vigil__V1__AddNodesRequest *r = vigil__v1__add_nodes_request__unpack(NULL, len, req);
	int code;

	if ((code = apireq_add_nodes(r, e)) == GRPCSRV_OK)
		code = api_add_run(arg, c, r->requests, r->n_requests, 1, resp, e);
	for (size_t i = 0; r && i < r->n_requests; i++)
		api_add_wipe_v(r->requests[i]);
	vigil__v1__add_nodes_request__free_unpacked(r, NULL);
	return code;
}

/* Decode a NodeRequest and check its uuid. NULL (with e) when malformed. */
static Vigil__V1__NodeRequest *api_node_req(const uint8_t *req, size_t len, err_t *e)
{
	Vigil__V1__NodeRequest *r = vigil__v1__node_request__unpack(NULL, len, req);

	if (apireq_node(r, e) != GRPCSRV_OK) {
		vigil__v1__node_request__free_unpacked(r, NULL);
		return NULL;
	}
	return r;
}

static int api_get_node(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                        err_t *e)
{
	vctx_t *ctx = arg;
	Vigil__V1__NodeRequest *r = api_node_req(req, len, e);
	int code;

	(void)c;
	if (r == NULL)
		return GRPCSRV_INVALID_ARGUMENT;
	code = api_reply_node(ctx, ctx->api_store, r->uuid, resp, e);
	vigil__v1__node_request__free_unpacked(r, NULL);
	return code;
}

static int api_remove_node(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len,
                           buf_t *resp, err_t *e)
{
	vctx_t *ctx = arg;
	Vigil__V1__NodeRequest *r = api_node_req(req, len, e);
	int code;

	(void)resp;
	if (r == NULL)
		return GRPCSRV_INVALID_ARGUMENT;
	switch (store_node_delete(ctx->api_store, r->uuid, e)) {
	case STORE_OK:
		events_record(ctx->api_store, &(store_node_t){.uuid = r->uuid}, 0,
		              EVENT_NODE_REMOVED, NULL, "removed by an operator");
		code = api_job_post(ctx, c, r->uuid, node_cmd_remove, xstrdup(r->uuid),
		                    API_ANSWER_REMOVED);
		break;
	case STORE_NOT_FOUND:
		err_set(e, "node %s not found", r->uuid);
		code = GRPCSRV_NOT_FOUND;
		break;
	default:
		code = GRPCSRV_INTERNAL;
	}
	vigil__v1__node_request__free_unpacked(r, NULL);
	return code;
}

static int api_node_cmd(vctx_t *ctx, grpcsrv_call_t *c, const uint8_t *req, size_t len, err_t *e,
                        node_cmd_fn fn)
{
	Vigil__V1__NodeRequest *r = api_node_req(req, len, e);
	node_status_t s;
	int code = GRPCSRV_NOT_FOUND;

	if (r == NULL)
		return GRPCSRV_INVALID_ARGUMENT;
	if (api_node_get(ctx, ctx->api_store, r->uuid, &s, e) < 0)
		goto out;
	store_node_clear(&s.rec);
	if (!api_node_is_live(ctx, r->uuid)) {
		/* Stored, but it failed to load at start: no worker holds it, so the command
		 * would do nothing. Say so instead of answering OK. */
		err_set(e,
		        "node %s is stored but not attested (it could not be loaded; see the "
		        "verifier's log); remove it and add it again",
		        r->uuid);
		code = GRPCSRV_FAILED_PRECONDITION;
		goto out;
	}
	code = api_job_post(ctx, c, r->uuid, fn, xstrdup(r->uuid), API_ANSWER_NODE);
out:
	vigil__v1__node_request__free_unpacked(r, NULL);
	return code;
}

static int api_stop_node(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                         err_t *e)
{
	(void)resp;
	return api_node_cmd(arg, c, req, len, e, node_cmd_stop);
}

static int api_reactivate_node(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len,
                               buf_t *resp, err_t *e)
{
	(void)resp;
	return api_node_cmd(arg, c, req, len, e, node_cmd_reactivate);
}

/* ---- UpdateNode ---- */

/* An UpdateNode on the node's worker, answered from there. */
typedef struct api_update {
	vctx_t *ctx;          /* borrowed */
	grpcsrv_call_t *call; /* taken; answered by the job */
	node_update_t u;      /* the update (strings owned) */
} api_update_t;

static void api_update_free(api_update_t *a)
{
	free(a->u.uuid);
	free(a->u.ip);
	free(a->u.mtls_cert);
	free(a->u.pcr_policy);
	free(a->u.runtime_policy);
	free(a->u.mb_policy);
	free(a);
}

static void api_update_run(worker_t *w, void *arg)
{
	api_update_t *a = arg;
	buf_t resp = BUF_INIT;
	err_t e = {""};
	int code;

	node_cmd_update(worker_host(w), &a->u);
	switch (a->u.rc) {
	case NODE_UPDATE_OK:
		code = api_reply_node(a->ctx, worker_store(w), a->u.uuid, &resp, &e);
		break;
	case NODE_UPDATE_NOT_STORED:
		code = GRPCSRV_NOT_FOUND;
		break;
	case NODE_UPDATE_ERROR:
		code = GRPCSRV_INTERNAL;
		break;
	default: /* GONE, POLICY, FENCED */
		code = GRPCSRV_FAILED_PRECONDITION;
	}
	if (a->u.rc != NODE_UPDATE_OK)
		err_set(&e, "%s", a->u.why);
	grpcsrv_call_reply(a->call, code, resp.data, resp.len, e.msg);
	buf_free(&resp);
	api_update_free(a);
}

/* A policy UpdateNode names (field: its update_mask name): it exists and is of kind k. */
static int api_update_policy_ok(vctx_t *ctx, const char *field, const char *name, policy_kind_t k,
                                err_t *e)
{
	store_policy_t p;
	err_t ignored = {""};
	int rv = GRPCSRV_OK;

	if (name == NULL || *name == '\0')
		return GRPCSRV_OK;
	memset(&p, 0, sizeof(p));
	switch (store_policy_get(ctx->api_store, name, &p, &ignored)) {
	case STORE_OK:
		break;
	case STORE_NOT_FOUND:
		err_set(e,
		        "UpdateNodeRequest.node.%s: there is no %s policy %s (store it first: "
		        "PutPolicy, vigilctl policy put)",
		        field, policy_kind_store_name(k), name);
		return GRPCSRV_FAILED_PRECONDITION;
	default:
		err_set(e, "cannot read policy %s: %s", name, ignored.msg);
		return GRPCSRV_INTERNAL;
	}
	if (strcmp(p.kind, policy_kind_store_name(k)) != 0) {
		err_set(e, "UpdateNodeRequest.node.%s: policy %s is a %s policy, not %s", field,
		        name, p.kind, policy_kind_store_name(k));
		rv = GRPCSRV_INVALID_ARGUMENT;
	}
	store_policy_clear(&p);
	return rv;
}

static char *api_dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static int api_update_node(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len,
                           buf_t *resp, err_t *e)
{
	vctx_t *ctx = arg;
	Vigil__V1__UpdateNodeRequest *r = vigil__v1__update_node_request__unpack(NULL, len, req);
	api_update_t *a;
	node_status_t s;
	unsigned fields;
	int code;

	(void)resp;
	if ((code = apireq_update_node(r, &fields, e)) != GRPCSRV_OK)
		goto out;
	if (api_node_get(ctx, ctx->api_store, r->uuid, &s, e) < 0) {
		code = GRPCSRV_NOT_FOUND;
		goto out;
	}
	store_node_clear(&s.rec);
	if (!api_node_is_live(ctx, r->uuid)) {
		err_set(e,
		        "node %s is stored but not attested by this verifier (%s); it cannot be "
		        "updated here",
		        r->uuid,
		        ctx->lease
		            ? "another instance of the pool holds it, or it could not be "
		              "loaded: ask the instance that lists it"
		            : "it could not be loaded, see the verifier's log; remove it and "
		              "add it again");
		code = GRPCSRV_FAILED_PRECONDITION;
		goto out;
	}
	if ((fields & NODE_UPD_PCR) &&
	    (code = api_update_policy_ok(ctx, "pcr_policy", r->node->pcr_policy, POLICY_PCR, e)))
		goto out;
	if ((fields & NODE_UPD_RUNTIME) &&
	    (code = api_update_policy_ok(ctx, "runtime_policy", r->node->runtime_policy,
	                                 POLICY_RUNTIME, e)))
		goto out;
	if ((fields & NODE_UPD_MB) &&
	    (code = api_update_policy_ok(ctx, "mb_policy", r->node->mb_policy, POLICY_MB, e)))
		goto out;
	a = xcalloc(1, sizeof(*a));
	a->ctx = ctx;
	a->call = c;
	a->u.uuid = xstrdup(r->uuid);
	a->u.fields = fields;
	a->u.ip = api_dup_or_null(r->node->ip);
	a->u.port = (int)r->node->port;
	a->u.mtls_cert = api_dup_or_null(r->node->mtls_cert);
	a->u.pcr_policy = api_dup_or_null(r->node->pcr_policy);
	a->u.runtime_policy = api_dup_or_null(r->node->runtime_policy);
	a->u.mb_policy = api_dup_or_null(r->node->mb_policy);
	worker_post(vctx_worker_for(ctx, r->uuid), api_update_run, a);
	code = GRPCSRV_DEFERRED;
out:
	if (r)
		vigil__v1__update_node_request__free_unpacked(r, NULL);
	return code;
}

typedef struct api_list {
	node_status_t *snaps; /* snapshots */
	size_t n, cap;        /* used, allocated */
} api_list_t;

static void api_list_cb(void *n, void *arg)
{
	api_list_t *l = arg;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->snaps = xrealloc(l->snaps, l->cap * sizeof(*l->snaps));
	}
	node_snapshot(n, &l->snaps[l->n++]);
}

static int api_list_nodes(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                          err_t *e)
{
	vctx_t *ctx = arg;
	Vigil__V1__ListNodesRequest *r = vigil__v1__list_nodes_request__unpack(NULL, len, req);
	Vigil__V1__ListNodesResponse out = VIGIL__V1__LIST_NODES_RESPONSE__INIT;
	api_list_t l = {NULL, 0, 0};
	Vigil__V1__Node *pn, **pp;
	char after[PAGING_KEY_MAX + 1], *token = NULL;
	size_t limit, shown;
	int code;

	(void)c;
	if (r == NULL) {
		err_set(e, "cannot decode ListNodesRequest");
		return GRPCSRV_INVALID_ARGUMENT;
	}
	code = paging_request(r->page_size, r->page_token, "ListNodesRequest", &limit, after, e);
	vigil__v1__list_nodes_request__free_unpacked(r, NULL);
	if (code != GRPCSRV_OK)
		return code;
	/* One more than the page says whether another page follows. */
	registry_page(ctx->registry, after, limit + 1, api_list_cb, &l);
	shown = l.n > limit ? limit : l.n;
	pn = xcalloc(shown + 1, sizeof(*pn));
	pp = xcalloc(shown + 1, sizeof(*pp));
	for (size_t i = 0; i < shown; i++) {
		api_node_fill(&pn[i], &l.snaps[i], ctx);
		pp[i] = &pn[i];
	}
	out.n_nodes = shown;
	out.nodes = pp;
	if (l.n > limit)
		token = paging_token(l.snaps[shown - 1].rec.uuid);
	out.next_page_token = api_str(token);
	pb_pack(&out.base, resp);
	for (size_t i = 0; i < l.n; i++)
		store_node_clear(&l.snaps[i].rec);
	free(token);
	free(l.snaps);
	free(pn);
	free(pp);
	return GRPCSRV_OK;
}

/* ---- policies ---- */

static Vigil__V1__PolicyKind api_kind_from_store(const char *k)
{
	if (strcmp(k, "tpm_pcr") == 0)
		return VIGIL__V1__POLICY_KIND__POLICY_KIND_PCR;
	if (strcmp(k, "runtime") == 0)
		return VIGIL__V1__POLICY_KIND__POLICY_KIND_RUNTIME;
	if (strcmp(k, "measured_boot") == 0)
		return VIGIL__V1__POLICY_KIND__POLICY_KIND_MB;
	return VIGIL__V1__POLICY_KIND__POLICY_KIND_UNSPECIFIED;
}

static void api_policy_fill(Vigil__V1__Policy *pp, const store_policy_t *p, int with_body)
{
	vigil__v1__policy__init(pp);
	pp->name = api_str(p->name);
	pp->kind = api_kind_from_store(p->kind);
	pp->sha256 = (char *)(uintptr_t)p->sha256;
	pp->created = p->created;
	pp->size = (uint32_t)p->body_len;
	if (with_body && p->body) {
		pp->body.data = p->body;
		pp->body.len = p->body_len;
	}
}

/* A replaced policy reaches every worker's nodes before PutPolicy answers: each worker
 * runs the change, and the last one to finish sends the answer packed beforehand. */
typedef struct api_fanout {
	grpcsrv_call_t *call; /* taken; answered by the last worker */
	buf_t resp;           /* the answer */
	char *name;           /* the policy (owned) */
	int left;             /* workers still to run it (atomic) */
} api_fanout_t;

static void api_fanout_run(worker_t *w, void *arg)
{
	api_fanout_t *f = arg;

	node_cmd_policy_changed(worker_host(w), xstrdup(f->name));
	if (__atomic_sub_fetch(&f->left, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	grpcsrv_call_reply(f->call, GRPCSRV_OK, f->resp.data, f->resp.len, NULL);
	buf_free(&f->resp);
	free(f->name);
	free(f);
}

static int api_put_policy(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                          err_t *e)
{
	vctx_t *ctx = arg;
	Vigil__V1__PutPolicyRequest *r = vigil__v1__put_policy_request__unpack(NULL, len, req);
	Vigil__V1__PutPolicyResponse out = VIGIL__V1__PUT_POLICY_RESPONSE__INIT;
	Vigil__V1__Policy pp;
	store_policy_t sp;
	policy_kind_t k;
	int code, existed = 0;

	memset(&sp, 0, sizeof(sp));
	if ((code = apireq_put_policy(r, &k, e)) != GRPCSRV_OK)
		goto out;
	if (r->replace) {
		store_policy_t old;
		err_t ignored = {""};
		memset(&old, 0, sizeof(old));
		existed =
		    store_policy_get(ctx->api_store, r->policy->name, &old, &ignored) == STORE_OK;
		store_policy_clear(&old);
	}
	switch (store_policy_put(ctx->api_store, r->policy->name, policy_kind_store_name(k),
	                         r->policy->body.data, r->policy->body.len, r->replace, &sp, e)) {
	case STORE_OK:
		break;
	case STORE_EXISTS:
		/* With replace, the name exists with another kind: not a conflict of names but
		 * a request that cannot apply to this policy. */
		code = r->replace ? GRPCSRV_FAILED_PRECONDITION : GRPCSRV_ALREADY_EXISTS;
		goto out;
	default:
		code = GRPCSRV_INTERNAL;
		goto out;
	}
	events_record_policy(ctx->api_store, existed ? EVENT_POLICY_REPLACED : EVENT_POLICY_PUT,
	                     sp.name, sp.kind, sp.sha256);
	log_info("policy %s (%s, %zu bytes, sha256 %s) %s", sp.name, sp.kind, sp.body_len,
	         sp.sha256, existed ? "replaced" : "stored");
	api_policy_fill(&pp, &sp, 0);
	out.policy = &pp;
	pb_pack(&out.base, resp);
	code = GRPCSRV_OK;
	if (r->replace && ctx->nworkers > 0) {
		api_fanout_t *f = xcalloc(1, sizeof(*f));
		f->call = c;
		f->resp = *resp;
		memset(resp, 0, sizeof(*resp));
		f->name = xstrdup(r->policy->name);
		f->left = ctx->nworkers;
		for (int i = 0; i < ctx->nworkers; i++)
			worker_post(ctx->workers[i], api_fanout_run, f);
		code = GRPCSRV_DEFERRED;
	}
out:
	store_policy_clear(&sp);
	vigil__v1__put_policy_request__free_unpacked(r, NULL);
	return code;
}

static int api_get_policy(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                          err_t *e)
{
	vctx_t *ctx = arg;
	Vigil__V1__PolicyRequest *r = vigil__v1__policy_request__unpack(NULL, len, req);
	Vigil__V1__GetPolicyResponse out = VIGIL__V1__GET_POLICY_RESPONSE__INIT;
	Vigil__V1__Policy pp;
	store_policy_t sp;
	int code = GRPCSRV_INVALID_ARGUMENT;

	(void)c;
	memset(&sp, 0, sizeof(sp));
	if (apireq_policy(r, e) != GRPCSRV_OK)
		goto out;
	switch (store_policy_get(ctx->api_store, r->name, &sp, e)) {
	case STORE_OK:
		api_policy_fill(&pp, &sp, 1);
		out.policy = &pp;
		pb_pack(&out.base, resp);
		code = GRPCSRV_OK;
		break;
	case STORE_NOT_FOUND:
		code = GRPCSRV_NOT_FOUND;
		break;
	default:
		code = GRPCSRV_INTERNAL;
	}
out:
	store_policy_clear(&sp);
	vigil__v1__policy_request__free_unpacked(r, NULL);
	return code;
}

static int api_list_policies(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len,
                             buf_t *resp, err_t *e)
{
	vctx_t *ctx = arg;
	Vigil__V1__ListPoliciesRequest *r =
	    vigil__v1__list_policies_request__unpack(NULL, len, req);
	Vigil__V1__ListPoliciesResponse out = VIGIL__V1__LIST_POLICIES_RESPONSE__INIT;
	store_policy_t *list = NULL;
	Vigil__V1__Policy *pp = NULL, **ptrs = NULL;
	char after[PAGING_KEY_MAX + 1], *token = NULL;
	size_t n = 0, limit, shown;
	policy_kind_t k;
	int code = GRPCSRV_INVALID_ARGUMENT;

	(void)c;
	if (r == NULL) {
		err_set(e, "cannot decode ListPoliciesRequest");
		goto out;
	}
	if ((code = paging_request(r->page_size, r->page_token, "ListPoliciesRequest", &limit,
	                           after, e)) != GRPCSRV_OK)
		goto out;
	/* One more than the page says whether another page follows. */
	if (store_policy_list(ctx->api_store,
	                      apireq_kind(r->kind, &k) == 0 ? policy_kind_store_name(k) : NULL,
	                      after, limit + 1, &list, &n, e) != STORE_OK) {
		code = GRPCSRV_INTERNAL;
		goto out;
	}
	shown = n > limit ? limit : n;
	pp = xcalloc(shown + 1, sizeof(*pp));
	ptrs = xcalloc(shown + 1, sizeof(*ptrs));
	for (size_t i = 0; i < shown; i++) {
		api_policy_fill(&pp[i], &list[i], 0);
		ptrs[i] = &pp[i];
	}
	out.n_policies = shown;
	out.policies = ptrs;
	if (n > limit)
		token = paging_token(list[shown - 1].name);
	out.next_page_token = api_str(token);
	pb_pack(&out.base, resp);
	code = GRPCSRV_OK;
out:
	free(token);
	free(pp);
	free(ptrs);
	store_policies_free(list, n);
	vigil__v1__list_policies_request__free_unpacked(r, NULL);
	return code;
}

static int api_delete_policy(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len,
                             buf_t *resp, err_t *e)
{
	vctx_t *ctx = arg;
	Vigil__V1__PolicyRequest *r = vigil__v1__policy_request__unpack(NULL, len, req);
	Vigil__V1__DeletePolicyResponse out = VIGIL__V1__DELETE_POLICY_RESPONSE__INIT;
	int code = GRPCSRV_INVALID_ARGUMENT;

	(void)c;
	if (apireq_policy(r, e) != GRPCSRV_OK)
		goto out;
	switch (store_policy_delete(ctx->api_store, r->name, e)) {
	case STORE_OK:
		events_record_policy(ctx->api_store, EVENT_POLICY_DELETED, r->name, NULL, NULL);
		log_info("policy %s deleted", r->name);
		pb_pack(&out.base, resp);
		code = GRPCSRV_OK;
		break;
	case STORE_NOT_FOUND:
		code = GRPCSRV_NOT_FOUND;
		break;
	case STORE_IN_USE:
		code = GRPCSRV_FAILED_PRECONDITION;
		break;
	default:
		code = GRPCSRV_INTERNAL;
	}
out:
	vigil__v1__policy_request__free_unpacked(r, NULL);
	return code;
}

static int api_pool_cmp(const void *a, const void *b)
{
	const store_pool_member_t *x = a, *y = b;

	return strcmp(x->id ? x->id : "", y->id ? y->id : "");
}

static int api_list_pool(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                         err_t *e)
{
	vctx_t *ctx = arg;
	Vigil__V1__ListPoolRequest *r = vigil__v1__list_pool_request__unpack(NULL, len, req);
	Vigil__V1__ListPoolResponse out = VIGIL__V1__LIST_POOL_RESPONSE__INIT;
	Vigil__V1__PoolMember *pm = NULL, **pp = NULL;
	store_pool_member_t *v = NULL;
	char after[PAGING_KEY_MAX + 1], *token = NULL;
	size_t n = 0, limit, first = 0, shown;
	struct timespec ts;
	int code = GRPCSRV_INVALID_ARGUMENT;

	(void)c;
	if (r == NULL) {
		err_set(e, "cannot decode ListPoolRequest");
		return code;
	}
	if ((code = paging_request(r->page_size, r->page_token, "ListPoolRequest", &limit, after,
	                           e)) != GRPCSRV_OK)
		goto out;
	clock_gettime(CLOCK_REALTIME, &ts);
	out.now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	out.self_id = ctx->verifier_id;
	out.pool = ctx->lease != NULL;
	out.lease_time_ms = ctx->lease ? lease_time_ms(ctx->lease) : 0;
	if (store_pool_list(ctx->api_store, &v, &n, e) != STORE_OK) {
		code = GRPCSRV_INTERNAL;
		goto out;
	}
	/* A pool has a handful of members: the page is cut here, by id in byte order. */
	qsort(v, n, sizeof(*v), api_pool_cmp);
	while (first < n && *after && strcmp(v[first].id, after) <= 0)
		first++;
	shown = n - first > limit ? limit : n - first;
	if (n - first > limit)
		token = paging_token(v[first + shown - 1].id);
	out.next_page_token = api_str(token);
	pm = xcalloc(shown ? shown : 1, sizeof(*pm));
	pp = xcalloc(shown ? shown : 1, sizeof(*pp));
	for (size_t k = 0; k < shown; k++) {
		size_t i = first + k;
		vigil__v1__pool_member__init(&pm[k]);
		pm[k].id = api_str(v[i].id);
		pm[k].address = api_str(v[i].address);
		pm[k].heartbeat_ms = v[i].heartbeat;
		pm[k].started_ms = v[i].started;
		pm[k].nodes = (uint64_t)v[i].nodes;
		pm[k].oldest_attestation = v[i].oldest_attestation;
		pm[k].stalled_ms = v[i].stalled;
		pm[k].live = out.lease_time_ms > 0 &&
		             out.now_ms - v[i].heartbeat <= out.lease_time_ms && v[i].stalled == 0;
		pp[k] = &pm[k];
	}
	out.n_members = shown;
	out.members = pp;
	pb_pack(&out.base, resp);
	code = GRPCSRV_OK;
out:
	free(token);
	free(pm);
	free(pp);
	store_pool_members_free(v, n);
	vigil__v1__list_pool_request__free_unpacked(r, NULL);
	return code;
}

const grpcsrv_method_t api_methods[] = {
    {"/vigil.v1.Verifier/AddNode", api_add_node},
    {"/vigil.v1.Verifier/AddNodes", api_add_nodes},
    {"/vigil.v1.Verifier/RemoveNode", api_remove_node},
    {"/vigil.v1.Verifier/GetNode", api_get_node},
    {"/vigil.v1.Verifier/ListNodes", api_list_nodes},
    {"/vigil.v1.Verifier/StopNode", api_stop_node},
    {"/vigil.v1.Verifier/ReactivateNode", api_reactivate_node},
    {"/vigil.v1.Verifier/PutPolicy", api_put_policy},
    {"/vigil.v1.Verifier/GetPolicy", api_get_policy},
    {"/vigil.v1.Verifier/ListPolicies", api_list_policies},
    {"/vigil.v1.Verifier/DeletePolicy", api_delete_policy},
    {"/vigil.v1.Verifier/ListEvents", api_list_events},
    {"/vigil.v1.Verifier/GetEvent", api_get_event},
    {"/vigil.v1.Verifier/GetAuditKey", api_get_audit_key},
    {"/vigil.v1.Verifier/ExportEvents", api_export_events},
    {"/vigil.v1.Verifier/WatchEvents", watch_events},
    {"/vigil.v1.Verifier/ListOutbox", api_list_outbox},
    {"/vigil.v1.Verifier/RetryOutbox", api_retry_outbox},
    {"/vigil.v1.Verifier/ListPool", api_list_pool},
    {"/vigil.v1.Verifier/UpdateNode", api_update_node},
    {"/vigil.v1.Verifier/AttestNow", api_attest_now},
    {"/vigil.v1.Verifier/GetReport", api_get_report},
    {"/vigil.v1.Verifier/GetReportKey", api_get_report_key},
    {NULL, NULL},
};

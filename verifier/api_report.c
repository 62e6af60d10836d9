/* api_report: on-demand attestation and trust reports (AttestNow, GetReport,
 * GetReportKey; docs/api.md, docs/ear.md).
 *
 * GetReport answers on the gRPC thread: the node's status and its last judged round are
 * copied in one section under the node's lock (attest_now_snapshot through the registry,
 * which keeps the node alive meanwhile), the same section in which a round publishes its
 * verdict and evidence; so a report never mixes two rounds, and it does not wait behind
 * a busy worker. AttestNow is answered from the owning worker when the round it waited
 * for was judged (attest_now.c). */
#include "verifier/api_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/crypto/ear.h"
#include "common/net/pb.h"
#include "common/store/store.h"
#include "verifier/api.h"
#include "verifier/api_events.h"
#include "verifier/apireq.h"
#include "verifier/attest_now.h"
#include "verifier/node.h"
#include "verifier/registry.h"
#include "verifier/vctx.h"
#include "verifier/verdict_ear.h"
#include "verifier/worker.h"

/* ---- one Report ---- */

/* A Report being built, and everything its fields borrow. */
typedef struct api_rep {
	Vigil__V1__Report r;            /* the message */
	Vigil__V1__Node pn;             /* r.node */
	node_status_t st;               /* the node's status (strings owned) */
	report_snap_t rs;               /* its last judged round (owned) */
	int stored_only;                /* no worker attests it: its stored record */
	Vigil__V1__PcrEvidence *pcr;    /* r.pcrs' elements */
	Vigil__V1__PcrEvidence **pcrp;  /* r.pcrs */
	Vigil__V1__PolicyRef pol[3];    /* r.policies' elements */
	Vigil__V1__PolicyRef *polp[3];  /* r.policies */
	ear_policy_ref_t refs[3];       /* the same for the token */
	char sha[3][65];                /* their digests */
	char *mbf[1];                   /* r.mb_failures */
	Vigil__V1__ImaFailure imf;      /* r.ima_failures' element */
	Vigil__V1__ImaFailure *imfp[1]; /* r.ima_failures */
	store_event_t *events;          /* the node's events (owned) */
	size_t n_events;                /* how many */
	Vigil__V1__Event *ev;           /* r.events' elements (the last ones) */
	Vigil__V1__Event **evp;         /* r.events */
	verdict_ear_t v;                /* the verdict, for ear_status and the token */
} api_rep_t;

static char *api_rep_str(const char *s)
{
	return (char *)(uintptr_t)(s ? s : "");
}

/* The attestation status the EAR mapping is given: the Node's, except that a node no
 * worker attests is not judged at all ("none"). */
static const char *api_rep_status(const api_rep_t *a)
{
	return a->stored_only ? "PENDING" : a->pn.attestation_status;
}

/* Fill a->r from a->st, a->rs and a->sha (policy digests, "" when unknown). */
static void api_rep_build(vctx_t *ctx, api_rep_t *a)
{
	static const char *const kinds[3] = {"pcr", "runtime", "mb"};
	static const Vigil__V1__PolicyKind pkinds[3] = {VIGIL__V1__POLICY_KIND__POLICY_KIND_PCR,
	                                                VIGIL__V1__POLICY_KIND__POLICY_KIND_RUNTIME,
	                                                VIGIL__V1__POLICY_KIND__POLICY_KIND_MB};
	const char *names[3] = {a->st.rec.pcr_policy, a->st.rec.runtime_policy,
	                        a->st.rec.mb_policy};
	const report_snap_t *rs = &a->rs;
	ear_node_t en;
	size_t np = 0;

	vigil__v1__report__init(&a->r);
	api_node_fill(&a->pn, &a->st, ctx);
	if (a->stored_only) {
		a->pn.attestation_status = api_rep_str("FAIL");
		a->pn.last_event_id = api_rep_str("not_loaded");
		a->pn.failure_reason = api_rep_str("stored, but this verifier instance does not "
		                                   "attest it (it could not be loaded, "
		                                   "or another instance of the pool holds it)");
	}
	a->r.node = &a->pn;
	a->r.quote_time_ms = rs->has ? rs->time_ms : 0;
	if (a->st.rec.has_clock) {
		a->r.tpm_clock = (uint64_t)a->st.rec.tpm_clock;
		a->r.reset_count = (uint32_t)a->st.rec.tpm_reset_count;
		a->r.restart_count = (uint32_t)a->st.rec.tpm_restart_count;
		a->r.clock_safe = rs->has ? rs->clock_safe : 1;
	}
	a->pcr = xcalloc(rs->n_pcrs + 1, sizeof(*a->pcr));
	a->pcrp = xcalloc(rs->n_pcrs + 1, sizeof(*a->pcrp));
	for (size_t i = 0; i < rs->n_pcrs; i++) {
		vigil__v1__pcr_evidence__init(&a->pcr[i]);
		a->pcr[i].index = rs->pcrs[i].index;
		a->pcr[i].bank = a->rs.bank;
		a->pcr[i].value = a->rs.pcrs[i].value;
		a->pcr[i].in_policy = rs->pcrs[i].in_policy;
		a->pcr[i].ok = rs->pcrs[i].ok;
		a->pcrp[i] = &a->pcr[i];
	}
	a->r.n_pcrs = rs->n_pcrs;
	a->r.pcrs = a->pcrp;
	for (int k = 0; k < 3; k++) {
		if (names[k] == NULL || *names[k] == '\0')
			continue;
		vigil__v1__policy_ref__init(&a->pol[np]);
		a->pol[np].kind = pkinds[k];
		a->pol[np].name = (char *)(uintptr_t)names[k];
		a->pol[np].sha256 = a->sha[k];
		a->polp[np] = &a->pol[np];
		a->refs[np].kind = kinds[k];
		a->refs[np].name = names[k];
		a->refs[np].digest = a->sha[k];
		np++;
	}
	a->r.n_policies = np;
	a->r.policies = a->polp;
	/* Results: those of the last judged round; with no such round, what the policies
	 * say could be judged ("none" where there is no policy, "skipped" where there is). */
	a->r.mb_result = api_rep_str(report_result_name(
	    rs->has ? rs->mb : (a->st.rec.mb_policy ? REPORT_SKIPPED : REPORT_NONE)));
	a->r.ima_result = api_rep_str(report_result_name(
	    rs->has ? rs->ima : (a->st.rec.runtime_policy ? REPORT_SKIPPED : REPORT_NONE)));
	if (rs->mb_fail) {
		a->mbf[0] = rs->mb_fail;
		a->r.n_mb_failures = 1;
		a->r.mb_failures = a->mbf;
	}
	if (rs->has && rs->ima == REPORT_FAIL) {
		vigil__v1__ima_failure__init(&a->imf);
		a->imf.entry = rs->ima_has_entry ? rs->ima_entry : 0;
		a->imf.path = api_rep_str(rs->ima_path);
		a->imf.digest = api_rep_str(rs->ima_digest);
		a->imf.reason = api_rep_str(rs->ima_reason);
		a->imfp[0] = &a->imf;
		a->r.n_ima_failures = 1;
		a->r.ima_failures = a->imfp;
	}
	/* The verdict as the token states it; ear_status is the same mapping's. */
	a->v.uuid = a->st.rec.uuid;
	a->v.status = api_rep_status(a);
	a->v.event_id = a->st.rec.last_event_id;
	a->v.quote_time = rs->has ? rs->time_ms / 1000 : -1;
	a->v.reset_count = a->st.rec.has_clock ? a->st.rec.tpm_reset_count : -1;
	/* The registrar enrolls no node whose EK chain it could not verify (DESIGN §2). */
	a->v.ek_checked = 1;
	a->v.policies = a->refs;
	a->v.n_policies = np;
	memset(&en, 0, sizeof(en));
	verdict_ear_node(&a->v, &en);
	a->r.ear_status = api_rep_str(ear_tier_name(en.status));
}

/* The last n events of the node from store st, newest last, into a->r.events. 0 or -1. */
static int api_rep_events(api_rep_t *a, struct store *st, size_t n, err_t *e)
{
	store_event_filter_t f = {a->st.rec.uuid, NULL, 0, n, 1};
	size_t first;

	if (n == 0)
		return 0;
	if (store_event_list(st, &f, &a->events, &a->n_events, e) != STORE_OK)
		return -1;
	first = a->n_events > n ? a->n_events - n : 0;
	a->ev = xcalloc(a->n_events - first + 1, sizeof(*a->ev));
	a->evp = xcalloc(a->n_events - first + 1, sizeof(*a->evp));
	for (size_t i = first; i < a->n_events; i++) {
		api_event_fill(&a->ev[i - first], &a->events[i]);
		a->evp[i - first] = &a->ev[i - first];
	}
	a->r.n_events = a->n_events - first;
	a->r.events = a->evp;
	return 0;
}

static void api_rep_clear(api_rep_t *a)
{
	free(a->pcr);
	free(a->pcrp);
	free(a->ev);
	free(a->evp);
	store_events_free(a->events, a->n_events);
	report_snap_clear(&a->rs);
	store_node_clear(&a->st.rec);
	memset(a, 0, sizeof(*a));
}

/* Sign a's verdict as a token of proto format f into tok. GRPCSRV_OK, or a status with
 * e. */
static int api_rep_sign(vctx_t *ctx, api_rep_t *a, Vigil__V1__EarFormat f, buf_t *tok, err_t *e)
{
	if (f == VIGIL__V1__EAR_FORMAT__EAR_NONE)
		return GRPCSRV_OK;
	if (ctx->report_key == NULL) {
		err_set(e, "this verifier has no attestation-result key loaded");
		return GRPCSRV_FAILED_PRECONDITION;
	}
	if (verdict_ear_sign(ctx, &a->v,
	                     f == VIGIL__V1__EAR_FORMAT__EAR_CWT ? EAR_FORMAT_CWT : EAR_FORMAT_JWT,
	                     tok, e) < 0) {
		log_warnx("node %s: cannot sign its EAR: %s", a->st.rec.uuid, e->msg);
		return GRPCSRV_INTERNAL;
	}
	return GRPCSRV_OK;
}

/* ---- GetReport ---- */

static void api_report_snap_cb(void *n, void *arg)
{
	api_rep_t *a = arg;

	attest_now_snapshot(n, &a->st, &a->rs);
}

/* The stored digests of the named policies into a->sha ("" when unknown). */
static void api_rep_store_digests(api_rep_t *a, struct store *st)
{
	const char *names[3] = {a->st.rec.pcr_policy, a->st.rec.runtime_policy,
	                        a->st.rec.mb_policy};

	for (int k = 0; k < 3; k++) {
		store_policy_t p;
		err_t ignored = {""};

		a->sha[k][0] = '\0';
		memset(&p, 0, sizeof(p));
		if (names[k] && store_policy_get(st, names[k], &p, &ignored) == STORE_OK)
			memcpy(a->sha[k], p.sha256, sizeof(a->sha[k]));
		store_policy_clear(&p);
	}
}

int api_get_report(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                   err_t *e)
{
	vctx_t *ctx = arg;
	Vigil__V1__GetReportRequest *r = vigil__v1__get_report_request__unpack(NULL, len, req);
	Vigil__V1__GetReportResponse out = VIGIL__V1__GET_REPORT_RESPONSE__INIT;
	api_rep_t a;
	buf_t tok = BUF_INIT;
	size_t nev;
	int code;

	(void)c;
	memset(&a, 0, sizeof(a));
	if ((code = apireq_get_report(r, &nev, e)) != GRPCSRV_OK)
		goto out;
	if (registry_with(ctx->registry, r->uuid, api_report_snap_cb, &a) != 0) {
		memset(&a.st, 0, sizeof(a.st));
		if (store_node_get(ctx->api_store, r->uuid, &a.st.rec, e) != STORE_OK) {
			err_set(e, "node %s not found", r->uuid);
			code = GRPCSRV_NOT_FOUND;
			goto out;
		}
		a.stored_only = 1;
	}
	api_rep_store_digests(&a, ctx->api_store);
	api_rep_build(ctx, &a);
	if (api_rep_events(&a, ctx->api_store, nev, e) < 0) {
		code = GRPCSRV_INTERNAL;
		goto out;
	}
	if ((code = api_rep_sign(ctx, &a, r->ear, &tok, e)) != GRPCSRV_OK)
		goto out;
	out.report = &a.r;
	out.ear.data = tok.data;
	out.ear.len = r->ear == VIGIL__V1__EAR_FORMAT__EAR_JWT && tok.len ? strlen((char *)tok.data)
	                                                                  : tok.len;
	pb_pack(&out.base, resp);
	code = GRPCSRV_OK;
out:
	buf_free(&tok);
	api_rep_clear(&a);
	vigil__v1__get_report_request__free_unpacked(r, NULL);
	return code;
}

/* ---- AttestNow ---- */

/* One AttestNow call waiting on the owning worker. */
typedef struct api_attest {
	node_waiter_t w;          /* first: the worker's list holds &w */
	vctx_t *ctx;              /* borrowed */
	worker_t *worker;         /* the owning worker */
	grpcsrv_call_t *call;     /* taken; answered once through w.done */
	char *uuid;               /* the node (owned) */
	Vigil__V1__EarFormat ear; /* token asked for */
} api_attest_t;

static uint64_t api_attest_next_id = 1; /* ids of waiters (atomic) */

/* The round was judged (n set) or the wait ended (code, why): answer and free. */
static void api_attest_done(node_waiter_t *w, node_t *n, int code, const char *why)
{
	api_attest_t *at = (api_attest_t *)w;
	Vigil__V1__AttestNowResponse out = VIGIL__V1__ATTEST_NOW_RESPONSE__INIT;
	buf_t resp = BUF_INIT, tok = BUF_INIT;
	err_t e = {""};
	api_rep_t a;
	const char *sha[3];

	memset(&a, 0, sizeof(a));
	if (code == GRPCSRV_OK && n != NULL) {
		attest_now_snapshot(n, &a.st, &a.rs);
		attest_now_policy_digests(n, sha);
		for (int k = 0; k < 3; k++)
			snprintf(a.sha[k], sizeof(a.sha[k]), "%s", sha[k]);
		api_rep_build(at->ctx, &a);
		if ((code = api_rep_sign(at->ctx, &a, at->ear, &tok, &e)) == GRPCSRV_OK) {
			out.report = &a.r;
			out.ear.data = tok.data;
			out.ear.len = at->ear == VIGIL__V1__EAR_FORMAT__EAR_JWT && tok.len
			                  ? strlen((char *)tok.data)
			                  : tok.len;
			pb_pack(&out.base, &resp);
		}
		why = e.msg;
	} else if (code == GRPCSRV_OK) {
		code = GRPCSRV_INTERNAL;
		why = "the node's round ended without a verdict";
	}
	grpcsrv_call_reply(at->call, code, resp.data, resp.len, why);
	buf_free(&resp);
	buf_free(&tok);
	api_rep_clear(&a);
	free(at->uuid);
	free(at);
}

/* On the worker: wait for the node's round (or answer at once). */
static void api_attest_start(worker_t *wk, void *arg)
{
	api_attest_t *at = arg;
	err_t e = {""};
	int code;

	if ((code = attest_now_start(worker_host(wk), at->uuid, &at->w, &e)) != GRPCSRV_OK)
		api_attest_done(&at->w, NULL, code, e.msg);
}

/* The call ended early: on the worker, answer the waiter if it still waits. */
typedef struct api_attest_cancel {
	uint64_t id; /* the waiter */
} api_attest_cancel_t;

static void api_attest_cancel_run(worker_t *wk, void *arg)
{
	api_attest_cancel_t *x = arg;

	attest_now_cancel(worker_host(wk), x->id, GRPCSRV_UNAVAILABLE,
	                  "the call ended before the round was judged (the client went away, "
	                  "or the verifier is shutting down)");
	free(x);
}

/* grpcsrv's close callback (gRPC thread, under its lock; never after the reply): post the
 * cancellation to the worker by id, never by pointer, as the waiter may be answered
 * there before the message runs. */
static void api_attest_on_close(void *arg)
{
	api_attest_t *at = arg;
	api_attest_cancel_t *x = xcalloc(1, sizeof(*x));

	x->id = at->w.id;
	worker_post(at->worker, api_attest_cancel_run, x);
}

static void api_report_snap_nop(void *n, void *arg)
{
	(void)n;
	(void)arg;
}

int api_attest_now(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                   err_t *e)
{
	vctx_t *ctx = arg;
	Vigil__V1__AttestNowRequest *r = vigil__v1__attest_now_request__unpack(NULL, len, req);
	store_node_t rec;
	api_attest_t *at;
	int code;

	(void)resp;
	memset(&rec, 0, sizeof(rec));
	if ((code = apireq_attest_now(r, e)) != GRPCSRV_OK)
		goto out;
	if (registry_with(ctx->registry, r->uuid, api_report_snap_nop, NULL) != 0) {
		/* No worker attests it: say why, as precisely as the store knows. */
		if (store_node_get(ctx->api_store, r->uuid, &rec, e) != STORE_OK) {
			err_set(e, "node %s not found", r->uuid);
			code = GRPCSRV_NOT_FOUND;
		} else if (ctx->lease && rec.lease_owner && *rec.lease_owner &&
		           strcmp(rec.lease_owner, ctx->verifier_id) != 0) {
			err_set(e, "node %s is held by verifier instance %s of the pool; ask it",
			        r->uuid, rec.lease_owner);
			code = GRPCSRV_FAILED_PRECONDITION;
		} else if (ctx->lease && (rec.lease_owner == NULL || *rec.lease_owner == '\0')) {
			err_set(e, "node %s is held by no instance of the pool yet; ask again soon",
			        r->uuid);
			code = GRPCSRV_FAILED_PRECONDITION;
		} else {
			err_set(
			    e,
			    "node %s is stored but not attested (it could not be loaded; see the "
			    "verifier's log); remove it and add it again",
			    r->uuid);
			code = GRPCSRV_FAILED_PRECONDITION;
		}
		goto out;
	}
	at = xcalloc(1, sizeof(*at));
	at->w.id = __atomic_fetch_add(&api_attest_next_id, 1, __ATOMIC_RELAXED);
	at->w.done = api_attest_done;
	at->ctx = ctx;
	at->worker = vctx_worker_for(ctx, r->uuid);
	at->call = c;
	at->uuid = xstrdup(r->uuid);
	at->ear = r->ear;
	grpcsrv_call_on_close(c, api_attest_on_close, at);
	/* The close callback's message follows this one on the same queue: the waiter is
	 * on the list (or answered) before a cancellation can look for it. */
	worker_post(at->worker, api_attest_start, at);
	code = GRPCSRV_DEFERRED;
out:
	store_node_clear(&rec);
	vigil__v1__attest_now_request__free_unpacked(r, NULL);
	return code;
}

/* ---- GetReportKey ---- */

int api_get_report_key(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                       err_t *e)
{
	vctx_t *ctx = arg;
	Vigil__V1__GetReportKeyRequest *r =
	    vigil__v1__get_report_key_request__unpack(NULL, len, req);
	Vigil__V1__GetReportKeyResponse out = VIGIL__V1__GET_REPORT_KEY_RESPONSE__INIT;

	(void)c;
	if (r == NULL) {
		err_set(e, "cannot decode GetReportKeyRequest");
		return GRPCSRV_INVALID_ARGUMENT;
	}
	vigil__v1__get_report_key_request__free_unpacked(r, NULL);
	if (ctx->report_pub_pem == NULL) {
		err_set(e, "this verifier has no attestation-result key loaded");
		return GRPCSRV_FAILED_PRECONDITION;
	}
	out.pem = ctx->report_pub_pem;
	out.key_id = ctx->report_key_id;
	pb_pack(&out.base, resp);
	return GRPCSRV_OK;
}

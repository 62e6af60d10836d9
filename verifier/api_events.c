/* api_events: reading the event log and its seals over gRPC. */
#include "verifier/api_events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/net/paging.h"
#include "common/net/pb.h"
#include "common/store/audit.h"
#include "common/store/store.h"
#include "verifier/apireq.h"
#include "verifier/vctx.h"

/* An export page stops after the record that takes it past this many bytes, well under
 * what a gRPC client takes in one message by default (4 MiB). */
#define API_EXPORT_BYTES (2u << 20)

/* The prologue of every handler here: the request's check refused it (code), which
 * changes nothing and is worth a line in the log. */
static int api_events_refused(grpcsrv_call_t *c, const char *method, int code, const err_t *e)
{
	log_info("%s from %s refused: %s", method, grpcsrv_call_peer(c), e->msg);
	return code;
}

static char *api_events_str(const char *s)
{
	return (char *)(uintptr_t)(s ? s : "");
}

void api_event_fill(Vigil__V1__Event *pe, const store_event_t *ev)
{
	vigil__v1__event__init(pe);
	pe->seq = (uint64_t)ev->seq;
	pe->id = api_events_str(ev->id);
	pe->time_ms = ev->time;
	pe->node_uuid = api_events_str(ev->node_uuid);
	pe->type = api_events_str(ev->type);
	pe->severity = api_events_str(ev->severity);
	pe->body = api_events_str(ev->body);
	pe->prev_hash = api_events_str(ev->prev_hash);
	pe->hash = api_events_str(ev->hash);
}

static int api_store_code(store_rc_t rc)
{
	return rc == STORE_NOT_FOUND ? GRPCSRV_NOT_FOUND : GRPCSRV_INTERNAL;
}

int api_list_events(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                    err_t *e)
{
	vctx_t *ctx = arg;
	Vigil__V1__ListEventsRequest *r = vigil__v1__list_events_request__unpack(NULL, len, req);
	Vigil__V1__ListEventsResponse out = VIGIL__V1__LIST_EVENTS_RESPONSE__INIT;
	Vigil__V1__Event *pe = NULL, **pp = NULL;
	store_event_filter_t f;
	store_event_t *v = NULL, since;
	store_rc_t rc;
	size_t n = 0, total = 0, page;
	char key[24], *token = NULL;
	int code;

	if ((code = apireq_list_events(r, &f, e)) != GRPCSRV_OK) {
		code = api_events_refused(c, "ListEvents", code, e);
		goto out;
	}
	if (*r->since_id) {
		if ((rc = store_event_get(ctx->api_store, r->since_id, &since, e)) != STORE_OK) {
			code = api_store_code(rc);
			goto out;
		}
		if (since.seq > f.after_seq)
			f.after_seq = since.seq;
		store_event_clear(&since);
	}
	/* One more than the page says whether another page follows. */
	page = f.limit;
	f.limit = page + 1;
	if (store_event_list(ctx->api_store, &f, &v, &total, e) != STORE_OK) {
		code = GRPCSRV_INTERNAL;
		goto out;
	}
	n = total > page ? page : total;
	pe = xcalloc(n + 1, sizeof(*pe));
	pp = xcalloc(n + 1, sizeof(*pp));
	for (size_t i = 0; i < n; i++) {
		api_event_fill(&pe[i], &v[i]);
		pp[i] = &pe[i];
	}
	out.n_events = n;
	out.events = pp;
	/* The token is where the next page starts; none on the last page so far (events
	 * recorded later are read with after_seq = the last seq seen, or WatchEvents). */
	if (total > page) {
		snprintf(key, sizeof(key), "%lld", (long long)v[n - 1].seq);
		token = paging_token(key);
	}
	out.next_page_token = api_events_str(token);
	pb_pack(&out.base, resp);
out:
	free(token);
	free(pe);
	free(pp);
	store_events_free(v, total);
	vigil__v1__list_events_request__free_unpacked(r, NULL);
	return code;
}

int api_get_event(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                  err_t *e)
{
	vctx_t *ctx = arg;
	Vigil__V1__EventRequest *r = vigil__v1__event_request__unpack(NULL, len, req);
	Vigil__V1__EventResponse out = VIGIL__V1__EVENT_RESPONSE__INIT;
	Vigil__V1__Event pe;
	store_event_t ev;
	store_rc_t rc;
	int code;

	memset(&ev, 0, sizeof(ev));
	if ((code = apireq_event(r, e)) != GRPCSRV_OK) {
		code = api_events_refused(c, "GetEvent", code, e);
		goto out;
	}
	if ((rc = store_event_get(ctx->api_store, r->id, &ev, e)) != STORE_OK) {
		code = api_store_code(rc);
		goto out;
	}
	api_event_fill(&pe, &ev);
	out.event = &pe;
	pb_pack(&out.base, resp);
out:
	store_event_clear(&ev);
	vigil__v1__event_request__free_unpacked(r, NULL);
	return code;
}

int api_get_audit_key(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                      err_t *e)
{
	vctx_t *ctx = arg;
	Vigil__V1__GetAuditKeyRequest *r = vigil__v1__get_audit_key_request__unpack(NULL, len, req);
	Vigil__V1__GetAuditKeyResponse out = VIGIL__V1__GET_AUDIT_KEY_RESPONSE__INIT;

	if (r == NULL) {
		err_set(e, "cannot decode GetAuditKeyRequest");
		return api_events_refused(c, "GetAuditKey", GRPCSRV_INVALID_ARGUMENT, e);
	}
	vigil__v1__get_audit_key_request__free_unpacked(r, NULL);
	out.pem = api_events_str(ctx->audit_pub_pem);
	out.key_id = ctx->audit_key_id;
	pb_pack(&out.base, resp);
	return GRPCSRV_OK;
}

/* Append the export lines of records v[0..n-1] with their seals (ascending) to out, up
 * to about API_EXPORT_BYTES; returns how many records went in. */
static size_t api_export_lines(const store_event_t *v, size_t n, const store_seal_t *seals,
                               size_t ns, buf_t *out)
{
	size_t i, k = 0;

	for (i = 0; i < n && (i == 0 || out->len < API_EXPORT_BYTES); i++) {
		audit_export_record(&v[i], out);
		for (; k < ns && seals[k].seq <= v[i].seq; k++)
			if (seals[k].seq == v[i].seq)
				audit_export_seal(&seals[k], out);
	}
	return i;
}

int api_export_events(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                      err_t *e)
{
	vctx_t *ctx = arg;
	Vigil__V1__ExportEventsRequest *r =
	    vigil__v1__export_events_request__unpack(NULL, len, req);
	Vigil__V1__ExportEventsResponse out = VIGIL__V1__EXPORT_EVENTS_RESPONSE__INIT;
	store_event_filter_t f = {NULL, NULL, 0, 0, 0};
	store_event_t *v = NULL;
	store_seal_t *seals = NULL;
	size_t n = 0, ns = 0, used;
	buf_t lines = BUF_INIT;
	struct timespec now;
	int code;

	if ((code = apireq_export_events(r, &f.limit, e)) != GRPCSRV_OK) {
		code = api_events_refused(c, "ExportEvents", code, e);
		goto out;
	}
	f.after_seq = (int64_t)r->after_seq;
	if (store_event_list(ctx->api_store, &f, &v, &n, e) != STORE_OK ||
	    (n > 0 && store_seal_list(ctx->api_store, f.after_seq, v[n - 1].seq, &seals, &ns, e) !=
	                  STORE_OK)) {
		code = GRPCSRV_INTERNAL;
		goto out;
	}
	if (r->after_seq == 0) {
		clock_gettime(CLOCK_REALTIME, &now);
		audit_export_header(ctx->audit_pub_pem, ctx->audit_key_id,
		                    (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, &lines);
	}
	used = api_export_lines(v, n, seals, ns, &lines);
	out.lines.data = lines.data;
	out.lines.len = lines.len;
	out.last_seq = used ? (uint64_t)v[used - 1].seq : r->after_seq;
	out.done = used == n && n < f.limit;
	pb_pack(&out.base, resp);
out:
	buf_free(&lines);
	store_events_free(v, n);
	store_seals_free(seals, ns);
	vigil__v1__export_events_request__free_unpacked(r, NULL);
	return code;
}

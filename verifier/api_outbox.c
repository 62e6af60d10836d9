/* api_outbox: ListOutbox and RetryOutbox. */
#include "verifier/api_outbox.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/net/paging.h"
#include "common/net/pb.h"
#include "common/store/store.h"
#include "verifier/apireq.h"
#include "verifier/events.h"
#include "verifier/vctx.h"

static char *api_ostr(const char *s)
{
	return (char *)(uintptr_t)(s ? s : "");
}

int api_list_outbox(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                    err_t *e)
{
	vctx_t *ctx = arg;
	Vigil__V1__ListOutboxRequest *r = vigil__v1__list_outbox_request__unpack(NULL, len, req);
	Vigil__V1__ListOutboxResponse out = VIGIL__V1__LIST_OUTBOX_RESPONSE__INIT;
	Vigil__V1__OutboxEntry *v = NULL, **ptrs = NULL;
	store_outbox_t *rows = NULL;
	size_t n = 0, total = 0, page = 0;
	int64_t after = 0;
	char key[24], *token = NULL;
	int code = GRPCSRV_INVALID_ARGUMENT;

	(void)c;
	if ((code = apireq_list_outbox(r, &page, &after, e)) != GRPCSRV_OK)
		goto out;
	/* One more than the page says whether another page follows. */
	if (store_outbox_list(ctx->api_store, r->dead ? STORE_OUTBOX_DEAD : STORE_OUTBOX_PENDING,
	                      after, page + 1, &rows, &n, e) != STORE_OK) {
		code = GRPCSRV_INTERNAL;
		goto out;
	}
	total = n;
	if (n > page) {
		n = page;
		out.next_after_id = rows[n - 1].id;
		snprintf(key, sizeof(key), "%lld", (long long)rows[n - 1].id);
		token = paging_token(key);
	}
	out.next_page_token = api_ostr(token);
	v = xcalloc(n + 1, sizeof(*v));
	ptrs = xcalloc(n + 1, sizeof(*ptrs));
	for (size_t i = 0; i < n; i++) {
		vigil__v1__outbox_entry__init(&v[i]);
		v[i].id = rows[i].id;
		v[i].url = api_ostr(rows[i].url);
		v[i].node_uuid = api_ostr(rows[i].node_uuid);
		v[i].event_id = rows[i].event_id;
		v[i].event_seq = rows[i].event_seq;
		v[i].event_type = api_ostr(rows[i].event_type);
		v[i].attempts = (uint32_t)rows[i].attempts;
		v[i].next_attempt = rows[i].next_attempt;
		v[i].created = rows[i].created;
		v[i].last_attempt = rows[i].last_attempt;
		v[i].dead = rows[i].dead;
		v[i].last_error = api_ostr(rows[i].last_error);
		ptrs[i] = &v[i];
	}
	out.n_entries = n;
	out.entries = ptrs;
	pb_pack(&out.base, resp);
	code = GRPCSRV_OK;
out:
	free(token);
	free(v);
	free(ptrs);
	store_outbox_free(rows, total);
	vigil__v1__list_outbox_request__free_unpacked(r, NULL);
	return code;
}

int api_retry_outbox(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                     err_t *e)
{
	vctx_t *ctx = arg;
	Vigil__V1__RetryOutboxRequest *r = vigil__v1__retry_outbox_request__unpack(NULL, len, req);
	Vigil__V1__RetryOutboxResponse out = VIGIL__V1__RETRY_OUTBOX_RESPONSE__INIT;
	int64_t count = 0;
	int code;

	(void)c;
	if ((code = apireq_retry_outbox(r, e)) != GRPCSRV_OK) {
		log_info("gRPC RetryOutbox refused: %s", e->msg);
		goto out;
	}
	switch (store_outbox_retry(ctx->api_store, r->all_dead ? 0 : r->id, &count, e)) {
	case STORE_OK:
		break;
	case STORE_NOT_FOUND:
		code = GRPCSRV_NOT_FOUND;
		goto out;
	default:
		code = GRPCSRV_INTERNAL;
		goto out;
	}
	log_info("webhook: %lld dead-lettered deliver%s queued again by an operator%s",
	         (long long)count, count == 1 ? "y" : "ies", r->all_dead ? " (all)" : "");
	events_kick();
	out.count = count;
	pb_pack(&out.base, resp);
	code = GRPCSRV_OK;
out:
	vigil__v1__retry_outbox_request__free_unpacked(r, NULL);
	return code;
}

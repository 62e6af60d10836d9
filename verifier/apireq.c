/* apireq: checks of vigil.v1.Verifier requests, apart from the handlers' actions. */
#include "verifier/apireq.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/net/grpcsrv.h"
#include "common/net/paging.h"
#include "common/crypto/tpm2.h"

int apireq_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > APIREQ_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

int apireq_host_ok(const char *s)
{
	struct in6_addr a6;
	struct in_addr a4;

	return s != NULL && (inet_pton(AF_INET, s, &a4) == 1 || inet_pton(AF_INET6, s, &a6) == 1);
}

int apireq_kind(Vigil__V1__PolicyKind k, policy_kind_t *out)
{
	switch (k) {
	case VIGIL__V1__POLICY_KIND__POLICY_KIND_PCR:
		*out = POLICY_PCR;
		return 0;
	case VIGIL__V1__POLICY_KIND__POLICY_KIND_RUNTIME:
		*out = POLICY_RUNTIME;
		return 0;
	case VIGIL__V1__POLICY_KIND__POLICY_KIND_MB:
		*out = POLICY_MB;
		return 0;
	default:
		return -1;
	}
}

/* A policy reference of a node: empty (none) or a valid name. */
static int apireq_policy_ref_ok(const char *name)
{
	return name == NULL || *name == '\0' || apireq_name_ok(name);
}

int apireq_add_node(const Vigil__V1__AddNodeRequest *r, err_t *e)
{
	const Vigil__V1__Node *in;
	tpm2_pub_t *pub = NULL;
	EVP_PKEY *pk = NULL;
	BIO *bio = NULL;
	X509 *cert = NULL;
	int code = GRPCSRV_INVALID_ARGUMENT;

	if (r == NULL || (in = r->node) == NULL) {
		err_set(e, "AddNodeRequest needs a node");
		goto out;
	}
	if (!apireq_name_ok(in->uuid)) {
		err_set(e, "node uuid must be 1-%d of [A-Za-z0-9._-]", APIREQ_NAME_MAX);
		goto out;
	}
	if (!apireq_host_ok(in->ip) || in->port == 0 || in->port > 65535) {
		err_set(e,
		        "node %s needs a contact ip (an IPv4 or IPv6 address; host names are not "
		        "resolved by the verifier) and a port 1-65535",
		        in->uuid);
		goto out;
	}
	if (in->ak_tpm.len == 0 ||
	    (pub = tpm2_pub_decode(in->ak_tpm.data, in->ak_tpm.len, e)) == NULL) {
		if (in->ak_tpm.len == 0)
			err_set(e, "node %s needs ak_tpm (its enrolled AK)", in->uuid);
		goto out;
	}
	if ((pk = tpm2_pub_to_pkey(pub, e)) == NULL || tpm2_pub_check_ak(pub, e) < 0)
		goto out;
	if (in->mtls_cert == NULL || *in->mtls_cert == '\0' ||
	    (bio = BIO_new_mem_buf(in->mtls_cert, (int)strlen(in->mtls_cert))) == NULL ||
	    (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL) {
		err_set(e, "node %s needs mtls_cert: the agent's certificate as PEM", in->uuid);
		goto out;
	}
	if (!apireq_policy_ref_ok(in->pcr_policy) || !apireq_policy_ref_ok(in->runtime_policy) ||
	    !apireq_policy_ref_ok(in->mb_policy)) {
		err_set(e, "node %s: policy names must be 1-%d of [A-Za-z0-9._-]", in->uuid,
		        APIREQ_NAME_MAX);
		goto out;
	}
	if (r->payload_v.len != 0 && r->payload_v.len != 16 && r->payload_v.len != 32) {
		err_set(e, "node %s: payload_v must be 16 or 32 bytes", in->uuid);
		goto out;
	}
	code = GRPCSRV_OK;
out:
	X509_free(cert);
	BIO_free(bio);
	EVP_PKEY_free(pk);
	tpm2_pub_free(pub);
	return code;
}

int apireq_update_node(const Vigil__V1__UpdateNodeRequest *r, unsigned *fields, err_t *e)
{
	static const char *const names[] = {"ip",         "port",           "mtls_cert",
	                                    "pcr_policy", "runtime_policy", "mb_policy"};
	const Vigil__V1__Node *in;
	BIO *bio = NULL;
	X509 *cert = NULL;
	int code = GRPCSRV_INVALID_ARGUMENT;

	*fields = 0;
	if (r == NULL) {
		err_set(e, "cannot decode UpdateNodeRequest");
		return code;
	}
	if (!apireq_name_ok(r->uuid)) {
		err_set(e, "UpdateNodeRequest.uuid must be 1-%d of [A-Za-z0-9._-]",
		        APIREQ_NAME_MAX);
		return code;
	}
	if (r->n_update_mask == 0) {
		err_set(e,
		        "UpdateNodeRequest.update_mask is empty: name the fields to change, of %s",
		        APIREQ_UPDATE_FIELDS);
		return code;
	}
	for (size_t i = 0; i < r->n_update_mask; i++) {
		size_t k = 0;
		while (k < 6 && strcmp(r->update_mask[i], names[k]) != 0)
			k++;
		if (k == 6) {
			err_set(e,
			        "UpdateNodeRequest.update_mask: \"%.64s\" is not a field it can "
			        "change (%s)",
			        r->update_mask[i], APIREQ_UPDATE_FIELDS);
			return code;
		}
		*fields |= 1u << k;
	}
	if ((in = r->node) == NULL) {
		err_set(e, "UpdateNodeRequest.node is missing: it carries the new values");
		return code;
	}
	if ((*fields & 1u) && !apireq_host_ok(in->ip)) {
		err_set(
		    e,
		    "UpdateNodeRequest.node.ip must be an IPv4 or IPv6 address (host names are not "
		    "resolved by the verifier)");
		return code;
	}
	if ((*fields & 2u) && (in->port == 0 || in->port > 65535)) {
		err_set(e, "UpdateNodeRequest.node.port must be 1-65535");
		return code;
	}
	if (*fields & 4u) {
		if (in->mtls_cert == NULL || *in->mtls_cert == '\0' ||
		    (bio = BIO_new_mem_buf(in->mtls_cert, (int)strlen(in->mtls_cert))) == NULL ||
		    (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL) {
			err_set(e,
			        "UpdateNodeRequest.node.mtls_cert must be the agent's certificate "
			        "as PEM");
			goto out;
		}
	}
	for (int k = 3; k < 6; k++) {
		const char *v = k == 3   ? in->pcr_policy
		                : k == 4 ? in->runtime_policy
		                         : in->mb_policy;
		if ((*fields & (1u << k)) && !apireq_policy_ref_ok(v)) {
			err_set(e,
			        "UpdateNodeRequest.node.%s must be \"\" (none) or 1-%d of "
			        "[A-Za-z0-9._-]",
			        names[k], APIREQ_NAME_MAX);
			goto out;
		}
	}
	code = GRPCSRV_OK;
out:
	X509_free(cert);
	BIO_free(bio);
	return code;
}

int apireq_add_nodes(const Vigil__V1__AddNodesRequest *r, err_t *e)
{
	if (r == NULL) {
		err_set(e, "cannot decode AddNodesRequest");
		return GRPCSRV_INVALID_ARGUMENT;
	}
	if (r->n_requests == 0 || r->n_requests > APIREQ_ADD_NODES_MAX) {
		err_set(e, "AddNodes takes 1-%d nodes, not %zu (split the list)",
		        APIREQ_ADD_NODES_MAX, r->n_requests);
		return GRPCSRV_INVALID_ARGUMENT;
	}
	return GRPCSRV_OK;
}

int apireq_node(const Vigil__V1__NodeRequest *r, err_t *e)
{
	if (r == NULL || !apireq_name_ok(r->uuid)) {
		err_set(e, "NodeRequest needs a valid uuid");
		return GRPCSRV_INVALID_ARGUMENT;
	}
	return GRPCSRV_OK;
}

int apireq_put_policy(const Vigil__V1__PutPolicyRequest *r, policy_kind_t *k, err_t *e)
{
	if (r == NULL || r->policy == NULL || !apireq_name_ok(r->policy->name) ||
	    apireq_kind(r->policy->kind, k) < 0) {
		err_set(e, "PutPolicyRequest needs a policy with a valid name and kind");
		return GRPCSRV_INVALID_ARGUMENT;
	}
	if (policy_validate(*k, r->policy->body.data, r->policy->body.len, e) < 0)
		return GRPCSRV_INVALID_ARGUMENT;
	return GRPCSRV_OK;
}

int apireq_policy(const Vigil__V1__PolicyRequest *r, err_t *e)
{
	if (r == NULL || !apireq_name_ok(r->name)) {
		err_set(e, "PolicyRequest needs a valid name");
		return GRPCSRV_INVALID_ARGUMENT;
	}
	return GRPCSRV_OK;
}

int apireq_event_id_ok(const char *s)
{
	size_t n = 0, h = 0;

	if (s == NULL)
		return 0;
	while (s[n] >= '0' && s[n] <= '9')
		n++;
	if (n == 0 || n > 19 || s[n] != '-')
		return 0;
	for (s += n + 1; (s[h] >= '0' && s[h] <= '9') || (s[h] >= 'a' && s[h] <= 'f'); h++)
		;
	return h == 16 && s[h] == '\0';
}

/* A decimal key of a page token (an event's seq, a delivery's id): 1-18 digits. */
static int apireq_decimal_key(const char *t, int64_t *v)
{
	int64_t x = 0;

	if (*t == '\0' || strlen(t) > 18)
		return -1;
	for (; *t; t++) {
		if (*t < '0' || *t > '9')
			return -1;
		x = x * 10 + (*t - '0');
	}
	*v = x;
	return 0;
}

int apireq_page_decimal(uint32_t page_size, const char *page_token, const char *msg, size_t *limit,
                        int64_t *after, err_t *e)
{
	char key[PAGING_KEY_MAX + 1];
	int code;

	*after = 0;
	if ((code = paging_request(page_size, page_token, msg, limit, key, e)) != GRPCSRV_OK)
		return code;
	if (*key && apireq_decimal_key(key, after) < 0) {
		err_set(
		    e,
		    "%s.page_token is not a token this server issued: pass the previous reply's "
		    "next_page_token unchanged, or \"\" for the first page",
		    msg);
		return GRPCSRV_INVALID_ARGUMENT;
	}
	return GRPCSRV_OK;
}

int apireq_list_events(const Vigil__V1__ListEventsRequest *r, store_event_filter_t *f, err_t *e)
{
	int64_t tok = 0;
	int code;

	memset(f, 0, sizeof(*f));
	if (r == NULL) {
		err_set(e, "cannot decode ListEventsRequest");
		return GRPCSRV_INVALID_ARGUMENT;
	}
	if ((*r->node_uuid && !apireq_name_ok(r->node_uuid)) ||
	    (*r->type && !apireq_name_ok(r->type))) {
		err_set(e,
		        "ListEventsRequest: node_uuid and type must be empty or 1-%d of "
		        "[A-Za-z0-9._-]",
		        APIREQ_NAME_MAX);
		return GRPCSRV_INVALID_ARGUMENT;
	}
	if (*r->since_id && !apireq_event_id_ok(r->since_id)) {
		err_set(e, "ListEventsRequest: since_id is not an event id (SEQ-HEX16)");
		return GRPCSRV_INVALID_ARGUMENT;
	}
	if ((code = apireq_page_decimal(r->page_size, r->page_token, "ListEventsRequest", &f->limit,
	                                &tok, e)) != GRPCSRV_OK)
		return code;
	if (r->after_seq > INT64_MAX / 2) {
		err_set(e, "ListEventsRequest: after_seq out of range");
		return GRPCSRV_INVALID_ARGUMENT;
	}
	f->node_uuid = *r->node_uuid ? r->node_uuid : NULL;
	f->type = *r->type ? r->type : NULL;
	f->after_seq = (int64_t)r->after_seq > tok ? (int64_t)r->after_seq : tok;
	return GRPCSRV_OK;
}

int apireq_watch_events(const Vigil__V1__WatchEventsRequest *r, err_t *e)
{
	if (r == NULL) {
		err_set(e, "cannot decode WatchEventsRequest");
		return GRPCSRV_INVALID_ARGUMENT;
	}
	if ((*r->node_uuid && !apireq_name_ok(r->node_uuid)) ||
	    (*r->type && !apireq_name_ok(r->type))) {
		err_set(e,
		        "WatchEventsRequest: node_uuid and type must be empty or 1-%d of "
		        "[A-Za-z0-9._-]",
		        APIREQ_NAME_MAX);
		return GRPCSRV_INVALID_ARGUMENT;
	}
	if (*r->since_id && !apireq_event_id_ok(r->since_id)) {
		err_set(e, "WatchEventsRequest: since_id is not an event id (SEQ-HEX16)");
		return GRPCSRV_INVALID_ARGUMENT;
	}
	if (r->after_seq > INT64_MAX / 2) {
		err_set(e, "WatchEventsRequest: after_seq out of range");
		return GRPCSRV_INVALID_ARGUMENT;
	}
	return GRPCSRV_OK;
}

int apireq_event(const Vigil__V1__EventRequest *r, err_t *e)
{
	if (r == NULL || !apireq_event_id_ok(r->id)) {
		err_set(e, "EventRequest needs an event id (SEQ-HEX16)");
		return GRPCSRV_INVALID_ARGUMENT;
	}
	return GRPCSRV_OK;
}

int apireq_export_events(const Vigil__V1__ExportEventsRequest *r, size_t *limit, err_t *e)
{
	if (r == NULL || r->after_seq > INT64_MAX / 2) {
		err_set(e, "cannot decode ExportEventsRequest, or after_seq out of range");
		return GRPCSRV_INVALID_ARGUMENT;
	}
	*limit = r->max_records == 0                       ? APIREQ_EXPORT_PAGE
	         : r->max_records > APIREQ_EXPORT_PAGE_MAX ? APIREQ_EXPORT_PAGE_MAX
	                                                   : r->max_records;
	return GRPCSRV_OK;
}

int apireq_list_outbox(const Vigil__V1__ListOutboxRequest *r, size_t *limit, int64_t *after,
                       err_t *e)
{
	int code;

	if (r == NULL) {
		err_set(e, "cannot decode ListOutboxRequest");
		return GRPCSRV_INVALID_ARGUMENT;
	}
	if (r->after_id < 0) {
		err_set(e, "ListOutboxRequest.after_id must be >= 0");
		return GRPCSRV_INVALID_ARGUMENT;
	}
	if ((code = apireq_page_decimal(r->page_size, r->page_token, "ListOutboxRequest", limit,
	                                after, e)) != GRPCSRV_OK)
		return code;
	if (*r->page_token == '\0') /* the older paging, when no token */
		*after = r->after_id;
	return GRPCSRV_OK;
}

int apireq_retry_outbox(const Vigil__V1__RetryOutboxRequest *r, err_t *e)
{
	if (r == NULL || r->id < 0 || (r->id > 0) == (r->all_dead != 0)) {
		err_set(e, "RetryOutboxRequest needs exactly one of a delivery id (> 0) or "
		           "all_dead");
		return GRPCSRV_INVALID_ARGUMENT;
	}
	return GRPCSRV_OK;
}

static int apireq_ear_ok(Vigil__V1__EarFormat f)
{
	return f == VIGIL__V1__EAR_FORMAT__EAR_NONE || f == VIGIL__V1__EAR_FORMAT__EAR_JWT ||
	       f == VIGIL__V1__EAR_FORMAT__EAR_CWT;
}

int apireq_get_report(const Vigil__V1__GetReportRequest *r, size_t *events, err_t *e)
{
	if (r == NULL || !apireq_name_ok(r->uuid)) {
		err_set(e, "GetReportRequest needs a valid uuid");
		return GRPCSRV_INVALID_ARGUMENT;
	}
	if (!apireq_ear_ok(r->ear)) {
		err_set(e, "ear: unknown format %d (EAR_NONE, EAR_JWT or EAR_CWT)", (int)r->ear);
		return GRPCSRV_INVALID_ARGUMENT;
	}
	if (r->events > APIREQ_REPORT_EVENTS_MAX) {
		err_set(e, "events: at most %d, not %u", APIREQ_REPORT_EVENTS_MAX, r->events);
		return GRPCSRV_INVALID_ARGUMENT;
	}
	*events = r->events ? r->events : APIREQ_REPORT_EVENTS;
	return GRPCSRV_OK;
}

int apireq_attest_now(const Vigil__V1__AttestNowRequest *r, err_t *e)
{
	if (r == NULL || !apireq_name_ok(r->uuid)) {
		err_set(e, "AttestNowRequest needs a valid uuid");
		return GRPCSRV_INVALID_ARGUMENT;
	}
	if (!apireq_ear_ok(r->ear)) {
		err_set(e, "ear: unknown format %d (EAR_NONE, EAR_JWT or EAR_CWT)", (int)r->ear);
		return GRPCSRV_INVALID_ARGUMENT;
	}
	return GRPCSRV_OK;
}

/* Fuzz target: the verifier API's request checks (verifier/apireq.c) on every vigil.v1
 * request message decoded from arbitrary bytes: names, contact addresses, ports, the AK
 * (TPM2B_PUBLIC decode and AK attribute checks), the agent certificate (PEM), policy
 * kinds and policy bodies (each kind's parser), event log queries (ids, filters, page
 * tokens and sizes), webhook outbox queries, WatchEvents, UpdateNode, GetReport and AttestNow
 * requests — exactly what the handlers run before they touch the store or a node. The first byte
 * picks the message type. What decodes must also encode again. */
#include <stdint.h>
#include <stdlib.h>

#include <openssl/err.h>

#include "common/net/pb.h"
#include "verifier/apireq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const ProtobufCMessageDescriptor *const fuzz_msgs[] = {
    &vigil__v1__add_node_request__descriptor,      &vigil__v1__node_request__descriptor,
    &vigil__v1__list_nodes_request__descriptor,    &vigil__v1__put_policy_request__descriptor,
    &vigil__v1__policy_request__descriptor,        &vigil__v1__list_policies_request__descriptor,
    &vigil__v1__list_events_request__descriptor,   &vigil__v1__event_request__descriptor,
    &vigil__v1__get_audit_key_request__descriptor, &vigil__v1__export_events_request__descriptor,
    &vigil__v1__list_outbox_request__descriptor,   &vigil__v1__retry_outbox_request__descriptor,
    &vigil__v1__watch_events_request__descriptor,  &vigil__v1__add_nodes_request__descriptor,
    &vigil__v1__update_node_request__descriptor,   &vigil__v1__get_report_request__descriptor,
    &vigil__v1__attest_now_request__descriptor,
};
#define FUZZ_NMSGS (sizeof(fuzz_msgs) / sizeof(fuzz_msgs[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ProtobufCMessage *m;
	err_t e = {""};
	policy_kind_t k;
	store_event_filter_t f;
	size_t limit;
	int64_t after;
	unsigned fields;
	int which;

	if (size < 1)
		return 0;
	which = data[0] % FUZZ_NMSGS;
	m = protobuf_c_message_unpack(fuzz_msgs[which], NULL, size - 1, data + 1);
	/* The checks take NULL (undecodable) too, as the handlers pass it. */
	switch (which) {
	case 0:
		(void)apireq_add_node((Vigil__V1__AddNodeRequest *)m, &e);
		break;
	case 1:
		(void)apireq_node((Vigil__V1__NodeRequest *)m, &e);
		break;
	case 3:
		(void)apireq_put_policy((Vigil__V1__PutPolicyRequest *)m, &k, &e);
		break;
	case 4:
		(void)apireq_policy((Vigil__V1__PolicyRequest *)m, &e);
		break;
	case 5:
		if (m)
			(void)apireq_kind(((Vigil__V1__ListPoliciesRequest *)m)->kind, &k);
		break;
	case 6:
		(void)apireq_list_events((Vigil__V1__ListEventsRequest *)m, &f, &e);
		break;
	case 7:
		(void)apireq_event((Vigil__V1__EventRequest *)m, &e);
		break;
	case 9:
		(void)apireq_export_events((Vigil__V1__ExportEventsRequest *)m, &limit, &e);
		break;
	case 10:
		(void)apireq_list_outbox((Vigil__V1__ListOutboxRequest *)m, &limit, &after, &e);
		break;
	case 11:
		(void)apireq_retry_outbox((Vigil__V1__RetryOutboxRequest *)m, &e);
		break;
	case 12:
		(void)apireq_watch_events((Vigil__V1__WatchEventsRequest *)m, &e);
		break;
	case 13:
		/* As the handler: the list, then each node's own checks. */
		if (apireq_add_nodes((Vigil__V1__AddNodesRequest *)m, &e) == 0)
			for (size_t i = 0; i < ((Vigil__V1__AddNodesRequest *)m)->n_requests; i++)
				(void)apireq_add_node(
				    ((Vigil__V1__AddNodesRequest *)m)->requests[i], &e);
		break;
	case 14:
		(void)apireq_update_node((Vigil__V1__UpdateNodeRequest *)m, &fields, &e);
		break;
	case 15:
		(void)apireq_get_report((Vigil__V1__GetReportRequest *)m, &limit, &e);
		break;
	case 16:
		(void)apireq_attest_now((Vigil__V1__AttestNowRequest *)m, &e);
		break;
	default:
		break;
	}
	ERR_clear_error();
	if (m) {
		buf_t b = BUF_INIT;
		pb_pack(m, &b);
		buf_free(&b);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	return 0;
}

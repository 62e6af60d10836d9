/* Fuzz target: every vigil.v1 request message decodes from arbitrary bytes without a
 * crash or a leak. The first byte picks the message type. */
#include <stdint.h>
#include <stdlib.h>

#include "common/pb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const ProtobufCMessageDescriptor *const fuzz_msgs[] = {
    &vigil__v1__add_node_request__descriptor,   &vigil__v1__node_request__descriptor,
    &vigil__v1__list_nodes_request__descriptor, &vigil__v1__put_policy_request__descriptor,
    &vigil__v1__policy_request__descriptor,     &vigil__v1__list_policies_request__descriptor,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ProtobufCMessage *m;

	if (size < 1)
		return 0;
	m = protobuf_c_message_unpack(fuzz_msgs[data[0] % 6], NULL, size - 1, data + 1);
	if (m) {
		buf_t b = BUF_INIT;
		pb_pack(m, &b); /* what decodes must encode again */
		buf_free(&b);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	return 0;
}

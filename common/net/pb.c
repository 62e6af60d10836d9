/* pb: helpers around the generated protobuf-c code. */
#include "common/net/pb.h"

void pb_pack(const ProtobufCMessage *m, buf_t *out)
{
	size_t n = protobuf_c_message_get_packed_size(m);

	buf_reset(out);
	buf_reserve(out, n);
	out->len = protobuf_c_message_pack(m, out->data);
	out->data[out->len] = 0;
}

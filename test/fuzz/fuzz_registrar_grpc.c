/* Fuzz target: the checks of vigil.v1.Registrar requests (registrar/apireq.c, with the
 * paging rules of common/net/paging.c) on request messages decoded from arbitrary bytes:
 * page sizes, page tokens (base64url, tag, agent id) and agent ids, exactly what the
 * handlers run before they touch the store. The first byte picks the message type. What
 * passes must be usable as is: a page size of 1 to 1000, a start key that is "" or a valid
 * agent id and survives a round trip through a token of its own. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/net/grpcsrv.h"
#include "common/net/paging.h"
#include "common/net/pb.h"
#include "registrar/apireq.h"
#include "registrar/enroll.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const ProtobufCMessageDescriptor *const fuzz_msgs[] = {
    &vigil__v1__list_enrollments_request__descriptor,
    &vigil__v1__get_enrollment_request__descriptor,
    &vigil__v1__delete_enrollment_request__descriptor,
};
#define FUZZ_NMSGS (sizeof(fuzz_msgs) / sizeof(fuzz_msgs[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ProtobufCMessage *m;
	char after[PAGING_KEY_MAX + 1], again[PAGING_KEY_MAX + 1];
	err_t e = {""};
	size_t limit = 0, l2 = 0;
	int which, code;

	if (size < 1)
		return 0;
	which = data[0] % FUZZ_NMSGS;
	m = protobuf_c_message_unpack(fuzz_msgs[which], NULL, size - 1, data + 1);
	switch (which) {
	case 0:
		code = apireq_list_enrollments((Vigil__V1__ListEnrollmentsRequest *)m, &limit,
		                               after, &e);
		if (code == GRPCSRV_OK) {
			if (limit < 1 || limit > PAGING_MAX)
				abort();
			if (after[0]) {
				char *t = paging_token(after);
				if (!enroll_id_is_valid(after) ||
				    paging_request(0, t, "X", &l2, again, &e) != GRPCSRV_OK ||
				    strcmp(after, again) != 0)
					abort();
				free(t);
			}
		} else if (code != GRPCSRV_INVALID_ARGUMENT || after[0] || e.msg[0] == '\0') {
			abort();
		}
		break;
	case 1:
		code = apireq_get_enrollment((Vigil__V1__GetEnrollmentRequest *)m, &e);
		if (code == GRPCSRV_OK &&
		    !enroll_id_is_valid(((Vigil__V1__GetEnrollmentRequest *)m)->uuid))
			abort();
		break;
	default:
		code = apireq_delete_enrollment((Vigil__V1__DeleteEnrollmentRequest *)m, &e);
		if (code == GRPCSRV_OK &&
		    !enroll_id_is_valid(((Vigil__V1__DeleteEnrollmentRequest *)m)->uuid))
			abort();
		break;
	}
	if (code != GRPCSRV_OK && code != GRPCSRV_INVALID_ARGUMENT)
		abort();
	/* What decodes must encode again. */
	if (m) {
		size_t n = protobuf_c_message_get_packed_size(m);
		uint8_t *out = malloc(n + 1);
		if (protobuf_c_message_pack(m, out) != n)
			abort();
		free(out);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	return 0;
}

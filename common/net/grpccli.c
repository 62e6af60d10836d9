/* grpccli: blocking unary calls over one gRPC channel, with a pluck completion queue. */
#include "common/net/grpccli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "common/base/xmalloc.h"

#define GRPCCLI_MAX_REPLY (256 << 20) /* largest reply accepted, bytes */

struct grpccli {
	grpc_channel *channel;     /* the channel (connects lazily) */
	grpc_completion_queue *cq; /* pluck queue for our own calls */
};

static char *grpccli_read(const char *path, err_t *e)
{
	buf_t b = BUF_INIT;

	if (path == NULL)
		return NULL;
	if (buf_read_file(&b, path, 1 << 20) < 0) {
		err_set(e, "cannot read %s: %s", path, strerror(errno));
		buf_free(&b);
		return NULL;
	}
	return (char *)buf_steal(&b, NULL);
}

grpccli_t *grpccli_new(const char *target, const grpccli_tls_t *tls, err_t *e)
{
	grpc_channel_credentials *creds;
	grpccli_t *c;
	/* gRPC's default 4 MiB reply limit is below what the verifier sends back: a runtime
	 * policy (GetPolicy) may be 64 MiB, a large fleet's ListNodes more. */
	grpc_arg a = {.type = GRPC_ARG_INTEGER,
	              .key = (char *)(uintptr_t)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
	              .value.integer = GRPCCLI_MAX_REPLY};
	grpc_channel_args args = {.num_args = 1, .args = &a};

	grpc_init();
	if (tls) {
		char *ca = grpccli_read(tls->ca_file, e);
		char *cert = grpccli_read(tls->cert_file, e);
		char *key = grpccli_read(tls->key_file, e);
		grpc_ssl_pem_key_cert_pair pair = {.private_key = key, .cert_chain = cert};

		if ((tls->ca_file && !ca) || (tls->cert_file && !cert) || (tls->key_file && !key)) {
			free(ca);
			free(cert);
			if (key)
				xfree_secret(key, strlen(key));
			grpc_shutdown();
			return NULL;
		}
		creds = grpc_ssl_credentials_create(ca, cert ? &pair : NULL, NULL, NULL);
		free(ca);
		free(cert);
		if (key)
			xfree_secret(key, strlen(key));
	} else {
		creds = grpc_insecure_credentials_create();
	}
	c = xcalloc(1, sizeof(*c));
	c->channel = grpc_channel_create(target, creds, &args);
	grpc_channel_credentials_release(creds);
	c->cq = grpc_completion_queue_create_for_pluck(NULL);
	return c;
}

void grpccli_free(grpccli_t *c)
{
	if (c == NULL)
		return;
	grpc_channel_destroy(c->channel);
	grpc_completion_queue_shutdown(c->cq);
	while (grpc_completion_queue_pluck(c->cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
	           .type != GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(c->cq);
	free(c);
	grpc_shutdown();
}

int grpccli_call(grpccli_t *c, const char *method, const uint8_t *req, size_t req_len, buf_t *resp,
                 int timeout_s, err_t *e)
{
	gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
	                                     gpr_time_from_seconds(timeout_s, GPR_TIMESPAN));
	grpc_slice method_slice = grpc_slice_from_copied_string(method);
	grpc_slice req_slice = grpc_slice_from_copied_buffer((const char *)req, req_len);
	grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&req_slice, 1);
	grpc_byte_buffer *recv = NULL;
	grpc_metadata_array initial_md, trailing_md;
	grpc_status_code status = GRPC_STATUS_UNKNOWN;
	grpc_slice details = grpc_empty_slice();
	grpc_op ops[6];
	grpc_call *call;
	grpc_event ev;
	int rv = -1;
	char tag;

	grpc_metadata_array_init(&initial_md);
	grpc_metadata_array_init(&trailing_md);
	call = grpc_channel_create_call(c->channel, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq,
	                                method_slice, NULL, deadline, NULL);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = send;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial_md;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &recv;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &trailing_md;
	ops[5].data.recv_status_on_client.status = &status;
	ops[5].data.recv_status_on_client.status_details = &details;
	if (grpc_call_start_batch(call, ops, 6, &tag, NULL) != GRPC_CALL_OK) {
		err_set(e, "cannot start the gRPC call");
		goto out;
	}
	ev = grpc_completion_queue_pluck(c->cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	if (ev.type != GRPC_OP_COMPLETE || !ev.success) {
		err_set(e, "gRPC call did not complete");
		goto out;
	}
	if (status != GRPC_STATUS_OK) {
		char *d = grpc_slice_to_c_string(details);
		err_set(e, "%s", d);
		gpr_free(d);
	} else if (recv) {
		grpc_byte_buffer_reader reader;
		if (grpc_byte_buffer_reader_init(&reader, recv)) {
			grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
			buf_set(resp, GRPC_SLICE_START_PTR(all), GRPC_SLICE_LENGTH(all));
			grpc_slice_unref(all);
			grpc_byte_buffer_reader_destroy(&reader);
		}
	} else {
		buf_reset(resp);
	}
	rv = (int)status;
out:
	if (recv)
		grpc_byte_buffer_destroy(recv);
	grpc_byte_buffer_destroy(send);
	grpc_slice_unref(req_slice);
	grpc_slice_unref(method_slice);
	grpc_slice_unref(details);
	grpc_metadata_array_destroy(&initial_md);
	grpc_metadata_array_destroy(&trailing_md);
	grpc_call_unref(call);
	return rv;
}

const char *grpccli_status_name(int code)
{
	static const char *names[] = {"OK",
	                              "CANCELLED",
	                              "UNKNOWN",
	                              "INVALID_ARGUMENT",
	                              "DEADLINE_EXCEEDED",
	                              "NOT_FOUND",
	                              "ALREADY_EXISTS",
	                              "PERMISSION_DENIED",
	                              "RESOURCE_EXHAUSTED",
	                              "FAILED_PRECONDITION",
	                              "ABORTED",
	                              "OUT_OF_RANGE",
	                              "UNIMPLEMENTED",
	                              "INTERNAL",
	                              "UNAVAILABLE",
	                              "DATA_LOSS",
	                              "UNAUTHENTICATED"};

	if (code < 0 || code > 16)
		return "UNKNOWN";
	return names[code];
}

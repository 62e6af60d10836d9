/* grpcsrv: unary gRPC server on the gRPC core C API, served serially from one thread.
 *
 * One completion queue, at most one call in flight. The thread's state machine:
 *   WAIT_CALL  grpc_server_request_call outstanding (tag_call)
 *   WAIT_RECV  initial metadata sent, request message being received (tag_recv)
 *   WAIT_SEND  reply + status sent, waiting for the client's close (tag_send)
 * and back to WAIT_CALL. Shutdown (tag_shutdown) ends the loop once every started
 * operation has come back, so nothing is leaked and nothing hangs. */
#include "common/grpcsrv.h"

#include <pthread.h>
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

#include "common/log.h"
#include "common/xmalloc.h"

struct grpcsrv {
	grpc_server *server;             /* the gRPC core server */
	grpc_completion_queue *cq;       /* its only completion queue */
	const grpcsrv_method_t *methods; /* borrowed method table */
	void *arg;                       /* borrowed handler argument */
	pthread_t thread;                /* serving thread */
	int started;                     /* thread running */
	int shutting_down;               /* shutdown requested */
	int outstanding;                 /* started operations not yet completed */
	/* The call in flight. */
	grpc_call *call;                                 /* owned reference, or NULL */
	grpc_call_details details;                       /* method and host of the call */
	grpc_metadata_array request_md;                  /* client metadata */
	grpc_byte_buffer *request;                       /* received message, or NULL */
	int cancelled;                                   /* set by RECV_CLOSE_ON_SERVER */
	grpc_slice status_details;                       /* error text sent with the status */
	grpc_byte_buffer *reply;                         /* reply message in flight, or NULL */
	char tag_call, tag_recv, tag_send, tag_shutdown; /* addresses used as tags */
};

static char *grpcsrv_read_pem(const char *path, err_t *e)
{
	buf_t b = BUF_INIT;

	if (buf_read_file(&b, path, 1 << 20) < 0) {
		err_set(e, "cannot read %s: %s", path, strerror(errno));
		buf_free(&b);
		return NULL;
	}
	return (char *)buf_steal(&b, NULL);
}

grpcsrv_t *grpcsrv_new(const char *listen, const grpcsrv_tls_t *tls,
                       const grpcsrv_method_t *methods, void *arg, size_t max_msg, err_t *e)
{
	grpcsrv_t *s = xcalloc(1, sizeof(*s));
	grpc_server_credentials *creds = NULL;
	char *cert = NULL, *key = NULL, *ca = NULL;
	grpc_arg a = {.type = GRPC_ARG_INTEGER,
	              .key = (char *)(uintptr_t)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
	              .value.integer = (int)max_msg};
	grpc_channel_args args = {.num_args = 1, .args = &a};

	grpc_init();
	s->methods = methods;
	s->arg = arg;
	s->server = grpc_server_create(&args, NULL);
	s->cq = grpc_completion_queue_create_for_next(NULL);
	grpc_server_register_completion_queue(s->server, s->cq, NULL);
	if (tls) {
		if ((cert = grpcsrv_read_pem(tls->cert_file, e)) == NULL ||
		    (key = grpcsrv_read_pem(tls->key_file, e)) == NULL ||
		    (ca = grpcsrv_read_pem(tls->client_ca_file, e)) == NULL)
			goto fail;
		grpc_ssl_pem_key_cert_pair pair = {.private_key = key, .cert_chain = cert};
		grpc_ssl_server_certificate_config *cfg =
		    grpc_ssl_server_certificate_config_create(ca, &pair, 1);
		grpc_ssl_server_credentials_options *opts =
		    grpc_ssl_server_credentials_create_options_using_config(
		        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY, cfg);
		creds = grpc_ssl_server_credentials_create_with_options(opts);
	} else {
		creds = grpc_insecure_server_credentials_create();
	}
	if (creds == NULL) {
		err_set(e, "cannot create gRPC server credentials");
		goto fail;
	}
	if (grpc_server_add_http2_port(s->server, listen, creds) == 0) {
		err_set(e, "cannot listen on %s for gRPC (address in use or invalid?)", listen);
		goto fail;
	}
	grpc_server_credentials_release(creds);
	if (key)
		xfree_secret(key, strlen(key));
	free(cert);
	free(ca);
	grpc_server_start(s->server);
	return s;
fail:
	if (creds)
		grpc_server_credentials_release(creds);
	if (key)
		xfree_secret(key, strlen(key));
	free(cert);
	free(ca);
	/* Never started: shut down and drain so core frees everything. */
	grpc_server_shutdown_and_notify(s->server, s->cq, &s->tag_shutdown);
	grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	grpc_server_destroy(s->server);
	grpc_completion_queue_shutdown(s->cq);
	while (grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
	       GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(s->cq);
	free(s);
	grpc_shutdown();
	return NULL;
}

static void grpcsrv_request(grpcsrv_t *s)
{
	/* Set by grpcsrv_free on another thread: read it as the atomic it is written as. */
	if (__atomic_load_n(&s->shutting_down, __ATOMIC_SEQ_CST))
		return;
	grpc_call_details_init(&s->details);
	grpc_metadata_array_init(&s->request_md);
	s->call = NULL;
	if (grpc_server_request_call(s->server, &s->call, &s->details, &s->request_md, s->cq, s->cq,
	                             &s->tag_call) != GRPC_CALL_OK)
		fatalx("grpc: cannot request a call");
	s->outstanding++;
}

/* Release what the finished call held and ask for the next one. */
static void grpcsrv_call_done(grpcsrv_t *s)
{
	if (s->call)
		grpc_call_unref(s->call);
	s->call = NULL;
	if (s->request)
		grpc_byte_buffer_destroy(s->request);
	s->request = NULL;
	if (s->reply)
		grpc_byte_buffer_destroy(s->reply);
	s->reply = NULL;
	grpc_slice_unref(s->status_details);
	s->status_details = grpc_empty_slice();
	grpc_call_details_destroy(&s->details);
	grpc_metadata_array_destroy(&s->request_md);
	grpcsrv_request(s);
}

static void grpcsrv_on_call(grpcsrv_t *s, int success)
{
	grpc_op ops[2];

	if (!success) { /* shutdown: the request came back unused */
		grpc_call_details_destroy(&s->details);
		grpc_metadata_array_destroy(&s->request_md);
		if (s->call)
			grpc_call_unref(s->call);
		s->call = NULL;
		return;
	}
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_RECV_MESSAGE;
	ops[1].data.recv_message.recv_message = &s->request;
	if (grpc_call_start_batch(s->call, ops, 2, &s->tag_recv, NULL) != GRPC_CALL_OK) {
		log_warnx("grpc: cannot start receiving a request");
		grpcsrv_call_done(s);
		return;
	}
	s->outstanding++;
}

static int grpcsrv_dispatch(grpcsrv_t *s, buf_t *resp, err_t *e)
{
	const grpcsrv_method_t *m;
	grpc_byte_buffer_reader reader;
	grpc_slice all;
	int code;

	for (m = s->methods; m->path; m++)
		if (grpc_slice_str_cmp(s->details.method, m->path) == 0)
			break;
	if (m->path == NULL) {
		char *name = grpc_slice_to_c_string(s->details.method);
		err_set(e, "unknown method %s", name);
		log_debug("grpc: %s", e->msg);
		gpr_free(name);
		return GRPCSRV_UNIMPLEMENTED;
	}
	if (s->request == NULL) {
		err_set(e, "no request message");
		return GRPCSRV_INVALID_ARGUMENT;
	}
	if (!grpc_byte_buffer_reader_init(&reader, s->request)) {
		err_set(e, "cannot read the request message");
		return GRPCSRV_INTERNAL;
	}
	all = grpc_byte_buffer_reader_readall(&reader);
	grpc_byte_buffer_reader_destroy(&reader);
	code = m->fn(s->arg, GRPC_SLICE_START_PTR(all), GRPC_SLICE_LENGTH(all), resp, e);
	grpc_slice_unref(all);
	log_debug("grpc: %s -> status %d%s%s", m->path, code, code ? ": " : "", code ? e->msg : "");
	return code;
}

static void grpcsrv_on_recv(grpcsrv_t *s, int success)
{
	grpc_op ops[3];
	buf_t resp = BUF_INIT;
	err_t e = {""};
	int code, n = 0;

	if (!success) {
		grpcsrv_call_done(s);
		return;
	}
	code = grpcsrv_dispatch(s, &resp, &e);
	memset(ops, 0, sizeof(ops));
	if (code == GRPCSRV_OK) {
		grpc_slice sl = grpc_slice_from_copied_buffer((const char *)resp.data, resp.len);
		s->reply = grpc_raw_byte_buffer_create(&sl, 1);
		grpc_slice_unref(sl);
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = s->reply;
	}
	buf_free(&resp);
	s->status_details = grpc_slice_from_copied_string(e.msg);
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.trailing_metadata_count = 0;
	ops[n].data.send_status_from_server.status = (grpc_status_code)code;
	ops[n++].data.send_status_from_server.status_details = &s->status_details;
	ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[n++].data.recv_close_on_server.cancelled = &s->cancelled;
	if (grpc_call_start_batch(s->call, ops, (size_t)n, &s->tag_send, NULL) != GRPC_CALL_OK) {
		log_warnx("grpc: cannot send a reply");
		grpcsrv_call_done(s);
		return;
	}
	s->outstanding++;
}

static void *grpcsrv_main(void *arg)
{
	grpcsrv_t *s = arg;
	int shutdown_seen = 0;

	s->status_details = grpc_empty_slice();
	grpcsrv_request(s);
	while (!shutdown_seen || s->outstanding > 0) {
		grpc_event ev =
		    grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		if (ev.type != GRPC_OP_COMPLETE)
			break;
		if (ev.tag == &s->tag_shutdown) {
			shutdown_seen = 1;
			continue;
		}
		s->outstanding--;
		if (ev.tag == &s->tag_call)
			grpcsrv_on_call(s, ev.success);
		else if (ev.tag == &s->tag_recv)
			grpcsrv_on_recv(s, ev.success);
		else if (ev.tag == &s->tag_send)
			grpcsrv_call_done(s);
	}
	return NULL;
}

int grpcsrv_start(grpcsrv_t *s)
{
	if (pthread_create(&s->thread, NULL, grpcsrv_main, s) != 0) {
		log_warnx("grpc: cannot start the server thread");
		return -1;
	}
	s->started = 1;
	return 0;
}

void grpcsrv_free(grpcsrv_t *s)
{
	if (s == NULL)
		return;
	/* Flag first: the serving thread must not ask for new calls once shutdown began. */
	__atomic_store_n(&s->shutting_down, 1, __ATOMIC_SEQ_CST);
	grpc_server_shutdown_and_notify(s->server, s->cq, &s->tag_shutdown);
	grpc_server_cancel_all_calls(s->server);
	if (s->started)
		pthread_join(s->thread, NULL);
	else
		grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	grpc_server_destroy(s->server);
	grpc_completion_queue_shutdown(s->cq);
	while (grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
	       GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(s->cq);
	grpc_slice_unref(s->status_details);
	free(s);
	grpc_shutdown();
}

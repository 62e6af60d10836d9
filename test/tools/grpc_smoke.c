/* grpc_smoke: serves two unary vigil.v1.Verifier methods from canned data, and a
 * server-streaming one fed from another thread, so the tests can check common/grpcsrv
 * against a real gRPC client (python3-grpcio): plaintext and mutual TLS, unknown methods,
 * undecodable requests, streams and their cancellation.
 * Usage: grpc_smoke LISTEN [CERT KEY CLIENT_CA]   (runs until SIGTERM) */
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/net/grpcsrv.h"
#include "common/base/log.h"
#include "common/net/pb.h"

int main(int argc, char **argv);

static int smoke_list_policies(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len,
                               buf_t *resp, err_t *e)
{
	Vigil__V1__ListPoliciesRequest *r;
	Vigil__V1__ListPoliciesResponse out = VIGIL__V1__LIST_POLICIES_RESPONSE__INIT;
	Vigil__V1__Policy p = VIGIL__V1__POLICY__INIT, *list[1] = {&p};

	(void)arg;
	(void)c;
	if ((r = vigil__v1__list_policies_request__unpack(NULL, len, req)) == NULL) {
		err_set(e, "cannot decode ListPoliciesRequest");
		return GRPCSRV_INVALID_ARGUMENT;
	}
	p.name = (char *)"smoke";
	p.kind = r->kind ? r->kind : VIGIL__V1__POLICY_KIND__POLICY_KIND_PCR;
	p.size = 42;
	out.n_policies = 1;
	out.policies = list;
	pb_pack(&out.base, resp);
	vigil__v1__list_policies_request__free_unpacked(r, NULL);
	return GRPCSRV_OK;
}

static int smoke_get_node(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                          err_t *e)
{
	Vigil__V1__NodeRequest *r;

	(void)arg;
	(void)c;
	(void)resp;
	if ((r = vigil__v1__node_request__unpack(NULL, len, req)) == NULL) {
		err_set(e, "cannot decode NodeRequest");
		return GRPCSRV_INVALID_ARGUMENT;
	}
	err_set(e, "node %s not found", r->uuid);
	vigil__v1__node_request__free_unpacked(r, NULL);
	return GRPCSRV_NOT_FOUND;
}

/* Server streaming from another thread, as WatchEvents will: the request's first byte is
 * how many messages to send ("message 0", "message 1", ...), then the status is OK; 0
 * means no end: until the client cancels. */
typedef struct smoke_stream {
	grpcsrv_call_t *c; /* the taken call */
	int n;             /* messages to send */
	int closed;        /* set by the close callback (atomic) */
} smoke_stream_t;

static void smoke_stream_closed(void *arg)
{
	smoke_stream_t *st = arg;

	__atomic_store_n(&st->closed, 1, __ATOMIC_SEQ_CST);
	log_info("stream closed before it finished");
}

static void *smoke_stream_run(void *arg)
{
	smoke_stream_t *st = arg;
	char msg[32];

	int i;

	for (i = 0; i < st->n && !__atomic_load_n(&st->closed, __ATOMIC_SEQ_CST); i++) {
		int len = snprintf(msg, sizeof(msg), "message %d", i);
		/* A full queue means a slow reader: wait for room (a test tool may poll). */
		while (grpcsrv_call_send(st->c, (const uint8_t *)msg, (size_t)len) < 0 &&
		       !__atomic_load_n(&st->closed, __ATOMIC_SEQ_CST))
			usleep(1000);
	}
	if (i < st->n)
		log_info("stream producer stopped after %d of %d messages", i, st->n);
	grpcsrv_call_finish(st->c, GRPCSRV_OK, NULL);
	free(st);
	return NULL;
}

static int smoke_stream(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                        err_t *e)
{
	smoke_stream_t *st;
	pthread_t t;

	(void)arg;
	(void)resp;
	if (len < 1) {
		err_set(e, "say how many messages");
		return GRPCSRV_INVALID_ARGUMENT;
	}
	st = calloc(1, sizeof(*st));
	st->c = c;
	st->n = req[0] ? req[0] : INT_MAX;
	grpcsrv_call_on_close(c, smoke_stream_closed, st);
	if (pthread_create(&t, NULL, smoke_stream_run, st) != 0) {
		free(st);
		err_set(e, "cannot start a thread");
		return GRPCSRV_INTERNAL;
	}
	pthread_detach(t);
	return GRPCSRV_DEFERRED;
}

static const grpcsrv_method_t smoke_methods[] = {
    {"/vigil.v1.Verifier/SmokeStream", smoke_stream},
    {"/vigil.v1.Verifier/ListPolicies", smoke_list_policies},
    {"/vigil.v1.Verifier/GetNode", smoke_get_node},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
	grpcsrv_tls_t tls;
	grpcsrv_limits_t lim;
	grpcsrv_t *s;
	err_t e = {""};
	sigset_t set;
	int sig;

	log_init("grpc_smoke", 1, 0);
	if (argc != 2 && argc != 5) {
		fprintf(stderr, "usage: grpc_smoke LISTEN [CERT KEY CLIENT_CA]\n");
		return 2;
	}
	tls.cert_file = argc == 5 ? argv[2] : NULL;
	tls.key_file = argc == 5 ? argv[3] : NULL;
	tls.client_ca_file = argc == 5 ? argv[4] : NULL;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	grpcsrv_limits_default(&lim);
	lim.max_msg = 1 << 20;
	s = grpcsrv_new(argv[1], argc == 5 ? &tls : NULL, smoke_methods, NULL, &lim, &e);
	if (s == NULL)
		fatalx("%s", e.msg);
	if (grpcsrv_start(s) < 0)
		return 1;
	printf("ready\n");
	fflush(stdout);
	sigwait(&set, &sig);
	grpcsrv_free(s);
	return 0;
}

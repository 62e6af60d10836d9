/* notice_send: the verifier's revocation-notice code (verifier/notices.c) driven from a
 * test, with no verifier around it.
 *   notice_send sign KEY|- AGENT_ID OUT
 *       a notice for AGENT_ID signed by notices_sign with KEY (a PEM RSA key; "-": none,
 *       unsigned), written to OUT
 *   notice_send send BODY CLIENT_CERT CLIENT_KEY AGENT_CERT IP PORT [TIMEOUT_S]
 *       notices_send of the notice in BODY to one agent (its pinned certificate
 *       AGENT_CERT), on an event loop run until the batch ends; prints "ok N failed M"
 *       and exits 0 when the agent accepted it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/base/buf.h"
#include "common/base/log.h"
#include "verifier/notices.h"
#include "verifier/vctx.h"

int main(int argc, char **argv);

static char *slurp(const char *path)
{
	buf_t b = BUF_INIT;

	if (buf_read_file(&b, path, 1 << 20) < 0) {
		perror(path);
		exit(2);
	}
	return (char *)buf_steal(&b, NULL);
}

static size_t got_ok, got_failed;

static void on_done(size_t ok, size_t failed, void *arg)
{
	got_ok = ok;
	got_failed = failed;
	event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
	vctx_t ctx;
	err_t e = {""};

	log_init("notice_send", 1, 0);
	memset(&ctx, 0, sizeof(ctx));
	if (argc == 5 && strcmp(argv[1], "sign") == 0) {
		revnotice_fields_t f = {
		    .type = "revocation",
		    .ip = "127.0.0.1",
		    .agent_id = argv[3],
		    .port = 9002,
		    .tpm_policy = "{\"mask\": \"0x400\"}",
		    .meta_data = "{}",
		    .event_id = "pcr_policy.pcr10",
		    .severity_label = "emergency",
		    .context = "{\"message\": \"PCR 10 does not match\"}",
		};
		buf_t out = BUF_INIT;
		ctx.revocation_key_pem = strcmp(argv[2], "-") ? slurp(argv[2]) : NULL;
		if (notices_sign(&ctx, &f, &out, &e) < 0 ||
		    buf_write_file(argv[4], out.data, out.len, 0644) < 0) {
			fprintf(stderr, "notice_send: %s\n", e.msg[0] ? e.msg : "cannot write");
			return 1;
		}
		buf_free(&out);
		free(ctx.revocation_key_pem);
		return 0;
	}
	if ((argc == 8 || argc == 9) && strcmp(argv[1], "send") == 0) {
		char *body = slurp(argv[2]), *agent_cert = slurp(argv[5]);
		struct event_base *base = event_base_new();
		notice_target_t t = {
		    .uuid = "test-agent",
		    .ip = argv[6],
		    .port = atoi(argv[7]),
		    .mtls_cert = agent_cert,
		    .api_version = "2.2",
		};
		ctx.tls_cert_pem = slurp(argv[3]);
		ctx.tls_key_pem = slurp(argv[4]);
		ctx.notice_timeout_s = argc == 9 ? atoi(argv[8]) : 10;
		notices_send(base, &ctx, NULL, &t, 1, body, on_done, base);
		event_base_dispatch(base);
		printf("ok %zu failed %zu\n", got_ok, got_failed);
		event_base_free(base);
		free(body);
		free(agent_cert);
		free(ctx.tls_cert_pem);
		free(ctx.tls_key_pem);
		return got_ok == 1 ? 0 : 1;
	}
	fprintf(stderr, "usage: notice_send sign KEY|- AGENT_ID OUT\n"
	                "       notice_send send BODY CLIENT_CERT CLIENT_KEY AGENT_CERT IP PORT "
	                "[TIMEOUT_S]\n");
	return 2;
}

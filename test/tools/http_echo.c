/* http_echo: a common/http server for the integration tests (curl as the client). Every
 * request gets the Keylime envelope with what the server saw; /secure answers 403 to a
 * client without a verified certificate, like a daemon's admin route in optional mode.
 * Usage: http_echo [-v] LISTEN MAX_BODY TIMEOUT_S [CERT KEY CLIENT_CA none|optional|required]
 * Prints "port N" once listening (LISTEN may use port 0); runs until SIGTERM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/base/daemon.h"
#include "common/net/http.h"
#include "common/base/log.h"

int main(int argc, char **argv);

static void echo_handler(http_request_t *r, void *arg)
{
	static const char *names[] = {"GET", "POST", "PUT", "DELETE", "OTHER"};
	size_t len;
	const char *q;

	(void)arg;
	if (strcmp(http_request_path(r), "/secure") == 0 && !http_request_has_client_cert(r)) {
		http_reply_envelope(r, 403, "Forbidden: client certificate required", NULL);
		return;
	}
	http_request_body(r, &len);
	q = http_request_query_string(r);
	http_reply_envelope(r, 200, "Success",
	                    json_pack("{s:s, s:s, s:s, s:I, s:b}", "method",
	                              names[http_request_method(r)], "path", http_request_path(r),
	                              "query", q ? q : "", "body_len", (json_int_t)len, "has_cert",
	                              http_request_has_client_cert(r)));
}

int main(int argc, char **argv)
{
	struct event_base *base;
	http_server_t *s;
	tls_server_opts_t tls;
	int verbose = 0;

	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		verbose = 1;
		argv++;
		argc--;
	}
	log_init("http_echo", 1, verbose);
	if (argc != 4 && argc != 8) {
		fprintf(stderr, "usage: http_echo [-v] LISTEN MAX_BODY TIMEOUT_S "
		                "[CERT KEY CLIENT_CA none|optional|required]\n");
		return 2;
	}
	if (argc == 8) {
		tls.cert_file = argv[4];
		tls.key_file = argv[5];
		tls.client_ca_file = argv[6];
		if (strcmp(argv[7], "required") == 0)
			tls.client_cert = HTTP_CLIENT_CERT_REQUIRED;
		else if (strcmp(argv[7], "optional") == 0)
			tls.client_cert = HTTP_CLIENT_CERT_OPTIONAL;
		else
			tls.client_cert = HTTP_CLIENT_CERT_NONE;
	}
	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	daemon_signals(base);
	s = http_server_new(base, argv[1], argc == 8 ? &tls : NULL, strtoul(argv[2], NULL, 10),
	                    atoi(argv[3]), echo_handler, NULL);
	if (s == NULL)
		return 1;
	printf("port %d\n", http_server_port(s));
	fflush(stdout);
	event_base_dispatch(base);
	http_server_free(s);
	daemon_signals_free();
	event_base_free(base);
	return 0;
}

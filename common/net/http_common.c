/* http_common: what the HTTP server (common/net/http_server.c) and client
 * (common/net/http_client.c) share, reached through common/net/http_priv.h: the process-wide set-up
 * done once before the first server or client (SIGPIPE, libevent's log routed to ours, the OpenSSL
 * ex_data indexes of both sides' SSL objects), socket helpers, and the check of what goes on the
 * wire as is. Also the public http_parse_hostport (common/net/http.h). */
#include "common/net/http.h"
#include "common/net/http_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
int http_ssl_idx_server = -1; /* SSL ex_data: struct server_tls_conn of a server SSL */
int http_ssl_idx_client = -1; /* SSL ex_data: the http_client_t owning a client SSL */

static void http_libevent_log(int severity, const char *msg)
{
	/* libevent's own warnings repeat what we report with more context (a refused connect,
	 * a closed socket); keep them for debugging only. */
	if (severity >= EVENT_LOG_ERR)
		log_warnx("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

/* Frees what an ex_data index holds when its SSL is freed: the server's per-connection TLS
 * record (struct server_tls_conn in http_server.c) is one plain allocation. */
static void http_ex_data_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                              void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	free(ptr);
}

static void http_init_once(void)
{
	struct sigaction sa;

	/* libevent and OpenSSL write to sockets without MSG_NOSIGNAL: a peer gone mid-write
	 * must be an error, not the death of the process. Only a default disposition is
	 * changed; a program's own SIGPIPE handler stays. */
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_IGN;
		sigaction(SIGPIPE, &sa, NULL);
	}
	http_ssl_idx_server = SSL_get_ex_new_index(0, NULL, NULL, NULL, http_ex_data_free);
	http_ssl_idx_client = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (http_ssl_idx_server < 0 || http_ssl_idx_client < 0)
		fatalx("http: cannot allocate OpenSSL ex_data indexes");
	event_set_log_callback(http_libevent_log);
}

void http_init(void)
{
	if (pthread_once(&http_once, http_init_once) != 0)
		fatalx("http: pthread_once failed");
}

struct event_base *http_event_base_new(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base;

	if (cfg == NULL)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

/* "ip:port" or "[v6]:port" of a socket address. */
static void http_format_addr(const struct sockaddr *sa, char *out, size_t n)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(out, n, "%s:%u", ip, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(out, n, "[%s]:%u", ip, ntohs(in6->sin6_port));
	} else {
		snprintf(out, n, "?");
	}
}

/* No Nagle: bufferevent_openssl writes a request or reply as several TLS records, and
 * the second would wait for the peer's delayed ACK (40 ms a request). */
void http_fd_nodelay(int fd)
{
	int one = 1;

	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void http_fd_peer(int fd, char *out, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) != 0) {
		snprintf(out, n, "?");
		return;
	}
	http_format_addr((struct sockaddr *)&ss, out, n);
}

int http_parse_hostport(const char *s, char **host, int *port)
{
	const char *h, *colon, *end;
	size_t hlen;
	char *p;
	long v;

	*host = NULL;
	*port = 0;
	if (s == NULL || *s == '\0' || strlen(s) > 300)
		return -1;
	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL || end[1] != ':')
			return -1;
		h = s + 1;
		hlen = (size_t)(end - h);
		colon = end + 1;
		if (hlen == 0 || memchr(h, ':', hlen) == NULL)
			return -1; /* brackets are for IPv6 literals only */
		for (size_t i = 0; i < hlen; i++)
			if (!(h[i] == ':' || h[i] == '.' || (h[i] >= '0' && h[i] <= '9') ||
			      (h[i] >= 'a' && h[i] <= 'f') || (h[i] >= 'A' && h[i] <= 'F')))
				return -1;
	} else {
		if ((colon = strchr(s, ':')) == NULL || strchr(colon + 1, ':') != NULL)
			return -1; /* no port, or an unbracketed IPv6 literal */
		h = s;
		hlen = (size_t)(colon - s);
		if (hlen == 0 || hlen > 253)
			return -1;
		for (size_t i = 0; i < hlen; i++)
			if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z') ||
			      (h[i] >= '0' && h[i] <= '9') || h[i] == '.' || h[i] == '-' ||
			      h[i] == '_'))
				return -1;
	}
	if (colon[1] < '0' || colon[1] > '9')
		return -1;
	errno = 0;
	v = strtol(colon + 1, &p, 10);
	if (errno != 0 || *p != '\0' || v < 0 || v > 65535 || p - (colon + 1) > 5)
		return -1;
	*host = xstrndup(h, hlen);
	*port = (int)v;
	return 0;
}

/* 1 when s is non-empty printable ASCII without spaces: it goes into the request line or
 * a header as is, so CR/LF must never pass. */
int http_token_ok(const char *s, int spaces)
{
	if (s == NULL || *s == '\0' || strlen(s) > 8192)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || (*s == ' ' && !spaces))
			return 0;
	return 1;
}

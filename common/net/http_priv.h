/* http_priv: what the HTTP server (common/net/http_server.c) and client (common/net/http_client.c)
 * share, from common/net/http_common.c. For those three files only (and the client's parser
 * for its fuzz target): the public API is common/net/http.h. */
#ifndef VIGIL_HTTP_PRIV_H
#define VIGIL_HTTP_PRIV_H

#include <stddef.h>
#include <stdint.h>

/* OpenSSL ex_data indexes, set by http_init(). */
extern int http_ssl_idx_server; /* a server SSL's struct server_tls_conn, freed with the SSL */
extern int http_ssl_idx_client; /* a client SSL's owning http_client_t, borrowed */

/* Called first by every server and client constructor; does its work once per process:
 * SIGPIPE ignored if it was at its default, libevent's log routed to ours (errors as
 * warnings, the rest at debug), the ex_data indexes above allocated. */
void http_init(void);

/* Turns Nagle off on socket fd (nothing when fd < 0). */
void http_fd_nodelay(int fd);

/* "ip:port" or "[v6]:port" of fd's peer into out (n bytes), "?" when there is none. */
void http_fd_peer(int fd, char *out, size_t n);

/* 1 when s is non-empty printable ASCII, with spaces only when spaces is non-zero, and at
 * most 8192 bytes: what may go into a request line or a header as is. */
int http_token_ok(const char *s, int spaces);

/* The client's answer parser alone, for the fuzz target (test/fuzz/fuzz_http_answer.c):
 * the n bytes of an answer, fed in two pieces split at split, with a body limit of max.
 * 1 when the answer is complete (the server closing after the last byte), with *status
 * and *body_len; 0 when more would be needed; -1 when refused. */
int http_answer_parse(const uint8_t *p, size_t n, size_t split, size_t max, int *status,
                      size_t *body_len);

#endif

/* agentsrv_priv: the request parser of test/loadgen/agentsrv.c, for that file and its fuzz
 * target (test/fuzz/fuzz_loadgen_request.c) only: the server's API is agentsrv.h. */
#ifndef VIGIL_LOADGEN_AGENTSRV_PRIV_H
#define VIGIL_LOADGEN_AGENTSRV_PRIV_H

#include <stddef.h>

#include "common/net/http.h"

#define AGENTSRV_MAX_HEAD 16384 /* request line and headers */

/* What agentsrv_req_parse found in a request's bytes. */
typedef struct req_head {
	http_method_t method; /* the request's method */
	const char *target;   /* the request target (path and query), not NUL-terminated */
	size_t target_len;    /* its length */
	size_t head_len;      /* request line and headers, the empty line included */
	size_t body_len;      /* Content-Length, 0 without one */
	int close;            /* the connection closes after the answer */
} req_head_t;

/* Parse the request at the start of p[0..n) (empty lines before it already skipped). 1 when
 * it is all there (head and body): h says what it is; 0 when more bytes are needed;
 * otherwise the HTTP status that refuses it (400, 413, 501), with *why. Bodies over
 * max_body are refused (413). */
int agentsrv_req_parse(const char *p, size_t n, size_t max_body, req_head_t *h, const char **why);

#endif

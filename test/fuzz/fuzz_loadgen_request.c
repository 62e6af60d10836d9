/* Fuzz target: the load generator's HTTP/1.1 request parser (agentsrv_req_parse in
 * test/loadgen/agentsrv.c), the bytes a verifier (or anyone reaching a simulated agent's
 * address) sends. The input is a connection's stream, taken the way the server's
 * conn_process takes it: empty lines skipped, a request parsed, its path and query cut in
 * place, its bytes consumed, the next pipelined one parsed, until one is incomplete or
 * refused. Each request is also parsed from shorter prefixes, as bytes arrive piecewise
 * over TLS. Run twice, with the load generator's body limit and with a small one.
 *
 * Whatever the bytes, no crash and no read or write outside the stream, and:
 *  - a refusal is 400, 413 or 501, with a reason;
 *  - a complete request lies inside what was read, its head within AGENTSRV_MAX_HEAD, its
 *    body within the limit, its target a '/' and printable bytes followed by a space;
 *  - a prefix of a complete request is incomplete (0), and one of a refused stream is
 *    incomplete or refused the same way (a request is never judged before its bytes are
 *    there, and never differently for the way they were cut). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test/loadgen/agentsrv_priv.h"

#define FUZZ_PREFIXES 24 /* prefixes parsed per request, besides the edges */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int head_eq(const req_head_t *a, const req_head_t *b)
{
	return a->method == b->method && a->target == b->target && a->target_len == b->target_len &&
	       a->head_len == b->head_len && a->body_len == b->body_len && a->close == b->close;
}

/* The prefixes of p[0..n) agree with the whole, whose result was rv (with h when 1). */
static void check_prefixes(const char *p, size_t n, size_t max_body, int rv, const req_head_t *h)
{
	size_t used = rv == 1 ? h->head_len + h->body_len : n;
	size_t ks[FUZZ_PREFIXES + 4];
	size_t nk = 0;

	for (size_t i = 0; i < FUZZ_PREFIXES; i++)
		ks[nk++] = used * i / FUZZ_PREFIXES;
	if (used > 0)
		ks[nk++] = used - 1;
	if (rv == 1) {
		ks[nk++] = h->head_len;
		ks[nk++] = used;
		ks[nk++] = n;
	}
	for (size_t i = 0; i < nk; i++) {
		req_head_t ph;
		const char *why = NULL;
		int r = agentsrv_req_parse(p, ks[i], max_body, &ph, &why);

		if (rv == 1) {
			if (ks[i] < used && r != 0)
				abort(); /* judged before it was all there */
			if (ks[i] >= used && (r != 1 || !head_eq(&ph, h)))
				abort(); /* the bytes after it changed it */
		} else if (r != 0 && r != rv) {
			abort(); /* refused differently for where the stream was cut */
		}
	}
}

/* One complete request's head: inside p[0..n), and what conn_process relies on. */
static void check_head(const char *p, size_t n, size_t max_body, const req_head_t *h)
{
	if (h->head_len == 0 || h->head_len > AGENTSRV_MAX_HEAD || h->head_len > n ||
	    h->body_len > max_body || h->body_len > n - h->head_len)
		abort();
	if (h->method != HTTP_M_GET && h->method != HTTP_M_POST && h->method != HTTP_M_PUT &&
	    h->method != HTTP_M_DELETE && h->method != HTTP_M_OTHER)
		abort();
	if (h->close != 0 && h->close != 1)
		abort();
	/* The target, then the space conn_process overwrites with a NUL: in the head. */
	if (h->target < p || h->target_len == 0 ||
	    h->target_len >= (size_t)(p + h->head_len - h->target) || h->target[0] != '/' ||
	    h->target[h->target_len] != ' ')
		abort();
	for (size_t i = 0; i < h->target_len; i++)
		if (h->target[i] <= ' ' || h->target[i] > '~')
			abort();
}

/* The stream in[0..len), taken as conn_process takes it (in has a byte of room after it
 * for the NUL it keeps there). */
static void run_stream(char *in, size_t len, size_t max_body)
{
	while (len > 0) {
		req_head_t h;
		const char *why = NULL, *path, *query = NULL;
		size_t used;
		int rv;

		for (used = 0; used < len && (in[used] == '\r' || in[used] == '\n'); used++)
			;
		if (used > 0) {
			memmove(in, in + used, len - used);
			len -= used;
			in[len] = '\0';
			continue;
		}
		rv = agentsrv_req_parse(in, len, max_body, &h, &why);
		check_prefixes(in, len, max_body, rv, &h);
		if (rv == 0)
			return;
		if (rv != 1) {
			if ((rv != 400 && rv != 413 && rv != 501) || why == NULL || why[0] == '\0')
				abort();
			return; /* the server answers and closes */
		}
		check_head(in, len, max_body, &h);
		in[h.target + h.target_len - in] = '\0';
		path = h.target;
		for (size_t q = 0; q < h.target_len; q++)
			if (h.target[q] == '?') {
				in[h.target + q - in] = '\0';
				query = h.target + q + 1;
				break;
			}
		if (strlen(path) > h.target_len || (query != NULL && strlen(query) >= h.target_len))
			abort();
		used = h.head_len + h.body_len;
		if (used < len)
			memmove(in, in + used, len - used);
		len -= used;
		in[len] = '\0';
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The load generator's limit (LG_MAX_BODY in loadgen.c), then a small one that short
	 * bodies go over (the 413 branches). */
	static const size_t limits[] = {65536, 8};
	char *in = malloc(size + 1);

	if (in == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		if (size > 0)
			memcpy(in, data, size);
		in[size] = '\0';
		run_stream(in, size, limits[i]);
	}
	free(in);
	return 0;
}

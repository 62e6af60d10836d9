/* round_bench: wall-clock latency of whole agent rounds as the verifier makes them: GET
 * /v{VER}/quotes/integrity?nonce=<20 fresh characters>&QUERY over one kept-alive mutual-TLS
 * connection (common/net/http.h's client, the verifier's own), one request at a time.
 *
 *   round_bench -p PORT -c AGENT_CERT -C CLIENT_CERT -k CLIENT_KEY -q QUERY
 *               [-H HOST] [-v VER] [-n N] [-w WARMUP] [-o FILE]
 *
 * QUERY is what follows the nonce, e.g. "mask=0x400&partial=1&ima_ml_entry=826". The agent's
 * own certificate is the trust anchor (as the verifier pins it). The first WARMUP requests
 * (default 3; the first one includes the TLS handshake) are not timed. Prints "KEY VALUE"
 * lines: n, median_ms, p95_ms, mean_ms, bytes (of the last response).
 * With -o FILE: one request (no warm-up); its body goes to FILE and its nonce to
 * FILE.nonce, for verify_bench. Exit 0, or 1 when a request failed or was not a 200. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/base/buf.h"
#include "common/net/http.h"
#include "common/base/log.h"
#include "common/base/nonce.h"

int main(int argc, char **argv);

typedef struct bench {
	struct event_base *base; /* the loop */
	http_client_t *client;   /* the kept-alive connection */
	const char *ver;         /* API version in the path */
	const char *query;       /* after the nonce */
	const char *out;         /* -o file, or NULL */
	long n, warm, done;      /* timed requests, untimed first ones, finished so far */
	double *ms;              /* latency of each timed request */
	double t0;               /* start of the request in flight */
	char nonce[21];          /* nonce of the request in flight */
	size_t bytes;            /* size of the last body */
	int failed;              /* a request failed */
} bench_t;

static void usage(void)
{
	fprintf(stderr, "usage: round_bench -p PORT -c AGENT_CERT -C CLIENT_CERT -k CLIENT_KEY "
	                "-q QUERY [-H HOST] [-v VER] [-n N] [-w WARMUP] [-o FILE]\n");
	exit(2);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double quantile(double *v, long n, double q)
{
	long k;

	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	k = (long)(q * (double)n + 0.999999) - 1;
	if (k < 0)
		k = 0;
	if (k >= n)
		k = n - 1;
	return v[k];
}

static void on_response(int status, const uint8_t *body, size_t len, const char *err, void *arg);

static void start(bench_t *b)
{
	char path[512];

	nonce_alnum(b->nonce, 20);
	snprintf(path, sizeof(path), "/v%s/quotes/integrity?nonce=%s&%s", b->ver, b->nonce,
	         b->query);
	b->t0 = now_ms();
	if (http_client_request(b->client, HTTP_M_GET, path, NULL, NULL, 0, on_response, b) < 0) {
		fprintf(stderr, "round_bench: cannot start a request\n");
		b->failed = 1;
		event_base_loopbreak(b->base);
	}
}

static int save(const char *path, const void *data, size_t len)
{
	if (buf_write_file(path, data, len, 0644) < 0) {
		fprintf(stderr, "round_bench: cannot write %s\n", path);
		return -1;
	}
	return 0;
}

static void on_response(int status, const uint8_t *body, size_t len, const char *err, void *arg)
{
	bench_t *b = arg;
	double t = now_ms() - b->t0;

	if (status != 200) {
		fprintf(stderr, "round_bench: request %ld: %s %d: %.*s\n", b->done,
		        status ? "HTTP" : err, status, (int)(len > 300 ? 300 : len),
		        body ? (const char *)body : "");
		b->failed = 1;
		event_base_loopbreak(b->base);
		return;
	}
	b->bytes = len;
	if (b->out) {
		char *np = NULL;
		int bad = save(b->out, body, len) < 0 || asprintf(&np, "%s.nonce", b->out) < 0 ||
		          save(np, b->nonce, strlen(b->nonce)) < 0;
		free(np);
		b->failed = bad;
		event_base_loopbreak(b->base);
		return;
	}
	if (b->done >= b->warm)
		b->ms[b->done - b->warm] = t;
	if (++b->done == b->n + b->warm) {
		event_base_loopbreak(b->base);
		return;
	}
	start(b);
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *agent_cert = NULL, *cert = NULL, *key = NULL;
	tls_client_opts_t tls;
	bench_t b;
	int port = 0, c, rv = 1;
	double sum = 0;

	memset(&b, 0, sizeof(b));
	b.ver = "2.6";
	b.n = 200;
	b.warm = 3;
	while ((c = getopt(argc, argv, "H:p:c:C:k:q:v:n:w:o:")) != -1) {
		switch (c) {
		case 'H':
			host = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'c':
			agent_cert = optarg;
			break;
		case 'C':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'q':
			b.query = optarg;
			break;
		case 'v':
			b.ver = optarg;
			break;
		case 'n':
			b.n = strtol(optarg, NULL, 10);
			break;
		case 'w':
			b.warm = strtol(optarg, NULL, 10);
			break;
		case 'o':
			b.out = optarg;
			break;
		default:
			usage();
		}
	}
	if (port <= 0 || port > 65535 || agent_cert == NULL || cert == NULL || key == NULL ||
	    b.query == NULL || b.n < 1 || b.n > 1000000 || b.warm < 0)
		usage();
	if (b.out) {
		b.n = 1;
		b.warm = 0;
	}
	log_init("round_bench", 1, 0);
	memset(&tls, 0, sizeof(tls));
	tls.ca_file = agent_cert;
	tls.cert_file = cert;
	tls.key_file = key;
	tls.check_hostname = 0;
	if ((b.base = event_base_new()) == NULL ||
	    (b.client = http_client_new(b.base, host, port, &tls, 60)) == NULL)
		goto out;
	b.ms = calloc((size_t)b.n, sizeof(*b.ms));
	if (b.ms == NULL)
		goto out;
	start(&b);
	event_base_dispatch(b.base);
	if (b.failed)
		goto out;
	if (b.out == NULL) {
		for (long i = 0; i < b.n; i++)
			sum += b.ms[i];
		printf("n %ld\n", b.n);
		printf("mean_ms %.2f\n", sum / (double)b.n);
		printf("median_ms %.2f\n", quantile(b.ms, b.n, 0.5));
		printf("p95_ms %.2f\n", quantile(b.ms, b.n, 0.95));
		printf("bytes %zu\n", b.bytes);
	}
	rv = 0;
out:
	free(b.ms);
	http_client_free(b.client);
	if (b.base)
		event_base_free(b.base);
	return rv;
}

/* quote_bench: CPU cost of one verifier round's quote work (decode the Keylime quote
 * string, check signature, nonce, PCR selection and digest, PCR 16 binding, clock), for
 * an RSA-2048 and an ECC P-256 AK, on the recorded swtpm quotes.
 * Usage: quote_bench [-n ITERATIONS] [-d DATA_DIR]   (default 2000, test/unit/data/quote)
 * Prints lines "quote_verify_rsa2048_us <microseconds per round>" etc.: process CPU time
 * (CLOCK_PROCESS_CPUTIME_ID) divided by iterations. Also reports the decode alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "common/base/buf.h"
#include "common/base/err.h"
#include "common/base/log.h"
#include "common/evidence/quote.h"

int main(int argc, char **argv);

static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void slurp(buf_t *b, const char *dir, const char *sub, const char *name)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s%s%s", dir, sub, *sub ? "/" : "", name);
	if (buf_read_file(b, path, 1 << 20) < 0) {
		fprintf(stderr, "quote_bench: cannot read %s\n", path);
		exit(1);
	}
}

static void bench(const char *label, const char *dir, const char *sub, long iters)
{
	buf_t str = BUF_INIT, pem = BUF_INIT, nonce = BUF_INIT, payload = BUF_INIT;
	quote_clock_t prev = {0, 0, 0, 1};
	err_t e = {""};
	double t0 = 0, t1, t2;

	slurp(&str, dir, sub, "quote.txt");
	slurp(&pem, dir, sub, "ak.pem");
	slurp(&nonce, dir, "", "nonce");
	slurp(&payload, dir, "", "payload.pem");
	BIO *bio = BIO_new_mem_buf(pem.data, (int)pem.len);
	EVP_PKEY *pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	quote_ak_t *ak = quote_ak_new(pkey, &e);
	quote_t *q = quote_new();
	if (ak == NULL) {
		fprintf(stderr, "quote_bench: %s\n", e.msg);
		exit(1);
	}

	/* One warm-up round: the first one prepares the OpenSSL context. */
	for (long i = -1; i < iters; i++) {
		if (i == 0)
			t0 = cpu_seconds();
		if (quote_decode(q, (const char *)str.data, str.len, &e) != QUOTE_OK ||
		    quote_verify(q, ak, 0x000B, nonce.data, nonce.len, &e) != QUOTE_OK ||
		    quote_check_pcr16(q, 0x000B, payload.data, payload.len, &e) != QUOTE_OK ||
		    quote_check_clock(q, &prev, &e) != QUOTE_OK) {
			fprintf(stderr, "quote_bench: %s: %s\n", sub, e.msg);
			exit(1);
		}
	}
	t1 = cpu_seconds();
	for (long i = 0; i < iters; i++)
		if (quote_decode(q, (const char *)str.data, str.len, &e) != QUOTE_OK)
			exit(1);
	t2 = cpu_seconds();
	printf("quote_verify_%s_us %.1f\n", label, (t1 - t0) * 1e6 / (double)iters);
	printf("quote_decode_%s_us %.1f\n", label, (t2 - t1) * 1e6 / (double)iters);

	quote_free(q);
	quote_ak_free(ak);
	EVP_PKEY_free(pkey);
	buf_free(&str);
	buf_free(&pem);
	buf_free(&nonce);
	buf_free(&payload);
}

int main(int argc, char **argv)
{
	const char *dir = "test/unit/data/quote";
	long iters = 2000;
	int c;

	log_init("quote_bench", 1, 0);
	while ((c = getopt(argc, argv, "n:d:")) != -1) {
		if (c == 'n')
			iters = strtol(optarg, NULL, 10);
		else if (c == 'd')
			dir = optarg;
		else {
			fprintf(stderr, "usage: quote_bench [-n ITERATIONS] [-d DATA_DIR]\n");
			return 2;
		}
	}
	if (iters <= 0)
		iters = 1;
	bench("rsa2048", dir, "rsa", iters);
	bench("ecc_p256", dir, "ecc", iters);
	return 0;
}

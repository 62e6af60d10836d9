/* tpm_quote_bench: wall-clock latency of TPM2_Quote through ESAPI (agent/tpm.h, the agent's
 * own TPM module) on a TPM reached through a TCTI (swtpm in make bench), for comparison with
 * a whole agent round (round_bench).
 *
 *   tpm_quote_bench -T TCTI -a rsa|ecc -s STATEDIR [-e EKALG] [-m MASK] [-n N] [-w WARMUP]
 *
 * Loads the EK (persistent, as the agent does) and the AK kept in STATEDIR (created there
 * when missing, so an agent started later with that state dir uses the same key), then
 * times two things, N times each after WARMUP untimed runs:
 *   quote     one tpm_quote (TPM2_Quote) over MASK | PCR 16 of the SHA-256 bank, with a
 *             fresh 20-character nonce: the raw cost of the signature in the TPM
 *   sequence  the TPM commands of one agent round: TPM2_PCR_Reset(16), TPM2_PCR_Extend(16),
 *             TPM2_Quote and TPM2_PCR_Read of the quoted PCRs
 * Prints "KEY VALUE" lines: quote_median_ms, quote_p95_ms, sequence_median_ms,
 * sequence_p95_ms, n, ak_alg. Exit 0, or 1 with the reason on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/tpm.h"
#include "common/base/buf.h"
#include "common/base/err.h"
#include "common/base/log.h"

int main(int argc, char **argv);

#define BANK_SHA256 0x000b /* TPM_ALG_SHA256 */

static void usage(void)
{
	fprintf(stderr, "usage: tpm_quote_bench -T TCTI -a rsa|ecc -s STATEDIR [-e EKALG] "
	                "[-m MASK] [-n N] [-w WARMUP]\n");
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

/* The value at quantile q (0..1) of v (sorted here): nearest rank. */
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

/* A nonce like the verifier's: 20 characters of [A-Za-z0-9] (not secret here). */
static void make_nonce(char out[21], unsigned long seq)
{
	static const char alnum[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

	for (int i = 0; i < 20; i++) {
		seq = seq * 6364136223846793005ul + 1442695040888963407ul;
		out[i] = alnum[(seq >> 33) % 62];
	}
	out[20] = '\0';
}

/* One agent round's TPM work (what the agent does before it reads the logs). */
static int sequence(tpm_t *t, const char *nonce, uint32_t mask, buf_t *a, buf_t *s, err_t *e)
{
	static const uint8_t pem_digest[32] = {1, 2, 3}; /* stands for H(payload key PEM) */
	tpm_pcrs_t pcrs;

	return tpm_pcr_reset(t, 16, e) < 0 ||
	               tpm_pcr_extend(t, 16, BANK_SHA256, pem_digest, sizeof(pem_digest), e) < 0 ||
	               tpm_quote(t, (const uint8_t *)nonce, 20, BANK_SHA256, mask, a, s, e) < 0 ||
	               tpm_pcr_read(t, BANK_SHA256, mask, &pcrs, e) < 0
	           ? -1
	           : 0;
}

int main(int argc, char **argv)
{
	const char *tcti = NULL, *ak = "rsa", *ek = "rsa2048", *state = NULL;
	unsigned long mask = 0x400;
	long n = 200, warm = 5;
	tpm_ek_alg_t ekalg;
	tpm_ak_alg_t akalg;
	tpm_t *t = NULL;
	buf_t a = BUF_INIT, s = BUF_INIT;
	err_t e = {""};
	double *tq = NULL, *ts = NULL, t0;
	char nonce[21];
	int c, rv = 1;

	while ((c = getopt(argc, argv, "T:a:s:e:m:n:w:")) != -1) {
		switch (c) {
		case 'T':
			tcti = optarg;
			break;
		case 'a':
			ak = optarg;
			break;
		case 's':
			state = optarg;
			break;
		case 'e':
			ek = optarg;
			break;
		case 'm':
			mask = strtoul(optarg, NULL, 0);
			break;
		case 'n':
			n = strtol(optarg, NULL, 10);
			break;
		case 'w':
			warm = strtol(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (tcti == NULL || state == NULL || tpm_ek_alg_parse(ek, &ekalg) < 0 ||
	    tpm_ak_alg_parse(ak, &akalg) < 0 || n < 1 || n > 1000000 || warm < 0 ||
	    (mask & ~0xfffffful))
		usage();
	log_init("tpm_quote_bench", 1, 0);
	mask |= 1ul << 16; /* the agent always adds PCR 16 */
	tq = calloc((size_t)n, sizeof(*tq));
	ts = calloc((size_t)n, sizeof(*ts));
	if (tq == NULL || ts == NULL) {
		fprintf(stderr, "tpm_quote_bench: out of memory\n");
		goto out;
	}
	if ((t = tpm_open(tcti, &e)) == NULL || tpm_ek_load(t, ekalg, 0, &e) < 0 ||
	    tpm_ak_load_or_create(t, akalg, state, NULL, &e) < 0) {
		fprintf(stderr, "tpm_quote_bench: %s\n", e.msg);
		goto out;
	}
	for (long i = -warm; i < n; i++) {
		make_nonce(nonce, (unsigned long)(i + warm));
		t0 = now_ms();
		if (tpm_quote(t, (const uint8_t *)nonce, 20, BANK_SHA256, (uint32_t)mask, &a, &s,
		              &e) < 0) {
			fprintf(stderr, "tpm_quote_bench: quote: %s\n", e.msg);
			goto out;
		}
		if (i >= 0)
			tq[i] = now_ms() - t0;
	}
	for (long i = -warm; i < n; i++) {
		make_nonce(nonce, (unsigned long)(i + warm + n));
		t0 = now_ms();
		if (sequence(t, nonce, (uint32_t)mask, &a, &s, &e) < 0) {
			fprintf(stderr, "tpm_quote_bench: sequence: %s\n", e.msg);
			goto out;
		}
		if (i >= 0)
			ts[i] = now_ms() - t0;
	}
	printf("ak_alg %s\n", tpm_ak_key_alg(t, 0));
	printf("n %ld\n", n);
	printf("quote_median_ms %.2f\n", quantile(tq, n, 0.5));
	printf("quote_p95_ms %.2f\n", quantile(tq, n, 0.95));
	printf("sequence_median_ms %.2f\n", quantile(ts, n, 0.5));
	printf("sequence_p95_ms %.2f\n", quantile(ts, n, 0.95));
	rv = 0;
out:
	free(tq);
	free(ts);
	buf_free(&a);
	buf_free(&s);
	tpm_free(t);
	return rv;
}

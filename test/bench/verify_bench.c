/* verify_bench: CPU time of the verifier's per-round check, attest_check() from
 * verifier/attest.c itself (linked in, not copied), on real agent answers: JSON parse, quote
 * decode, signature, nonce, PCR selection and digest, PCR 16 binding, clock, then the IMA
 * replay of the new entries against the quoted PCR 10 with the runtime policy judging each.
 *
 *   verify_bench -a AK_PUB -p RUNTIME_POLICY -l IMA_LIST -d DIR [-n N]
 *
 * AK_PUB: the agent's AK as a marshalled TPM2B_PUBLIC (its state dir's ak.pub). IMA_LIST:
 * the list the agent served. DIR holds three answers of that agent to
 * /quotes/integrity?mask=0x400, each FILE with its nonce in FILE.nonce (round_bench -o):
 *   first.json  partial=0, ima_ml_entry=0: the whole list (a node's first round)
 *   new.json    partial=1, ima_ml_entry=E: the last entries of the list (E from the answer)
 *   none.json   partial=1, ima_ml_entry=<list length>: no new entry
 * The node is set up as verifier/node.c does it (AK prepared once, reusable decoder, shared
 * policy, per-node evaluator) with the verifier's default accepted algorithms. Before each
 * timed round the node's state is put back where that round expects it (a memcpy-sized
 * reset: IMA position and running PCR 10, last clock, nonce), as if the agent had just
 * answered a fresh nonce. Prints "KEY VALUE" lines, microseconds of process CPU time
 * (CLOCK_PROCESS_CPUTIME_ID) per round over N rounds (default 300):
 *   round_none_us, round_new_us (with new_entries), round_first_us (with list_entries). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/base/buf.h"
#include "common/base/err.h"
#include "common/evidence/ima.h"
#include "common/base/log.h"
#include "common/evidence/quote.h"
#include "common/policy/runtime_policy.h"
#include "common/crypto/tpm2.h"
#include "common/policy/runtime_policy_eval.h"
#include "verifier/attest.h"

int main(int argc, char **argv);

#define BANK_SHA256 0x000b /* TPM_ALG_SHA256: the bank the agent quotes */

/* One recorded answer. */
typedef struct answer {
	buf_t body;      /* the JSON answer */
	char nonce[21];  /* the nonce it was asked with (the verifier's 20 characters) */
	uint64_t entry;  /* its ima_measurement_list_entry */
	uint64_t lines;  /* entries in its ima_measurement_list */
	const char *tag; /* file name, for messages */
} answer_t;

static void usage(void)
{
	fprintf(stderr,
	        "usage: verify_bench -a AK_PUB -p RUNTIME_POLICY -l IMA_LIST -d DIR [-n N]\n");
	exit(2);
}

static double cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "verify_bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static void answer_load(answer_t *a, const char *dir, const char *name)
{
	char path[4096];
	buf_t nonce = BUF_INIT;
	json_t *root, *res, *list;

	memset(a, 0, sizeof(*a));
	a->tag = name;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (buf_read_file(&a->body, path, 64u << 20) < 0)
		die("cannot read %s", path);
	snprintf(path, sizeof(path), "%s/%s.nonce", dir, name);
	if (buf_read_file(&nonce, path, 64) < 0 || nonce.len != 20)
		die("cannot read the nonce %s", path);
	memcpy(a->nonce, nonce.data, nonce.len);
	a->nonce[nonce.len] = '\0';
	buf_free(&nonce);
	root = json_loadb((const char *)a->body.data, a->body.len, 0, NULL);
	res = json_object_get(root, "results");
	list = json_object_get(res, "ima_measurement_list");
	if (!json_is_string(list))
		die("%s: no ima_measurement_list in the answer", name);
	a->entry = (uint64_t)json_integer_value(json_object_get(res, "ima_measurement_list_entry"));
	for (size_t i = 0; i < json_string_length(list); i++)
		a->lines += json_string_value(list)[i] == '\n';
	json_decref(root);
}

/* One round on the node's state n; any failure ends the benchmark (it would measure an
 * error path). in is the round's input, its nonce set here. */
static void round_check(attest_input_t *in, attest_state_t *n, answer_t *a)
{
	attest_out_t out;

	in->nonce = a->nonce;
	if (attest_check(in, n, a->body.data, a->body.len, &out) < 0)
		die("%s: %s", a->tag, out.reason);
}

/* The verifier's node after AddNode, as node_new() and node_load_policies() set it up:
 * the input of its rounds and its evidence state. */
static void node_setup(attest_input_t *in, attest_state_t *n, EVP_PKEY **ak_pkey,
                       runtime_policy_t *rt, const char *ak_path)
{
	buf_t raw = BUF_INIT;
	tpm2_pub_t *pub;
	err_t e = {""};

	memset(in, 0, sizeof(*in));
	in->uuid = "bench";
	in->mask = 1u << 10;
	in->accept_hash = "sha256,sha384,sha512"; /* the verifier's defaults */
	in->accept_sign = "rsassa,ecdsa";
	in->runtime = rt;
	memset(n, 0, sizeof(*n));
	if (buf_read_file(&raw, ak_path, 4096) < 0)
		die("cannot read %s", ak_path);
	if ((pub = tpm2_pub_decode(raw.data, raw.len, &e)) == NULL ||
	    (*ak_pkey = tpm2_pub_to_pkey(pub, &e)) == NULL ||
	    (n->ak = quote_ak_new(*ak_pkey, &e)) == NULL)
		die("AK %s: %s", ak_path, e.msg);
	tpm2_pub_free(pub);
	buf_free(&raw);
	n->q = quote_new();
	n->rt_eval = runtime_policy_eval_new(rt);
}

int main(int argc, char **argv)
{
	const char *ak_path = NULL, *pol_path = NULL, *list_path = NULL, *dir = NULL;
	long iters = 300;
	runtime_policy_t *rt;
	attest_input_t in;
	attest_state_t n;
	EVP_PKEY *ak_pkey = NULL;
	answer_t first, fresh, none;
	buf_t list = BUF_INIT;
	err_t e = {""};
	ima_state_t *at_new;
	ima_replay_result_t rr;
	quote_clock_t clock0;
	const uint8_t *pcr;
	uint8_t pcr_new[64];
	size_t pcr_len, off = 0;
	uint64_t k = 0;
	double t0, t_none, t_new, t_first;
	int c;

	while ((c = getopt(argc, argv, "a:p:l:d:n:")) != -1) {
		switch (c) {
		case 'a':
			ak_path = optarg;
			break;
		case 'p':
			pol_path = optarg;
			break;
		case 'l':
			list_path = optarg;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'n':
			iters = strtol(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (!ak_path || !pol_path || !list_path || !dir || iters < 1 || iters > 10000000)
		usage();
	log_init("verify_bench", 1, 0);

	if ((rt = runtime_policy_load(pol_path, 0, &e)) == NULL)
		die("runtime policy %s: %s", pol_path, e.msg);
	node_setup(&in, &n, &ak_pkey, rt, ak_path);
	answer_load(&first, dir, "first.json");
	answer_load(&fresh, dir, "new.json");
	answer_load(&none, dir, "none.json");
	if (first.entry != 0 || fresh.entry == 0 || none.lines != 0)
		die("the answers in %s are not first/new/none rounds", dir);

	/* Where the "new" round starts: the running PCR 10 after its first E entries, replayed
	 * offline from the list the agent served (the quote covers the whole list). */
	if (buf_read_file(&list, list_path, 64u << 20) < 0)
		die("cannot read %s", list_path);
	while (k < fresh.entry && off < list.len) {
		const uint8_t *nl = memchr(list.data + off, '\n', list.len - off);
		off = nl ? (size_t)(nl - list.data) + 1 : list.len;
		k++;
	}
	if ((at_new = ima_state_new(BANK_SHA256)) == NULL ||
	    ima_replay(at_new, (const char *)list.data, off, 0, NULL, 0,
	               runtime_policy_log_hash_alg(rt), NULL, NULL, &rr) != IMA_OK ||
	    ima_state_next_entry(at_new) != fresh.entry)
		die("cannot replay the first entries of %s", list_path);
	pcr = ima_state_pcr(at_new, &pcr_len);
	memcpy(pcr_new, pcr, pcr_len);
	ima_state_free(at_new);

	/* First round: fresh node, whole list, payload key learned, clock stored. */
	round_check(&in, &n, &first);
	clock0 = n.clock;

	/* First round again and again: node state back to "never attested". */
	t0 = cpu_us();
	for (long i = 0; i < iters; i++) {
		ima_state_reset(n.ima, BANK_SHA256);
		runtime_policy_eval_reset(n.rt_eval);
		n.has_clock = 0;
		round_check(&in, &n, &first);
	}
	t_first = (cpu_us() - t0) / (double)iters;

	/* No new entry: the node is at the end of the list, last clock from the first round. */
	round_check(&in, &n, &none);
	t0 = cpu_us();
	for (long i = 0; i < iters; i++) {
		n.clock = clock0;
		round_check(&in, &n, &none);
	}
	t_none = (cpu_us() - t0) / (double)iters;

	/* New entries: the node is E entries in. */
	t0 = cpu_us();
	for (long i = 0; i < iters; i++) {
		ima_state_set(n.ima, BANK_SHA256, fresh.entry, pcr_new, pcr_len, 0);
		n.clock = clock0;
		round_check(&in, &n, &fresh);
	}
	t_new = (cpu_us() - t0) / (double)iters;

	printf("n %ld\n", iters);
	printf("list_entries %llu\n", (unsigned long long)first.lines);
	printf("new_entries %llu\n", (unsigned long long)fresh.lines);
	printf("round_none_us %.1f\n", t_none);
	printf("round_new_us %.1f\n", t_new);
	printf("round_first_us %.1f\n", t_first);

	runtime_policy_eval_free(n.rt_eval);
	runtime_policy_unref(rt);
	ima_state_free(n.ima);
	quote_free(n.q);
	quote_ak_free(n.ak);
	EVP_PKEY_free(ak_pkey);
	free(n.pubkey);
	buf_free(&list);
	buf_free(&first.body);
	buf_free(&fresh.body);
	buf_free(&none.body);
	return 0;
}

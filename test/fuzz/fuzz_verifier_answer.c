/* Fuzz target: the agent's answer to a quote request as the verifier reads it, glue
 * included: attest_check() on one node, with every check that a node under a runtime
 * policy and a measured-boot policy runs (JSON envelope, algorithms, payload key, quote
 * decode and signature, nonce, PCR 16, clock, UEFI log replay and policy, IMA replay and
 * policy). The node is set up as the verifier does it, with the AK and nonce of the rsa
 * vector of test/unit/data/quote, so corpus answers built from that vector pass the
 * signature and reach the log checks. Each input starts from a fresh node state. The
 * measured-boot policy is made from test/data's real log when it is readable from the
 * working directory (make check replays from the repository top), else that check is
 * left out. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "common/base/buf.h"
#include "common/evidence/eventlog.h"
#include "common/evidence/ima.h"
#include "common/policy/mb_policy.h"
#include "common/policy/mb_policy_gen.h"
#include "common/evidence/quote.h"
#include "common/policy/runtime_policy.h"
#include "common/policy/runtime_policy_eval.h"
#include "verifier/attest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char ak_pem[] = "-----BEGIN PUBLIC KEY-----\n"
                             "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAp/7nc95vOkbSA0ICPydT\n"
                             "7V5R2oXQGzcVOOgAWPR1Jxw4Gb+2tpdYgTCZNs5O3syB0USZlqPHVPup3Z4rix7l\n"
                             "+NGhnCVMHP701SPIoHTMsqBLZJcwrxa/IzHlgVT7/X5XLGuYTOxic6LKWLPCgKfZ\n"
                             "u97isZaQg3hcUkSPRd1smLQUjMFGlGNBypAVGxTm+FsmnKl9xmHfHnPJR028izBN\n"
                             "BjJFxoFuZgEyMWbEZtF6jkZotdBrZBcX11x7whewInm00Sw1XhYcWu6Tn8bc4k0i\n"
                             "wzH3ZO6Ccp8uQ4WyoZtB3yocnL55HVJjGMtKncD0n9c+A481Y4tGcs34kEmdfD4d\n"
                             "6wIDAQAB\n"
                             "-----END PUBLIC KEY-----\n";
static const char rt_json[] =
    "{\"meta\": {\"version\": 1, \"generator\": 3}, \"release\": 0, "
    "\"digests\": {\"/usr/bin/true\": [\"0f4471d5949a9d2bb4ff6cfc7899f3f3778b37d7\"]}, "
    "\"excludes\": [\"/tmp/.*\"], \"keyrings\": {}, "
    "\"ima\": {\"ignored_keyrings\": [], \"log_hash_alg\": \"sha1\", \"dm_policy\": null}, "
    "\"ima-buf\": {}, \"verification-keys\": \"\"}";

static runtime_policy_t *rt;
static mb_policy_t *mb;
static EVP_PKEY *ak_pkey;
static quote_ak_t *ak;

static void setup(void)
{
	BIO *b = BIO_new_mem_buf(ak_pem, -1);
	buf_t log = BUF_INIT, pol = BUF_INIT;
	eventlog_t *ev;
	err_t e = {""};

	ak_pkey = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	BIO_free(b);
	if (ak_pkey == NULL || (ak = quote_ak_new(ak_pkey, &e)) == NULL)
		abort();
	rt = runtime_policy_parse(rt_json, strlen(rt_json), 0, &e);
	if (rt == NULL)
		abort();
	if (buf_read_file(&log, "test/data/eventlog/kl_binary_bios_measurements-secureboot",
	                  1 << 20) == 0 &&
	    (ev = eventlog_parse(log.data, log.len, &e)) != NULL) {
		if (mb_policy_create(ev, 0, &pol, &e) == 0)
			mb = mb_policy_load((const char *)pol.data, pol.len, &e);
		eventlog_free(ev);
	}
	buf_free(&log);
	buf_free(&pol);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	/* The node's round as verifier/node.c sets it up (node_attest_input), with every
	 * algorithm the verifier can be told to accept. */
	attest_input_t in = {
	    .uuid = "fuzz",
	    .nonce = "kl1Rq8vigilNonce2024",
	    .mask = 0x403 | (1u << 16),
	    .accept_hash = "sha256,sha384,sha512,sha1",
	    .accept_sign = "rsassa,ecdsa,rsapss",
	};
	attest_state_t st;
	attest_out_t out;

	if (!ready) {
		setup();
		ready = 1;
	}
	in.runtime = rt;
	in.mb = mb;
	memset(&st, 0, sizeof(st));
	st.ak = ak;
	st.q = quote_new();
	st.rt_eval = runtime_policy_eval_new(rt);
	/* Twice: the second round sees the state the first one left (position, clock, key). */
	for (int round = 0; round < 2; round++)
		attest_check(&in, &st, data, size, &out);
	ima_state_free(st.ima);
	runtime_policy_eval_free(st.rt_eval);
	quote_free(st.q);
	free(st.pubkey);
	free(st.mb_pcrs);
	return 0;
}

/* Fuzz target: the IMA ascii list parser and the PCR 10 replay, one-shot and in two
 * rounds, with a small runtime policy judging every entry (ima-sig headers, ima-buf key
 * buffers, excludes). Must never crash; the two-round replay must end where the one-shot
 * replay does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/evidence/ima.h"
#include "common/policy/runtime_policy.h"
#include "common/crypto/tpm2.h"
#include "common/policy/runtime_policy_eval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_policy[] =
    "{\"meta\": {\"version\": 1, \"generator\": 3}, \"release\": 0, "
    "\"digests\": {\"/init\": [\"19f13b42c2745066347e76454788c0fe083643f3\"]}, "
    "\"excludes\": [\"/tmp/.*\", \"/var/log/\\\\d+\"], \"keyrings\": {\".ima\": "
    "[\"96d7fae8adb7286a419a88f78c13d35fb782d63df654b7db56f154765698b754\"]}, "
    "\"ima\": {\"ignored_keyrings\": [\".builtin_trusted_keys\"], \"log_hash_alg\": \"sha1\", "
    "\"dm_policy\": null}, \"ima-buf\": {}, \"verification-keys\": \"\"}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static runtime_policy_t *pol;
	const char *text = (const char *)data;
	ima_state_t *a = ima_state_new(TPM2_ALG_SHA256_ID), *b = ima_state_new(TPM2_ALG_SHA256_ID);
	runtime_policy_eval_t *ev;
	ima_replay_result_t r1, r2;
	const char *mid;
	size_t half;
	err_t e;

	if (pol == NULL) {
		pol = runtime_policy_parse(fuzz_policy, sizeof(fuzz_policy) - 1, 0, &e);
		if (pol == NULL)
			abort();
	}
	ev = runtime_policy_eval_new(pol);
	(void)ima_replay(a, text, size, 0, NULL, 0, TPM2_ALG_SHA1_ID, runtime_policy_check_entry,
	                 ev, &r1);
	ima_state_reset(a, TPM2_ALG_SHA256_ID);
	(void)ima_replay(a, text, size, 0, NULL, 0, TPM2_ALG_SHA1_ID, NULL, NULL, &r1);

	/* Two rounds split after a newline near the middle: same end state when all is well. */
	mid = memchr(text + size / 2, '\n', size - size / 2);
	half = mid ? (size_t)(mid - text) + 1 : size;
	if (ima_replay(b, text, half, 0, NULL, 0, TPM2_ALG_SHA1_ID, NULL, NULL, &r2) == IMA_OK &&
	    r1.status == IMA_OK) {
		uint64_t next = ima_state_next_entry(b);

		if (ima_replay(b, text + half, size - half, next, NULL, 0, TPM2_ALG_SHA1_ID, NULL,
		               NULL, &r2) != IMA_OK &&
		    next != 0)
			abort();
		if (next != 0 && memcmp(ima_state_pcr(a, NULL), ima_state_pcr(b, NULL), 32) != 0)
			abort();
	}
	/* Against a quoted value taken from the input's first bytes: a mismatch, not a crash. */
	if (size >= 32)
		(void)ima_replay(b, text, size, 0, data, 32, TPM2_ALG_SHA256_ID, NULL, NULL, &r2);
	/* The persisted-state text parser and the learned-keys importer. */
	{
		ima_state_t *s = ima_state_parse(text, size, &e);

		ima_state_free(s);
		(void)runtime_policy_eval_keys_import(ev, text, size, &e);
	}
	runtime_policy_eval_free(ev);
	ima_state_free(a);
	ima_state_free(b);
	return 0;
}

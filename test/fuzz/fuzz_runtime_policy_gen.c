/* Fuzz target: 'vigilctl policy create runtime', the runtime-policy generator, over any
 * IMA ascii list, with the options the first byte picks (keyrings, ima-buf, an ignored
 * keyring, an exclude). Nothing may crash or leak; it refuses exactly the lists the
 * verifier's replay refuses; and with keyrings and ima-buf on and nothing excluded or
 * ignored, the policy it writes loads with the verifier's parser and passes the very list
 * it was made from. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/buf.h"
#include "common/evidence/ima.h"
#include "common/policy/runtime_policy.h"
#include "common/crypto/tpm2.h"
#include "common/policy/runtime_policy_eval.h"
#include "common/policy/runtime_policy_gen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const excl[] = {"/tmp/.*"};
	static const char *const ign[] = {".ima"};
	runtime_policy_gen_opts_t o;
	buf_t out = BUF_INIT;
	err_t e = {""};
	ima_state_t *st;
	ima_replay_result_t res;
	int gen, flags;

	if (size < 1)
		return 0;
	flags = data[0];
	memset(&o, 0, sizeof(o));
	o.with_keyrings = flags & 1;
	o.with_ima_buf = (flags >> 1) & 1;
	if (flags & 4) {
		o.excludes = excl;
		o.n_excludes = 1;
	}
	if (flags & 8) {
		o.ignored_keyrings = ign;
		o.n_ignored_keyrings = 1;
	}
	o.log_alg = flags & 16 ? TPM2_ALG_SHA256_ID : TPM2_ALG_SHA1_ID;
	o.timestamp = "fuzz";
	gen = runtime_policy_generate((const char *)data + 1, size - 1, &o, &out, &e);
	st = ima_state_new(TPM2_ALG_SHA256_ID);
	ima_status_t s = ima_replay(st, (const char *)data + 1, size - 1, 0, NULL, 0, o.log_alg,
	                            NULL, NULL, &res);
	if ((gen == 0) != (s == IMA_OK))
		abort(); /* one rule for both */
	if (gen == 0 && (flags & 15) == 3) {
		runtime_policy_t *p = runtime_policy_parse((char *)out.data, out.len, 0, &e);
		if (p == NULL)
			abort();
		runtime_policy_eval_t *ev = runtime_policy_eval_new(p);
		ima_state_reset(st, TPM2_ALG_SHA256_ID);
		s = ima_replay(st, (const char *)data + 1, size - 1, 0, NULL, 0, o.log_alg,
		               runtime_policy_check_entry, ev, &res);
		/* A key the verifier cannot use (neither RSA nor EC) fails there by design. */
		if (s != IMA_OK && strcmp(res.failure.event_id, "ima.invalid_key") != 0)
			abort();
		runtime_policy_eval_free(ev);
		runtime_policy_unref(p);
	}
	ima_state_free(st);
	buf_free(&out);
	return 0;
}

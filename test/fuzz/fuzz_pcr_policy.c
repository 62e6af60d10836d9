/* Fuzz target: PCR policy JSON parsing and checking against a fixed quote. */
#include <stdint.h>
#include <string.h>

#include "common/policy/pcr_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *fuzz_lookup(void *arg, int pcr, size_t *len)
{
	static const uint8_t zero[32];

	(void)arg;
	if (pcr % 3 == 0)
		return NULL;
	*len = 32;
	return zero;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	err_t e;
	const char *id;
	pcr_policy_t *p = pcr_policy_parse((const char *)data, size, &e);

	if (p) {
		(void)pcr_policy_check(p, fuzz_lookup, NULL, &id, &e);
		pcr_policy_free(p);
	}
	return 0;
}

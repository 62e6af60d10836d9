/* Fuzz target: Keylime runtime policy JSON (plain and DSSE-wrapped). Must never crash; a
 * policy that loads must judge entries of every template without crashing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/evidence/ima.h"
#include "common/policy/runtime_policy.h"
#include "common/policy/runtime_policy_eval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_lines[] = {
    "10 0000000000000000000000000000000000000000 ima-ng "
    "sha1:0000000000000000000000000000000000000000 boot_aggregate",
    "10 c156ebdcbfcd28fe1060ef4cdec0aab04d3a9b63 ima-ng "
    "sha1:19f13b42c2745066347e76454788c0fe083643f3 /init",
    "10 1111111111111111111111111111111111111111 ima-sig "
    "sha256:96d7fae8adb7286a419a88f78c13d35fb782d63df654b7db56f154765698b754 /usr/bin/x "
    "030204aabbccdd0002beef",
    "10 1111111111111111111111111111111111111111 ima-buf "
    "sha256:96d7fae8adb7286a419a88f78c13d35fb782d63df654b7db56f154765698b754 kexec-cmdline "
    "6162",
    "10 1111111111111111111111111111111111111111 ima 0123456789abcdef0123456789abcdef01234567 "
    "/tmp/x",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	err_t e;
	runtime_policy_t *p = runtime_policy_parse((const char *)data, size, 0, &e);
	runtime_policy_eval_t *ev;
	ima_entry_t ent;
	buf_t keys = BUF_INIT;

	if (p == NULL)
		return 0;
	ev = runtime_policy_eval_new(p);
	ima_entry_init(&ent);
	for (size_t i = 0; i < sizeof(fuzz_lines) / sizeof(fuzz_lines[0]); i++) {
		ima_failure_t f;

		if (ima_entry_parse(&ent, fuzz_lines[i], strlen(fuzz_lines[i]), &e) < 0)
			abort();
		(void)runtime_policy_check_entry(ev, &ent, &f);
	}
	runtime_policy_eval_keys_export(ev, &keys);
	buf_free(&keys);
	ima_entry_clear(&ent);
	runtime_policy_eval_free(ev);
	runtime_policy_unref(p);
	return 0;
}

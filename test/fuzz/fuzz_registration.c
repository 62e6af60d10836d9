/* Fuzz target: the registrar's registration and activation body parsers (registrar/enroll)
 * must never crash or leak, whatever the body; what they accept must be complete. The EK
 * CA store is the swtpm test root in test/fuzz/data/registration-ekca (or $VIGIL_FUZZ_EKCA),
 * so the corpus's real swtpm registrations reach the chain check and pass it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto/ekcert.h"
#include "common/base/log.h"
#include "registrar/enroll.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ekca_t *fuzz_ekca(void)
{
	static int loaded;
	static ekca_t *ca;
	const char *dir = getenv("VIGIL_FUZZ_EKCA");

	if (!loaded) {
		loaded = 1;
		ca = ekca_load_dir(dir ? dir : "test/fuzz/data/registration-ekca", NULL);
	}
	return ca;
}

static void check_one(const uint8_t *data, size_t size, const char *path_id,
                      const enroll_policy_t *pol)
{
	err_t e = {""};
	int status = 0;
	enroll_req_t *r = enroll_parse(data, size, path_id, pol, &status, &e);

	if (r == NULL) {
		/* A refusal always carries a reason and a 4xx status. */
		if (e.msg[0] == '\0' || status < 400 || status > 499)
			abort();
		/* It goes into log lines and JSON: printable ASCII only. */
		for (const char *p = e.msg; *p; p++)
			if (*p < 0x20 || *p > 0x7e)
				abort();
		return;
	}
	if (status != 200 || !enroll_id_is_valid(r->agent_id) || r->ek == NULL || r->ak == NULL ||
	    r->ek_tpm == NULL || r->aik_tpm == NULL || (pol->require_ek_cert && r->ekcert == NULL))
		abort();
	enroll_req_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enroll_policy_t strict = {fuzz_ekca(), 1};
	enroll_policy_t lax = {NULL, 0};
	char tag[ENROLL_MAX_AUTHTAG + 1];
	err_t e = {""};

	log_set_verbose(0);
	check_one(data, size, NULL, &strict);
	check_one(data, size, "d432fbb3-d2f1-4a97-9ef7-75bd81c00000", &strict);
	check_one(data, size, "other-agent", &lax);
	if (enroll_parse_auth_tag(data, size, tag, &e) == 0) {
		if (strlen(tag) != ENROLL_MAX_AUTHTAG ||
		    strspn(tag, "0123456789abcdef") != strlen(tag))
			abort();
	} else {
		for (const char *p = e.msg; *p; p++)
			if (*p < 0x20 || *p > 0x7e)
				abort();
	}
	return 0;
}

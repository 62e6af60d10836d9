/* Fuzz target: the registration's ekcert text (PEM chain or base64 DER). A parsed EK
 * certificate must survive the round trip through the registrar's base64 DER form, and
 * the EK profile checks (extensions, key type) must give a verdict with a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto/ekcert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	X509 *leaf = NULL, *again = NULL;
	STACK_OF(X509) *chain = NULL, *chain2 = NULL;
	err_t e = {""};
	char *b64 = NULL;

	if (ekcert_parse((const char *)data, size, &leaf, &chain, &e) < 0) {
		if (e.msg[0] == 0 || leaf != NULL || chain != NULL)
			abort();
		return 0;
	}
	e.msg[0] = 0;
	if (ekcert_check_profile(leaf, &e) < 0 && e.msg[0] == 0)
		abort();
	if (ekcert_to_b64der(leaf, &b64) == 0) {
		if (ekcert_parse(b64, strlen(b64), &again, &chain2, &e) < 0 ||
		    X509_cmp(leaf, again) != 0 || sk_X509_num(chain2) != 0)
			abort();
	}
	free(b64);
	X509_free(again);
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	sk_X509_pop_free(chain2, X509_free);
	return 0;
}

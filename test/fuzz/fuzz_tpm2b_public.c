/* Fuzz target: TPM2B_PUBLIC decoding and everything the registrar does with an agent's
 * key before trusting it (Name, OpenSSL key, SPKI PEM, AK rules, key comparison). A
 * decoded key's Name must be nameAlg || digest, and its bytes what was given. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/buf.h"
#include "common/crypto/tpm2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	err_t e = {""};
	buf_t name = BUF_INIT, pem = BUF_INIT;
	tpm2_pub_t *k = tpm2_pub_decode(data, size, &e);
	size_t n;

	if (k == NULL) {
		if (e.msg[0] == 0)
			abort(); /* every refusal says why */
		return 0;
	}
	if (tpm2_pub_bytes(k, &n) == NULL || n != size || memcmp(tpm2_pub_bytes(k, &n), data, n))
		abort();
	if (tpm2_pub_name(k, &name, &e) == 0 && name.len != 2 + tpm2_alg_size(tpm2_pub_name_alg(k)))
		abort();
	EVP_PKEY *pk = tpm2_pub_to_pkey(k, &e);
	if (pk != NULL && tpm2_pub_matches_pkey(k, pk) != 1)
		abort();
	(void)tpm2_pub_pem(k, &pem, &e);
	(void)tpm2_pub_check_ak(k, &e);
	(void)tpm2_pub_key_bits(k);
	EVP_PKEY_free(pk);
	tpm2_pub_free(k);
	buf_free(&name);
	buf_free(&pem);
	return 0;
}

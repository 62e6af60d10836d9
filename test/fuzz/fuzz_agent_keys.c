/* Fuzz target: the bodies a tenant or verifier POSTs to the agent's /keys/ukey and
 * /keys/vkey, and the challenge of /keys/verify (agent/keys.c). Every parse must end in
 * a clean accept or refusal, and an accepted ukey body must hold exactly what the
 * parser promises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/keys.h"
#include "common/base/buf.h"
#include "common/base/xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	keys_ukey_req_t req = {BUF_INIT, {0}, 0, BUF_INIT};
	char hmac[BOOTKEY_HMAC_HEX + 1], *text;
	buf_t enc = BUF_INIT;
	keys_t *k;
	err_t e;

	if (keys_parse_ukey(data, size, &req, &e) == 0) {
		/* base64 of at most KEYS_MAX_KEY_B64 characters decodes to at most 3/4 of it. */
		if (req.encrypted_key.len > KEYS_MAX_KEY_B64 / 4 * 3 ||
		    (!req.has_payload && req.payload.len != 0))
			abort();
	}
	keys_ukey_req_free(&req);
	if (keys_parse_vkey(data, size, &enc, &e) == 0 && enc.len > KEYS_MAX_KEY_B64 / 4 * 3)
		abort();
	buf_free(&enc);
	/* The challenge, before any key: never a 200. */
	text = xstrndup((const char *)data, size);
	k = keys_new(NULL, "fuzz-uuid", NULL, NULL);
	if (keys_verify(k, text, hmac, &e) == 200)
		abort();
	keys_free(k);
	free(text);
	return 0;
}

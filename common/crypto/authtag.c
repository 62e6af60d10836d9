/* authtag: HMAC-SHA-384 over the agent id, keyed with base64(credential). */
#include "common/crypto/authtag.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/base/buf.h"
#include "common/base/log.h"

int authtag_from_key(const char *key_b64, const char *agent_id, char out[AUTHTAG_HEX_LEN + 1])
{
	static const char hexd[] = "0123456789abcdef";
	unsigned char mac[48];
	size_t mlen = 0;
	int rv = -1;

	out[0] = '\0';
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA384", NULL, key_b64, strlen(key_b64),
	              (const unsigned char *)agent_id, strlen(agent_id), mac, sizeof(mac),
	              &mlen) == NULL ||
	    mlen != sizeof(mac)) {
		log_ssl("auth_tag: HMAC-SHA-384 failed");
		goto out;
	}
	for (size_t i = 0; i < mlen; i++) {
		out[2 * i] = hexd[mac[i] >> 4];
		out[2 * i + 1] = hexd[mac[i] & 15];
	}
	out[AUTHTAG_HEX_LEN] = '\0';
	rv = 0;
out:
	OPENSSL_cleanse(mac, sizeof(mac));
	return rv;
}

int authtag_from_credential(const uint8_t *cred, size_t len, const char *agent_id,
                            char out[AUTHTAG_HEX_LEN + 1])
{
	buf_t key = BUF_INIT;
	int rv;

	base64_encode(&key, cred, len);
	rv = authtag_from_key((const char *)key.data, agent_id, out);
	buf_free_secret(&key);
	return rv;
}

int authtag_matches(const char *key_b64, const char *agent_id, const char *tag)
{
	char want[AUTHTAG_HEX_LEN + 1];
	int ok;

	if (tag == NULL || strlen(tag) != AUTHTAG_HEX_LEN ||
	    authtag_from_key(key_b64, agent_id, want) < 0) {
		OPENSSL_cleanse(want, sizeof(want));
		return 0;
	}
	ok = mem_equal_ct(tag, want, AUTHTAG_HEX_LEN);
	OPENSSL_cleanse(want, sizeof(want));
	return ok;
}

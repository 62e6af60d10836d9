/* bootkey: RSA-OAEP shares, HMAC-SHA-384 tags and AES-GCM payloads (see bootkey.h). */
#include "common/crypto/bootkey.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"

int bootkey_len_ok(size_t len)
{
	return len == 16 || len == 32;
}

/* An OAEP context on key for encrypt (enc 1) or decrypt: SHA-1 and MGF1-SHA-1, the
 * defaults of Keylime's Python crypto.rsa_encrypt and of the Rust agent. */
static EVP_PKEY_CTX *oaep_ctx(EVP_PKEY *key, int enc)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);

	if (ctx == NULL || (enc ? EVP_PKEY_encrypt_init(ctx) : EVP_PKEY_decrypt_init(ctx)) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha1()) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha1()) <= 0) {
		EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int bootkey_unwrap(EVP_PKEY *priv, const uint8_t *in, size_t len, uint8_t out[BOOTKEY_MAX],
                   size_t *outlen, err_t *e)
{
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t *tmp = NULL;
	size_t n = 0, cap;
	int rv = -1;

	*outlen = 0;
	if (EVP_PKEY_get_base_id(priv) != EVP_PKEY_RSA) {
		err_set(e, "the payload key is not an RSA key");
		return -1;
	}
	cap = (size_t)EVP_PKEY_get_size(priv);
	if (len != cap) {
		err_set(e, "encrypted key is %zu bytes, not %zu (RSA-%d OAEP)", len, cap,
		        EVP_PKEY_get_bits(priv));
		return -1;
	}
	tmp = xmalloc(cap);
	n = cap;
	if ((ctx = oaep_ctx(priv, 0)) == NULL) {
		err_set_ssl(e, "cannot set up RSA-OAEP");
		goto out;
	}
	if (EVP_PKEY_decrypt(ctx, tmp, &n, in, len) <= 0) {
		err_set_ssl(e, "RSA-OAEP (SHA-1) decryption failed");
		goto out;
	}
	if (!bootkey_len_ok(n)) {
		err_set(e, "decrypted key is %zu bytes, not 16 or 32", n);
		goto out;
	}
	memcpy(out, tmp, n);
	*outlen = n;
	rv = 0;
out:
	OPENSSL_cleanse(tmp, cap);
	free(tmp);
	EVP_PKEY_CTX_free(ctx);
	return rv;
}

int bootkey_wrap(EVP_PKEY *pub, const uint8_t *share, size_t len, buf_t *out, err_t *e)
{
	EVP_PKEY_CTX *ctx = NULL;
	size_t n = 0;
	int rv = -1;

	if ((ctx = oaep_ctx(pub, 1)) == NULL || EVP_PKEY_encrypt(ctx, NULL, &n, share, len) <= 0) {
		err_set_ssl(e, "cannot set up RSA-OAEP");
		goto out;
	}
	buf_reserve(out, n);
	if (EVP_PKEY_encrypt(ctx, out->data + out->len, &n, share, len) <= 0) {
		err_set_ssl(e, "RSA-OAEP (SHA-1) encryption failed");
		goto out;
	}
	out->len += n;
	out->data[out->len] = 0;
	rv = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	return rv;
}

static int hmac384(const uint8_t *key, size_t klen, const void *msg, size_t mlen,
                   uint8_t mac[BOOTKEY_MAC_LEN])
{
	size_t n = 0;

	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA384", NULL, key, klen, msg, mlen, mac,
	              BOOTKEY_MAC_LEN, &n) == NULL ||
	    n != BOOTKEY_MAC_LEN) {
		log_ssl("bootkey: HMAC-SHA-384 failed");
		return -1;
	}
	return 0;
}

int bootkey_hmac_hex(const uint8_t *key, size_t klen, const void *msg, size_t mlen,
                     char out[BOOTKEY_HMAC_HEX + 1])
{
	static const char hexd[] = "0123456789abcdef";
	uint8_t mac[BOOTKEY_MAC_LEN];

	out[0] = '\0';
	if (hmac384(key, klen, msg, mlen, mac) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(mac); i++) {
		out[2 * i] = hexd[mac[i] >> 4];
		out[2 * i + 1] = hexd[mac[i] & 15];
	}
	out[BOOTKEY_HMAC_HEX] = '\0';
	OPENSSL_cleanse(mac, sizeof(mac));
	return 0;
}

int bootkey_hmac_matches(const uint8_t *key, size_t klen, const void *msg, size_t mlen,
                         const uint8_t mac[BOOTKEY_MAC_LEN])
{
	uint8_t want[BOOTKEY_MAC_LEN];
	int ok;

	ok = hmac384(key, klen, msg, mlen, want) == 0 &&
	     CRYPTO_memcmp(want, mac, BOOTKEY_MAC_LEN) == 0;
	OPENSSL_cleanse(want, sizeof(want));
	return ok;
}

static const EVP_CIPHER *gcm_for(size_t klen)
{
	return klen == 32 ? EVP_aes_256_gcm() : klen == 16 ? EVP_aes_128_gcm() : NULL;
}

int bootkey_open(const uint8_t *key, size_t klen, const uint8_t *in, size_t len, buf_t *plain,
                 err_t *e)
{
	const EVP_CIPHER *c = gcm_for(klen);
	EVP_CIPHER_CTX *ctx = NULL;
	const uint8_t *ct = in + BOOTKEY_IV_LEN;
	size_t ctlen;
	buf_t out = BUF_INIT;
	int n = 0, fin = 0, rv = -1;

	if (c == NULL) {
		err_set(e, "a key of %zu bytes (want 16 or 32)", klen);
		return -1;
	}
	if (len < BOOTKEY_IV_LEN + BOOTKEY_TAG_LEN) {
		err_set(e, "encrypted payload is %zu bytes, shorter than its IV and tag", len);
		return -1;
	}
	ctlen = len - BOOTKEY_IV_LEN - BOOTKEY_TAG_LEN;
	if (ctlen > (size_t)INT32_MAX) {
		err_set(e, "encrypted payload too large");
		return -1;
	}
	buf_reserve(&out, ctlen + 16);
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL || !EVP_DecryptInit_ex(ctx, c, NULL, NULL, NULL) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, BOOTKEY_IV_LEN, NULL) ||
	    !EVP_DecryptInit_ex(ctx, NULL, NULL, key, in) ||
	    !EVP_DecryptUpdate(ctx, out.data, &n, ct, (int)ctlen) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, BOOTKEY_TAG_LEN,
	                         (void *)(uintptr_t)(ct + ctlen))) {
		err_set_ssl(e, "AES-GCM decryption failed");
		goto out;
	}
	if (EVP_DecryptFinal_ex(ctx, out.data + n, &fin) <= 0) {
		err_set(e, "AES-GCM tag mismatch: the payload was altered or the key is wrong");
		goto out;
	}
	out.len = (size_t)n + (size_t)fin;
	out.data[out.len] = 0;
	buf_free_secret(plain);
	*plain = out;
	out = (buf_t)BUF_INIT;
	rv = 0;
out:
	if (out.data)
		OPENSSL_cleanse(out.data, out.cap);
	buf_free(&out);
	EVP_CIPHER_CTX_free(ctx);
	return rv;
}

int bootkey_seal(const uint8_t *key, size_t klen, const uint8_t *plain, size_t len, buf_t *out,
                 err_t *e)
{
	const EVP_CIPHER *c = gcm_for(klen);
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t iv[BOOTKEY_IV_LEN], *p;
	int n = 0, fin = 0, rv = -1;

	if (c == NULL || len > (size_t)INT32_MAX) {
		err_set(e, "bad key or payload length");
		return -1;
	}
	if (RAND_bytes(iv, sizeof(iv)) != 1) {
		err_set_ssl(e, "no random IV");
		return -1;
	}
	buf_reserve(out, sizeof(iv) + len + 16 + BOOTKEY_TAG_LEN);
	buf_append(out, iv, sizeof(iv));
	p = out->data + out->len;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL || !EVP_EncryptInit_ex(ctx, c, NULL, NULL, NULL) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, BOOTKEY_IV_LEN, NULL) ||
	    !EVP_EncryptInit_ex(ctx, NULL, NULL, key, iv) ||
	    !EVP_EncryptUpdate(ctx, p, &n, plain, (int)len) ||
	    !EVP_EncryptFinal_ex(ctx, p + n, &fin) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, BOOTKEY_TAG_LEN, p + n + fin)) {
		err_set_ssl(e, "AES-GCM encryption failed");
		out->len -= sizeof(iv);
		goto out;
	}
	out->len += (size_t)n + (size_t)fin + BOOTKEY_TAG_LEN;
	out->data[out->len] = 0;
	rv = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rv;
}

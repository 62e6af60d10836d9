/* Unit tests for the bootstrap key (agent/keys.c, common/crypto/bootkey.c): K = U xor V
 * in either order, among wrong shares, with 16- and 32-byte keys; the auth_tag check;
 * the bounded share lists; the request bodies; /keys/verify; and the AES-GCM payload
 * format (16-byte IV in front, tag behind). Shares are wrapped to a fresh RSA-2048 key
 * with bootkey_wrap, the tenant's half. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/rand.h>

#include "agent/keys.h"
#include "common/base/buf.h"
#include "common/crypto/bootkey.h"
#include "common/crypto/pki.h"

int main(void);

#define UUID "d432fbb3-d2f1-4a97-9ef7-75bd81c00000"

static EVP_PKEY *rsa;

/* What derived() was told. */
typedef struct got {
	int n;           /* calls */
	uint8_t k[32];   /* the last K */
	size_t klen;     /* its length */
	int had_payload; /* 1 when the last call had one */
	buf_t payload;   /* it */
} got_t;

static void on_derived(void *arg, const uint8_t *k, size_t klen, const uint8_t *payload,
                       size_t plen)
{
	got_t *g = arg;
	g->n++;
	memcpy(g->k, k, klen);
	g->klen = klen;
	g->had_payload = payload != NULL;
	buf_set(&g->payload, payload ? payload : (const uint8_t *)"", plen);
}

/* A tenant's case: K random, V random, U = K xor V, tag = HMAC(K, UUID). */
typedef struct tcase {
	uint8_t k[32], u[32], v[32], tag[BOOTKEY_MAC_LEN];
	size_t len;
} tcase_t;

static void make_case(tcase_t *c, size_t len)
{
	char hex[BOOTKEY_HMAC_HEX + 1];
	buf_t raw = BUF_INIT;

	c->len = len;
	RAND_bytes(c->k, (int)len);
	RAND_bytes(c->v, (int)len);
	for (size_t i = 0; i < len; i++)
		c->u[i] = c->k[i] ^ c->v[i];
	assert_int_equal(bootkey_hmac_hex(c->k, len, UUID, strlen(UUID), hex), 0);
	assert_int_equal(hex_decode(&raw, hex, BOOTKEY_HMAC_HEX), 0);
	memcpy(c->tag, raw.data, BOOTKEY_MAC_LEN);
	buf_free(&raw);
}

static void test_pairing(void **state)
{
	got_t g = {0};
	keys_t *k = keys_new(rsa, UUID, on_derived, &g);
	tcase_t a, b, c16;

	(void)state;
	make_case(&a, 32);
	make_case(&b, 32);
	make_case(&c16, 16);
	/* U then V. */
	assert_int_equal(keys_add_u(k, a.u, 32, a.tag, (const uint8_t *)"P", 1, 1), 0);
	assert_false(keys_have_key(k));
	assert_int_equal(keys_add_v(k, a.v, 32), 1);
	assert_true(keys_have_key(k));
	assert_int_equal(g.n, 1);
	assert_memory_equal(g.k, a.k, 32);
	assert_true(g.had_payload);
	assert_int_equal(g.payload.len, 1);
	assert_int_equal(keys_waiting_u(k) + keys_waiting_v(k), 0);
	/* V then U, a 16-byte key, after a wrong V and a wrong U (b's V with a's U...). */
	assert_int_equal(keys_add_v(k, b.v, 32), 0);
	assert_int_equal(keys_add_u(k, a.u, 32, a.tag, NULL, 0, 0), 0); /* a.u ^ b.v != a.k */
	assert_int_equal(keys_add_v(k, c16.v, 16), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(keys_add_u(k, c16.u, 16, c16.tag, NULL, 0, 0), 1);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.klen, 16);
	assert_memory_equal(g.k, c16.k, 16);
	assert_false(g.had_payload);
	/* A U with a tag that is not K's never pairs. */
	{
		uint8_t bad[BOOTKEY_MAC_LEN];
		memcpy(bad, b.tag, sizeof(bad));
		bad[0] ^= 1;
		assert_int_equal(keys_add_u(k, b.u, 32, bad, NULL, 0, 0), 0);
		assert_int_equal(keys_add_v(k, b.v, 32), 0);
		assert_int_equal(g.n, 2);
		assert_memory_equal(g.k, c16.k, 16); /* the old K stays */
		/* The right U with the same V kept: found among the wrong ones. */
		assert_int_equal(keys_add_u(k, b.u, 32, b.tag, NULL, 0, 0), 1);
		assert_memory_equal(g.k, b.k, 32);
	}
	keys_free(k);
	buf_free(&g.payload);
}

static void test_bounded(void **state)
{
	got_t g = {0};
	keys_t *k = keys_new(rsa, UUID, on_derived, &g);
	tcase_t a, junk;

	(void)state;
	make_case(&a, 32);
	assert_int_equal(keys_add_u(k, a.u, 32, a.tag, NULL, 0, 0), 0);
	/* KEYS_MAX_SHARES more U shares push a's out. */
	for (int i = 0; i < KEYS_MAX_SHARES; i++) {
		make_case(&junk, 32);
		assert_int_equal(keys_add_u(k, junk.u, 32, junk.tag, NULL, 0, 0), 0);
	}
	assert_int_equal(keys_waiting_u(k), KEYS_MAX_SHARES);
	assert_int_equal(keys_add_v(k, a.v, 32), 0);
	assert_int_equal(g.n, 0);
	/* a's U again: found. */
	assert_int_equal(keys_add_u(k, a.u, 32, a.tag, NULL, 0, 0), 1);
	keys_free(k);
	buf_free(&g.payload);
}

/* A ukey body for case c (tag hex, U wrapped), with payload text if not NULL. */
static char *ukey_body(const tcase_t *c, const char *payload_b64)
{
	buf_t enc = BUF_INIT, b64 = BUF_INIT, tag = BUF_INIT;
	char *out;

	assert_int_equal(bootkey_wrap(rsa, c->u, c->len, &enc, NULL), 0);
	base64_encode(&b64, enc.data, enc.len);
	hex_encode(&tag, c->tag, BOOTKEY_MAC_LEN);
	if (asprintf(&out, "{\"auth_tag\": \"%s\", \"encrypted_key\": \"%s\"%s%s%s}", tag.data,
	             b64.data, payload_b64 ? ", \"payload\": \"" : "",
	             payload_b64 ? payload_b64 : "", payload_b64 ? "\"" : "") < 0)
		fail();
	buf_free(&enc);
	buf_free(&b64);
	buf_free(&tag);
	return out;
}

static char *vkey_body(const uint8_t *v, size_t len)
{
	buf_t enc = BUF_INIT, b64 = BUF_INIT;
	char *out;

	assert_int_equal(bootkey_wrap(rsa, v, len, &enc, NULL), 0);
	base64_encode(&b64, enc.data, enc.len);
	if (asprintf(&out, "{\"encrypted_key\": \"%s\"}", b64.data) < 0)
		fail();
	buf_free(&enc);
	buf_free(&b64);
	return out;
}

static int post(keys_t *k, int u, const char *body, err_t *e)
{
	e->msg[0] = '\0';
	return u ? keys_post_ukey(k, (const uint8_t *)body, strlen(body), "test", e)
	         : keys_post_vkey(k, (const uint8_t *)body, strlen(body), "test", e);
}

static void test_routes(void **state)
{
	got_t g = {0};
	keys_t *k = keys_new(rsa, UUID, on_derived, &g);
	char hex[BOOTKEY_HMAC_HEX + 1], want[BOOTKEY_HMAC_HEX + 1], *ub, *vb;
	tcase_t a;
	err_t e;
	uint8_t odd[24] = {0};

	(void)state;
	make_case(&a, 32);
	assert_int_equal(keys_verify(k, "abc123", hex, &e), 400);
	assert_string_equal(e.msg, "Bootstrap key not yet available.");
	assert_int_equal(keys_verify(k, "", hex, &e), 400);
	assert_int_equal(keys_verify(k, NULL, hex, &e), 400);
	assert_int_equal(keys_verify(k, "a-b", hex, &e), 400);
	/* Refusals: nothing kept. */
	assert_int_equal(post(k, 1, "{\"auth_tag\": \"00\"}", &e), 400);
	assert_string_equal(e.msg, "missing encrypted_key");
	assert_int_equal(post(k, 1, "[1]", &e), 400);
	assert_int_equal(post(k, 1, "{\"encrypted_key\": \"%%%\", \"auth_tag\": \"\"}", &e), 400);
	assert_string_equal(e.msg, "invalid base64 in encrypted_key");
	assert_int_equal(post(k, 0, "{\"encrypted_key\": 5}", &e), 400);
	assert_int_equal(
	    post(k, 0, "{\"encrypted_key\": \"AAAA\", \"encrypted_key\": \"AAAA\"}", &e), 400);
	assert_non_null(strstr(e.msg, "not JSON"));
	assert_int_equal(post(k, 0, "{\"encrypted_key\": \"AAAA\"}", &e), 400);
	assert_non_null(strstr(e.msg, "not 256"));
	vb = vkey_body(odd, sizeof(odd)); /* decrypts, but 24 bytes */
	assert_int_equal(post(k, 0, vb, &e), 400);
	assert_non_null(strstr(e.msg, "not 16 or 32"));
	free(vb);
	ub = ukey_body(&a, "!!!!");
	assert_int_equal(post(k, 1, ub, &e), 400);
	assert_string_equal(e.msg, "invalid base64 in payload");
	free(ub);
	assert_int_equal(keys_waiting_u(k) + keys_waiting_v(k), 0);
	/* The real thing (no payload). */
	ub = ukey_body(&a, NULL);
	assert_int_equal(post(k, 1, ub, &e), 200);
	free(ub);
	vb = vkey_body(a.v, 32);
	assert_int_equal(post(k, 0, vb, &e), 200);
	free(vb);
	assert_int_equal(g.n, 1);
	assert_int_equal(keys_verify(k, "Challenge20Chars1234", hex, &e), 200);
	assert_int_equal(bootkey_hmac_hex(a.k, 32, "Challenge20Chars1234", 20, want), 0);
	assert_string_equal(hex, want);
	keys_free(k);
	buf_free(&g.payload);
}

static void test_gcm(void **state)
{
	uint8_t key[32], key16[16];
	buf_t sealed = BUF_INIT, plain = BUF_INIT;
	err_t e = {""};
	const char *text = "a secret payload";

	(void)state;
	RAND_bytes(key, sizeof(key));
	RAND_bytes(key16, sizeof(key16));
	assert_int_equal(bootkey_seal(key, 32, (const uint8_t *)text, strlen(text), &sealed, &e),
	                 0);
	assert_int_equal(sealed.len, BOOTKEY_IV_LEN + strlen(text) + BOOTKEY_TAG_LEN);
	assert_int_equal(bootkey_open(key, 32, sealed.data, sealed.len, &plain, &e), 0);
	assert_int_equal(plain.len, strlen(text));
	assert_memory_equal(plain.data, text, plain.len);
	/* Any flipped bit (IV, ciphertext, tag) or the wrong key: refused, plain untouched. */
	for (size_t i = 0; i < sealed.len; i++) {
		sealed.data[i] ^= 0x10;
		assert_int_equal(bootkey_open(key, 32, sealed.data, sealed.len, &plain, &e), -1);
		sealed.data[i] ^= 0x10;
	}
	assert_memory_equal(plain.data, text, plain.len);
	assert_int_equal(bootkey_open(key16, 16, sealed.data, sealed.len, &plain, &e), -1);
	assert_int_equal(bootkey_open(key, 32, sealed.data, 31, &plain, &e), -1);
	assert_int_equal(bootkey_open(key, 24, sealed.data, sealed.len, &plain, &e), -1);
	/* AES-128 too. */
	buf_reset(&sealed);
	assert_int_equal(bootkey_seal(key16, 16, (const uint8_t *)"", 0, &sealed, &e), 0);
	assert_int_equal(bootkey_open(key16, 16, sealed.data, sealed.len, &plain, &e), 0);
	assert_int_equal(plain.len, 0);
	buf_free(&sealed);
	buf_free(&plain);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pairing),
	    cmocka_unit_test(test_bounded),
	    cmocka_unit_test(test_routes),
	    cmocka_unit_test(test_gcm),
	};
	int rv;

	rsa = pki_key_new(PKI_KEY_RSA2048);
	rv = cmocka_run_group_tests(tests, NULL, NULL);
	EVP_PKEY_free(rsa);
	return rv;
}

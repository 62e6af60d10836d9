/* Unit tests for common/crypto/ear: a verdict signed as a JWT and as a CWT verifies and
 * reads back as the same claims; the CWT claims are byte for byte a hand-computed
 * deterministic CBOR encoding; every way a token can be wrong (an altered byte, another
 * key, an old or future iat, another profile, another alg, a cut or padded envelope) is
 * refused with its own outcome, a reason and no claims; the key is made once and kept.
 * (Libraries no one here wrote check our tokens in test/integration/t_ear.sh.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/ec.h>

#include "common/crypto/ear.h"
#include "common/crypto/pki.h"

int main(void);

#define NOW 1700000000

static const ear_policy_ref_t policies[] = {
    {"pcr", "fleet-pcrs", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
    {"runtime", "golden", "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"},
};

static ear_node_t sample_node(void)
{
	ear_node_t n = {0};

	n.uuid = "d432fbb3-d2f1-4a97-9ef7-75bd81c00000";
	n.status = EAR_AFFIRMING;
	ear_node_tv_set(&n, EAR_TV_INSTANCE_IDENTITY, EAR_II_RECOGNIZED);
	ear_node_tv_set(&n, EAR_TV_HARDWARE, EAR_HW_GENUINE);
	ear_node_tv_set(&n, EAR_TV_CONFIGURATION, EAR_CFG_APPROVED);
	ear_node_tv_set(&n, EAR_TV_EXECUTABLES, EAR_EXE_APPROVED_RT);
	ear_node_tv_set(&n, EAR_TV_FILE_SYSTEM, EAR_FS_APPROVED);
	n.policy_id = "vigil:runtime/golden";
	n.quote_time = NOW - 5;
	n.reset_count = 3;
	n.policies = policies;
	n.n_policies = 2;
	return n;
}

static ear_claims_t sample_claims(const ear_node_t *n, int64_t iat)
{
	static const uint8_t raw[] = {'r', 0x00, 0xff, 'q'};
	ear_claims_t c = {0};

	c.iat = iat;
	c.developer = "https://github.com/vigil";
	c.build = "vigil-verifier test";
	c.raw_evidence = raw;
	c.raw_evidence_len = sizeof(raw);
	c.nodes = n;
	c.n_nodes = 1;
	return c;
}

static EVP_PKEY *key_a, *key_b;

static int setup(void **state)
{
	(void)state;
	key_a = pki_key_new(PKI_KEY_EC256);
	key_b = pki_key_new(PKI_KEY_EC256);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(key_a);
	EVP_PKEY_free(key_b);
	return 0;
}

static const ear_window_t win = {NOW, 300, 60};

static void sign(ear_format_t f, int64_t iat, buf_t *out)
{
	ear_node_t n = sample_node();
	ear_claims_t c = sample_claims(&n, iat);
	err_t e = {""};

	assert_int_equal(ear_sign(&c, f, key_a, out, &e), 0);
}

/* verify, and check the invariants of every outcome: claims exactly on success, a reason
 * on failure. */
static ear_rc_t check(const buf_t *tok, EVP_PKEY *k, const ear_window_t *w, json_t **claims)
{
	err_t e = {""};
	json_t *c = NULL;
	ear_rc_t rc = ear_verify(tok->data, tok->len, k, w, &c, NULL, &e);

	if (rc == EAR_OK) {
		assert_non_null(c);
	} else {
		assert_null(c);
		assert_true(e.msg[0] != '\0');
	}
	if (claims)
		*claims = c;
	else
		json_decref(c);
	return rc;
}

static void test_round_trip(void **state)
{
	buf_t jwt = BUF_INIT, cwt = BUF_INIT;
	json_t *a, *b, *sub;
	ear_format_t f;
	err_t e = {""};
	(void)state;

	sign(EAR_FORMAT_JWT, NOW, &jwt);
	sign(EAR_FORMAT_CWT, NOW, &cwt);
	assert_int_equal(check(&jwt, key_a, &win, &a), EAR_OK);
	assert_int_equal(check(&cwt, key_a, &win, &b), EAR_OK);
	/* The CWT reads back as exactly the claims of the JWT. */
	assert_true(json_equal(a, b));
	assert_string_equal(json_string_value(json_object_get(a, "eat_profile")), EAR_PROFILE);
	assert_int_equal(json_integer_value(json_object_get(a, "iat")), NOW);
	assert_string_equal(json_string_value(json_object_get(a, "ear.raw-evidence")), "cgD_cQ");
	sub =
	    json_object_get(json_object_get(a, "submods"), "d432fbb3-d2f1-4a97-9ef7-75bd81c00000");
	assert_non_null(sub);
	assert_string_equal(json_string_value(json_object_get(sub, "ear.status")), "affirming");
	assert_int_equal(json_integer_value(json_object_get(
	                     json_object_get(sub, "ear.trustworthiness-vector"), "hardware")),
	                 2);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(sub, EAR_VIGIL_CLAIM),
	                                                    "tpm-reset-count")),
	                 3);
	json_decref(a);
	json_decref(b);

	/* A JWT read from a file ends in a newline. */
	buf_append(&jwt, "\n", 1);
	assert_int_equal(ear_verify(jwt.data, jwt.len, key_a, &win, &a, &f, &e), EAR_OK);
	assert_int_equal(f, EAR_FORMAT_JWT);
	json_decref(a);
	/* The JWT's header is exactly what the brief says. */
	assert_memory_equal(jwt.data, "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.", 37);
	buf_free(&jwt);
	buf_free(&cwt);
}

/* The claims of the smallest node verdict, by hand (RFC 8949 §4.2.1: shortest forms,
 * definite lengths, keys in bytewise order of their encodings, so 6 < 265 < 266 < 1004 and,
 * in the appraisal, 1000 < 1001 < -70400). */
static void test_cbor_vector(void **state)
{
	static const uint8_t want[] = {
	    0xa4,                                                           /* map(4) */
	    0x06, 0x1a, 0x65, 0x53, 0xf1, 0x00,                             /* 6: 1700000000 */
	    0x19, 0x01, 0x09, 0x78, 0x20, 't',  'a',  'g',  ':',  'g', 'i', /* 265: profile */
	    't',  'h',  'u',  'b',  '.',  'c',  'o',  'm',  ',',  '2', '0', '2', '3',
	    ':',  'v',  'e',  'r',  'a',  'i',  's',  'o',  'n',  '/', 'e', 'a', 'r', /* */
	    0x19, 0x01, 0x0a, 0xa1, 0x61, 'n',              /* 266: {"n": */
	    0xa3,                                           /* map(3) */
	    0x19, 0x03, 0xe8, 0x02,                         /* 1000: 2 (affirming) */
	    0x19, 0x03, 0xe9, 0xa2, 0x00, 0x02, 0x04, 0x02, /* 1001: {0: 2, 4: 2} */
	    0x3a, 0x00, 0x01, 0x12, 0xff,                   /* -70400: */
	    0xa1, 0x69, 'n',  'o',  'd',  'e',  '-',  'u',  'u',  'i', 'd', /* {"node-uuid": */
	    0x61, 'n',                                                      /* "n"}} */
	    0x19, 0x03, 0xec, 0xa2, 0x00, 0x61, 'd',  0x01, 0x61, 'b', /* 1004: {0:"d",1:"b"} */
	};
	ear_node_t n = {0};
	ear_claims_t c = {0};
	buf_t out = BUF_INIT;
	err_t e = {""};
	(void)state;

	n.uuid = "n";
	n.status = EAR_AFFIRMING;
	n.quote_time = n.reset_count = -1;
	ear_node_tv_set(&n, EAR_TV_HARDWARE, EAR_HW_GENUINE);
	ear_node_tv_set(&n, EAR_TV_INSTANCE_IDENTITY, EAR_II_RECOGNIZED);
	c.iat = NOW;
	c.developer = "d";
	c.build = "b";
	c.nodes = &n;
	c.n_nodes = 1;
	assert_int_equal(ear_claims_encode(&c, EAR_FORMAT_CWT, &out, &e), 0);
	assert_int_equal(out.len, sizeof(want));
	assert_memory_equal(out.data, want, sizeof(want));

	/* The envelope: tag 18, array(4), bstr {1: -7}, {}, bstr payload, bstr(64). */
	assert_int_equal(ear_sign(&c, EAR_FORMAT_CWT, key_a, &out, &e), 0);
	assert_memory_equal(out.data, "\xd2\x84\x43\xa1\x01\x26\xa0\x58\x5b", 9);
	assert_memory_equal(out.data + 9, want, sizeof(want));
	assert_int_equal(out.len, 9 + sizeof(want) + 2 + 64);
	assert_memory_equal(out.data + 9 + sizeof(want), "\x58\x40", 2);
	buf_free(&out);
}

static void flip(buf_t *t, size_t i, int f)
{
	if (f == EAR_FORMAT_JWT)
		t->data[i] = t->data[i] == 'A' ? 'B' : 'A';
	else
		t->data[i] ^= 0x01;
}

static void test_refusals(void **state)
{
	buf_t t = BUF_INIT;
	ear_window_t w = win;
	(void)state;

	for (int f = EAR_FORMAT_JWT; f <= EAR_FORMAT_CWT; f++) {
		sign((ear_format_t)f, NOW, &t);
		/* another key */
		assert_int_equal(check(&t, key_b, &win, NULL), EAR_ERR_SIGNATURE);
		/* an altered byte in the middle of the payload, then in the signature (a JWT's
		 * stays base64url) */
		flip(&t, t.len / 2, f);
		assert_int_equal(check(&t, key_a, &win, NULL), EAR_ERR_SIGNATURE);
		sign((ear_format_t)f, NOW, &t);
		flip(&t, t.len - 3, f);
		assert_int_equal(check(&t, key_a, &win, NULL), EAR_ERR_SIGNATURE);
		/* too old, from the future, and just inside both limits */
		sign((ear_format_t)f, NOW - 301, &t);
		assert_int_equal(check(&t, key_a, &win, NULL), EAR_ERR_EXPIRED);
		w.max_age = 0; /* no limit */
		assert_int_equal(check(&t, key_a, &w, NULL), EAR_OK);
		w.max_age = win.max_age;
		sign((ear_format_t)f, NOW - 300, &t);
		assert_int_equal(check(&t, key_a, &win, NULL), EAR_OK);
		sign((ear_format_t)f, NOW + 61, &t);
		assert_int_equal(check(&t, key_a, &win, NULL), EAR_ERR_FUTURE);
		sign((ear_format_t)f, NOW + 60, &t);
		assert_int_equal(check(&t, key_a, &win, NULL), EAR_OK);
		/* cut short, and with a byte too many */
		sign((ear_format_t)f, NOW, &t);
		t.len -= 1;
		assert_true(check(&t, key_a, &win, NULL) != EAR_OK);
		t.len += 1;
		buf_append(&t, f == EAR_FORMAT_JWT ? "." : "\x00", 1);
		assert_int_equal(check(&t, key_a, &win, NULL), EAR_ERR_MALFORMED);
	}
	/* neither encoding */
	buf_set(&t, "hello world", 11);
	assert_int_equal(check(&t, key_a, &win, NULL), EAR_ERR_MALFORMED);
	buf_set(&t, "", 0);
	assert_int_equal(check(&t, key_a, &win, NULL), EAR_ERR_MALFORMED);
	buf_free(&t);
}

/* ---- tokens made by hand, to say what our signer never would ---- */

static void es256(const uint8_t *msg, size_t len, uint8_t sig[64])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned char der[80];
	const unsigned char *dp = der;
	size_t n = sizeof(der);
	ECDSA_SIG *es;
	const BIGNUM *r, *s;

	assert_int_equal(EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, key_a), 1);
	assert_int_equal(EVP_DigestSign(c, der, &n, msg, len), 1);
	es = d2i_ECDSA_SIG(NULL, &dp, (long)n);
	ECDSA_SIG_get0(es, &r, &s);
	BN_bn2binpad(r, sig, 32);
	BN_bn2binpad(s, sig + 32, 32);
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(c);
}

static void jwt_by_hand(const char *header, const char *payload, buf_t *out)
{
	uint8_t sig[64];

	buf_reset(out);
	base64url_encode(out, header, strlen(header));
	buf_append(out, ".", 1);
	base64url_encode(out, payload, strlen(payload));
	es256(out->data, out->len, sig);
	buf_append(out, ".", 1);
	base64url_encode(out, sig, 64);
}

/* COSE_Sign1 of payload with protected header prot (p_len bytes of CBOR). */
static void cwt_by_hand(const uint8_t *prot, size_t p_len, const buf_t *payload, buf_t *out)
{
	buf_t tbs = BUF_INIT;
	uint8_t sig[64];

	assert_true(p_len < 24 && payload->len < 65536);
	buf_set(&tbs, "\x84\x6aSignature1", 12);
	buf_append(&tbs, (uint8_t[]){(uint8_t)(0x40 + p_len)}, 1);
	buf_append(&tbs, prot, p_len);
	buf_append(&tbs, "\x40\x59", 2);
	buf_append_u16be(&tbs, (uint16_t)payload->len);
	buf_append(&tbs, payload->data, payload->len);
	es256(tbs.data, tbs.len, sig);
	buf_set(out, "\xd2\x84", 2);
	buf_append(out, (uint8_t[]){(uint8_t)(0x40 + p_len)}, 1);
	buf_append(out, prot, p_len);
	buf_append(out, "\xa0\x59", 2);
	buf_append_u16be(out, (uint16_t)payload->len);
	buf_append(out, payload->data, payload->len);
	buf_append(out, "\x58\x40", 2);
	buf_append(out, sig, 64);
	buf_free(&tbs);
}

static void test_by_hand(void **state)
{
	static const char es256_hdr[] = "{\"alg\":\"ES256\",\"typ\":\"JWT\"}";
	static const uint8_t es256_prot[] = {0xa1, 0x01, 0x26};
	static const uint8_t es384_prot[] = {0xa1, 0x01, 0x38, 0x22};
	ear_node_t n = sample_node();
	ear_claims_t c = sample_claims(&n, NOW);
	buf_t t = BUF_INIT, p = BUF_INIT;
	err_t e = {""};
	char *s;
	(void)state;

	/* What we sign, signed by hand, verifies (the two signers agree). */
	assert_int_equal(ear_claims_encode(&c, EAR_FORMAT_JWT, &p, &e), 0);
	jwt_by_hand(es256_hdr, (const char *)p.data, &t);
	assert_int_equal(check(&t, key_a, &win, NULL), EAR_OK);
	/* alg none, HS256, crit */
	jwt_by_hand("{\"alg\":\"none\"}", (const char *)p.data, &t);
	assert_int_equal(check(&t, key_a, &win, NULL), EAR_ERR_ALG);
	jwt_by_hand("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", (const char *)p.data, &t);
	assert_int_equal(check(&t, key_a, &win, NULL), EAR_ERR_ALG);
	jwt_by_hand("{\"alg\":\"ES256\",\"crit\":[\"b64\"]}", (const char *)p.data, &t);
	assert_int_equal(check(&t, key_a, &win, NULL), EAR_ERR_ALG);
	/* another profile, and none */
	s = strdup((const char *)p.data);
	memcpy(strstr(s, "veraison/ear"), "veraison/eaX", 12);
	jwt_by_hand(es256_hdr, s, &t);
	assert_int_equal(check(&t, key_a, &win, NULL), EAR_ERR_PROFILE);
	memcpy(strstr(s, "eat_profile"), "eat_profilX", 11);
	jwt_by_hand(es256_hdr, s, &t);
	assert_int_equal(check(&t, key_a, &win, NULL), EAR_ERR_PROFILE);
	free(s);
	/* signed claims of the wrong shape */
	jwt_by_hand(es256_hdr,
	            "{\"eat_profile\":\"" EAR_PROFILE "\",\"iat\":1700000000,"
	            "\"ear.verifier-id\":{\"developer\":\"d\",\"build\":\"b\"},\"submods\":{}}",
	            &t);
	assert_int_equal(check(&t, key_a, &win, NULL), EAR_ERR_CLAIMS);
	jwt_by_hand(es256_hdr,
	            "{\"eat_profile\":\"" EAR_PROFILE "\",\"iat\":1700000000.5,"
	            "\"ear.verifier-id\":{\"developer\":\"d\",\"build\":\"b\"},"
	            "\"submods\":{\"n\":{\"ear.status\":\"affirming\"}}}",
	            &t);
	assert_int_equal(check(&t, key_a, &win, NULL), EAR_ERR_CLAIMS);
	jwt_by_hand(es256_hdr,
	            "{\"eat_profile\":\"" EAR_PROFILE "\",\"iat\":1700000000,"
	            "\"ear.verifier-id\":{\"developer\":\"d\",\"build\":\"b\"},"
	            "\"submods\":{\"n\":{\"ear.status\":\"affirming\","
	            "\"ear.trustworthiness-vector\":{\"executables\":96}}}}",
	            &t);
	assert_int_equal(check(&t, key_a, &win, NULL), EAR_ERR_CLAIMS);

	/* The CWT twins: by hand verifies; another profile; ES384 in the header. */
	assert_int_equal(ear_claims_encode(&c, EAR_FORMAT_CWT, &p, &e), 0);
	cwt_by_hand(es256_prot, sizeof(es256_prot), &p, &t);
	assert_int_equal(check(&t, key_a, &win, NULL), EAR_OK);
	cwt_by_hand(es384_prot, sizeof(es384_prot), &p, &t);
	assert_int_equal(check(&t, key_a, &win, NULL), EAR_ERR_ALG);
	cwt_by_hand((const uint8_t *)"\xa0", 1, &p, &t);
	assert_int_equal(check(&t, key_a, &win, NULL), EAR_ERR_ALG);
	memcpy(memmem(p.data, p.len, "veraison/ear", 12), "veraison/eaX", 12);
	cwt_by_hand(es256_prot, sizeof(es256_prot), &p, &t);
	assert_int_equal(check(&t, key_a, &win, NULL), EAR_ERR_PROFILE);
	buf_free(&t);
	buf_free(&p);
}

static void test_input_rules(void **state)
{
	ear_node_t n = sample_node(), two[2];
	ear_claims_t c = sample_claims(&n, NOW);
	buf_t t = BUF_INIT;
	err_t e = {""};
	(void)state;

	/* a status better than its worst claim (draft §3.1) */
	ear_node_tv_set(&n, EAR_TV_EXECUTABLES, EAR_EXE_UNRECOGNIZED_RT);
	assert_int_equal(ear_sign(&c, EAR_FORMAT_JWT, key_a, &t, &e), -1);
	assert_non_null(strstr(e.msg, "better than its worst claim"));
	assert_int_equal(ear_node_worst(&n), EAR_WARNING);
	n.status = EAR_WARNING;
	assert_int_equal(ear_sign(&c, EAR_FORMAT_CWT, key_a, &t, &e), 0);
	/* the same node twice; no node; a signing key that is not P-256 */
	two[0] = two[1] = n;
	c.nodes = two;
	c.n_nodes = 2;
	assert_int_equal(ear_sign(&c, EAR_FORMAT_CWT, key_a, &t, &e), -1);
	c.n_nodes = 0;
	assert_int_equal(ear_sign(&c, EAR_FORMAT_CWT, key_a, &t, &e), -1);
	/* tiers of claim values (ar4si §2.3.2) */
	assert_int_equal(ear_tier_of(0), EAR_NONE);
	assert_int_equal(ear_tier_of(-1), EAR_NONE);
	assert_int_equal(ear_tier_of(2), EAR_AFFIRMING);
	assert_int_equal(ear_tier_of(33), EAR_WARNING);
	assert_int_equal(ear_tier_of(96), EAR_CONTRAINDICATED);
	assert_int_equal(ear_tier_of(99), EAR_CONTRAINDICATED);
	buf_free(&t);
}

static void test_key(void **state)
{
	char dir[] = "/tmp/vigil-test-ear-XXXXXX", path[64];
	EVP_PKEY *k1, *k2, *pub;
	buf_t p1 = BUF_INIT, p2 = BUF_INIT;
	struct stat sb;
	int created;
	err_t e = {""};
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/report.key", dir);
	k1 = ear_key_load_or_create(path, &created, &e);
	assert_non_null(k1);
	assert_int_equal(created, 1);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	k2 = ear_key_load_or_create(path, &created, &e);
	assert_non_null(k2);
	assert_int_equal(created, 0);
	assert_int_equal(ear_key_public_pem(k1, &p1), 0);
	assert_int_equal(ear_key_public_pem(k2, &p2), 0);
	assert_int_equal(p1.len, p2.len);
	assert_memory_equal(p1.data, p2.data, p1.len);
	assert_non_null(strstr((const char *)p1.data, "BEGIN PUBLIC KEY"));
	pub = ear_key_from_pem((const char *)p1.data, p1.len, &e);
	assert_non_null(pub);
	assert_null(ear_key_from_pem("junk", 4, &e));
	EVP_PKEY_free(pub);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	buf_free(&p1);
	buf_free(&p2);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),  cmocka_unit_test(test_cbor_vector),
	    cmocka_unit_test(test_refusals),    cmocka_unit_test(test_by_hand),
	    cmocka_unit_test(test_input_rules), cmocka_unit_test(test_key),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

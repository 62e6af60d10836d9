/* Unit tests for common/quote against real quotes recorded from swtpm with tpm2-tools
 * (test/unit/data/quote/make-vectors.sh): good quotes pass, every tampering is caught
 * with its own status, and encoders reproduce tpm2-tools' bytes exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/base/buf.h"
#include "common/base/err.h"
#include "common/evidence/quote.h"

int main(void);

#define SHA1   0x0004
#define SHA256 0x000B
#define SHA384 0x000C

/* One recorded vector. */
typedef struct vec {
	buf_t attest; /* TPMS_ATTEST */
	buf_t sig;    /* TPMT_SIGNATURE */
	buf_t pcrs;   /* PCR blob */
	buf_t str;    /* Keylime quote string */
	EVP_PKEY *ak; /* the AK from ak.pem */
} vec_t;

static buf_t nonce, payload_pem;

static void read_data(buf_t *b, const char *dir, const char *name)
{
	char path[512];
	const char *top = getenv("TOP");

	snprintf(path, sizeof(path), "%s%stest/unit/data/quote/%s%s%s", top ? top : "",
	         top ? "/" : "", dir, *dir ? "/" : "", name);
	if (buf_read_file(b, path, 1 << 20) < 0)
		fail_msg("cannot read %s", path);
}

static void vec_load(vec_t *v, const char *dir)
{
	buf_t pem = BUF_INIT;

	memset(v, 0, sizeof(*v));
	read_data(&v->attest, dir, "attest");
	read_data(&v->sig, dir, "sig");
	read_data(&v->pcrs, dir, "pcrs");
	read_data(&v->str, dir, "quote.txt");
	read_data(&pem, dir, "ak.pem");
	BIO *bio = BIO_new_mem_buf(pem.data, (int)pem.len);
	v->ak = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(v->ak);
	buf_free(&pem);
}

static void vec_free(vec_t *v)
{
	buf_free(&v->attest);
	buf_free(&v->sig);
	buf_free(&v->pcrs);
	buf_free(&v->str);
	EVP_PKEY_free(v->ak);
}

static int setup(void **state)
{
	(void)state;
	read_data(&nonce, "", "nonce");
	read_data(&payload_pem, "", "payload.pem");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	buf_free(&nonce);
	buf_free(&payload_pem);
	return 0;
}

/* Decode parts and run the full verification. */
static quote_status_t check_parts(const vec_t *v, const buf_t *attest, const buf_t *sig,
                                  const buf_t *pcrs, err_t *e)
{
	quote_t *q = quote_new();
	quote_ak_t *ak = quote_ak_new(v->ak, e);
	quote_status_t st;

	assert_non_null(ak);
	st = quote_decode_parts(q, attest->data, attest->len, sig->data, sig->len, pcrs->data,
	                        pcrs->len, e);
	if (st == QUOTE_OK)
		st = quote_verify(q, ak, SHA256, nonce.data, nonce.len, e);
	quote_ak_free(ak);
	quote_free(q);
	return st;
}

static void digest(const char *alg, const void *p, size_t n, uint8_t *out)
{
	unsigned len;
	assert_int_equal(EVP_Digest(p, n, out, &len, EVP_get_digestbyname(alg), NULL), 1);
}

static void good_vector(const char *dir, unsigned npcrs)
{
	vec_t v;
	err_t e = {""};
	quote_t *q = quote_new();
	quote_ak_t *ak;
	buf_t out = BUF_INIT, blob = BUF_INIT;
	size_t len;
	const uint8_t *p;

	vec_load(&v, dir);
	ak = quote_ak_new(v.ak, &e);
	assert_non_null(ak);
	assert_int_equal(quote_decode(q, (const char *)v.str.data, v.str.len, &e), QUOTE_OK);
	assert_int_equal(quote_verify(q, ak, SHA256, nonce.data, nonce.len, &e), QUOTE_OK);
	assert_int_equal(quote_check_pcr16(q, SHA256, payload_pem.data, payload_pem.len, &e),
	                 QUOTE_OK);
	assert_int_equal(quote_check_clock(q, NULL, &e), QUOTE_OK);

	/* Fields as recorded. */
	p = quote_extra_data(q, &len);
	assert_int_equal(len, nonce.len);
	assert_memory_equal(p, nonce.data, len);
	assert_int_equal(quote_sig_hash_alg(q), SHA256);
	p = quote_pcr_digest(q, &len);
	assert_int_equal(len, 32);
	p = quote_qualified_signer(q, &len);
	assert_int_equal(len, 34);
	const quote_pcrsel_t *sel = quote_attest_selection(q);
	unsigned n = 0;
	for (unsigned b = 0; b < sel->count; b++)
		n += (unsigned)__builtin_popcount(sel->bank[b].mask);
	assert_int_equal(n, npcrs);

	/* The parts re-encode to the exact string, the blob to tpm2-tools' exact bytes. */
	assert_int_equal(quote_encode(&out, v.attest.data, v.attest.len, v.sig.data, v.sig.len,
	                              v.pcrs.data, v.pcrs.len, &e),
	                 0);
	assert_int_equal(out.len, v.str.len);
	assert_memory_equal(out.data, v.str.data, out.len);
	buf_t values = BUF_INIT;
	quote_pcrsel_t bsel;
	assert_int_equal(quote_pcrblob_decode(v.pcrs.data, v.pcrs.len, &bsel, &values, &e),
	                 QUOTE_OK);
	assert_int_equal(quote_pcrblob_encode(&blob, &bsel, values.data, values.len, &e), 0);
	assert_int_equal(blob.len, v.pcrs.len);
	assert_memory_equal(blob.data, v.pcrs.data, blob.len);

	/* Decoding the raw parts gives the same quote. */
	assert_int_equal(check_parts(&v, &v.attest, &v.sig, &v.pcrs, &e), QUOTE_OK);

	buf_free(&values);
	buf_free(&blob);
	buf_free(&out);
	quote_ak_free(ak);
	quote_free(q);
	vec_free(&v);
}

static void test_rsa_vector(void **state)
{
	(void)state;
	good_vector("rsa", 4);
}

static void test_ecc_vector(void **state)
{
	(void)state;
	good_vector("ecc", 4);
}

static void test_all24_vector(void **state)
{
	(void)state;
	good_vector("rsa_all24", 24);
}

static void test_multibank_vector(void **state)
{
	(void)state;
	good_vector("rsa_multibank", 6);
}

/* A quote from a real vTPM (GCP shielded VM, go-attestation's test data): RSASSA-SHA1 over
 * all 24 SHA-1 PCRs, empty nonce. It has no PCR blob, so our encoder builds one from the
 * PCR values, which also shows the encoder's output is what the checker hashes. */
static void test_gcp_vtpm_vector(void **state)
{
	buf_t attest = BUF_INIT, sig = BUF_INIT, vals = BUF_INIT, pem = BUF_INIT, blob = BUF_INIT;
	quote_pcrsel_t sel = {0};
	err_t e = {""};
	quote_t *q = quote_new();
	quote_clock_t c;
	(void)state;

	read_data(&attest, "gcp", "attest");
	read_data(&sig, "gcp", "sig");
	read_data(&vals, "gcp", "pcr_values");
	read_data(&pem, "gcp", "ak.pem");
	BIO *bio = BIO_new_mem_buf(pem.data, (int)pem.len);
	EVP_PKEY *k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	quote_ak_t *ak = quote_ak_new(k, &e);
	assert_non_null(ak);

	sel.count = 1;
	sel.bank[0].alg = SHA1;
	sel.bank[0].mask = 0xffffff;
	assert_int_equal(quote_pcrblob_encode(&blob, &sel, vals.data, vals.len, &e), 0);
	assert_int_equal(blob.len, 136 + 3 * 532);
	assert_int_equal(quote_decode_parts(q, attest.data, attest.len, sig.data, sig.len,
	                                    blob.data, blob.len, &e),
	                 QUOTE_OK);
	assert_int_equal(quote_verify(q, ak, SHA1, "", 0, &e), QUOTE_OK);
	assert_int_equal(quote_verify(q, ak, SHA256, "", 0, &e), QUOTE_ERR_HASH_ALG);
	assert_int_equal(quote_clock_info(q, &c), 0);
	assert_int_equal(c.safe, 1);
	/* A wrong value for PCR 23 breaks the digest. */
	vals.data[vals.len - 1] ^= 1;
	buf_reset(&blob);
	assert_int_equal(quote_pcrblob_encode(&blob, &sel, vals.data, vals.len, &e), 0);
	assert_int_equal(quote_decode_parts(q, attest.data, attest.len, sig.data, sig.len,
	                                    blob.data, blob.len, &e),
	                 QUOTE_OK);
	assert_int_equal(quote_verify(q, ak, SHA1, "", 0, &e), QUOTE_ERR_PCR_DIGEST);

	quote_ak_free(ak);
	EVP_PKEY_free(k);
	quote_free(q);
	buf_free(&attest);
	buf_free(&sig);
	buf_free(&vals);
	buf_free(&pem);
	buf_free(&blob);
}

/* PCR values come out by (bank, index) and match what make-vectors.sh extended. */
static void test_pcr_values(void **state)
{
	vec_t v;
	err_t e = {""};
	quote_t *q = quote_new();
	uint8_t buf[64], want[32], zero[32] = {0};
	const uint8_t *p;
	size_t len;
	(void)state;

	vec_load(&v, "rsa_multibank");
	assert_int_equal(quote_decode(q, (const char *)v.str.data, v.str.len, &e), QUOTE_OK);
	assert_int_equal(quote_check_pcrs(q, &e), QUOTE_OK);
	/* PCR 10 (sha256) = extend of sha256("ima") into zeros. */
	memset(buf, 0, 32);
	digest("sha256", "ima", 3, buf + 32);
	digest("sha256", buf, 64, want);
	p = quote_pcr_value(q, SHA256, 10, &len);
	assert_non_null(p);
	assert_int_equal(len, 32);
	assert_memory_equal(p, want, 32);
	/* PCR 16 in the sha1 bank binds the payload key too. */
	p = quote_pcr_value(q, SHA1, 16, &len);
	assert_non_null(p);
	assert_int_equal(len, 20);
	assert_int_equal(quote_check_pcr16(q, SHA1, payload_pem.data, payload_pem.len, &e),
	                 QUOTE_OK);
	/* Not quoted: sha1 PCR 10, sha256 PCR 1, PCR 24, a bank that is absent. */
	assert_null(quote_pcr_value(q, SHA1, 10, &len));
	assert_int_equal(len, 0);
	assert_null(quote_pcr_value(q, SHA256, 1, &len));
	assert_null(quote_pcr_value(q, SHA256, 24, &len));
	assert_null(quote_pcr_value(q, SHA384, 16, &len));
	assert_int_equal(quote_check_pcr16(q, SHA384, payload_pem.data, payload_pem.len, &e),
	                 QUOTE_ERR_PCR16_MISSING);
	assert_string_equal(quote_status_event(QUOTE_ERR_PCR16_MISSING),
	                    "pcr_validation.missing_pcr_16");
	quote_free(q);
	vec_free(&v);

	/* rsa: PCR 1 was never extended. */
	vec_load(&v, "rsa");
	q = quote_new();
	assert_int_equal(quote_decode(q, (const char *)v.str.data, v.str.len, &e), QUOTE_OK);
	p = quote_pcr_value(q, SHA256, 1, &len);
	assert_non_null(p);
	assert_memory_equal(p, zero, 32);
	quote_free(q);
	vec_free(&v);
}

static void test_wrong_nonce(void **state)
{
	vec_t v;
	err_t e = {""};
	quote_t *q = quote_new();
	quote_ak_t *ak;
	(void)state;

	vec_load(&v, "rsa");
	ak = quote_ak_new(v.ak, &e);
	assert_int_equal(quote_decode(q, (const char *)v.str.data, v.str.len, &e), QUOTE_OK);
	assert_int_equal(quote_verify(q, ak, SHA256, "kl1Rq8vigilNonce2025", 20, &e),
	                 QUOTE_ERR_NONCE);
	assert_non_null(strstr(e.msg, "nonce"));
	assert_string_equal(quote_status_event(QUOTE_ERR_NONCE), "quote_validation.nonce");
	assert_int_equal(quote_verify(q, ak, SHA256, nonce.data, nonce.len - 1, &e),
	                 QUOTE_ERR_NONCE);
	assert_int_equal(quote_check_nonce(q, "", 0, &e), QUOTE_ERR_NONCE);
	assert_int_equal(quote_check_nonce(q, nonce.data, nonce.len, &e), QUOTE_OK);
	quote_ak_free(ak);
	quote_free(q);
	vec_free(&v);
}

static void flip_sig(const char *dir, size_t at)
{
	vec_t v;
	err_t e = {""};
	buf_t sig = BUF_INIT;

	vec_load(&v, dir);
	buf_set(&sig, v.sig.data, v.sig.len);
	sig.data[at] ^= 0x01;
	assert_int_equal(check_parts(&v, &v.attest, &sig, &v.pcrs, &e), QUOTE_ERR_SIGNATURE);
	assert_string_equal(quote_status_event(QUOTE_ERR_SIGNATURE), "quote_validation.signature");
	buf_free(&sig);
	vec_free(&v);
}

static void test_flipped_signature(void **state)
{
	(void)state;
	flip_sig("rsa", 6);               /* first signature byte */
	flip_sig("rsa", 6 + 255);         /* last */
	flip_sig("ecc", 6 + 10);          /* in r */
	flip_sig("ecc", 6 + 32 + 2 + 31); /* last byte of s */
}

/* A changed attest byte that still decodes (the clock) breaks the signature. */
static void test_changed_attest(void **state)
{
	vec_t v;
	err_t e = {""};
	buf_t a = BUF_INIT;
	(void)state;

	vec_load(&v, "ecc");
	buf_set(&a, v.attest.data, v.attest.len);
	a.data[0x47] ^= 0x10; /* low byte of clockInfo.clock */
	assert_int_equal(check_parts(&v, &a, &v.sig, &v.pcrs, &e), QUOTE_ERR_SIGNATURE);
	buf_free(&a);
	vec_free(&v);
}

static void test_flipped_pcr_value(void **state)
{
	vec_t v;
	err_t e = {""};
	buf_t b = BUF_INIT;
	(void)state;

	vec_load(&v, "rsa");
	buf_set(&b, v.pcrs.data, v.pcrs.len);
	b.data[136 + 4 + 2 + 5] ^= 0x80; /* first value, byte 5 */
	assert_int_equal(check_parts(&v, &v.attest, &v.sig, &b, &e), QUOTE_ERR_PCR_DIGEST);
	assert_non_null(strstr(e.msg, "pcrDigest"));
	/* The last value, PCR 16. */
	buf_set(&b, v.pcrs.data, v.pcrs.len);
	b.data[136 + 4 + 3 * 66 + 2 + 31] ^= 0x01;
	assert_int_equal(check_parts(&v, &v.attest, &v.sig, &b, &e), QUOTE_ERR_PCR_DIGEST);
	buf_free(&b);
	vec_free(&v);
}

/* The blob claims other PCRs than were quoted. Same values, so pcrDigest would still
 * match: only the selection comparison catches it (Keylime does not compare). */
static void test_selection_mismatch(void **state)
{
	vec_t v;
	err_t e = {""};
	buf_t b = BUF_INIT;
	(void)state;

	vec_load(&v, "rsa");
	buf_set(&b, v.pcrs.data, v.pcrs.len);
	assert_int_equal(b.data[4 + 4], 0x04); /* PCR 10: byte 1, bit 2 */
	b.data[4 + 4] = 0x08;                  /* claim PCR 11 instead */
	assert_int_equal(check_parts(&v, &v.attest, &v.sig, &b, &e), QUOTE_ERR_PCR_SELECTION);
	assert_non_null(strstr(e.msg, "sha256:0,1,11,16"));
	/* Another bank with the same digest size. */
	buf_set(&b, v.pcrs.data, v.pcrs.len);
	b.data[4] = 0x12; /* sm3_256 is unknown to us: the blob itself is refused */
	assert_int_equal(check_parts(&v, &v.attest, &v.sig, &b, &e), QUOTE_ERR_PCR_BLOB);
	buf_free(&b);
	vec_free(&v);
}

static void test_truncated_parts(void **state)
{
	vec_t v;
	err_t e = {""};
	buf_t t = BUF_INIT;
	(void)state;

	vec_load(&v, "ecc");
	for (size_t n = 0; n < v.attest.len; n++) {
		buf_set(&t, v.attest.data, n);
		assert_int_equal(check_parts(&v, &t, &v.sig, &v.pcrs, &e), QUOTE_ERR_ATTEST);
	}
	for (size_t n = 0; n < v.sig.len; n++) {
		buf_set(&t, v.sig.data, n);
		assert_int_equal(check_parts(&v, &v.attest, &t, &v.pcrs, &e), QUOTE_ERR_SIG_FORMAT);
	}
	for (size_t n = 0; n < v.pcrs.len; n += 7) {
		buf_set(&t, v.pcrs.data, n);
		assert_int_equal(check_parts(&v, &v.attest, &v.sig, &t, &e), QUOTE_ERR_PCR_BLOB);
	}
	/* One trailing byte on each part. */
	buf_set(&t, v.attest.data, v.attest.len);
	buf_append(&t, "", 1);
	assert_int_equal(check_parts(&v, &t, &v.sig, &v.pcrs, &e), QUOTE_ERR_ATTEST);
	assert_non_null(strstr(e.msg, "trailing"));
	buf_set(&t, v.sig.data, v.sig.len);
	buf_append(&t, "", 1);
	assert_int_equal(check_parts(&v, &v.attest, &t, &v.pcrs, &e), QUOTE_ERR_SIG_FORMAT);
	buf_set(&t, v.pcrs.data, v.pcrs.len);
	buf_append(&t, "", 1);
	assert_int_equal(check_parts(&v, &v.attest, &v.sig, &t, &e), QUOTE_ERR_PCR_BLOB);
	buf_free(&t);
	vec_free(&v);
}

static quote_status_t decode_str(const char *s, size_t n, err_t *e)
{
	quote_t *q = quote_new();
	quote_status_t st = quote_decode(q, s, n, e);
	size_t len;

	if (st != QUOTE_OK)
		assert_null(quote_attest_bytes(q, &len)); /* a failed decode leaves nothing */
	quote_free(q);
	return st;
}

static void test_bad_strings(void **state)
{
	vec_t v;
	err_t e = {""};
	buf_t s = BUF_INIT;
	const char *str;
	size_t c1, c2, n;
	(void)state;

	vec_load(&v, "rsa");
	str = (const char *)v.str.data;
	n = v.str.len;
	c1 = (size_t)((const char *)memchr(str, ':', n) - str);
	c2 =
	    c1 + 1 + (size_t)((const char *)memchr(str + c1 + 1, ':', n - c1 - 1) - (str + c1 + 1));
	assert_int_equal(decode_str(str, n, &e), QUOTE_OK);

	/* Not 'r', empty. */
	buf_set(&s, str, n);
	s.data[0] = 'q';
	assert_int_equal(decode_str((char *)s.data, s.len, &e), QUOTE_ERR_FORMAT);
	assert_int_equal(decode_str("", 0, &e), QUOTE_ERR_FORMAT);
	assert_int_equal(decode_str("r", 1, &e), QUOTE_ERR_FORMAT);
	assert_int_equal(decode_str("r::", 3, &e), QUOTE_ERR_FORMAT);
	/* Bad base64 in each part: a foreign character, a missing pad, whitespace. */
	size_t at[3] = {5, c1 + 5, c2 + 5};
	for (int i = 0; i < 3; i++) {
		buf_set(&s, str, n);
		s.data[at[i]] = '*';
		assert_int_equal(decode_str((char *)s.data, s.len, &e), QUOTE_ERR_FORMAT);
		assert_non_null(strstr(e.msg, "base64"));
		buf_set(&s, str, n);
		s.data[at[i]] = '\n';
		assert_int_equal(decode_str((char *)s.data, s.len, &e), QUOTE_ERR_FORMAT);
	}
	buf_set(&s, str, n - 1); /* drops the last '=' of the blob part (668 bytes) */
	assert_int_equal(decode_str((char *)s.data, s.len, &e), QUOTE_ERR_FORMAT);
	/* Two parts, four parts, an empty part. */
	assert_int_equal(decode_str(str, c2, &e), QUOTE_ERR_FORMAT);
	buf_set(&s, str, n);
	buf_append(&s, ":AAAA", 5);
	assert_int_equal(decode_str((char *)s.data, s.len, &e), QUOTE_ERR_FORMAT);
	buf_set(&s, str, c1 + 1);
	buf_append(&s, str + c2, n - c2);
	assert_int_equal(decode_str((char *)s.data, s.len, &e), QUOTE_ERR_FORMAT);
	/* Too long as a whole, too long in a part. */
	buf_reset(&s);
	buf_append(&s, "r", 1);
	for (int i = 0; i < QUOTE_STRING_MAX / 4; i++)
		buf_append(&s, "AAAA", 4);
	assert_int_equal(decode_str((char *)s.data, s.len, &e), QUOTE_ERR_FORMAT);
	buf_reset(&s);
	buf_append(&s, "r", 1);
	for (int i = 0; i < 400; i++)
		buf_append(&s, "AAAA", 4);
	buf_append(&s, str + c1, n - c1);
	assert_int_equal(decode_str((char *)s.data, s.len, &e), QUOTE_ERR_FORMAT);
	assert_non_null(strstr(e.msg, "TPMS_ATTEST"));
	buf_free(&s);
	vec_free(&v);
}

static void test_magic_and_type(void **state)
{
	vec_t v;
	err_t e = {""};
	buf_t a = BUF_INIT;
	(void)state;

	vec_load(&v, "rsa");
	buf_set(&a, v.attest.data, v.attest.len);
	a.data[3] ^= 1;
	assert_int_equal(check_parts(&v, &a, &v.sig, &v.pcrs, &e), QUOTE_ERR_ATTEST);
	assert_non_null(strstr(e.msg, "magic"));
	buf_set(&a, v.attest.data, v.attest.len);
	a.data[5] = 0x17; /* TPM_ST_ATTEST_CERTIFY */
	assert_int_equal(check_parts(&v, &a, &v.sig, &v.pcrs, &e), QUOTE_ERR_ATTEST);
	assert_non_null(strstr(e.msg, "type"));
	/* clockInfo.safe must be a TPMI_YES_NO. */
	buf_set(&a, v.attest.data, v.attest.len);
	assert_int_equal(a.data[0x50], 1);
	a.data[0x50] = 2;
	assert_int_equal(check_parts(&v, &a, &v.sig, &v.pcrs, &e), QUOTE_ERR_ATTEST);
	buf_free(&a);
	vec_free(&v);
}

static void test_signature_algorithms(void **state)
{
	vec_t v, ec;
	err_t e = {""};
	quote_t *q = quote_new();
	quote_ak_t *ak;
	buf_t s = BUF_INIT;
	(void)state;

	/* RSAPSS decodes, and is refused at verification, as in Keylime. */
	vec_load(&v, "rsapss");
	ak = quote_ak_new(v.ak, &e);
	assert_int_equal(quote_decode(q, (const char *)v.str.data, v.str.len, &e), QUOTE_OK);
	assert_int_equal(quote_sig_alg(q), QUOTE_SIG_RSAPSS);
	assert_int_equal(quote_verify(q, ak, SHA256, nonce.data, nonce.len, &e), QUOTE_ERR_SIG_ALG);
	assert_non_null(strstr(e.msg, "RSAPSS"));
	quote_ak_free(ak);
	vec_free(&v);

	/* An ECDSA quote against an RSA key, and the other way round. */
	vec_load(&v, "rsa");
	vec_load(&ec, "ecc");
	ak = quote_ak_new(v.ak, &e);
	assert_int_equal(quote_decode(q, (const char *)ec.str.data, ec.str.len, &e), QUOTE_OK);
	assert_int_equal(quote_verify(q, ak, SHA256, nonce.data, nonce.len, &e), QUOTE_ERR_SIG_ALG);
	quote_ak_free(ak);
	ak = quote_ak_new(ec.ak, &e);
	assert_int_equal(quote_decode(q, (const char *)v.str.data, v.str.len, &e), QUOTE_OK);
	assert_int_equal(quote_verify(q, ak, SHA256, nonce.data, nonce.len, &e), QUOTE_ERR_SIG_ALG);
	/* The right key, but the verifier expects sha384. */
	assert_int_equal(quote_decode(q, (const char *)ec.str.data, ec.str.len, &e), QUOTE_OK);
	assert_int_equal(quote_verify(q, ak, SHA384, nonce.data, nonce.len, &e),
	                 QUOTE_ERR_HASH_ALG);
	assert_non_null(strstr(e.msg, "sha384"));
	quote_ak_free(ak);
	/* Another AK (the RSAPSS one is RSA too) does not verify an RSA quote. */
	vec_t pss;
	vec_load(&pss, "rsapss");
	ak = quote_ak_new(pss.ak, &e);
	assert_int_equal(quote_decode(q, (const char *)v.str.data, v.str.len, &e), QUOTE_OK);
	assert_int_equal(quote_verify(q, ak, SHA256, nonce.data, nonce.len, &e),
	                 QUOTE_ERR_SIGNATURE);
	quote_ak_free(ak);
	vec_free(&pss);

	/* ECSCHNORR and an unknown hash are refused at decode. */
	buf_set(&s, ec.sig.data, ec.sig.len);
	s.data[1] = 0x1c;
	assert_int_equal(check_parts(&ec, &ec.attest, &s, &ec.pcrs, &e), QUOTE_ERR_SIG_ALG);
	buf_set(&s, ec.sig.data, ec.sig.len);
	s.data[3] = 0x12; /* sm3_256 */
	assert_int_equal(check_parts(&ec, &ec.attest, &s, &ec.pcrs, &e), QUOTE_ERR_HASH_ALG);
	/* ECDSA r of zero length. */
	uint8_t zr[] = {0x00, 0x18, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x01, 0x01};
	buf_set(&s, zr, sizeof(zr));
	assert_int_equal(check_parts(&ec, &ec.attest, &s, &ec.pcrs, &e), QUOTE_ERR_SIG_FORMAT);

	buf_free(&s);
	vec_free(&v);
	vec_free(&ec);
	quote_free(q);
}

/* One prepared key and one quote object serve many rounds, good and bad mixed. */
static void test_reuse(void **state)
{
	vec_t v[2];
	err_t e = {""};
	quote_t *q = quote_new();
	quote_ak_t *ak[2];
	const char *dirs[2] = {"rsa", "ecc"};
	(void)state;

	for (int k = 0; k < 2; k++) {
		vec_load(&v[k], dirs[k]);
		ak[k] = quote_ak_new(v[k].ak, &e);
		/* The prepared key holds its own reference. */
		EVP_PKEY_free(v[k].ak);
		v[k].ak = NULL;
	}
	for (int round = 0; round < 40; round++) {
		int k = round % 2;
		const char *n =
		    (round % 3 == 0) ? "wrong-nonce-value123" : (const char *)nonce.data;
		quote_status_t want = (round % 3 == 0) ? QUOTE_ERR_NONCE : QUOTE_OK;
		assert_int_equal(quote_decode(q, (const char *)v[k].str.data, v[k].str.len, &e),
		                 QUOTE_OK);
		assert_int_equal(quote_verify(q, ak[k], SHA256, n, nonce.len, &e), want);
		if (round % 4 == 1) { /* a failing EVP_PKEY_verify on the prepared context */
			buf_t bad = BUF_INIT;
			buf_set(&bad, v[k].sig.data, v[k].sig.len);
			bad.data[bad.len - 1] ^= 1;
			assert_int_equal(quote_decode_parts(q, v[k].attest.data, v[k].attest.len,
			                                    bad.data, bad.len, v[k].pcrs.data,
			                                    v[k].pcrs.len, &e),
			                 QUOTE_OK);
			assert_int_equal(quote_verify(q, ak[k], SHA256, nonce.data, nonce.len, &e),
			                 QUOTE_ERR_SIGNATURE);
			buf_free(&bad);
		}
		if (round % 5 == 0) { /* a quote by the other key */
			assert_int_equal(
			    quote_decode(q, (const char *)v[1 - k].str.data, v[1 - k].str.len, &e),
			    QUOTE_OK);
			assert_int_not_equal(
			    quote_verify(q, ak[k], SHA256, nonce.data, nonce.len, &e), QUOTE_OK);
		}
	}
	for (int k = 0; k < 2; k++) {
		quote_ak_free(ak[k]);
		vec_free(&v[k]);
	}
	quote_free(q);
}

static void test_pcr16(void **state)
{
	vec_t v;
	err_t e = {""};
	quote_t *q = quote_new();
	buf_t pem = BUF_INIT;
	(void)state;

	vec_load(&v, "ecc");
	assert_int_equal(quote_decode(q, (const char *)v.str.data, v.str.len, &e), QUOTE_OK);
	assert_int_equal(quote_check_pcr16(q, SHA256, payload_pem.data, payload_pem.len, &e),
	                 QUOTE_OK);
	/* Byte-exact: without the trailing newline the binding fails. */
	assert_int_equal(quote_check_pcr16(q, SHA256, payload_pem.data, payload_pem.len - 1, &e),
	                 QUOTE_ERR_PCR16);
	assert_string_equal(quote_status_event(QUOTE_ERR_PCR16), "pcr_validation.invalid_pcr_16");
	assert_string_equal(quote_status_keylime_event(QUOTE_ERR_PCR16),
	                    "pcr_validation.invalid_pcr_16");
	/* Another key. */
	read_data(&pem, "ecc", "ak.pem");
	assert_int_equal(quote_check_pcr16(q, SHA256, pem.data, pem.len, &e), QUOTE_ERR_PCR16);
	buf_free(&pem);
	quote_free(q);
	vec_free(&v);
}

/* A quote whose clock info we choose: the recorded attest with clockInfo rewritten. */
static quote_t *clock_quote(uint64_t clock, uint32_t reset, uint32_t restart, uint8_t safe)
{
	vec_t v;
	err_t e = {""};
	quote_t *q = quote_new();
	buf_t a = BUF_INIT;

	vec_load(&v, "rsa");
	buf_set(&a, v.attest.data, v.attest.len);
	uint8_t *c = a.data + 0x40; /* after magic, type, signer (2+34), extraData (2+20) */
	for (int i = 0; i < 8; i++)
		c[i] = (uint8_t)(clock >> (56 - 8 * i));
	for (int i = 0; i < 4; i++) {
		c[8 + i] = (uint8_t)(reset >> (24 - 8 * i));
		c[12 + i] = (uint8_t)(restart >> (24 - 8 * i));
	}
	c[16] = safe;
	assert_int_equal(quote_decode_parts(q, a.data, a.len, v.sig.data, v.sig.len, v.pcrs.data,
	                                    v.pcrs.len, &e),
	                 QUOTE_OK);
	quote_clock_t got;
	assert_int_equal(quote_clock_info(q, &got), 0);
	assert_true(got.clock == clock && got.reset_count == reset &&
	            got.restart_count == restart && got.safe == safe);
	buf_free(&a);
	vec_free(&v);
	return q;
}

static void test_clock(void **state)
{
	const quote_clock_t prev = {1000, 5, 2, 1};
	static const struct {
		uint64_t clock;    /* new clock */
		uint32_t reset;    /* new resetCount */
		uint32_t restart;  /* new restartCount */
		uint8_t safe;      /* new safe */
		quote_status_t st; /* expected */
	} cases[] = {
	    {1001, 5, 2, 1, QUOTE_OK},        /* normal round */
	    {1000, 5, 2, 1, QUOTE_ERR_CLOCK}, /* clock stood still */
	    {999, 5, 2, 1, QUOTE_ERR_CLOCK},  /* clock went back */
	    {2000, 5, 2, 0, QUOTE_ERR_CLOCK}, /* not safe */
	    {2000, 4, 2, 1, QUOTE_ERR_CLOCK}, /* resetCount decreased */
	    {2000, 5, 1, 1, QUOTE_ERR_CLOCK}, /* restartCount decreased */
	    {500, 6, 2, 1, QUOTE_ERR_CLOCK},  /* reboot, restartCount same: clock must grow */
	    {2000, 6, 2, 1, QUOTE_OK},        /* reboot */
	    {500, 6, 3, 1, QUOTE_OK},         /* both counters grew: clock not compared */
	    {500, 5, 3, 1, QUOTE_ERR_CLOCK},  /* resume, resetCount same: clock must grow */
	    {2000, 5, 3, 1, QUOTE_OK},        /* resume */
	    {2000, 6, 0, 1, QUOTE_OK},        /* reboot after a resume: restartCount back to 0 */
	};
	err_t e = {""};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		quote_t *q =
		    clock_quote(cases[i].clock, cases[i].reset, cases[i].restart, cases[i].safe);
		quote_status_t st = quote_check_clock(q, &prev, &e);
		if (st != cases[i].st)
			fail_msg("clock case %zu: got %d (%s), want %d", i, st, e.msg, cases[i].st);
		quote_free(q);
	}
	quote_t *q = clock_quote(1, 0, 0, 0);
	assert_int_equal(quote_check_clock(q, NULL, &e), QUOTE_ERR_CLOCK);
	quote_free(q);
	q = clock_quote(1, 0, 0, 1);
	assert_int_equal(quote_check_clock(q, NULL, &e), QUOTE_OK);
	quote_free(q);
}

static void test_pcrblob_codec(void **state)
{
	quote_pcrsel_t sel = {0}, got;
	buf_t blob = BUF_INIT, vals = BUF_INIT, back = BUF_INIT;
	uint8_t values[24 * 32 + 24 * 20];
	err_t e = {""};
	(void)state;

	for (size_t i = 0; i < sizeof(values); i++)
		values[i] = (uint8_t)(i * 7 + 1);
	/* Empty selection: the bare 136-byte header. */
	assert_int_equal(quote_pcrblob_encode(&blob, &sel, NULL, 0, &e), 0);
	assert_int_equal(blob.len, 136);
	assert_int_equal(quote_pcrblob_decode(blob.data, blob.len, &got, &vals, &e), QUOTE_OK);
	assert_int_equal(got.count, 0);
	/* sha1 all + sha256 all: 48 values in 6 groups. */
	sel.count = 2;
	sel.bank[0].alg = SHA1;
	sel.bank[0].mask = 0xffffff;
	sel.bank[1].alg = SHA256;
	sel.bank[1].mask = 0xffffff;
	assert_int_equal(quote_pcrsel_values_len(&sel), sizeof(values));
	buf_reset(&blob);
	assert_int_equal(quote_pcrblob_encode(&blob, &sel, values, sizeof(values), &e), 0);
	assert_int_equal(blob.len, 136 + 6 * 532);
	assert_int_equal(quote_pcrblob_decode(blob.data, blob.len, &got, &vals, &e), QUOTE_OK);
	assert_int_equal(vals.len, sizeof(values));
	assert_memory_equal(vals.data, values, sizeof(values));
	assert_int_equal(got.count, 2);
	assert_int_equal(got.bank[1].mask, 0xffffff);

	/* Encoder refusals. */
	assert_int_equal(quote_pcrblob_encode(&back, &sel, values, sizeof(values) - 1, &e), -1);
	sel.bank[1].alg = SHA1;
	assert_int_equal(quote_pcrblob_encode(&back, &sel, values, sizeof(values), &e), -1);
	sel.bank[1].alg = 0x0012;
	assert_int_equal(quote_pcrblob_encode(&back, &sel, values, sizeof(values), &e), -1);
	sel.bank[1].alg = SHA256;
	sel.bank[1].mask = 0x1ffffff;
	assert_int_equal(quote_pcrblob_encode(&back, &sel, values, sizeof(values), &e), -1);
	sel.count = 17;
	assert_int_equal(quote_pcrblob_encode(&back, &sel, values, sizeof(values), &e), -1);
	assert_int_equal(back.len, 0);

	/* Decoder refusals: each a single change to the good blob. */
	static const struct {
		size_t off;  /* byte to change */
		uint8_t val; /* new value */
	} bad[] = {
	    {0, 17},               /* 17 banks */
	    {0, 1},                /* count 1 but slot 1 used */
	    {0, 3},                /* slot 2 (zero) in use: unknown bank 0 */
	    {4 + 2, 2},            /* sizeofSelect 2 */
	    {4 + 2, 0},            /* sizeofSelect 0 */
	    {4 + 6, 1},            /* pcrSelect[3]: PCR 24 */
	    {4 + 7, 1},            /* padding byte */
	    {4 + 16 + 1, 1},       /* unused slot 2 not zero */
	    {132, 5},              /* group count header */
	    {136, 0},              /* first group count 0 */
	    {136, 9},              /* first group count 9 */
	    {136 + 4, 32},         /* sha1 value with size 32 */
	    {136 + 4 + 2 + 25, 1}, /* sha1 value padding not zero */
	    {136 + 5 * 532, 7},    /* last group: 7 values, one missing */
	    {136 + 4 + 9, 0},      /* value byte: still decodes (control) */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_set(&back, blob.data, blob.len);
		back.data[bad[i].off] = bad[i].val;
		quote_status_t st = quote_pcrblob_decode(back.data, back.len, &got, &vals, &e);
		quote_status_t want =
		    (i + 1 == sizeof(bad) / sizeof(bad[0])) ? QUOTE_OK : QUOTE_ERR_PCR_BLOB;
		if (st != want)
			fail_msg("blob case %zu: got %d, want %d (%s)", i, st, want, e.msg);
		if (st != QUOTE_OK) {
			assert_int_equal(vals.len, 0);
			assert_int_equal(got.count, 0);
		}
	}
	/* More values than selected: drop PCR 23 from the sha256 mask. */
	buf_set(&back, blob.data, blob.len);
	back.data[4 + 8 + 5] = 0x7f;
	assert_int_equal(quote_pcrblob_decode(back.data, back.len, &got, &vals, &e),
	                 QUOTE_ERR_PCR_BLOB);
	assert_non_null(strstr(e.msg, "more values"));
	/* Any grouping tpm2-tools might write is read: 4 + 4 instead of 8 values. */
	sel.count = 1;
	sel.bank[0].alg = SHA256;
	sel.bank[0].mask = 0xff;
	buf_reset(&blob);
	assert_int_equal(quote_pcrblob_encode(&blob, &sel, values, 8 * 32, &e), 0);
	buf_reset(&back);
	buf_append(&back, blob.data, 132);
	uint8_t hdr[4] = {2, 0, 0, 0}, grp[532];
	buf_append(&back, hdr, 4);
	for (int g = 0; g < 2; g++) {
		memset(grp, 0, sizeof(grp));
		grp[0] = 4;
		for (int j = 0; j < 4; j++) {
			grp[4 + j * 66] = 32;
			memcpy(grp + 4 + j * 66 + 2, values + (g * 4 + j) * 32, 32);
		}
		buf_append(&back, grp, sizeof(grp));
	}
	assert_int_equal(quote_pcrblob_decode(back.data, back.len, &got, &vals, &e), QUOTE_OK);
	assert_memory_equal(vals.data, values, 8 * 32);
	/* Lengths: not 136 + 532k, too long. */
	assert_int_equal(quote_pcrblob_decode(blob.data, 135, &got, &vals, &e), QUOTE_ERR_PCR_BLOB);
	assert_int_equal(quote_pcrblob_decode(blob.data, blob.len - 1, &got, &vals, &e),
	                 QUOTE_ERR_PCR_BLOB);
	buf_free(&blob);
	buf_free(&vals);
	buf_free(&back);
}

static void test_status_names(void **state)
{
	(void)state;
	for (int a = QUOTE_OK; a <= QUOTE_ERR_INTERNAL; a++) {
		const char *ea = quote_status_event((quote_status_t)a);
		assert_int_equal(a == QUOTE_OK, ea[0] == 0);
		for (int b = a + 1; b <= QUOTE_ERR_INTERNAL; b++)
			assert_string_not_equal(ea, quote_status_event((quote_status_t)b));
	}
	assert_string_equal(quote_status_keylime_event(QUOTE_ERR_SIGNATURE),
	                    "qoute_validation.quote_validation");
	assert_string_equal(quote_status_keylime_event(QUOTE_ERR_PCR16_MISSING),
	                    "pcr_validation.missing_pcr_16");
}

static void test_empty_object(void **state)
{
	quote_t *q = quote_new();
	quote_clock_t c;
	err_t e = {""};
	size_t len = 99;
	(void)state;

	assert_null(quote_attest_bytes(q, &len));
	assert_int_equal(len, 0);
	assert_null(quote_extra_data(q, &len));
	assert_null(quote_attest_selection(q));
	assert_null(quote_pcr_value(q, SHA256, 0, &len));
	assert_int_equal(quote_clock_info(q, &c), -1);
	assert_int_equal(quote_check_pcrs(q, &e), QUOTE_ERR_INTERNAL);
	assert_int_equal(quote_check_nonce(q, "x", 1, &e), QUOTE_ERR_INTERNAL);
	assert_null(quote_ak_new(NULL, &e));
	quote_free(q);
	quote_free(NULL);
	quote_ak_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rsa_vector),
	    cmocka_unit_test(test_ecc_vector),
	    cmocka_unit_test(test_all24_vector),
	    cmocka_unit_test(test_multibank_vector),
	    cmocka_unit_test(test_gcp_vtpm_vector),
	    cmocka_unit_test(test_pcr_values),
	    cmocka_unit_test(test_wrong_nonce),
	    cmocka_unit_test(test_flipped_signature),
	    cmocka_unit_test(test_changed_attest),
	    cmocka_unit_test(test_flipped_pcr_value),
	    cmocka_unit_test(test_selection_mismatch),
	    cmocka_unit_test(test_truncated_parts),
	    cmocka_unit_test(test_bad_strings),
	    cmocka_unit_test(test_magic_and_type),
	    cmocka_unit_test(test_signature_algorithms),
	    cmocka_unit_test(test_reuse),
	    cmocka_unit_test(test_pcr16),
	    cmocka_unit_test(test_clock),
	    cmocka_unit_test(test_pcrblob_codec),
	    cmocka_unit_test(test_status_names),
	    cmocka_unit_test(test_empty_object),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

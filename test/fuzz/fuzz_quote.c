/* Fuzz target: the Keylime quote decoder and everything that reads a decoded quote.
 * Input starting with 'r' is a quote string; input starting with 'p' is raw parts, to
 * reach the binary decoders without base64: 'p' u16be attest_len, attest, u16be sig_len,
 * sig, then the PCR blob. A decoded quote must re-encode to the same text, and every
 * check must run to a verdict without crashing. The AKs are the ones that signed the
 * rsa and ecc vectors in test/unit/data/quote, so corpus quotes reach a passing check. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "common/base/buf.h"
#include "common/evidence/quote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char rsa_pem[] = "-----BEGIN PUBLIC KEY-----\n"
                              "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAp/7nc95vOkbSA0ICPydT\n"
                              "7V5R2oXQGzcVOOgAWPR1Jxw4Gb+2tpdYgTCZNs5O3syB0USZlqPHVPup3Z4rix7l\n"
                              "+NGhnCVMHP701SPIoHTMsqBLZJcwrxa/IzHlgVT7/X5XLGuYTOxic6LKWLPCgKfZ\n"
                              "u97isZaQg3hcUkSPRd1smLQUjMFGlGNBypAVGxTm+FsmnKl9xmHfHnPJR028izBN\n"
                              "BjJFxoFuZgEyMWbEZtF6jkZotdBrZBcX11x7whewInm00Sw1XhYcWu6Tn8bc4k0i\n"
                              "wzH3ZO6Ccp8uQ4WyoZtB3yocnL55HVJjGMtKncD0n9c+A481Y4tGcs34kEmdfD4d\n"
                              "6wIDAQAB\n"
                              "-----END PUBLIC KEY-----\n";
static const char ecc_pem[] = "-----BEGIN PUBLIC KEY-----\n"
                              "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEiVktdWJZ+tr9/He9Sp8U8887EraB\n"
                              "mQqvrRWLmgSgMvM+BP2byrbj6kRF2xMNEMT1QSoIfP1KAzPgcZl0h/EHDg==\n"
                              "-----END PUBLIC KEY-----\n";

static quote_ak_t *load(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	quote_ak_t *ak = quote_ak_new(k, NULL);

	BIO_free(b);
	EVP_PKEY_free(k);
	if (ak == NULL)
		abort();
	return ak;
}

static void check_all(quote_t *q)
{
	static quote_ak_t *aks[2];
	static const quote_clock_t prev = {1000, 1, 0, 1};
	const uint8_t *p;
	size_t len;

	if (aks[0] == NULL) {
		aks[0] = load(rsa_pem);
		aks[1] = load(ecc_pem);
	}
	for (int i = 0; i < 2; i++)
		(void)quote_verify(q, aks[i], quote_sig_hash_alg(q), "kl1Rq8vigilNonce2024", 20,
		                   NULL);
	(void)quote_check_pcrs(q, NULL);
	(void)quote_check_pcr16(q, 0x000B, "pem", 3, NULL);
	(void)quote_check_pcr16(q, 0x0004, "pem", 3, NULL);
	(void)quote_check_clock(q, &prev, NULL);
	for (unsigned pcr = 0; pcr < QUOTE_PCR_COUNT; pcr++) {
		p = quote_pcr_value(q, 0x000B, pcr, &len);
		if (p != NULL && len != 32)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	quote_t *q = quote_new();
	buf_t out = BUF_INIT;
	const uint8_t *a, *s, *b;
	size_t al, sl, bl;

	if (size > 0 && data[0] == 'p') {
		size_t o = 1, n1, n2;
		if (size < o + 2)
			goto done;
		n1 = (size_t)data[o] << 8 | data[o + 1];
		o += 2;
		if (size < o + n1 + 2)
			goto done;
		a = data + o;
		o += n1;
		n2 = (size_t)data[o] << 8 | data[o + 1];
		o += 2;
		if (size < o + n2)
			goto done;
		s = data + o;
		o += n2;
		if (quote_decode_parts(q, a, n1, s, n2, data + o, size - o, NULL) == QUOTE_OK)
			check_all(q);
		goto done;
	}
	if (quote_decode(q, (const char *)data, size, NULL) != QUOTE_OK)
		goto done;
	a = quote_attest_bytes(q, &al);
	s = quote_sig_bytes(q, &sl);
	b = quote_pcrblob_bytes(q, &bl);
	if (quote_encode(&out, a, al, s, sl, b, bl, NULL) < 0 || out.len != size ||
	    memcmp(out.data, data, size) != 0)
		abort();
	check_all(q);
done:
	buf_free(&out);
	quote_free(q);
	return 0;
}

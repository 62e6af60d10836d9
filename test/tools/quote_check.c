/* quote_check: checks a quote with common/quote the way the verifier does, so tests can
 * compare our verdict with tpm2_checkquote's on the same TPM output.
 * Usage: quote_check -k AK.pem (-n NONCE | -x NONCE_HEX) [-g HASH] [-p PAYLOAD.pem] [-R]
 *                    (-q QUOTE_STRING_FILE | -m ATTEST -s SIG -f PCRS)
 *   -g  expected hash algorithm (sha1, sha256 (default), sha384, sha512)
 *   -p  also check the PCR 16 binding of this PEM file
 *   -R  also re-encode the PCR blob and the quote string and require identical bytes
 * Prints "OK", or "FAIL <event id>: <reason>"; exits 0 on OK, 1 on FAIL, 2 on misuse. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "common/base/buf.h"
#include "common/base/err.h"
#include "common/base/log.h"
#include "common/evidence/quote.h"

int main(int argc, char **argv);

static void usage(void)
{
	fprintf(stderr, "usage: quote_check -k AK.pem (-n NONCE | -x NONCE_HEX) [-g HASH] "
	                "[-p PAYLOAD.pem] [-R] (-q QUOTE_FILE | -m ATTEST -s SIG -f PCRS)\n");
	exit(2);
}

static void slurp(buf_t *b, const char *path)
{
	if (buf_read_file(b, path, 1 << 20) < 0) {
		fprintf(stderr, "quote_check: cannot read %s\n", path);
		exit(2);
	}
}

static int fail(quote_status_t st, const char *why)
{
	printf("FAIL %s: %s\n", quote_status_event(st), why);
	return 1;
}

int main(int argc, char **argv)
{
	const char *akf = NULL, *qf = NULL, *mf = NULL, *sf = NULL, *ff = NULL, *pf = NULL;
	buf_t nonce = BUF_INIT, pem = BUF_INIT, a = BUF_INIT, s = BUF_INIT, f = BUF_INIT;
	buf_t str = BUF_INIT, re = BUF_INIT, vals = BUF_INIT;
	uint16_t hash = 0x000B;
	int c, roundtrip = 0, rv = 1;
	quote_status_t st;
	err_t e = {""};

	log_init("quote_check", 1, 0);
	while ((c = getopt(argc, argv, "k:n:x:g:p:Rq:m:s:f:")) != -1) {
		switch (c) {
		case 'k':
			akf = optarg;
			break;
		case 'n':
			buf_set(&nonce, optarg, strlen(optarg));
			break;
		case 'x':
			buf_reset(&nonce);
			if (hex_decode(&nonce, optarg, strlen(optarg)) < 0)
				usage();
			break;
		case 'g':
			if (strcmp(optarg, "sha1") == 0)
				hash = 0x0004;
			else if (strcmp(optarg, "sha256") == 0)
				hash = 0x000B;
			else if (strcmp(optarg, "sha384") == 0)
				hash = 0x000C;
			else if (strcmp(optarg, "sha512") == 0)
				hash = 0x000D;
			else
				usage();
			break;
		case 'p':
			pf = optarg;
			break;
		case 'R':
			roundtrip = 1;
			break;
		case 'q':
			qf = optarg;
			break;
		case 'm':
			mf = optarg;
			break;
		case 's':
			sf = optarg;
			break;
		case 'f':
			ff = optarg;
			break;
		default:
			usage();
		}
	}
	if (akf == NULL || nonce.data == NULL || (qf == NULL) == (mf == NULL) ||
	    (mf && (sf == NULL || ff == NULL)))
		usage();

	FILE *fp = fopen(akf, "r");
	EVP_PKEY *pkey = fp ? PEM_read_PUBKEY(fp, NULL, NULL, NULL) : NULL;
	if (fp)
		fclose(fp);
	if (pkey == NULL) {
		fprintf(stderr, "quote_check: cannot read a public key from %s\n", akf);
		return 2;
	}
	quote_ak_t *ak = quote_ak_new(pkey, &e);
	EVP_PKEY_free(pkey);
	if (ak == NULL) {
		fprintf(stderr, "quote_check: %s\n", e.msg);
		return 2;
	}
	quote_t *q = quote_new();

	if (qf) {
		slurp(&str, qf);
		/* Tolerate one trailing newline in the file, as an editor leaves it. */
		if (str.len && str.data[str.len - 1] == '\n')
			str.len--;
		st = quote_decode(q, (const char *)str.data, str.len, &e);
	} else {
		slurp(&a, mf);
		slurp(&s, sf);
		slurp(&f, ff);
		st = quote_decode_parts(q, a.data, a.len, s.data, s.len, f.data, f.len, &e);
	}
	if (st != QUOTE_OK) {
		rv = fail(st, e.msg);
		goto out;
	}
	if ((st = quote_verify(q, ak, hash, nonce.data, nonce.len, &e)) != QUOTE_OK) {
		rv = fail(st, e.msg);
		goto out;
	}
	if (pf) {
		slurp(&pem, pf);
		if ((st = quote_check_pcr16(q, hash, pem.data, pem.len, &e)) != QUOTE_OK) {
			rv = fail(st, e.msg);
			goto out;
		}
	}
	if (roundtrip) {
		const uint8_t *pa, *ps, *pb;
		size_t la, ls, lb;
		quote_pcrsel_t sel;

		pa = quote_attest_bytes(q, &la);
		ps = quote_sig_bytes(q, &ls);
		pb = quote_pcrblob_bytes(q, &lb);
		if (quote_pcrblob_decode(pb, lb, &sel, &vals, &e) != QUOTE_OK ||
		    quote_pcrblob_encode(&re, &sel, vals.data, vals.len, &e) < 0 || re.len != lb ||
		    memcmp(re.data, pb, lb) != 0) {
			rv = fail(QUOTE_ERR_INTERNAL,
			          "PCR blob does not re-encode to the same bytes");
			goto out;
		}
		buf_reset(&re);
		if (quote_encode(&re, pa, la, ps, ls, pb, lb, &e) < 0 ||
		    (qf && (re.len != str.len || memcmp(re.data, str.data, re.len) != 0))) {
			rv = fail(QUOTE_ERR_INTERNAL,
			          "quote string does not re-encode to the same text");
			goto out;
		}
	}
	printf("OK\n");
	rv = 0;
out:
	quote_free(q);
	quote_ak_free(ak);
	buf_free(&nonce);
	buf_free(&pem);
	buf_free(&a);
	buf_free(&s);
	buf_free(&f);
	buf_free(&str);
	buf_free(&re);
	buf_free(&vals);
	return rv;
}

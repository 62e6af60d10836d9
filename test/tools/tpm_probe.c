/* tpm_probe: drive agent/tpm against a TPM (swtpm in the tests) and print what it finds,
 * so integration tests can compare the agent's view with tpm2-tools and openssl.
 *
 *   tpm_probe -T TCTI [-e rsa2048|ecc256|ecc384] [-H 0xHANDLE] [-a rsa|ecc] [-s STATEDIR]
 *             [-o OUTDIR] [-b BLOB] [-q NONCE]
 *
 * Prints key=value lines: ek_persistent, ek_certs, ak_created, ak_name (hex), ak_handle,
 * and with -b the credential recovered from a tpm2_makecredential blob, with -q a quote.
 * With -o it writes OUTDIR/ek.pub, ek_chain.pem, ak.pub (TPM2B_PUBLIC, PEM). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/tpm.h"
#include "common/base/buf.h"
#include "common/base/err.h"
#include "common/base/log.h"

int main(int argc, char **argv);

static void usage(void)
{
	fprintf(stderr, "usage: tpm_probe -T TCTI [-e EKALG] [-H HANDLE] [-a AKALG] [-s STATEDIR] "
	                "[-o OUTDIR] [-b BLOB] [-q NONCE]\n");
	exit(2);
}

static void hexline(const char *key, const buf_t *b)
{
	buf_t h = BUF_INIT;

	hex_encode(&h, b->data, b->len);
	printf("%s=%s\n", key, h.len ? (const char *)h.data : "");
	buf_free(&h);
}

static int save(const char *dir, const char *name, const buf_t *b)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (buf_write_file(path, b->data, b->len, 0644) < 0) {
		perror(path);
		return -1;
	}
	return 0;
}

/* Split a tpm2_makecredential file (magic, version, TPM2B_ID_OBJECT,
 * TPM2B_ENCRYPTED_SECRET) and activate it. */
static int activate(tpm_t *t, const char *path)
{
	buf_t blob = BUF_INIT, cred = BUF_INIT;
	err_t e = {""};
	size_t idl, sl;
	const uint8_t *p;
	int rv = -1;

	if (buf_read_file(&blob, path, 65536) < 0 || blob.len < 12) {
		fprintf(stderr, "cannot read blob %s\n", path);
		goto out;
	}
	p = blob.data;
	if (p[0] != 0xba || p[1] != 0xdc || p[2] != 0xc0 || p[3] != 0xde) {
		fprintf(stderr, "not a credential blob\n");
		goto out;
	}
	idl = 2 + ((size_t)p[8] << 8 | p[9]);
	if (8 + idl + 2 > blob.len) {
		fprintf(stderr, "truncated blob\n");
		goto out;
	}
	sl = 2 + ((size_t)p[8 + idl] << 8 | p[8 + idl + 1]);
	if (8 + idl + sl != blob.len) {
		fprintf(stderr, "blob sizes do not add up\n");
		goto out;
	}
	if (tpm_activate_credential(t, p + 8, idl, p + 8 + idl, sl, &cred, &e) < 0) {
		fprintf(stderr, "activate: %s\n", e.msg);
		goto out;
	}
	printf("credential=%.*s\n", (int)cred.len, (const char *)cred.data);
	rv = 0;
out:
	buf_free(&blob);
	buf_free_secret(&cred);
	return rv;
}

static int quote(tpm_t *t, const char *nonce, const char *outdir)
{
	buf_t a = BUF_INIT, s = BUF_INIT, d = BUF_INIT;
	tpm_pcrs_t pcrs;
	err_t e = {""};
	uint8_t dig[32];
	int rv = -1;

	memset(dig, 0x5a, sizeof(dig));
	if (tpm_pcr_reset(t, 16, &e) < 0 || tpm_pcr_extend(t, 16, 0x000b, dig, 32, &e) < 0 ||
	    tpm_pcr_read(t, 0x000b, 0x10401, &pcrs, &e) < 0 ||
	    tpm_quote(t, (const uint8_t *)nonce, strlen(nonce), 0x000b, 0x10401, &a, &s, &e) < 0) {
		fprintf(stderr, "quote: %s\n", e.msg);
		goto out;
	}
	buf_set(&d, pcrs.value[16], pcrs.digest_len);
	hexline("pcr16", &d);
	printf("pcr_mask=0x%06x\n", pcrs.mask);
	hexline("quote_attest", &a);
	hexline("quote_sig", &s);
	if (outdir && (save(outdir, "quote.attest", &a) < 0 || save(outdir, "quote.sig", &s) < 0))
		goto out;
	rv = 0;
out:
	buf_free(&a);
	buf_free(&s);
	buf_free(&d);
	return rv;
}

int main(int argc, char **argv)
{
	const char *tcti = NULL, *ek = "rsa2048", *ak = "rsa", *state = NULL, *outdir = NULL;
	const char *blob = NULL, *nonce = NULL;
	unsigned long handle = 0;
	tpm_ek_alg_t ekalg;
	tpm_ak_alg_t akalg;
	tpm_t *t = NULL;
	buf_t b = BUF_INIT;
	err_t e = {""};
	int ch, n = 0, created = 0, rv = 1;

	while ((ch = getopt(argc, argv, "T:e:H:a:s:o:b:q:v")) != -1) {
		switch (ch) {
		case 'T':
			tcti = optarg;
			break;
		case 'e':
			ek = optarg;
			break;
		case 'H':
			handle = strtoul(optarg, NULL, 0);
			break;
		case 'a':
			ak = optarg;
			break;
		case 's':
			state = optarg;
			break;
		case 'o':
			outdir = optarg;
			break;
		case 'b':
			blob = optarg;
			break;
		case 'q':
			nonce = optarg;
			break;
		case 'v':
			log_set_verbose(1);
			break;
		default:
			usage();
		}
	}
	if (tcti == NULL || tpm_ek_alg_parse(ek, &ekalg) < 0 || tpm_ak_alg_parse(ak, &akalg) < 0)
		usage();
	log_init("tpm_probe", 1, log_is_verbose());
	if ((t = tpm_open(tcti, &e)) == NULL) {
		fprintf(stderr, "open: %s\n", e.msg);
		goto out;
	}
	if (tpm_ek_load(t, ekalg, (uint32_t)handle, &e) < 0) {
		fprintf(stderr, "ek: %s\n", e.msg);
		goto out;
	}
	printf("ek_persistent=%d\n", tpm_ek_is_persistent(t));
	tpm_ek_public(t, &b);
	if (outdir && save(outdir, "ek.pub", &b) < 0)
		goto out;
	if (tpm_ek_cert_chain_pem(t, &b, &n, &e) < 0) {
		fprintf(stderr, "ek cert: %s\n", e.msg);
		goto out;
	}
	printf("ek_certs=%d\n", n);
	if (outdir && save(outdir, "ek_chain.pem", &b) < 0)
		goto out;
	if (state) {
		if (tpm_ak_load_or_create(t, akalg, state, &created, &e) < 0) {
			fprintf(stderr, "ak: %s\n", e.msg);
			goto out;
		}
		printf("ak_created=%d\n", created);
		printf("ak_handle=0x%08x\n", tpm_ak_handle(t));
		printf("ak_algs=%s,%s,%s\n", tpm_ak_hash_alg(t), tpm_ak_sign_alg(t),
		       tpm_ak_key_alg(t, 0));
		tpm_ak_name(t, &b);
		hexline("ak_name", &b);
		tpm_ak_public(t, &b);
		if (outdir && save(outdir, "ak.pub", &b) < 0)
			goto out;
		if (blob && activate(t, blob) < 0)
			goto out;
		if (nonce && quote(t, nonce, outdir) < 0)
			goto out;
	}
	rv = 0;
out:
	buf_free(&b);
	tpm_free(t);
	return rv;
}

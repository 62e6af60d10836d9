/* makecred_tool: the registrar's enrollment checks, run with vigil's own code on files a
 * real (software) TPM produced, for test/integration/t_makecred.sh.
 *   makecred_tool EK.pub OBJECT.pub SECRET_FILE BLOB_OUT
 *       TPM2_MakeCredential: SECRET bound to OBJECT's Name, for the TPM holding EK; the
 *       blob in tpm2_makecredential's file format.
 *   makecred_tool --name OBJECT.pub
 *       prints OBJECT's Name in hex.
 *   makecred_tool --check-ak OBJECT.pub
 *       the attestation-key rules; prints "ok" or the reason, exit 0 / 1.
 *   makecred_tool --check-ek EK.pub CERT.der CA_DIR
 *       the EK certificate (DER, as NV holds it) chains to a CA in CA_DIR and certifies
 *       exactly EK; prints "ok" or the reason, exit 0 / 1.
 * *.pub files are TPM2B_PUBLIC (tpm2_createek / tpm2_createak -u). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/buf.h"
#include "common/crypto/ekcert.h"
#include "common/base/log.h"
#include "common/crypto/makecred.h"
#include "common/crypto/tpm2.h"

int main(int argc, char **argv);

static tpm2_pub_t *load_pub(const char *path)
{
	buf_t b = BUF_INIT;
	err_t e = {""};
	tpm2_pub_t *k;

	if (buf_read_file(&b, path, 4096) < 0)
		fatal("%s", path);
	if ((k = tpm2_pub_decode(b.data, b.len, &e)) == NULL)
		fatalx("%s: %s", path, e.msg);
	buf_free(&b);
	return k;
}

static int print_name(const char *pub)
{
	tpm2_pub_t *obj = load_pub(pub);
	buf_t name = BUF_INIT, hex = BUF_INIT;
	err_t e = {""};

	if (tpm2_pub_name(obj, &name, &e) < 0)
		fatalx("%s: %s", pub, e.msg);
	hex_encode(&hex, name.data, name.len);
	printf("%s\n", (char *)hex.data);
	buf_free(&hex);
	buf_free(&name);
	tpm2_pub_free(obj);
	return 0;
}

static int check_ak(const char *pub)
{
	tpm2_pub_t *ak = load_pub(pub);
	err_t e = {""};
	int rv = tpm2_pub_check_ak(ak, &e);

	printf("%s\n", rv == 0 ? "ok" : e.msg);
	tpm2_pub_free(ak);
	return rv == 0 ? 0 : 1;
}

static int check_ek(const char *pub, const char *certfile, const char *cadir)
{
	tpm2_pub_t *ek = load_pub(pub);
	buf_t der = BUF_INIT, text = BUF_INIT;
	X509 *leaf = NULL;
	STACK_OF(X509) *chain = NULL;
	ekca_t *ca = NULL;
	err_t e = {""};
	int rv = 1;

	if (buf_read_file(&der, certfile, 65536) < 0)
		fatal("%s", certfile);
	/* The agent sends what NV holds as base64 DER (or PEM); take the same path. */
	base64_encode(&text, der.data, der.len);
	if (ekcert_parse((const char *)text.data, text.len, &leaf, &chain, &e) < 0 ||
	    (ca = ekca_load_dir(cadir, &e)) == NULL || ekca_verify(ca, leaf, chain, &e) < 0)
		goto out;
	if (!tpm2_pub_matches_pkey(ek, X509_get0_pubkey(leaf))) {
		err_set(&e, "EK certificate is for another key than %s", pub);
		goto out;
	}
	rv = 0;
out:
	printf("%s\n", rv == 0 ? "ok" : e.msg);
	ekca_free(ca);
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	buf_free(&der);
	buf_free(&text);
	tpm2_pub_free(ek);
	return rv;
}

static int make_blob(const char *ekpub, const char *objpub, const char *secret, const char *out)
{
	tpm2_pub_t *ek = load_pub(ekpub), *obj = load_pub(objpub);
	buf_t name = BUF_INIT, cred = BUF_INIT, blob = BUF_INIT;
	err_t e = {""};

	if (tpm2_pub_name(obj, &name, &e) < 0)
		fatalx("%s: %s", objpub, e.msg);
	if (buf_read_file(&cred, secret, 1024) < 0)
		fatal("%s", secret);
	if (makecred_blob(ek, name.data, name.len, cred.data, cred.len, &blob, &e) < 0)
		fatalx("makecred: %s", e.msg);
	if (buf_write_file(out, blob.data, blob.len, 0644) < 0)
		fatal("%s", out);
	buf_free_secret(&cred);
	buf_free(&name);
	buf_free(&blob);
	tpm2_pub_free(ek);
	tpm2_pub_free(obj);
	return 0;
}

int main(int argc, char **argv)
{
	log_init("makecred_tool", 1, 0);
	if (argc == 3 && strcmp(argv[1], "--name") == 0)
		return print_name(argv[2]);
	if (argc == 3 && strcmp(argv[1], "--check-ak") == 0)
		return check_ak(argv[2]);
	if (argc == 5 && strcmp(argv[1], "--check-ek") == 0)
		return check_ek(argv[2], argv[3], argv[4]);
	if (argc == 5 && argv[1][0] != '-')
		return make_blob(argv[1], argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: makecred_tool EK.pub OBJECT.pub SECRET_FILE BLOB_OUT\n"
	                "       makecred_tool --name OBJECT.pub\n"
	                "       makecred_tool --check-ak OBJECT.pub\n"
	                "       makecred_tool --check-ek EK.pub CERT.der CA_DIR\n");
	return 2;
}

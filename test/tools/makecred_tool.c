/* makecred_tool: TPM2_MakeCredential with vigil's own code, for the integration test that
 * has a real (software) TPM activate what we made.
 *   makecred_tool EK.pub OBJECT.pub SECRET_FILE BLOB_OUT
 *   makecred_tool --name OBJECT.pub        (prints OBJECT's Name in hex)
 * EK.pub and OBJECT.pub are TPM2B_PUBLIC files (tpm2_createek / tpm2_createak -u); the
 * credential is bound to OBJECT's Name. The blob is in tpm2_makecredential's format. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/makecred.h"
#include "common/tpm2.h"

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

int main(int argc, char **argv)
{
	tpm2_pub_t *ek, *obj;
	buf_t name = BUF_INIT, cred = BUF_INIT, blob = BUF_INIT;
	err_t e = {""};

	log_init("makecred_tool", 1, 0);
	if (argc == 3 && strcmp(argv[1], "--name") == 0) {
		obj = load_pub(argv[2]);
		if (tpm2_pub_name(obj, &name, &e) < 0)
			fatalx("%s: %s", argv[2], e.msg);
		hex_encode(&cred, name.data, name.len);
		printf("%s\n", (char *)cred.data);
		buf_free(&cred);
		buf_free(&name);
		tpm2_pub_free(obj);
		return 0;
	}
	if (argc != 5) {
		fprintf(stderr, "usage: makecred_tool EK.pub OBJECT.pub SECRET_FILE BLOB_OUT\n"
		                "       makecred_tool --name OBJECT.pub\n");
		return 2;
	}
	ek = load_pub(argv[1]);
	obj = load_pub(argv[2]);
	if (tpm2_pub_name(obj, &name, &e) < 0)
		fatalx("%s: %s", argv[2], e.msg);
	if (buf_read_file(&cred, argv[3], 1024) < 0)
		fatal("%s", argv[3]);
	if (makecred_blob(ek, name.data, name.len, cred.data, cred.len, &blob, &e) < 0)
		fatalx("makecred: %s", e.msg);
	if (buf_write_file(argv[4], blob.data, blob.len, 0644) < 0)
		fatal("%s", argv[4]);
	buf_free_secret(&cred);
	buf_free(&name);
	buf_free(&blob);
	tpm2_pub_free(ek);
	tpm2_pub_free(obj);
	return 0;
}

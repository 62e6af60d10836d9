/* payload: see payload.h. */
#include "agent/payload.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/base/log.h"
#include "common/crypto/pki.h"
#include "common/base/xmalloc.h"

EVP_PKEY *payload_key_ensure(const char *dir, buf_t *pub_pem, err_t *e)
{
	char *path = xasprintf("%s/payload-private.pem", dir);
	EVP_PKEY *key = NULL;
	struct stat st;

	if (stat(path, &st) == 0) {
		if ((key = pki_key_load(path, e)) == NULL)
			goto out;
		if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA || EVP_PKEY_get_bits(key) != 2048) {
			err_set(e, "%s is not an RSA-2048 key; move it away to get a new one",
			        path);
			goto fail;
		}
		/* A private key others can read is a leaked key; at least stop the leak. */
		if ((st.st_mode & 077) && chmod(path, 0600) == 0)
			log_warnx("%s was readable by others (mode %03o); now 0600", path,
			          (unsigned)(st.st_mode & 0777));
	} else if (errno == ENOENT) {
		log_info("generating the agent's payload key %s (RSA-2048)", path);
		key = pki_key_new(PKI_KEY_RSA2048);
		if (pki_key_save(key, path, e) < 0)
			goto fail;
	} else {
		err_set(e, "%s: %s", path, strerror(errno));
		goto out;
	}
	buf_reset(pub_pem);
	if (pki_pubkey_pem(key, pub_pem) < 0) {
		err_set_ssl(e, "cannot write the payload public key as PEM");
		goto fail;
	}
	goto out;
fail:
	EVP_PKEY_free(key);
	key = NULL;
out:
	free(path);
	return key;
}

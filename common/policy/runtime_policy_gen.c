/* runtime_policy_gen: a Keylime runtime policy from a golden machine's IMA list, for
 * 'vigilctl policy create runtime'. It walks the list with the verifier's own replay and
 * checks what it writes with the verifier's own parser. */
#include "common/policy/runtime_policy_gen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/policy/runtime_policy_priv.h"
#include "common/crypto/tpm2.h"
#include "common/base/xmalloc.h"

/* set[path][hex] = true; sorted into arrays at the end. */
static void gen_add(json_t *set, const char *path, const uint8_t *d, size_t n)
{
	json_t *s = json_object_get(set, path);
	char hex[2 * IMA_DIGEST_MAX + 1];

	for (size_t i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	hex[2 * n] = 0;
	if (s == NULL) {
		s = json_object();
		json_object_set_new(set, path, s);
	}
	json_object_set_new(s, hex, json_true());
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Turn set[path] = {hex: true} into obj[path] = [sorted hex]. */
static json_t *gen_finish(json_t *set)
{
	json_t *out = json_object(), *inner;
	const char *path, *hex;
	json_t *v;

	json_object_foreach(set, path, inner)
	{
		size_t n = json_object_size(inner), i = 0;
		const char **keys = xcalloc(n + 1, sizeof(char *));
		json_t *arr = json_array();

		json_object_foreach(inner, hex, v) keys[i++] = hex;
		qsort(keys, n, sizeof(char *), cmp_str);
		for (i = 0; i < n; i++)
			json_array_append_new(arr, json_string(keys[i]));
		free(keys);
		json_object_set_new(out, path, arr);
	}
	return out;
}

static json_t *sorted_unique_strings(const char *const *v, size_t n)
{
	const char **tmp = xcalloc(n + 1, sizeof(char *));
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++)
		tmp[i] = v[i];
	qsort(tmp, n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || strcmp(tmp[i], tmp[i - 1]) != 0)
			json_array_append_new(arr, json_string(tmp[i]));
	free(tmp);
	return arr;
}

static int gen_keys(const runtime_policy_gen_opts_t *o, json_t *root, err_t *e)
{
	json_t *vk, *ids, *pubs;
	buf_t file = BUF_INIT, b64 = BUF_INIT;
	char *txt;
	int rv = -1;

	if (o->n_key_files == 0) {
		json_object_set_new(root, "verification-keys", json_string(""));
		return 0;
	}
	if (o->n_key_files > RUNTIME_POLICY_MAX_KEYS) {
		err_set(e, "more than %d verification keys", RUNTIME_POLICY_MAX_KEYS);
		return -1;
	}
	vk = json_object();
	ids = json_array();
	pubs = json_array();
	json_object_set_new(vk, "meta", json_pack("{s:i}", "version", 1));
	json_object_set_new(vk, "keyids", ids);
	json_object_set_new(vk, "pubkeys", pubs);
	for (size_t i = 0; i < o->n_key_files; i++) {
		EVP_PKEY *pk = NULL;
		uint32_t id;
		unsigned char *der = NULL;
		int n;

		if (buf_read_file(&file, o->key_files[i], RP_KEYFILE_MAX) < 0) {
			err_set(e, "%s: %s", o->key_files[i], strerror(errno));
			goto out;
		}
		n = rp_key_from_bytes(file.data, file.len, &pk, &id);
		if (n <= 0) {
			err_set(e, "%s: %s", o->key_files[i],
			        n < 0 ? "key is neither RSA nor EC"
			              : "not a PEM or DER certificate or public key");
			goto out;
		}
		n = i2d_PUBKEY(pk, &der);
		EVP_PKEY_free(pk);
		if (n <= 0) {
			err_set_ssl(e, "%s: encoding the key", o->key_files[i]);
			goto out;
		}
		buf_reset(&b64);
		base64_encode(&b64, der, (size_t)n);
		OPENSSL_free(der);
		json_array_append_new(ids, json_integer(id));
		json_array_append_new(pubs, json_string((const char *)b64.data));
	}
	txt = json_dumps(vk, JSON_COMPACT);
	json_object_set_new(root, "verification-keys", json_string(txt));
	free(txt);
	rv = 0;
out:
	json_decref(vk);
	buf_free(&file);
	buf_free(&b64);
	return rv;
}

/* What one generation collects, entry by entry. */
typedef struct gen_ctx {
	const runtime_policy_gen_opts_t *o; /* the options */
	json_t *digests;                    /* set of file digests by path */
	json_t *keyrings;                   /* set of key digests by keyring */
	json_t *imabuf;                     /* set of other ima-buf digests by name */
} gen_ctx_t;

/* An ima_entry_cb: one entry that ima_replay parsed and checked into the sets. */
static int gen_entry(void *arg, const ima_entry_t *ent, ima_failure_t *f)
{
	gen_ctx_t *c = arg;
	const runtime_policy_gen_opts_t *o = c->o;
	EVP_PKEY *pk = NULL;
	uint32_t id;
	int k, ignored = 0;

	(void)f;
	if (ent->is_violation)
		return 0;
	if (ent->tmpl != IMA_TEMPLATE_IMA_BUF) {
		gen_add(c->digests, ent->name, ent->digest, ent->digest_len);
		return 0;
	}
	k = rp_key_from_bytes(ent->buf, ent->buf_len, &pk, &id);
	EVP_PKEY_free(pk);
	for (size_t i = 0; i < o->n_ignored_keyrings; i++)
		if (strcmp(o->ignored_keyrings[i], "*") == 0 ||
		    strcmp(o->ignored_keyrings[i], ent->name) == 0)
			ignored = 1;
	if (k != 0 && o->with_keyrings && !ignored)
		gen_add(c->keyrings, ent->name, ent->digest, ent->digest_len);
	else if (k == 0 && o->with_ima_buf)
		gen_add(c->imabuf, ent->name, ent->digest, ent->digest_len);
	return 0;
}

int runtime_policy_generate(const char *ima_text, size_t len, const runtime_policy_gen_opts_t *o,
                            buf_t *out, err_t *e)
{
	runtime_policy_gen_opts_t none;
	json_t *root = NULL, *digests = json_object(), *keyrings = json_object(),
	       *imabuf = json_object();
	runtime_policy_t *check = NULL;
	ima_state_t *st = NULL;
	ima_replay_result_t res;
	gen_ctx_t gc;
	uint16_t log_alg;
	char ts[64], *txt = NULL;
	int rv = -1;

	if (o == NULL) {
		memset(&none, 0, sizeof(none));
		o = &none;
	}
	log_alg = o->log_alg ? o->log_alg : TPM2_ALG_SHA1_ID;
	if (ima_alg_size(log_alg) == 0) {
		err_set(e, "unsupported log hash algorithm");
		goto out;
	}
	if (ima_text == NULL && len) {
		err_set(e, "no measurement list");
		goto out;
	}
	if (len > IMA_TEXT_MAX) {
		err_set(e, "measurement list is larger than %u bytes", (unsigned)IMA_TEXT_MAX);
		goto out;
	}
	for (size_t i = 0; i < o->n_excludes; i++)
		if (runtime_policy_check_regex(o->excludes[i], e) < 0)
			goto out;
	/* The same walk as the verifier's and 'vigilctl ima replay': one parser, one PCR
	 * rule (only PCR 10 entries: the quote can vouch for nothing else), one template-hash
	 * check; a list they refuse is refused here with the same reason. */
	if ((st = ima_state_new(TPM2_ALG_SHA1_ID)) == NULL) {
		err_set(e, "out of memory");
		goto out;
	}
	gc.o = o;
	gc.digests = digests;
	gc.keyrings = keyrings;
	gc.imabuf = imabuf;
	if (ima_replay(st, ima_text, len, 0, NULL, 0, log_alg, gen_entry, &gc, &res) != IMA_OK) {
		err_set(e, "%s", res.failure.reason);
		goto out;
	}
	if (o->timestamp != NULL) {
		snprintf(ts, sizeof(ts), "%s", o->timestamp);
	} else {
		time_t now = time(NULL);
		struct tm tm;

		gmtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	root = json_object();
	json_object_set_new(
	    root, "meta",
	    json_pack("{s:i, s:i, s:s}", "version", 1, "generator", 3, "timestamp", ts));
	json_object_set_new(root, "release", json_integer(0));
	json_object_set_new(root, "digests", gen_finish(digests));
	json_object_set_new(root, "excludes", sorted_unique_strings(o->excludes, o->n_excludes));
	json_object_set_new(root, "keyrings", gen_finish(keyrings));
	json_object_set_new(root, "ima-buf", gen_finish(imabuf));
	json_object_set_new(
	    root, "ima",
	    json_pack("{s:o, s:s, s:n}", "ignored_keyrings",
	              sorted_unique_strings(o->ignored_keyrings, o->n_ignored_keyrings),
	              "log_hash_alg", ima_alg_name(log_alg), "dm_policy"));
	if (gen_keys(o, root, e) < 0)
		goto out;
	txt = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (txt == NULL) {
		err_set(e, "cannot encode the policy");
		goto out;
	}
	/* What we write must load: the same strict parser the verifier uses. */
	check = runtime_policy_parse(txt, strlen(txt), RP_MAX_LEN_CAP, e);
	if (check == NULL)
		goto out;
	buf_set(out, txt, strlen(txt));
	buf_append_str(out, "\n");
	rv = 0;
out:
	runtime_policy_unref(check);
	free(txt);
	json_decref(root);
	json_decref(digests);
	json_decref(keyrings);
	json_decref(imabuf);
	ima_state_free(st);
	return rv;
}

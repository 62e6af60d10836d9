/* runtime_policy: compiling a Keylime runtime policy document (strict JSON parse, digest
 * maps, excludes as one PCRE2 expression, verification keys) into the shared immutable
 * object. Evaluation is in runtime_policy_eval.c, generation in runtime_policy_gen.c. */
#include "common/policy/runtime_policy.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/policy/runtime_policy_priv.h"
#include "common/base/xmalloc.h"

/* ---------------------------------------------------------------------------------
 * Digest map */

static uint64_t fnv1a(const void *p, size_t n)
{
	const uint8_t *s = p;
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 1099511628211ull;
	}
	return h;
}

static void dmap_init(dmap_t *m, size_t keys)
{
	size_t cap = 16;

	while (cap < 2 * keys + 2)
		cap *= 2;
	memset(m, 0, sizeof(*m));
	m->slots = xcalloc(cap, sizeof(*m->slots));
	m->cap = cap;
}

static void dmap_free(dmap_t *m)
{
	free(m->slots);
	buf_free(&m->arena);
	memset(m, 0, sizeof(*m));
}

const dmap_slot_t *rp_dmap_find(const dmap_t *m, const char *key, size_t len)
{
	uint64_t h;
	size_t i;

	if (m->count == 0)
		return NULL;
	h = fnv1a(key, len);
	for (i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		const dmap_slot_t *s = &m->slots[i];

		if (s->ndig == 0)
			return NULL;
		if (s->h == h && s->key_len == len &&
		    memcmp(m->arena.data + s->key_off, key, len) == 0)
			return s;
	}
}

/* Add a key whose digests were just appended to the arena at dig_off. Keys are unique
 * (JSON parsed with JSON_REJECT_DUPLICATES). */
static void dmap_put(dmap_t *m, uint32_t key_off, uint32_t key_len, uint32_t dig_off, uint32_t ndig)
{
	uint64_t h = fnv1a(m->arena.data + key_off, key_len);
	size_t i;

	for (i = h & (m->cap - 1); m->slots[i].ndig != 0; i = (i + 1) & (m->cap - 1))
		;
	m->slots[i] = (dmap_slot_t){h, key_off, key_len, dig_off, ndig};
	m->count++;
}

int rp_dmap_slot_has(const dmap_t *m, const dmap_slot_t *s, const uint8_t *d, size_t len)
{
	const uint8_t *p = m->arena.data + s->dig_off;

	for (uint32_t i = 0; i < s->ndig; i++) {
		if (p[0] == len && memcmp(p + 1, d, len) == 0)
			return 1;
		p += 1 + p[0];
	}
	return 0;
}

void rp_dmap_slot_list(const dmap_t *m, const dmap_slot_t *s, char *out, size_t outsz)
{
	const uint8_t *p = m->arena.data + s->dig_off;
	size_t o = 0;

	out[0] = 0;
	for (uint32_t i = 0; i < s->ndig && i < 3; i++) {
		for (size_t k = 0; k < p[0] && o + 3 < outsz; k++)
			o += (size_t)snprintf(out + o, outsz - o, "%02x", p[1 + k]);
		if (i + 1 < s->ndig && i < 2 && o + 3 < outsz)
			o += (size_t)snprintf(out + o, outsz - o, ", ");
		p += 1 + p[0];
	}
	if (s->ndig > 3 && o + 20 < outsz)
		snprintf(out + o, outsz - o, " and %u more", s->ndig - 3);
}

/* ---------------------------------------------------------------------------------
 * Keys */

/* Keylime / evmctl keyidv2: SHA-1 over the PKCS#1 RSAPublicKey DER for RSA, over the
 * uncompressed X9.62 point for EC; the last 4 bytes, big-endian. */
static int key_compute_id(EVP_PKEY *pk, uint32_t *id)
{
	unsigned char *der = NULL;
	uint8_t md[20];
	int n;

	if (EVP_PKEY_is_a(pk, "EC"))
		EVP_PKEY_set_utf8_string_param(pk, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
		                               OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED);
	n = i2d_PublicKey(pk, &der);
	if (n <= 0)
		return -1;
	if (EVP_Digest(der, (size_t)n, md, NULL, EVP_sha1(), NULL) != 1) {
		OPENSSL_free(der);
		return -1;
	}
	OPENSSL_free(der);
	*id = (uint32_t)md[16] << 24 | (uint32_t)md[17] << 16 | (uint32_t)md[18] << 8 | md[19];
	return 0;
}

int rp_key_type_ok(EVP_PKEY *pk)
{
	return EVP_PKEY_is_a(pk, "RSA") || EVP_PKEY_is_a(pk, "EC");
}

int rp_key_from_bytes(const uint8_t *p, size_t n, EVP_PKEY **pk, uint32_t *id)
{
	const unsigned char *q;
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	int have_skid = 0;

	*pk = NULL;
	*id = 0;
	if (n == 0 || n > RP_KEYFILE_MAX)
		return 0;
	if (p[0] == 0x30) {
		q = p;
		x = d2i_X509(NULL, &q, (long)n);
		if (x != NULL && q != p + n) {
			X509_free(x);
			x = NULL;
		}
		if (x == NULL) {
			q = p;
			k = d2i_PUBKEY(NULL, &q, (long)n);
			if (k != NULL && q != p + n) {
				EVP_PKEY_free(k);
				k = NULL;
			}
		}
	} else if (n > 11 && memcmp(p, "-----BEGIN ", 11) == 0) {
		BIO *b = BIO_new_mem_buf(p, (int)n);

		if (b != NULL) {
			x = PEM_read_bio_X509(b, NULL, NULL, NULL);
			if (x == NULL) {
				BIO_free(b);
				b = BIO_new_mem_buf(p, (int)n);
				if (b != NULL)
					k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
			}
			BIO_free(b);
		}
	}
	ERR_clear_error();
	if (x != NULL) {
		const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(x);

		k = X509_get_pubkey(x);
		if (skid != NULL && ASN1_STRING_length(skid) >= 4) {
			const unsigned char *s = ASN1_STRING_get0_data(skid);
			int l = ASN1_STRING_length(skid);

			*id = (uint32_t)s[l - 4] << 24 | (uint32_t)s[l - 3] << 16 |
			      (uint32_t)s[l - 2] << 8 | s[l - 1];
			have_skid = 1;
		}
		X509_free(x);
	}
	if (k == NULL)
		return 0;
	if (!rp_key_type_ok(k)) {
		EVP_PKEY_free(k);
		return -1;
	}
	if (!have_skid && key_compute_id(k, id) < 0) {
		EVP_PKEY_free(k);
		return 0;
	}
	*pk = k;
	return 1;
}

/* ---------------------------------------------------------------------------------
 * The policy */

static void policy_free(runtime_policy_t *p)
{
	if (p == NULL)
		return;
	dmap_free(&p->digests);
	dmap_free(&p->keyrings);
	dmap_free(&p->imabuf);
	for (size_t i = 0; i < p->n_ignored; i++)
		free(p->ignored[i]);
	free(p->ignored);
	pcre2_code_free(p->excl);
	for (size_t i = 0; i < p->n_keys; i++)
		EVP_PKEY_free(p->keys[i].pk);
	free(p->keys);
	free(p);
}

runtime_policy_t *runtime_policy_ref(runtime_policy_t *p)
{
	if (p != NULL)
		atomic_fetch_add(&p->refs, 1);
	return p;
}

void runtime_policy_unref(runtime_policy_t *p)
{
	if (p != NULL && atomic_fetch_sub(&p->refs, 1) == 1)
		policy_free(p);
}

const char *runtime_policy_sha256(const runtime_policy_t *p)
{
	return p->sha256;
}

uint16_t runtime_policy_log_hash_alg(const runtime_policy_t *p)
{
	return p->log_alg;
}

int runtime_policy_generator(const runtime_policy_t *p)
{
	return p->generator;
}

size_t runtime_policy_digest_count(const runtime_policy_t *p)
{
	return p->digests.count;
}

size_t runtime_policy_exclude_count(const runtime_policy_t *p)
{
	return p->n_excludes;
}

size_t runtime_policy_key_count(const runtime_policy_t *p)
{
	return p->n_keys;
}

/* Python's re and PCRE2 agree on the syntax policies use; UTF + UCP make \w, \d and \s
 * Unicode-aware as in Python 3, MATCH_INVALID_UTF keeps non-UTF-8 paths matchable. */
#define RP_PCRE2_FLAGS (PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF)

int runtime_policy_check_regex(const char *re, err_t *e)
{
	int ec;
	PCRE2_SIZE off;
	pcre2_code *c;
	size_t n = strlen(re);

	if (n > RUNTIME_POLICY_MAX_REGEX) {
		err_set(e, "exclude regex is %zu bytes, the limit is %d", n,
		        RUNTIME_POLICY_MAX_REGEX);
		return -1;
	}
	c = pcre2_compile((PCRE2_SPTR)re, n, RP_PCRE2_FLAGS, &ec, &off, NULL);
	if (c == NULL) {
		PCRE2_UCHAR msg[160];

		pcre2_get_error_message(ec, msg, sizeof(msg));
		char t[100];
		err_set(e, "exclude regex \"%s\" does not compile: %s at offset %zu",
		        text_escape(t, sizeof(t), re, strnlen(re, 80)), (const char *)msg,
		        (size_t)off);
		return -1;
	}
	pcre2_code_free(c);
	return 0;
}

#define HEXV(c) ((c) <= '9' ? (c) - '0' : (c) - 'a' + 10)

static int is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* A digests-object ("digests", "keyrings", "ima-buf"): key -> non-empty array of
 * lowercase hex digests of 40..128 even digits. */
static int build_dmap(dmap_t *m, json_t *obj, const char *what, err_t *e)
{
	const char *key;
	json_t *arr;
	void *it;

	if (!json_is_object(obj)) {
		err_set(e, "\"%s\" must be an object", what);
		return -1;
	}
	dmap_init(m, json_object_size(obj));
	/* A path and one SHA-256 digest per key, typically: one allocation up front. */
	buf_reserve(&m->arena, json_object_size(obj) * 80);
	for (it = json_object_iter(obj); it != NULL; it = json_object_iter_next(obj, it)) {
		size_t klen, i;
		char kt[208]; /* the key, escaped, for a reason */
		uint32_t key_off, dig_off;

		key = json_object_iter_key(it);
		arr = json_object_iter_value(it);
		klen = strlen(key);
		if (klen > IMA_NAME_MAX) {
			err_set(e, "\"%s\": a key of %zu bytes exceeds the limit of %d", what, klen,
			        IMA_NAME_MAX);
			return -1;
		}
		if (!json_is_array(arr) || json_array_size(arr) == 0) {
			err_set(e, "\"%s\"[\"%s\"] must be a non-empty array of digests", what,
			        text_escape(kt, sizeof(kt), key, klen));
			return -1;
		}
		if (json_array_size(arr) > 4096) {
			err_set(e, "\"%s\"[\"%s\"] has more than 4096 digests", what,
			        text_escape(kt, sizeof(kt), key, klen));
			return -1;
		}
		key_off = (uint32_t)m->arena.len;
		buf_append(&m->arena, key, klen + 1);
		dig_off = (uint32_t)m->arena.len;
		for (i = 0; i < json_array_size(arr); i++) {
			json_t *d = json_array_get(arr, i);
			const char *hx = json_string_value(d);
			size_t hl = hx ? json_string_length(d) : 0;
			uint8_t raw[IMA_DIGEST_MAX], l;

			if (hx == NULL || hl < 40 || hl > 128 || hl % 2 || !is_lower_hex(hx, hl)) {
				err_set(e,
				        "\"%s\"[\"%s\"][%zu] must be a string of 40 to 128 "
				        "lowercase hex digits, even in number",
				        what, text_escape(kt, sizeof(kt), key, klen), i);
				return -1;
			}
			for (size_t k = 0; k < hl; k += 2) /* validated lowercase hex */
				raw[k / 2] = (uint8_t)(HEXV(hx[k]) << 4 | HEXV(hx[k + 1]));
			l = (uint8_t)(hl / 2);
			buf_append(&m->arena, &l, 1);
			buf_append(&m->arena, raw, l);
		}
		if (m->arena.len > UINT32_MAX - 4096) {
			err_set(e, "policy too large");
			return -1;
		}
		dmap_put(m, key_off, (uint32_t)klen, dig_off, (uint32_t)i);
	}
	return 0;
}

static int check_keys(json_t *obj, const char *const *allowed, const char *what, err_t *e)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
	{
		int ok = 0;

		for (size_t i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				ok = 1;
		if (!ok) {
			char t[128];
			err_set(e, "%s has an unknown key \"%s\"", what,
			        text_escape(t, sizeof(t), key, strnlen(key, 100)));
			return -1;
		}
	}
	return 0;
}

static int get_int(json_t *obj, const char *key, const char *what, long long min, long long max,
                   long long *out, err_t *e)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL) {
		err_set(e, "%s lacks \"%s\"", what, key);
		return -1;
	}
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		err_set(e, "%s \"%s\" must be an integer from %lld to %lld", what, key, min, max);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

static int parse_excludes(runtime_policy_t *p, json_t *arr, err_t *e)
{
	buf_t comb = BUF_INIT;
	size_t i;
	int ec, rv = -1;
	PCRE2_SIZE off;

	if (!json_is_array(arr)) {
		err_set(e, "\"excludes\" must be an array of strings");
		return -1;
	}
	if (json_array_size(arr) > RUNTIME_POLICY_MAX_EXCLUDES) {
		err_set(e, "\"excludes\" has more than %d entries", RUNTIME_POLICY_MAX_EXCLUDES);
		return -1;
	}
	for (i = 0; i < json_array_size(arr); i++) {
		json_t *s = json_array_get(arr, i);
		err_t re = {""};

		if (!json_is_string(s)) {
			err_set(e, "\"excludes\"[%zu] must be a string", i);
			goto out;
		}
		if (runtime_policy_check_regex(json_string_value(s), &re) < 0) {
			err_set(e, "\"excludes\"[%zu]: %s", i, re.msg);
			goto out;
		}
		/* Keylime joins the list into one expression the same way. */
		buf_append_str(&comb, i ? ")|(" : "(");
		buf_append_str(&comb, json_string_value(s));
	}
	p->n_excludes = i;
	if (i == 0) {
		rv = 0;
		goto out;
	}
	buf_append_str(&comb, ")");
	p->excl = pcre2_compile((PCRE2_SPTR)comb.data, comb.len, RP_PCRE2_FLAGS | PCRE2_ANCHORED,
	                        &ec, &off, NULL);
	if (p->excl == NULL) {
		PCRE2_UCHAR msg[160];

		pcre2_get_error_message(ec, msg, sizeof(msg));
		err_set(e, "the combined excludes do not compile: %s at offset %zu",
		        (const char *)msg, (size_t)off);
		goto out;
	}
	/* JIT is an optimisation: without it (no executable memory) the interpreter runs. */
	(void)pcre2_jit_compile(p->excl, PCRE2_JIT_COMPLETE);
	rv = 0;
out:
	buf_free(&comb);
	return rv;
}

static int parse_ima_section(runtime_policy_t *p, json_t *ima, err_t *e)
{
	static const char *const allowed[] = {"ignored_keyrings", "log_hash_alg", "dm_policy",
	                                      NULL};
	json_t *ig, *alg, *dm;
	const char *a;

	if (!json_is_object(ima)) {
		err_set(e, "\"ima\" must be an object");
		return -1;
	}
	if (check_keys(ima, allowed, "\"ima\"", e) < 0)
		return -1;
	ig = json_object_get(ima, "ignored_keyrings");
	alg = json_object_get(ima, "log_hash_alg");
	dm = json_object_get(ima, "dm_policy");
	if (ig == NULL || alg == NULL || dm == NULL) {
		err_set(e, "\"ima\" needs ignored_keyrings, log_hash_alg and dm_policy");
		return -1;
	}
	if (!json_is_array(ig) || json_array_size(ig) > RUNTIME_POLICY_MAX_KEYS) {
		err_set(e, "\"ima\".\"ignored_keyrings\" must be an array of at most %d strings",
		        RUNTIME_POLICY_MAX_KEYS);
		return -1;
	}
	p->ignored = xcalloc(json_array_size(ig) + 1, sizeof(char *));
	for (size_t i = 0; i < json_array_size(ig); i++) {
		const char *s = json_string_value(json_array_get(ig, i));

		if (s == NULL || strlen(s) > IMA_NAME_MAX) {
			err_set(e, "\"ima\".\"ignored_keyrings\"[%zu] must be a string", i);
			return -1;
		}
		p->ignored[p->n_ignored++] = xstrdup(s);
		if (strcmp(s, "*") == 0)
			p->ignore_all_keyrings = 1;
	}
	a = json_string_value(alg);
	if (a == NULL || (p->log_alg = ima_alg_from_name(a)) == 0) {
		err_set(e, "\"ima\".\"log_hash_alg\" must be sha1, sha256, sha384 or sha512");
		return -1;
	}
	if (!json_is_null(dm)) {
		err_set(e, "\"ima\".\"dm_policy\" must be null: device-mapper policies are not "
		           "supported");
		return -1;
	}
	return 0;
}

/* "verification-keys": "" or the JSON text of {"meta": {"version": N}, "keyids": [int],
 * "pubkeys": [base64 DER SubjectPublicKeyInfo]}; Keylime may store that text JSON-encoded
 * once more, which is accepted too. */
static int parse_verification_keys(runtime_policy_t *p, json_t *vk, err_t *e)
{
	static const char *const allowed[] = {"meta", "keyids", "pubkeys", NULL};
	json_t *root = NULL, *ids, *pubs, *meta;
	json_error_t je;
	buf_t der = BUF_INIT;
	int rv = -1;

	if (!json_is_string(vk)) {
		err_set(e, "\"verification-keys\" must be a string");
		return -1;
	}
	if (json_string_length(vk) == 0)
		return 0;
	root = json_loadb(json_string_value(vk), json_string_length(vk),
	                  JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (root != NULL && json_is_string(root)) {
		json_t *inner = json_loadb(json_string_value(root), json_string_length(root),
		                           JSON_REJECT_DUPLICATES, &je);
		json_decref(root);
		root = inner;
	}
	if (root == NULL || !json_is_object(root)) {
		err_set(e, "\"verification-keys\" is not a JSON object: %s",
		        root == NULL ? je.text : "wrong type");
		goto out;
	}
	if (check_keys(root, allowed, "\"verification-keys\"", e) < 0)
		goto out;
	meta = json_object_get(root, "meta");
	if (meta != NULL) {
		json_t *v = json_object_get(meta, "version");

		if (!json_is_object(meta) || !json_is_integer(v) || json_integer_value(v) < 1) {
			err_set(e, "\"verification-keys\".meta.version must be an integer >= 1");
			goto out;
		}
	}
	ids = json_object_get(root, "keyids");
	pubs = json_object_get(root, "pubkeys");
	if (!json_is_array(ids) || !json_is_array(pubs)) {
		err_set(e, "\"verification-keys\" needs arrays \"keyids\" and \"pubkeys\"");
		goto out;
	}
	if (json_array_size(pubs) > RUNTIME_POLICY_MAX_KEYS) {
		err_set(e, "\"verification-keys\" has more than %d keys", RUNTIME_POLICY_MAX_KEYS);
		goto out;
	}
	for (size_t i = 0; i < json_array_size(ids); i++) {
		json_t *v = json_array_get(ids, i);

		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 0xffffffffLL) {
			err_set(
			    e,
			    "\"verification-keys\".keyids[%zu] must be a 32-bit unsigned integer",
			    i);
			goto out;
		}
	}
	p->keys = xcalloc(json_array_size(pubs) + 1, sizeof(*p->keys));
	for (size_t i = 0; i < json_array_size(pubs); i++) {
		json_t *s = json_array_get(pubs, i);
		const unsigned char *q;
		EVP_PKEY *k;
		rp_key_t *rk = &p->keys[p->n_keys];
		long long given = 0;

		buf_reset(&der);
		if (!json_is_string(s) ||
		    base64_decode(&der, json_string_value(s), json_string_length(s)) < 0) {
			err_set(e, "\"verification-keys\".pubkeys[%zu] is not base64", i);
			goto out;
		}
		q = der.data;
		k = der.len ? d2i_PUBKEY(NULL, &q, (long)der.len) : NULL;
		if (k == NULL || q != der.data + der.len) {
			EVP_PKEY_free(k);
			ERR_clear_error();
			err_set(e, "\"verification-keys\".pubkeys[%zu] is not a DER public key", i);
			goto out;
		}
		if (!rp_key_type_ok(k)) {
			EVP_PKEY_free(k);
			err_set(e, "\"verification-keys\".pubkeys[%zu] is neither RSA nor EC", i);
			goto out;
		}
		rk->pk = k;
		p->n_keys++;
		if (i < json_array_size(ids))
			given = json_integer_value(json_array_get(ids, i));
		/* Keylime derives the id when none (or 0) is given. */
		if (given != 0)
			rk->keyid = (uint32_t)given;
		else if (key_compute_id(k, &rk->keyid) < 0) {
			err_set_ssl(e, "\"verification-keys\".pubkeys[%zu]: key id", i);
			goto out;
		}
		snprintf(rk->keyring, sizeof(rk->keyring), "verification-keys");
	}
	rv = 0;
out:
	buf_free(&der);
	json_decref(root);
	return rv;
}

static int parse_policy_obj(runtime_policy_t *p, json_t *root, err_t *e)
{
	static const char *const allowed[] = {"meta",     "release",           "digests",
	                                      "excludes", "keyrings",          "ima",
	                                      "ima-buf",  "verification-keys", NULL};
	static const char *const meta_allowed[] = {"version", "generator", "timestamp", NULL};
	json_t *meta, *ts;
	long long v;

	if (!json_is_object(root)) {
		err_set(e, "runtime policy must be a JSON object");
		return -1;
	}
	if (check_keys(root, allowed, "runtime policy", e) < 0)
		return -1;
	for (size_t i = 0; allowed[i] != NULL; i++)
		if (json_object_get(root, allowed[i]) == NULL) {
			err_set(e, "runtime policy lacks \"%s\"", allowed[i]);
			return -1;
		}
	meta = json_object_get(root, "meta");
	if (!json_is_object(meta) || check_keys(meta, meta_allowed, "\"meta\"", e) < 0) {
		if (!json_is_object(meta))
			err_set(e, "\"meta\" must be an object");
		return -1;
	}
	if (get_int(meta, "version", "\"meta\"", 1, 1, &v, e) < 0)
		return -1;
	p->version = (int)v;
	if (get_int(meta, "generator", "\"meta\"", 0, 3, &v, e) < 0)
		return -1;
	p->generator = (int)v;
	ts = json_object_get(meta, "timestamp");
	if (ts != NULL && !json_is_string(ts)) {
		err_set(e, "\"meta\".\"timestamp\" must be a string");
		return -1;
	}
	if (get_int(root, "release", "runtime policy", 0, INT64_MAX, &v, e) < 0)
		return -1;
	if (parse_ima_section(p, json_object_get(root, "ima"), e) < 0 ||
	    build_dmap(&p->digests, json_object_get(root, "digests"), "digests", e) < 0 ||
	    build_dmap(&p->keyrings, json_object_get(root, "keyrings"), "keyrings", e) < 0 ||
	    build_dmap(&p->imabuf, json_object_get(root, "ima-buf"), "ima-buf", e) < 0 ||
	    parse_excludes(p, json_object_get(root, "excludes"), e) < 0 ||
	    parse_verification_keys(p, json_object_get(root, "verification-keys"), e) < 0)
		return -1;
	return 0;
}

runtime_policy_t *runtime_policy_parse(const char *json, size_t len, size_t max_len, err_t *e)
{
	runtime_policy_t *p = NULL;
	json_t *root = NULL, *inner = NULL, *payload;
	json_error_t je;
	buf_t dec = BUF_INIT;
	uint8_t md[32];
	int ok = 0;

	if (max_len == 0)
		max_len = RUNTIME_POLICY_MAX_DEFAULT;
	if (max_len > RP_MAX_LEN_CAP)
		max_len = RP_MAX_LEN_CAP;
	if (json == NULL || len == 0) {
		err_set(e, "empty runtime policy");
		return NULL;
	}
	if (len > max_len) {
		err_set(e, "runtime policy is %zu bytes, the limit is %zu", len, max_len);
		return NULL;
	}
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		err_set(e, "runtime policy is not JSON: %s (line %d column %d)", je.text, je.line,
		        je.column);
		return NULL;
	}
	p = xcalloc(1, sizeof(*p));
	atomic_init(&p->refs, 1);
	if (EVP_Digest(json, len, md, NULL, EVP_sha256(), NULL) != 1) {
		err_set_ssl(e, "hashing the runtime policy");
		goto out;
	}
	for (int i = 0; i < 32; i++)
		snprintf(p->sha256 + 2 * i, 3, "%02x", md[i]);

	payload = json_is_object(root) ? json_object_get(root, "payload") : NULL;
	if (payload != NULL) {
		/* A DSSE envelope: the policy is the base64 payload. */
		if (!json_is_string(payload) || base64_decode(&dec, json_string_value(payload),
		                                              json_string_length(payload)) < 0) {
			err_set(e, "DSSE envelope \"payload\" is not base64");
			goto out;
		}
		inner = json_loadb((const char *)dec.data, dec.len, JSON_REJECT_DUPLICATES, &je);
		if (inner == NULL) {
			err_set(e, "DSSE payload is not JSON: %s (line %d column %d)", je.text,
			        je.line, je.column);
			goto out;
		}
		if (parse_policy_obj(p, inner, e) < 0)
			goto out;
	} else if (parse_policy_obj(p, root, e) < 0) {
		goto out;
	}
	ok = 1;
out:
	json_decref(inner);
	json_decref(root);
	buf_free(&dec);
	if (!ok) {
		policy_free(p);
		return NULL;
	}
	return p;
}

runtime_policy_t *runtime_policy_load(const char *path, size_t max_len, err_t *e)
{
	buf_t b = BUF_INIT;
	runtime_policy_t *p;

	if (max_len == 0)
		max_len = RUNTIME_POLICY_MAX_DEFAULT;
	if (buf_read_file(&b, path, max_len) < 0) {
		err_set(e, "%s: %s", path,
		        errno == EFBIG ? "larger than the runtime policy limit" : strerror(errno));
		return NULL;
	}
	p = runtime_policy_parse((const char *)b.data, b.len, max_len, e);
	buf_free(&b);
	return p;
}

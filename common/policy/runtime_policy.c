/* runtime_policy: Keylime runtime policy parsing, per-entry evaluation, generation. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "common/policy/runtime_policy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pcre2.h>

#include "common/base/log.h"
#include "common/crypto/tpm2.h"
#include "common/base/xmalloc.h"

#define RP_MAX_LEN_CAP   (1u << 30) /* no max_len above 1 GiB: arena offsets are 32-bit */
#define RP_MAX_BOOT_AGGS 8          /* per-node boot_aggregate values */
#define RP_KEYRING_MAX   64         /* bytes of a keyring name we keep */
#define RP_KEYFILE_MAX   (1u << 20) /* a verification key file */
#define RP_MATCH_LIMIT   1000000    /* PCRE2 backtracking budget per path */
#define RP_DEPTH_LIMIT   10000      /* PCRE2 backtracking depth per path */

/* ---------------------------------------------------------------------------------
 * Digest map: path -> list of raw digests, open addressing. Built once per policy. */

typedef struct dmap_slot {
	uint64_t h;       /* FNV-1a of the key */
	uint32_t key_off; /* key in the arena (NUL-terminated) */
	uint32_t key_len; /* bytes */
	uint32_t dig_off; /* first digest in the arena: [len u8][bytes]... */
	uint32_t ndig;    /* digests; 0 marks an empty slot */
} dmap_slot_t;

typedef struct dmap {
	dmap_slot_t *slots; /* cap entries */
	size_t cap;         /* power of two, at least twice count */
	size_t count;       /* keys */
	buf_t arena;        /* keys and digests */
} dmap_t;

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

static const dmap_slot_t *dmap_find(const dmap_t *m, const char *key, size_t len)
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

static int dmap_slot_has(const dmap_t *m, const dmap_slot_t *s, const uint8_t *d, size_t len)
{
	const uint8_t *p = m->arena.data + s->dig_off;

	for (uint32_t i = 0; i < s->ndig; i++) {
		if (p[0] == len && memcmp(p + 1, d, len) == 0)
			return 1;
		p += 1 + p[0];
	}
	return 0;
}

/* "a, b, c (and N more)" of a slot's digests, for failure reasons. */
static void dmap_slot_list(const dmap_t *m, const dmap_slot_t *s, char *out, size_t outsz)
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

typedef struct rp_key {
	uint32_t keyid;               /* keyidv2: last 4 bytes of SHA-1 of the public key */
	EVP_PKEY *pk;                 /* RSA or EC; owned */
	char keyring[RP_KEYRING_MAX]; /* where it came from ("verification-keys", ".ima") */
} rp_key_t;

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

static int key_type_ok(EVP_PKEY *pk)
{
	return EVP_PKEY_is_a(pk, "RSA") || EVP_PKEY_is_a(pk, "EC");
}

/* A key buffer as IMA measures it into a keyring (or as an operator hands it to vigilctl):
 * DER or PEM X.509 certificate, or DER or PEM SubjectPublicKeyInfo. Returns 1 with *pk and
 * *id set, 0 when the bytes are no key, -1 when they are a key of an unsupported type. */
static int key_from_bytes(const uint8_t *p, size_t n, EVP_PKEY **pk, uint32_t *id)
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
	if (!key_type_ok(k)) {
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

/* Verify an IMA signature v2 (struct signature_v2_hdr: type, version 2, hash_algo,
 * keyid be32, sig_size be16, then the signature) over the entry's file digest. Returns 1
 * when a key verifies it; 0 otherwise with why filled in. */
static int sig_verify(const rp_key_t *keys, size_t nkeys, const rp_key_t *keys2, size_t nkeys2,
                      const ima_entry_t *ent, char *why, size_t whysz)
{
	const uint8_t *s = ent->sig;
	uint32_t keyid;
	size_t sig_size;
	const EVP_MD *md;
	const rp_key_t *k = NULL;
	EVP_PKEY_CTX *c = NULL;
	int ok = 0;

	if (ent->sig_len < 9) {
		snprintf(why, whysz, "signature header too short");
		return 0;
	}
	if ((s[0] != 3 && s[0] != 5) || s[1] != 2) {
		snprintf(why, whysz, "signature type %u version %u is not a v2 digital signature",
		         s[0], s[1]);
		return 0;
	}
	keyid = (uint32_t)s[3] << 24 | (uint32_t)s[4] << 16 | (uint32_t)s[5] << 8 | s[6];
	sig_size = (size_t)s[7] << 8 | s[8];
	if (9 + sig_size != ent->sig_len) {
		snprintf(why, whysz, "signature size %zu does not match its %zu bytes", sig_size,
		         ent->sig_len - 9);
		return 0;
	}
	md = ima_hash_id_md(s[2]);
	if (md == NULL || ent->digest_hash_id != s[2]) {
		snprintf(why, whysz,
		         "signature hash algorithm %u does not match the %s file digest", s[2],
		         ent->digest_alg);
		return 0;
	}
	for (size_t i = 0; i < nkeys && k == NULL; i++)
		if (keys[i].keyid == keyid)
			k = &keys[i];
	for (size_t i = 0; i < nkeys2 && k == NULL; i++)
		if (keys2[i].keyid == keyid)
			k = &keys2[i];
	if (k == NULL) {
		snprintf(why, whysz, "no verification key with id %08x", keyid);
		return 0;
	}
	c = EVP_PKEY_CTX_new_from_pkey(NULL, k->pk, NULL);
	if (c != NULL && EVP_PKEY_verify_init(c) == 1 &&
	    (!EVP_PKEY_is_a(k->pk, "RSA") ||
	     EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) == 1) &&
	    EVP_PKEY_CTX_set_signature_md(c, md) == 1 &&
	    EVP_PKEY_verify(c, s + 9, sig_size, ent->digest, ent->digest_len) == 1)
		ok = 1;
	EVP_PKEY_CTX_free(c);
	ERR_clear_error();
	if (!ok)
		snprintf(why, whysz, "signature does not verify with key %08x (%s)", keyid,
		         k->keyring);
	return ok;
}

/* ---------------------------------------------------------------------------------
 * The policy */

struct runtime_policy {
	atomic_int refs;         /* references; freed at zero */
	char sha256[65];         /* hex of the JSON bytes as given */
	int version;             /* meta.version */
	int generator;           /* meta.generator */
	uint16_t log_alg;        /* ima.log_hash_alg */
	dmap_t digests;          /* "digests" */
	dmap_t keyrings;         /* "keyrings" */
	dmap_t imabuf;           /* "ima-buf" */
	char **ignored;          /* ima.ignored_keyrings */
	size_t n_ignored;        /* count */
	int ignore_all_keyrings; /* "*" among them */
	pcre2_code *excl;        /* combined excludes, anchored; NULL when none */
	size_t n_excludes;       /* count */
	rp_key_t *keys;          /* verification-keys */
	size_t n_keys;           /* count */
};

struct runtime_policy_eval {
	runtime_policy_t *pol;     /* referenced */
	pcre2_match_data *md;      /* this node's match data */
	pcre2_match_context *mctx; /* backtracking limits */
	rp_key_t *learned;    /* keys from keyring measurements (allocated when the first one is
	                         learned: most nodes never learn one, and a node costs memory) */
	size_t n_learned;     /* count, at most RUNTIME_POLICY_MAX_KEYS */
	size_t cap_learned;   /* slots allocated */
	struct rp_undo *undo; /* what keys learned since runtime_policy_eval_begin changed */
	size_t n_undo;        /* records in undo */
	size_t cap_undo;      /* slots allocated */
	int in_replay;        /* between begin and commit: record undo information */
	uint8_t boot_aggs[RP_MAX_BOOT_AGGS][IMA_DIGEST_MAX]; /* extra boot_aggregate values */
	size_t boot_agg_len[RP_MAX_BOOT_AGGS];               /* their sizes */
	size_t n_boot_aggs;                                  /* count */
	int fail_violations; /* fail all-zero template hash entries */
};

/* How to take back one key learned during a replay: the slot it went to, and what the
 * slot held before (pk NULL: the key was appended). */
typedef struct rp_undo {
	uint64_t entry; /* IMA entry that taught the key */
	size_t slot;    /* index in learned[] */
	rp_key_t old;   /* previous content of the slot; old.pk NULL when appended */
} rp_undo_t;

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
		if (!key_type_ok(k)) {
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

/* ---------------------------------------------------------------------------------
 * Evaluation */

runtime_policy_eval_t *runtime_policy_eval_new(runtime_policy_t *p)
{
	runtime_policy_eval_t *ev = xcalloc(1, sizeof(*ev));

	ev->pol = runtime_policy_ref(p);
	ev->md = pcre2_match_data_create(1, NULL);
	ev->mctx = pcre2_match_context_create(NULL);
	if (ev->md == NULL || ev->mctx == NULL)
		fatalx("out of memory");
	pcre2_set_match_limit(ev->mctx, RP_MATCH_LIMIT);
	pcre2_set_depth_limit(ev->mctx, RP_DEPTH_LIMIT);
	return ev;
}

static void learned_clear(runtime_policy_eval_t *ev)
{
	for (size_t i = 0; i < ev->n_learned; i++)
		EVP_PKEY_free(ev->learned[i].pk);
	ev->n_learned = 0;
}

static void undo_clear(runtime_policy_eval_t *ev)
{
	for (size_t i = 0; i < ev->n_undo; i++)
		EVP_PKEY_free(ev->undo[i].old.pk);
	ev->n_undo = 0;
}

void runtime_policy_eval_begin(runtime_policy_eval_t *ev)
{
	undo_clear(ev);
	ev->in_replay = 1;
}

void runtime_policy_eval_commit(runtime_policy_eval_t *ev, uint64_t covered)
{
	/* Newest first: a key replaced twice gets its first content back. */
	while (ev->n_undo > 0 && ev->undo[ev->n_undo - 1].entry >= covered) {
		rp_undo_t *u = &ev->undo[--ev->n_undo];
		rp_key_t *k = &ev->learned[u->slot];
		EVP_PKEY_free(k->pk);
		if (u->old.pk == NULL) /* appended: it is the last slot */
			ev->n_learned--;
		else
			*k = u->old;
	}
	undo_clear(ev);
	ev->in_replay = 0;
}

void runtime_policy_eval_free(runtime_policy_eval_t *ev)
{
	if (ev == NULL)
		return;
	undo_clear(ev);
	free(ev->undo);
	learned_clear(ev);
	free(ev->learned);
	pcre2_match_data_free(ev->md);
	pcre2_match_context_free(ev->mctx);
	runtime_policy_unref(ev->pol);
	free(ev);
}

runtime_policy_t *runtime_policy_eval_policy(const runtime_policy_eval_t *ev)
{
	return ev->pol;
}

void runtime_policy_eval_reset(runtime_policy_eval_t *ev)
{
	undo_clear(ev);
	ev->in_replay = 0;
	learned_clear(ev);
}

int runtime_policy_eval_add_boot_aggregate(runtime_policy_eval_t *ev, const uint8_t *d, size_t len)
{
	if (d == NULL || len == 0 || len > IMA_DIGEST_MAX || ev->n_boot_aggs >= RP_MAX_BOOT_AGGS)
		return -1;
	memcpy(ev->boot_aggs[ev->n_boot_aggs], d, len);
	ev->boot_agg_len[ev->n_boot_aggs++] = len;
	return 0;
}

void runtime_policy_eval_set_fail_violations(runtime_policy_eval_t *ev, int on)
{
	ev->fail_violations = on;
}

size_t runtime_policy_eval_learned_count(const runtime_policy_eval_t *ev)
{
	return ev->n_learned;
}

/* Room for n learned keys (n <= RUNTIME_POLICY_MAX_KEYS). */
static void learned_reserve(runtime_policy_eval_t *ev, size_t n)
{
	if (n <= ev->cap_learned)
		return;
	ev->cap_learned = ev->cap_learned ? ev->cap_learned * 2 : 4;
	if (ev->cap_learned < n)
		ev->cap_learned = n;
	ev->learned = xrealloc(ev->learned, ev->cap_learned * sizeof(*ev->learned));
}

/* Learn a key from a keyring measurement; the same keyring and id replace the older key,
 * as Keylime's per-keyring dictionary does. Takes pk. */
static void learn_key(runtime_policy_eval_t *ev, uint64_t entry, const char *keyring,
                      uint32_t keyid, EVP_PKEY *pk)
{
	rp_key_t *k = NULL;
	rp_undo_t *u = NULL;

	for (size_t i = 0; i < ev->n_learned && k == NULL; i++)
		if (ev->learned[i].keyid == keyid && strcmp(ev->learned[i].keyring, keyring) == 0)
			k = &ev->learned[i];
	if (k == NULL) {
		if (ev->n_learned == RUNTIME_POLICY_MAX_KEYS) {
			/* Bounded: every learned key is in the policy's keyrings, so a full table
			 * means a policy with hundreds of keyring digests; keep the oldest. */
			log_warnx("runtime policy: more than %d learned keys, key %08x ignored",
			          RUNTIME_POLICY_MAX_KEYS, keyid);
			EVP_PKEY_free(pk);
			return;
		}
		learned_reserve(ev, ev->n_learned + 1);
		k = &ev->learned[ev->n_learned++];
		k->pk = NULL;
	}
	if (ev->in_replay) {
		/* Kept only if the quote covers entry: see runtime_policy_eval_commit. The
		 * undo list is bounded by the entries of one replay that learn a key. */
		if (ev->n_undo == ev->cap_undo) {
			ev->cap_undo = ev->cap_undo ? ev->cap_undo * 2 : 4;
			ev->undo = xrealloc(ev->undo, ev->cap_undo * sizeof(*ev->undo));
		}
		u = &ev->undo[ev->n_undo++];
		u->entry = entry;
		u->slot = (size_t)(k - ev->learned);
		u->old = *k; /* takes the old pk, if any */
	} else {
		EVP_PKEY_free(k->pk);
	}
	k->keyid = keyid;
	k->pk = pk;
	snprintf(k->keyring, sizeof(k->keyring), "%s", keyring);
}

void runtime_policy_eval_keys_export(const runtime_policy_eval_t *ev, buf_t *out)
{
	buf_reset(out);
	for (size_t i = 0; i < ev->n_learned; i++) {
		unsigned char *der = NULL;
		int n = i2d_PUBKEY(ev->learned[i].pk, &der);

		if (n <= 0)
			continue;
		buf_appendf(out, "%s %08x ", ev->learned[i].keyring, ev->learned[i].keyid);
		base64_encode(out, der, (size_t)n);
		buf_append_str(out, "\n");
		OPENSSL_free(der);
	}
}

int runtime_policy_eval_keys_import(runtime_policy_eval_t *ev, const char *txt, size_t len,
                                    err_t *e)
{
	rp_key_t tmp[RUNTIME_POLICY_MAX_KEYS];
	size_t n = 0, line = 0;
	const char *p = txt, *end = txt + len;
	buf_t der = BUF_INIT;
	int rv = -1;

	if (txt == NULL && len != 0) {
		err_set(e, "no text");
		return -1;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *s1, *s2;
		const unsigned char *q;
		uint8_t idb[4];
		EVP_PKEY *k;

		line++;
		s1 = memchr(p, ' ', (size_t)(le - p));
		s2 = s1 ? memchr(s1 + 1, ' ', (size_t)(le - s1 - 1)) : NULL;
		buf_reset(&der);
		if (n == RUNTIME_POLICY_MAX_KEYS || s1 == NULL || s2 == NULL || s1 == p ||
		    (size_t)(s1 - p) >= RP_KEYRING_MAX || s2 - s1 - 1 != 8 ||
		    hex_decode(&der, s1 + 1, 8) < 0) {
			err_set(e, "learned keys line %zu is malformed", line);
			goto out;
		}
		memcpy(idb, der.data, 4);
		buf_reset(&der);
		if (base64_decode(&der, s2 + 1, (size_t)(le - s2 - 1)) < 0 || der.len == 0) {
			err_set(e, "learned keys line %zu: key is not base64", line);
			goto out;
		}
		q = der.data;
		k = d2i_PUBKEY(NULL, &q, (long)der.len);
		if (k == NULL || q != der.data + der.len || !key_type_ok(k)) {
			EVP_PKEY_free(k);
			ERR_clear_error();
			err_set(e, "learned keys line %zu: not an RSA or EC public key", line);
			goto out;
		}
		tmp[n].pk = k;
		tmp[n].keyid = (uint32_t)idb[0] << 24 | (uint32_t)idb[1] << 16 |
		               (uint32_t)idb[2] << 8 | idb[3];
		snprintf(tmp[n].keyring, sizeof(tmp[n].keyring), "%.*s", (int)(s1 - p), p);
		n++;
		p = nl ? nl + 1 : end;
	}
	learned_clear(ev);
	learned_reserve(ev, n);
	if (n)
		memcpy(ev->learned, tmp, n * sizeof(tmp[0]));
	ev->n_learned = n;
	n = 0;
	rv = 0;
out:
	for (size_t i = 0; i < n; i++)
		EVP_PKEY_free(tmp[i].pk);
	buf_free(&der);
	return rv;
}

static int fail_entry(ima_failure_t *f, const char *event_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_entry(ima_failure_t *f, const char *event_id, const char *fmt, ...)
{
	va_list ap;

	snprintf(f->event_id, sizeof(f->event_id), "%s", event_id);
	va_start(ap, fmt);
	vsnprintf(f->reason, sizeof(f->reason), fmt, ap);
	va_end(ap);
	return -1;
}

static int is_excluded(runtime_policy_eval_t *ev, const ima_entry_t *ent)
{
	int rc;

	if (ev->pol->excl == NULL)
		return 0;
	rc = pcre2_match(ev->pol->excl, (PCRE2_SPTR)ent->name, ent->name_len, 0, 0, ev->md,
	                 ev->mctx);
	/* 0 means matched with a short ovector; errors (backtracking limits) count as "not
	 * excluded", so the entry still has to pass the digest check. */
	return rc >= 0;
}

/* Look the entry up in one of the digest maps (Keylime's _validate_ima_ng). note is an
 * extra sentence for the reason (e.g. why a signature did not do). */
static int check_digests(runtime_policy_eval_t *ev, const dmap_t *m, const char *table,
                         const ima_entry_t *ent, const char *note, ima_failure_t *f)
{
	const dmap_slot_t *s;
	char got[2 * IMA_DIGEST_MAX + 1], want[300], nm[304];
	int is_ba = m == &ev->pol->digests && ent->name_len == 14 &&
	            memcmp(ent->name, "boot_aggregate", 14) == 0;

	if (is_excluded(ev, ent))
		return 0;
	if (is_ba)
		for (size_t i = 0; i < ev->n_boot_aggs; i++)
			if (ev->boot_agg_len[i] == ent->digest_len &&
			    memcmp(ev->boot_aggs[i], ent->digest, ent->digest_len) == 0)
				return 0;
	s = dmap_find(m, ent->name, ent->name_len);
	if (s == NULL && !(is_ba && ev->n_boot_aggs))
		return fail_entry(f, "ima.validation.ima-ng.not_in_allowlist",
		                  "%s entry %" PRIu64 ": %s is not in the runtime policy's "
		                  "\"%s\"%s",
		                  ent->template_name, ent->index,
		                  text_escape(nm, sizeof(nm), ent->name, ent->name_len), table,
		                  note);
	if (s != NULL && dmap_slot_has(m, s, ent->digest, ent->digest_len))
		return 0;
	for (size_t i = 0; i < ent->digest_len; i++)
		snprintf(got + 2 * i, 3, "%02x", ent->digest[i]);
	if (s != NULL)
		dmap_slot_list(m, s, want, sizeof(want));
	else
		snprintf(want, sizeof(want), "the node's computed boot_aggregate");
	return fail_entry(f, "ima.validation.ima-ng.runtime_policy_hash",
	                  "%s entry %" PRIu64 ": %s has %s digest %s, the runtime policy's "
	                  "\"%s\" allows %s%s",
	                  ent->template_name, ent->index,
	                  text_escape(nm, sizeof(nm), ent->name, ent->name_len), ent->digest_alg,
	                  got, table, want, note);
}

static int keyring_ignored(const runtime_policy_t *p, const char *name)
{
	if (p->ignore_all_keyrings)
		return 1;
	for (size_t i = 0; i < p->n_ignored; i++)
		if (strcmp(p->ignored[i], name) == 0)
			return 1;
	return 0;
}

int runtime_policy_check_entry(void *arg, const ima_entry_t *ent, ima_failure_t *f)
{
	runtime_policy_eval_t *ev = arg;
	runtime_policy_t *p = ev->pol;
	char why[200], note[260], nm[304];
	EVP_PKEY *pk = NULL;
	uint32_t keyid;
	int rc;

	if (ent->is_violation) {
		if (!ev->fail_violations)
			return 0;
		return fail_entry(f, "ima.validation.tomtou",
		                  "entry %" PRIu64 ": %s is a measurement violation (ToMToU or "
		                  "open writers: all-zero template hash)",
		                  ent->index,
		                  text_escape(nm, sizeof(nm), ent->name, ent->name_len));
	}
	switch (ent->tmpl) {
	case IMA_TEMPLATE_IMA:
	case IMA_TEMPLATE_IMA_NG:
		return check_digests(ev, &p->digests, "digests", ent, "", f);
	case IMA_TEMPLATE_IMA_SIG:
		note[0] = 0;
		if (ent->sig_len > 0) {
			if (is_excluded(ev, ent))
				return 0;
			if (sig_verify(p->keys, p->n_keys, ev->learned, ev->n_learned, ent, why,
			               sizeof(why)))
				return 0;
			snprintf(note, sizeof(note), " (and its IMA signature failed: %s)", why);
		}
		return check_digests(ev, &p->digests, "digests", ent, note, f);
	case IMA_TEMPLATE_IMA_BUF:
		rc = key_from_bytes(ent->buf, ent->buf_len, &pk, &keyid);
		if (rc < 0)
			return fail_entry(f, "ima.invalid_key",
			                  "ima-buf entry %" PRIu64 ": key measured into %s is "
			                  "neither RSA nor EC",
			                  ent->index,
			                  text_escape(nm, sizeof(nm), ent->name, ent->name_len));
		if (rc == 0)
			return check_digests(ev, &p->imabuf, "ima-buf", ent, "", f);
		if (keyring_ignored(p, ent->name)) {
			EVP_PKEY_free(pk);
			return 0;
		}
		if (check_digests(ev, &p->keyrings, "keyrings", ent, "", f) < 0) {
			EVP_PKEY_free(pk);
			return -1;
		}
		learn_key(ev, ent->index, ent->name, keyid, pk);
		return 0;
	}
	return fail_entry(f, "ima.validation", "entry %" PRIu64 ": unknown template", ent->index);
}

/* ---------------------------------------------------------------------------------
 * Generation */

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
		n = key_from_bytes(file.data, file.len, &pk, &id);
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
	k = key_from_bytes(ent->buf, ent->buf_len, &pk, &id);
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

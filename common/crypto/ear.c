/* ear: EAR claims sets built from a verdict, encoded as JSON or deterministic CBOR and
 * signed ES256 as a JWT or a COSE_Sign1; the attestation-result key. The check of tokens
 * from outside is ear_check.c. */
#include "common/crypto/ear.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cbor.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/crypto/ear_priv.h"
#include "common/crypto/pki.h"

#define EAR_TEXT_MAX 4096 /* longest string claim written, bytes */

static const char *const ear_tv_names[EAR_TV_N] = {
    "instance-identity", "configuration",  "executables",    "file-system",
    "hardware",          "runtime-opaque", "storage-opaque", "sourced-data",
};

/* ---- names and tiers ---- */

void ear_node_tv_set(ear_node_t *n, ear_tv_claim_t c, int v)
{
	if ((unsigned)c >= EAR_TV_N)
		return;
	n->tv[c] = (int8_t)v;
	n->tv_set |= (uint8_t)(1u << c);
}

ear_tier_t ear_tier_of(int v)
{
	if (v >= -1 && v <= 1)
		return EAR_NONE;
	if (v >= -32 && v <= 31)
		return EAR_AFFIRMING;
	if (v >= -96 && v <= 95)
		return EAR_WARNING;
	return EAR_CONTRAINDICATED;
}

ear_tier_t ear_node_worst(const ear_node_t *n)
{
	ear_tier_t worst = EAR_NONE;

	for (int i = 0; i < EAR_TV_N; i++) {
		ear_tier_t t = ear_tier_of(n->tv[i]);

		if ((n->tv_set & (1u << i)) && t > worst)
			worst = t;
	}
	return worst;
}

const char *ear_tier_name(ear_tier_t t)
{
	switch (t) {
	case EAR_AFFIRMING:
		return "affirming";
	case EAR_WARNING:
		return "warning";
	case EAR_CONTRAINDICATED:
		return "contraindicated";
	case EAR_NONE:
		break;
	}
	return "none";
}

int ear_tier_from_name(const char *s)
{
	static const ear_tier_t all[] = {EAR_NONE, EAR_AFFIRMING, EAR_WARNING, EAR_CONTRAINDICATED};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(s, ear_tier_name(all[i])) == 0)
			return (int)all[i];
	return -1;
}

const char *ear_tv_name(ear_tv_claim_t c)
{
	return (unsigned)c < EAR_TV_N ? ear_tv_names[c] : "?";
}

int ear_tv_from_name(const char *s)
{
	for (int i = 0; i < EAR_TV_N; i++)
		if (strcmp(s, ear_tv_names[i]) == 0)
			return i;
	return -1;
}

/* ---- the input's rules ---- */

/* 1 when s is a string we may write: present, valid UTF-8, not too long. */
static int ear_text_ok(const char *s, int allow_empty)
{
	json_t *j;
	size_t n;

	if (s == NULL || (n = strlen(s)) > EAR_TEXT_MAX || (n == 0 && !allow_empty))
		return 0;
	j = json_string(s); /* NULL when not UTF-8 */
	json_decref(j);
	return j != NULL;
}

static int ear_is_tier(ear_tier_t t)
{
	return t == EAR_NONE || t == EAR_AFFIRMING || t == EAR_WARNING || t == EAR_CONTRAINDICATED;
}

static int ear_input_check(const ear_claims_t *c, err_t *e)
{
	if (c->n_nodes == 0 || c->n_nodes > EAR_NODES_MAX || c->nodes == NULL) {
		err_set(e, "an EAR needs 1 to %d nodes (submods), not %zu", EAR_NODES_MAX,
		        c->n_nodes);
		return -1;
	}
	if (c->iat <= 0) {
		err_set(e, "iat must be a positive unix time");
		return -1;
	}
	if (!ear_text_ok(c->developer, 0) || !ear_text_ok(c->build, 0)) {
		err_set(e, "ear.verifier-id needs a developer and a build (UTF-8 text)");
		return -1;
	}
	if ((c->raw_evidence == NULL && c->raw_evidence_len > 0) ||
	    c->raw_evidence_len > EAR_TOKEN_MAX / 2) {
		err_set(e, "ear.raw-evidence: %zu bytes, at most %u", c->raw_evidence_len,
		        EAR_TOKEN_MAX / 2);
		return -1;
	}
	for (size_t i = 0; i < c->n_nodes; i++) {
		const ear_node_t *n = &c->nodes[i];

		if (!ear_text_ok(n->uuid, 0)) {
			err_set(e, "node %zu: no UUID (or not UTF-8 text)", i);
			return -1;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->nodes[j].uuid, n->uuid) == 0) {
				err_set(e, "node %s: listed twice", n->uuid);
				return -1;
			}
		if (!ear_is_tier(n->status)) {
			err_set(e, "node %s: status %d is not a tier (0, 2, 32, 96)", n->uuid,
			        (int)n->status);
			return -1;
		}
		/* draft §3.1: the status is no better than the worst claim of the vector. */
		if (n->status != EAR_NONE && n->status < ear_node_worst(n)) {
			err_set(e, "node %s: status %s is better than its worst claim (%s)",
			        n->uuid, ear_tier_name(n->status),
			        ear_tier_name(ear_node_worst(n)));
			return -1;
		}
		if (n->policy_id != NULL && !ear_text_ok(n->policy_id, 0)) {
			err_set(e, "node %s: the appraisal policy id is not UTF-8 text", n->uuid);
			return -1;
		}
		if (n->n_policies > EAR_POLICIES_MAX || (n->n_policies && n->policies == NULL)) {
			err_set(e, "node %s: %zu policies, at most %d", n->uuid, n->n_policies,
			        EAR_POLICIES_MAX);
			return -1;
		}
		for (size_t j = 0; j < n->n_policies; j++) {
			const ear_policy_ref_t *p = &n->policies[j];

			if (!ear_text_ok(p->kind, 0) || !ear_text_ok(p->name, 0) ||
			    !ear_text_ok(p->digest, 0)) {
				err_set(e, "node %s: policy %zu needs a kind, a name and a digest",
				        n->uuid, j);
				return -1;
			}
		}
	}
	return 0;
}

/* ---- JSON (the JWT payload) ---- */

static json_t *ear_json_node(const ear_node_t *n)
{
	json_t *a = json_object(), *v = json_object();

	json_object_set_new(a, "ear.status", json_string(ear_tier_name(n->status)));
	if (n->tv_set) {
		json_t *tv = json_object();

		for (int i = 0; i < EAR_TV_N; i++)
			if (n->tv_set & (1u << i))
				json_object_set_new(tv, ear_tv_names[i], json_integer(n->tv[i]));
		json_object_set_new(a, "ear.trustworthiness-vector", tv);
	}
	if (n->policy_id != NULL)
		json_object_set_new(a, "ear.appraisal-policy-id", json_string(n->policy_id));
	json_object_set_new(v, "node-uuid", json_string(n->uuid));
	if (n->quote_time >= 0)
		json_object_set_new(v, "quote-time", json_integer(n->quote_time));
	if (n->reset_count >= 0)
		json_object_set_new(v, "tpm-reset-count", json_integer(n->reset_count));
	if (n->n_policies) {
		json_t *ps = json_array();

		for (size_t j = 0; j < n->n_policies; j++)
			json_array_append_new(
			    ps, json_pack("{s:s,s:s,s:s}", "kind", n->policies[j].kind, "name",
			                  n->policies[j].name, "digest", n->policies[j].digest));
		json_object_set_new(v, "policies", ps);
	}
	json_object_set_new(a, EAR_VIGIL_CLAIM, v);
	return a;
}

static void ear_encode_json(const ear_claims_t *c, buf_t *out)
{
	json_t *root = json_object(), *sub = json_object();
	char *text;

	json_object_set_new(root, "eat_profile", json_string(EAR_PROFILE));
	json_object_set_new(root, "iat", json_integer(c->iat));
	json_object_set_new(root, "ear.verifier-id",
	                    json_pack("{s:s,s:s}", "developer", c->developer, "build", c->build));
	if (c->raw_evidence != NULL) {
		buf_t b = BUF_INIT;

		base64url_encode(&b, c->raw_evidence, c->raw_evidence_len);
		json_object_set_new(root, "ear.raw-evidence",
		                    json_stringn(b.len ? (const char *)b.data : "", b.len));
		buf_free(&b);
	}
	for (size_t i = 0; i < c->n_nodes; i++)
		json_object_set_new(sub, c->nodes[i].uuid, ear_json_node(&c->nodes[i]));
	json_object_set_new(root, "submods", sub);
	if ((text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		fatalx("out of memory");
	buf_set(out, text, strlen(text));
	free(text);
	json_decref(root);
}

/* ---- deterministic CBOR (the CWT payload) ---- */

static void cb_head(buf_t *b, size_t (*enc)(size_t, unsigned char *, size_t), size_t v)
{
	unsigned char t[9];

	buf_append(b, t, enc(v, t, sizeof(t)));
}

static void cb_uint(buf_t *b, uint64_t v)
{
	unsigned char t[9];

	buf_append(b, t, cbor_encode_uint(v, t, sizeof(t)));
}

static void cb_int(buf_t *b, int64_t v)
{
	unsigned char t[9];

	if (v >= 0)
		cb_uint(b, (uint64_t)v);
	else
		buf_append(b, t, cbor_encode_negint((uint64_t)(-1 - v), t, sizeof(t)));
}

static void cb_bytes(buf_t *b, const void *p, size_t n)
{
	cb_head(b, cbor_encode_bytestring_start, n);
	buf_append(b, p, n);
}

static void cb_text(buf_t *b, const char *s)
{
	size_t n = strlen(s);

	cb_head(b, cbor_encode_string_start, n);
	buf_append(b, s, n);
}

/* A map being built: its entries are encoded apart and sorted when it is written, so
 * that the keys come in the bytewise order of their encodings (RFC 8949 §4.2.1). */
typedef struct cmap_entry {
	buf_t k; /* the key's encoding */
	buf_t v; /* the value's encoding */
} cmap_entry_t;

typedef struct cmap {
	cmap_entry_t *e; /* entries (owned) */
	size_t n, cap;   /* used, allocated */
} cmap_t;

/* Add an entry whose key is already in key (taken); returns its value buffer to fill,
 * valid until the next add. */
static buf_t *cmap_add(cmap_t *m, buf_t *key)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 8;
		m->e = xrealloc(m->e, m->cap * sizeof(*m->e));
	}
	m->e[m->n].k = *key;
	m->e[m->n].v = (buf_t)BUF_INIT;
	*key = (buf_t)BUF_INIT;
	return &m->e[m->n++].v;
}

static buf_t *cmap_int(cmap_t *m, int64_t key)
{
	buf_t k = BUF_INIT;

	cb_int(&k, key);
	return cmap_add(m, &k);
}

static buf_t *cmap_text(cmap_t *m, const char *key)
{
	buf_t k = BUF_INIT;

	cb_text(&k, key);
	return cmap_add(m, &k);
}

static int cmap_cmp(const void *a, const void *b)
{
	const buf_t *x = &((const cmap_entry_t *)a)->k, *y = &((const cmap_entry_t *)b)->k;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->data, y->data, n);

	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* Write m (sorted) to out and release it. */
static void cmap_emit(cmap_t *m, buf_t *out)
{
	qsort(m->e, m->n, sizeof(*m->e), cmap_cmp);
	cb_head(out, cbor_encode_map_start, m->n);
	for (size_t i = 0; i < m->n; i++) {
		buf_append(out, m->e[i].k.data, m->e[i].k.len);
		buf_append(out, m->e[i].v.data, m->e[i].v.len);
		buf_free(&m->e[i].k);
		buf_free(&m->e[i].v);
	}
	free(m->e);
	memset(m, 0, sizeof(*m));
}

static void ear_cbor_node(const ear_node_t *n, buf_t *out)
{
	cmap_t a = {0}, v = {0};

	cb_uint(cmap_int(&a, EAR_KEY_STATUS), (uint64_t)n->status);
	if (n->tv_set) {
		cmap_t tv = {0};

		for (int i = 0; i < EAR_TV_N; i++)
			if (n->tv_set & (1u << i))
				cb_int(cmap_int(&tv, i), n->tv[i]);
		cmap_emit(&tv, cmap_int(&a, EAR_KEY_TV));
	}
	if (n->policy_id != NULL)
		cb_text(cmap_int(&a, EAR_KEY_POLICY_ID), n->policy_id);
	cb_text(cmap_text(&v, "node-uuid"), n->uuid);
	if (n->quote_time >= 0)
		cb_int(cmap_text(&v, "quote-time"), n->quote_time);
	if (n->reset_count >= 0)
		cb_int(cmap_text(&v, "tpm-reset-count"), n->reset_count);
	if (n->n_policies) {
		buf_t *ps = cmap_text(&v, "policies");

		cb_head(ps, cbor_encode_array_start, n->n_policies);
		for (size_t j = 0; j < n->n_policies; j++) {
			cmap_t p = {0};

			cb_text(cmap_text(&p, "kind"), n->policies[j].kind);
			cb_text(cmap_text(&p, "name"), n->policies[j].name);
			cb_text(cmap_text(&p, "digest"), n->policies[j].digest);
			cmap_emit(&p, ps);
		}
	}
	cmap_emit(&v, cmap_int(&a, EAR_VIGIL_CLAIM_KEY));
	cmap_emit(&a, out);
}

static void ear_encode_cbor(const ear_claims_t *c, buf_t *out)
{
	cmap_t root = {0}, vid = {0}, sub = {0};

	buf_reset(out);
	cb_text(cmap_int(&root, EAR_KEY_PROFILE), EAR_PROFILE);
	cb_int(cmap_int(&root, EAR_KEY_IAT), c->iat);
	cb_text(cmap_int(&vid, EAR_VID_KEY_DEVELOPER), c->developer);
	cb_text(cmap_int(&vid, EAR_VID_KEY_BUILD), c->build);
	cmap_emit(&vid, cmap_int(&root, EAR_KEY_VERIFIER_ID));
	if (c->raw_evidence != NULL)
		cb_bytes(cmap_int(&root, EAR_KEY_RAW_EVIDENCE), c->raw_evidence,
		         c->raw_evidence_len);
	for (size_t i = 0; i < c->n_nodes; i++)
		ear_cbor_node(&c->nodes[i], cmap_text(&sub, c->nodes[i].uuid));
	cmap_emit(&sub, cmap_int(&root, EAR_KEY_SUBMODS));
	cmap_emit(&root, out);
}

int ear_claims_encode(const ear_claims_t *c, ear_format_t f, buf_t *out, err_t *e)
{
	if (ear_input_check(c, e) < 0)
		return -1;
	if (f == EAR_FORMAT_JWT)
		ear_encode_json(c, out);
	else
		ear_encode_cbor(c, out);
	return 0;
}

/* ---- signing ---- */

int ear_key_is_p256(EVP_PKEY *pk)
{
	char group[64];
	size_t n = 0;

	return pk != NULL && EVP_PKEY_is_a(pk, "EC") &&
	       EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
	                                      &n) == 1 &&
	       strcmp(group, "prime256v1") == 0;
}

void ear_sig_structure(const uint8_t *prot, size_t prot_len, const uint8_t *payload,
                       size_t payload_len, buf_t *out)
{
	buf_reset(out);
	cb_head(out, cbor_encode_array_start, 4);
	cb_text(out, "Signature1");
	cb_bytes(out, prot, prot_len);
	cb_bytes(out, "", 0); /* external_aad: none */
	cb_bytes(out, payload, payload_len);
}

/* ES256 of msg with key into sig (r||s). 0 or -1 with e. */
static int ear_es256_sign(EVP_PKEY *key, const uint8_t *msg, size_t len,
                          uint8_t sig[EAR_ES256_SIG_LEN], err_t *e)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	ECDSA_SIG *es = NULL;
	const BIGNUM *r, *s;
	unsigned char der[80];
	const unsigned char *dp = der;
	size_t n = sizeof(der);
	int rv = -1;

	if (c == NULL)
		fatalx("out of memory");
	if (EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(c, der, &n, msg, len) != 1 ||
	    (es = d2i_ECDSA_SIG(NULL, &dp, (long)n)) == NULL) {
		err_set_ssl(e, "cannot sign the token");
		goto out;
	}
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, sig, 32) != 32 || BN_bn2binpad(s, sig + 32, 32) != 32) {
		err_set(e, "cannot sign the token: signature out of range");
		goto out;
	}
	rv = 0;
out:
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(c);
	return rv;
}

static int ear_sign_jwt(const buf_t *payload, EVP_PKEY *key, buf_t *out, err_t *e)
{
	static const char header[] = "{\"alg\":\"ES256\",\"typ\":\"JWT\"}";
	uint8_t sig[EAR_ES256_SIG_LEN];

	buf_reset(out);
	base64url_encode(out, header, strlen(header));
	buf_append(out, ".", 1);
	base64url_encode(out, payload->data, payload->len);
	if (ear_es256_sign(key, out->data, out->len, sig, e) < 0)
		return -1;
	buf_append(out, ".", 1);
	base64url_encode(out, sig, sizeof(sig));
	return 0;
}

static int ear_sign_cwt(const buf_t *payload, EVP_PKEY *key, buf_t *out, err_t *e)
{
	static const uint8_t prot[] = {0xa1, 0x01, 0x26}; /* {1: -7}: alg ES256 */
	uint8_t sig[EAR_ES256_SIG_LEN];
	buf_t tbs = BUF_INIT;
	int rv = -1;

	ear_sig_structure(prot, sizeof(prot), payload->data, payload->len, &tbs);
	if (ear_es256_sign(key, tbs.data, tbs.len, sig, e) < 0)
		goto out;
	buf_reset(out);
	cb_head(out, cbor_encode_tag, COSE_SIGN1_TAG);
	cb_head(out, cbor_encode_array_start, 4);
	cb_bytes(out, prot, sizeof(prot));
	cb_head(out, cbor_encode_map_start, 0); /* unprotected: nothing */
	cb_bytes(out, payload->data, payload->len);
	cb_bytes(out, sig, sizeof(sig));
	rv = 0;
out:
	buf_free(&tbs);
	return rv;
}

int ear_sign(const ear_claims_t *c, ear_format_t f, EVP_PKEY *key, buf_t *out, err_t *e)
{
	buf_t payload = BUF_INIT;
	int rv = -1;

	if (!ear_key_is_p256(key)) {
		err_set(e, "the attestation-result key is not an ECDSA P-256 key");
		return -1;
	}
	if (ear_claims_encode(c, f, &payload, e) < 0)
		goto out;
	if (f == EAR_FORMAT_JWT)
		rv = ear_sign_jwt(&payload, key, out, e);
	else
		rv = ear_sign_cwt(&payload, key, out, e);
out:
	buf_free(&payload);
	return rv;
}

/* ---- the key ---- */

EVP_PKEY *ear_key_load_or_create(const char *path, int *created, err_t *e)
{
	EVP_PKEY *pk;
	struct stat sb;

	*created = 0;
	if (lstat(path, &sb) < 0) {
		if (errno != ENOENT) {
			err_set(e, "attestation-result key %s: %s", path, strerror(errno));
			return NULL;
		}
		pk = pki_key_new(PKI_KEY_EC256);
		if (pki_key_save(pk, path, e) < 0) {
			EVP_PKEY_free(pk);
			return NULL;
		}
		*created = 1;
		return pk;
	}
	if (!S_ISREG(sb.st_mode)) {
		err_set(e, "attestation-result key %s: not a regular file", path);
		return NULL;
	}
	if (sb.st_mode & 077)
		log_warnx("attestation-result key %s: readable by others (mode %03o); it should "
		          "be 0600",
		          path, (unsigned)(sb.st_mode & 0777));
	if ((pk = pki_key_load(path, e)) == NULL)
		return NULL;
	if (!ear_key_is_p256(pk)) {
		err_set(e, "attestation-result key %s: not an ECDSA P-256 key", path);
		EVP_PKEY_free(pk);
		return NULL;
	}
	return pk;
}

int ear_key_public_pem(EVP_PKEY *key, buf_t *out)
{
	return pki_pubkey_pem(key, out);
}

/* Never prompt for a passphrase: encrypted keys are refused. */
static int ear_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

EVP_PKEY *ear_key_from_pem(const char *pem, size_t len, err_t *e)
{
	BIO *bio;
	EVP_PKEY *pk = NULL;

	if (len > 64 * 1024 || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		err_set(e, "not a PEM key");
		return NULL;
	}
	pk = PEM_read_bio_PUBKEY(bio, NULL, ear_no_passphrase, NULL);
	if (pk == NULL) {
		/* A private key serves as well: only its public half is used. */
		ERR_clear_error();
		(void)BIO_reset(bio);
		pk = PEM_read_bio_PrivateKey(bio, NULL, ear_no_passphrase, NULL);
	}
	BIO_free(bio);
	if (pk == NULL) {
		ERR_clear_error();
		err_set(e, "not a PEM public key");
		return NULL;
	}
	if (!ear_key_is_p256(pk)) {
		err_set(e, "not an ECDSA P-256 key");
		EVP_PKEY_free(pk);
		return NULL;
	}
	return pk;
}

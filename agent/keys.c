/* keys: see keys.h. The shares wait in two small FIFO arrays; the pairing runs in full
 * after every share that arrives (at most KEYS_MAX_SHARES^2 HMACs, microseconds each). */
#include "agent/keys.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"

/* One share waiting for its partner. */
typedef struct share {
	uint8_t key[BOOTKEY_MAX];     /* the decrypted share */
	size_t len;                   /* 16 or 32 */
	uint8_t tag[BOOTKEY_MAC_LEN]; /* U only: auth_tag */
	int has_payload;              /* U only: 1 when a payload came with it */
	buf_t payload;                /* U only: IV || ciphertext || tag */
} share_t;

struct keys {
	EVP_PKEY *pkey;             /* the payload key; borrowed */
	char *uuid;                 /* the agent's UUID, the auth_tag's message */
	keys_derived_fn derived;    /* told about each K found, or NULL */
	void *arg;                  /* for derived */
	share_t u[KEYS_MAX_SHARES]; /* U shares waiting, oldest first */
	size_t nu;                  /* how many */
	share_t v[KEYS_MAX_SHARES]; /* V shares waiting, oldest first */
	size_t nv;                  /* how many */
	uint8_t key[BOOTKEY_MAX];   /* K, once found */
	size_t key_len;             /* 0 until then */
};

static void share_wipe(share_t *s)
{
	OPENSSL_cleanse(s->key, sizeof(s->key));
	OPENSSL_cleanse(s->tag, sizeof(s->tag));
	buf_free_secret(&s->payload);
	s->len = 0;
	s->has_payload = 0;
}

static void shares_clear(share_t *list, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		share_wipe(&list[i]);
	*n = 0;
}

keys_t *keys_new(EVP_PKEY *payload_key, const char *uuid, keys_derived_fn derived, void *arg)
{
	keys_t *k = xcalloc(1, sizeof(*k));

	k->pkey = payload_key;
	k->uuid = xstrdup(uuid);
	k->derived = derived;
	k->arg = arg;
	return k;
}

void keys_free(keys_t *k)
{
	if (k == NULL)
		return;
	shares_clear(k->u, &k->nu);
	shares_clear(k->v, &k->nv);
	OPENSSL_cleanse(k->key, sizeof(k->key));
	free(k->uuid);
	free(k);
}

int keys_have_key(const keys_t *k)
{
	return k->key_len != 0;
}

size_t keys_waiting_u(const keys_t *k)
{
	return k->nu;
}

size_t keys_waiting_v(const keys_t *k)
{
	return k->nv;
}

/* ---- request bodies ---- */

/* The object of a body, or NULL with the reason in e. */
static json_t *body_object(const uint8_t *body, size_t len, err_t *e)
{
	json_error_t je;
	json_t *root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &je);

	if (root == NULL) {
		err_set(e, "the body is not JSON: %s", je.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		err_set(e, "the body is not a JSON object");
		json_decref(root);
		return NULL;
	}
	return root;
}

/* Member name of root as a string into *s and *len: 1; absent: 0 (an error in e when
 * required: -1); not a string: -1. */
static int member(json_t *root, const char *name, int required, const char **s, size_t *len,
                  err_t *e)
{
	json_t *v = json_object_get(root, name);

	*s = NULL;
	if (v == NULL || (!required && json_is_null(v))) { /* serde reads null as absent */
		if (!required)
			return 0;
		err_set(e, "missing %s", name);
		return -1;
	}
	if (!json_is_string(v)) {
		err_set(e, "%s is not a string", name);
		return -1;
	}
	*len = json_string_length(v);
	*s = json_string_value(v);
	return 1;
}

/* encrypted_key of root, base64-decoded into out. */
static int parse_encrypted_key(json_t *root, buf_t *out, err_t *e)
{
	size_t len = 0;
	const char *s;

	if (member(root, "encrypted_key", 1, &s, &len, e) < 0)
		return -1;
	if (len > KEYS_MAX_KEY_B64) {
		err_set(e, "encrypted_key is %zu characters, over %d", len, KEYS_MAX_KEY_B64);
		return -1;
	}
	if (base64_decode(out, s, len) < 0) {
		err_set(e, "invalid base64 in encrypted_key");
		return -1;
	}
	return 0;
}

int keys_parse_vkey(const uint8_t *body, size_t len, buf_t *encrypted_key, err_t *e)
{
	json_t *root = body_object(body, len, e);
	int rv;

	if (root == NULL)
		return -1;
	rv = parse_encrypted_key(root, encrypted_key, e);
	json_decref(root);
	return rv;
}

int keys_parse_ukey(const uint8_t *body, size_t len, keys_ukey_req_t *req, err_t *e)
{
	json_t *root = body_object(body, len, e);
	buf_t tag = BUF_INIT;
	const char *s;
	size_t n = 0;
	int rv = -1, has;

	if (root == NULL)
		return -1;
	if (parse_encrypted_key(root, &req->encrypted_key, e) < 0)
		goto out;
	if (member(root, "auth_tag", 1, &s, &n, e) < 0)
		goto out;
	if (n != BOOTKEY_HMAC_HEX) {
		err_set(e, "auth_tag is %zu characters, not %d (hex of an HMAC-SHA-384)", n,
		        BOOTKEY_HMAC_HEX);
		goto out;
	}
	if (hex_decode(&tag, s, n) < 0) {
		err_set(e, "invalid hex in auth_tag");
		goto out;
	}
	memcpy(req->auth_tag, tag.data, BOOTKEY_MAC_LEN);
	if ((has = member(root, "payload", 0, &s, &n, e)) < 0)
		goto out;
	if (has) {
		/* The body limit (1 MiB) already bounds it. */
		if (base64_decode(&req->payload, s, n) < 0) {
			err_set(e, "invalid base64 in payload");
			goto out;
		}
		req->has_payload = 1;
	}
	rv = 0;
out:
	buf_free(&tag);
	json_decref(root);
	return rv;
}

void keys_ukey_req_free(keys_ukey_req_t *req)
{
	buf_free(&req->encrypted_key);
	buf_free_secret(&req->payload);
	OPENSSL_cleanse(req->auth_tag, sizeof(req->auth_tag));
}

/* ---- pairing ---- */

/* Try every U with every V; on a match keep K, empty both lists and tell derived(). */
static int try_pairs(keys_t *k)
{
	uint8_t cand[BOOTKEY_MAX];
	share_t *u = NULL;

	if (k->nu == 0 || k->nv == 0)
		return 0;
	for (size_t i = 0; i < k->nu && u == NULL; i++) {
		for (size_t j = 0; j < k->nv; j++) {
			if (k->u[i].len != k->v[j].len)
				continue;
			for (size_t b = 0; b < k->u[i].len; b++)
				cand[b] = k->u[i].key[b] ^ k->v[j].key[b];
			if (bootkey_hmac_matches(cand, k->u[i].len, k->uuid, strlen(k->uuid),
			                         k->u[i].tag)) {
				u = &k->u[i];
				log_info(
				    "bootstrap key derived (U share %zu of %zu, V share %zu of "
				    "%zu)",
				    i + 1, k->nu, j + 1, k->nv);
				break;
			}
		}
	}
	if (u == NULL) {
		OPENSSL_cleanse(cand, sizeof(cand));
		log_warnx("no pair of the %zu U and %zu V shares received matches an auth_tag; "
		          "waiting for more",
		          k->nu, k->nv);
		return 0;
	}
	OPENSSL_cleanse(k->key, sizeof(k->key));
	memcpy(k->key, cand, u->len);
	k->key_len = u->len;
	OPENSSL_cleanse(cand, sizeof(cand));
	/* The payload goes out of the list before the list is wiped. */
	{
		buf_t payload = u->payload;
		int has = u->has_payload;
		u->payload = (buf_t)BUF_INIT;
		shares_clear(k->u, &k->nu);
		shares_clear(k->v, &k->nv);
		if (k->derived)
			k->derived(k->arg, k->key, k->key_len, has ? payload.data : NULL,
			           has ? payload.len : 0);
		buf_free_secret(&payload);
	}
	return 1;
}

/* A free slot at the end of list, dropping the oldest share when it is full. */
static share_t *share_slot(share_t *list, size_t *n, const char *kind)
{
	if (*n == KEYS_MAX_SHARES) {
		log_warnx("%d %s shares wait without a match: the oldest is dropped",
		          KEYS_MAX_SHARES, kind);
		share_wipe(&list[0]);
		memmove(&list[0], &list[1], (KEYS_MAX_SHARES - 1) * sizeof(list[0]));
		memset(&list[KEYS_MAX_SHARES - 1], 0, sizeof(list[0]));
		(*n)--;
	}
	return &list[(*n)++];
}

int keys_add_u(keys_t *k, const uint8_t *u, size_t ulen, const uint8_t tag[BOOTKEY_MAC_LEN],
               const uint8_t *payload, size_t plen, int has_payload)
{
	share_t *s = share_slot(k->u, &k->nu, "U");

	memcpy(s->key, u, ulen);
	s->len = ulen;
	memcpy(s->tag, tag, BOOTKEY_MAC_LEN);
	s->has_payload = has_payload;
	if (has_payload)
		buf_set(&s->payload, payload, plen);
	return try_pairs(k);
}

int keys_add_v(keys_t *k, const uint8_t *v, size_t vlen)
{
	share_t *s = share_slot(k->v, &k->nv, "V");

	memcpy(s->key, v, vlen);
	s->len = vlen;
	return try_pairs(k);
}

/* ---- the routes ---- */

int keys_post_ukey(keys_t *k, const uint8_t *body, size_t len, const char *peer, err_t *e)
{
	keys_ukey_req_t req = {BUF_INIT, {0}, 0, BUF_INIT};
	uint8_t share[BOOTKEY_MAX];
	size_t slen = 0;
	int code = 400;

	if (keys_parse_ukey(body, len, &req, e) < 0)
		goto refused;
	if (bootkey_unwrap(k->pkey, req.encrypted_key.data, req.encrypted_key.len, share, &slen,
	                   e) < 0)
		goto refused;
	log_info("U share (%zu bytes%s) from %s kept", slen,
	         req.has_payload ? ", with a payload" : ", no payload", peer);
	keys_add_u(k, share, slen, req.auth_tag, req.payload.data, req.payload.len,
	           req.has_payload);
	code = 200;
	goto out;
refused:
	log_warnx("U share from %s refused: %s", peer, e->msg);
out:
	OPENSSL_cleanse(share, sizeof(share));
	keys_ukey_req_free(&req);
	return code;
}

int keys_post_vkey(keys_t *k, const uint8_t *body, size_t len, const char *peer, err_t *e)
{
	buf_t enc = BUF_INIT;
	uint8_t share[BOOTKEY_MAX];
	size_t slen = 0;
	int code = 400;

	if (keys_parse_vkey(body, len, &enc, e) < 0 ||
	    bootkey_unwrap(k->pkey, enc.data, enc.len, share, &slen, e) < 0) {
		log_warnx("V share from %s refused: %s", peer, e->msg);
		goto out;
	}
	log_info("V share (%zu bytes) from %s kept", slen, peer);
	keys_add_v(k, share, slen);
	code = 200;
out:
	OPENSSL_cleanse(share, sizeof(share));
	buf_free(&enc);
	return code;
}

int keys_verify(keys_t *k, const char *challenge, char hmac[BOOTKEY_HMAC_HEX + 1], err_t *e)
{
	hmac[0] = '\0';
	if (challenge == NULL || *challenge == '\0') {
		err_set(e, "No challenge provided.");
		return 400;
	}
	for (const char *c = challenge; *c; c++) {
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9'))) {
			err_set(e, "the challenge must be ASCII letters and digits only");
			return 400;
		}
	}
	if (k->key_len == 0) {
		err_set(e, "Bootstrap key not yet available.");
		return 400;
	}
	if (bootkey_hmac_hex(k->key, k->key_len, challenge, strlen(challenge), hmac) < 0) {
		err_set(e, "HMAC failed");
		return 500;
	}
	return 200;
}

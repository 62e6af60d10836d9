/* runtime_policy_eval: judging IMA entries against a compiled runtime policy, per node
 * (digests, excludes, ima-sig signatures, ima-buf and keyring measurements), and the keys
 * such a node learns from keyring measurements: the begin/commit journal that takes back
 * what an uncovered entry taught, and their export/import beside the ima_state. */
#include "common/policy/runtime_policy_eval.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "common/base/log.h"
#include "common/policy/runtime_policy_priv.h"
#include "common/base/xmalloc.h"

#define RP_MAX_BOOT_AGGS 8       /* per-node boot_aggregate values */
#define RP_MATCH_LIMIT   1000000 /* PCRE2 backtracking budget per path */
#define RP_DEPTH_LIMIT   10000   /* PCRE2 backtracking depth per path */

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

/* ---------------------------------------------------------------------------------
 * IMA signatures (ima-sig) */

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
 * The evaluator: lifecycle, the replay journal of learned keys, options */

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

/* ---------------------------------------------------------------------------------
 * Learned keys: learning one, export and import */

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
		if (k == NULL || q != der.data + der.len || !rp_key_type_ok(k)) {
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

/* ---------------------------------------------------------------------------------
 * The per-entry check */

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
	s = rp_dmap_find(m, ent->name, ent->name_len);
	if (s == NULL && !(is_ba && ev->n_boot_aggs))
		return fail_entry(f, "ima.validation.ima-ng.not_in_allowlist",
		                  "%s entry %" PRIu64 ": %s is not in the runtime policy's "
		                  "\"%s\"%s",
		                  ent->template_name, ent->index,
		                  text_escape(nm, sizeof(nm), ent->name, ent->name_len), table,
		                  note);
	if (s != NULL && rp_dmap_slot_has(m, s, ent->digest, ent->digest_len))
		return 0;
	for (size_t i = 0; i < ent->digest_len; i++)
		snprintf(got + 2 * i, 3, "%02x", ent->digest[i]);
	if (s != NULL)
		rp_dmap_slot_list(m, s, want, sizeof(want));
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
		rc = rp_key_from_bytes(ent->buf, ent->buf_len, &pk, &keyid);
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

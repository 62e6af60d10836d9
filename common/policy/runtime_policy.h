/* runtime_policy: Keylime runtime (IMA) policies. Parses the JSON once into an immutable,
 * reference-counted object that every node using the same policy shares (the verifier keys
 * it by runtime_policy_sha256), with O(1) digest lookup and excludes compiled once (PCRE2,
 * JIT when available). Per-node state (keys learned from keyring measurements, extra
 * boot_aggregate values, regex match data) lives in a runtime_policy_eval_t.
 *
 * Evaluation follows Keylime (keylime/ima/ima.py) and reports its event ids:
 *   ima, ima-ng  excluded path -> pass; digests[path] must hold the file digest
 *                (ima.validation.ima-ng.not_in_allowlist / .runtime_policy_hash)
 *   ima-sig      excluded -> pass; a valid v2 signature by a verification key or a learned
 *                key -> pass; otherwise as ima-ng
 *   ima-buf      a buffer that is a key (keyring measurement): ignored keyring -> pass;
 *                else keyrings[name] must hold the digest, and the key is learned for later
 *                ima-sig checks; any other buffer: ima-buf[name] must hold the digest
 *   boot_aggregate  looked up in digests["boot_aggregate"] plus the per-node values
 *   violations   (all-zero template hash) pass, as in Keylime, unless the evaluator is told
 *                to fail them (ima.validation.tomtou)
 *
 * Excludes are Python `re` expressions in Keylime; vigil compiles the same combined
 * expression "(r1)|(r2)|..." with PCRE2 (UTF, UCP, anchored at the start like re.match).
 * See docs/policies.md for the few syntax differences. */
#ifndef VIGIL_RUNTIME_POLICY_H
#define VIGIL_RUNTIME_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/buf.h"
#include "common/base/err.h"
#include "common/evidence/ima.h"

#define RUNTIME_POLICY_MAX_DEFAULT  (64u << 20) /* JSON bytes accepted by default */
#define RUNTIME_POLICY_MAX_EXCLUDES 10000       /* exclude regexes */
#define RUNTIME_POLICY_MAX_REGEX    4096        /* bytes of one exclude regex */
#define RUNTIME_POLICY_MAX_KEYS     256         /* verification keys (and learned keys) */

typedef struct runtime_policy runtime_policy_t;           /* immutable, shared */
typedef struct runtime_policy_eval runtime_policy_eval_t; /* per node, one thread at a time */

/* Parse a policy (plain, or a DSSE envelope {"payload": b64, ...} whose payload is the
 * policy; the envelope's signatures are not checked here). max_len 0 means
 * RUNTIME_POLICY_MAX_DEFAULT. Strict: every key Keylime's schema requires, no unknown
 * keys, exact types, digests lowercase hex of 40..128 even digits, excludes that compile,
 * verification keys that load (RSA or EC). NULL with the reason in e. The result has one
 * reference; caller releases it with runtime_policy_unref. */
runtime_policy_t *runtime_policy_parse(const char *json, size_t len, size_t max_len, err_t *e);
/* Read a file (up to max_len, 0 = default) and parse it. */
runtime_policy_t *runtime_policy_load(const char *path, size_t max_len, err_t *e);
runtime_policy_t *runtime_policy_ref(runtime_policy_t *p); /* returns p; thread-safe */
void runtime_policy_unref(runtime_policy_t *p);            /* NULL ok; thread-safe */

/* SHA-256 of the JSON bytes as given, lowercase hex (Keylime's policy checksum); the
 * content address under which the verifier shares policies. Borrowed. */
const char *runtime_policy_sha256(const runtime_policy_t *p);
/* ima.log_hash_alg as a TPM_ALG_ID (SHA-1 when the policy says "sha1"). */
uint16_t runtime_policy_log_hash_alg(const runtime_policy_t *p);
int runtime_policy_generator(const runtime_policy_t *p);       /* meta.generator (0..3) */
size_t runtime_policy_digest_count(const runtime_policy_t *p); /* paths in "digests" */
size_t runtime_policy_exclude_count(const runtime_policy_t *p);
size_t runtime_policy_key_count(const runtime_policy_t *p); /* verification keys */

/* Per-node evaluator; takes a reference to p. */
runtime_policy_eval_t *runtime_policy_eval_new(runtime_policy_t *p);
void runtime_policy_eval_free(runtime_policy_eval_t *ev);                      /* NULL ok */
runtime_policy_t *runtime_policy_eval_policy(const runtime_policy_eval_t *ev); /* borrowed */
/* Forget learned keys (call with ima_state_reset: the replay starts over). Keeps the
 * boot_aggregate values and options. */
void runtime_policy_eval_reset(runtime_policy_eval_t *ev);
/* A replay transaction for learned keys. After begin, a key learned from a keyring entry
 * is usable at once (later ima-sig entries of the same list may need it) but stays
 * provisional; commit keeps the keys learned from entries before index covered (the
 * entries the quoted PCR 10 covers) and takes back every later one, restoring a key
 * that one of them replaced. commit(ev, 0) takes back all of them (a failed round). */
void runtime_policy_eval_begin(runtime_policy_eval_t *ev);
void runtime_policy_eval_commit(runtime_policy_eval_t *ev, uint64_t covered);
/* Accept d (raw digest) as a boot_aggregate for this node, e.g. computed from the quoted
 * PCRs with ima_boot_aggregate(). At most 8 values; 0 or -1. */
int runtime_policy_eval_add_boot_aggregate(runtime_policy_eval_t *ev, const uint8_t *d, size_t len);
/* Fail violation entries (all-zero template hash) instead of passing them. */
void runtime_policy_eval_set_fail_violations(runtime_policy_eval_t *ev, int on);

/* Learned keys as text, one "<keyring> <keyid hex8> <base64 DER SPKI>" per line, so a
 * verifier can persist them beside the ima_state and resume without re-reading the list.
 * Export replaces out. Import replaces the learned keys; 0, or -1 with e (nothing
 * changed). */
void runtime_policy_eval_keys_export(const runtime_policy_eval_t *ev, buf_t *out);
int runtime_policy_eval_keys_import(runtime_policy_eval_t *ev, const char *txt, size_t len,
                                    err_t *e);
size_t runtime_policy_eval_learned_count(const runtime_policy_eval_t *ev);

/* The per-entry check, an ima_entry_cb: pass ev as the argument. 0 pass, -1 fail with
 * f->event_id and f->reason set (which file, which digest, which rule). */
int runtime_policy_check_entry(void *ev, const ima_entry_t *ent, ima_failure_t *f);

/* Build a Keylime-format runtime policy from a golden machine's ascii list: every ima,
 * ima-ng and ima-sig entry's digest under its path (boot_aggregate included); ima-buf
 * entries into "keyrings" (key buffers, unless the keyring is ignored) and "ima-buf" when
 * asked; excludes as given (each must compile); verification keys from PEM or DER
 * certificates / public keys. Entries are checked (template hash with log_alg) on the
 * way; violations are skipped. Writes pretty JSON with sorted keys into out (replacing).
 * 0, or -1 with e. */
typedef struct runtime_policy_gen_opts {
	uint16_t log_alg;                    /* template-hash algorithm; 0 = SHA-1 */
	const char *const *excludes;         /* borrowed regexes */
	size_t n_excludes;                   /* count */
	const char *const *ignored_keyrings; /* borrowed names ("*" = all) */
	size_t n_ignored_keyrings;           /* count */
	const char *const *key_files;        /* borrowed paths of verification keys */
	size_t n_key_files;                  /* count */
	int with_keyrings;                   /* put key measurements into "keyrings" */
	int with_ima_buf;                    /* put other ima-buf digests into "ima-buf" */
	const char *timestamp;               /* meta.timestamp, NULL = now (UTC) */
} runtime_policy_gen_opts_t;
int runtime_policy_generate(const char *ima_text, size_t len, const runtime_policy_gen_opts_t *opts,
                            buf_t *out, err_t *e);

/* Compile-check one exclude regex as policy parsing would. 0, or -1 with the PCRE2
 * error and offset in e. */
int runtime_policy_check_regex(const char *re, err_t *e);

#endif

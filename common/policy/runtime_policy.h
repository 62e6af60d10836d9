/* runtime_policy: Keylime runtime (IMA) policies. Parses the JSON once into an immutable,
 * reference-counted object that every node using the same policy shares (the verifier keys
 * it by runtime_policy_sha256), with O(1) digest lookup and excludes compiled once (PCRE2,
 * JIT when available). Judging IMA entries against it, per node, is runtime_policy_eval.h;
 * writing one from a golden list is runtime_policy_gen.h.
 *
 * Excludes are Python `re` expressions in Keylime; vigil compiles the same combined
 * expression "(r1)|(r2)|..." with PCRE2 (UTF, UCP, anchored at the start like re.match).
 * See docs/policies.md for the few syntax differences. */
#ifndef VIGIL_RUNTIME_POLICY_H
#define VIGIL_RUNTIME_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/err.h"

#define RUNTIME_POLICY_MAX_DEFAULT  (64u << 20) /* JSON bytes accepted by default */
#define RUNTIME_POLICY_MAX_EXCLUDES 10000       /* exclude regexes */
#define RUNTIME_POLICY_MAX_REGEX    4096        /* bytes of one exclude regex */
#define RUNTIME_POLICY_MAX_KEYS     256         /* verification keys (and learned keys) */

typedef struct runtime_policy runtime_policy_t; /* immutable, shared */

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

/* Compile-check one exclude regex as policy parsing would. 0, or -1 with the PCRE2
 * error and offset in e. */
int runtime_policy_check_regex(const char *re, err_t *e);

#endif

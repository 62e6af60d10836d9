/* runtime_policy_eval: a node's judge of IMA entries against a runtime policy. The policy
 * is shared and immutable (runtime_policy.h); per-node state (keys learned from keyring
 * measurements, extra boot_aggregate values, regex match data) lives in a
 * runtime_policy_eval_t.
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
 *                to fail them (ima.validation.tomtou) */
#ifndef VIGIL_RUNTIME_POLICY_EVAL_H
#define VIGIL_RUNTIME_POLICY_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/buf.h"
#include "common/base/err.h"
#include "common/evidence/ima.h"
#include "common/policy/runtime_policy.h"

typedef struct runtime_policy_eval runtime_policy_eval_t; /* per node, one thread at a time */

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

#endif

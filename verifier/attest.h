/* attest: the checks of one round, in docs/design.md's order, on the quote response of an
 * agent: AK signature, nonce, PCR digest, PCR 16 binding, clock, static PCR policy,
 * measured boot (replay + policy, once per log content), IMA (incremental replay from the
 * stored position + runtime policy). On success the node's evidence state (IMA position,
 * clock, cached payload key, measured-boot cache) has advanced; on failure it is
 * unchanged and out says exactly what failed. */
#ifndef VIGIL_VERIFIER_ATTEST_H
#define VIGIL_VERIFIER_ATTEST_H

#include <stddef.h>
#include <stdint.h>

struct node;

/* What one round produced. The node publishes it, with the rest of the round's state, in
 * one step when the round ends (node.c), so a reader never sees half a round. */
typedef struct attest_out {
	char event_id[80];      /* Keylime-style failure id, e.g. "pcr_validation.invalid_pcr_7" */
	char reason[768];       /* precise text: which PCR, which file, which event */
	char hash_alg[16];      /* on a pass: the quote's hash algorithm */
	char sign_alg[16];      /* on a pass: the quote's signature algorithm */
	char mb_log_digest[65]; /* SHA-256 hex of a UEFI log newly judged good, else "" */
} attest_out_t;

/* 0 pass, -1 fail (out filled), 1 the node rebooted since the last round: its new logs
 * must be read from the start, so the round is asked again at once (nothing failed).
 * body is the agent's JSON answer (len bytes). */
int attest_check(struct node *n, const uint8_t *body, size_t len, attest_out_t *out);

#endif

/* attest: the checks of one round, in docs/design.md's order, on the quote response of an
 * agent: AK signature, nonce, PCR digest, PCR 16 binding, clock, static PCR policy,
 * measured boot (replay + policy, once per log content), IMA (incremental replay from the
 * stored position + runtime policy). On success the node's evidence state (IMA position,
 * clock, cached payload key, measured-boot cache) has advanced; on failure it is
 * unchanged and out says exactly what failed. A pure check: everything it needs comes in
 * as arguments, and it calls back into neither the node nor the worker. */
#ifndef VIGIL_VERIFIER_ATTEST_H
#define VIGIL_VERIFIER_ATTEST_H

#include <stddef.h>
#include <stdint.h>

#include "common/evidence/quote.h"

struct ima_state;
struct mb_policy;
struct pcr_policy;
struct runtime_policy;
struct runtime_policy_eval;
struct report_round;

/* What a round is judged against; all borrowed, for the call only. */
typedef struct attest_input {
	const char *uuid;               /* the node, for log lines */
	const char *nonce;              /* nonce sent with this round's request */
	uint32_t mask;                  /* PCRs requested (PCR 16 is added by the agent) */
	const char *accept_hash;        /* comma list of accepted quote hash algorithms */
	const char *accept_sign;        /* comma list of accepted signature schemes */
	struct pcr_policy *pcr;         /* static PCR policy, or NULL */
	struct mb_policy *mb;           /* measured-boot policy, or NULL */
	struct runtime_policy *runtime; /* runtime (IMA) policy, or NULL */
	const char *mb_log_digest;      /* SHA-256 hex of the last log judged good, or NULL */
	struct report_round *report;    /* where the round's evidence is recorded for reports
	                                   (verifier/report.h), or NULL */
} attest_input_t;

/* A node's evidence state: what a round compares against and advances on a pass. The
 * node owns it and its pointers (node.c creates and frees them); attest_check reads and
 * updates it, nothing else of the node. */
typedef struct attest_state {
	quote_ak_t *ak;                      /* enrolled AK, prepared for signature checks */
	quote_t *q;                          /* reusable decoder */
	struct runtime_policy_eval *rt_eval; /* per-node IMA evaluator, with a runtime policy */
	struct ima_state *ima;               /* IMA replay position, with a runtime policy */
	char *pubkey;                        /* payload public key PEM last sent by the agent */
	quote_clock_t clock;                 /* clock info of the last good quote */
	int has_clock;                       /* clock is set */
	int reboot_seen;                     /* a reboot seen, no round passed since */
	uint32_t reboot_reset;               /* its TPM reset count */
	int ima_restarted;                   /* the agent restarted its IMA list unasked... */
	uint32_t ima_restart_boot;           /* ...in the boot of this TPM reset count */
	uint8_t (*mb_pcrs)[64];              /* PCRs 0-15 the last good UEFI log replays to
	                                      * (allocated on the first; the node frees) */
	uint32_t mb_pcrs_mask;               /* which of mb_pcrs are valid */
	uint16_t mb_bank;                    /* bank of mb_pcrs */
} attest_state_t;

/* What one round produced. The node publishes it, with the rest of the round's state, in
 * one step when the round ends (node.c), so a reader never sees half a round. */
typedef struct attest_out {
	char event_id[80];      /* Keylime-style failure id, e.g. "pcr_validation.invalid_pcr_7" */
	char reason[768];       /* precise text: which PCR, which file, which event */
	char hash_alg[16];      /* on a pass: the quote's hash algorithm */
	char sign_alg[16];      /* on a pass: the quote's signature algorithm */
	char mb_log_digest[65]; /* SHA-256 hex of a UEFI log newly judged good, else "" */
	int rebooted;           /* 1 when this round first saw the TPM reset: a reboot */
	uint32_t reset_from;    /* then: the reset count before ... */
	uint32_t reset_to;      /* ... and after */
	const struct report_round *report; /* the round's evidence as recorded (in->report) */
} attest_out_t;

/* 1 when the next round must judge a whole log, the costly kind: the IMA list from entry
 * 0 under a runtime policy, or a UEFI log not judged yet this boot under a measured-boot
 * policy that has rules (an empty one judges nothing). */
int attest_round_is_costly(const attest_state_t *st, const struct runtime_policy *runtime,
                           const struct mb_policy *mb);

/* 0 pass, -1 fail (out filled), 1 the node rebooted since the last round: its new logs
 * must be read from the start, so the round is asked again at once (nothing failed).
 * body is the agent's JSON answer (len bytes). */
int attest_check(const attest_input_t *in, attest_state_t *st, const uint8_t *body, size_t len,
                 attest_out_t *out);

#endif

/* report: what a node keeps of its last judged round, for GetReport and AttestNow (the
 * Report message of verifier.proto): the quoted PCRs of that round against the PCR
 * policy, the measured-boot and IMA results, and what failed.
 *
 * Memory: a node holds one small block (report_ev_t) from its first round that reached
 * the checks: a header and the raw digests of the PCRs actually quoted, in the bank that
 * was judged (hex is made only when a report is asked for). Failure details live in a
 * second block only while the node fails, and are freed on its next pass.
 *
 * A round records into a report_round_t, a scratch on the worker's stack (attest_check
 * fills it); the node publishes it into its report_ev_t in the same locked section as
 * the round's verdict (node_publish_locked), so a reader under the node's lock sees the
 * verdict and the evidence of one round together. */
#ifndef VIGIL_VERIFIER_REPORT_H
#define VIGIL_VERIFIER_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "common/evidence/ima.h"
#include "common/evidence/quote.h"

struct pcr_policy;

#define REPORT_PCRS       24   /* PCRs 0..23 */
#define REPORT_PATH_MAX   1024 /* longest IMA path kept (longer ones are cut) */
#define REPORT_DIGEST_MAX (IMA_ALG_NAME_MAX + 2 + 2 * IMA_DIGEST_MAX) /* "<alg>:<hex>" */
#define REPORT_TEXT_MAX   768 /* a measured-boot failure's text */

/* The outcome of one kind of check in the round. */
typedef enum {
	REPORT_NONE = 0, /* no policy of that kind */
	REPORT_PASS,     /* checked, passed */
	REPORT_FAIL,     /* checked, failed */
	REPORT_SKIPPED,  /* a policy exists, but an earlier check of the round failed */
} report_result_t;

/* One round's evidence while it is judged: a scratch (worker stack), zeroed by
 * report_round_init. attest_check fills it; nothing in it is owned. */
typedef struct report_round {
	int reached;                        /* the quote verified: the PCR checks ran */
	uint16_t bank;                      /* the bank judged (TPM_ALG_ID) */
	uint8_t dlen;                       /* its digest size */
	uint32_t quoted;                    /* PCRs of that bank in the quote */
	uint32_t in_policy;                 /* PCRs the PCR policy constrains */
	uint32_t bad;                       /* PCRs whose value the PCR policy refuses */
	uint8_t value[REPORT_PCRS][64];     /* quoted values, by PCR */
	uint8_t mb;                         /* report_result_t of measured boot */
	uint8_t ima;                        /* report_result_t of IMA */
	char mb_fail[REPORT_TEXT_MAX];      /* what failed in measured boot, or "" */
	int ima_has_entry;                  /* the IMA failure names one entry */
	uint64_t ima_entry;                 /* ... its position */
	char ima_path[REPORT_PATH_MAX];     /* ... its path */
	char ima_digest[REPORT_DIGEST_MAX]; /* ... its digest, "<alg>:<hex>" */
	char ima_reason[IMA_REASON_MAX];    /* why IMA failed, or "" */
} report_round_t;

/* What a node keeps (opaque; the node owns it, freed with report_ev_free). */
typedef struct report_ev report_ev_t;

void report_round_init(report_round_t *r);
/* The quote of the round verified: record the PCRs of bank in q and which of them policy
 * p (may be NULL) constrains. None is marked bad: a round whose PCR policy passed has no
 * bad PCR, so the per-PCR judgement is made only when it failed. */
void report_round_pcrs(report_round_t *r, const quote_t *q, uint16_t bank,
                       const struct pcr_policy *p);
/* The round's PCR policy p failed: mark each PCR it refuses, and those it names that the
 * quote lacks. */
void report_round_pcr_failed(report_round_t *r, const struct pcr_policy *p);

/* The runtime policy's per-entry check wrapped so that the first failing entry's path
 * and digest are recorded: pass a report_ima_cb_t as the ima_entry_cb argument. */
typedef struct report_ima_cb {
	void *eval;        /* the node's runtime_policy_eval_t */
	report_round_t *r; /* where to record, or NULL */
} report_ima_cb_t;
int report_ima_check_entry(void *arg, const ima_entry_t *ent, ima_failure_t *f);

/* Publish round r into *dst (replacing the node's previous report, reusing its block
 * when the quoted set is the same size); its time is now, clock_safe the safe flag of the
 * node's last good quote. A round that did not reach the checks changes nothing.
 * Callers hold the node's lock. */
void report_publish(report_ev_t **dst, const report_round_t *r, int clock_safe);
void report_ev_free(report_ev_t *ev);

/* One PCR of a snapshot. */
typedef struct report_pcr {
	uint8_t index;     /* PCR number */
	uint8_t in_policy; /* the PCR policy constrains it */
	uint8_t ok;        /* its value is allowed (1 when not constrained) */
	char value[129];   /* hex */
} report_pcr_t;

/* A copy of a node's report for the API thread (caller clears with report_snap_clear). */
typedef struct report_snap {
	int has;             /* the node has a round that reached the checks */
	int64_t time_ms;     /* when that round's quote arrived (unix ms) */
	char bank[16];       /* "sha256", ... */
	int clock_safe;      /* its clock's safe flag */
	report_pcr_t *pcrs;  /* by index (owned) */
	size_t n_pcrs;       /* how many */
	report_result_t mb;  /* measured boot */
	char *mb_fail;       /* what failed, or NULL (owned) */
	report_result_t ima; /* IMA */
	int ima_has_entry;   /* an IMA failure names an entry */
	uint64_t ima_entry;  /* ... its position */
	char *ima_path;      /* ... its path (owned, or NULL) */
	char *ima_digest;    /* ... its digest (owned, or NULL) */
	char *ima_reason;    /* why IMA failed (owned, or NULL) */
} report_snap_t;

/* Copy ev (may be NULL: nothing yet) into out. Callers hold the node's lock. */
void report_snap_take(const report_ev_t *ev, report_snap_t *out);
void report_snap_clear(report_snap_t *s);

/* "pass", "fail", "none" or "skipped"; static. */
const char *report_result_name(report_result_t r);
/* Bytes a node's report block takes now (for tests and the memory budget). */
size_t report_ev_size(const report_ev_t *ev);

#endif

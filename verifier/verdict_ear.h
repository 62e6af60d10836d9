/* verdict_ear: a node's verdict as an EAR token (docs/ear.md), signed with the verifier's
 * attestation-result key (STATE_DIR/report.key, loaded at start by main.c). The one place
 * that says how a vigil verdict maps to an EAR appraisal: GetReport, AttestNow, webhooks
 * and WatchEvents all sign through it.
 *
 * The mapping: instance-identity 2 when a quote verified with the enrolled AK, 99 when
 * its signature failed; hardware 2 when the EK certificate chain was checked at
 * enrollment; configuration 2 / 96 from the PCR and measured-boot policies; executables
 * and file-system 2 / 33 / 96 from the runtime (IMA) policy, executables 3 without one.
 * A claim without a policy to judge it is left out. A node not yet judged, or whose agent
 * does not answer, is "none" with no vector. */
#ifndef VIGIL_VERIFIER_VERDICT_EAR_H
#define VIGIL_VERIFIER_VERDICT_EAR_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/buf.h"
#include "common/base/err.h"
#include "common/crypto/ear.h"

struct vctx;

/* What a verdict says, borrowed for the call. */
typedef struct verdict_ear {
	const char *uuid;     /* the node */
	const char *status;   /* "PASS", "FAIL" or "PENDING" (Node.attestation_status) */
	const char *event_id; /* the failure id when FAIL, e.g. "ima.file_not_allowed",
	                       * "pcr_validation.invalid_pcr_7", "quote.bad_signature";
	                       * "" or NULL otherwise */
	int64_t quote_time;   /* unix s of the quote judged, -1: none */
	int64_t reset_count;  /* its TPM resetCount, -1: unknown */
	int ek_checked;       /* the EK chain was verified at enrollment */
	const ear_policy_ref_t *policies; /* the policies it is judged by (pcr, runtime, mb) */
	size_t n_policies;
} verdict_ear_t;

/* The appraisal of v: fills n (its strings borrowed from v). */
void verdict_ear_node(const verdict_ear_t *v, ear_node_t *n);
/* Sign v as a token of format f with ctx's attestation-result key, replacing out (JWT text
 * NUL-terminated, or CWT bytes); iat is now. 0, or -1 with e. */
int verdict_ear_sign(const struct vctx *ctx, const verdict_ear_t *v, ear_format_t f, buf_t *out,
                     err_t *e);

#endif

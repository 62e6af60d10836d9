/* verdict_ear: a node's verdict as an EAR appraisal and token (verdict_ear.h). */
#include "verifier/verdict_ear.h"

#include <string.h>
#include <time.h>

#include "verifier/vctx.h"

#define VERDICT_EAR_DEVELOPER "vigil"

static int has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static int has_policy(const verdict_ear_t *v, const char *kind)
{
	for (size_t i = 0; i < v->n_policies; i++)
		if (strcmp(v->policies[i].kind, kind) == 0)
			return 1;
	return 0;
}

/* The claims a failure id speaks against; the AK that signed the quote is recognized
 * unless the quote itself is what failed. */
static void verdict_ear_failed(const char *id, ear_node_t *n)
{
	if (has_prefix(id, "quote_validation.signature") ||
	    has_prefix(id, "quote_validation.no_pubkey") ||
	    has_prefix(id, "quote_validation.pcr_digest") ||
	    has_prefix(id, "quote_validation.nonce") || has_prefix(id, "quote_validation.attest")) {
		/* The quote does not verify with the enrolled AK, or vouches for other data. */
		ear_node_tv_set(n, EAR_TV_INSTANCE_IDENTITY, EAR_CRYPTO_FAILED);
		return;
	}
	if (has_prefix(id, "quote_validation.") || has_prefix(id, "quote.")) {
		ear_node_tv_set(n, EAR_TV_INSTANCE_IDENTITY, EAR_UNEXPECTED_EVIDENCE);
		return;
	}
	ear_node_tv_set(n, EAR_TV_INSTANCE_IDENTITY, EAR_II_RECOGNIZED);
	if (has_prefix(id, "pcr_validation.") || has_prefix(id, "measured_boot.") ||
	    has_prefix(id, "mb_")) {
		ear_node_tv_set(n, EAR_TV_CONFIGURATION, EAR_CFG_UNSUPPORTABLE);
	} else if (has_prefix(id, "ima.internal")) {
		ear_node_tv_set(n, EAR_TV_EXECUTABLES, EAR_VERIFIER_MALFUNCTION);
	} else if (has_prefix(id, "ima.validation") || has_prefix(id, "ima_ml_entry")) {
		/* A measured file the runtime policy does not allow. */
		ear_node_tv_set(n, EAR_TV_EXECUTABLES, EAR_EXE_CONTRAINDICATED);
		ear_node_tv_set(n, EAR_TV_FILE_SYSTEM, EAR_FS_CONTRAINDICATED);
	} else if (has_prefix(id, "ima")) {
		/* The IMA list does not replay to the quoted PCR, or cannot be read. */
		ear_node_tv_set(n, EAR_TV_EXECUTABLES, EAR_EXE_CONTRAINDICATED);
	}
}

void verdict_ear_node(const verdict_ear_t *v, ear_node_t *n)
{
	const char *id = v->event_id ? v->event_id : "";
	int runtime = has_policy(v, "runtime");
	int boot = has_policy(v, "pcr") || has_policy(v, "mb");

	memset(n, 0, sizeof(*n));
	n->uuid = v->uuid;
	n->quote_time = v->quote_time;
	n->reset_count = v->reset_count;
	n->policies = v->policies;
	n->n_policies = v->n_policies;
	n->status = EAR_NONE;
	if (v->status == NULL)
		return;
	if (strcmp(v->status, "PASS") == 0) {
		ear_node_tv_set(n, EAR_TV_INSTANCE_IDENTITY, EAR_II_RECOGNIZED);
		if (v->ek_checked)
			ear_node_tv_set(n, EAR_TV_HARDWARE, EAR_HW_GENUINE);
		if (boot)
			ear_node_tv_set(n, EAR_TV_CONFIGURATION, EAR_CFG_APPROVED);
		if (runtime) {
			ear_node_tv_set(n, EAR_TV_EXECUTABLES, EAR_EXE_APPROVED_RT);
			ear_node_tv_set(n, EAR_TV_FILE_SYSTEM, EAR_FS_APPROVED);
		} else if (boot) {
			ear_node_tv_set(n, EAR_TV_EXECUTABLES, EAR_EXE_APPROVED_BOOT);
		}
		n->status = EAR_AFFIRMING;
	} else if (strcmp(v->status, "FAIL") == 0 && *id != '\0' && strcmp(id, "comm_error") != 0) {
		/* Evidence was judged and refused. An agent that does not answer gave none:
		 * that stays "none", below. */
		verdict_ear_failed(id, n);
		n->status = EAR_CONTRAINDICATED;
	}
}

int verdict_ear_sign(const vctx_t *ctx, const verdict_ear_t *v, ear_format_t f, buf_t *out,
                     err_t *e)
{
	char build[160];
	ear_claims_t c;
	ear_node_t n;

	if (ctx->report_key == NULL) {
		err_set(e, "this verifier has no attestation-result key loaded");
		return -1;
	}
	verdict_ear_node(v, &n);
	snprintf(build, sizeof(build), "vigil-verifier %s", ctx->verifier_id);
	memset(&c, 0, sizeof(c));
	c.iat = (int64_t)time(NULL);
	c.developer = VERDICT_EAR_DEVELOPER;
	c.build = build;
	c.nodes = &n;
	c.n_nodes = 1;
	return ear_sign(&c, f, ctx->report_key, out, e);
}

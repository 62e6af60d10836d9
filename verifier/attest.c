/* attest: one round's evidence checks. */
#include "verifier/attest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/evidence/eventlog.h"
#include "common/evidence/ima.h"
#include "common/base/log.h"
#include "common/policy/mb_policy.h"
#include "common/policy/pcr_policy.h"
#include "common/policy/runtime_policy.h"
#include "common/crypto/tpm2.h"
#include "common/base/xmalloc.h"
#include "verifier/answer.h"
#include "verifier/report.h"
#include "common/policy/runtime_policy_eval.h"

/* A payload public key PEM (RSA-4096 is about 800 bytes) is never larger than this. */
#define ATTEST_PUBKEY_MAX 16384
/* The UEFI log is replayed to PCRs 0-15 (not 10): mb_pcrs holds that many. */
#define ATTEST_MB_PCRS 16

static int attest_failf(attest_out_t *out, const char *event_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int attest_failf(attest_out_t *out, const char *event_id, const char *fmt, ...)
{
	va_list ap;

	snprintf(out->event_id, sizeof(out->event_id), "%s", event_id);
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
	return -1;
}

/* 1 when name is in the comma-separated list (spaces around items ignored). */
static int attest_list_has(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		while (len && *p == ' ')
			p++, len--;
		while (len && p[len - 1] == ' ')
			len--;
		if (len == n && strncmp(p, name, n) == 0)
			return 1;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return 0;
}

typedef struct attest_lookup {
	quote_t *q;    /* the decoded quote */
	uint16_t bank; /* quoted bank */
} attest_lookup_t;

static const uint8_t *attest_pcr(void *arg, int pcr, size_t *len)
{
	attest_lookup_t *l = arg;

	return quote_pcr_value(l->q, l->bank, (unsigned)pcr, len);
}

/* Measured boot: the log replays to the quoted PCRs 0-9/11-15 and passes the policy. The
 * policy verdict is cached by log content: an unchanged log is only compared again. */
int attest_round_is_costly(const attest_state_t *st, const struct runtime_policy *runtime,
                           const struct mb_policy *mb)
{
	return (runtime && (st->ima == NULL || ima_state_next_entry(st->ima) == 0)) ||
	       (mb && !mb_policy_is_empty(mb) && st->mb_pcrs_mask == 0);
}

static int attest_mb(const attest_input_t *in, attest_state_t *st, const answer_t *ans,
                     uint16_t bank, attest_out_t *out)
{
	buf_t text = BUF_INIT;
	size_t b64_len = 0;
	/* The log's base64 straight from the body unless the JSON escaped some of it. */
	const char *b64 = answer_bytes(ans, ANSWER_MB_LIST, &text, &b64_len);
	uint8_t md[32];
	char hex[65];
	buf_t raw = BUF_INIT;
	eventlog_t *log = NULL;
	err_t e = {""};
	mb_failure_t f;
	int rv = -1;

	if (b64 == NULL)
		return attest_failf(out, "measured_boot.missing_log",
		                    "the quote covers PCR 0 but the agent sent no UEFI event log");
	/* The cache key is the hash of the text as sent: an unchanged log (every round but the
	 * first of a boot) is neither decoded nor parsed, only hashed. */
	EVP_Digest(b64, b64_len, md, NULL, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (st->mb_pcrs_mask && st->mb_bank == bank && in->mb_log_digest &&
	    strcmp(in->mb_log_digest, hex) == 0) {
		/* Same log as last time: only the quoted values need comparing. */
		for (unsigned pcr = 0; pcr < ATTEST_MB_PCRS; pcr++) {
			size_t vl;
			const uint8_t *v;
			if (!(st->mb_pcrs_mask & (1u << pcr)))
				continue;
			v = quote_pcr_value(st->q, bank, pcr, &vl);
			if (v == NULL || vl > 64 || memcmp(v, st->mb_pcrs[pcr], vl) != 0) {
				attest_failf(
				    out, "measured_boot.invalid_pcr",
				    "PCR %u no longer matches the UEFI event log it replayed "
				    "from last round (log unchanged, PCR changed)",
				    pcr);
				goto out;
			}
		}
		rv = 0;
		goto out;
	}
	if (base64_decode(&raw, b64, b64_len) < 0) {
		attest_failf(out, "measured_boot.log_format", "mb_measurement_list is not base64");
		goto out;
	}
	if ((log = eventlog_parse(raw.data, raw.len, &e)) == NULL) {
		attest_failf(out, "measured_boot.log_format", "UEFI event log: %s", e.msg);
		goto out;
	}
	uint32_t checked = 0;
	for (unsigned pcr = 0; pcr < ATTEST_MB_PCRS; pcr++) {
		size_t vl;
		const uint8_t *v;
		if (pcr == 10 || !(in->mask & (1u << pcr)))
			continue;
		if ((v = quote_pcr_value(st->q, bank, pcr, &vl)) == NULL) {
			/* The agent chose to quote less than asked: the log's events for this
			 * PCR would be judged by the policy but bound to nothing in the TPM. */
			attest_failf(out, "measured_boot.invalid_pcr",
			             "PCR %u is needed for the measured-boot check but is not in "
			             "the quote",
			             pcr);
			goto out;
		}
		if (eventlog_check_pcr(log, bank, pcr, v, vl, &e) < 0) {
			attest_failf(out, "measured_boot.invalid_pcr", "%s", e.msg);
			goto out;
		}
		if (st->mb_pcrs == NULL) /* only nodes under a measured-boot policy need it */
			st->mb_pcrs = xcalloc(ATTEST_MB_PCRS, sizeof(*st->mb_pcrs));
		memcpy(st->mb_pcrs[pcr], v, vl);
		checked |= 1u << pcr;
	}
	if (mb_policy_evaluate(in->mb, log, &f) < 0) {
		attest_failf(out, "measured_boot.policy", "%s", f.reason);
		goto out;
	}
	st->mb_pcrs_mask = checked;
	st->mb_bank = bank;
	snprintf(out->mb_log_digest, sizeof(out->mb_log_digest), "%s", hex);
	log_info("node %s: UEFI event log (%zu events) passed the measured-boot policy", in->uuid,
	         eventlog_count(log));
	rv = 0;
out:
	eventlog_free(log);
	buf_free(&raw);
	buf_free(&text);
	return rv;
}

/* IMA: new entries replayed from the stored position to the quoted PCR 10, each judged by
 * the runtime policy. reset_count is the quoted TPM's: an agent may restart its list at
 * entry 0 unasked once per boot (Keylime's "list restarted"), not every round, which would
 * make the verifier replay the whole list each time. Keys learned from keyring entries are
 * kept only when the replay matched, and only from the entries the quote covers. */
static int attest_ima(const attest_input_t *in, attest_state_t *st, const answer_t *ans,
                      uint16_t bank, uint32_t reset_count, attest_out_t *out)
{
	buf_t list = BUF_INIT;
	const uint8_t *pcr10;
	size_t pcr10_len;
	uint64_t first;
	ima_replay_result_t rr;

	if ((pcr10 = quote_pcr_value(st->q, bank, 10, &pcr10_len)) == NULL)
		return attest_failf(out, "ima.missing_pcr", "the quote does not cover PCR 10");
	if (ans->field[ANSWER_IMA_LIST].raw == NULL)
		return attest_failf(out, "ima.missing_list",
		                    "the agent sent no IMA measurement list");
	first = ans->entry_is_integer && ans->entry >= 0 ? (uint64_t)ans->entry : 0;
	if (st->ima == NULL || ima_state_bank(st->ima) != bank) {
		ima_state_free(st->ima);
		if ((st->ima = ima_state_new(bank)) == NULL)
			return attest_failf(out, "ima.bank", "cannot replay IMA in this bank");
	}
	if (first == 0 && ima_state_next_entry(st->ima) != 0) {
		/* The agent restarted its list without a reboot (a new agent, a list asked past
		 * its end). Once per boot; a second time is an agent making us replay. */
		if (st->ima_restarted && st->ima_restart_boot == reset_count)
			return attest_failf(
			    out, "ima.list_restarted",
			    "the agent sent its IMA list from entry 0 when entry %llu was asked, a "
			    "second time in this boot (TPM reset count %u) without a reboot",
			    (unsigned long long)ima_state_next_entry(st->ima), reset_count);
		st->ima_restarted = 1;
		st->ima_restart_boot = reset_count;
		log_info("node %s: IMA list restarted at entry 0 without a reboot; replaying it "
		         "whole (accepted once per boot)",
		         in->uuid);
	}
	if (first == 0) {
		/* A replay from entry 0 judges with a fresh evaluator: no key learned from an
		 * earlier pass, and only this boot's boot_aggregate (the evaluator keeps at
		 * most 8: adding one per restart filled it, and the 9th boot's was refused).
		 * The boot_aggregate of this boot comes from the quoted PCRs when they are
		 * all there. */
		runtime_policy_eval_free(st->rt_eval);
		st->rt_eval = runtime_policy_eval_new(in->runtime);
		unsigned np = bank == TPM2_ALG_SHA1_ID ? 8 : 10;
		size_t dl = ima_alg_size(bank), vl;
		uint8_t pcrs[10 * 64], agg[64];
		unsigned i;
		for (i = 0; i < np; i++) {
			const uint8_t *v = quote_pcr_value(st->q, bank, i, &vl);
			if (v == NULL || vl != dl)
				break;
			memcpy(pcrs + i * dl, v, dl);
		}
		if (i == np && ima_boot_aggregate(bank, pcrs, np * dl, agg) == 0)
			runtime_policy_eval_add_boot_aggregate(st->rt_eval, agg, dl);
	}
	runtime_policy_eval_begin(st->rt_eval);
	/* The list's lines end in "\n" escapes: unescaped once, into the buffer the replay
	 * reads (a tree parser copied it twice). */
	answer_text(ans, ANSWER_IMA_LIST, &list);
	report_ima_cb_t cb = {st->rt_eval, in->report};
	ima_replay(st->ima, (const char *)list.data, list.len, first, pcr10, pcr10_len,
	           runtime_policy_log_hash_alg(in->runtime), report_ima_check_entry, &cb, &rr);
	buf_free(&list);
	/* A failing entry is named only when it is what the round failed for. */
	if (in->report && rr.status != IMA_OK && rr.status != IMA_ERR_POLICY)
		in->report->ima_has_entry = 0;
	/* On success the state's next entry is the first one the quote does not cover. */
	runtime_policy_eval_commit(st->rt_eval,
	                           rr.status == IMA_OK ? ima_state_next_entry(st->ima) : 0);
	if (rr.status != IMA_OK)
		return attest_failf(out,
		                    rr.failure.event_id[0] ? rr.failure.event_id : "ima.replay",
		                    "%s", rr.failure.reason);
	return 0;
}

int attest_check(const attest_input_t *in, attest_state_t *st, const uint8_t *body, size_t len,
                 attest_out_t *out)
{
	answer_t ans;
	buf_t quote_text = BUF_INIT, pubkey_text = BUF_INIT;
	const char *quote, *pubkey = NULL;
	/* Algorithm names are short: a longer one is cut here and cannot be accepted. */
	char hash_alg[64], sign_alg[64];
	long hash_len, sign_len;
	size_t quote_len = 0;
	uint16_t bank;
	err_t e = {""};
	quote_status_t qs;
	quote_clock_t clock;
	attest_lookup_t lk;
	const char *pe;
	int rv = -1;

	memset(out, 0, sizeof(*out));
	out->report = in->report;
	if (answer_scan(&ans, body, len, &e) < 0 || !ans.has_results) {
		attest_failf(out, "quote_validation.response",
		             "the agent's answer is not a Keylime quote response: %s",
		             e.msg[0] ? e.msg : "no results object");
		goto out;
	}
	quote = answer_bytes(&ans, ANSWER_QUOTE, &quote_text, &quote_len);
	hash_len = answer_copy(&ans, ANSWER_HASH_ALG, hash_alg, sizeof(hash_alg));
	sign_len = answer_copy(&ans, ANSWER_SIGN_ALG, sign_alg, sizeof(sign_alg));
	if (answer_text(&ans, ANSWER_PUBKEY, &pubkey_text) == 0)
		pubkey = (const char *)pubkey_text.data;
	if (quote == NULL || hash_len < 0 || sign_len < 0) {
		attest_failf(out, "quote_validation.response",
		             "the quote response lacks quote, hash_alg or sign_alg");
		goto out;
	}
	if ((size_t)hash_len >= sizeof(hash_alg) || !attest_list_has(in->accept_hash, hash_alg) ||
	    (bank = tpm2_alg_from_name(hash_alg)) == 0) {
		attest_failf(out, "quote_validation.hash_algorithm",
		             "hash algorithm %.32s is not accepted (accepted: %s)", hash_alg,
		             in->accept_hash);
		goto out;
	}
	if ((size_t)sign_len >= sizeof(sign_alg) || !attest_list_has(in->accept_sign, sign_alg)) {
		attest_failf(out, "quote_validation.signature_algorithm",
		             "signature scheme %.32s is not accepted (accepted: %s)", sign_alg,
		             in->accept_sign);
		goto out;
	}
	if (pubkey && pubkey_text.len > ATTEST_PUBKEY_MAX) {
		/* The key is cached for the node's life and hashed every round: bound it. */
		attest_failf(out, "quote_validation.response",
		             "the payload public key is %zu bytes, over the %d byte limit",
		             pubkey_text.len, ATTEST_PUBKEY_MAX);
		goto out;
	}
	if (pubkey == NULL && st->pubkey == NULL) {
		attest_failf(out, "quote_validation.no_pubkey",
		             "the agent sent no payload public key and none is cached");
		goto out;
	}
	if ((qs = quote_decode(st->q, quote, quote_len, &e)) != QUOTE_OK ||
	    (qs = quote_verify(st->q, st->ak, bank, in->nonce, strlen(in->nonce), &e)) !=
	        QUOTE_OK) {
		attest_failf(out, quote_status_event(qs), "%s", e.msg);
		goto out;
	}
	pe = pubkey ? pubkey : st->pubkey;
	if ((qs = quote_check_pcr16(st->q, bank, pe, strlen(pe), &e)) != QUOTE_OK) {
		attest_failf(out, quote_status_event(qs), "%s", e.msg);
		goto out;
	}
	if ((qs = quote_check_clock(st->q, st->has_clock ? &st->clock : NULL, &e)) != QUOTE_OK) {
		attest_failf(out, quote_status_event(qs), "%s", e.msg);
		goto out;
	}
	quote_clock_info(st->q, &clock);
	if (st->has_clock && clock.reset_count != st->clock.reset_count) {
		/* The TPM was reset: the node rebooted. Its IMA list and UEFI log are new;
		 * entries asked for by position in the old list mean nothing in the new one. */
		/* The clock reference moves only when this round passes; until then each
		 * round of the new boot lands here, and the logs start over only once. */
		if (!st->reboot_seen || st->reboot_reset != clock.reset_count) {
			log_info("node %s: rebooted (TPM reset count %u -> %u); replaying its IMA "
			         "list from the start",
			         in->uuid, st->clock.reset_count, clock.reset_count);
			st->reboot_seen = 1;
			st->reboot_reset = clock.reset_count;
			out->rebooted = 1;
			out->reset_from = st->clock.reset_count;
			out->reset_to = clock.reset_count;
			st->mb_pcrs_mask = 0;
			if (st->ima)
				ima_state_reset(st->ima, ima_state_bank(st->ima));
			if (st->rt_eval)
				runtime_policy_eval_reset(st->rt_eval);
		}
		if (in->runtime && ans.entry_is_integer && ans.entry != 0) {
			rv = 1; /* ask again, from entry 0 */
			goto out;
		}
	}
	lk.q = st->q;
	lk.bank = bank;
	if (in->report) {
		/* The quote verified: its PCRs are evidence worth reporting, whatever the
		 * policies say of them. A check not reached stays "skipped". */
		report_round_pcrs(in->report, st->q, bank, in->pcr);
		in->report->mb =
		    in->mb && !mb_policy_is_empty(in->mb) ? REPORT_SKIPPED : REPORT_NONE;
		in->report->ima = in->runtime ? REPORT_SKIPPED : REPORT_NONE;
	}
	if (in->pcr) {
		const char *id = NULL;
		if (pcr_policy_check(in->pcr, attest_pcr, &lk, &id, &e) < 0) {
			if (in->report)
				report_round_pcr_failed(in->report, in->pcr);
			attest_failf(out, id, "%s", e.msg);
			goto out;
		}
	}
	if (in->mb && !mb_policy_is_empty(in->mb)) {
		int mrv = attest_mb(in, st, &ans, bank, out);
		if (in->report) {
			in->report->mb = mrv < 0 ? REPORT_FAIL : REPORT_PASS;
			if (mrv < 0)
				snprintf(in->report->mb_fail, sizeof(in->report->mb_fail), "%s",
				         out->reason);
		}
		if (mrv < 0)
			goto out;
	}
	if (in->runtime) {
		int irv = attest_ima(in, st, &ans, bank, clock.reset_count, out);
		if (in->report) {
			in->report->ima = irv < 0 ? REPORT_FAIL : REPORT_PASS;
			if (irv < 0)
				snprintf(in->report->ima_reason, sizeof(in->report->ima_reason),
				         "%.*s", (int)sizeof(in->report->ima_reason) - 1,
				         out->reason);
		}
		if (irv < 0)
			goto out;
	}
	/* Everything passed: keep what the next round compares against. */
	st->clock = clock;
	st->has_clock = 1;
	st->reboot_seen = 0;
	if (pubkey && (st->pubkey == NULL || strcmp(st->pubkey, pubkey) != 0)) {
		free(st->pubkey);
		st->pubkey = xstrdup(pubkey);
	}
	snprintf(out->hash_alg, sizeof(out->hash_alg), "%.15s", hash_alg);
	snprintf(out->sign_alg, sizeof(out->sign_alg), "%.15s", sign_alg);
	rv = 0;
out:
	/* Nothing reads the quote after the round: its buffers are not kept per node. */
	quote_release(st->q);
	buf_free(&quote_text);
	buf_free(&pubkey_text);
	return rv;
}

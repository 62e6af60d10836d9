/* test_verifier_report: what a node keeps of its last judged round for GetReport and
 * AttestNow (verifier/report.c): the quoted PCRs come back as hex with their policy marks,
 * failure details are kept only while the node fails, a round that did not reach the
 * checks changes nothing, and the PCR policy is judged PCR by PCR. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/crypto/tpm2.h"
#include "common/policy/pcr_policy.h"
#include "verifier/report.h"

int main(void);

/* A round that reached the checks: PCRs 0, 10 and 15 of sha256 quoted, PCR 15 under the
 * policy, refused when bad15. */
static void round_fill(report_round_t *r, int bad15)
{
	report_round_init(r);
	r->reached = 1;
	r->bank = TPM2_ALG_SHA256_ID;
	r->dlen = 32;
	r->quoted = (1u << 0) | (1u << 10) | (1u << 15);
	r->in_policy = 1u << 15;
	r->bad = bad15 ? 1u << 15 : 0;
	memset(r->value[0], 0x00, 32);
	memset(r->value[10], 0xab, 32);
	memset(r->value[15], 0x0f, 32);
	r->mb = REPORT_NONE;
	r->ima = REPORT_PASS;
}

static void test_pass_round(void **state)
{
	report_round_t r;
	report_ev_t *ev = NULL;
	report_snap_t s;
	char want[65];

	(void)state;
	round_fill(&r, 0);
	report_publish(&ev, &r, 1);
	assert_non_null(ev);
	report_snap_take(ev, &s);
	assert_true(s.has);
	assert_true(s.time_ms > 0);
	assert_string_equal(s.bank, "sha256");
	assert_int_equal(s.clock_safe, 1);
	assert_int_equal(s.n_pcrs, 3);
	assert_int_equal(s.pcrs[0].index, 0);
	assert_int_equal(s.pcrs[1].index, 10);
	assert_int_equal(s.pcrs[2].index, 15);
	for (int i = 0; i < 32; i++)
		snprintf(want + 2 * i, 3, "ab");
	assert_string_equal(s.pcrs[1].value, want);
	assert_false(s.pcrs[1].in_policy);
	assert_true(s.pcrs[1].ok);
	assert_true(s.pcrs[2].in_policy);
	assert_true(s.pcrs[2].ok);
	assert_int_equal(s.mb, REPORT_NONE);
	assert_int_equal(s.ima, REPORT_PASS);
	assert_null(s.mb_fail);
	assert_null(s.ima_path);
	/* Compact: a header and 3 raw digests, no hex, nothing for failures. */
	assert_true(report_ev_size(ev) <= 64 + 3 * 32);
	report_snap_clear(&s);
	report_ev_free(ev);
}

static void test_fail_then_pass(void **state)
{
	report_round_t r;
	report_ev_t *ev = NULL;
	report_snap_t s;
	size_t passing;

	(void)state;
	round_fill(&r, 0);
	report_publish(&ev, &r, 1);
	passing = report_ev_size(ev);
	/* A failing round: PCR 15 refused, IMA failed on one entry. */
	round_fill(&r, 1);
	r.ima = REPORT_FAIL;
	r.ima_has_entry = 1;
	r.ima_entry = 826;
	snprintf(r.ima_path, sizeof(r.ima_path), "/usr/bin/evil-miner");
	snprintf(r.ima_digest, sizeof(r.ima_digest), "sha256:%064d", 0);
	snprintf(r.ima_reason, sizeof(r.ima_reason), "not in the allowlist");
	report_publish(&ev, &r, 0);
	report_snap_take(ev, &s);
	assert_false(s.pcrs[2].ok);
	assert_int_equal(s.ima, REPORT_FAIL);
	assert_int_equal(s.ima_has_entry, 1);
	assert_int_equal(s.ima_entry, 826);
	assert_string_equal(s.ima_path, "/usr/bin/evil-miner");
	assert_string_equal(s.ima_reason, "not in the allowlist");
	assert_int_equal(s.clock_safe, 0);
	assert_true(report_ev_size(ev) > passing);
	report_snap_clear(&s);
	/* A round that did not reach the checks changes nothing. */
	report_round_init(&r);
	report_publish(&ev, &r, 1);
	report_snap_take(ev, &s);
	assert_int_equal(s.ima, REPORT_FAIL);
	report_snap_clear(&s);
	/* The next pass frees the failure details. */
	round_fill(&r, 0);
	report_publish(&ev, &r, 1);
	assert_int_equal(report_ev_size(ev), passing);
	report_snap_take(ev, &s);
	assert_null(s.ima_path);
	assert_int_equal(s.ima, REPORT_PASS);
	report_snap_clear(&s);
	report_ev_free(ev);
}

static void test_quoted_set_changes(void **state)
{
	report_round_t r;
	report_ev_t *ev = NULL;
	report_snap_t s;

	(void)state;
	round_fill(&r, 0);
	report_publish(&ev, &r, 1);
	/* Fewer PCRs, and PCR 15 named by the policy but not quoted: listed, not ok. */
	r.quoted = 1u << 10;
	r.bad = 1u << 15;
	report_publish(&ev, &r, 1);
	report_snap_take(ev, &s);
	assert_int_equal(s.n_pcrs, 2);
	assert_int_equal(s.pcrs[0].index, 10);
	assert_int_equal(s.pcrs[1].index, 15);
	assert_string_equal(s.pcrs[1].value, "");
	assert_true(s.pcrs[1].in_policy);
	assert_false(s.pcrs[1].ok);
	report_snap_clear(&s);
	report_ev_free(ev);
	/* No report yet. */
	report_snap_take(NULL, &s);
	assert_false(s.has);
	assert_int_equal(s.n_pcrs, 0);
	report_snap_clear(&s);
	report_ev_free(NULL);
}

static void test_result_names(void **state)
{
	(void)state;
	assert_string_equal(report_result_name(REPORT_NONE), "none");
	assert_string_equal(report_result_name(REPORT_PASS), "pass");
	assert_string_equal(report_result_name(REPORT_FAIL), "fail");
	assert_string_equal(report_result_name(REPORT_SKIPPED), "skipped");
}

static void test_pcr_policy_allows(void **state)
{
	static const char json[] =
	    "{\"15\": [\"0000000000000000000000000000000000000000000000000000000000000000\", "
	    "\"1111111111111111111111111111111111111111111111111111111111111111\"]}";
	uint8_t zero[32], ones[32], other[32];
	err_t e = {""};
	pcr_policy_t *p = pcr_policy_parse(json, strlen(json), &e);

	(void)state;
	assert_non_null(p);
	memset(zero, 0, sizeof(zero));
	memset(ones, 0x11, sizeof(ones));
	memset(other, 0x22, sizeof(other));
	assert_true(pcr_policy_allows(p, 15, zero, 32));
	assert_true(pcr_policy_allows(p, 15, ones, 32));
	assert_false(pcr_policy_allows(p, 15, other, 32));
	assert_false(pcr_policy_allows(p, 15, zero, 20)); /* another bank's size */
	assert_true(pcr_policy_allows(p, 7, other, 32));  /* not named */
	assert_true(pcr_policy_allows(NULL, 15, other, 32));
	assert_true(pcr_policy_allows(p, 99, other, 32));
	pcr_policy_free(p);
}

/* A failed PCR policy marks exactly the PCRs it refuses, and a named PCR not quoted. */
static void test_pcr_failed(void **state)
{
	static const char json[] =
	    "{\"15\": [\"0000000000000000000000000000000000000000000000000000000000000000\"], "
	    "\"7\": [\"0000000000000000000000000000000000000000000000000000000000000000\"]}";
	err_t e = {""};
	pcr_policy_t *p = pcr_policy_parse(json, strlen(json), &e);
	report_round_t r;

	(void)state;
	assert_non_null(p);
	round_fill(&r, 0);
	r.in_policy = (1u << 7) | (1u << 15);
	report_round_pcr_failed(&r, p); /* PCR 15 is 0x0f...: refused; PCR 7 not quoted */
	assert_int_equal(r.bad, (1u << 7) | (1u << 15));
	round_fill(&r, 0);
	r.in_policy = 1u << 15;
	memset(r.value[15], 0x00, 32);
	report_round_pcr_failed(&r, p); /* every named PCR quoted and allowed */
	assert_int_equal(r.bad, 0);
	pcr_policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pass_round),         cmocka_unit_test(test_fail_then_pass),
	    cmocka_unit_test(test_quoted_set_changes), cmocka_unit_test(test_result_names),
	    cmocka_unit_test(test_pcr_policy_allows),  cmocka_unit_test(test_pcr_failed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* verdict_ear: how a verdict maps to an EAR appraisal, and that the token it signs
 * verifies with the verifier's key and carries that appraisal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/crypto/ear.h"
#include "common/crypto/pki.h"
#include "verifier/vctx.h"
#include "verifier/verdict_ear.h"

static const ear_policy_ref_t all_policies[] = {
    {"pcr", "boot", "aa"},
    {"runtime", "ima", "bb"},
    {"mb", "uefi", "cc"},
};

static verdict_ear_t verdict(const char *status, const char *event_id, size_t n_policies)
{
	verdict_ear_t v = {"n1", status, event_id, 1700000000, 3, 0, all_policies, n_policies};
	return v;
}

static int tv(const ear_node_t *n, ear_tv_claim_t c)
{
	return (n->tv_set & (1u << c)) ? n->tv[c] : -1000; /* -1000: left out */
}

static void test_pass(void **state)
{
	verdict_ear_t v = verdict("PASS", "", 3);
	ear_node_t n;

	(void)state;
	verdict_ear_node(&v, &n);
	assert_int_equal(n.status, EAR_AFFIRMING);
	assert_int_equal(tv(&n, EAR_TV_INSTANCE_IDENTITY), EAR_II_RECOGNIZED);
	assert_int_equal(tv(&n, EAR_TV_CONFIGURATION), EAR_CFG_APPROVED);
	assert_int_equal(tv(&n, EAR_TV_EXECUTABLES), EAR_EXE_APPROVED_RT);
	assert_int_equal(tv(&n, EAR_TV_FILE_SYSTEM), EAR_FS_APPROVED);
	assert_int_equal(tv(&n, EAR_TV_HARDWARE), -1000); /* EK chain not known here */
	v.ek_checked = 1;
	verdict_ear_node(&v, &n);
	assert_int_equal(tv(&n, EAR_TV_HARDWARE), EAR_HW_GENUINE);
	/* Only a PCR policy: boot-time executables, no file-system claim. */
	v = verdict("PASS", NULL, 1);
	verdict_ear_node(&v, &n);
	assert_int_equal(tv(&n, EAR_TV_EXECUTABLES), EAR_EXE_APPROVED_BOOT);
	assert_int_equal(tv(&n, EAR_TV_FILE_SYSTEM), -1000);
	/* No policy at all: only the AK speaks. */
	v = verdict("PASS", NULL, 0);
	verdict_ear_node(&v, &n);
	assert_int_equal(n.tv_set, 1u << EAR_TV_INSTANCE_IDENTITY);
}

static void test_fail(void **state)
{
	static const struct {
		const char *id;
		ear_tv_claim_t claim;
		int value;
	} cases[] = {
	    {"quote_validation.signature", EAR_TV_INSTANCE_IDENTITY, EAR_CRYPTO_FAILED},
	    {"quote_validation.nonce", EAR_TV_INSTANCE_IDENTITY, EAR_CRYPTO_FAILED},
	    {"quote_validation.format", EAR_TV_INSTANCE_IDENTITY, EAR_UNEXPECTED_EVIDENCE},
	    {"pcr_validation.invalid_pcr_7", EAR_TV_CONFIGURATION, EAR_CFG_UNSUPPORTABLE},
	    {"measured_boot.policy", EAR_TV_CONFIGURATION, EAR_CFG_UNSUPPORTABLE},
	    {"ima.validation.ima_hash", EAR_TV_EXECUTABLES, EAR_EXE_CONTRAINDICATED},
	    {"ima.validation.ima_hash", EAR_TV_FILE_SYSTEM, EAR_FS_CONTRAINDICATED},
	    {"ima.pcr_mismatch", EAR_TV_EXECUTABLES, EAR_EXE_CONTRAINDICATED},
	    {"ima.internal", EAR_TV_EXECUTABLES, EAR_VERIFIER_MALFUNCTION},
	};
	ear_node_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		verdict_ear_t v = verdict("FAIL", cases[i].id, 3);

		verdict_ear_node(&v, &n);
		assert_int_equal(n.status, EAR_CONTRAINDICATED);
		assert_int_equal(tv(&n, cases[i].claim), cases[i].value);
	}
}

static void test_no_verdict(void **state)
{
	const char *ids[] = {"comm_error", "", NULL};
	ear_node_t n;

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		verdict_ear_t v = verdict("FAIL", ids[i], 3);

		verdict_ear_node(&v, &n);
		assert_int_equal(n.status, EAR_NONE);
		assert_int_equal(n.tv_set, 0);
	}
	verdict_ear_t v = verdict("PENDING", NULL, 3);
	verdict_ear_node(&v, &n);
	assert_int_equal(n.status, EAR_NONE);
}

static void test_sign(void **state)
{
	vctx_t ctx;
	verdict_ear_t v = verdict("FAIL", "ima.validation.ima_hash", 3);
	ear_window_t w = {0, 0, 60};
	ear_format_t fmts[] = {EAR_FORMAT_JWT, EAR_FORMAT_CWT};
	err_t e = {""};

	(void)state;
	memset(&ctx, 0, sizeof(ctx));
	ctx.verifier_id = (char *)"v1";
	assert_int_equal(verdict_ear_sign(&ctx, &v, EAR_FORMAT_JWT, &(buf_t)BUF_INIT, &e), -1);
	assert_non_null(strstr(e.msg, "no attestation-result key"));
	ctx.report_key = pki_key_new(PKI_KEY_EC256);
	w.now = (int64_t)time(NULL);
	for (size_t i = 0; i < 2; i++) {
		buf_t tok = BUF_INIT;
		json_t *claims = NULL;
		ear_format_t got;

		assert_int_equal(verdict_ear_sign(&ctx, &v, fmts[i], &tok, &e), 0);
		assert_int_equal(
		    ear_verify(tok.data, tok.len, ctx.report_key, &w, &claims, &got, &e), EAR_OK);
		assert_int_equal(got, fmts[i]);
		json_t *a = json_object_get(json_object_get(claims, "submods"), "n1");
		assert_string_equal(json_string_value(json_object_get(a, "ear.status")),
		                    "contraindicated");
		assert_string_equal(json_string_value(json_object_get(
		                        json_object_get(claims, "ear.verifier-id"), "build")),
		                    "vigil-verifier v1");
		json_decref(claims);
		buf_free(&tok);
	}
	EVP_PKEY_free(ctx.report_key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pass),
	    cmocka_unit_test(test_fail),
	    cmocka_unit_test(test_no_verdict),
	    cmocka_unit_test(test_sign),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* answer_ref: the tree parser the verifier read agents' answers with before
 * verifier/answer.c (jansson, JSON_REJECT_DUPLICATES), and a comparison of the two on one
 * body. Shared by test_verifier_answer (recorded and hostile answers) and the
 * fuzz_verifier_answer_scan target, so any input on which they disagree is a finding. */
#ifndef VIGIL_TEST_ANSWER_REF_H
#define VIGIL_TEST_ANSWER_REF_H

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "verifier/answer.h"

/* 0 when answer_scan and jansson agree on body: both refuse it, or both take it with the
 * same results object, the same string fields and the same integer entry (or jansson
 * takes a body with a raw NUL byte, see below, which answer_scan refuses). Else 1, with
 * what differs in why. */
static inline int answer_ref_diff(const uint8_t *body, size_t len, char *why, size_t size)
{
	json_error_t je;
	json_t *root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &je);
	json_t *res = json_object_get(root, "results");
	answer_t a;
	err_t e = {""};
	buf_t text = BUF_INIT;
	int got = answer_scan(&a, body, len, &e), rv = 1;

	/* One known difference, where answer_scan is the stricter: jansson drops a raw NUL
	 * byte that follows a number or a word ({"a": 5<NUL>}), which no JSON may hold. */
	if (root != NULL && got < 0 && memchr(body, '\0', len) != NULL) {
		rv = 0;
		goto out;
	}
	if ((root == NULL) != (got < 0)) {
		snprintf(why, size, "jansson %s (%s), answer_scan %s (%s)",
		         root ? "takes it" : "refuses it", root ? "" : je.text,
		         got < 0 ? "refuses it" : "takes it", e.msg);
		goto out;
	}
	if (root == NULL) {
		rv = 0;
		goto out;
	}
	if (json_is_object(res) != a.has_results) {
		snprintf(why, size, "results object: jansson %d, answer_scan %d",
		         json_is_object(res), a.has_results);
		goto out;
	}
	for (int f = 0; f < ANSWER_NFIELDS && a.has_results; f++) {
		static const char *const names[ANSWER_NFIELDS] = {"quote",
		                                                  "hash_alg",
		                                                  "sign_alg",
		                                                  "pubkey",
		                                                  "ima_measurement_list",
		                                                  "mb_measurement_list"};
		json_t *v = json_object_get(res, names[f]);
		int have = answer_text(&a, (answer_field_t)f, &text) == 0;
		if (json_is_string(v) != have ||
		    (have && (json_string_length(v) != text.len ||
		              memcmp(json_string_value(v), text.data, text.len) != 0))) {
			snprintf(why, size, "field %s differs", names[f]);
			goto out;
		}
	}
	if (a.has_results) {
		json_t *v = json_object_get(res, "ima_measurement_list_entry");
		if (json_is_integer(v) != a.entry_is_integer ||
		    (a.entry_is_integer && json_integer_value(v) != a.entry)) {
			snprintf(why, size, "ima_measurement_list_entry differs");
			goto out;
		}
	}
	rv = 0;
out:
	buf_free(&text);
	json_decref(root);
	return rv;
}

#endif

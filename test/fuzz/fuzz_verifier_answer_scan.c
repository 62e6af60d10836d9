/* Fuzz target: verifier/answer.c, the one-pass reader of an agent's quote answer, held
 * against the tree parser it replaced (jansson with JSON_REJECT_DUPLICATES, in
 * test/unit/answer_ref.h): any input that one refuses and the other takes, or on which
 * they read a different field, aborts. The corpus is real answers (the verifier_answer
 * corpus's) and hostile JSON: duplicates behind escapes, bad escapes and UTF-8, numbers
 * out of range, deep nesting, trailing bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "test/unit/answer_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[512];

	if (answer_ref_diff(data, size, why, sizeof(why)) != 0) {
		fprintf(stderr, "answer_scan and jansson disagree: %s\n", why);
		abort();
	}
	return 0;
}

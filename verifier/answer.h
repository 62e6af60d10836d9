/* answer: the agent's answer to a quote request (docs/wire.md §2.2), read in one pass over
 * the body without building a JSON tree. The whole body is checked as strictly as jansson
 * checks it with JSON_REJECT_DUPLICATES (UTF-8, escapes, no \u0000, numbers in range,
 * no duplicate key in any object, nesting depth, nothing after the document), but only
 * the fields of "results" that attest reads are kept, as spans into the body: the large
 * ones (the IMA list, the UEFI log) are handed to their parsers from there, unescaped only
 * when they hold escapes. */
#ifndef VIGIL_VERIFIER_ANSWER_H
#define VIGIL_VERIFIER_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/buf.h"
#include "common/base/err.h"

/* The string fields of "results" that attest reads. */
typedef enum answer_field {
	ANSWER_QUOTE,
	ANSWER_HASH_ALG,
	ANSWER_SIGN_ALG,
	ANSWER_PUBKEY,
	ANSWER_IMA_LIST,
	ANSWER_MB_LIST,
	ANSWER_NFIELDS
} answer_field_t;

/* A string value as it stands in the body, between its quotes. */
typedef struct answer_span {
	const char *raw; /* borrowed from the body; NULL: absent or not a string */
	size_t len;      /* bytes at raw */
	int escaped;     /* 1: holds backslash escapes (its text differs from its bytes) */
} answer_span_t;

typedef struct answer {
	int has_results;                     /* "results" is an object */
	answer_span_t field[ANSWER_NFIELDS]; /* results' string fields */
	int entry_is_integer;                /* results.ima_measurement_list_entry is one */
	long long entry;                     /* its value */
} answer_t;

/* Scan body (len bytes, borrowed: a's spans point into it). 0 when body is one valid
 * JSON document (a->has_results then says whether it has a results object), -1 when it
 * is not (e says where and why). */
int answer_scan(answer_t *a, const uint8_t *body, size_t len, err_t *e);

/* The text of field f: its bytes themselves when it has no escapes, else unescaped into
 * scratch (replaced). NULL when the field is absent. Not NUL-terminated when borrowed. */
const char *answer_bytes(const answer_t *a, answer_field_t f, buf_t *scratch, size_t *len);

/* The text of field f unescaped into out (replaced, NUL-terminated). -1 when absent. */
int answer_text(const answer_t *a, answer_field_t f, buf_t *out);

/* The text of field f into dst (cap > 0 bytes, NUL-terminated, cut to fit). Returns the
 * text's whole length (as snprintf does), or -1 when absent. */
long answer_copy(const answer_t *a, answer_field_t f, char *dst, size_t cap);

#endif

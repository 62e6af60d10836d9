/* quotes: the agent's quote endpoints (docs/wire.md §2.1-2.4):
 *   GET /v{ver}/quotes/integrity?nonce=N&mask=M&partial=P[&ima_ml_entry=E]
 *   GET /v{ver}/quotes/identity?nonce=N
 * The query parser and the IMA list slicing are plain functions (unit tested, fuzzed);
 * quotes_t does the TPM work and builds the `results` object, reusing its buffers from
 * one request to the next. Not thread-safe: the agent's single event loop serializes
 * requests, and with them every TPM command. */
#ifndef VIGIL_AGENT_QUOTES_H
#define VIGIL_AGENT_QUOTES_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "agent/tpm.h"
#include "common/base/err.h"

#define QUOTES_NONCE_MAX 64               /* TPM2B_DATA qualifyingData limit */
#define QUOTES_QUERY_MAX 4096             /* longest query string parsed */
#define QUOTES_ENTRY_MAX 1000000000000ull /* largest ima_ml_entry accepted */
#define QUOTES_PCR16     16               /* PCR bound to the payload key */
#define QUOTES_PCR_MASK  0xffffffu        /* PCRs 0..23 */

typedef enum quotes_kind {
	QUOTES_INTEGRITY, /* nonce, mask, partial required; ima_ml_entry optional */
	QUOTES_IDENTITY,  /* nonce only (other parameters ignored) */
} quotes_kind_t;

/* A parsed quote request. */
typedef struct quotes_query {
	char nonce[QUOTES_NONCE_MAX + 1]; /* [A-Za-z0-9]{1,64}, NUL-terminated */
	size_t nonce_len;                 /* strlen(nonce) */
	uint32_t mask;                    /* PCRs asked for (bits 0..23); 0 for identity */
	int partial;                      /* 1: leave pubkey out */
	int has_entry;                    /* ima_ml_entry was given */
	uint64_t ima_ml_entry;            /* first IMA line wanted (0 when not given) */
} quotes_query_t;

/* Parse the raw query string (without '?'; NULL or "" is an empty query), strictly:
 * '&'-separated name=value pairs; a known name twice, a known name without '=', a value
 * outside its grammar is an error; unknown names are ignored (as the Rust agent does).
 * Values are not percent-decoded: none of the grammars admits '%' or '+'.
 *   nonce         [A-Za-z0-9]{1,64}
 *   mask          optional 0x/0X, then 1..16 hex digits, value within PCRs 0..23
 *   partial       "0" or "1"
 *   ima_ml_entry  decimal digits, at most QUOTES_ENTRY_MAX
 * 0, or -1 with the reason in e (the agent answers it with 400). */
int quotes_query_parse(const char *qs, quotes_kind_t kind, quotes_query_t *q, err_t *e);

/* Where the IMA list text (len bytes) from entry `entry` on starts. A line is a run of
 * bytes ended by '\n' or by the end of the text. entry past the number of lines restarts
 * at 0; entry equal to it gives the end (an empty list). *started gets the entry actually
 * started at. Returns the byte offset. */
size_t quotes_ima_slice(const char *text, size_t len, uint64_t entry, uint64_t *started);

typedef struct quotes quotes_t;

typedef struct quotes_opts {
	tpm_t *tpm;             /* the TPM (borrowed) */
	const char *pubkey_pem; /* payload key SubjectPublicKeyInfo PEM (borrowed, NUL-ended) */
	const char *ima_log;    /* IMA ascii measurement list; "" for none */
	const char *event_log;  /* binary UEFI event log; "" for none */
	size_t ima_max;         /* largest IMA list read, bytes */
	size_t event_max;       /* largest event log read, bytes */
	int logs_pinned;        /* 0: open ima_log and event_log for each answer; 1: read
	                           ima_fd and event_fd instead (opened before a privilege
	                           drop; -1: was not readable) */
	int ima_fd;             /* the IMA list, borrowed (logs_pinned) */
	int event_fd;           /* the UEFI event log, borrowed (logs_pinned) */
} quotes_opts_t;

/* The options and what they point to must outlive the result. Never NULL. */
quotes_t *quotes_new(const quotes_opts_t *o);
void quotes_free(quotes_t *qs);

/* Answer one parsed request for API 2.minor: reset PCR 16, extend it with H(pubkey PEM),
 * quote mask | PCR 16 of the SHA-256 bank (retried until the PCRs read hash to the
 * quoted digest), then read the event log (integrity with PCR 0) and the IMA list
 * (integrity). Returns the `results` object, or NULL with the reason in e (a TPM failure:
 * the agent answers 500). */
json_t *quotes_answer(quotes_t *qs, quotes_kind_t kind, const quotes_query_t *q, int minor,
                      err_t *e);

#endif

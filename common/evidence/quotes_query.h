/* quotes_query: the agent API's quote request (docs/wire.md §2.1):
 *   GET /v{ver}/quotes/integrity?nonce=N&mask=M&partial=P[&ima_ml_entry=E]
 *   GET /v{ver}/quotes/identity?nonce=N
 * its strict query grammar, and where an IMA list answer starts. Plain functions (unit
 * tested, fuzzed), shared by everything that answers quote requests: vigil-agent and the
 * load generator's simulated agents. */
#ifndef VIGIL_QUOTES_QUERY_H
#define VIGIL_QUOTES_QUERY_H

#include <stddef.h>
#include <stdint.h>

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

#endif

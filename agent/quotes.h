/* quotes: the agent's quote endpoints (docs/wire.md §2.1-2.4):
 *   GET /v{ver}/quotes/integrity?nonce=N&mask=M&partial=P[&ima_ml_entry=E]
 *   GET /v{ver}/quotes/identity?nonce=N
 * The query parser and the IMA list slicing are in common/evidence/quotes_query.h;
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
#include "common/evidence/quotes_query.h"

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

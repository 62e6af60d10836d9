/* audit: the verifiable audit trail of the verifier's event log, in one place for the
 * store (which hashes records as it appends them), the verifier (which seals) and vigilctl
 * (which verifies offline).
 *
 * A record's canonical bytes are
 *     prev_hash "\n" seq "\n" time "\n" len(node) ":" node len(type) ":" type
 *     len(severity) ":" severity len(body) ":" body
 * (numbers in decimal, NULL strings as empty, lengths in bytes), and its hash is the
 * lowercase hex SHA-256 of them: each record carries the previous one's hash, so an edit,
 * a removal or a reordering anywhere breaks the chain from there on.
 *
 * A seal signs the chain up to record seq with the verifier's audit key (ECDSA P-256,
 * SHA-256) over the canonical seal bytes
 *     "vigil-audit-seal-v1\n" seq "\n" hash "\n" time "\n" key_id "\n"
 * so that a rewritten log, however consistent its hashes, no longer matches a seal.
 *
 * The export is JSON lines: one header {"kind":"header","format":"vigil-audit-export",
 * "version":1,"key":PEM,"key_id":...,"exported":ms}, then every record
 * {"kind":"record","seq":..,"id":..,"time":..,"node_uuid":..,"type":..,"severity":..,
 * "body":..,"prev_hash":..,"hash":..} in seq order, each seal {"kind":"seal","seq":..,
 * "hash":..,"time":..,"key_id":..,"sig":..} right after the record it covers. */
#ifndef VIGIL_AUDIT_H
#define VIGIL_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "common/base/buf.h"
#include "common/base/err.h"
#include "common/store/store.h"

#define AUDIT_EXPORT_LINE_MAX (1u << 20) /* longest line of an export, bytes */
#define AUDIT_EXPORT_MAX      (1u << 30) /* largest export read, bytes */

/* Append the canonical bytes of a record to out. NULL node/severity count as "". */
void audit_record_canonical(const char *prev_hash, int64_t seq, int64_t time, const char *node,
                            const char *type, const char *severity, const char *body, buf_t *out);
/* The hex SHA-256 of those bytes into out[65]. */
void audit_record_hash(const char *prev_hash, int64_t seq, int64_t time, const char *node,
                       const char *type, const char *severity, const char *body, char out[65]);
/* The hash of ev's content as it claims it (with its own prev_hash). */
void audit_event_hash(const store_event_t *ev, char out[65]);
/* The public id of record seq with hash: "<seq>-<hash's first 16 hex digits>". */
void audit_event_id(int64_t seq, const char *hash, char out[40]);

/* Append the canonical bytes of a seal (seq, hash, time, key_id) to out. */
void audit_seal_canonical(const store_seal_t *s, buf_t *out);
/* hex SHA-256 of pk's DER SubjectPublicKeyInfo into out[65]. 0 or -1. */
int audit_key_id(EVP_PKEY *pk, char out[65]);
/* Sign s (seq, hash, time set) with key: sets s->key_id and s->sig (caller frees). 0 or
 * -1 (e says why). */
int audit_seal_sign(EVP_PKEY *key, store_seal_t *s, err_t *e);
/* 0 when s->sig is key's signature of s; -1 (e says why) otherwise. */
int audit_seal_verify(EVP_PKEY *key, const store_seal_t *s, err_t *e);

/* The audit key: load the ECDSA P-256 private key at path, or, when there is no file,
 * generate one and write it there (PEM, mode 0600, through statefile_write). *created
 * says which. NULL (e says why) on error. */
EVP_PKEY *audit_key_load_or_create(const char *path, int *created, err_t *e);
/* The public half of key as PEM (caller frees). */
char *audit_key_public_pem(EVP_PKEY *key);
/* A public key from PEM text; it must be EC P-256. NULL (e says why) otherwise. */
EVP_PKEY *audit_key_from_pem(const char *pem, size_t len, err_t *e);

/* ---- export ---- */

/* Append one line (with '\n') to out. */
void audit_export_header(const char *key_pem, const char *key_id, int64_t now_ms, buf_t *out);
void audit_export_record(const store_event_t *ev, buf_t *out);
void audit_export_seal(const store_seal_t *s, buf_t *out);

/* What one line of an export is. */
typedef enum {
	AUDIT_LINE_HEADER, /* the header: key_pem set (may be NULL when it has none) */
	AUDIT_LINE_RECORD, /* ev set */
	AUDIT_LINE_SEAL,   /* seal set */
} audit_line_kind_t;

typedef struct audit_line {
	audit_line_kind_t kind; /* which of the below is set */
	char *key_pem;          /* header: the public key PEM, or NULL (owned) */
	store_event_t ev;       /* record (owned) */
	store_seal_t seal;      /* seal (owned) */
} audit_line_t;

/* Decode one line (len bytes, no newline) strictly: every field with its type, hashes
 * as 64 lowercase hex digits, no NUL in strings, no unknown or duplicate keys. 0, or -1
 * (e says why; out is then empty). Release with audit_line_clear. */
int audit_line_decode(const char *line, size_t len, audit_line_t *out, err_t *e);
void audit_line_clear(audit_line_t *l);

/* ---- offline verification ---- */

typedef enum {
	AUDIT_INTACT = 0,  /* every record chains and every seal verifies */
	AUDIT_BROKEN = 1,  /* the first broken link is named in the result */
	AUDIT_UNUSABLE = 2 /* no key to check seals with, or nothing to verify */
} audit_verdict_t;

typedef struct audit_result {
	char what[512];      /* AUDIT_BROKEN: the first broken link, e.g. "record 17 (id
	                        17-ab12...): content does not match its hash: edited";
	                        AUDIT_UNUSABLE: why */
	size_t records;      /* records checked */
	size_t seals;        /* seals checked */
	int64_t last_seq;    /* seq of the last record, 0 when none */
	int64_t last_sealed; /* seq the last seal covers, 0 when none */
	char key_id[65];     /* id of the key the seals were checked with, "" when none */
	int key_from_export; /* 1 when the key came from the export's own header */
} audit_result_t;

/* Verify an export (data, len bytes) with the public key key_pem (NULL: the one in the
 * export's header, which only shows the file is consistent with itself; compare its id
 * with the verifier's). */
audit_verdict_t audit_verify_export(const uint8_t *data, size_t len, const char *key_pem,
                                    audit_result_t *r);

#endif

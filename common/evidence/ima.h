/* ima: the Linux IMA ascii measurement list. Parses lines of the templates ima, ima-ng,
 * ima-sig and ima-buf, rebuilds each entry's template data exactly as the kernel hashes
 * it, checks the template hash, and replays PCR 10 incrementally against quoted values.
 *
 * The verifier keeps one ima_state_t per node (the running PCR 10 of the quoted bank and
 * the index of the next entry to request) and calls ima_replay() once per round with the
 * new lines the agent sent. The state is small and printable (ima_state_format), so it can
 * be stored and resumed after a restart or a takeover without re-reading the list.
 *
 * Banks and algorithms are named by TPM_ALG_ID (TPM2_ALG_SHA1_ID ... in common/crypto/tpm2.h).
 * The length prefixes inside template data are little-endian, as on every machine vigil
 * targets (x86-64, arm64); kernels booted with ima_canonical_fmt on big-endian hosts are
 * not supported. */
#ifndef VIGIL_IMA_H
#define VIGIL_IMA_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "common/base/buf.h"
#include "common/base/err.h"
#include "common/crypto/tpm2.h"

#define IMA_PCR           10           /* the PCR IMA extends */
#define IMA_LINE_MAX      (128 * 1024) /* one ascii line, without its newline */
#define IMA_NAME_MAX      4096         /* n-ng field (a path or a buffer name), bytes */
#define IMA_LEGACY_NAME   255          /* "ima" template: name fits in 256 bytes with NUL */
#define IMA_SIG_MAX       2048         /* ima-sig signature, decoded bytes */
#define IMA_DIGEST_MAX    64           /* largest digest we carry (SHA-512) */
#define IMA_ALG_NAME_MAX  16           /* "streebog256" and the like */
#define IMA_TEXT_MAX      (256u << 20) /* one replay call's text */
#define IMA_EVENT_ID_MAX  64           /* a Keylime-style event id */
#define IMA_REASON_MAX    512          /* a failure's human text */
#define IMA_STATE_TXT_MAX 200          /* ima_state_format output, with its NUL */

typedef enum ima_template {
	IMA_TEMPLATE_IMA,     /* legacy: d (20-byte SHA-1 or 16-byte MD5) | n (256 bytes) */
	IMA_TEMPLATE_IMA_NG,  /* d-ng | n-ng */
	IMA_TEMPLATE_IMA_SIG, /* d-ng | n-ng | sig */
	IMA_TEMPLATE_IMA_BUF, /* d-ng | n-ng | buf */
} ima_template_t;

/* One parsed line. The caller owns the struct; ima_entry_init() once, then parse any
 * number of lines into it (its scratch buffers are reused, so a long list costs no
 * allocation per line), then ima_entry_clear(). Every pointer below points into the
 * entry's own buffers and stays valid until the next parse or clear. */
typedef struct ima_entry {
	uint64_t index;            /* absolute 0-based entry number in the node's list */
	unsigned pcr;              /* PCR column (IMA_PCR on every real list) */
	ima_template_t tmpl;       /* template, from the template-name column */
	const char *template_name; /* "ima", "ima-ng", "ima-sig" or "ima-buf" (static) */
	uint8_t template_hash[IMA_DIGEST_MAX]; /* column 2, decoded */
	size_t template_hash_len;              /* 20, 32, 48 or 64 */
	int is_violation;                      /* template hash all zero: extends ff..ff */
	char digest_alg[IMA_ALG_NAME_MAX];     /* kernel name ("sha256"); "sha1"/"md5" for ima */
	int digest_hash_id;                    /* kernel hash_info id of digest_alg */
	uint8_t digest[IMA_DIGEST_MAX];        /* file (or buffer) digest, decoded */
	size_t digest_len;                     /* matches digest_alg's size */
	const char *name;                      /* path or buffer name, NUL-terminated */
	size_t name_len;                       /* strlen(name) */
	const uint8_t *sig;                    /* ima-sig: signature bytes, NULL when none */
	size_t sig_len;                        /* 0 when none */
	const uint8_t *buf;                    /* ima-buf: buffer bytes (may be empty) */
	size_t buf_len;                        /* bytes at buf */
	const uint8_t *tdata;                  /* template data exactly as the kernel hashes */
	size_t tdata_len;                      /* bytes at tdata */
	/* scratch, private to ima.c */
	buf_t s_name;                      /* owns name */
	buf_t s_sig;                       /* owns sig */
	buf_t s_buf;                       /* owns buf */
	buf_t s_tdata;                     /* owns tdata */
	EVP_MD_CTX *mctx[TPM2_HASH_BANKS]; /* reused digest contexts, one per bank algorithm */
	uint16_t cache_alg;                /* algorithm of cache_val, 0 when none */
	uint8_t cache_val[IMA_DIGEST_MAX]; /* H_cache_alg(template data) */
} ima_entry_t;

void ima_entry_init(ima_entry_t *ent);
void ima_entry_clear(ima_entry_t *ent); /* frees the scratch; ent reusable after init */

/* Parse one line (without its '\n'; len bytes, no NUL needed) and rebuild the template
 * data. Strict: single spaces between columns, lowercase or uppercase hex of the exact
 * length for the algorithm, known templates and digest algorithms only, no NUL bytes,
 * limits above. 0, or -1 with the reason in e (the caller adds the line number). */
int ima_entry_parse(ima_entry_t *ent, const char *line, size_t len, err_t *e);

/* Check column 2 against H_log_alg(template data). A violation entry (all-zero template
 * hash) is not checked: the kernel records zeros for it. 0, or -1 with the reason in e. */
int ima_entry_check_template_hash(ima_entry_t *ent, uint16_t log_alg, err_t *e);

/* The value this entry extends into the bank: H_bank(template data), or ff..ff for a
 * violation. out must hold IMA_DIGEST_MAX bytes; *out_len gets the bank's size. 0 or -1
 * (unknown bank). */
int ima_entry_extend_value(ima_entry_t *ent, uint16_t bank, uint8_t *out, size_t *out_len);

/* Bank and algorithm helpers (sha1, sha256, sha384, sha512). */
size_t ima_alg_size(uint16_t alg);              /* 0 when unsupported */
const char *ima_alg_name(uint16_t alg);         /* "sha256"; NULL when unsupported */
uint16_t ima_alg_from_name(const char *name);   /* 0 when unsupported */
const EVP_MD *ima_alg_md(uint16_t alg);         /* prefetched, shared; NULL if unsupported */
const EVP_MD *ima_hash_id_md(int hash_info_id); /* kernel hash_info id -> md, or NULL */

/* The kernel's boot_aggregate: H_alg(PCR0 || ... || PCR(n-1)), n = 8 for SHA-1 and 10
 * for the other banks (kernel 5.8+). pcrs holds n values of ima_alg_size(alg) bytes
 * each, PCR0 first. out gets ima_alg_size(alg) bytes. 0 or -1. */
int ima_boot_aggregate(uint16_t alg, const uint8_t *pcrs, size_t pcrs_len, uint8_t *out);

/* ---------------------------------------------------------------------------------
 * Incremental replay. */

typedef struct ima_state ima_state_t; /* opaque: bank, running PCR 10, next entry, lag */

/* A fresh state for a bank (PCR 10 all zero, next entry 0). NULL for an unknown bank. */
ima_state_t *ima_state_new(uint16_t bank);
void ima_state_free(ima_state_t *st);
/* Back to the start of the list (PCR 10 zero, entry 0, no lag); bank may change. 0/-1. */
int ima_state_reset(ima_state_t *st, uint16_t bank);
uint16_t ima_state_bank(const ima_state_t *st);
uint64_t ima_state_next_entry(const ima_state_t *st); /* the ima_ml_entry to request */
/* The running PCR 10 after next_entry entries; borrowed, *len = bank size. */
const uint8_t *ima_state_pcr(const ima_state_t *st, size_t *len);
/* Entries the last quote lagged behind the log (Keylime's quote-progress check). */
uint64_t ima_state_lag(const ima_state_t *st);
/* Restore from stored parts (lag may be 0). 0, or -1 (bad bank or pcr length). */
int ima_state_set(ima_state_t *st, uint16_t bank, uint64_t next_entry, const uint8_t *pcr,
                  size_t pcr_len, uint64_t lag);
/* Printable form "ima1:<bank>:<next_entry>:<lag>:<pcr hex>", fewer than
 * IMA_STATE_TXT_MAX characters; replaces out. ima_state_parse is its strict inverse
 * (NULL with e on malformed text; caller frees). */
void ima_state_format(const ima_state_t *st, buf_t *out);
ima_state_t *ima_state_parse(const char *txt, size_t len, err_t *e);

/* Outcome of a replay. Anything but IMA_OK leaves the state unchanged. */
typedef enum ima_status {
	IMA_OK = 0,             /* quoted PCR 10 matched; every entry passed */
	IMA_ERR_ENTRY_NB,       /* the agent started at an entry we did not ask for */
	IMA_ERR_PARSE,          /* a malformed line, or text over a limit */
	IMA_ERR_PCR_COLUMN,     /* an entry for a PCR other than 10 */
	IMA_ERR_TEMPLATE_HASH,  /* column 2 is not the hash of the entry's template data */
	IMA_ERR_PCR_MISMATCH,   /* no prefix of the new entries gives the quoted PCR 10 */
	IMA_ERR_QUOTE_PROGRESS, /* the quote lagged last round and did not catch up */
	IMA_ERR_POLICY,         /* an entry failed the per-entry callback */
	IMA_ERR_INTERNAL,       /* OpenSSL failure or bad arguments */
} ima_status_t;

/* What went wrong, for the event record and the operator. */
typedef struct ima_failure {
	char event_id[IMA_EVENT_ID_MAX]; /* Keylime-style: "ima.pcr_mismatch", ... */
	char reason[IMA_REASON_MAX];     /* precise text: entry, path, digest, rule */
	uint64_t entry;                  /* absolute index of the entry, UINT64_MAX if none */
} ima_failure_t;

/* Per-entry policy check, called for every parsed entry in order (also for entries past
 * the quoted PCR, which are checked again next round). Return 0 to pass; -1 to fail after
 * filling f->event_id and f->reason (f->entry is set by ima_replay). */
typedef int (*ima_entry_cb)(void *arg, const ima_entry_t *ent, ima_failure_t *f);

typedef struct ima_replay_result {
	ima_status_t status;   /* as returned */
	ima_failure_t failure; /* filled when status != IMA_OK */
	uint64_t entries;      /* lines parsed this call */
	uint64_t matched;      /* entries of this call covered by the quote (0..entries) */
	uint64_t next_entry;   /* state's next entry after the call */
} ima_replay_result_t;

/* Replay new lines into st and match the quoted PCR 10.
 *  - text/len: the agent's ima_measurement_list (complete lines, '\n'-terminated; the
 *    last newline may be missing; no empty lines). May be empty.
 *  - first_entry: the agent's ima_measurement_list_entry. 0 restarts the replay from the
 *    beginning (as Keylime does: the agent restarts at 0 after a reboot or when asked past
 *    the end); otherwise it must equal ima_state_next_entry(st).
 *  - quoted/quoted_len: PCR 10 of the state's bank from the verified quote. NULL means
 *    "no quote": every entry is taken, the state advances to the end (offline tools).
 *  - log_alg: template-hash algorithm (runtime policy ima.log_hash_alg; SHA-1 default).
 *  - cb/cb_arg: per-entry policy check, or NULL.
 * The quote may lag the log: the state advances to the first line at which the running
 * value equals the quoted one, and the tail is re-requested next round. A replay that
 * matches but leaves entries behind while the previous round also lagged and this one did
 * not get past the previous lag fails with IMA_ERR_QUOTE_PROGRESS (Keylime's rule).
 * Order of failures: ENTRY_NB, then PARSE / PCR_COLUMN / TEMPLATE_HASH (the replay stops
 * there), then PCR_MISMATCH, then POLICY (the first failing entry), then QUOTE_PROGRESS.
 * A verifier that wants Keylime's behaviour resets the state (and the policy evaluator's
 * learned keys) after any failure, and resets the evaluator before a replay with
 * first_entry 0. No allocation per entry: a few per call. One state is used by one thread
 * at a time; different states may be replayed concurrently. */
ima_status_t ima_replay(ima_state_t *st, const char *text, size_t len, uint64_t first_entry,
                        const uint8_t *quoted, size_t quoted_len, uint16_t log_alg, ima_entry_cb cb,
                        void *cb_arg, ima_replay_result_t *res);

/* Short name of a status ("pcr mismatch", ...), static. */
const char *ima_status_str(ima_status_t s);

#endif

/* mb_policy_priv: what the measured-boot policy's files share and nothing else may use. The
 * policy is one object in three files: common/policy/mb_policy.c loads and frees it (the data model
 * below), common/policy/mb_policy_eval.c judges a log with it, common/policy/mb_policy_gen.c makes
 * one from a golden log. The struct body lives here so that the loader and the evaluator can both
 * read it; callers only see the opaque mb_policy_t of mb_policy.h. */
#ifndef VIGIL_MB_POLICY_PRIV_H
#define VIGIL_MB_POLICY_PRIV_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "common/evidence/eventlog.h"
#include "common/policy/mb_policy.h"

#define MAX_ALG_NAME 16 /* characters of a digest algorithm name */
#define TEXT_MAX     88 /* a quoted log string or key in a reason, escaped (text_escape) */

/* One {alg: hex} pair of a digest dict; hex without 0x, lowercase. */
typedef struct dd_entry {
	char alg[MAX_ALG_NAME + 1]; /* "sha256" */
	char *hex;                  /* owned */
} dd_entry_t;

/* A digest dict: a digest passes when any pair equals one of the event's digests. */
typedef struct dd {
	dd_entry_t *v; /* owned array */
	size_t n;      /* entries */
} dd_t;

/* One EFI_SIGNATURE_DATA of a key list. */
typedef struct mb_sig {
	uint8_t owner[16]; /* SignatureOwner GUID bytes */
	uint8_t *data;     /* SignatureData, owned */
	size_t len;        /* its length */
} mb_sig_t;

/* A key list, sorted for binary search (by length, data, owner). */
typedef struct mb_sigset {
	mb_sig_t *v; /* owned array */
	size_t n;    /* entries */
} mb_sigset_t;

/* One allowed boot chain. Hex strings are lowercase without 0x; NULL when absent. */
typedef struct kernel {
	char *shim;    /* shim_authcode_sha256 */
	char *grub;    /* grub_authcode_sha256 */
	char *kernel;  /* kernel_authcode_sha256 (Secure Boot) */
	char *initrd;  /* initrd_plain_sha256 */
	char *vmlinuz; /* vmlinuz_plain_sha256 (no Secure Boot) */
	char *cmdline; /* kernel_cmdline, the policy's Python regex */
	regex_t re;    /* "kernel_cmdline: " + cmdline, translated and anchored */
	int re_ok;     /* re is compiled */
} kernel_t;

/* One allowed S-CRTM plus firmware blob sequence. */
typedef struct scrtm_bios {
	dd_t scrtm; /* digest of the one EV_S_CRTM_VERSION */
	dd_t *fw;   /* digests of the EV_EFI_PLATFORM_FIRMWARE_BLOB(2) events, in order */
	size_t nfw; /* entries in fw */
} scrtm_bios_t;

struct mb_policy {
	int empty;             /* {}: no measured-boot checking */
	int has_secureboot;    /* has_secureboot (default 1) */
	scrtm_bios_t *scrtm;   /* scrtm_and_bios */
	size_t nscrtm;         /* entries in scrtm */
	mb_sigset_t pk;        /* allowed PK entries */
	mb_sigset_t kek;       /* allowed KEK entries */
	mb_sigset_t db;        /* allowed db entries */
	mb_sigset_t dbx;       /* required dbx entries */
	mb_sigset_t vendor_db; /* allowed shim vendor_db entries */
	dd_t *mok;             /* mokdig */
	size_t nmok;           /* entries in mok */
	dd_t *mokx;            /* mokxdig */
	size_t nmokx;          /* entries in mokx */
	kernel_t *kernels;     /* kernels */
	size_t nkernels;       /* entries in kernels */
};

/* Defined in mb_policy.c. */

/* Reasons quote log strings and policy keys, escaped where they enter (text_escape); this
 * last pass only guarantees that no byte a new message forgets can reach a terminal. */
void mb_policy_text_clean(char *s);

/* The order of a key list (by length, data, owner), for qsort and bsearch. */
int mb_policy_sig_cmp(const void *a, const void *b);

/* 1 when the sorted set s holds (owner, data of len bytes), all borrowed; else 0. */
int mb_policy_sigset_has(const mb_sigset_t *s, const uint8_t owner[16], const uint8_t *data,
                         size_t len);

/* Defined in mb_policy_eval.c. */

/* The event's digest of the named algorithm as lowercase hex in out (65+ bytes for
 * sha256); 0, or -1 when it has none. */
int mb_policy_ev_hex(const eventlog_event_t *ev, const char *alg, char *out, size_t n);

/* "Enabled" of a 0- or 1-byte boolean variable: 1 yes, 0 no, -1 malformed. */
int mb_policy_var_enabled(const eventlog_efi_var_t *v);

/* 1 when the n bytes at s start with the string pre, else 0. */
int mb_policy_has_prefix(const uint8_t *s, size_t n, const char *pre);

#endif

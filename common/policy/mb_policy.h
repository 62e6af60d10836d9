/* mb_policy: the measured-boot policy, in Keylime's reference-state ("refstate") JSON format,
 * judged with the verdicts of Keylime's "example" policy engine.
 *
 * A refstate names what a good boot looks like: the S-CRTM and firmware blobs (PCR 0), the
 * Secure Boot keys PK/KEK/db/dbx (and shim's vendor_db) measured into PCR 7, the MOK list
 * digests (PCR 14), the shim, grub and kernel Authenticode digests (PCR 4), the initrd and
 * (without Secure Boot) vmlinuz digests measured by grub (PCR 9), and a regular expression
 * for the kernel command line (PCR 8). Every event of the log is dispatched on its
 * (PCR, event type) pair; a pair the policy does not know fails the log, as in Keylime. The
 * format and every rule are documented in docs/policies.md, "Measured-boot policy".
 *
 * The policy only judges the events; the caller must first check that the log replays to
 * the quoted PCRs (eventlog_check_pcr) for MB_POLICY_PCRS.
 *
 * Loading is in mb_policy.c, judging in mb_policy_eval.c; making a policy from a golden log
 * is mb_policy_gen.h, the kernel_cmdline regex dialect pyregex.h.
 */
#ifndef VIGIL_MB_POLICY_H
#define VIGIL_MB_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/buf.h"
#include "common/base/err.h"
#include "common/evidence/eventlog.h"

typedef struct mb_policy mb_policy_t;

#define MB_POLICY_MAX_SIZE (4u << 20) /* bytes of policy JSON */
/* The PCRs the example policy judges: 0-9 and 14. */
#define MB_POLICY_PCRS 0x000043ffu

/* Load a refstate (JSON text, len bytes, at most MB_POLICY_MAX_SIZE). Unknown keys, wrong
 * types, malformed hex or GUIDs and a kernel_cmdline regex we cannot translate are refused
 * with the reason in e, e.g. "kernels[0].initrd_plain_sha256: expected 0x and 64 lowercase
 * hex digits". The empty object {} loads as the empty policy (Keylime: no measured-boot
 * check). Returns a new policy (caller frees) or NULL. */
mb_policy_t *mb_policy_load(const char *json, size_t len, err_t *e);
void mb_policy_free(mb_policy_t *p); /* NULL does nothing */

int mb_policy_is_empty(const mb_policy_t *p);       /* 1 for {} */
int mb_policy_has_secureboot(const mb_policy_t *p); /* refstate has_secureboot (default 1) */

/* Where and why a log failed. */
typedef struct mb_failure {
	long event;       /* index of the offending event, -1 when not about one event */
	int pcr;          /* the PCR concerned, -1 when none */
	uint32_t type;    /* the event's type (meaningful when event >= 0) */
	char reason[640]; /* the whole explanation, e.g. "event 35 (PCR 4,
	                   * EV_EFI_BOOT_SERVICES_APPLICATION): sha256 digest 0abc... is not the
	                   * grub_authcode_sha256 0x412c... of kernels[0]" */
} mb_failure_t;

/* Judge a parsed log. 0 when it passes (always for the empty policy); -1 when it fails,
 * with f (may be NULL) filled; the reason is printable ASCII. The policy is not modified:
 * one loaded policy may judge logs in several threads at once. Cost: one pass over the log;
 * key lookups are binary searches in the sorted policy sets. */
int mb_policy_evaluate(const mb_policy_t *p, const eventlog_t *log, mb_failure_t *f);

#endif

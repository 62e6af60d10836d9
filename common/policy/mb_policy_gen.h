/* mb_policy_gen: a measured-boot policy (Keylime refstate JSON, see mb_policy.h) made from a
 * golden machine's UEFI event log, for vigilctl policy create mb. Apart from mb_policy so
 * that the verifier, which only loads and judges, carries none of it.
 */
#ifndef VIGIL_MB_POLICY_GEN_H
#define VIGIL_MB_POLICY_GEN_H

#include "common/base/buf.h"
#include "common/base/err.h"
#include "common/evidence/eventlog.h"

/* Build a refstate from a golden machine's log (borrowed), the way keylime-policy create
 * measured-boot does: the log's Secure Boot state decides has_secureboot; a log with
 * Secure Boot off is refused unless without_secureboot is set (a warning is logged when it
 * is set but Secure Boot is on). Refuses, with the reason in e, a log from which no
 * passing policy can be made (no sha256 bank, no S-CRTM event, not 3-4 boot applications
 * with Secure Boot or 2 without, no initrd, no kernel command line, or any event the made
 * policy fails: it is judged against the log before it is returned). Appends the JSON text
 * (2-space indent, Keylime's key order) to out. 0 or -1. */
int mb_policy_create(const eventlog_t *log, int without_secureboot, buf_t *out, err_t *e);

#endif

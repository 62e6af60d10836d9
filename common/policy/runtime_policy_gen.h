/* runtime_policy_gen: writing a Keylime runtime policy from a golden machine's IMA list
 * ('vigilctl policy create runtime'). */
#ifndef VIGIL_RUNTIME_POLICY_GEN_H
#define VIGIL_RUNTIME_POLICY_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/buf.h"
#include "common/base/err.h"

/* Build a Keylime-format runtime policy from a golden machine's ascii list: every ima,
 * ima-ng and ima-sig entry's digest under its path (boot_aggregate included); ima-buf
 * entries into "keyrings" (key buffers, unless the keyring is ignored) and "ima-buf" when
 * asked; excludes as given (each must compile); verification keys from PEM or DER
 * certificates / public keys. Entries are checked (template hash with log_alg) on the
 * way; violations are skipped. Writes pretty JSON with sorted keys into out (replacing).
 * 0, or -1 with e. */
typedef struct runtime_policy_gen_opts {
	uint16_t log_alg;                    /* template-hash algorithm; 0 = SHA-1 */
	const char *const *excludes;         /* borrowed regexes */
	size_t n_excludes;                   /* count */
	const char *const *ignored_keyrings; /* borrowed names ("*" = all) */
	size_t n_ignored_keyrings;           /* count */
	const char *const *key_files;        /* borrowed paths of verification keys */
	size_t n_key_files;                  /* count */
	int with_keyrings;                   /* put key measurements into "keyrings" */
	int with_ima_buf;                    /* put other ima-buf digests into "ima-buf" */
	const char *timestamp;               /* meta.timestamp, NULL = now (UTC) */
} runtime_policy_gen_opts_t;
int runtime_policy_generate(const char *ima_text, size_t len, const runtime_policy_gen_opts_t *opts,
                            buf_t *out, err_t *e);

#endif

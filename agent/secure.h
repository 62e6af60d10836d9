/* secure: what the agent does with the secure payload once the bootstrap key K is known
 * (docs/payload.md; Keylime's agent does the same, docs/wire.md §7): decrypt it
 * (AES-GCM; a bad tag runs nothing), check it whole when it is a ZIP archive
 * (agent/unzip.h), then in agent.secure_dir wipe and recreate unzipped/, write the
 * plaintext as unzipped/decrypted_payload and K as unzipped/derived_tci_key (mode 0600),
 * extract the archive into unzipped/ and run unzipped/autorun.sh, when it is there, as
 * `sh -c ./autorun.sh` from unzipped/, under agent.payload_script_timeout, its output
 * logged (agent/runner.h). A payload that fails a check changes nothing on disk.
 *
 * The secure dir is a tmpfs when the agent starts as root (secure_dir_prepare mounts
 * one), so the payload and K never reach a disk and are gone at reboot; otherwise a
 * directory of mode 0700. Nothing in it is run again when the agent restarts. */
#ifndef VIGIL_AGENT_SECURE_H
#define VIGIL_AGENT_SECURE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/runner.h"
#include "common/base/err.h"

#define SECURE_UNZIPPED "unzipped"          /* the folder the payload goes into */
#define SECURE_PAYLOAD  "decrypted_payload" /* Keylime's dec_payload_file */
#define SECURE_KEY      "derived_tci_key"   /* Keylime's enc_keyname */
#define SECURE_SCRIPT   "autorun.sh"        /* Keylime's payload_script */

/* Check a tmpfs size option ("1m", "512k", "2g", digits with an optional k/m/g; "0" or
 * "" : never mount). NULL when fine, else what is wrong (for the config table). */
const char *secure_size_check(const char *v);

/* At start, before the privilege drop: create dir (mode 0700) and, when running as root
 * and size is not "0", mount a tmpfs of that size on it unless it is one already (an
 * earlier start's, with what it holds); give it to uid:gid (-1: leave the owner). Logs
 * what it found and did. 0, or -1 with the reason in e. */
int secure_dir_prepare(const char *dir, const char *size, uid_t uid, gid_t gid, err_t *e);

typedef struct secure secure_t;

typedef struct secure_opts {
	const char *dir;  /* agent.secure_dir (copied) */
	runner_t *runner; /* runs autorun.sh (borrowed; outlives the module) */
	int timeout_s;    /* autorun.sh's time limit */
} secure_opts_t;

secure_t *secure_new(const secure_opts_t *o);
/* Kills a payload script still running. NULL is fine. */
void secure_free(secure_t *s);

/* K (klen bytes) and the payload that came with it (IV || ciphertext || tag, len bytes):
 * see above. 0 when it was written (and its script started, if any); -1 with the reason
 * in e, logged, nothing run, and nothing on disk changed unless writing itself failed
 * (then unzipped/ is left empty). */
int secure_deliver(secure_t *s, const uint8_t *k, size_t klen, const uint8_t *payload, size_t len,
                   err_t *e);

/* Payload scripts finished so far (tests). */
unsigned long secure_scripts_run(const secure_t *s);

#endif

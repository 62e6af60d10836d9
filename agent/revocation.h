/* revocation: what the agent does with a Keylime revocation notice (docs/wire.md §6.3),
 * POSTed by a verifier to /v{ver}/notifications/revocation: check its signature with the
 * RevocationNotifier certificate, then run every executable of the actions directory, in
 * name order, one after the other, each as `<action> <tempfile.json>` with the notice's
 * inner message in the temp file, each under its own timeout, with its output logged.
 *
 * Actions run as child processes watched from the event loop (agent/runner.h), so the
 * agent goes on answering quotes while they run. Notices are queued and
 * handled one at a time; a queue already holding REVOCATION_MAX_QUEUED refuses more. */
#ifndef VIGIL_AGENT_REVOCATION_H
#define VIGIL_AGENT_REVOCATION_H

#include <stddef.h>
#include <stdint.h>

#include "agent/runner.h"
#include "common/base/err.h"

#define REVOCATION_MAX_QUEUED  16  /* notices waiting or running at once */
#define REVOCATION_MAX_ACTIONS 256 /* entries of the actions directory considered */

typedef struct revocation revocation_t;

typedef struct revocation_opts {
	const char *cert_pem;    /* RevocationNotifier certificate PEM, or NULL: every notice is
	                            refused (copied) */
	const char *actions_dir; /* directory of actions; "" or NULL: none (copied) */
	const char *work_dir;    /* where the temp files go, the agent's state dir (copied) */
	int timeout_s;           /* each action's time limit; then its process group is killed */
	runner_t *runner;        /* runs the actions (borrowed; outlives the module) */
} revocation_opts_t;

/* NULL when cert_pem is given and does not hold an RSA certificate of at least 2048 bits
 * (e says why). */
revocation_t *revocation_new(const revocation_opts_t *o, err_t *e);
/* Kills and reaps the actions still running, removes their temp files. NULL is fine. */
void revocation_free(revocation_t *r);

/* One notice from peer (for log lines; borrowed): the outer JSON, len bytes of any content.
 * Returns the HTTP status to answer: 200 when it verified and its actions are queued; 4xx
 * (or 503 when the queue is full) with the reason in e, logged once here, and nothing run. */
int revocation_receive(revocation_t *r, const uint8_t *body, size_t len, const char *peer,
                       err_t *e);

/* Actions finished so far (tests, statistics). */
unsigned long revocation_actions_run(const revocation_t *r);

#endif

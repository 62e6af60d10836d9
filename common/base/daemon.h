/* daemon: the command line and start-up every vigil daemon shares. */
#ifndef VIGIL_DAEMON_H
#define VIGIL_DAEMON_H

#include "common/base/config.h"

struct event_base;

typedef struct daemon_info {
	const char *name;         /* program name, e.g. "vigil-agent" */
	const char *summary;      /* one line: what it is */
	const char *description;  /* paragraphs for --help (after the options) */
	const char *default_conf; /* config file read when -c is not given, if it exists */
	const config_key_t *keys; /* the daemon's config table */
} daemon_info_t;

/* Parse the shared command line:
 *   -c FILE   config file           -o section.key=value  override (repeatable)
 *   -n        check config, print "configuration OK", exit 0 (1 when not OK)
 *   -d        foreground, log to stderr      -v  debug logging
 *   -p        print the sample config (every key, its default) and exit
 *   -h        help
 * Initialises logging. Returns the loaded config (caller frees) or exits. */
config_t *daemon_start(const daemon_info_t *info, int argc, char **argv);

/* Every daemon's table gets one more key from daemon_start: <section>.user (the section
 * of the table's first key), the user to run as once what needs root is open. Empty: no
 * change. A user that does not exist is a configuration error (also for -n); a user set
 * while the daemon is started neither as root nor as that user stops it at start. */

/* 1 when daemon_drop_privileges will switch users: started as root with <section>.user
 * set to another user. Lets a daemon open what only root may open beforehand. */
int daemon_will_drop(const config_t *cfg);
/* Switch to <section>.user for good: its primary group and its supplementary groups from
 * the group database, then the user ids (real, effective and saved); then check that the
 * ids are the user's and that neither root's user nor group id can be taken back, and
 * exit (fatal) otherwise. Call it once what needs root is open (the TPM device, ports
 * below 1024, the IMA and UEFI logs, state files) and before talking to any peer; from
 * the main thread (glibc applies the ids to every thread). Does nothing when the user is
 * not set, or is the one running already. */
void daemon_drop_privileges(const config_t *cfg);

/* Install SIGINT/SIGTERM handlers that break the loop of base, and ignore SIGPIPE. */
void daemon_signals(struct event_base *base);
/* Free the signal events made by daemon_signals. */
void daemon_signals_free(void);

#endif

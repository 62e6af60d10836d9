/* daemon: the command line and start-up every vigil daemon shares. */
#ifndef VIGIL_DAEMON_H
#define VIGIL_DAEMON_H

#include "common/config.h"

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

/* Install SIGINT/SIGTERM handlers that break the loop of base, and ignore SIGPIPE. */
void daemon_signals(struct event_base *base);
/* Free the signal events made by daemon_signals. */
void daemon_signals_free(void);

#endif

/* log: the one logging API. Lines go to stderr (foreground, -d) or syslog. */
#ifndef VIGIL_LOG_H
#define VIGIL_LOG_H

#include <stdarg.h>

#define LOG_FMT(a, b) __attribute__((format(printf, a, b)))

/* Start logging as `progname` (borrowed; must outlive logging). foreground: stderr,
 * else syslog. verbose: 0 = info and above, 1 = debug. */
void log_init(const char *progname, int foreground, int verbose);
/* Change verbosity after init (config may raise it). */
void log_set_verbose(int verbose);
int log_is_verbose(void);

/* _warn variants append ": strerror(errno)"; _warnx ones do not. */
void log_warn(const char *fmt, ...) LOG_FMT(1, 2);
void log_warnx(const char *fmt, ...) LOG_FMT(1, 2);
void log_info(const char *fmt, ...) LOG_FMT(1, 2);
void log_debug(const char *fmt, ...) LOG_FMT(1, 2);
/* Log the OpenSSL error queue (drained) after a message of ours. */
void log_ssl(const char *fmt, ...) LOG_FMT(1, 2);
__attribute__((noreturn)) void fatal(const char *fmt, ...) LOG_FMT(1, 2);
__attribute__((noreturn)) void fatalx(const char *fmt, ...) LOG_FMT(1, 2);

#endif

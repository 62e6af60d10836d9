/* log: small OpenBSD-style logging to stderr or syslog. */
#include "common/base/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <openssl/err.h>

static const char *log_prog = "vigil"; /* program name shown on each line */
static int log_foreground = 1;         /* 1: stderr, 0: syslog */
static int log_verbose;                /* 1: debug lines too */

void log_init(const char *progname, int foreground, int verbose)
{
	log_prog = progname;
	log_foreground = foreground;
	log_verbose = verbose;
	if (!foreground)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_verbose(int verbose)
{
	log_verbose = verbose;
}

int log_is_verbose(void)
{
	return log_verbose;
}

static void log_vwrite(int pri, const char *prefix, const char *fmt, va_list ap, const char *suffix)
    __attribute__((format(printf, 3, 0)));

static void log_vwrite(int pri, const char *prefix, const char *fmt, va_list ap, const char *suffix)
{
	char msg[2048];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_foreground) {
		struct timespec ts;
		struct tm tm;
		char when[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ldZ %s %s%s%s%s\n", when, ts.tv_nsec / 1000000, log_prog,
		        prefix, msg, suffix ? ": " : "", suffix ? suffix : "");
		fflush(stderr);
	} else {
		syslog(pri, "%s%s%s%s", prefix, msg, suffix ? ": " : "", suffix ? suffix : "");
	}
}

#define LOG_BODY(pri, prefix, suffix)                                                              \
	do {                                                                                       \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		log_vwrite(pri, prefix, fmt, ap, suffix);                                          \
		va_end(ap);                                                                        \
	} while (0)

void log_warn(const char *fmt, ...)
{
	const char *err = strerror(errno);

	LOG_BODY(LOG_WARNING, "warning: ", err);
}

void log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_WARNING, "warning: ", NULL);
}

void log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_INFO, "", NULL);
}

void log_debug(const char *fmt, ...)
{
	if (!log_verbose)
		return;
	LOG_BODY(LOG_DEBUG, "debug: ", NULL);
}

void log_ssl(const char *fmt, ...)
{
	char err[256] = "unknown OpenSSL error";
	unsigned long e, last = 0;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if (last)
		ERR_error_string_n(last, err, sizeof(err));
	LOG_BODY(LOG_WARNING, "warning: ", err);
}

void fatal(const char *fmt, ...)
{
	const char *err = strerror(errno);

	LOG_BODY(LOG_CRIT, "fatal: ", err);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_CRIT, "fatal: ", NULL);
	exit(1);
}

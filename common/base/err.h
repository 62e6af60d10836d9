/* err: a short error text handed back to the caller, who decides where it goes (an HTTP
 * reason, a log line, a failure record). Functions take `err_t *e` that may be NULL. */
#ifndef VIGIL_ERR_H
#define VIGIL_ERR_H

typedef struct err {
	char msg[256]; /* NUL-terminated reason, "" when none */
} err_t;

/* Set e->msg (printf-style); no-op when e is NULL. */
void err_set(err_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Set e->msg to our text followed by ": " and the newest OpenSSL error (queue drained). */
void err_set_ssl(err_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

/* err: caller-visible error texts. */
#include "common/base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

void err_set(err_t *e, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

void err_set_ssl(err_t *e, const char *fmt, ...)
{
	char ssl[160] = "unknown OpenSSL error";
	unsigned long code, last = 0;
	va_list ap;
	size_t n;

	while ((code = ERR_get_error()) != 0)
		last = code;
	if (e == NULL)
		return;
	if (last)
		ERR_error_string_n(last, ssl, sizeof(ssl));
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	n = strlen(e->msg);
	snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", ssl);
}

/* xmalloc: allocation that never returns NULL; out of memory is fatal. */
#ifndef VIGIL_XMALLOC_H
#define VIGIL_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);                  /* caller frees */
void *xcalloc(size_t nmemb, size_t size); /* caller frees; zeroed */
void *xrealloc(void *p, size_t n);        /* takes p; caller frees result */
char *xstrdup(const char *s);             /* caller frees */
char *xstrndup(const char *s, size_t n);  /* caller frees; NUL-terminated */
void *xmemdup(const void *p, size_t n);   /* caller frees */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* caller frees */
/* Wipe n bytes at p (OPENSSL_cleanse) then free. NULL does nothing. */
void xfree_secret(void *p, size_t n);

#endif

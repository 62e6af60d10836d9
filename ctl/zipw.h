/* zipw: a small ZIP writer for vigilctl's secure payloads (vigilctl add --cert-package):
 * stored entries only (no compression: a payload is a few certificates and scripts), Unix
 * modes, CRC-32 from zlib. What it writes is what agent/unzip.c accepts: no ZIP64, no
 * encryption, one disk. */
#ifndef VIGIL_CTL_ZIPW_H
#define VIGIL_CTL_ZIPW_H

#include <stddef.h>

#include "common/base/buf.h"
#include "common/base/err.h"

typedef struct zipw {
	buf_t out; /* local headers and data so far */
	buf_t cd;  /* the central directory so far */
	size_t n;  /* entries */
} zipw_t;

#define ZIPW_INIT                                                                                  \
	{                                                                                          \
		BUF_INIT, BUF_INIT, 0                                                              \
	}

/* Add a file: name (a relative path with '/' separators, 1-1024 bytes), its content and
 * Unix permission bits (e.g. 0600, 0700 for a script). 0, or -1 (e) when the name is
 * unusable or the archive would need ZIP64 (65535 entries, 4 GiB). */
int zipw_add(zipw_t *z, const char *name, const void *data, size_t len, unsigned perm, err_t *e);
/* Append the central directory and end record to z->out: the archive is then z->out
 * (the caller's to keep; zipw_free releases it). 0 or -1 (e). */
int zipw_finish(zipw_t *z, err_t *e);
/* Release z's buffers, wiping them (a payload may hold private keys). */
void zipw_free(zipw_t *z);

#endif

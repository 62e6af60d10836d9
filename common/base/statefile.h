/* statefile: how daemons and vigilctl write the files that hold their identity (the AK,
 * private keys, certificates), so that nobody else can read them while they are written
 * or make us write through a link they planted. */
#ifndef VIGIL_STATEFILE_H
#define VIGIL_STATEFILE_H

#include <stddef.h>
#include <sys/types.h>

#include "common/base/err.h"

/* Replace path with len bytes of data, atomically: write "path.tmp" (in the target's own
 * directory, so the rename cannot cross file systems), created with O_CREAT | O_EXCL |
 * O_NOFOLLOW and mode 0600 so it never opens a file or a link someone else made; then set
 * mode, fsync, rename over path and fsync the directory. A reader sees the old file or
 * the new one, never half of one. When "path.tmp" already exists (a crash in the middle,
 * or someone planting a file or a symbolic link) nothing is written, the existing entry
 * is left alone, and e says so: an operator removes it after a look. data is not kept
 * (the caller wipes secrets). 0, or -1 with the reason in e (errno set). */
int statefile_write(const char *path, const void *data, size_t len, mode_t mode, err_t *e);

#endif

/* unzip: a strict reader of ZIP archives from outside (the secure payload, docs/payload.md).
 * It takes what Python's zipfile and Keylime's tenant write, stored or deflated entries,
 * and refuses everything else, before any entry is handed out:
 *   - ZIP64, multi-disk and encrypted archives, methods other than stored (0) and deflate
 *     (8), a local header that disagrees with the central directory, data that overlaps
 *     another entry's or runs past the archive;
 *   - names that are empty, absolute, hold "..", "." or empty components, a backslash or
 *     a control byte, or are longer than UNZIP_MAX_NAME; two entries with one name, or a
 *     file that is also a folder of another entry;
 *   - symbolic links and other special files (Unix modes in the external attributes);
 *   - more than lim->max_entries entries, an entry over lim->max_entry bytes or a total
 *     over lim->max_total bytes uncompressed (zip bombs: checked on the declared sizes and
 *     again while inflating), an entry that inflates to another size or CRC-32.
 * The whole archive is checked (every entry inflated and its CRC compared) before the
 * first entry is handed to the caller, so a refusal writes nothing. */
#ifndef VIGIL_AGENT_UNZIP_H
#define VIGIL_AGENT_UNZIP_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/err.h"

#define UNZIP_MAX_NAME 1024 /* bytes of an entry's path */

typedef struct unzip_limits {
	size_t max_entries; /* entries in the archive */
	size_t max_entry;   /* uncompressed bytes of one entry */
	size_t max_total;   /* uncompressed bytes of all entries */
} unzip_limits_t;

/* The limits the agent uses: 1024 entries, 64 MiB each and in all. */
extern const unzip_limits_t unzip_default_limits;

/* One entry, as handed to the caller. */
typedef struct unzip_entry {
	const char *name;    /* checked relative path; a folder's ends in '/' (borrowed) */
	int is_dir;          /* 1 for a folder */
	int executable;      /* 1 when its Unix mode has an execute bit */
	const uint8_t *data; /* its content, len bytes (borrowed, valid during the call) */
	size_t len;          /* uncompressed size */
} unzip_entry_t;

/* 0 to go on, -1 to stop (with the reason in e). */
typedef int (*unzip_entry_fn)(void *arg, const unzip_entry_t *ent, err_t *e);

/* 1 when data starts like a ZIP archive (a local header, or the end record of an empty
 * archive). */
int unzip_is_zip(const uint8_t *data, size_t len);

/* Check the whole archive, then hand every entry to fn (which may be NULL: only check),
 * in the central directory's order. lim NULL: unzip_default_limits. 0, or -1 with the
 * reason in e (from fn, or the archive's refusal, in which case fn was never called). */
int unzip_read(const uint8_t *data, size_t len, const unzip_limits_t *lim, unzip_entry_fn fn,
               void *arg, err_t *e);

#endif

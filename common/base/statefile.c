/* statefile: see statefile.h. */
#include "common/base/statefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base/xmalloc.h"

#define STATEFILE_SUFFIX ".tmp"

/* fsync the directory holding path, so that the rename survives a crash. */
static int statefile_sync_dir(const char *path)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int fd, rv = -1;

	if (slash == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		goto out;
	rv = fsync(fd);
	close(fd);
out:
	free(dir);
	return rv;
}

int statefile_write(const char *path, const void *data, size_t len, mode_t mode, err_t *e)
{
	char *tmp = xasprintf("%s" STATEFILE_SUFFIX, path);
	const uint8_t *p = data;
	struct stat st;
	int fd, rv = -1, saved;

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		saved = errno;
		if (saved == EEXIST && lstat(tmp, &st) == 0 && S_ISLNK(st.st_mode))
			err_set(e,
			        "%s is a symbolic link: refusing to write %s through it (remove it "
			        "after a look: someone may be after the file)",
			        tmp, path);
		else if (saved == EEXIST)
			err_set(e,
			        "%s already exists (left by a crash, or made by someone else): "
			        "refusing to write %s; remove it after a look",
			        tmp, path);
		else
			err_set(e, "cannot create %s: %s", tmp, strerror(saved));
		errno = saved;
		goto out;
	}
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			saved = errno;
			err_set(e, "cannot write %s: %s", tmp, strerror(saved));
			goto fail;
		}
		p += w;
		len -= (size_t)w;
	}
	/* The umask may have taken bits off 0600; the mode asked for is exact. */
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
		saved = errno;
		err_set(e, "cannot write %s: %s", tmp, strerror(saved));
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		saved = errno;
		err_set(e, "cannot write %s: %s", tmp, strerror(saved));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		saved = errno;
		err_set(e, "cannot rename %s to %s: %s", tmp, path, strerror(saved));
		goto fail;
	}
	if (statefile_sync_dir(path) < 0) {
		saved = errno;
		err_set(e, "%s written, but its directory cannot be synced: %s", path,
		        strerror(saved));
		errno = saved;
		goto out;
	}
	rv = 0;
	goto out;
fail:
	/* Only reached after our O_EXCL create: the temp file is ours to remove. */
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = saved;
out:
	free(tmp);
	return rv;
}

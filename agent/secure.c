/* secure: see secure.h. */
#include "agent/secure.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "agent/unzip.h"
#include "common/base/buf.h"
#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/crypto/bootkey.h"

#define TMPFS_MAGIC_NR 0x01021994 /* statfs f_type of a tmpfs (linux/magic.h) */

struct secure {
	char *dir;         /* agent.secure_dir */
	char *unzipped;    /* dir/unzipped */
	runner_t *runner;  /* borrowed */
	int timeout_s;     /* autorun.sh's time limit */
	run_t *script;     /* autorun.sh while it runs, or NULL */
	unsigned long ran; /* scripts finished */
};

const char *secure_size_check(const char *v)
{
	size_t i = 0;

	if (*v == '\0')
		return NULL;
	while (v[i] >= '0' && v[i] <= '9')
		i++;
	if (i == 0 || i > 12 || (v[i] != '\0' && (strchr("kKmMgG", v[i]) == NULL || v[i + 1])))
		return "must be a size such as 1m, 512k or 2g (0: never mount a tmpfs)";
	return NULL;
}

/* mkdir -p with mode for the last component (the parents 0755, as a state dir's). */
static int mkdirs(const char *path, mode_t mode)
{
	char *p = xstrdup(path);
	struct stat st;
	int rv = -1;

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			goto out;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		goto out;
	if (stat(p, &st) < 0)
		goto out;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		goto out;
	}
	rv = 0;
out:
	free(p);
	return rv;
}

/* 1 when dir is itself the root of a tmpfs mount (not merely inside one, as under a
 * /tmp that is a tmpfs): its device differs from its parent's. */
static int is_tmpfs_mount(const char *dir)
{
	char *parent = xasprintf("%s/..", dir);
	struct stat st, pst;
	struct statfs sf;
	int yes;

	yes = statfs(dir, &sf) == 0 && (unsigned long)sf.f_type == TMPFS_MAGIC_NR &&
	      stat(dir, &st) == 0 && stat(parent, &pst) == 0 && st.st_dev != pst.st_dev;
	free(parent);
	return yes;
}

int secure_dir_prepare(const char *dir, const char *size, uid_t uid, gid_t gid, err_t *e)
{
	char opts[128];

	if (mkdirs(dir, 0700) < 0) {
		err_set(e, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	if (is_tmpfs_mount(dir)) {
		log_info("agent.secure_dir %s is a tmpfs already (what it holds is kept; nothing "
		         "in it is run again)",
		         dir);
	} else if (geteuid() == 0 && *size && strcmp(size, "0") != 0) {
		snprintf(opts, sizeof(opts), "size=%s,mode=0700", size);
		if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) == 0)
			log_info("agent.secure_dir %s: mounted a tmpfs (%s)", dir, opts);
		else
			log_warn(
			    "agent.secure_dir %s: cannot mount a tmpfs; payloads are kept in a "
			    "plain directory (mode 0700), on disk",
			    dir);
	} else {
		log_info("agent.secure_dir %s is not a tmpfs (%s): payloads and their key are kept "
		         "in a plain directory (mode 0700), on disk",
		         dir,
		         geteuid() != 0 ? "the agent does not start as root" : "secure_size 0");
	}
	if (chmod(dir, 0700) < 0 ||
	    ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(dir, uid, gid) < 0)) {
		err_set(e, "cannot set the owner or mode of %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

secure_t *secure_new(const secure_opts_t *o)
{
	secure_t *s = xcalloc(1, sizeof(*s));

	s->dir = xstrdup(o->dir);
	s->unzipped = xasprintf("%s/%s", o->dir, SECURE_UNZIPPED);
	s->runner = o->runner;
	s->timeout_s = o->timeout_s > 0 ? o->timeout_s : 60;
	return s;
}

void secure_free(secure_t *s)
{
	if (s == NULL)
		return;
	if (s->script)
		log_warnx("payload script killed: the agent is stopping");
	run_cancel(s->script);
	free(s->dir);
	free(s->unzipped);
	free(s);
}

unsigned long secure_scripts_run(const secure_t *s)
{
	return s->ran;
}

/* ---- the files ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* rm -rf, never following a link. */
static int wipe(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Create path (never through a link, never over an existing file) with data. */
static int write_new(const char *path, const void *data, size_t len, mode_t mode)
{
	const uint8_t *p = data;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);

	if (fd < 0)
		return -1;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int saved = n < 0 ? errno : ENOSPC;
			close(fd);
			errno = saved;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return close(fd);
}

/* The folders of rel (a checked relative path) under root, made as needed. */
static int make_parents(const char *root, const char *rel)
{
	char *p = xasprintf("%s/%s", root, rel);
	char *s = p + strlen(root) + 1;
	struct stat st;
	int rv = -1;

	for (; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 &&
		    (errno != EEXIST || lstat(p, &st) < 0 || !S_ISDIR(st.st_mode)))
			goto out;
		*s = '/';
	}
	rv = 0;
out:
	free(p);
	return rv;
}

/* The names the agent writes itself may not come from the archive. */
static int entry_name_check(void *arg, const unzip_entry_t *ent, err_t *e)
{
	(void)arg;
	if (strcmp(ent->name, SECURE_PAYLOAD) == 0 || strcmp(ent->name, SECURE_KEY) == 0 ||
	    strncmp(ent->name, SECURE_PAYLOAD "/", sizeof(SECURE_PAYLOAD)) == 0 ||
	    strncmp(ent->name, SECURE_KEY "/", sizeof(SECURE_KEY)) == 0) {
		err_set(e, "entry \"%s\" would replace the file the agent writes", ent->name);
		return -1;
	}
	return 0;
}

static int entry_write(void *arg, const unzip_entry_t *ent, err_t *e)
{
	secure_t *s = arg;
	char *path;
	int rv = -1;

	if (make_parents(s->unzipped, ent->name) < 0) {
		err_set(e, "cannot make the folders of %s: %s", ent->name, strerror(errno));
		return -1;
	}
	path = xasprintf("%s/%s", s->unzipped, ent->name);
	if (ent->is_dir) {
		path[strlen(path) - 1] = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			err_set(e, "cannot create %s: %s", path, strerror(errno));
			goto out;
		}
	} else if (write_new(path, ent->data, ent->len, ent->executable ? 0700 : 0600) < 0) {
		err_set(e, "cannot write %s: %s", path, strerror(errno));
		goto out;
	}
	rv = 0;
out:
	free(path);
	return rv;
}

/* ---- the script ---- */

static void script_done(void *arg, int status, int timed_out)
{
	secure_t *s = arg;

	(void)status;
	(void)timed_out;
	s->script = NULL;
	s->ran++;
}

static void script_start(secure_t *s)
{
	char *path = xasprintf("%s/%s", s->unzipped, SECURE_SCRIPT), *label;
	char *argv[] = {"/bin/sh", "-c", "./" SECURE_SCRIPT, NULL};
	struct stat st;

	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_info("the payload has no %s: nothing to run", SECURE_SCRIPT);
		free(path);
		return;
	}
	/* As Keylime's agent does: the script is made executable and run through sh -c, so
	 * a shebang line picks its interpreter. */
	if (chmod(path, 0700) < 0) {
		log_warn("payload script %s not run: chmod", path);
		free(path);
		return;
	}
	label = xasprintf("payload script %s", path);
	s->script =
	    runner_start(s->runner, label, NULL, argv, s->unzipped, s->timeout_s, script_done, s);
	free(label);
	free(path);
}

/* ---- delivery ---- */

int secure_deliver(secure_t *s, const uint8_t *k, size_t klen, const uint8_t *payload, size_t len,
                   err_t *e)
{
	buf_t plain = BUF_INIT;
	char *path = NULL;
	int is_zip, rv = -1;

	if (bootkey_open(k, klen, payload, len, &plain, e) < 0)
		goto refused;
	is_zip = plain.len > 0 && unzip_is_zip(plain.data, plain.len);
	if (is_zip && unzip_read(plain.data, plain.len, NULL, entry_name_check, s, e) < 0)
		goto refused;
	/* Every check passed: from here on only writing can fail. */
	if (s->script) {
		log_warnx("a new payload arrived while the last one's %s runs: killed",
		          SECURE_SCRIPT);
		run_cancel(s->script);
		s->script = NULL;
	}
	if (wipe(s->unzipped) < 0 || mkdir(s->unzipped, 0700) < 0) {
		err_set(e, "cannot recreate %s: %s", s->unzipped, strerror(errno));
		goto failed;
	}
	path = xasprintf("%s/%s", s->unzipped, SECURE_PAYLOAD);
	if (write_new(path, plain.data ? plain.data : (const uint8_t *)"", plain.len, 0600) < 0) {
		err_set(e, "cannot write %s: %s", path, strerror(errno));
		goto failed;
	}
	free(path);
	path = xasprintf("%s/%s", s->unzipped, SECURE_KEY);
	if (write_new(path, k, klen, 0600) < 0) {
		err_set(e, "cannot write %s: %s", path, strerror(errno));
		goto failed;
	}
	if (is_zip && unzip_read(plain.data, plain.len, NULL, entry_write, s, e) < 0)
		goto failed;
	log_info("payload of %zu bytes decrypted into %s%s", plain.len, s->unzipped,
	         is_zip ? " and extracted" : " (not a ZIP archive: kept as " SECURE_PAYLOAD ")");
	if (is_zip)
		script_start(s);
	rv = 0;
	goto out;
refused:
	log_warnx("payload refused: %s; nothing written or run", e->msg);
	goto out;
failed:
	log_warnx("payload not delivered: %s; nothing run", e->msg);
	wipe(s->unzipped);
	mkdir(s->unzipped, 0700);
out:
	free(path);
	buf_free_secret(&plain);
	return rv;
}

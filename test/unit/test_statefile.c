/* Unit tests for common/statefile: the file is replaced whole with the mode asked for; a
 * temp path someone made first (a file or a symbolic link) is refused, and neither the
 * target nor what the link points to is touched. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/base/buf.h"
#include "common/base/statefile.h"
#include "common/base/xmalloc.h"

int main(void);

static char dir[] = "/tmp/vigil-test-statefile.XXXXXX";

static char *path_of(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

/* 1 when path holds exactly text. */
static int holds(const char *path, const char *text)
{
	buf_t b = BUF_INIT;
	int ok = buf_read_file(&b, path, 1 << 20) == 0 && b.len == strlen(text) &&
	         memcmp(b.data, text, b.len) == 0;

	buf_free(&b);
	return ok;
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return (int)(st.st_mode & 07777);
}

static void test_write_and_replace(void **state)
{
	char *p = path_of("key.pem"), *tmp = path_of("key.pem.tmp");
	err_t e = {""};
	mode_t old = umask(077);

	(void)state;
	assert_int_equal(statefile_write(p, "one", 3, 0600, &e), 0);
	assert_true(holds(p, "one"));
	assert_int_equal(mode_of(p), 0600);
	assert_int_equal(access(tmp, F_OK), -1);
	/* Replacing: the new content, the mode asked for even under a strict umask. */
	assert_int_equal(statefile_write(p, "second", 6, 0644, &e), 0);
	assert_true(holds(p, "second"));
	assert_int_equal(mode_of(p), 0644);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(statefile_write(p, "", 0, 0600, &e), 0);
	assert_true(holds(p, ""));
	umask(old);
	unlink(p);
	free(p);
	free(tmp);
}

static void test_precreated_temp_refused(void **state)
{
	char *p = path_of("ak.priv"), *tmp = path_of("ak.priv.tmp");
	err_t e = {""};

	(void)state;
	put(p, "old key");
	put(tmp, "planted");
	chmod(tmp, 0666);
	assert_int_equal(statefile_write(p, "new key", 7, 0600, &e), -1);
	assert_int_equal(errno, EEXIST);
	assert_non_null(strstr(e.msg, "already exists"));
	assert_non_null(strstr(e.msg, tmp));
	/* Nothing moved: the target keeps its content, the planted file is left as it was
	 * (and was not given our secret). */
	assert_true(holds(p, "old key"));
	assert_true(holds(tmp, "planted"));
	assert_int_equal(mode_of(tmp), 0666);
	/* Once it is gone, writing works again. */
	unlink(tmp);
	assert_int_equal(statefile_write(p, "new key", 7, 0600, &e), 0);
	assert_true(holds(p, "new key"));
	unlink(p);
	free(p);
	free(tmp);
}

static void test_symlink_temp_refused(void **state)
{
	char *p = path_of("server-private.pem"), *tmp = path_of("server-private.pem.tmp");
	char *victim = path_of("victim"), *nowhere = path_of("nowhere");
	err_t e = {""};

	(void)state;
	put(victim, "victim's data");
	assert_int_equal(symlink(victim, tmp), 0);
	assert_int_equal(statefile_write(p, "secret", 6, 0600, &e), -1);
	assert_non_null(strstr(e.msg, "symbolic link"));
	assert_true(holds(victim, "victim's data"));
	assert_int_equal(access(p, F_OK), -1); /* no target made */
	unlink(tmp);
	/* A dangling link must not create the file it points to. */
	assert_int_equal(symlink(nowhere, tmp), 0);
	put(p, "old");
	assert_int_equal(statefile_write(p, "secret", 6, 0600, &e), -1);
	assert_non_null(strstr(e.msg, "symbolic link"));
	assert_int_equal(access(nowhere, F_OK), -1);
	assert_true(holds(p, "old"));
	unlink(tmp);
	unlink(p);
	unlink(victim);
	free(p);
	free(tmp);
	free(victim);
	free(nowhere);
}

static void test_missing_directory(void **state)
{
	char *p = path_of("no-such-dir/key.pem");
	err_t e = {""};

	(void)state;
	assert_int_equal(statefile_write(p, "x", 1, 0600, &e), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(e.msg, "cannot create"));
	free(p);
}

static int group_setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
	(void)state;
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_write_and_replace),
	    cmocka_unit_test(test_precreated_temp_refused),
	    cmocka_unit_test(test_symlink_temp_refused),
	    cmocka_unit_test(test_missing_directory),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

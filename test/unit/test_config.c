/* Unit tests for common/config: table defaults, files, overrides and rejections. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/base/config.h"
#include "common/base/log.h"

int main(void);

static const config_key_t keys[] = {
    {"s", "name", CFG_STR, "dflt", 0, 0, "A name.", NULL},
    {"s", "count", CFG_INT, "3", 1, 10, "A count.", NULL},
    {"s", "flag", CFG_BOOL, "no", 0, 0, "A flag.", NULL},
    {"s", "unset", CFG_STR, NULL, 0, 0, "No default.", NULL},
    {NULL, NULL, CFG_STR, NULL, 0, 0, NULL, NULL},
};

static char *write_tmp(const char *text)
{
	static char path[64];
	strcpy(path, "/tmp/vigil-test-conf-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_defaults(void **state)
{
	(void)state;
	config_t *c = config_new(keys);
	assert_string_equal(config_str(c, "s", "name"), "dflt");
	assert_int_equal(config_int(c, "s", "count"), 3);
	assert_int_equal(config_bool(c, "s", "flag"), 0);
	assert_null(config_str(c, "s", "unset"));
	config_free(c);
}

static void test_file_and_override(void **state)
{
	(void)state;
	config_t *c = config_new(keys);
	char *p = write_tmp("[s]\nname = fromfile\ncount = 7\nflag = yes\n");
	assert_int_equal(config_load_file(c, p), 0);
	unlink(p);
	assert_string_equal(config_str(c, "s", "name"), "fromfile");
	assert_int_equal(config_int(c, "s", "count"), 7);
	assert_int_equal(config_bool(c, "s", "flag"), 1);
	assert_int_equal(config_set_override(c, "s.count=9"), 0);
	assert_int_equal(config_int(c, "s", "count"), 9);
	config_free(c);
}

static void test_rejections(void **state)
{
	(void)state;
	config_t *c = config_new(keys);
	assert_int_equal(config_set_override(c, "s.count=11"), -1);
	assert_int_equal(config_set_override(c, "s.count=x"), -1);
	assert_int_equal(config_set_override(c, "s.flag=maybe"), -1);
	assert_int_equal(config_set_override(c, "s.nokey=1"), -1);
	assert_int_equal(config_set_override(c, "novalue"), -1);
	assert_int_equal(config_int(c, "s", "count"), 3); /* unchanged */
	char *p = write_tmp("[s]\nbogus = 1\n");
	assert_int_equal(config_load_file(c, p), -1);
	unlink(p);
	p = write_tmp("[s\nname=1\n");
	assert_int_equal(config_load_file(c, p), -1);
	unlink(p);
	config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_file_and_override),
	    cmocka_unit_test(test_rejections),
	};
	log_init("test_config", 1, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for vigilctl's ZIP writer (ctl/zipw.c): what it writes is read back by the
 * agent's reader (agent/unzip.c) with every name, content and mode intact; names it must
 * refuse are refused. (Python's zipfile reads its output in t_payload_fleet.sh.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/unzip.h"
#include "common/base/buf.h"
#include "ctl/zipw.h"

int main(void);

typedef struct seen {
	int n;
	char names[256];
	buf_t data[4];
	int exec[4];
} seen_t;

static int on_entry(void *arg, const unzip_entry_t *ent, err_t *e)
{
	seen_t *s = arg;

	(void)e;
	if (s->n >= 4)
		return -1;
	strcat(s->names, ent->name);
	strcat(s->names, ";");
	buf_append(&s->data[s->n], ent->data, ent->len);
	s->exec[s->n] = ent->executable;
	s->n++;
	return 0;
}

static void test_roundtrip(void **state)
{
	zipw_t z = ZIPW_INIT;
	seen_t s;
	err_t e = {""};
	uint8_t big[70000];

	(void)state;
	memset(&s, 0, sizeof(s));
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	assert_int_equal(zipw_add(&z, "autorun.sh", "#!/bin/sh\necho hi\n", 18, 0700, &e), 0);
	assert_int_equal(zipw_add(&z, "dir/a.crt", "CERT", 4, 0600, &e), 0);
	assert_int_equal(zipw_add(&z, "empty", "", 0, 0600, &e), 0);
	assert_int_equal(zipw_add(&z, "big.bin", big, sizeof(big), 0644, &e), 0);
	assert_int_equal(zipw_finish(&z, &e), 0);
	assert_true(unzip_is_zip(z.out.data, z.out.len));
	assert_int_equal(unzip_read(z.out.data, z.out.len, NULL, on_entry, &s, &e), 0);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.names, "autorun.sh;dir/a.crt;empty;big.bin;");
	assert_int_equal(s.data[0].len, 18);
	assert_memory_equal(s.data[0].data, "#!/bin/sh\necho hi\n", 18);
	assert_int_equal(s.exec[0], 1);
	assert_int_equal(s.exec[1], 0);
	assert_int_equal(s.data[2].len, 0);
	assert_int_equal(s.data[3].len, sizeof(big));
	assert_memory_equal(s.data[3].data, big, sizeof(big));
	for (int i = 0; i < 4; i++)
		buf_free(&s.data[i]);
	zipw_free(&z);
}

static void test_empty_archive(void **state)
{
	zipw_t z = ZIPW_INIT;
	seen_t s;
	err_t e = {""};

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(zipw_finish(&z, &e), 0);
	assert_int_equal(z.out.len, 22);
	assert_int_equal(unzip_read(z.out.data, z.out.len, NULL, on_entry, &s, &e), 0);
	assert_int_equal(s.n, 0);
	zipw_free(&z);
}

static void test_bad_names(void **state)
{
	zipw_t z = ZIPW_INIT;
	err_t e = {""};
	char longname[1100];

	(void)state;
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(zipw_add(&z, "", "x", 1, 0600, &e), -1);
	assert_int_equal(zipw_add(&z, "/etc/passwd", "x", 1, 0600, &e), -1);
	assert_int_equal(zipw_add(&z, "dir/", "x", 1, 0600, &e), -1);
	assert_int_equal(zipw_add(&z, longname, "x", 1, 0600, &e), -1);
	assert_int_equal(z.n, 0);
	assert_int_equal(z.out.len, 0);
	zipw_free(&z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_empty_archive),
	    cmocka_unit_test(test_bad_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

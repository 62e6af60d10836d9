/* Unit tests for the agent's ZIP reader (agent/unzip.c): archives made by the test's own
 * writer (test/unit/zipwrite.h), stored and deflated, then damaged or made hostile in
 * each way the reader must refuse, checking that a refusal never hands out an entry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "agent/unzip.h"
#include "common/base/buf.h"
#include "test/unit/zipwrite.h"

int main(void);

/* What the callback saw. */
typedef struct seen {
	int n;           /* entries */
	char names[512]; /* "name;name;..." */
	size_t bytes;    /* content bytes */
	int exec;        /* entries flagged executable */
	int dirs;        /* folders */
	buf_t last;      /* the last file's content */
} seen_t;

static int collect(void *arg, const unzip_entry_t *ent, err_t *e)
{
	seen_t *s = arg;

	(void)e;
	s->n++;
	strncat(s->names, ent->name, sizeof(s->names) - strlen(s->names) - 2);
	strcat(s->names, ";");
	s->bytes += ent->len;
	s->exec += ent->executable;
	s->dirs += ent->is_dir;
	if (!ent->is_dir)
		buf_set(&s->last, ent->data, ent->len);
	return 0;
}

/* unzip_read of z's archive: 0 or -1; the reason in e, what was seen in s. */
static int read_zip(zw_t *z, const unzip_limits_t *lim, seen_t *s, err_t *e)
{
	buf_free(&s->last);
	memset(s, 0, sizeof(*s));
	return unzip_read(z->out.data, z->out.len, lim, collect, s, e);
}

static void test_stored_and_deflated(void **state)
{
	zw_t z = {BUF_INIT, BUF_INIT, 0};
	char big[20000];
	seen_t s = {0};
	err_t e = {""};

	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 7);
	zw_add(&z, "autorun.sh", "#!/bin/sh\necho hi\n", 18, 0, S_IFREG | 0755, 0);
	zw_add(&z, "sub/", "", 0, 0, S_IFDIR | 0755, 0);
	zw_add(&z, "sub/data.txt", big, sizeof(big), 8, S_IFREG | 0644, 0);
	zw_add(&z, "empty", "", 0, 8, 0, 0);
	zw_finish(&z);
	assert_true(unzip_is_zip(z.out.data, z.out.len));
	assert_int_equal(read_zip(&z, NULL, &s, &e), 0);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.names, "autorun.sh;sub/;sub/data.txt;empty;");
	assert_int_equal(s.bytes, 18 + sizeof(big));
	assert_int_equal(s.exec, 2); /* autorun.sh and the folder (mode 0755) */
	assert_int_equal(s.dirs, 1);
	assert_int_equal(s.last.len, 0);
	/* The deflated entry came back byte for byte. */
	zw_free(&z);
	memset(&z, 0, sizeof(z));
	zw_add(&z, "big", big, sizeof(big), 8, 0, 0);
	zw_finish(&z);
	assert_true(z.out.len < sizeof(big) / 4);
	assert_int_equal(read_zip(&z, NULL, &s, &e), 0);
	assert_int_equal(s.last.len, sizeof(big));
	assert_memory_equal(s.last.data, big, sizeof(big));
	buf_free(&s.last);
	zw_free(&z);
	/* Only the end record: an empty archive. */
	memset(&z, 0, sizeof(z));
	zw_finish(&z);
	assert_true(unzip_is_zip(z.out.data, z.out.len));
	assert_int_equal(read_zip(&z, NULL, &s, &e), 0);
	assert_int_equal(s.n, 0);
	zw_free(&z);
	assert_false(unzip_is_zip((const uint8_t *)"hello world", 11));
}

/* An archive of one good entry then one entry named name (mode, method): refused with a
 * reason containing want, and no entry handed out. */
static void refused_name(const char *name, unsigned mode, const char *want)
{
	zw_t z = {BUF_INIT, BUF_INIT, 0};
	seen_t s = {0};
	err_t e = {""};

	zw_add(&z, "ok.txt", "fine", 4, 0, 0, 0);
	zw_add(&z, name, "x", *name && name[strlen(name) - 1] == '/' ? 0 : 1, 0, mode, 0);
	zw_finish(&z);
	assert_int_equal(read_zip(&z, NULL, &s, &e), -1);
	if (strstr(e.msg, want) == NULL)
		fail_msg("entry \"%s\": reason \"%s\" lacks \"%s\"", name, e.msg, want);
	assert_int_equal(s.n, 0);
	zw_free(&z);
	buf_free(&s.last);
}

static void test_hostile_names(void **state)
{
	(void)state;
	refused_name("../escape.txt", 0, "\"..\" path component");
	refused_name("a/../../b", 0, "\"..\" path component");
	refused_name("a/..", 0, "\"..\" path component");
	refused_name("/etc/passwd", 0, "absolute path");
	refused_name("a//b", 0, "empty");
	refused_name("./a", 0, "\".\"");
	refused_name("a\\..\\b", 0, "backslash");
	refused_name("a\nb", 0, "control byte");
	refused_name("", 0, "empty name");
	refused_name("/", 0, "empty name");
	refused_name("link", S_IFLNK | 0777, "symbolic link");
	refused_name("fifo", S_IFIFO | 0644, "special file");
	refused_name("ok.txt", 0, "two entries named");
	refused_name("ok.txt/", S_IFDIR | 0755, "two entries named");
	refused_name("ok.txt/inner", 0, "is a file and a folder");
	refused_name("dir/", S_IFREG | 0644, "disagree");
}

static void test_damage(void **state)
{
	zw_t z = {BUF_INIT, BUF_INIT, 0};
	char text[3000];
	seen_t s = {0};
	err_t e = {""};
	size_t data_at;

	(void)state;
	memset(text, 'q', sizeof(text));
	/* A wrong CRC, stored and deflated. */
	zw_add(&z, "a", "content", 7, 0, 0, 1);
	zw_finish(&z);
	assert_int_equal(read_zip(&z, NULL, &s, &e), -1);
	assert_non_null(strstr(e.msg, "CRC-32"));
	zw_free(&z);
	memset(&z, 0, sizeof(z));
	zw_add(&z, "a", text, sizeof(text), 8, 0, 0x80000000u);
	zw_finish(&z);
	assert_int_equal(read_zip(&z, NULL, &s, &e), -1);
	assert_non_null(strstr(e.msg, "CRC-32"));
	zw_free(&z);
	/* Corrupt deflate data: the first byte of the stream (a reserved block type). */
	memset(&z, 0, sizeof(z));
	zw_add(&z, "a", text, sizeof(text), 8, 0, 0);
	zw_finish(&z);
	data_at = 30 + 1;
	z.out.data[data_at] = 0xff;
	assert_int_equal(read_zip(&z, NULL, &s, &e), -1);
	assert_int_equal(s.n, 0);
	/* Every truncation of a good archive is refused, never read past. */
	z.out.data[data_at] = 0;
	zw_free(&z);
	memset(&z, 0, sizeof(z));
	zw_add(&z, "a", text, sizeof(text), 8, 0, 0);
	zw_add(&z, "b/c", "xyz", 3, 0, 0, 0);
	zw_finish(&z);
	for (size_t cut = 0; cut < z.out.len; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);
		memcpy(copy, z.out.data, cut);
		buf_free(&s.last);
		memset(&s, 0, sizeof(s));
		assert_int_equal(unzip_read(copy, cut, NULL, collect, &s, &e), -1);
		assert_int_equal(s.n, 0);
		free(copy);
	}
	/* Encrypted, and an unknown method: the flag and method bytes in both headers. */
	z.out.data[6] |= 1;
	{
		size_t cd = z.out.data[z.out.len - 6] | z.out.data[z.out.len - 5] << 8;
		z.out.data[cd + 8] |= 1;
		assert_int_equal(read_zip(&z, NULL, &s, &e), -1);
		assert_non_null(strstr(e.msg, "encrypted"));
		z.out.data[6] &= (uint8_t)~1u;
		z.out.data[cd + 8] &= (uint8_t)~1u;
		z.out.data[8] = 12;
		z.out.data[cd + 10] = 12;
		assert_int_equal(read_zip(&z, NULL, &s, &e), -1);
		assert_non_null(strstr(e.msg, "compression method 12"));
		z.out.data[8] = 8;
		z.out.data[cd + 10] = 8;
		assert_int_equal(read_zip(&z, NULL, &s, &e), 0);
		/* The local header names another file than the directory. */
		z.out.data[30] = 'z';
		assert_int_equal(read_zip(&z, NULL, &s, &e), -1);
		assert_non_null(strstr(e.msg, "local header"));
	}
	zw_free(&z);
	buf_free(&s.last);
}

static void test_limits(void **state)
{
	zw_t z = {BUF_INIT, BUF_INIT, 0};
	unzip_limits_t lim = {.max_entries = 3, .max_entry = 1000, .max_total = 1500};
	char *zeros = calloc(1, 10u << 20);
	char name[16];
	seen_t s = {0};
	err_t e = {""};

	(void)state;
	/* A zip bomb: 10 MiB of zeros in about 10 KiB, refused on its declared size. */
	zw_add(&z, "bomb", zeros, 10u << 20, 8, 0, 0);
	zw_finish(&z);
	assert_true(z.out.len < 64 * 1024);
	assert_int_equal(read_zip(&z, &lim, &s, &e), -1);
	assert_non_null(strstr(e.msg, "over the limit"));
	zw_free(&z);
	/* Each entry under the per-entry cap, together over the total. */
	memset(&z, 0, sizeof(z));
	zw_add(&z, "a", zeros, 800, 8, 0, 0);
	zw_add(&z, "b", zeros, 800, 8, 0, 0);
	zw_finish(&z);
	assert_int_equal(read_zip(&z, &lim, &s, &e), -1);
	assert_non_null(strstr(e.msg, "in all"));
	lim.max_total = 1600;
	assert_int_equal(read_zip(&z, &lim, &s, &e), 0);
	zw_free(&z);
	/* Too many entries. */
	memset(&z, 0, sizeof(z));
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		zw_add(&z, name, "x", 1, 0, 0, 0);
	}
	zw_finish(&z);
	assert_int_equal(read_zip(&z, &lim, &s, &e), -1);
	assert_non_null(strstr(e.msg, "4 entries"));
	assert_int_equal(read_zip(&z, NULL, &s, &e), 0);
	zw_free(&z);
	/* A deflate stream that inflates past its declared size (a lying header). */
	memset(&z, 0, sizeof(z));
	zw_add(&z, "liar", zeros, 5000, 8, 0, 0);
	zw_finish(&z);
	{
		size_t cd = z.out.data[z.out.len - 6] | z.out.data[z.out.len - 5] << 8;
		z.out.data[cd + 24] = 100; /* usize 5000 -> 4964 */
		assert_int_equal(read_zip(&z, NULL, &s, &e), -1);
		assert_non_null(strstr(e.msg, "corrupt or not"));
	}
	zw_free(&z);
	free(zeros);
	buf_free(&s.last);
}

/* A callback's refusal stops the read and is the reason. */
static int refuse_second(void *arg, const unzip_entry_t *ent, err_t *e)
{
	int *n = arg;
	if (++*n == 2) {
		err_set(e, "no thanks: %s", ent->name);
		return -1;
	}
	return 0;
}

static void test_callback_stops(void **state)
{
	zw_t z = {BUF_INIT, BUF_INIT, 0};
	err_t e = {""};
	int n = 0;

	(void)state;
	zw_add(&z, "a", "1", 1, 0, 0, 0);
	zw_add(&z, "b", "2", 1, 0, 0, 0);
	zw_add(&z, "c", "3", 1, 0, 0, 0);
	zw_finish(&z);
	assert_int_equal(unzip_read(z.out.data, z.out.len, NULL, refuse_second, &n, &e), -1);
	assert_int_equal(n, 2);
	assert_string_equal(e.msg, "no thanks: b");
	assert_int_equal(unzip_read(z.out.data, z.out.len, NULL, NULL, NULL, &e), 0);
	zw_free(&z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stored_and_deflated),
	    cmocka_unit_test(test_hostile_names),
	    cmocka_unit_test(test_damage),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_callback_stops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

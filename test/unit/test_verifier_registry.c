/* test_verifier_registry: the registry's keyset walk (registry_page) that ListNodes pages
 * with: key order, strictly after the key, at most limit, and keys that went away or
 * arrived between two pages never make others repeat or go missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "verifier/registry.h"

int main(void);

typedef struct seen {
	const char *keys[64];
	size_t n;
} seen_t;

static void collect(void *item, void *arg)
{
	seen_t *s = arg;

	s->keys[s->n++] = item; /* the items are their own keys here */
}

static const char *const keys[] = {"n07", "n01", "n10", "n03", "n05",
                                   "n02", "n09", "n04", "n08", "n06"};

static registry_t *fill(void)
{
	registry_t *r = registry_new();

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_int_equal(registry_add(r, keys[i], (void *)(uintptr_t)keys[i]), 0);
	return r;
}

static void test_pages_in_order(void **state)
{
	registry_t *r = fill();
	seen_t s = {{0}, 0};
	char after[8] = "";
	size_t got;

	(void)state;
	/* Pages of 4: 4, 4, 2, then nothing. */
	for (int page = 0; page < 4; page++) {
		size_t before = s.n;
		got = registry_page(r, after, 4, collect, &s);
		assert_int_equal(got, page < 2 ? 4 : page == 2 ? 2 : 0);
		if (got)
			snprintf(after, sizeof(after), "%s", s.keys[before + got - 1]);
	}
	assert_int_equal(s.n, 10);
	for (size_t i = 0; i < s.n; i++) {
		char want[8];
		snprintf(want, sizeof(want), "n%02zu", i + 1);
		assert_string_equal(s.keys[i], want);
	}
	registry_free(r);
}

static void test_after_missing_key(void **state)
{
	registry_t *r = fill();
	seen_t s = {{0}, 0};

	(void)state;
	/* The last key of a page was removed before the next page: the walk starts at the
	 * next greater key all the same. */
	registry_remove(r, "n04", (void *)(uintptr_t) "n04");
	assert_int_equal(registry_page(r, "n04", 2, collect, &s), 2);
	assert_string_equal(s.keys[0], "n05");
	assert_string_equal(s.keys[1], "n06");
	/* A key between pages that sorts before the position is not seen; one after is. */
	s.n = 0;
	assert_int_equal(registry_add(r, "n055", (void *)(uintptr_t) "n055"), 0);
	assert_int_equal(registry_page(r, "n05", 2, collect, &s), 2);
	assert_string_equal(s.keys[0], "n055");
	assert_string_equal(s.keys[1], "n06");
	/* NULL or "" starts at the first; after the last, nothing; limit 0 runs nothing. */
	s.n = 0;
	assert_int_equal(registry_page(r, NULL, 1, collect, &s), 1);
	assert_string_equal(s.keys[0], "n01");
	assert_int_equal(registry_page(r, "", 1, collect, &s), 1);
	assert_int_equal(registry_page(r, "n10", 5, collect, &s), 0);
	assert_int_equal(registry_page(r, "zzz", 5, collect, &s), 0);
	assert_int_equal(registry_page(r, "", 0, collect, &s), 0);
	registry_free(r);
}

static void test_empty(void **state)
{
	registry_t *r = registry_new();
	seen_t s = {{0}, 0};

	(void)state;
	assert_int_equal(registry_page(r, "", 100, collect, &s), 0);
	assert_int_equal(registry_page(r, "x", 100, collect, &s), 0);
	registry_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pages_in_order),
	    cmocka_unit_test(test_after_missing_key),
	    cmocka_unit_test(test_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

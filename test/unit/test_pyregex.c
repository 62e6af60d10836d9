/* Unit tests for common/pyregex: the translation of Python re patterns agrees with Python's
 * re.fullmatch and refuses what it cannot translate, and re.escape gives Python's text and a
 * pattern that matches exactly the escaped string. */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/base/buf.h"
#include "common/base/err.h"
#include "common/policy/pyregex.h"

int main(void);

/* Expected results from Python 3's re.fullmatch (the engine Keylime uses). */
static const struct {
	const char *pattern; /* Python re */
	const char *subject; /* string */
	int match;           /* re.fullmatch(pattern, subject) is not None */
} regex_vectors[] = {
    {"kernel_cmdline: \\(hd0,gpt2\\)/vmlinuz\\-5\\.14 ro\\ quiet",
     "kernel_cmdline: (hd0,gpt2)/vmlinuz-5.14 ro quiet", 1},
    {"kernel_cmdline: \\(hd0,gpt2\\)/vmlinuz\\-5\\.14 ro\\ quiet",
     "kernel_cmdline: (hd0,gpt2)/vmlinuz-5x14 ro quiet", 0},
    {"kernel_cmdline: .*", "kernel_cmdline: a\nb", 0},
    {"kernel_cmdline: .*", "kernel_cmdline: anything at all", 1},
    {"a|b", "a", 1},
    {"a|b", "ab", 0},
    {"x(?:ab)+y", "xababy", 1},
    {"x(?:ab)+y", "xaby ", 0},
    {"\\d{2,3}", "123", 1},
    {"\\d{2,3}", "1234", 0},
    {"\\d{,2}", "", 1},
    {"\\d{,2}", "12", 1},
    {"a{2}", "aa", 1},
    {"[a\\-z]+", "a-z", 1},
    {"[a\\-z]+", "b", 0},
    {"[^\\s]+", "abc", 1},
    {"[^\\s]+", "a c", 0},
    {"[\\w.]+", "a_b.c", 1},
    {"[]a]+", "]a]", 1},
    {"[\\]]", "]", 1},
    {"[\\^]", "^", 1},
    {"[^^]", "a", 1},
    {"[^^]", "^", 0},
    {"\\w+\\s\\W", "ab !", 1},
    {"\\S+", "a b", 0},
    {"a{x", "a{x", 1},
    {"a}", "a}", 1},
    {"a.*?b", "axxb", 1},
    {"ro\\ root=UUID=[0-9a-f\\-]+ quiet", "ro root=UUID=12ab-cd quiet", 1},
    {"[[]", "[", 1},
    {"[a-c-]+", "a-b-c", 1},
    {"\\.\\*\\+\\?\\(\\)\\[\\]\\{\\}\\|\\^\\$\\\\", ".*+?()[]{}|^$\\", 1},
    {"\\#\\&\\~\\,\\=\\:", "#&~,=:", 1},
    {"(a|b)*c", "ababc", 1},
    {"^abc$", "abc", 1},
    {"\\t", "\t", 1},
};

static void test_regex_translate(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(regex_vectors) / sizeof(regex_vectors[0]); i++) {
		buf_t out = BUF_INIT;
		err_t e = {""};
		regex_t re;
		if (pyregex_translate(regex_vectors[i].pattern, &out, &e) < 0)
			fail_msg("%s: %s", regex_vectors[i].pattern, e.msg);
		if (regcomp(&re, (char *)out.data, REG_EXTENDED | REG_NOSUB) != 0)
			fail_msg("%s -> %s does not compile", regex_vectors[i].pattern,
			         (char *)out.data);
		int m = regexec(&re, regex_vectors[i].subject, 0, NULL, 0) == 0;
		if (m != regex_vectors[i].match)
			fail_msg("%s (POSIX %s) on \"%s\": %d, Python says %d",
			         regex_vectors[i].pattern, (char *)out.data,
			         regex_vectors[i].subject, m, regex_vectors[i].match);
		regfree(&re);
		buf_free(&out);
	}
	static const char *const refused[] = {"(?=a)", "(?i)a", "\\1",    "\\b",   "a**", "*a",
	                                      "[a",    "\\x41", "a{3,1}", "[z-a]", "a\\", "[\\D]"};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		buf_t out = BUF_INIT;
		err_t e = {""};
		if (pyregex_translate(refused[i], &out, &e) == 0)
			fail_msg("%s was translated to %s", refused[i], (char *)out.data);
		assert_true(strncmp(e.msg, "regex: ", 7) == 0);
		buf_free(&out);
	}
}

/* re.escape's text, checked against Python 3.7+, and the escaped pattern matches exactly the
 * string it was made from: how a golden log's kernel command line becomes a policy. */
static void test_escape(void **state)
{
	static const struct {
		const char *in;  /* the literal text */
		const char *out; /* Python's re.escape(in) */
	} cases[] = {
	    {"ro quiet", "ro\\ quiet"},
	    {"a-b.c", "a\\-b\\.c"},
	    {"()[]{}?*+-|^$\\.&~# \t",
	     "\\(\\)\\[\\]\\{\\}\\?\\*\\+\\-\\|\\^\\$\\\\\\.\\&\\~\\#\\ \\\t"},
	    {"root=UUID=12ab,x:y/z_\"'%@!<>", "root=UUID=12ab,x:y/z_\"'%@!<>"},
	    {"BOOT_IMAGE=(hd0,gpt2)/vmlinuz-5.14.0 root=/dev/vda2 crashkernel=1G-4G:192M",
	     "BOOT_IMAGE=\\(hd0,gpt2\\)/vmlinuz\\-5\\.14\\.0\\ root=/dev/vda2\\ "
	     "crashkernel=1G\\-4G:192M"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *in = cases[i].in;
		buf_t esc = BUF_INIT, re = BUF_INIT;
		err_t e = {""};
		regex_t rx;
		pyregex_escape((const uint8_t *)in, strlen(in), &esc);
		assert_string_equal((char *)esc.data, cases[i].out);
		if (pyregex_translate((char *)esc.data, &re, &e) < 0)
			fail_msg("%s: %s", (char *)esc.data, e.msg);
		if (regcomp(&rx, (char *)re.data, REG_EXTENDED | REG_NOSUB) != 0)
			fail_msg("%s -> %s does not compile", (char *)esc.data, (char *)re.data);
		assert_int_equal(regexec(&rx, in, 0, NULL, 0), 0);
		/* One byte changed, one dropped: neither matches. */
		char *other = strdup(in);
		other[0] = other[0] == 'x' ? 'y' : 'x';
		assert_int_not_equal(regexec(&rx, other, 0, NULL, 0), 0);
		free(other);
		other = strdup(in + 1);
		assert_int_not_equal(regexec(&rx, other, 0, NULL, 0), 0);
		free(other);
		regfree(&rx);
		buf_free(&re);
		buf_free(&esc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_regex_translate),
	    cmocka_unit_test(test_escape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* pyregex: the Python re dialect Keylime's policies are written in, both ways: translation of
 * a Python pattern into a POSIX extended regex with the same fullmatch meaning (what
 * measured-boot refstates carry), and Python's re.escape (what policy generation writes).
 * Keylime evaluates these patterns with Python's re; we compile the translation with the C
 * library's regcomp, so the dialect is handled in one place, apart from any one policy.
 */
#ifndef VIGIL_PYREGEX_H
#define VIGIL_PYREGEX_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/buf.h"
#include "common/base/err.h"

/* Translate a Python re pattern (py, NUL-terminated, borrowed) into an anchored POSIX
 * extended regex with the same fullmatch meaning, appended to out. Supports literals and
 * escapes, classes (\d \s \w and negations), bracket sets, groups, (?:...), alternation,
 * greedy and lazy quantifiers; refuses lookaround, backreferences and inline flags. 0, or
 * -1 with the reason in e ("regex: ..."); out may then hold a partial translation. */
int pyregex_translate(const char *py, buf_t *out, err_t *e);

/* Python's re.escape (3.7+) of n bytes at s (borrowed), appended to out: a backslash before
 * ()[]{}?*+-|^$\.&~# and whitespace. The result, as a Python pattern, fullmatches exactly
 * those bytes. */
void pyregex_escape(const uint8_t *s, size_t n, buf_t *out);

#endif

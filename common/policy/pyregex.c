/* pyregex: Python re -> POSIX ERE, and Python's re.escape. See pyregex.h. */
#include <ctype.h>
#include <string.h>

#include "common/policy/pyregex.h"

/* One character of a [] set, after an escape if any. Returns the byte, or -1 after setting
 * *cls (1 digit, 2 space, 3 word) for a class escape, or -2 on error. */
static int set_char(const char *py, size_t *i, int *cls, err_t *e)
{
	unsigned char c = (unsigned char)py[*i];

	if (c >= 0x80) {
		err_set(e, "regex: non-ASCII characters in a [] set are not supported");
		return -2;
	}
	if (c != '\\') {
		(*i)++;
		return c;
	}
	unsigned char esc = (unsigned char)py[*i + 1];
	if (esc == 0) {
		err_set(e, "regex: unterminated escape in a [] set");
		return -2;
	}
	*i += 2;
	switch (esc) {
	case 'd':
		*cls = 1;
		return -1;
	case 's':
		*cls = 2;
		return -1;
	case 'w':
		*cls = 3;
		return -1;
	case 'n':
		return '\n';
	case 't':
		return '\t';
	case 'r':
		return '\r';
	case 'f':
		return '\f';
	case 'v':
		return '\v';
	default:
		if (isalnum(esc) || esc >= 0x80) {
			err_set(e, "regex: unsupported escape \\%c in a [] set", esc);
			return -2;
		}
		return esc;
	}
}

static int translate_set(const char *py, size_t *ip, buf_t *out, err_t *e)
{
	uint8_t in[256] = {0};
	int neg = 0, first = 1, classes[4] = {0}, nchars = 0;
	size_t i = *ip + 1;

	if (py[i] == '^') {
		neg = 1;
		i++;
	}
	for (;;) {
		if (py[i] == 0) {
			err_set(e, "regex: unterminated [ set");
			return -1;
		}
		if (py[i] == ']' && !first) {
			i++;
			break;
		}
		first = 0;
		int cls = 0, lo = set_char(py, &i, &cls, e);
		if (lo == -2)
			return -1;
		if (lo == -1) {
			classes[cls] = 1;
			continue;
		}
		int hi = lo;
		if (py[i] == '-' && py[i + 1] != ']' && py[i + 1] != 0) {
			i++;
			hi = set_char(py, &i, &cls, e);
			if (hi == -2)
				return -1;
			if (hi == -1 || hi < lo) {
				err_set(e, "regex: bad range in a [] set");
				return -1;
			}
		}
		for (int c = lo; c <= hi; c++)
			in[c] = 1;
	}
	for (int c = 0; c < 256; c++)
		nchars += in[c];
	/* [^] would be a negation in POSIX: a set of only ^ is written as an escape. */
	if (!neg && nchars == 1 && in['^'] && !classes[1] && !classes[2] && !classes[3]) {
		buf_append_str(out, "\\^");
		*ip = i;
		return 0;
	}
	/* POSIX: ] first, [ never before : . =, ^ never first, - last. */
	buf_append_str(out, neg ? "[^" : "[");
	if (in[']'])
		buf_append_str(out, "]");
	if (classes[1])
		buf_append_str(out, "[:digit:]");
	if (classes[2])
		buf_append_str(out, "[:space:]");
	if (classes[3])
		buf_append_str(out, "[:alnum:]_");
	for (int c = 1; c < 256; c++)
		if (in[c] && c != ']' && c != '[' && c != '^' && c != '-') {
			char ch = (char)c;
			buf_append(out, &ch, 1);
		}
	if (in['['])
		buf_append_str(out, "[");
	if (in['^'])
		buf_append_str(out, "^");
	if (in['-'])
		buf_append_str(out, "-");
	buf_append_str(out, "]");
	*ip = i;
	return 0;
}

/* {m}, {m,}, {m,n}, {,n}: the length of a valid quantifier at py, or 0 (then { is a literal,
 * as in Python). Bounds land in *lo and *hi (-1: none). */
static size_t parse_braces(const char *py, long *lo, long *hi)
{
	size_t i = 1;
	long a = -1, b = -1;
	int comma = 0;

	while (isdigit((unsigned char)py[i])) {
		a = (a < 0 ? 0 : a) * 10 + (py[i++] - '0');
		if (a > 100000)
			return 0;
	}
	if (py[i] == ',') {
		comma = 1;
		i++;
		while (isdigit((unsigned char)py[i])) {
			b = (b < 0 ? 0 : b) * 10 + (py[i++] - '0');
			if (b > 100000)
				return 0;
		}
	}
	if (py[i] != '}' || (a < 0 && b < 0))
		return 0;
	*lo = a < 0 ? 0 : a;
	*hi = comma ? b : *lo;
	return i + 1;
}

int pyregex_translate(const char *py, buf_t *out, err_t *e)
{
	size_t i = 0;
	int after_quant = 0, can_repeat = 0;

	buf_append_str(out, "^(");
	while (py[i] != 0) {
		unsigned char c = (unsigned char)py[i];
		int quant = 0, atom = 1;
		if (c == '\\') {
			unsigned char esc = (unsigned char)py[i + 1];
			if (esc == 0) {
				err_set(e, "regex: trailing backslash");
				return -1;
			}
			i += 2;
			if (strchr(".^$*+?{}[]()|\\", esc) != NULL) {
				char t[3] = {'\\', (char)esc, 0};
				buf_append_str(out, t);
			} else if (esc == 'd') {
				buf_append_str(out, "[0-9]");
			} else if (esc == 'D') {
				buf_append_str(out, "[^0-9]");
			} else if (esc == 's') {
				buf_append_str(out, "[[:space:]]");
			} else if (esc == 'S') {
				buf_append_str(out, "[^[:space:]]");
			} else if (esc == 'w') {
				buf_append_str(out, "[[:alnum:]_]");
			} else if (esc == 'W') {
				buf_append_str(out, "[^[:alnum:]_]");
			} else if (esc == 'n' || esc == 't' || esc == 'r' || esc == 'f' ||
			           esc == 'v') {
				char t = esc == 'n'   ? '\n'
				         : esc == 't' ? '\t'
				         : esc == 'r' ? '\r'
				         : esc == 'f' ? '\f'
				                      : '\v';
				buf_append(out, &t, 1);
			} else if (isalnum(esc) || esc >= 0x80) {
				err_set(e, "regex: unsupported escape \\%c", esc);
				return -1;
			} else {
				char t = (char)esc; /* escaped punctuation or space: a literal */
				buf_append(out, &t, 1);
			}
		} else if (c == '.') {
			buf_append_str(out, "[^\n]"); /* Python's . stops at newlines (no DOTALL) */
			i++;
		} else if (c == '[') {
			if (translate_set(py, &i, out, e) < 0)
				return -1;
		} else if (c == '(') {
			if (py[i + 1] == '?') {
				if (py[i + 2] != ':') {
					err_set(e, "regex: (?%c...) groups are not supported",
					        py[i + 2]);
					return -1;
				}
				i += 3;
			} else {
				i++;
			}
			buf_append_str(out, "(");
			atom = 0;
		} else if (c == ')' || c == '|' || c == '^' || c == '$') {
			char t = (char)c;
			buf_append(out, &t, 1);
			i++;
			atom = c == ')';
		} else if (c == '*' || c == '+' || c == '?') {
			if (after_quant) {
				if (c != '?') {
					err_set(e, "regex: multiple repeat at position %zu", i);
					return -1;
				}
				i++; /* lazy: same fullmatch result as greedy */
				after_quant = 0;
				continue;
			}
			if (!can_repeat) {
				err_set(e, "regex: nothing to repeat at position %zu", i);
				return -1;
			}
			char t = (char)c;
			buf_append(out, &t, 1);
			i++;
			quant = 1;
		} else if (c == '{') {
			long lo, hi;
			size_t n = parse_braces(py + i, &lo, &hi);
			if (n == 0) {
				buf_append_str(out, "\\{");
				i++;
			} else {
				if (after_quant) {
					err_set(e, "regex: multiple repeat at position %zu", i);
					return -1;
				}
				if (!can_repeat) {
					err_set(e, "regex: nothing to repeat at position %zu", i);
					return -1;
				}
				if (lo > 255 || hi > 255 || (hi >= 0 && hi < lo)) {
					err_set(e, "regex: bad repeat bounds at position %zu", i);
					return -1;
				}
				if (hi < 0)
					buf_appendf(out, "{%ld,}", lo);
				else
					buf_appendf(out, "{%ld,%ld}", lo, hi);
				i += n;
				quant = 1;
			}
		} else if (c == '}') {
			buf_append_str(out, "[}]");
			i++;
		} else {
			char t = (char)c;
			buf_append(out, &t, 1);
			i++;
		}
		after_quant = quant;
		can_repeat = quant ? 0 : atom;
	}
	buf_append_str(out, ")$");
	return 0;
}
void pyregex_escape(const uint8_t *s, size_t n, buf_t *out)
{
	for (size_t i = 0; i < n; i++) {
		if (strchr("()[]{}?*+-|^$\\.&~# \t\n\r\v\f", s[i]) != NULL && s[i] != 0)
			buf_append_str(out, "\\");
		buf_append(out, s + i, 1);
	}
}

/* answer: the agent's quote answer, scanned without a JSON tree (see answer.h).
 *
 * One iterative pass over the body with an explicit stack of open containers. What is
 * refused is what jansson (2.14, JSON_REJECT_DUPLICATES, no JSON_DECODE_ANY) refuses, so
 * that the verifier's verdict on any answer is the one it gave with a tree parser; the
 * differential unit test and fuzz target (test_verifier_answer, fuzz_verifier_answer_scan)
 * hold the two side by side. Duplicate keys are found with a seeded hash table over
 * (object, key), so an object of many keys costs linear time. */
#include "verifier/answer.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "common/base/xmalloc.h"

#define ANSWER_MAX_DEPTH   2048 /* jansson's JSON_PARSER_MAX_DEPTH: values nest this deep */
#define ANSWER_KEYS_INLINE 64   /* key slots held in the scanner itself (no malloc) */

static const char *const answer_names[ANSWER_NFIELDS] = {
    [ANSWER_QUOTE] = "quote",
    [ANSWER_HASH_ALG] = "hash_alg",
    [ANSWER_SIGN_ALG] = "sign_alg",
    [ANSWER_PUBKEY] = "pubkey",
    [ANSWER_IMA_LIST] = "ima_measurement_list",
    [ANSWER_MB_LIST] = "mb_measurement_list",
};

/* What the value after the current key is to us. */
enum { T_NONE = -1, T_RESULTS = -2, T_ENTRY = -3 }; /* >= 0: an answer_field_t */

typedef struct key_slot {
	uint32_t obj;  /* serial of the object the key is in; 0: slot free */
	uint32_t hash; /* hash of the key's text */
	size_t off;    /* the text: offset in the body, or in arena when in_arena */
	size_t len;    /* its length */
	int in_arena;  /* the key had escapes; its text is in the arena */
} key_slot_t;

typedef struct scan {
	const uint8_t *p;                           /* next byte */
	const uint8_t *start;                       /* the body */
	const uint8_t *end;                         /* one past its last byte */
	err_t *e;                                   /* where the reason goes */
	key_slot_t inline_keys[ANSWER_KEYS_INLINE]; /* the first key table */
	key_slot_t *keys;                           /* the key table: inline_keys or heap */
	size_t nkeys, cap;                          /* keys held, slots (a power of 2) */
	buf_t arena;                                /* texts of escaped keys */
	buf_t num;                                  /* a real number's text, for strtod */
} scan_t;

static uint64_t answer_seed; /* keys the key hash; set once per process */
static pthread_once_t answer_seed_once = PTHREAD_ONCE_INIT;

static void answer_seed_init(void)
{
	if (RAND_bytes((unsigned char *)&answer_seed, sizeof(answer_seed)) != 1)
		answer_seed = 0x5bd1e9955bd1e995ull; /* only the resistance to collisions is lost */
}

static int scan_fail(scan_t *s, const char *what)
{
	err_set(s->e, "%s at byte %zu", what, (size_t)(s->p - s->start));
	return -1;
}

static void scan_ws(scan_t *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
		s->p++;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The 4 hex digits at p (p + 4 <= end), or -1. */
static long hex4(const uint8_t *p)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		int d = hexval(p[i]);
		if (d < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

/* Length of the valid UTF-8 sequence (2-4 bytes) at p, or 0: shortest form, no
 * surrogates, nothing above U+10FFFF. */
static size_t utf8_seq(const uint8_t *p, const uint8_t *end)
{
	unsigned c = p[0];
	size_t n;
	uint32_t v;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2, v = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, v = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, v = c & 0x07;
	else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (p[i] & 0x3f);
	}
	if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff) || (n == 3 && v < 0x800) ||
	    (n == 4 && v < 0x10000))
		return 0;
	return n;
}

/* 1 for the bytes a string holds as they are: printable ASCII but '"' and '\\'. A table,
 * because this loop reads every byte of the answer. */
static const uint8_t answer_plain[256] = {
#define P1(c)  [c] = (c) != '"' && (c) != '\\'
#define P4(c)  P1(c), P1(c + 1), P1(c + 2), P1(c + 3)
#define P16(c) P4(c), P4(c + 4), P4(c + 8), P4(c + 12)
    P16(0x20), P16(0x30), P16(0x40), P16(0x50), P16(0x60), P16(0x70),
#undef P16
#undef P4
#undef P1
};

/* A string from its opening quote: checked, its span in *raw and *len (quotes excluded),
 * s->p past the closing quote. */
static int scan_string(scan_t *s, const uint8_t **raw, size_t *len, int *escaped)
{
	const uint8_t *p = s->p + 1, *end = s->end;

	*escaped = 0;
	for (;;) {
		/* The common bytes: printable ASCII other than the quote and backslash. */
		while (p < end && answer_plain[*p])
			p++;
		if (p >= end) {
			s->p = p;
			return scan_fail(s, "unterminated string");
		}
		if (*p == '"')
			break;
		if (*p < 0x20) {
			s->p = p;
			return scan_fail(s, "control character in a string");
		}
		if (*p >= 0x80) {
			size_t n = utf8_seq(p, end);
			if (n == 0) {
				s->p = p;
				return scan_fail(s, "invalid UTF-8 in a string");
			}
			p += n;
			continue;
		}
		/* A backslash. */
		*escaped = 1;
		if (end - p < 2) {
			s->p = p;
			return scan_fail(s, "unterminated string");
		}
		switch (p[1]) {
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			p += 2;
			continue;
		case 'u':
			break;
		default:
			s->p = p;
			return scan_fail(s, "invalid escape in a string");
		}
		long u = end - p >= 6 ? hex4(p + 2) : -1;
		if (u < 0 || u == 0 || (u >= 0xdc00 && u <= 0xdfff)) {
			s->p = p;
			return scan_fail(s, u == 0 ? "\\u0000 in a string" : "invalid \\u escape");
		}
		p += 6;
		if (u >= 0xd800 && u <= 0xdbff) {
			long lo = end - p >= 6 && p[0] == '\\' && p[1] == 'u' ? hex4(p + 2) : -1;
			if (lo < 0xdc00 || lo > 0xdfff) {
				s->p = p;
				return scan_fail(s, "unpaired surrogate in a \\u escape");
			}
			p += 6;
		}
	}
	*raw = s->p + 1;
	*len = (size_t)(p - *raw);
	s->p = p + 1;
	return 0;
}

/* Unescape a checked string's bytes into out (room for len bytes); its length. */
static size_t unescape(const char *raw, size_t len, char *out)
{
	const char *p = raw, *end = raw + len;
	char *o = out;

	while (p < end) {
		const char *b = memchr(p, '\\', (size_t)(end - p));
		if (b == NULL)
			b = end;
		memcpy(o, p, (size_t)(b - p));
		o += b - p;
		p = b;
		if (p >= end)
			break;
		switch (p[1]) {
		case 'b':
			*o++ = '\b';
			break;
		case 'f':
			*o++ = '\f';
			break;
		case 'n':
			*o++ = '\n';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'u': {
			uint32_t u = (uint32_t)hex4((const uint8_t *)p + 2);
			if (u >= 0xd800 && u <= 0xdbff) {
				u = 0x10000 + ((u - 0xd800) << 10) +
				    ((uint32_t)hex4((const uint8_t *)p + 8) - 0xdc00);
				p += 6;
			}
			if (u < 0x80) {
				*o++ = (char)u;
			} else if (u < 0x800) {
				*o++ = (char)(0xc0 | u >> 6);
				*o++ = (char)(0x80 | (u & 0x3f));
			} else if (u < 0x10000) {
				*o++ = (char)(0xe0 | u >> 12);
				*o++ = (char)(0x80 | ((u >> 6) & 0x3f));
				*o++ = (char)(0x80 | (u & 0x3f));
			} else {
				*o++ = (char)(0xf0 | u >> 18);
				*o++ = (char)(0x80 | ((u >> 12) & 0x3f));
				*o++ = (char)(0x80 | ((u >> 6) & 0x3f));
				*o++ = (char)(0x80 | (u & 0x3f));
			}
			p += 6;
			continue;
		}
		default: /* '"', '\\', '/' */
			*o++ = p[1];
			break;
		}
		p += 2;
	}
	return (size_t)(o - out);
}

/* A number from its first byte, as jansson reads it: -?(0|[1-9][0-9]*)(.[0-9]+)?
 * ([eE][+-]?[0-9]+)?; an integer must fit a long long (*v) and a real must not
 * overflow a double. *is_int says which it was. */
static int scan_number(scan_t *s, int *is_int, long long *v)
{
	const uint8_t *p = s->p, *end = s->end, *b = p;
	int neg = 0, real = 0;
	unsigned long long acc = 0, lim;
	int over = 0;

	if (*p == '-') {
		neg = 1;
		p++;
	}
	if (p >= end || *p < '0' || *p > '9')
		return scan_fail(s, "invalid number");
	lim = neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
	if (*p == '0') {
		p++;
		if (p < end && *p >= '0' && *p <= '9')
			return scan_fail(s, "invalid number (leading zero)");
	} else {
		for (; p < end && *p >= '0' && *p <= '9'; p++) {
			unsigned d = (unsigned)(*p - '0');
			if (acc > (lim - d) / 10)
				over = 1;
			else
				acc = acc * 10 + d;
		}
	}
	if (p < end && *p == '.') {
		real = 1;
		p++;
		if (p >= end || *p < '0' || *p > '9') {
			s->p = p;
			return scan_fail(s, "invalid number");
		}
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		real = 1;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || *p < '0' || *p > '9') {
			s->p = p;
			return scan_fail(s, "invalid number");
		}
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (!real) {
		if (over)
			return scan_fail(s, "integer out of range");
		*is_int = 1;
		*v = neg ? (acc == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)acc)
		         : (long long)acc;
	} else {
		double d;
		buf_set(&s->num, b, (size_t)(p - b));
		errno = 0;
		d = strtod((const char *)s->num.data, NULL);
		if (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL))
			return scan_fail(s, "real number overflow");
		*is_int = 0;
	}
	s->p = p;
	return 0;
}

/* true, false or null: jansson reads a whole run of letters as one word. */
static int scan_literal(scan_t *s)
{
	const uint8_t *p = s->p;
	size_t n;

	while (p < s->end && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		p++;
	n = (size_t)(p - s->p);
	if (!((n == 4 && memcmp(s->p, "true", 4) == 0) ||
	      (n == 5 && memcmp(s->p, "false", 5) == 0) ||
	      (n == 4 && memcmp(s->p, "null", 4) == 0)))
		return scan_fail(s, "invalid literal");
	s->p = p;
	return 0;
}

static uint32_t key_hash(uint32_t obj, const char *k, size_t len)
{
	uint64_t h = answer_seed ^ ((uint64_t)obj * 0x9e3779b97f4a7c15ull);

	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)k[i];
		h *= 0x100000001b3ull;
		h ^= h >> 29;
	}
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ull;
	return (uint32_t)(h ^ h >> 32);
}

static const char *key_text(const scan_t *s, const key_slot_t *k)
{
	return k->in_arena ? (const char *)s->arena.data + k->off : (const char *)s->start + k->off;
}

static void keys_grow(scan_t *s)
{
	size_t ncap = s->cap * 2;
	key_slot_t *nk = xcalloc(ncap, sizeof(*nk));

	for (size_t i = 0; i < s->cap; i++) {
		if (s->keys[i].obj == 0)
			continue;
		size_t j = s->keys[i].hash & (ncap - 1);
		while (nk[j].obj != 0)
			j = (j + 1) & (ncap - 1);
		nk[j] = s->keys[i];
	}
	if (s->keys != s->inline_keys)
		free(s->keys);
	s->keys = nk;
	s->cap = ncap;
}

/* Remember key k (text at off, in the body or the arena) of object obj. -1: a
 * duplicate. */
static int keys_add(scan_t *s, uint32_t obj, size_t off, size_t len, int in_arena)
{
	key_slot_t k = {obj, 0, off, len, in_arena};
	const char *t = key_text(s, &k);
	size_t j;

	k.hash = key_hash(obj, t, len);
	if ((s->nkeys + 1) * 2 > s->cap)
		keys_grow(s);
	for (j = k.hash & (s->cap - 1); s->keys[j].obj != 0; j = (j + 1) & (s->cap - 1)) {
		const key_slot_t *o = &s->keys[j];
		if (o->obj == obj && o->hash == k.hash && o->len == len &&
		    memcmp(key_text(s, o), t, len) == 0)
			return -1;
	}
	s->keys[j] = k;
	s->nkeys++;
	return 0;
}

/* The key at s->p (a string): checked, remembered in object obj, and *target set to
 * what its value is to us (depth: containers open; in_results: the innermost one is the
 * results object). */
static int scan_key(scan_t *s, uint32_t obj, size_t depth, int in_results, int *target)
{
	const uint8_t *raw;
	const char *t;
	size_t len, off;
	int esc, in_arena = 0;

	if (s->p >= s->end || *s->p != '"')
		return scan_fail(s, "string or '}' expected");
	if (scan_string(s, &raw, &len, &esc) < 0)
		return -1;
	off = (size_t)(raw - s->start);
	if (esc) {
		off = s->arena.len;
		buf_reserve(&s->arena, len);
		len = unescape((const char *)raw, len, (char *)s->arena.data + off);
		s->arena.len += len;
		in_arena = 1;
		if (memchr(s->arena.data + off, '\0', len) != NULL)
			return scan_fail(s, "NUL in an object key");
	}
	if (keys_add(s, obj, off, len, in_arena) < 0)
		return scan_fail(s, "duplicate object key");
	t = in_arena ? (const char *)s->arena.data + off : (const char *)raw;
	*target = T_NONE;
	if (depth == 1 && len == 7 && memcmp(t, "results", 7) == 0) {
		*target = T_RESULTS;
	} else if (depth == 2 && in_results) {
		if (len == 26 && memcmp(t, "ima_measurement_list_entry", 26) == 0)
			*target = T_ENTRY;
		for (int f = 0; f < ANSWER_NFIELDS; f++)
			if (strlen(answer_names[f]) == len && memcmp(t, answer_names[f], len) == 0)
				*target = f;
	}
	scan_ws(s);
	if (s->p >= s->end || *s->p != ':')
		return scan_fail(s, "':' expected");
	s->p++;
	scan_ws(s);
	return 0;
}

int answer_scan(answer_t *a, const uint8_t *body, size_t len, err_t *e)
{
	uint8_t is_obj[ANSWER_MAX_DEPTH];  /* per open container: 1 object, 0 array */
	uint32_t serial[ANSWER_MAX_DEPTH]; /* and each object's serial (keys are per object) */
	scan_t s;
	size_t depth = 0, results_depth = 0;
	uint32_t nobj = 0;
	int target = T_NONE, rv = -1;

	memset(a, 0, sizeof(*a));
	pthread_once(&answer_seed_once, answer_seed_init);
	s.p = s.start = body;
	s.end = body + len;
	s.e = e;
	s.keys = s.inline_keys;
	s.cap = ANSWER_KEYS_INLINE;
	s.nkeys = 0;
	memset(s.inline_keys, 0, sizeof(s.inline_keys));
	s.arena = (buf_t)BUF_INIT;
	s.num = (buf_t)BUF_INIT;

	scan_ws(&s);
	if (s.p >= s.end || (*s.p != '{' && *s.p != '[')) {
		scan_fail(&s, "'[' or '{' expected");
		goto out;
	}
	for (;;) {
		/* A value starts at s.p. */
		if (s.p >= s.end) {
			scan_fail(&s, "value expected");
			goto out;
		}
		if (depth + 1 > ANSWER_MAX_DEPTH) {
			scan_fail(&s, "nested too deep");
			goto out;
		}
		if (*s.p == '{' || *s.p == '[') {
			int obj = *s.p == '{';
			is_obj[depth] = (uint8_t)obj;
			serial[depth] = obj ? ++nobj : 0;
			depth++;
			if (obj && target == T_RESULTS) {
				results_depth = depth;
				a->has_results = 1;
			}
			s.p++;
			scan_ws(&s);
			if (s.p < s.end && *s.p == (obj ? '}' : ']')) {
				s.p++;
				if (depth-- == results_depth)
					results_depth =
					    0; /* results is closed; nothing else is it */
			} else if (obj) {
				if (scan_key(&s, serial[depth - 1], depth, results_depth == depth,
				             &target) < 0)
					goto out;
				continue;
			} else {
				target = T_NONE;
				continue;
			}
		} else if (*s.p == '"') {
			const uint8_t *raw;
			size_t n;
			int esc;
			if (scan_string(&s, &raw, &n, &esc) < 0)
				goto out;
			if (target >= 0) {
				a->field[target].raw = (const char *)raw;
				a->field[target].len = n;
				a->field[target].escaped = esc;
			}
		} else if (*s.p == '-' || (*s.p >= '0' && *s.p <= '9')) {
			int is_int;
			long long v;
			if (scan_number(&s, &is_int, &v) < 0)
				goto out;
			if (target == T_ENTRY && is_int) {
				a->entry_is_integer = 1;
				a->entry = v;
			}
		} else if ((*s.p >= 'a' && *s.p <= 'z') || (*s.p >= 'A' && *s.p <= 'Z')) {
			if (scan_literal(&s) < 0)
				goto out;
		} else {
			scan_fail(&s, "invalid token");
			goto out;
		}
		/* After a value: the next one in the container, or its end (then again). */
		for (;;) {
			scan_ws(&s);
			if (depth == 0) {
				if (s.p != s.end) {
					scan_fail(&s, "end of input expected");
					goto out;
				}
				rv = 0;
				goto out;
			}
			if (s.p < s.end && *s.p == ',') {
				s.p++;
				scan_ws(&s);
				break;
			}
			if (s.p < s.end && *s.p == (is_obj[depth - 1] ? '}' : ']')) {
				s.p++;
				if (depth-- == results_depth)
					results_depth = 0;
				continue;
			}
			scan_fail(&s, is_obj[depth - 1] ? "',' or '}' expected"
			                                : "',' or ']' expected");
			goto out;
		}
		if (is_obj[depth - 1]) {
			if (scan_key(&s, serial[depth - 1], depth, results_depth == depth,
			             &target) < 0)
				goto out;
		} else {
			target = T_NONE;
		}
	}
out:
	if (s.keys != s.inline_keys)
		free(s.keys);
	buf_free(&s.arena);
	buf_free(&s.num);
	if (rv < 0)
		memset(a, 0, sizeof(*a));
	return rv;
}

const char *answer_bytes(const answer_t *a, answer_field_t f, buf_t *scratch, size_t *len)
{
	const answer_span_t *sp = &a->field[f];

	if (sp->raw == NULL)
		return NULL;
	if (!sp->escaped) {
		*len = sp->len;
		return sp->raw;
	}
	if (answer_text(a, f, scratch) < 0)
		return NULL;
	*len = scratch->len;
	return (const char *)scratch->data;
}

int answer_text(const answer_t *a, answer_field_t f, buf_t *out)
{
	const answer_span_t *sp = &a->field[f];

	if (sp->raw == NULL)
		return -1;
	buf_reset(out);
	buf_reserve(out, sp->len);
	out->len = sp->escaped ? unescape(sp->raw, sp->len, (char *)out->data)
	                       : (memcpy(out->data, sp->raw, sp->len), sp->len);
	out->data[out->len] = 0;
	return 0;
}

long answer_copy(const answer_t *a, answer_field_t f, char *dst, size_t cap)
{
	const answer_span_t *sp = &a->field[f];
	char small[256];
	const char *t = sp->raw;
	size_t n = sp->len;

	if (sp->raw == NULL)
		return -1;
	if (sp->escaped) {
		/* Unescaped whole (never longer than raw), then cut. */
		char *tmp = sp->len <= sizeof(small) ? small : xmalloc(sp->len);
		n = unescape(sp->raw, sp->len, tmp);
		memcpy(dst, tmp, n < cap ? n : cap - 1);
		dst[n < cap ? n : cap - 1] = 0;
		if (tmp != small)
			free(tmp);
		return (long)n;
	}
	memcpy(dst, t, n < cap ? n : cap - 1);
	dst[n < cap ? n : cap - 1] = 0;
	return (long)n;
}

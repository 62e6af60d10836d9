/* quotes_query: see quotes_query.h. */
#include "common/evidence/quotes_query.h"

#include <string.h>

#include "common/base/buf.h"

/* ---- query ---- */

static int is_alnum(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int parse_nonce(const char *v, size_t n, quotes_query_t *q, err_t *e)
{
	if (n == 0 || n > QUOTES_NONCE_MAX) {
		err_set(e, "nonce must be 1 to %d characters", QUOTES_NONCE_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (!is_alnum((unsigned char)v[i])) {
			err_set(e, "nonce must be alphanumeric (A-Z, a-z, 0-9)");
			return -1;
		}
	memcpy(q->nonce, v, n);
	q->nonce[n] = '\0';
	q->nonce_len = n;
	return 0;
}

static int parse_mask(const char *v, size_t n, quotes_query_t *q, err_t *e)
{
	uint64_t m = 0;

	if (n >= 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X'))
		v += 2, n -= 2;
	if (n == 0 || n > 16) {
		err_set(e, "mask must be 1 to 16 hex digits, optionally after 0x");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		int d = hex_digit_value((unsigned char)v[i]);
		if (d < 0) {
			err_set(e, "mask must be hexadecimal");
			return -1;
		}
		m = (m << 4) | (uint64_t)d;
	}
	if (m & ~(uint64_t)QUOTES_PCR_MASK) {
		err_set(e, "mask selects PCRs above 23");
		return -1;
	}
	q->mask = (uint32_t)m;
	return 0;
}

static int parse_partial(const char *v, size_t n, quotes_query_t *q, err_t *e)
{
	if (n != 1 || (v[0] != '0' && v[0] != '1')) {
		err_set(e, "partial must be 0 or 1");
		return -1;
	}
	q->partial = v[0] == '1';
	return 0;
}

static int parse_entry(const char *v, size_t n, quotes_query_t *q, err_t *e)
{
	uint64_t x = 0;

	if (n == 0 || n > 13) {
		err_set(e, "ima_ml_entry must be a number up to %llu", QUOTES_ENTRY_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9') {
			err_set(e, "ima_ml_entry must be a decimal number");
			return -1;
		}
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (x > QUOTES_ENTRY_MAX) {
		err_set(e, "ima_ml_entry must be a number up to %llu", QUOTES_ENTRY_MAX);
		return -1;
	}
	q->ima_ml_entry = x;
	q->has_entry = 1;
	return 0;
}

/* One known parameter. */
typedef struct qparam {
	const char *name;                                                   /* as in the URL */
	int (*parse)(const char *v, size_t n, quotes_query_t *q, err_t *e); /* value parser */
	int integrity_only; /* ignored by the identity quote */
	int required;       /* must be present (in the kinds that take it) */
} qparam_t;

static const qparam_t qparams[] = {
    {"nonce", parse_nonce, 0, 1},
    {"mask", parse_mask, 1, 1},
    {"partial", parse_partial, 1, 1},
    {"ima_ml_entry", parse_entry, 1, 0},
};
#define NQPARAMS (sizeof(qparams) / sizeof(qparams[0]))

int quotes_query_parse(const char *qs, quotes_kind_t kind, quotes_query_t *q, err_t *e)
{
	int seen[NQPARAMS] = {0};
	const char *p = qs ? qs : "";
	size_t total = strlen(p);

	memset(q, 0, sizeof(*q));
	if (total > QUOTES_QUERY_MAX) {
		err_set(e, "query string longer than %d bytes", QUOTES_QUERY_MAX);
		return -1;
	}
	while (*p) {
		const char *amp = strchr(p, '&'), *eq;
		size_t len = amp ? (size_t)(amp - p) : strlen(p), nlen;

		eq = memchr(p, '=', len);
		nlen = eq ? (size_t)(eq - p) : len;
		for (size_t i = 0; i < NQPARAMS; i++) {
			const qparam_t *qp = &qparams[i];
			if (strlen(qp->name) != nlen || memcmp(qp->name, p, nlen) != 0)
				continue;
			if (qp->integrity_only && kind != QUOTES_INTEGRITY)
				break;
			if (seen[i]) {
				err_set(e, "%s given more than once", qp->name);
				return -1;
			}
			if (eq == NULL) {
				err_set(e, "%s without a value", qp->name);
				return -1;
			}
			seen[i] = 1;
			if (qp->parse(eq + 1, len - nlen - 1, q, e) < 0)
				return -1;
			break;
		}
		p += len;
		if (*p == '&')
			p++;
	}
	for (size_t i = 0; i < NQPARAMS; i++)
		if (qparams[i].required && !seen[i] &&
		    (!qparams[i].integrity_only || kind == QUOTES_INTEGRITY)) {
			err_set(e, "missing query parameter %s", qparams[i].name);
			return -1;
		}
	return 0;
}

/* ---- IMA list ---- */

size_t quotes_ima_slice(const char *text, size_t len, uint64_t entry, uint64_t *started)
{
	uint64_t line = 0;
	size_t off = 0;

	while (line < entry && off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		off = nl ? (size_t)(nl - text) + 1 : len;
		line++;
	}
	if (line < entry) { /* past the end: the whole list, as the Rust agent does */
		*started = 0;
		return 0;
	}
	*started = entry;
	return off;
}

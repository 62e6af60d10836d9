/* mb_policy: Keylime-format measured-boot reference state, judged like Keylime's "example"
 * policy engine. See mb_policy.h and docs/policies.md. */
#include <ctype.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "common/base/log.h"
#include "common/evidence/devpath.h"
#include "common/policy/mb_policy.h"
#include "common/base/xmalloc.h"

#define MAX_LIST           65536 /* entries in one key or digest list */
#define MAX_KERNELS        256   /* entries in kernels */
#define MAX_SCRTM          256   /* entries in scrtm_and_bios */
#define MAX_FIRMWARE       1024  /* entries in one platform_firmware list */
#define MAX_REGEX          4096  /* characters of a kernel_cmdline regex */
#define MAX_ALG_NAME       16    /* characters of a digest algorithm name */
#define MAX_DICT_ALGS      16    /* algorithms in one digest dict */
#define MAX_PLATFORM_FLAGS 4     /* EV_PLATFORM_CONFIG_FLAGS events edk2 may log */

/* One {alg: hex} pair of a digest dict; hex without 0x, lowercase. */
typedef struct dd_entry {
	char alg[MAX_ALG_NAME + 1]; /* "sha256" */
	char *hex;                  /* owned */
} dd_entry_t;

/* A digest dict: a digest passes when any pair equals one of the event's digests. */
typedef struct dd {
	dd_entry_t *v; /* owned array */
	size_t n;      /* entries */
} dd_t;

/* One EFI_SIGNATURE_DATA of a key list. */
typedef struct mb_sig {
	uint8_t owner[16]; /* SignatureOwner GUID bytes */
	uint8_t *data;     /* SignatureData, owned */
	size_t len;        /* its length */
} mb_sig_t;

/* A key list, sorted for binary search (by length, data, owner). */
typedef struct mb_sigset {
	mb_sig_t *v; /* owned array */
	size_t n;    /* entries */
} mb_sigset_t;

/* One allowed boot chain. Hex strings are lowercase without 0x; NULL when absent. */
typedef struct kernel {
	char *shim;    /* shim_authcode_sha256 */
	char *grub;    /* grub_authcode_sha256 */
	char *kernel;  /* kernel_authcode_sha256 (Secure Boot) */
	char *initrd;  /* initrd_plain_sha256 */
	char *vmlinuz; /* vmlinuz_plain_sha256 (no Secure Boot) */
	char *cmdline; /* kernel_cmdline, the policy's Python regex */
	regex_t re;    /* "kernel_cmdline: " + cmdline, translated and anchored */
	int re_ok;     /* re is compiled */
} kernel_t;

/* One allowed S-CRTM plus firmware blob sequence. */
typedef struct scrtm_bios {
	dd_t scrtm; /* digest of the one EV_S_CRTM_VERSION */
	dd_t *fw;   /* digests of the EV_EFI_PLATFORM_FIRMWARE_BLOB(2) events, in order */
	size_t nfw; /* entries in fw */
} scrtm_bios_t;

struct mb_policy {
	int empty;             /* {}: no measured-boot checking */
	int has_secureboot;    /* has_secureboot (default 1) */
	scrtm_bios_t *scrtm;   /* scrtm_and_bios */
	size_t nscrtm;         /* entries in scrtm */
	mb_sigset_t pk;        /* allowed PK entries */
	mb_sigset_t kek;       /* allowed KEK entries */
	mb_sigset_t db;        /* allowed db entries */
	mb_sigset_t dbx;       /* required dbx entries */
	mb_sigset_t vendor_db; /* allowed shim vendor_db entries */
	dd_t *mok;             /* mokdig */
	size_t nmok;           /* entries in mok */
	dd_t *mokx;            /* mokxdig */
	size_t nmokx;          /* entries in mokx */
	kernel_t *kernels;     /* kernels */
	size_t nkernels;       /* entries in kernels */
};

#define TEXT_MAX 88 /* a quoted log string or key in a reason, escaped (text_escape) */

/* Reasons quote log strings and policy keys, escaped where they enter (text_escape); this
 * last pass only guarantees that no byte a new message forgets can reach a terminal. */
static void text_clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

/* ---------------------------------------------------------------------------------------
 * Python re -> POSIX ERE
 * ------------------------------------------------------------------------------------- */

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

int mb_policy_regex_translate(const char *py, buf_t *out, err_t *e)
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

/* ---------------------------------------------------------------------------------------
 * Loading
 * ------------------------------------------------------------------------------------- */

static void dd_free(dd_t *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].hex);
	free(d->v);
	d->v = NULL;
	d->n = 0;
}

static void sigset_free(mb_sigset_t *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].data);
	free(s->v);
}

void mb_policy_free(mb_policy_t *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nscrtm; i++) {
		dd_free(&p->scrtm[i].scrtm);
		for (size_t j = 0; j < p->scrtm[i].nfw; j++)
			dd_free(&p->scrtm[i].fw[j]);
		free(p->scrtm[i].fw);
	}
	free(p->scrtm);
	sigset_free(&p->pk);
	sigset_free(&p->kek);
	sigset_free(&p->db);
	sigset_free(&p->dbx);
	sigset_free(&p->vendor_db);
	for (size_t i = 0; i < p->nmok; i++)
		dd_free(&p->mok[i]);
	free(p->mok);
	for (size_t i = 0; i < p->nmokx; i++)
		dd_free(&p->mokx[i]);
	free(p->mokx);
	for (size_t i = 0; i < p->nkernels; i++) {
		kernel_t *k = &p->kernels[i];
		free(k->shim);
		free(k->grub);
		free(k->kernel);
		free(k->initrd);
		free(k->vmlinuz);
		free(k->cmdline);
		if (k->re_ok)
			regfree(&k->re);
	}
	free(p->kernels);
	free(p);
}

/* Digest size in bytes for the algorithm names tpm2-tools prints; 0 when unknown. */
static size_t alg_name_size(const char *name)
{
	uint16_t alg;
	static const struct {
		uint16_t alg; /* TPM_ALG_ID */
		size_t size;  /* digest bytes */
	} sizes[] = {{EVENTLOG_ALG_SHA1, 20},
	             {EVENTLOG_ALG_SHA256, 32},
	             {EVENTLOG_ALG_SHA384, 48},
	             {EVENTLOG_ALG_SHA512, 64},
	             {EVENTLOG_ALG_SM3_256, 32},
	             {0x0027, 32},
	             {0x0028, 48},
	             {0x0029, 64}};
	if (eventlog_alg_from_name(name, &alg) < 0)
		return 0;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (sizes[i].alg == alg)
			return sizes[i].size;
	return 0;
}

/* "0x" then lowercase hex: returns the digits (caller frees) or NULL with e set. nbytes:
 * exact byte count required (0: any, but at least one digit); even: length must be even. */
static char *get_hex(json_t *v, const char *path, size_t nbytes, int even, err_t *e)
{
	const char *s;
	size_t n;

	if (!json_is_string(v)) {
		err_set(e, "%s: expected a string", path);
		return NULL;
	}
	s = json_string_value(v);
	n = json_string_length(v);
	if (n < 3 || s[0] != '0' || s[1] != 'x') {
		err_set(e, "%s: expected 0x followed by lowercase hex digits", path);
		return NULL;
	}
	for (size_t i = 2; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
			err_set(e, "%s: expected 0x followed by lowercase hex digits", path);
			return NULL;
		}
	if (nbytes && n - 2 != 2 * nbytes) {
		err_set(e, "%s: expected 0x and %zu lowercase hex digits, got %zu", path,
		        2 * nbytes, n - 2);
		return NULL;
	}
	if (even && (n - 2) % 2) {
		err_set(e, "%s: odd number of hex digits", path);
		return NULL;
	}
	return xstrndup(s + 2, n - 2);
}

static int load_dd(json_t *v, const char *path, dd_t *d, err_t *e)
{
	const char *k;
	json_t *x;

	if (!json_is_object(v)) {
		err_set(e, "%s: expected an object {alg: \"0x...\"}", path);
		return -1;
	}
	if (json_object_size(v) > MAX_DICT_ALGS) {
		err_set(e, "%s: more than %u algorithms", path, MAX_DICT_ALGS);
		return -1;
	}
	d->v = xcalloc(json_object_size(v) + 1, sizeof(*d->v));
	json_object_foreach(v, k, x)
	{
		char sub[160];
		size_t kl = strlen(k);
		if (kl == 0 || kl > MAX_ALG_NAME) {
			err_set(e, "%s: bad algorithm name", path);
			return -1;
		}
		for (size_t i = 0; i < kl; i++)
			if (!(islower((unsigned char)k[i]) || isdigit((unsigned char)k[i]) ||
			      k[i] == '_')) {
				err_set(e, "%s: bad algorithm name \"%.16s\"", path, k);
				return -1;
			}
		snprintf(sub, sizeof(sub), "%s.%s", path, k);
		char *hex = get_hex(x, sub, alg_name_size(k), 0, e);
		if (hex == NULL)
			return -1;
		memcpy(d->v[d->n].alg, k, kl + 1);
		d->v[d->n].hex = hex;
		d->n++;
	}
	return 0;
}

static int load_dd_list(json_t *v, const char *path, size_t max, dd_t **out, size_t *nout, err_t *e)
{
	if (!json_is_array(v)) {
		err_set(e, "%s: expected a list", path);
		return -1;
	}
	if (json_array_size(v) > max) {
		err_set(e, "%s: more than %zu entries", path, max);
		return -1;
	}
	*out = xcalloc(json_array_size(v) + 1, sizeof(**out));
	for (size_t i = 0; i < json_array_size(v); i++) {
		char sub[128];
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		(*nout)++;
		if (load_dd(json_array_get(v, i), sub, &(*out)[i], e) < 0)
			return -1;
	}
	return 0;
}

static int sig_cmp(const void *a, const void *b)
{
	const mb_sig_t *x = a, *y = b;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	int c = x->len ? memcmp(x->data, y->data, x->len) : 0;
	return c ? c : memcmp(x->owner, y->owner, 16);
}

static int sigset_has(const mb_sigset_t *s, const uint8_t owner[16], const uint8_t *data,
                      size_t len)
{
	mb_sig_t key;
	memcpy(key.owner, owner, 16);
	key.data = (uint8_t *)(uintptr_t)data; /* compared only, never written */
	key.len = len;
	return s->n && bsearch(&key, s->v, s->n, sizeof(*s->v), sig_cmp) != NULL;
}

static int load_sigs(json_t *v, const char *path, mb_sigset_t *s, err_t *e)
{
	if (!json_is_array(v)) {
		err_set(e, "%s: expected a list of {SignatureOwner, SignatureData}", path);
		return -1;
	}
	if (json_array_size(v) > MAX_LIST) {
		err_set(e, "%s: more than %u entries", path, MAX_LIST);
		return -1;
	}
	s->v = xcalloc(json_array_size(v) + 1, sizeof(*s->v));
	for (size_t i = 0; i < json_array_size(v); i++) {
		json_t *x = json_array_get(v, i), *o, *d;
		char sub[128];
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (!json_is_object(x) || json_object_size(x) != 2 ||
		    (o = json_object_get(x, "SignatureOwner")) == NULL ||
		    (d = json_object_get(x, "SignatureData")) == NULL) {
			err_set(e, "%s: expected exactly {SignatureOwner, SignatureData}", sub);
			return -1;
		}
		const char *os = json_string_value(o);
		uint8_t g[16];
		int upper = 0;
		for (const char *q = os; q && *q; q++)
			upper |= isupper((unsigned char)*q);
		if (os == NULL || upper || eventlog_guid_parse(os, g) < 0) {
			err_set(e, "%s.SignatureOwner: expected a lowercase GUID", sub);
			return -1;
		}
		snprintf(sub + strlen(sub), sizeof(sub) - strlen(sub), ".SignatureData");
		char *hex = get_hex(d, sub, 0, 1, e);
		if (hex == NULL)
			return -1;
		buf_t raw = BUF_INIT;
		hex_decode(&raw, hex, strlen(hex));
		free(hex);
		memcpy(s->v[s->n].owner, g, 16);
		s->v[s->n].len = raw.len;
		s->v[s->n].data = buf_steal(&raw, &s->v[s->n].len);
		s->n++;
	}
	qsort(s->v, s->n, sizeof(*s->v), sig_cmp);
	return 0;
}

static int load_kernel(json_t *v, const char *path, int has_sb, kernel_t *k, err_t *e)
{
	static const char *const names[] = {"shim_authcode_sha256", "grub_authcode_sha256",
	                                    "kernel_authcode_sha256", "initrd_plain_sha256",
	                                    "vmlinuz_plain_sha256"};
	char **slots[] = {&k->shim, &k->grub, &k->kernel, &k->initrd, &k->vmlinuz};
	const char *key;
	json_t *x;
	char sub[160];

	if (!json_is_object(v)) {
		err_set(e, "%s: expected an object", path);
		return -1;
	}
	json_object_foreach(v, key, x)
	{
		size_t i;
		snprintf(sub, sizeof(sub), "%s.%.40s", path, key);
		if (strcmp(key, "kernel_cmdline") == 0) {
			if (!json_is_string(x) || json_string_length(x) > MAX_REGEX ||
			    strlen(json_string_value(x)) != json_string_length(x)) {
				err_set(e, "%s: expected a regex string of at most %u characters",
				        sub, MAX_REGEX);
				return -1;
			}
			k->cmdline = xstrdup(json_string_value(x));
			continue;
		}
		for (i = 0; i < 5; i++)
			if (strcmp(key, names[i]) == 0)
				break;
		if (i == 5) {
			err_set(e, "%s: unknown key", sub);
			return -1;
		}
		if ((*slots[i] = get_hex(x, sub, 32, 0, e)) == NULL)
			return -1;
	}
	/* What Keylime requires for each mode. */
	const char *need[] = {"shim_authcode_sha256", "grub_authcode_sha256",
	                      has_sb ? "kernel_authcode_sha256" : "vmlinuz_plain_sha256",
	                      "initrd_plain_sha256", "kernel_cmdline"};
	const void *have[] = {k->shim, k->grub, has_sb ? k->kernel : k->vmlinuz, k->initrd,
	                      k->cmdline};
	for (size_t i = 0; i < 5; i++)
		if (have[i] == NULL) {
			err_set(e, "%s: missing %s (required when has_secureboot is %s)", path,
			        need[i], has_sb ? "true" : "false");
			return -1;
		}
	buf_t re = BUF_INIT;
	buf_t full = BUF_INIT;
	buf_append_str(&full, "kernel_cmdline: ");
	buf_append_str(&full, k->cmdline);
	snprintf(sub, sizeof(sub), "%s.kernel_cmdline", path);
	err_t why = {""};
	if (mb_policy_regex_translate((char *)full.data, &re, &why) < 0) {
		err_set(e, "%s: %s", sub, why.msg);
		goto bad;
	}
	int rc = regcomp(&k->re, (char *)re.data, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char msg[128];
		regerror(rc, &k->re, msg, sizeof(msg));
		err_set(e, "%s: invalid regex: %s", sub, msg);
		goto bad;
	}
	k->re_ok = 1;
	buf_free(&re);
	buf_free(&full);
	return 0;
bad:
	buf_free(&re);
	buf_free(&full);
	return -1;
}

static int load_scrtm(json_t *v, const char *path, scrtm_bios_t *s, err_t *e)
{
	const char *key;
	json_t *x, *sc = NULL, *fw = NULL;
	char sub[128];

	if (!json_is_object(v)) {
		err_set(e, "%s: expected an object {scrtm, platform_firmware}", path);
		return -1;
	}
	json_object_foreach(v, key, x)
	{
		if (strcmp(key, "scrtm") == 0)
			sc = x;
		else if (strcmp(key, "platform_firmware") == 0)
			fw = x;
		else {
			err_set(e, "%s.%.40s: unknown key", path, key);
			return -1;
		}
	}
	if (sc == NULL || fw == NULL) {
		err_set(e, "%s: needs both scrtm and platform_firmware", path);
		return -1;
	}
	snprintf(sub, sizeof(sub), "%s.scrtm", path);
	if (load_dd(sc, sub, &s->scrtm, e) < 0)
		return -1;
	snprintf(sub, sizeof(sub), "%s.platform_firmware", path);
	return load_dd_list(fw, sub, MAX_FIRMWARE, &s->fw, &s->nfw, e);
}

mb_policy_t *mb_policy_load(const char *text, size_t len, err_t *e)
{
	json_error_t jerr;
	json_t *root = NULL, *x;
	mb_policy_t *p = NULL;
	const char *key;
	static const char *const required[] = {"scrtm_and_bios", "pk",      "kek",    "db", "dbx",
	                                       "mokdig",         "mokxdig", "kernels"};

	if (len > MB_POLICY_MAX_SIZE) {
		err_set(e, "measured-boot policy is %zu bytes, more than the %u allowed", len,
		        MB_POLICY_MAX_SIZE);
		return NULL;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		err_set(e, "measured-boot policy is not valid JSON: %s (line %d)", jerr.text,
		        jerr.line);
		return NULL;
	}
	if (!json_is_object(root)) {
		err_set(e, "measured-boot policy must be a JSON object");
		goto fail;
	}
	p = xcalloc(1, sizeof(*p));
	p->has_secureboot = 1;
	if (json_object_size(root) == 0) {
		p->empty = 1;
		json_decref(root);
		return p;
	}
	json_object_foreach(root, key, x)
	{
		int known = strcmp(key, "has_secureboot") == 0 || strcmp(key, "vendor_db") == 0;
		for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
			known |= strcmp(key, required[i]) == 0;
		if (!known) {
			char t[TEXT_MAX];
			err_set(e, "measured-boot policy: unknown key \"%s\"",
			        text_escape(t, sizeof(t), key, strlen(key)));
			goto fail;
		}
	}
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (json_object_get(root, required[i]) == NULL) {
			err_set(e, "measured-boot policy: missing \"%s\"", required[i]);
			goto fail;
		}
	if ((x = json_object_get(root, "has_secureboot")) != NULL) {
		if (!json_is_boolean(x)) {
			err_set(e, "has_secureboot: expected true or false");
			goto fail;
		}
		p->has_secureboot = json_is_true(x);
	}
	x = json_object_get(root, "scrtm_and_bios");
	if (!json_is_array(x) || json_array_size(x) == 0 || json_array_size(x) > MAX_SCRTM) {
		err_set(e, "scrtm_and_bios: expected a list of 1 to %u entries", MAX_SCRTM);
		goto fail;
	}
	p->scrtm = xcalloc(json_array_size(x), sizeof(*p->scrtm));
	for (size_t i = 0; i < json_array_size(x); i++) {
		char sub[64];
		snprintf(sub, sizeof(sub), "scrtm_and_bios[%zu]", i);
		p->nscrtm++;
		if (load_scrtm(json_array_get(x, i), sub, &p->scrtm[i], e) < 0)
			goto fail;
	}
	if (load_sigs(json_object_get(root, "pk"), "pk", &p->pk, e) < 0 ||
	    load_sigs(json_object_get(root, "kek"), "kek", &p->kek, e) < 0 ||
	    load_sigs(json_object_get(root, "db"), "db", &p->db, e) < 0 ||
	    load_sigs(json_object_get(root, "dbx"), "dbx", &p->dbx, e) < 0)
		goto fail;
	if ((x = json_object_get(root, "vendor_db")) != NULL &&
	    load_sigs(x, "vendor_db", &p->vendor_db, e) < 0)
		goto fail;
	if (load_dd_list(json_object_get(root, "mokdig"), "mokdig", MAX_LIST, &p->mok, &p->nmok,
	                 e) < 0 ||
	    load_dd_list(json_object_get(root, "mokxdig"), "mokxdig", MAX_LIST, &p->mokx, &p->nmokx,
	                 e) < 0)
		goto fail;
	x = json_object_get(root, "kernels");
	if (!json_is_array(x) || json_array_size(x) == 0 || json_array_size(x) > MAX_KERNELS) {
		err_set(e, "kernels: expected a list of 1 to %u entries", MAX_KERNELS);
		goto fail;
	}
	p->kernels = xcalloc(json_array_size(x), sizeof(*p->kernels));
	for (size_t i = 0; i < json_array_size(x); i++) {
		char sub[64];
		snprintf(sub, sizeof(sub), "kernels[%zu]", i);
		p->nkernels++;
		if (load_kernel(json_array_get(x, i), sub, p->has_secureboot, &p->kernels[i], e) <
		    0)
			goto fail;
	}
	json_decref(root);
	return p;
fail:
	if (e != NULL)
		text_clean(e->msg);
	json_decref(root);
	mb_policy_free(p);
	return NULL;
}

int mb_policy_is_empty(const mb_policy_t *p)
{
	return p->empty;
}

int mb_policy_has_secureboot(const mb_policy_t *p)
{
	return p->has_secureboot;
}

/* ---------------------------------------------------------------------------------------
 * Evaluation
 * ------------------------------------------------------------------------------------- */

/* Pointers to events, collected while walking the log for the checks at the end. */
typedef struct evlist {
	const eventlog_event_t **v; /* owned array of borrowed events */
	size_t n;                   /* used entries */
	size_t cap;                 /* allocated entries */
} evlist_t;

static void evlist_add(evlist_t *l, const eventlog_event_t *ev)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = ev;
}

/* The state of one evaluation. */
typedef struct eval {
	const mb_policy_t *p;  /* the policy */
	mb_failure_t *f;       /* where the verdict goes (never NULL here) */
	unsigned once[24];     /* uses of each at-most-once rule, by ONCE_* */
	unsigned config_flags; /* EV_PLATFORM_CONFIG_FLAGS seen */
	evlist_t scrtm;        /* (0, EV_S_CRTM_VERSION) */
	evlist_t fw;           /* (0, EV_EFI_PLATFORM_FIRMWARE_BLOB/BLOB2) */
	evlist_t bsa;          /* (4, EV_EFI_BOOT_SERVICES_APPLICATION) */
	evlist_t initrd;       /* (9, EV_IPL) initrd/initramfs */
	evlist_t vmlinuz;      /* (9, EV_IPL) vmlinuz */
	evlist_t cmdline;      /* (8, EV_IPL) kernel_cmdline */
} eval_t;

enum {
	ONCE_MICROCODE,
	ONCE_HANDOFF,
	ONCE_HANDOFF2,
	ONCE_GPT,
	ONCE_PK,
	ONCE_KEK,
	ONCE_DB,
	ONCE_DBX,
	ONCE_VENDOR_DB,
	ONCE_AUTH_DB,
	ONCE_AUTH_VENDOR_DB,
	ONCE_SBAT,
	ONCE_SHIM,
	ONCE_MOK_TRUSTED_VAR,
	ONCE_MOK_RT,
	ONCE_MOK_TRUSTED_IPL,
};

static void type_str(uint32_t type, char *out, size_t n)
{
	const char *name = eventlog_type_name(type);
	if (name != NULL)
		snprintf(out, n, "%s", name);
	else
		snprintf(out, n, "event type 0x%08x", type);
}

static int fail_ev(eval_t *c, const eventlog_event_t *ev, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_ev(eval_t *c, const eventlog_event_t *ev, const char *fmt, ...)
{
	char why[512], t[48];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	type_str(ev->type, t, sizeof(t));
	c->f->event = ev->index;
	c->f->pcr = (int)ev->pcr;
	c->f->type = ev->type;
	snprintf(c->f->reason, sizeof(c->f->reason), "event %u (PCR %u, %s): %s", ev->index,
	         ev->pcr, t, why);
	return -1;
}

/* The event's digest of the named algorithm as lowercase hex in out (65+ bytes for
 * sha256); 0, or -1 when it has none. */
static int ev_hex(const eventlog_event_t *ev, const char *alg, char *out, size_t n)
{
	for (uint32_t i = 0; i < ev->ndigests; i++) {
		const char *name = eventlog_alg_name(ev->digests[i].alg);
		if (name == NULL || strcmp(name, alg) != 0 || n < 2u * ev->digests[i].len + 1)
			continue;
		for (size_t k = 0; k < ev->digests[i].len; k++)
			snprintf(out + 2 * k, 3, "%02x", ev->digests[i].bytes[k]);
		out[2 * ev->digests[i].len] = 0;
		return 0;
	}
	return -1;
}

/* Keylime's DigestsTest: one of the event's digests equals one pair of one dict. */
static int ev_in_dicts(const eventlog_event_t *ev, const dd_t *dicts, size_t ndicts)
{
	char hex[2 * EVENTLOG_MAX_DIGEST + 1];
	for (uint32_t i = 0; i < ev->ndigests; i++) {
		const char *name = eventlog_alg_name(ev->digests[i].alg);
		if (name == NULL)
			continue;
		if (ev_hex(ev, name, hex, sizeof(hex)) < 0)
			continue;
		for (size_t d = 0; d < ndicts; d++)
			for (size_t k = 0; k < dicts[d].n; k++)
				if (strcmp(dicts[d].v[k].alg, name) == 0 &&
				    strcmp(dicts[d].v[k].hex, hex) == 0)
					return 1;
	}
	return 0;
}

/* A short description of the event's digest for reasons: "sha256 digest 0abc...". */
static void ev_digest_text(const eventlog_event_t *ev, char *out, size_t n)
{
	char hex[2 * EVENTLOG_MAX_DIGEST + 1];
	if (ev_hex(ev, "sha256", hex, sizeof(hex)) == 0)
		snprintf(out, n, "sha256 digest %s", hex);
	else if (ev->ndigests > 0 && eventlog_alg_name(ev->digests[0].alg) != NULL &&
	         ev_hex(ev, eventlog_alg_name(ev->digests[0].alg), hex, sizeof(hex)) == 0)
		snprintf(out, n, "%s digest %s (no sha256 digest)",
		         eventlog_alg_name(ev->digests[0].alg), hex);
	else
		snprintf(out, n, "no sha256 digest");
}

static int ev_sha256_is(const eventlog_event_t *ev, const char *hex)
{
	char h[65];
	return ev_hex(ev, "sha256", h, sizeof(h)) == 0 && strcmp(h, hex) == 0;
}

/* Every digest of a hash we can compute equals H(bytes), and there is at least one: what a
 * separator or an EFI action string must be measured as. */
static int ev_digests_of(const eventlog_event_t *ev, const void *bytes, size_t n)
{
	static const struct {
		uint16_t alg;     /* TPM_ALG_ID */
		const char *name; /* OpenSSL name */
	} mds[] = {{EVENTLOG_ALG_SHA1, "SHA1"},
	           {EVENTLOG_ALG_SHA256, "SHA256"},
	           {EVENTLOG_ALG_SHA384, "SHA384"},
	           {EVENTLOG_ALG_SHA512, "SHA512"},
	           {EVENTLOG_ALG_SM3_256, "SM3"}};
	int checked = 0;

	for (uint32_t i = 0; i < ev->ndigests; i++)
		for (size_t k = 0; k < sizeof(mds) / sizeof(mds[0]); k++) {
			if (mds[k].alg != ev->digests[i].alg)
				continue;
			EVP_MD *md = EVP_MD_fetch(NULL, mds[k].name, NULL);
			uint8_t h[EVP_MAX_MD_SIZE];
			unsigned hl = 0;
			if (md == NULL)
				continue;
			int ok = EVP_Digest(bytes, n, h, &hl, md, NULL);
			EVP_MD_free(md);
			if (!ok || hl != ev->digests[i].len || memcmp(h, ev->digests[i].bytes, hl))
				return 0;
			checked = 1;
		}
	return checked;
}

static int once(eval_t *c, const eventlog_event_t *ev, int rule, const char *what)
{
	if (c->once[rule]++ > 0)
		return fail_ev(c, ev, "%s may appear only once", what);
	return 0;
}

static int check_separator(eval_t *c, const eventlog_event_t *ev)
{
	static const uint8_t zero[4] = {0, 0, 0, 0}, ones[4] = {0xff, 0xff, 0xff, 0xff};
	if (ev->data_len != 4 || (memcmp(ev->data, zero, 4) && memcmp(ev->data, ones, 4)))
		return fail_ev(c, ev, "separator data must be 00000000 or ffffffff");
	if (!ev_digests_of(ev, ev->data, 4))
		return fail_ev(c, ev, "separator digests are not the hash of its data");
	return 0;
}

static int check_efi_action(eval_t *c, const eventlog_event_t *ev)
{
	static const char *const pcr1[] = {"Entering ROM Based Setup", NULL};
	static const char *const pcr4[] = {"Calling EFI Application from Boot Option",
	                                   "Returning from EFI Application from Boot Option", NULL};
	static const char *const pcr5[] = {"Exit Boot Services Invocation",
	                                   "Exit Boot Services Returned with Failure",
	                                   "Exit Boot Services Returned with Success", NULL};
	const char *const *ok = ev->pcr == 1 ? pcr1 : ev->pcr == 4 ? pcr4 : pcr5;
	const uint8_t *s;
	size_t n;

	if (eventlog_event_string(ev, &s, &n) < 0)
		return fail_ev(c, ev, "the action is not a string");
	for (; *ok != NULL; ok++)
		if (n == strlen(*ok) && memcmp(s, *ok, n) == 0) {
			if (!ev_digests_of(ev, *ok, n))
				return fail_ev(c, ev, "digests are not the hash of \"%s\"", *ok);
			return 0;
		}
	char t[TEXT_MAX];
	return fail_ev(c, ev, "\"%s\" is not an EFI action the TCG spec defines for PCR %u",
	               text_escape(t, sizeof(t), s, n), ev->pcr);
}

/* Signature lists of a DRIVER_CONFIG key variable: every list of an allowed type and every
 * key in the allowed set (Keylime's KeySubset / KeySubsetMulti). */
static int check_keys_subset(eval_t *c, const eventlog_event_t *ev, const eventlog_efi_var_t *v,
                             int allow_sha256, const mb_sigset_t *set, const char *what)
{
	const uint8_t *p = v->data;
	size_t left = v->data_len;
	eventlog_siglist_t l;
	err_t why = {""};
	int r, li = 0;
	char g[37];

	while ((r = eventlog_siglist_next(&p, &left, &l, &why)) == 1) {
		if (memcmp(l.type, EVENTLOG_GUID_CERT_X509, 16) != 0 &&
		    !(allow_sha256 && memcmp(l.type, EVENTLOG_GUID_CERT_SHA256, 16) == 0)) {
			eventlog_guid_format(l.type, g);
			return fail_ev(c, ev, "%s signature list %d has type %s, expected %s", what,
			               li, g, allow_sha256 ? "X509 or SHA256" : "X509");
		}
		for (uint32_t i = 0; i < l.count; i++) {
			const uint8_t *s = l.sigs + (size_t)i * l.sig_size;
			if (!sigset_has(set, s, s + 16, l.sig_size - 16u)) {
				char h[41] = "";
				eventlog_guid_format(s, g);
				for (size_t k = 0; k < 16 && k < l.sig_size - 16u; k++)
					snprintf(h + 2 * k, 3, "%02x", s[16 + k]);
				return fail_ev(
				    c, ev,
				    "%s entry (owner %s, data 0x%s..., %u bytes) is not in "
				    "the policy's %s",
				    what, g, h, l.sig_size - 16u, what);
			}
		}
		li++;
	}
	if (r < 0)
		return fail_ev(c, ev, "%s: %s", what, why.msg);
	return 0;
}

/* dbx: at least every required entry, in whichever of its signature lists (Keylime's
 * KeySuperset). Firmware and dbx updates write several lists (SHA256 hashes, X509
 * certificates, one list per update); every entry of any list only revokes more, so the
 * number and types of the lists do not matter, and an empty dbx passes an empty set. */
static int check_dbx(eval_t *c, const eventlog_event_t *ev, const eventlog_efi_var_t *v)
{
	const uint8_t *p = v->data;
	size_t left = v->data_len, n = 0, cap = 0;
	eventlog_siglist_t l;
	err_t why = {""};
	int r, rv = -1;
	mb_sigset_t have = {NULL, 0};

	while ((r = eventlog_siglist_next(&p, &left, &l, &why)) == 1)
		for (uint32_t i = 0; i < l.count; i++) {
			const uint8_t *s = l.sigs + (size_t)i * l.sig_size;
			if (n == cap) {
				cap = cap ? 2 * cap : 64;
				have.v = xrealloc(have.v, cap * sizeof(*have.v));
			}
			memcpy(have.v[n].owner, s, 16);
			have.v[n].data = (uint8_t *)(uintptr_t)(s + 16); /* borrowed, read only */
			have.v[n].len = l.sig_size - 16u;
			n++;
		}
	if (r < 0) {
		fail_ev(c, ev, "dbx: %s", why.msg);
		goto out;
	}
	have.n = n;
	if (n)
		qsort(have.v, have.n, sizeof(*have.v), sig_cmp);
	for (size_t i = 0; i < c->p->dbx.n; i++) {
		const mb_sig_t *need = &c->p->dbx.v[i];
		if (!sigset_has(&have, need->owner, need->data, need->len)) {
			char g[37], h[41] = "";
			eventlog_guid_format(need->owner, g);
			for (size_t k = 0; k < 16 && k < need->len; k++)
				snprintf(h + 2 * k, 3, "%02x", need->data[k]);
			fail_ev(c, ev, "dbx lacks the required entry (owner %s, data 0x%s...)", g,
			        h);
			goto out;
		}
	}
	rv = 0;
out:
	free(have.v);
	return rv;
}

/* "Enabled" of a 0- or 1-byte boolean variable: 1 yes, 0 no, -1 malformed. */
static int var_enabled(const eventlog_efi_var_t *v)
{
	if (v->data_len > 1)
		return -1;
	return v->data_len == 1 && v->data[0] != 0;
}

static int check_driver_config(eval_t *c, const eventlog_event_t *ev)
{
	const mb_policy_t *p = c->p;
	eventlog_efi_var_t v;
	err_t why = {""};
	int global, imgsec, accept = !p->has_secureboot;

	if (eventlog_efi_var_decode(ev, &v, &why) < 0)
		return fail_ev(c, ev, "%s", why.msg);
	/* Keylime judges the variable's contents without checking that they are what was
	 * measured; we do, or an altered log could show keys other than the measured ones. */
	if (!ev_digests_of(ev, ev->data, ev->data_len))
		return fail_ev(c, ev, "the variable data does not match the event's digests");
	global = memcmp(v.guid, EVENTLOG_GUID_EFI_GLOBAL, 16) == 0;
	imgsec = memcmp(v.guid, EVENTLOG_GUID_IMAGE_SECURITY, 16) == 0;
	if (global && strcmp(v.name, "SecureBoot") == 0) {
		int en = var_enabled(&v);
		if (en < 0)
			return fail_ev(c, ev, "SecureBoot variable has %zu bytes", v.data_len);
		if (en != p->has_secureboot)
			return fail_ev(c, ev, "Secure Boot is %s, the policy expects it %s",
			               en ? "enabled" : "disabled",
			               p->has_secureboot ? "enabled" : "disabled");
		return 0;
	}
	if (global && strcmp(v.name, "PK") == 0) {
		if (once(c, ev, ONCE_PK, "PK") < 0)
			return -1;
		return accept && p->pk.n == 0 ? 0 : check_keys_subset(c, ev, &v, 0, &p->pk, "PK");
	}
	if (global && strcmp(v.name, "KEK") == 0) {
		if (once(c, ev, ONCE_KEK, "KEK") < 0)
			return -1;
		return accept && p->kek.n == 0 ? 0
		                               : check_keys_subset(c, ev, &v, 0, &p->kek, "KEK");
	}
	if (imgsec && strcmp(v.name, "db") == 0) {
		if (once(c, ev, ONCE_DB, "db") < 0)
			return -1;
		return accept && p->db.n == 0 ? 0 : check_keys_subset(c, ev, &v, 1, &p->db, "db");
	}
	if (imgsec && strcmp(v.name, "vendor_db") == 0) {
		if (once(c, ev, ONCE_VENDOR_DB, "vendor_db") < 0)
			return -1;
		return accept && p->vendor_db.n == 0
		           ? 0
		           : check_keys_subset(c, ev, &v, 1, &p->vendor_db, "vendor_db");
	}
	if (imgsec && strcmp(v.name, "dbx") == 0) {
		if (once(c, ev, ONCE_DBX, "dbx") < 0)
			return -1;
		return accept && p->dbx.n == 0 ? 0 : check_dbx(c, ev, &v);
	}
	char g[37];
	eventlog_guid_format(v.guid, g);
	char t[TEXT_MAX];
	return fail_ev(c, ev, "variable %s %s is not one the policy allows", g,
	               text_escape(t, sizeof(t), v.name, strlen(v.name)));
}

static int check_authority(eval_t *c, const eventlog_event_t *ev)
{
	const mb_policy_t *p = c->p;
	eventlog_efi_var_t v;
	err_t why = {""};
	int imgsec, shim;

	if (eventlog_efi_var_decode(ev, &v, &why) < 0)
		return fail_ev(c, ev, "%s", why.msg);
	imgsec = memcmp(v.guid, EVENTLOG_GUID_IMAGE_SECURITY, 16) == 0;
	shim = memcmp(v.guid, EVENTLOG_GUID_SHIM_LOCK, 16) == 0;
	/* The certificate that verified shim: trusted because shim's digest is checked. */
	if (imgsec && strcmp(v.name, "db") == 0)
		return once(c, ev, ONCE_AUTH_DB, "the db authority");
	if (imgsec && strcmp(v.name, "vendor_db") == 0) {
		if (once(c, ev, ONCE_AUTH_VENDOR_DB, "the vendor_db authority") < 0)
			return -1;
		if (!p->has_secureboot && p->vendor_db.n == 0)
			return 0;
		if (!ev_digests_of(ev, ev->data, ev->data_len))
			return fail_ev(c, ev,
			               "the variable data does not match the event's digests");
		if (v.data_len < 16 ||
		    !sigset_has(&p->vendor_db, v.data, v.data + 16, v.data_len - 16))
			return fail_ev(c, ev,
			               "the vendor_db certificate is not in the policy's "
			               "vendor_db");
		return 0;
	}
	if (shim && strcmp(v.name, "SbatLevel") == 0)
		return once(c, ev, ONCE_SBAT, "SbatLevel");
	if (shim && strcmp(v.name, "Shim") == 0)
		return once(c, ev, ONCE_SHIM, "the Shim authority");
	if (shim && strcmp(v.name, "MokListTrusted") == 0) {
		if (once(c, ev, ONCE_MOK_TRUSTED_VAR, "MokListTrusted") < 0)
			return -1;
		if (var_enabled(&v) < 0)
			return fail_ev(c, ev, "MokListTrusted variable has %zu bytes", v.data_len);
		return 0;
	}
	if (shim && strcmp(v.name, "MokListRT") == 0)
		return once(c, ev, ONCE_MOK_RT, "MokListRT");
	char g[37];
	eventlog_guid_format(v.guid, g);
	char t[TEXT_MAX];
	return fail_ev(c, ev, "authority variable %s %s is not one the policy allows", g,
	               text_escape(t, sizeof(t), v.name, strlen(v.name)));
}

static int check_variable_boot(eval_t *c, const eventlog_event_t *ev)
{
	eventlog_efi_var_t v;
	err_t why = {""};
	size_t n;

	if (eventlog_efi_var_decode(ev, &v, &why) < 0)
		return fail_ev(c, ev, "%s", why.msg);
	n = strlen(v.name);
	int boot = n > 4 && strncmp(v.name, "Boot", 4) == 0;
	for (size_t i = 4; boot && i < n; i++)
		boot = isxdigit((unsigned char)v.name[i]);
	if (memcmp(v.guid, EVENTLOG_GUID_EFI_GLOBAL, 16) != 0 ||
	    !(strcmp(v.name, "BootOrder") == 0 || boot)) {
		char t[TEXT_MAX];
		return fail_ev(c, ev, "boot variable %s is not BootOrder or Boot####",
		               text_escape(t, sizeof(t), v.name, strlen(v.name)));
	}
	return 0;
}

/* Python fullmatch of ".*NEEDLE.*" without DOTALL: no newline anywhere, needle inside. */
static int dotstar_has(const uint8_t *s, size_t n, const char *needle)
{
	return memchr(s, '\n', n) == NULL && memmem(s, n, needle, strlen(needle)) != NULL;
}

static int has_prefix(const uint8_t *s, size_t n, const char *pre)
{
	size_t k = strlen(pre);
	return n >= k && memcmp(s, pre, k) == 0;
}

static int check_ipl(eval_t *c, const eventlog_event_t *ev)
{
	const mb_policy_t *p = c->p;
	const uint8_t *s;
	size_t n;
	char t[TEXT_MAX];

	if (eventlog_event_string(ev, &s, &n) < 0)
		return fail_ev(c, ev, "the event data is not a string");
	if (ev->pcr == 14) {
		if (n == 7 && memcmp(s, "MokList", 7) == 0) {
			if (ev_in_dicts(ev, p->mok, p->nmok))
				return 0;
			char d[160];
			ev_digest_text(ev, d, sizeof(d));
			return fail_ev(c, ev, "MokList %s is not in mokdig", d);
		}
		if (n == 8 && memcmp(s, "MokListX", 8) == 0) {
			if (ev_in_dicts(ev, p->mokx, p->nmokx))
				return 0;
			char d[160];
			ev_digest_text(ev, d, sizeof(d));
			return fail_ev(c, ev, "MokListX %s is not in mokxdig", d);
		}
		if (n == 14 && memcmp(s, "MokListTrusted", 14) == 0)
			return once(c, ev, ONCE_MOK_TRUSTED_IPL, "MokListTrusted");
		return fail_ev(c, ev, "\"%s\" is not MokList, MokListX or MokListTrusted",
		               text_escape(t, sizeof(t), s, n));
	}
	if (ev->pcr == 9) {
		if (dotstar_has(s, n, "/loader/entries") || dotstar_has(s, n, "/grub"))
			return 0;
		if (dotstar_has(s, n, "/vmlinuz")) {
			evlist_add(&c->vmlinuz, ev);
			return 0;
		}
		if (dotstar_has(s, n, "/initrd") || dotstar_has(s, n, "/initramfs")) {
			evlist_add(&c->initrd, ev);
			return 0;
		}
		return fail_ev(c, ev, "\"%s\" is not a grub, loader entry, vmlinuz or initrd file",
		               text_escape(t, sizeof(t), s, n));
	}
	/* PCR 8: grub commands pass; the kernel command line is judged at the end. */
	if (has_prefix(s, n, "grub_cmd: "))
		return 0;
	if (has_prefix(s, n, "kernel_cmdline: ") && memchr(s, '\n', n) == NULL) {
		/* grub measures the command line after the prefix; the regex judges this text,
		 * so it must be what was measured (Keylime does not check this). */
		if (!ev_digests_of(ev, s + 16, n - 16))
			return fail_ev(c, ev,
			               "the kernel command line does not match the event's "
			               "digests");
		evlist_add(&c->cmdline, ev);
		return 0;
	}
	return fail_ev(c, ev, "\"%s\" is neither a grub_cmd nor a kernel_cmdline",
	               text_escape(t, sizeof(t), s, n));
}

/* One event through the (PCR, type) dispatcher. */
static int check_event(eval_t *c, const eventlog_event_t *ev)
{
	uint32_t pcr = ev->pcr, t = ev->type;

	/* EV_NO_ACTION events are extended into no PCR, so the quote vouches for none of them
	 * and there is nothing to judge: firmware writes several (the Spec ID header, the
	 * StartupLocality of locality-3 machines, SP800-155 reference events), and the one that
	 * matters, StartupLocality, already had to replay to the quoted PCR 0. */
	if (t == EV_NO_ACTION)
		return 0;
	if (t == EV_SEPARATOR && pcr <= 7)
		return check_separator(c, ev);
	switch (pcr) {
	case 0:
		if (t == EV_S_CRTM_VERSION) {
			evlist_add(&c->scrtm, ev);
			return 0;
		}
		if (t == EV_EFI_PLATFORM_FIRMWARE_BLOB || t == EV_EFI_PLATFORM_FIRMWARE_BLOB2) {
			evlist_add(&c->fw, ev);
			return 0;
		}
		break;
	case 1:
		if (t == EV_CPU_MICROCODE)
			return once(c, ev, ONCE_MICROCODE, "EV_CPU_MICROCODE");
		if (t == EV_EFI_HANDOFF_TABLES)
			return once(c, ev, ONCE_HANDOFF, "EV_EFI_HANDOFF_TABLES");
		if (t == EV_EFI_HANDOFF_TABLES2)
			return once(c, ev, ONCE_HANDOFF2, "EV_EFI_HANDOFF_TABLES2");
		if (t == EV_EFI_VARIABLE_BOOT)
			return check_variable_boot(c, ev);
		if (t == EV_PLATFORM_CONFIG_FLAGS) {
			if (++c->config_flags > MAX_PLATFORM_FLAGS)
				return fail_ev(c, ev,
				               "more than %d EV_PLATFORM_CONFIG_FLAGS events",
				               MAX_PLATFORM_FLAGS);
			return 0;
		}
		if (t == EV_EFI_ACTION)
			return check_efi_action(c, ev);
		break;
	case 2:
		if (t == EV_EFI_BOOT_SERVICES_DRIVER)
			return 0; /* option ROM drivers: no reference values */
		break;
	case 4:
		if (t == EV_EFI_ACTION)
			return check_efi_action(c, ev);
		if (t == EV_EFI_BOOT_SERVICES_APPLICATION) {
			evlist_add(&c->bsa, ev);
			return 0;
		}
		break;
	case 5:
		if (t == EV_EFI_ACTION)
			return check_efi_action(c, ev);
		if (t == EV_EFI_GPT_EVENT)
			return once(c, ev, ONCE_GPT, "EV_EFI_GPT_EVENT");
		break;
	case 7:
		if (t == EV_EFI_VARIABLE_DRIVER_CONFIG)
			return check_driver_config(c, ev);
		if (t == EV_EFI_VARIABLE_AUTHORITY)
			return check_authority(c, ev);
		break;
	case 8:
	case 9:
	case 14:
		if (t == EV_IPL)
			return check_ipl(c, ev);
		break;
	default:
		break;
	}
	return fail_ev(c, ev,
	               "this PCR and event type combination is not allowed by the "
	               "measured-boot policy");
}

/* One sha256 digest check for the end-of-log tests; appends a reason on mismatch. */
static int want_sha256(const eventlog_event_t *ev, const char *hex, const char *field, size_t kidx,
                       char *why, size_t n)
{
	if (ev_sha256_is(ev, hex))
		return 0;
	char d[160], t[48];
	ev_digest_text(ev, d, sizeof(d));
	type_str(ev->type, t, sizeof(t));
	snprintf(why, n, "event %u (PCR %u, %s): %s is not the %s 0x%s of kernels[%zu]", ev->index,
	         ev->pcr, t, d, field, hex, kidx);
	return -1;
}

/* Keylime's per-kernel FieldsTest: bsas, ipl9s, vmlinuz, kernel_cmdlines. */
static int kernel_why(eval_t *c, size_t ki, char *why, size_t n, int *ev_out, int *pcr_out)
{
	const kernel_t *k = &c->p->kernels[ki];
	const evlist_t *b = &c->bsa;
	int sb = c->p->has_secureboot;

	*ev_out = -1;
	if (sb ? (b->n != 3 && b->n != 4) : b->n != 2) {
		*pcr_out = 4;
		snprintf(why, n,
		         "PCR 4: %zu EV_EFI_BOOT_SERVICES_APPLICATION events, kernels[%zu] expects "
		         "%s",
		         b->n, ki,
		         sb ? "3 (shim, grub, kernel) or 4 (kernel twice)" : "2 (shim, grub)");
		return -1;
	}
	const char *seq[4] = {k->shim, k->grub, k->kernel, k->kernel};
	const char *names[4] = {"shim_authcode_sha256", "grub_authcode_sha256",
	                        "kernel_authcode_sha256", "kernel_authcode_sha256"};
	for (size_t i = 0; i < b->n; i++)
		if (want_sha256(b->v[i], seq[i], names[i], ki, why, n) < 0) {
			*ev_out = (int)b->v[i]->index;
			*pcr_out = 4;
			return -1;
		}
	if (c->initrd.n != 1) {
		*pcr_out = 9;
		snprintf(why, n,
		         "PCR 9: %zu initrd EV_IPL events, kernels[%zu] expects exactly one",
		         c->initrd.n, ki);
		return -1;
	}
	if (want_sha256(c->initrd.v[0], k->initrd, "initrd_plain_sha256", ki, why, n) < 0) {
		*ev_out = (int)c->initrd.v[0]->index;
		*pcr_out = 9;
		return -1;
	}
	if (c->vmlinuz.n != 1) {
		*pcr_out = 9;
		snprintf(why, n,
		         "PCR 9: %zu vmlinuz EV_IPL events, kernels[%zu] expects exactly one",
		         c->vmlinuz.n, ki);
		return -1;
	}
	if (!sb &&
	    want_sha256(c->vmlinuz.v[0], k->vmlinuz, "vmlinuz_plain_sha256", ki, why, n) < 0) {
		*ev_out = (int)c->vmlinuz.v[0]->index;
		*pcr_out = 9;
		return -1;
	}
	if (c->cmdline.n != 1) {
		*pcr_out = 8;
		snprintf(
		    why, n,
		    "PCR 8: %zu kernel_cmdline EV_IPL events, kernels[%zu] expects exactly one",
		    c->cmdline.n, ki);
		return -1;
	}
	const eventlog_event_t *ev = c->cmdline.v[0];
	const uint8_t *s;
	size_t sl;
	if (eventlog_event_string(ev, &s, &sl) < 0) {
		/* Unreachable: check_ipl only collects strings. */
		snprintf(why, n, "event %u: kernel command line is not a string", ev->index);
		return -1;
	}
	char *str = xstrndup((const char *)s, sl);
	int match = regexec(&k->re, str, 0, NULL, 0) == 0;
	free(str);
	if (!match) {
		*ev_out = (int)ev->index;
		*pcr_out = 8;
		char a[176], r[176];
		snprintf(why, n,
		         "event %u (PCR 8, EV_IPL): \"%s\" does not match kernels[%zu]."
		         "kernel_cmdline \"%s\"",
		         ev->index, text_escape(a, sizeof(a), s, sl), ki,
		         text_escape(r, sizeof(r), k->cmdline, strlen(k->cmdline)));
		return -1;
	}
	return 0;
}

static int scrtm_why(eval_t *c, size_t si, char *why, size_t n, int *ev_out)
{
	const scrtm_bios_t *s = &c->p->scrtm[si];
	char d[160];

	*ev_out = -1;
	if (c->scrtm.n != 1) {
		snprintf(why, n, "PCR 0: %zu EV_S_CRTM_VERSION events, exactly one expected",
		         c->scrtm.n);
		return -1;
	}
	if (!ev_in_dicts(c->scrtm.v[0], &s->scrtm, 1)) {
		ev_digest_text(c->scrtm.v[0], d, sizeof(d));
		*ev_out = (int)c->scrtm.v[0]->index;
		snprintf(why, n,
		         "event %u (PCR 0, EV_S_CRTM_VERSION): %s is not scrtm_and_bios[%zu].scrtm",
		         c->scrtm.v[0]->index, d, si);
		return -1;
	}
	if (c->fw.n != s->nfw) {
		snprintf(why, n,
		         "PCR 0: %zu platform firmware blob events, scrtm_and_bios[%zu] lists %zu",
		         c->fw.n, si, s->nfw);
		return -1;
	}
	for (size_t i = 0; i < s->nfw; i++)
		if (!ev_in_dicts(c->fw.v[i], &s->fw[i], 1)) {
			ev_digest_text(c->fw.v[i], d, sizeof(d));
			*ev_out = (int)c->fw.v[i]->index;
			snprintf(why, n,
			         "event %u (PCR 0, firmware blob): %s is not "
			         "scrtm_and_bios[%zu].platform_firmware[%zu]",
			         c->fw.v[i]->index, d, si, i);
			return -1;
		}
	return 0;
}

/* Pass when one alternative passes; else report the only alternative's reason, or all of
 * them in brackets the way Keylime's Or does. */
static int final_checks(eval_t *c, const eventlog_t *log)
{
	char why[512], all[640];
	int evi = -1, pcr = -1, first_ev = -1, first_pcr = -1;
	size_t used;

	all[0] = 0;
	used = 0;
	for (size_t k = 0; k < c->p->nkernels; k++) {
		if (kernel_why(c, k, why, sizeof(why), &evi, &pcr) == 0)
			goto scrtm;
		if (k == 0) {
			first_ev = evi;
			first_pcr = pcr;
		}
		used += (size_t)snprintf(all + used, used < sizeof(all) ? sizeof(all) - used : 0,
		                         "%s%s", k ? "; " : "", why);
		if (used >= sizeof(all))
			used = sizeof(all);
	}
	goto fail;
scrtm:
	all[0] = 0;
	used = 0;
	for (size_t s = 0; s < c->p->nscrtm; s++) {
		if (scrtm_why(c, s, why, sizeof(why), &evi) == 0)
			return 0;
		if (s == 0) {
			first_ev = evi;
			first_pcr = 0;
		}
		used += (size_t)snprintf(all + used, used < sizeof(all) ? sizeof(all) - used : 0,
		                         "%s%s", s ? "; " : "", why);
		if (used >= sizeof(all))
			used = sizeof(all);
	}
fail:
	c->f->event = first_ev;
	c->f->pcr = first_pcr;
	c->f->type = 0;
	if (first_ev >= 0) {
		const eventlog_event_t *ev = NULL;
		for (size_t i = 0; i < eventlog_count(log); i++)
			if (eventlog_event(log, i)->index == (uint32_t)first_ev)
				ev = eventlog_event(log, i);
		if (ev != NULL)
			c->f->type = ev->type;
	}
	snprintf(c->f->reason, sizeof(c->f->reason), "%s", all);
	return -1;
}

int mb_policy_evaluate(const mb_policy_t *p, const eventlog_t *log, mb_failure_t *f)
{
	mb_failure_t local;
	eval_t c;
	int rv = -1;

	if (f == NULL)
		f = &local;
	memset(f, 0, sizeof(*f));
	f->event = -1;
	f->pcr = -1;
	if (p->empty)
		return 0;
	memset(&c, 0, sizeof(c));
	c.p = p;
	c.f = f;
	for (size_t i = 0; i < eventlog_count(log); i++)
		if (check_event(&c, eventlog_event(log, i)) < 0)
			goto out;
	rv = final_checks(&c, log);
out:
	text_clean(f->reason);
	free(c.scrtm.v);
	free(c.fw.v);
	free(c.bsa.v);
	free(c.initrd.v);
	free(c.vmlinuz.v);
	free(c.cmdline.v);
	return rv;
}

/* ---------------------------------------------------------------------------------------
 * Creation from a golden log
 * ------------------------------------------------------------------------------------- */

static json_t *sha256_obj(const eventlog_event_t *ev)
{
	char hex[65], v[68];
	if (ev_hex(ev, "sha256", hex, sizeof(hex)) < 0)
		return NULL;
	snprintf(v, sizeof(v), "0x%s", hex);
	json_t *o = json_object();
	json_object_set_new(o, "sha256", json_string(v));
	return o;
}

static json_t *sha256_str(const eventlog_event_t *ev)
{
	char hex[65], v[68];
	if (ev_hex(ev, "sha256", hex, sizeof(hex)) < 0)
		return NULL;
	snprintf(v, sizeof(v), "0x%s", hex);
	return json_string(v);
}

static json_t *sig_json(const uint8_t *owner, const uint8_t *data, size_t len)
{
	char g[37];
	buf_t h = BUF_INIT;
	json_t *o = json_object();

	eventlog_guid_format(owner, g);
	buf_append_str(&h, "0x");
	hex_encode(&h, data, len);
	json_object_set_new(o, "SignatureOwner", json_string(g));
	json_object_set_new(o, "SignatureData", json_string((char *)h.data));
	buf_free(&h);
	return o;
}

/* Python's re.escape (3.7+): a backslash before ()[]{}?*+-|^$\.&~# and whitespace. */
static void py_re_escape(const uint8_t *s, size_t n, buf_t *out)
{
	for (size_t i = 0; i < n; i++) {
		if (strchr("()[]{}?*+-|^$\\.&~# \t\n\r\v\f", s[i]) != NULL && s[i] != 0)
			buf_append_str(out, "\\");
		buf_append(out, s + i, 1);
	}
}

static int is_fw_app(const eventlog_event_t *ev)
{
	eventlog_image_load_t im;
	buf_t t = BUF_INIT;
	int r = 0;

	if (eventlog_image_load_decode(ev, &im, NULL) == 0 &&
	    eventlog_devpath_format(im.devpath, im.devpath_len, &t, NULL) == 0) {
		/* FvVol(<guid>)/FvFile(<guid>): firmware's own UEFI applications (boot menu). */
		const char *s = (const char *)t.data;
		uint8_t g[16];
		char a[37], b[37];
		if (t.len >= 6 + 36 + 9 + 36 + 1 && strncmp(s, "FvVol(", 6) == 0 &&
		    strncmp(s + 42, ")/FvFile(", 9) == 0 && s[87] == ')') {
			memcpy(a, s + 6, 36);
			a[36] = 0;
			memcpy(b, s + 51, 36);
			b[36] = 0;
			r = eventlog_guid_parse(a, g) == 0 && eventlog_guid_parse(b, g) == 0;
		}
	}
	buf_free(&t);
	return r;
}

int mb_policy_create(const eventlog_t *log, int without_secureboot, buf_t *out, err_t *e)
{
	json_t *root = json_object(), *keys[4], *vendor = json_array(), *mok = json_array(),
	       *mokx = json_array(), *fw = json_array(), *kernel = json_object();
	const char *const keynames[4] = {"PK", "KEK", "db", "dbx"};
	const eventlog_event_t *scrtm = NULL, *bsa[4];
	size_t nbsa = 0, n = eventlog_count(log);
	int has_sb = -1, rv = -1;
	char *text = NULL;
	mb_policy_t *self = NULL;
	mb_failure_t f;
	const uint8_t *s;
	size_t sl;

	for (int i = 0; i < 4; i++)
		keys[i] = json_array();
	int found = 0;
	for (size_t b = 0; b < eventlog_bank_count(log); b++)
		found |= eventlog_bank(log, b)->alg == EVENTLOG_ALG_SHA256;
	if (!found) {
		err_set(e, "the event log has no sha256 bank; a measured-boot policy needs sha256 "
		           "digests");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const eventlog_event_t *ev = eventlog_event(log, i);
		eventlog_efi_var_t v;
		if (ev->type == EV_EFI_VARIABLE_DRIVER_CONFIG &&
		    eventlog_efi_var_decode(ev, &v, NULL) == 0) {
			if (strcmp(v.name, "SecureBoot") == 0 && has_sb < 0)
				has_sb = var_enabled(&v) == 1;
			for (int k = 0; k < 4; k++) {
				if (strcmp(v.name, keynames[k]) != 0)
					continue;
				/* The last measurement of a variable wins, as in Keylime. */
				json_array_clear(keys[k]);
				const uint8_t *p = v.data;
				size_t left = v.data_len;
				eventlog_siglist_t l;
				while (eventlog_siglist_next(&p, &left, &l, NULL) == 1)
					for (uint32_t j = 0; j < l.count; j++) {
						const uint8_t *sg = l.sigs + (size_t)j * l.sig_size;
						json_array_append_new(
						    keys[k],
						    sig_json(sg, sg + 16, l.sig_size - 16u));
					}
			}
		} else if (ev->type == EV_EFI_VARIABLE_AUTHORITY &&
		           eventlog_efi_var_decode(ev, &v, NULL) == 0 &&
		           strcmp(v.name, "vendor_db") == 0 && v.data_len >= 16) {
			json_array_append_new(vendor,
			                      sig_json(v.data, v.data + 16, v.data_len - 16));
		} else if (ev->type == EV_IPL && eventlog_event_string(ev, &s, &sl) == 0) {
			json_t *d = NULL;
			if ((sl == 7 && memcmp(s, "MokList", 7) == 0) ||
			    (sl == 8 && memcmp(s, "MokListX", 8) == 0)) {
				if ((d = sha256_obj(ev)) == NULL) {
					err_set(e, "event %u: no sha256 digest", ev->index);
					goto out;
				}
				json_array_append_new(sl == 7 ? mok : mokx, d);
			}
		} else if (ev->type == EV_S_CRTM_VERSION && scrtm == NULL) {
			scrtm = ev;
		} else if (ev->type == EV_EFI_PLATFORM_FIRMWARE_BLOB ||
		           ev->type == EV_EFI_PLATFORM_FIRMWARE_BLOB2) {
			json_t *d = sha256_obj(ev);
			json_array_append_new(fw, d ? d : json_object());
		} else if (ev->type == EV_EFI_BOOT_SERVICES_APPLICATION && !is_fw_app(ev)) {
			if (nbsa == 4) {
				nbsa = 5;
				continue;
			}
			if (nbsa < 4)
				bsa[nbsa++] = ev;
		}
	}
	if (has_sb < 0) {
		log_warnx("the Secure Boot state is not in the event log; assuming disabled");
		has_sb = 0;
	}
	if (!has_sb && !without_secureboot) {
		err_set(e, "the event log shows Secure Boot disabled; use --without-secureboot to "
		           "make a policy for measured boot only");
		goto out;
	}
	if (has_sb && without_secureboot)
		log_warnx("--without-secureboot ignored: the event log shows Secure Boot enabled");
	if (scrtm == NULL) {
		err_set(e, "the event log has no EV_S_CRTM_VERSION event; the policy requires one");
		goto out;
	}
	if (has_sb ? (nbsa != 3 && nbsa != 4) : nbsa != 2) {
		err_set(
		    e, "expected %s UEFI applications (shim, grub%s) in the event log, found %s%zu",
		    has_sb ? "3" : "2", has_sb ? ", kernel" : "", nbsa > 4 ? "more than " : "",
		    nbsa > 4 ? (size_t)4 : nbsa);
		goto out;
	}
	json_t *sh = sha256_str(bsa[0]), *gr = sha256_str(bsa[1]);
	json_t *kn = has_sb ? sha256_str(bsa[2]) : json_null();
	if (sh == NULL || gr == NULL || kn == NULL) {
		json_decref(sh);
		json_decref(gr);
		json_decref(kn);
		err_set(e, "a UEFI application event has no sha256 digest");
		goto out;
	}
	if (has_sb)
		json_object_set_new(kernel, "kernel_authcode_sha256", kn);
	else
		json_decref(kn);
	json_object_set_new(kernel, "shim_authcode_sha256", sh);
	json_object_set_new(kernel, "grub_authcode_sha256", gr);
	const char *want[] = {"initrd_plain_sha256", "vmlinuz_plain_sha256", "kernel_cmdline"};
	for (int w = 0; w < 3; w++) {
		if (w == 1 && has_sb)
			continue;
		for (size_t i = 0; i < n; i++) {
			const eventlog_event_t *ev = eventlog_event(log, i);
			if (ev->type != EV_IPL || eventlog_event_string(ev, &s, &sl) < 0)
				continue;
			if (w == 0 && ev->pcr == 9 &&
			    (memmem(s, sl, "initrd", 6) || memmem(s, sl, "initramfs", 9))) {
				json_t *d = sha256_str(ev);
				if (d != NULL)
					json_object_set_new(kernel, want[w], d);
				break;
			}
			if (w == 1 && ev->pcr == 9 && memmem(s, sl, "vmlinuz", 7)) {
				json_t *d = sha256_str(ev);
				if (d != NULL)
					json_object_set_new(kernel, want[w], d);
				break;
			}
			if (w == 2 && ev->pcr == 8 && has_prefix(s, sl, "kernel_cmdline: ")) {
				buf_t re = BUF_INIT;
				py_re_escape(s + 16, sl - 16, &re);
				json_t *str = json_stringn((char *)re.data, re.len);
				buf_free(&re);
				if (str == NULL) {
					err_set(e, "event %u: the kernel command line is not UTF-8",
					        ev->index);
					goto out;
				}
				json_object_set_new(kernel, want[w], str);
				break;
			}
		}
		if (json_object_get(kernel, want[w]) == NULL) {
			err_set(e, "the event log has no %s event (%s)",
			        w == 0   ? "initrd EV_IPL (PCR 9)"
			        : w == 1 ? "vmlinuz EV_IPL (PCR 9)"
			                 : "kernel_cmdline EV_IPL (PCR 8)",
			        want[w]);
			goto out;
		}
	}
	json_t *sc = sha256_obj(scrtm);
	if (sc == NULL) {
		err_set(e, "the EV_S_CRTM_VERSION event has no sha256 digest");
		goto out;
	}
	json_t *sb = json_object(), *sbl = json_array();
	json_object_set_new(sb, "scrtm", sc);
	json_object_set(sb, "platform_firmware", fw);
	json_array_append_new(sbl, sb);
	json_object_set_new(root, "has_secureboot", json_boolean(has_sb));
	json_object_set_new(root, "scrtm_and_bios", sbl);
	json_object_set(root, "pk", keys[0]);
	json_object_set(root, "kek", keys[1]);
	json_object_set(root, "db", keys[2]);
	json_object_set(root, "dbx", keys[3]);
	json_object_set(root, "vendor_db", vendor);
	json_object_set(root, "mokdig", mok);
	json_object_set(root, "mokxdig", mokx);
	json_t *kl = json_array();
	json_array_append(kl, kernel);
	json_object_set_new(root, "kernels", kl);
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	if (text == NULL) {
		err_set(e, "cannot serialise the policy");
		goto out;
	}
	/* Never hand out a policy that fails the very log it was made from: judge the log with
	 * it, as the verifier will. What fails here is an event the refstate format has no
	 * place for (EV_POST_CODE, EV_S_CRTM_CONTENTS or EV_NONHOST_INFO in PCR 0, for one):
	 * allowing it unchecked would let it change unnoticed, so the log is refused. */
	if ((self = mb_policy_load(text, strlen(text), e)) == NULL)
		goto out;
	if (mb_policy_evaluate(self, log, &f) < 0) {
		err_set(e,
		        "no measured-boot policy can describe this boot; the one made from the log "
		        "fails it at %s",
		        f.reason);
		goto out;
	}
	buf_append_str(out, text);
	buf_append_str(out, "\n");
	rv = 0;
out:
	mb_policy_free(self);
	free(text);
	for (int i = 0; i < 4; i++)
		json_decref(keys[i]);
	json_decref(vendor);
	json_decref(mok);
	json_decref(mokx);
	json_decref(fw);
	json_decref(kernel);
	json_decref(root);
	return rv;
}

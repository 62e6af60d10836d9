/* ima: IMA ascii measurement list parsing, template data, PCR 10 replay. */
#include "common/evidence/ima.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto/tpm2.h"
#include "common/base/xmalloc.h"

/* The kernel's hash algorithms (include/uapi/linux/hash_info.h) with the names IMA prints
 * in d-ng fields (crypto/hash_info.c) and their digest sizes. The id is what an ima-sig
 * signature header carries. ossl is the OpenSSL name where OpenSSL has the algorithm. */
static const struct ima_hash_info {
	const char *name; /* as printed by IMA */
	int id;           /* enum hash_algo */
	size_t size;      /* digest bytes */
	const char *ossl; /* OpenSSL fetch name, NULL when OpenSSL lacks it */
} hash_infos[] = {
    {"md4", 0, 16, NULL},
    {"md5", 1, 16, NULL},
    {"sha1", 2, 20, "SHA1"},
    {"rmd160", 3, 20, NULL},
    {"sha256", 4, 32, "SHA256"},
    {"sha384", 5, 48, "SHA384"},
    {"sha512", 6, 64, "SHA512"},
    {"sha224", 7, 28, "SHA224"},
    {"rmd128", 8, 16, NULL},
    {"rmd256", 9, 32, NULL},
    {"rmd320", 10, 40, NULL},
    {"wp256", 11, 32, NULL},
    {"wp384", 12, 48, NULL},
    {"wp512", 13, 64, NULL},
    {"tgr128", 14, 16, NULL},
    {"tgr160", 15, 20, NULL},
    {"tgr192", 16, 24, NULL},
    {"sm3", 17, 32, "SM3"},
    {"streebog256", 18, 32, NULL},
    {"streebog512", 19, 64, NULL},
    {"sha3-256", 20, 32, "SHA3-256"},
    {"sha3-384", 21, 48, "SHA3-384"},
    {"sha3-512", 22, 64, "SHA3-512"},
};
#define N_HASH_INFOS (sizeof(hash_infos) / sizeof(hash_infos[0]))

/* Digests are fetched once per process: an implicit fetch per EVP_DigestInit would cost a
 * lock and a lookup per entry. */
static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static EVP_MD *md_cache[N_HASH_INFOS];

static void md_fetch_all(void)
{
	for (size_t i = 0; i < N_HASH_INFOS; i++)
		if (hash_infos[i].ossl != NULL)
			md_cache[i] = EVP_MD_fetch(NULL, hash_infos[i].ossl, NULL);
}

static const struct ima_hash_info *hash_info_by_name(const char *name, size_t len)
{
	for (size_t i = 0; i < N_HASH_INFOS; i++)
		if (strlen(hash_infos[i].name) == len && memcmp(hash_infos[i].name, name, len) == 0)
			return &hash_infos[i];
	return NULL;
}

const EVP_MD *ima_hash_id_md(int hash_info_id)
{
	pthread_once(&md_once, md_fetch_all);
	for (size_t i = 0; i < N_HASH_INFOS; i++)
		if (hash_infos[i].id == hash_info_id)
			return md_cache[i];
	return NULL;
}

/* The banks and template-hash algorithms we compute, by TPM_ALG_ID: the SHA-1/SHA-2 banks
 * of common/tpm2's table. Their names there are the kernel's too. */
size_t ima_alg_size(uint16_t alg)
{
	return tpm2_alg_size(alg);
}

const char *ima_alg_name(uint16_t alg)
{
	return tpm2_alg_name(alg);
}

/* Exact spelling only: "SHA256" in a saved IMA state is not ours. */
uint16_t ima_alg_from_name(const char *name)
{
	const tpm2_hash_alg_t *h = tpm2_hash_alg_by_name(name);

	return h != NULL && tpm2_alg_bank(h->alg) >= 0 ? h->alg : 0;
}

const EVP_MD *ima_alg_md(uint16_t alg)
{
	return tpm2_alg_md_fetched(alg);
}

static int md_digest(EVP_MD_CTX *c, const EVP_MD *md, const void *a, size_t alen, const void *b,
                     size_t blen, uint8_t *out)
{
	if (md == NULL || EVP_DigestInit_ex2(c, md, NULL) != 1 || EVP_DigestUpdate(c, a, alen) != 1)
		return -1;
	if (b != NULL && EVP_DigestUpdate(c, b, blen) != 1)
		return -1;
	return EVP_DigestFinal_ex(c, out, NULL) == 1 ? 0 : -1;
}

int ima_boot_aggregate(uint16_t alg, const uint8_t *pcrs, size_t pcrs_len, uint8_t *out)
{
	size_t sz = ima_alg_size(alg);
	size_t n = alg == TPM2_ALG_SHA1_ID ? 8 : 10;
	EVP_MD_CTX *c;
	int rv;

	if (sz == 0 || pcrs == NULL || pcrs_len != n * sz)
		return -1;
	c = EVP_MD_CTX_new();
	if (c == NULL)
		return -1;
	rv = md_digest(c, ima_alg_md(alg), pcrs, pcrs_len, NULL, 0, out);
	EVP_MD_CTX_free(c);
	return rv;
}

/* ---------------------------------------------------------------------------------
 * Line parsing */

/* Hex digit values, 0xff for anything else: a table keeps the per-entry decoding (three
 * digests per line) cheap. */
static const uint8_t hexval[256] = {
    ['0'] = 0,  ['1'] = 1,  ['2'] = 2,  ['3'] = 3,  ['4'] = 4,  ['5'] = 5,  ['6'] = 6,  ['7'] = 7,
    ['8'] = 8,  ['9'] = 9,  ['a'] = 10, ['b'] = 11, ['c'] = 12, ['d'] = 13, ['e'] = 14, ['f'] = 15,
    ['A'] = 10, ['B'] = 11, ['C'] = 12, ['D'] = 13, ['E'] = 14, ['F'] = 15,
};
static const uint8_t hexok[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
};

/* Decode exactly n hex characters (n even) into out. 0 or -1. */
static int hex_to_bytes(const char *s, size_t n, uint8_t *out)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned bad = 0;

	if (n % 2)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		bad |= (unsigned)(hexok[u[i]] & hexok[u[i + 1]]) ^ 1u;
		out[i / 2] = (uint8_t)(hexval[u[i]] << 4 | hexval[u[i + 1]]);
	}
	return bad ? -1 : 0;
}

static void hex_str(char *out, size_t outsz, const uint8_t *p, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n && 2 * i + 2 < outsz; i++) {
		out[2 * i] = hx[p[i] >> 4];
		out[2 * i + 1] = hx[p[i] & 15];
	}
	out[2 * i] = 0;
}

/* Decode a hex field into a scratch buffer (replacing it). 0 or -1. */
static int hex_to_buf(buf_t *b, const char *s, size_t n)
{
	buf_reset(b);
	buf_reserve(b, n / 2);
	if (hex_to_bytes(s, n, b->data) < 0)
		return -1;
	b->len = n / 2;
	b->data[b->len] = 0;
	return 0;
}

static void put_u32le(buf_t *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

	buf_append(b, x, 4);
}

void ima_entry_init(ima_entry_t *ent)
{
	memset(ent, 0, sizeof(*ent));
}

void ima_entry_clear(ima_entry_t *ent)
{
	if (ent == NULL)
		return;
	buf_free(&ent->s_name);
	buf_free(&ent->s_sig);
	buf_free(&ent->s_buf);
	buf_free(&ent->s_tdata);
	for (size_t i = 0; i < TPM2_HASH_BANKS; i++)
		EVP_MD_CTX_free(ent->mctx[i]);
	memset(ent, 0, sizeof(*ent));
}

/* One context per algorithm: re-initialising a context for the digest it last used keeps
 * its provider state, switching digests would free and allocate it every time. */
static EVP_MD_CTX *entry_mctx(ima_entry_t *ent, uint16_t alg)
{
	int k = tpm2_alg_bank(alg);

	if (k < 0)
		return NULL;
	if (ent->mctx[k] == NULL)
		ent->mctx[k] = EVP_MD_CTX_new();
	return ent->mctx[k];
}

/* Split off the next space-terminated column; *p moves past the space. NULL when there
 * is no space left. */
static const char *next_col(const char **p, const char *end, size_t *len)
{
	const char *s = *p, *sp = memchr(s, ' ', (size_t)(end - s));

	if (sp == NULL)
		return NULL;
	*len = (size_t)(sp - s);
	*p = sp + 1;
	return s;
}

/* d-ng: "<alg>:<hex>". Legacy d: bare hex of SHA-1 (or MD5). */
static int parse_digest(ima_entry_t *ent, const char *s, size_t n, int legacy, err_t *e)
{
	const struct ima_hash_info *hi;
	const char *colon = memchr(s, ':', n);
	const char *hex;
	size_t hexlen;

	if (legacy) {
		if (colon != NULL) {
			err_set(e, "the ima template's digest has no algorithm prefix");
			return -1;
		}
		hi = hash_info_by_name(n == 32 ? "md5" : "sha1", n == 32 ? 3 : 4);
		hex = s;
		hexlen = n;
	} else {
		if (colon == NULL) {
			char t[64];
			err_set(e, "digest \"%s\" lacks its \"<alg>:\" prefix",
			        text_escape(t, sizeof(t), s, n > 40 ? 40 : n));
			return -1;
		}
		hi = hash_info_by_name(s, (size_t)(colon - s));
		if (hi == NULL) {
			char t[64];
			size_t k = (size_t)(colon - s);
			err_set(e, "unknown digest algorithm \"%s\"",
			        text_escape(t, sizeof(t), s, k > 20 ? 20 : k));
			return -1;
		}
		hex = colon + 1;
		hexlen = n - (size_t)(hex - s);
	}
	if (hexlen != 2 * hi->size) {
		err_set(e, "%s digest has %zu hex digits, expected %zu", hi->name, hexlen,
		        2 * hi->size);
		return -1;
	}
	if (hex_to_bytes(hex, hexlen, ent->digest) < 0) {
		err_set(e, "%s digest is not hex", hi->name);
		return -1;
	}
	memcpy(ent->digest_alg, hi->name, strlen(hi->name) + 1);
	ent->digest_hash_id = hi->id;
	ent->digest_len = hi->size;
	return 0;
}

static int parse_name(ima_entry_t *ent, const char *s, size_t n, size_t max, err_t *e)
{
	if (n == 0) {
		err_set(e, "empty name field");
		return -1;
	}
	if (n > max) {
		err_set(e, "name is %zu bytes, the limit is %zu", n, max);
		return -1;
	}
	buf_set(&ent->s_name, s, n);
	ent->name = (const char *)ent->s_name.data;
	ent->name_len = n;
	return 0;
}

static void build_tdata(ima_entry_t *ent)
{
	buf_t *t = &ent->s_tdata;

	buf_reset(t);
	if (ent->tmpl == IMA_TEMPLATE_IMA) {
		/* The kernel hashes the legacy template without length prefixes and with the
		 * name in a fixed 256-byte field (ima_calc_field_array_hash). */
		uint8_t name[IMA_LEGACY_NAME + 1];

		memset(name, 0, sizeof(name));
		memcpy(name, ent->name, ent->name_len);
		buf_append(t, ent->digest, ent->digest_len);
		buf_append(t, name, sizeof(name));
	} else {
		size_t alen = strlen(ent->digest_alg);

		put_u32le(t, (uint32_t)(alen + 2 + ent->digest_len));
		buf_append(t, ent->digest_alg, alen);
		buf_append(t, ":", 2); /* ':' and the NUL after it */
		buf_append(t, ent->digest, ent->digest_len);
		put_u32le(t, (uint32_t)(ent->name_len + 1));
		buf_append(t, ent->name, ent->name_len + 1);
		if (ent->tmpl == IMA_TEMPLATE_IMA_SIG) {
			put_u32le(t, (uint32_t)ent->sig_len);
			buf_append(t, ent->sig, ent->sig_len);
		} else if (ent->tmpl == IMA_TEMPLATE_IMA_BUF) {
			put_u32le(t, (uint32_t)ent->buf_len);
			buf_append(t, ent->buf, ent->buf_len);
		}
	}
	ent->tdata = t->data;
	ent->tdata_len = t->len;
}

int ima_entry_parse(ima_entry_t *ent, const char *line, size_t len, err_t *e)
{
	const char *p = line, *end = line + len, *c;
	size_t n;
	unsigned pcr = 0;

	ent->name = NULL;
	ent->name_len = 0;
	ent->sig = ent->buf = ent->tdata = NULL;
	ent->sig_len = ent->buf_len = ent->tdata_len = 0;
	ent->digest_len = ent->template_hash_len = 0;
	ent->digest_alg[0] = 0;
	ent->cache_alg = 0;
	if (line == NULL && len != 0) {
		err_set(e, "no line");
		return -1;
	}
	if (len > IMA_LINE_MAX) {
		err_set(e, "line is %zu bytes, the limit is %d", len, IMA_LINE_MAX);
		return -1;
	}
	if (len == 0) {
		err_set(e, "empty line");
		return -1;
	}
	if (memchr(line, 0, len) != NULL || memchr(line, '\n', len) != NULL) {
		err_set(e, "line contains a NUL byte or a newline");
		return -1;
	}

	/* Column 1: the PCR, decimal without sign or leading zeros. */
	if ((c = next_col(&p, end, &n)) == NULL || n == 0 || n > 2 || (n == 2 && c[0] == '0')) {
		err_set(e, "bad PCR column");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (c[i] < '0' || c[i] > '9') {
			err_set(e, "bad PCR column");
			return -1;
		}
		pcr = pcr * 10 + (unsigned)(c[i] - '0');
	}
	if (pcr > 23) {
		err_set(e, "PCR %u out of range", pcr);
		return -1;
	}
	ent->pcr = pcr;

	/* Column 2: the template hash. */
	if ((c = next_col(&p, end, &n)) == NULL) {
		err_set(e, "missing template hash");
		return -1;
	}
	if ((n != 40 && n != 64 && n != 96 && n != 128) ||
	    hex_to_bytes(c, n, ent->template_hash) < 0) {
		err_set(e, "template hash must be 40, 64, 96 or 128 hex digits");
		return -1;
	}
	ent->template_hash_len = n / 2;
	ent->is_violation = 1;
	for (size_t i = 0; i < ent->template_hash_len; i++)
		if (ent->template_hash[i] != 0)
			ent->is_violation = 0;

	/* Column 3: the template name. */
	if ((c = next_col(&p, end, &n)) == NULL) {
		err_set(e, "missing template name or fields");
		return -1;
	}
	if (n == 3 && memcmp(c, "ima", 3) == 0) {
		ent->tmpl = IMA_TEMPLATE_IMA;
		ent->template_name = "ima";
	} else if (n == 6 && memcmp(c, "ima-ng", 6) == 0) {
		ent->tmpl = IMA_TEMPLATE_IMA_NG;
		ent->template_name = "ima-ng";
	} else if (n == 7 && memcmp(c, "ima-sig", 7) == 0) {
		ent->tmpl = IMA_TEMPLATE_IMA_SIG;
		ent->template_name = "ima-sig";
	} else if (n == 7 && memcmp(c, "ima-buf", 7) == 0) {
		ent->tmpl = IMA_TEMPLATE_IMA_BUF;
		ent->template_name = "ima-buf";
	} else {
		char t[64];
		err_set(e, "unsupported template \"%s\"",
		        text_escape(t, sizeof(t), c, n > 32 ? 32 : n));
		return -1;
	}

	/* The digest field. */
	if ((c = next_col(&p, end, &n)) == NULL) {
		err_set(e, "missing name field");
		return -1;
	}
	if (parse_digest(ent, c, n, ent->tmpl == IMA_TEMPLATE_IMA, e) < 0)
		return -1;

	/* The name, and for ima-sig / ima-buf the hex field after it. The kernel turns
	 * spaces in names into '_', so the first space ends the name; ima-ng and ima take
	 * the rest of the line, as Keylime does. */
	switch (ent->tmpl) {
	case IMA_TEMPLATE_IMA:
		if (parse_name(ent, p, (size_t)(end - p), IMA_LEGACY_NAME, e) < 0)
			return -1;
		break;
	case IMA_TEMPLATE_IMA_NG:
		if (parse_name(ent, p, (size_t)(end - p), IMA_NAME_MAX, e) < 0)
			return -1;
		break;
	case IMA_TEMPLATE_IMA_SIG:
	case IMA_TEMPLATE_IMA_BUF: {
		const char *hex = end;
		size_t hexlen = 0;

		c = p;
		n = (size_t)(end - p);
		const char *sp = memchr(p, ' ', n);
		if (sp != NULL) {
			n = (size_t)(sp - p);
			hex = sp + 1;
			hexlen = (size_t)(end - hex);
		} else if (ent->tmpl == IMA_TEMPLATE_IMA_BUF) {
			/* The kernel always prints the separator; a trimmed ima-sig line without
			 * a signature is harmless (the signature is then empty). */
			err_set(e, "ima-buf entry lacks its buffer field");
			return -1;
		}
		if (parse_name(ent, c, n, IMA_NAME_MAX, e) < 0)
			return -1;
		if (ent->tmpl == IMA_TEMPLATE_IMA_SIG) {
			if (hexlen / 2 > IMA_SIG_MAX) {
				err_set(e, "signature is %zu bytes, the limit is %d", hexlen / 2,
				        IMA_SIG_MAX);
				return -1;
			}
			if (hex_to_buf(&ent->s_sig, hex, hexlen) < 0) {
				err_set(e, "signature field is not hex");
				return -1;
			}
			ent->sig = hexlen ? ent->s_sig.data : NULL;
			ent->sig_len = hexlen / 2;
		} else {
			if (hex_to_buf(&ent->s_buf, hex, hexlen) < 0) {
				err_set(e, "buffer field is not hex");
				return -1;
			}
			ent->buf = ent->s_buf.data;
			ent->buf_len = hexlen / 2;
		}
		break;
	}
	}
	build_tdata(ent);
	return 0;
}

/* Hash the template data with alg into out, remembering it for ima_entry_extend_value. */
static int entry_hash(ima_entry_t *ent, uint16_t alg, uint8_t *out)
{
	EVP_MD_CTX *c = entry_mctx(ent, alg);

	if (ent->cache_alg == alg && alg != 0) {
		memcpy(out, ent->cache_val, ima_alg_size(alg));
		return 0;
	}
	if (c == NULL ||
	    md_digest(c, ima_alg_md(alg), ent->tdata, ent->tdata_len, NULL, 0, out) < 0)
		return -1;
	memcpy(ent->cache_val, out, ima_alg_size(alg));
	ent->cache_alg = alg;
	return 0;
}

int ima_entry_check_template_hash(ima_entry_t *ent, uint16_t log_alg, err_t *e)
{
	uint8_t h[IMA_DIGEST_MAX];
	size_t sz = ima_alg_size(log_alg);
	char want[2 * IMA_DIGEST_MAX + 1], got[2 * IMA_DIGEST_MAX + 1];

	if (sz == 0) {
		err_set(e, "unsupported template-hash algorithm 0x%04x", log_alg);
		return -1;
	}
	if (ent->tdata == NULL) {
		err_set(e, "entry not parsed");
		return -1;
	}
	if (ent->is_violation)
		return 0;
	if (ent->template_hash_len != sz) {
		err_set(e, "template hash has %zu bytes but the log hash algorithm %s has %zu",
		        ent->template_hash_len, ima_alg_name(log_alg), sz);
		return -1;
	}
	if (entry_hash(ent, log_alg, h) < 0) {
		err_set_ssl(e, "hashing template data");
		return -1;
	}
	if (memcmp(h, ent->template_hash, sz) != 0) {
		hex_str(want, sizeof(want), ent->template_hash, sz);
		hex_str(got, sizeof(got), h, sz);
		err_set(e, "template hash %s is not %s(template data) = %s", want,
		        ima_alg_name(log_alg), got);
		return -1;
	}
	return 0;
}

int ima_entry_extend_value(ima_entry_t *ent, uint16_t bank, uint8_t *out, size_t *out_len)
{
	size_t sz = ima_alg_size(bank);

	if (sz == 0 || ent->tdata == NULL)
		return -1;
	*out_len = sz;
	if (ent->is_violation) {
		memset(out, 0xff, sz);
		return 0;
	}
	return entry_hash(ent, bank, out);
}

/* ---------------------------------------------------------------------------------
 * Replay state */

struct ima_state {
	uint16_t bank;               /* TPM_ALG_ID of the quoted bank */
	size_t size;                 /* its digest size */
	uint8_t pcr[IMA_DIGEST_MAX]; /* running PCR 10 after next_entry entries */
	uint64_t next_entry;         /* entries covered by pcr = next entry to request */
	uint64_t lag;                /* entries the last quote lagged behind the log */
};

ima_state_t *ima_state_new(uint16_t bank)
{
	ima_state_t *st;

	if (ima_alg_size(bank) == 0)
		return NULL;
	st = xcalloc(1, sizeof(*st));
	ima_state_reset(st, bank);
	return st;
}

void ima_state_free(ima_state_t *st)
{
	free(st);
}

int ima_state_reset(ima_state_t *st, uint16_t bank)
{
	size_t sz = ima_alg_size(bank);

	if (st == NULL || sz == 0)
		return -1;
	memset(st, 0, sizeof(*st));
	st->bank = bank;
	st->size = sz;
	return 0;
}

uint16_t ima_state_bank(const ima_state_t *st)
{
	return st->bank;
}

uint64_t ima_state_next_entry(const ima_state_t *st)
{
	return st->next_entry;
}

const uint8_t *ima_state_pcr(const ima_state_t *st, size_t *len)
{
	if (len != NULL)
		*len = st->size;
	return st->pcr;
}

uint64_t ima_state_lag(const ima_state_t *st)
{
	return st->lag;
}

int ima_state_set(ima_state_t *st, uint16_t bank, uint64_t next_entry, const uint8_t *pcr,
                  size_t pcr_len, uint64_t lag)
{
	size_t sz = ima_alg_size(bank);

	if (st == NULL || sz == 0 || pcr == NULL || pcr_len != sz)
		return -1;
	st->bank = bank;
	st->size = sz;
	memset(st->pcr, 0, sizeof(st->pcr));
	memcpy(st->pcr, pcr, sz);
	st->next_entry = next_entry;
	st->lag = lag;
	return 0;
}

void ima_state_format(const ima_state_t *st, buf_t *out)
{
	char hex[2 * IMA_DIGEST_MAX + 1];

	hex_str(hex, sizeof(hex), st->pcr, st->size);
	buf_reset(out);
	buf_appendf(out, "ima1:%s:%" PRIu64 ":%" PRIu64 ":%s", ima_alg_name(st->bank),
	            st->next_entry, st->lag, hex);
}

/* A decimal u64 without sign or leading zeros. */
static int parse_u64(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (x > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	*v = x;
	return 0;
}

ima_state_t *ima_state_parse(const char *txt, size_t len, err_t *e)
{
	const char *f[5];
	size_t fl[5];
	const char *p = txt, *end = txt + len;
	char alg[IMA_ALG_NAME_MAX];
	uint8_t pcr[IMA_DIGEST_MAX];
	uint64_t next, lag;
	uint16_t bank;
	ima_state_t *st;

	if (txt == NULL || len == 0 || len >= IMA_STATE_TXT_MAX) {
		err_set(e, "IMA state text is empty or too long");
		return NULL;
	}
	for (int i = 0; i < 5; i++) {
		const char *colon = i < 4 ? memchr(p, ':', (size_t)(end - p)) : end;

		if (colon == NULL) {
			err_set(e, "IMA state text has too few fields");
			return NULL;
		}
		f[i] = p;
		fl[i] = (size_t)(colon - p);
		p = colon < end ? colon + 1 : end;
	}
	if (fl[0] != 4 || memcmp(f[0], "ima1", 4) != 0 || fl[1] >= sizeof(alg)) {
		err_set(e, "IMA state text has an unknown version or bank");
		return NULL;
	}
	memcpy(alg, f[1], fl[1]);
	alg[fl[1]] = 0;
	bank = ima_alg_from_name(alg);
	if (bank == 0 || parse_u64(f[2], fl[2], &next) < 0 || parse_u64(f[3], fl[3], &lag) < 0 ||
	    fl[4] != 2 * ima_alg_size(bank) || hex_to_bytes(f[4], fl[4], pcr) < 0 ||
	    memchr(f[4], ':', fl[4]) != NULL) {
		err_set(e, "malformed IMA state text");
		return NULL;
	}
	st = ima_state_new(bank);
	ima_state_set(st, bank, next, pcr, fl[4] / 2, lag);
	return st;
}

/* ---------------------------------------------------------------------------------
 * Replay */

const char *ima_status_str(ima_status_t s)
{
	switch (s) {
	case IMA_OK:
		return "ok";
	case IMA_ERR_ENTRY_NB:
		return "unexpected first entry";
	case IMA_ERR_PARSE:
		return "malformed list";
	case IMA_ERR_PCR_COLUMN:
		return "entry for another PCR";
	case IMA_ERR_TEMPLATE_HASH:
		return "template hash mismatch";
	case IMA_ERR_PCR_MISMATCH:
		return "PCR 10 mismatch";
	case IMA_ERR_QUOTE_PROGRESS:
		return "quote makes no progress";
	case IMA_ERR_POLICY:
		return "policy failure";
	case IMA_ERR_INTERNAL:
		return "internal error";
	}
	return "unknown";
}

static ima_status_t fail(ima_replay_result_t *res, ima_status_t s, uint64_t entry,
                         const char *event_id, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static ima_status_t fail(ima_replay_result_t *res, ima_status_t s, uint64_t entry,
                         const char *event_id, const char *fmt, ...)
{
	va_list ap;

	res->status = s;
	res->failure.entry = entry;
	snprintf(res->failure.event_id, sizeof(res->failure.event_id), "%s", event_id);
	va_start(ap, fmt);
	vsnprintf(res->failure.reason, sizeof(res->failure.reason), fmt, ap);
	va_end(ap);
	return s;
}

ima_status_t ima_replay(ima_state_t *st, const char *text, size_t len, uint64_t first_entry,
                        const uint8_t *quoted, size_t quoted_len, uint16_t log_alg, ima_entry_cb cb,
                        void *cb_arg, ima_replay_result_t *res)
{
	ima_replay_result_t dummy;
	ima_entry_t ent;
	ima_failure_t pf;
	err_t e = {""};
	uint8_t running[IMA_DIGEST_MAX], match_val[IMA_DIGEST_MAX], ext[IMA_DIGEST_MAX];
	char h1[2 * IMA_DIGEST_MAX + 1], h2[2 * IMA_DIGEST_MAX + 1], h3[2 * IMA_DIGEST_MAX + 1];
	char nm[256]; /* an entry's name, escaped, for a reason */
	uint64_t base, prev_lag, n = 0, matched = UINT64_MAX;
	int policy_failed = 0;
	const char *p, *end;
	size_t sz, ext_len;
	ima_status_t rv;
	EVP_MD_CTX *mc = NULL;

	if (res == NULL)
		res = &dummy;
	memset(res, 0, sizeof(*res));
	res->failure.entry = UINT64_MAX;
	memset(&pf, 0, sizeof(pf));
	ima_entry_init(&ent);
	if (st == NULL || (text == NULL && len != 0))
		return fail(res, IMA_ERR_INTERNAL, UINT64_MAX, "ima.internal", "bad arguments");
	res->next_entry = st->next_entry;
	sz = st->size;
	if (quoted != NULL && quoted_len != sz)
		return fail(res, IMA_ERR_INTERNAL, UINT64_MAX, "ima.internal",
		            "quoted PCR 10 has %zu bytes, the %s bank has %zu", quoted_len,
		            ima_alg_name(st->bank), sz);
	if (ima_alg_size(log_alg) == 0)
		return fail(res, IMA_ERR_INTERNAL, UINT64_MAX, "ima.internal",
		            "unsupported template-hash algorithm 0x%04x", log_alg);
	if (len > IMA_TEXT_MAX)
		return fail(res, IMA_ERR_PARSE, UINT64_MAX, "ima.parser.entry",
		            "measurement list text is %zu bytes, the limit is %u", len,
		            (unsigned)IMA_TEXT_MAX);

	if (first_entry == 0) {
		/* The agent started over: replay from the initial PCR value. */
		memset(running, 0, sizeof(running));
		base = 0;
		prev_lag = 0;
	} else if (first_entry != st->next_entry) {
		return fail(
		    res, IMA_ERR_ENTRY_NB, UINT64_MAX, "qoute_validation.invalid_ima_entry_nb",
		    "agent sent the IMA list from entry %" PRIu64 ", expected entry %" PRIu64,
		    first_entry, st->next_entry);
	} else {
		memcpy(running, st->pcr, sizeof(running));
		base = st->next_entry;
		prev_lag = st->lag;
	}
	if (quoted != NULL && memcmp(running, quoted, sz) == 0) {
		matched = 0;
		memcpy(match_val, running, sz);
	}

	mc = EVP_MD_CTX_new();
	if (mc == NULL) {
		rv = fail(res, IMA_ERR_INTERNAL, UINT64_MAX, "ima.internal", "out of memory");
		goto out;
	}
	p = text;
	end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		uint64_t idx = base + n;

		ent.index = idx;
		if (ima_entry_parse(&ent, p, ll, &e) < 0) {
			rv = fail(res, IMA_ERR_PARSE, idx, "ima.parser.entry",
			          "entry %" PRIu64 " (line %" PRIu64 " of this list): %s", idx,
			          n + 1, e.msg);
			goto out;
		}
		p = nl ? nl + 1 : end;
		if (ent.pcr != IMA_PCR) {
			rv = fail(res, IMA_ERR_PCR_COLUMN, idx, "ima.validation.ima_pcr",
			          "entry %" PRIu64 " (%s) is for PCR %u, not %d", idx,
			          text_escape(nm, sizeof(nm), ent.name, ent.name_len), ent.pcr,
			          IMA_PCR);
			goto out;
		}
		if (ima_entry_check_template_hash(&ent, log_alg, &e) < 0) {
			rv = fail(res, IMA_ERR_TEMPLATE_HASH, idx, "ima.validation.ima_hash",
			          "entry %" PRIu64 " (%s): %s", idx,
			          text_escape(nm, sizeof(nm), ent.name, ent.name_len), e.msg);
			goto out;
		}
		if (ima_entry_extend_value(&ent, st->bank, ext, &ext_len) < 0 ||
		    md_digest(mc, ima_alg_md(st->bank), running, sz, ext, ext_len, running) < 0) {
			rv = fail(res, IMA_ERR_INTERNAL, idx, "ima.internal", "hashing failed");
			goto out;
		}
		n++;
		if (cb != NULL && !policy_failed) {
			ima_failure_t f;

			memset(&f, 0, sizeof(f));
			if (cb(cb_arg, &ent, &f) != 0) {
				policy_failed = 1;
				pf = f;
				pf.entry = idx;
				if (pf.event_id[0] == 0)
					snprintf(pf.event_id, sizeof(pf.event_id),
					         "ima.validation");
			}
		}
		if (quoted != NULL && matched == UINT64_MAX && memcmp(running, quoted, sz) == 0) {
			matched = n;
			memcpy(match_val, running, sz);
		}
	}
	res->entries = n;
	if (quoted == NULL) {
		matched = n;
		memcpy(match_val, running, sz);
	}
	if (matched == UINT64_MAX) {
		hex_str(h1, sizeof(h1), quoted, sz);
		hex_str(h2, sizeof(h2), running, sz);
		hex_str(h3, sizeof(h3), first_entry == 0 ? (const uint8_t *)"" : st->pcr,
		        first_entry == 0 ? 0 : sz);
		rv = fail(
		    res, IMA_ERR_PCR_MISMATCH, UINT64_MAX, "ima.pcr_mismatch",
		    "IMA measurement list does not match TPM PCR 10 (%s): no prefix of entries "
		    "%" PRIu64 "..%" PRIu64 " replayed from %s gives it; the whole list gives %s",
		    h1, base, base + n, first_entry == 0 ? "zero" : h3, h2);
		goto out;
	}
	res->matched = matched;
	if (policy_failed) {
		res->status = IMA_ERR_POLICY;
		res->failure = pf;
		rv = IMA_ERR_POLICY;
		goto out;
	}
	if (matched != n && prev_lag > 0 && matched < prev_lag) {
		rv = fail(
		    res, IMA_ERR_QUOTE_PROGRESS, UINT64_MAX, "ima.quote_progress",
		    "PCR quote did not make progress to catch up with the log: it lagged %" PRIu64
		    " entries last round and covers only %" PRIu64 " of %" PRIu64 " new entries",
		    prev_lag, matched, n);
		goto out;
	}
	memcpy(st->pcr, match_val, sz);
	st->next_entry = base + matched;
	st->lag = n - matched;
	res->next_entry = st->next_entry;
	rv = IMA_OK;
out:
	EVP_MD_CTX_free(mc);
	ima_entry_clear(&ent);
	if (rv != IMA_OK)
		res->next_entry = st != NULL ? st->next_entry : 0;
	return rv;
}

/* quote: Keylime quote string codec, TPMS_ATTEST / TPMT_SIGNATURE / PCR blob decoders,
 * and the per-round checks. Parsing is hand-written and bounds-checked byte by byte: the
 * structures are small, and a hand parser needs no large tss2 structs per round. */
#include "common/evidence/quote.h"

#include <stdbool.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "common/base/bytes.h"
#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/crypto/tpm2.h"

#define TPM_GENERATED_VALUE 0xff544347u
#define TPM_ST_ATTEST_QUOTE 0x8018
#define NAME_MAX_BYTES      68 /* sizeof(TPMU_NAME) */
#define DATA_MAX_BYTES      66 /* sizeof(TPMT_HA), TPM2B_DATA */
#define RSA_SIG_MAX_BYTES   512
#define ECC_PARAM_MAX_BYTES 66 /* P-521 */
#define ECDSA_DER_MAX       (3 + 2 * (2 + ECC_PARAM_MAX_BYTES + 1))

/* PCR blob layout (tpm2-tools' in-memory tss2 structs, little-endian). */
#define BLOB_SEL_SLOT   8   /* TPMS_PCR_SELECTION: u16 hash, u8 size, u8 select[4], pad */
#define BLOB_SEL_BYTES  132 /* TPML_PCR_SELECTION: u32 count + 16 slots */
#define BLOB_HEAD_BYTES 136 /* selection + u32 number of TPML_DIGEST */
#define BLOB_DIG_SLOT   66  /* TPM2B_DIGEST: u16 size + 64 bytes */
#define BLOB_GROUP      532 /* TPML_DIGEST: u32 count + 8 TPM2B_DIGEST */
#define BLOB_PER_GROUP  8

/* ---- hash algorithms ---- */

/* Quotes know the SHA-1/SHA-2 banks of common/tpm2's table and no others. */
static const char *alg_name(uint16_t id)
{
	const char *n = tpm2_alg_name(id);
	return n ? n : "unknown";
}

/* ---- status names ---- */

const char *quote_status_event(quote_status_t st)
{
	switch (st) {
	case QUOTE_OK:
		return "";
	case QUOTE_ERR_FORMAT:
		return "quote_validation.format";
	case QUOTE_ERR_ATTEST:
		return "quote_validation.attest";
	case QUOTE_ERR_SIG_FORMAT:
		return "quote_validation.signature_format";
	case QUOTE_ERR_PCR_BLOB:
		return "quote_validation.pcr_blob";
	case QUOTE_ERR_SIG_ALG:
		return "quote_validation.signature_algorithm";
	case QUOTE_ERR_HASH_ALG:
		return "quote_validation.hash_algorithm";
	case QUOTE_ERR_SIGNATURE:
		return "quote_validation.signature";
	case QUOTE_ERR_NONCE:
		return "quote_validation.nonce";
	case QUOTE_ERR_PCR_SELECTION:
		return "quote_validation.pcr_selection";
	case QUOTE_ERR_PCR_DIGEST:
		return "quote_validation.pcr_digest";
	case QUOTE_ERR_CLOCK:
		return "quote_validation.clock";
	case QUOTE_ERR_PCR16_MISSING:
		return "pcr_validation.missing_pcr_16";
	case QUOTE_ERR_PCR16:
		return "pcr_validation.invalid_pcr_16";
	case QUOTE_ERR_INTERNAL:
		return "internal.quote";
	}
	return "internal.quote";
}

const char *quote_status_keylime_event(quote_status_t st)
{
	switch (st) {
	case QUOTE_OK:
		return "";
	case QUOTE_ERR_PCR16_MISSING:
	case QUOTE_ERR_PCR16:
	case QUOTE_ERR_INTERNAL:
		return quote_status_event(st);
	default:
		/* Keylime reports every quote check failure under this one id, typo included
		 * (its Component.QUOTE_VALIDATION); matching it keeps severity rules working. */
		return "qoute_validation.quote_validation";
	}
}

/* ---- byte readers ---- */

/* A bounds-checked cursor. Reads past the end set bad and return zeros, so a parser
 * checks once per field group instead of before every byte. */
typedef struct rd {
	const uint8_t *p; /* input */
	size_t len;       /* input length */
	size_t off;       /* next byte */
	bool bad;         /* a read ran past the end */
} rd_t;

static const uint8_t *rd_take(rd_t *r, size_t n)
{
	if (r->bad || n > r->len - r->off) {
		r->bad = true;
		return NULL;
	}
	r->off += n;
	return r->p + r->off - n;
}

static uint8_t rd_u8(rd_t *r)
{
	const uint8_t *b = rd_take(r, 1);
	return b ? b[0] : 0;
}

static uint16_t rd_u16be(rd_t *r)
{
	const uint8_t *b = rd_take(r, 2);
	return b ? (uint16_t)(b[0] << 8 | b[1]) : 0;
}

static uint32_t rd_u32be(rd_t *r)
{
	const uint8_t *b = rd_take(r, 4);
	return b ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3] : 0;
}

static uint64_t rd_u64be(rd_t *r)
{
	uint64_t hi = rd_u32be(r);
	return hi << 32 | rd_u32be(r);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

static unsigned popcount24(uint32_t m)
{
	return (unsigned)__builtin_popcount(m & 0xffffffu);
}

/* ---- PCR selections ---- */

size_t quote_pcrsel_values_len(const quote_pcrsel_t *sel)
{
	size_t n = 0;

	if (sel->count > QUOTE_BANKS_MAX)
		return 0;
	for (unsigned b = 0; b < sel->count; b++) {
		size_t sz = tpm2_alg_size(sel->bank[b].alg);
		if (sz == 0)
			return 0;
		n += popcount24(sel->bank[b].mask) * sz;
	}
	return n;
}

static bool sel_has_alg(const quote_pcrsel_t *sel, unsigned upto, uint16_t alg)
{
	for (unsigned i = 0; i < upto; i++)
		if (sel->bank[i].alg == alg)
			return true;
	return false;
}

static bool sel_equal(const quote_pcrsel_t *a, const quote_pcrsel_t *b)
{
	if (a->count != b->count)
		return false;
	for (unsigned i = 0; i < a->count; i++)
		if (a->bank[i].alg != b->bank[i].alg || a->bank[i].mask != b->bank[i].mask)
			return false;
	return true;
}

static void sel_format(const quote_pcrsel_t *s, char *out, size_t n)
{
	size_t o = 0;

	out[0] = 0;
	for (unsigned b = 0; b < s->count && o < n; b++) {
		int w = snprintf(out + o, n - o, "%s%s:", b ? "+" : "", alg_name(s->bank[b].alg));
		if (w < 0)
			return;
		o += (size_t)w;
		bool first = true;
		for (unsigned i = 0; i < QUOTE_PCR_COUNT && o < n; i++) {
			if (!(s->bank[b].mask & (1u << i)))
				continue;
			w = snprintf(out + o, n - o, "%s%u", first ? "" : ",", i);
			if (w < 0)
				return;
			o += (size_t)w;
			first = false;
		}
	}
}

/* ---- PCR blob ---- */

int quote_pcrblob_encode(buf_t *out, const quote_pcrsel_t *sel, const uint8_t *values, size_t len,
                         err_t *e)
{
	size_t total = 0, need;
	uint8_t *p;

	if (sel->count > QUOTE_BANKS_MAX) {
		err_set(e, "PCR selection has %u banks (max %d)", sel->count, QUOTE_BANKS_MAX);
		return -1;
	}
	for (unsigned b = 0; b < sel->count; b++) {
		if (tpm2_alg_size(sel->bank[b].alg) == 0) {
			err_set(e, "PCR bank 0x%04x is not a known hash", sel->bank[b].alg);
			return -1;
		}
		if (sel->bank[b].mask >> QUOTE_PCR_COUNT) {
			err_set(e, "PCR selection names a PCR above 23");
			return -1;
		}
		if (sel_has_alg(sel, b, sel->bank[b].alg)) {
			err_set(e, "PCR bank %s selected twice", alg_name(sel->bank[b].alg));
			return -1;
		}
		total += popcount24(sel->bank[b].mask);
	}
	if (len != quote_pcrsel_values_len(sel)) {
		err_set(e, "PCR values are %zu bytes, the selection needs %zu", len,
		        quote_pcrsel_values_len(sel));
		return -1;
	}
	size_t groups = (total + BLOB_PER_GROUP - 1) / BLOB_PER_GROUP;
	need = BLOB_HEAD_BYTES + groups * BLOB_GROUP;
	buf_reserve(out, need);
	p = out->data + out->len;
	memset(p, 0, need);
	bytes_put_le32(p, sel->count);
	for (unsigned b = 0; b < sel->count; b++) {
		uint8_t *s = p + 4 + b * BLOB_SEL_SLOT;
		bytes_put_le16(s, sel->bank[b].alg);
		s[2] = 3;
		s[3] = (uint8_t)sel->bank[b].mask;
		s[4] = (uint8_t)(sel->bank[b].mask >> 8);
		s[5] = (uint8_t)(sel->bank[b].mask >> 16);
	}
	bytes_put_le32(p + BLOB_SEL_BYTES, (uint32_t)groups);
	/* Values fill groups of 8 in order, across banks, as the TPM returns them from
	 * successive PCR_Read calls. */
	size_t k = 0, off = 0;
	for (unsigned b = 0; b < sel->count; b++) {
		size_t sz = tpm2_alg_size(sel->bank[b].alg);
		for (unsigned n = popcount24(sel->bank[b].mask); n > 0; n--, k++) {
			uint8_t *g = p + BLOB_HEAD_BYTES + (k / BLOB_PER_GROUP) * BLOB_GROUP;
			uint8_t *d = g + 4 + (k % BLOB_PER_GROUP) * BLOB_DIG_SLOT;
			bytes_put_le32(g, (uint32_t)(k % BLOB_PER_GROUP + 1));
			bytes_put_le16(d, (uint16_t)sz);
			memcpy(d + 2, values + off, sz);
			off += sz;
		}
	}
	out->len += need;
	out->data[out->len] = 0;
	return 0;
}

/* Iterates over the selected (bank, PCR) pairs in hashing order. */
typedef struct sel_it {
	const quote_pcrsel_t *sel; /* the selection */
	unsigned bank;             /* current bank index */
	unsigned pcr;              /* current PCR, or QUOTE_PCR_COUNT to advance */
} sel_it_t;

/* Next selected pair; false when done. */
static bool sel_next(sel_it_t *it)
{
	while (it->bank < it->sel->count) {
		for (it->pcr++; it->pcr < QUOTE_PCR_COUNT; it->pcr++)
			if (it->sel->bank[it->bank].mask & (1u << it->pcr))
				return true;
		it->bank++;
		it->pcr = (unsigned)-1;
	}
	return false;
}

quote_status_t quote_pcrblob_decode(const uint8_t *p, size_t len, quote_pcrsel_t *sel,
                                    buf_t *values, err_t *e)
{
	sel_it_t it = {sel, 0, (unsigned)-1};
	size_t groups;

	memset(sel, 0, sizeof(*sel));
	buf_reset(values);
	if (len < BLOB_HEAD_BYTES || len > QUOTE_PCRBLOB_MAX ||
	    (len - BLOB_HEAD_BYTES) % BLOB_GROUP != 0) {
		err_set(e, "PCR blob is %zu bytes; must be 136 + 532*N and at most %d", len,
		        QUOTE_PCRBLOB_MAX);
		return QUOTE_ERR_PCR_BLOB;
	}
	groups = (len - BLOB_HEAD_BYTES) / BLOB_GROUP;
	uint32_t count = bytes_le32(p);
	if (count > QUOTE_BANKS_MAX) {
		err_set(e, "PCR blob selects %u banks (max %d)", count, QUOTE_BANKS_MAX);
		return QUOTE_ERR_PCR_BLOB;
	}
	sel->count = count;
	for (unsigned b = 0; b < QUOTE_BANKS_MAX; b++) {
		const uint8_t *s = p + 4 + b * BLOB_SEL_SLOT;
		if (b >= count) {
			if (!all_zero(s, BLOB_SEL_SLOT)) {
				err_set(e, "PCR blob: unused selection slot %u is not zero", b);
				goto bad;
			}
			continue;
		}
		uint16_t alg = bytes_le16(s);
		if (tpm2_alg_size(alg) == 0) {
			err_set(e, "PCR blob: bank 0x%04x is not a known hash", alg);
			goto bad;
		}
		if (sel_has_alg(sel, b, alg)) {
			err_set(e, "PCR blob: bank %s selected twice", alg_name(alg));
			goto bad;
		}
		/* sizeofSelect is 3 (24 PCRs) from every known producer (tpm2-tools, the
		 * Rust agent). Keylime would also take 0, an empty bank; nobody writes it,
		 * and refusing it keeps the encoding canonical. */
		if (s[2] != 3 || s[6] != 0 || s[7] != 0) {
			err_set(e, "PCR blob: bank %s has sizeofSelect %u or stray bits/padding",
			        alg_name(alg), s[2]);
			goto bad;
		}
		sel->bank[b].alg = alg;
		sel->bank[b].mask = (uint32_t)s[3] | (uint32_t)s[4] << 8 | (uint32_t)s[5] << 16;
	}
	if (bytes_le32(p + BLOB_SEL_BYTES) != groups) {
		err_set(e, "PCR blob: says %u value groups, its length holds %zu",
		        bytes_le32(p + BLOB_SEL_BYTES), groups);
		goto bad;
	}
	buf_reserve(values, quote_pcrsel_values_len(sel));
	for (size_t g = 0; g < groups; g++) {
		const uint8_t *gp = p + BLOB_HEAD_BYTES + g * BLOB_GROUP;
		uint32_t n = bytes_le32(gp);
		if (n == 0 || n > BLOB_PER_GROUP) {
			err_set(e, "PCR blob: value group %zu has count %u (1..8)", g, n);
			goto bad;
		}
		for (unsigned j = 0; j < BLOB_PER_GROUP; j++) {
			const uint8_t *d = gp + 4 + j * BLOB_DIG_SLOT;
			uint16_t sz = bytes_le16(d);
			if (j >= n) {
				if (!all_zero(d, BLOB_DIG_SLOT)) {
					err_set(e, "PCR blob: unused value slot %zu/%u is not zero",
					        g, j);
					goto bad;
				}
				continue;
			}
			if (!sel_next(&it)) {
				err_set(e, "PCR blob holds more values than its selection names");
				goto bad;
			}
			uint16_t alg = sel->bank[it.bank].alg;
			if (sz != tpm2_alg_size(alg) ||
			    !all_zero(d + 2 + sz, QUOTE_DIGEST_MAX - sz)) {
				err_set(
				    e,
				    "PCR blob: %s PCR %u value is %u bytes (or unpadded), not %zu",
				    alg_name(alg), it.pcr, sz, tpm2_alg_size(alg));
				goto bad;
			}
			buf_append(values, d + 2, sz);
		}
	}
	if (sel_next(&it)) {
		err_set(e, "PCR blob lacks a value for %s PCR %u", alg_name(sel->bank[it.bank].alg),
		        it.pcr);
		goto bad;
	}
	return QUOTE_OK;
bad:
	memset(sel, 0, sizeof(*sel));
	buf_reset(values);
	return QUOTE_ERR_PCR_BLOB;
}

/* ---- the quote object ---- */

struct quote {
	bool valid;     /* a decode succeeded; accessors answer */
	buf_t attest;   /* raw TPMS_ATTEST */
	buf_t sig;      /* raw TPMT_SIGNATURE */
	buf_t blob;     /* raw PCR blob */
	buf_t values;   /* blob's PCR values, concatenated in selection order */
	EVP_MD_CTX *md; /* scratch hash context, reused every round */
	/* TPMS_ATTEST fields: offsets into attest */
	size_t signer_off;   /* qualifiedSigner.name */
	size_t signer_len;   /* qualifiedSigner.size */
	size_t extra_off;    /* extraData.buffer */
	size_t extra_len;    /* extraData.size */
	size_t digest_off;   /* pcrDigest.buffer */
	size_t digest_len;   /* pcrDigest.size */
	quote_clock_t clock; /* clockInfo */
	uint64_t fw;         /* firmwareVersion */
	quote_pcrsel_t asel; /* TPMS_QUOTE_INFO.pcrSelect */
	/* TPMT_SIGNATURE */
	uint16_t sig_alg;           /* QUOTE_SIG_* */
	uint16_t sig_hash;          /* hash TPM_ALG_ID */
	size_t sig_off;             /* RSA signature bytes in sig */
	size_t sig_len;             /* RSA signature length */
	uint8_t der[ECDSA_DER_MAX]; /* ECDSA (r, s) as DER for OpenSSL */
	size_t der_len;             /* bytes in der */
	size_t ecc_param_len;       /* max(len r, len s), checked against the curve */
	/* PCR blob */
	quote_pcrsel_t bsel;                                  /* blob's selection */
	uint16_t value_off[QUOTE_BANKS_MAX][QUOTE_PCR_COUNT]; /* offset+1 into values, 0 = none */
};

quote_t *quote_new(void)
{
	quote_t *q = xcalloc(1, sizeof(*q));

	q->md = EVP_MD_CTX_new();
	if (q->md == NULL)
		fatalx("quote: out of memory");
	return q;
}

void quote_free(quote_t *q)
{
	if (q == NULL)
		return;
	buf_free(&q->attest);
	buf_free(&q->sig);
	buf_free(&q->blob);
	buf_free(&q->values);
	EVP_MD_CTX_free(q->md);
	free(q);
}

static quote_status_t attest_parse(quote_t *q, err_t *e)
{
	rd_t r = {q->attest.data, q->attest.len, 0, false};
	uint32_t magic = rd_u32be(&r);
	uint16_t type = rd_u16be(&r);

	if (r.bad)
		goto short_;
	if (magic != TPM_GENERATED_VALUE) {
		err_set(e, "TPMS_ATTEST magic is 0x%08x, not TPM_GENERATED", magic);
		return QUOTE_ERR_ATTEST;
	}
	if (type != TPM_ST_ATTEST_QUOTE) {
		err_set(e, "TPMS_ATTEST type is 0x%04x, not a quote (0x8018)", type);
		return QUOTE_ERR_ATTEST;
	}
	q->signer_len = rd_u16be(&r);
	q->signer_off = r.off;
	if (q->signer_len > NAME_MAX_BYTES) {
		err_set(e, "TPMS_ATTEST qualifiedSigner is %zu bytes (max %d)", q->signer_len,
		        NAME_MAX_BYTES);
		return QUOTE_ERR_ATTEST;
	}
	rd_take(&r, q->signer_len);
	q->extra_len = rd_u16be(&r);
	q->extra_off = r.off;
	if (q->extra_len > DATA_MAX_BYTES) {
		err_set(e, "TPMS_ATTEST extraData is %zu bytes (max %d)", q->extra_len,
		        DATA_MAX_BYTES);
		return QUOTE_ERR_ATTEST;
	}
	rd_take(&r, q->extra_len);
	q->clock.clock = rd_u64be(&r);
	q->clock.reset_count = rd_u32be(&r);
	q->clock.restart_count = rd_u32be(&r);
	q->clock.safe = rd_u8(&r);
	q->fw = rd_u64be(&r);
	uint32_t count = rd_u32be(&r);
	if (r.bad)
		goto short_;
	if (q->clock.safe > 1) {
		err_set(e, "TPMS_ATTEST clockInfo.safe is %u, not 0 or 1", q->clock.safe);
		return QUOTE_ERR_ATTEST;
	}
	if (count > QUOTE_BANKS_MAX) {
		err_set(e, "TPMS_ATTEST selects %u PCR banks (max %d)", count, QUOTE_BANKS_MAX);
		return QUOTE_ERR_ATTEST;
	}
	q->asel.count = count;
	for (unsigned b = 0; b < count; b++) {
		uint16_t alg = rd_u16be(&r);
		uint8_t n = rd_u8(&r);
		const uint8_t *s = rd_take(&r, n);
		uint32_t mask = 0;
		if (r.bad)
			goto short_;
		if (n > 4) {
			err_set(e, "TPMS_ATTEST sizeofSelect %u (max 4)", n);
			return QUOTE_ERR_ATTEST;
		}
		for (unsigned i = 0; i < n; i++)
			mask |= (uint32_t)s[i] << (8 * i);
		if (mask >> QUOTE_PCR_COUNT) {
			err_set(e, "TPMS_ATTEST selects a PCR above 23");
			return QUOTE_ERR_ATTEST;
		}
		if (sel_has_alg(&q->asel, b, alg)) {
			err_set(e, "TPMS_ATTEST selects bank 0x%04x twice", alg);
			return QUOTE_ERR_ATTEST;
		}
		q->asel.bank[b].alg = alg;
		q->asel.bank[b].mask = mask;
	}
	q->digest_len = rd_u16be(&r);
	q->digest_off = r.off;
	if (q->digest_len > QUOTE_DIGEST_MAX) {
		err_set(e, "TPMS_ATTEST pcrDigest is %zu bytes (max %d)", q->digest_len,
		        QUOTE_DIGEST_MAX);
		return QUOTE_ERR_ATTEST;
	}
	rd_take(&r, q->digest_len);
	if (r.bad)
		goto short_;
	if (r.off != r.len) {
		err_set(e, "TPMS_ATTEST has %zu trailing bytes", r.len - r.off);
		return QUOTE_ERR_ATTEST;
	}
	return QUOTE_OK;
short_:
	err_set(e, "TPMS_ATTEST is truncated (%zu bytes)", q->attest.len);
	return QUOTE_ERR_ATTEST;
}

/* Append a DER INTEGER of the unsigned big-endian number p[0..n). */
static size_t der_int(uint8_t *out, const uint8_t *p, size_t n)
{
	size_t o = 0;

	while (n > 1 && p[0] == 0) {
		p++;
		n--;
	}
	bool pad = (p[0] & 0x80) != 0;
	out[o++] = 0x02;
	out[o++] = (uint8_t)(n + pad);
	if (pad)
		out[o++] = 0;
	memcpy(out + o, p, n);
	return o + n;
}

static quote_status_t sig_parse(quote_t *q, err_t *e)
{
	rd_t r = {q->sig.data, q->sig.len, 0, false};

	q->sig_alg = rd_u16be(&r);
	q->sig_hash = rd_u16be(&r);
	if (r.bad)
		goto short_;
	if (q->sig_alg != QUOTE_SIG_RSASSA && q->sig_alg != QUOTE_SIG_RSAPSS &&
	    q->sig_alg != QUOTE_SIG_ECDSA) {
		err_set(e, "quote signature algorithm 0x%04x is not supported (RSASSA or ECDSA)",
		        q->sig_alg);
		return QUOTE_ERR_SIG_ALG;
	}
	if (tpm2_alg_size(q->sig_hash) == 0) {
		err_set(e, "quote signature hash 0x%04x is not supported", q->sig_hash);
		return QUOTE_ERR_HASH_ALG;
	}
	if (q->sig_alg == QUOTE_SIG_ECDSA) {
		uint8_t body[ECDSA_DER_MAX];
		size_t blen = 0, rl, sl;
		const uint8_t *rp, *sp;

		rl = rd_u16be(&r);
		rp = rd_take(&r, rl);
		sl = rd_u16be(&r);
		sp = rd_take(&r, sl);
		if (r.bad)
			goto short_;
		if (rl == 0 || sl == 0 || rl > ECC_PARAM_MAX_BYTES || sl > ECC_PARAM_MAX_BYTES) {
			err_set(e, "ECDSA signature r/s are %zu/%zu bytes (1..%d)", rl, sl,
			        ECC_PARAM_MAX_BYTES);
			return QUOTE_ERR_SIG_FORMAT;
		}
		q->ecc_param_len = rl > sl ? rl : sl;
		blen = der_int(body, rp, rl);
		blen += der_int(body + blen, sp, sl);
		q->der_len = 0;
		q->der[q->der_len++] = 0x30;
		if (blen >= 0x80)
			q->der[q->der_len++] = 0x81;
		q->der[q->der_len++] = (uint8_t)blen;
		memcpy(q->der + q->der_len, body, blen);
		q->der_len += blen;
	} else {
		q->sig_len = rd_u16be(&r);
		q->sig_off = r.off;
		rd_take(&r, q->sig_len);
		if (r.bad)
			goto short_;
		if (q->sig_len == 0 || q->sig_len > RSA_SIG_MAX_BYTES) {
			err_set(e, "RSA signature is %zu bytes (1..%d)", q->sig_len,
			        RSA_SIG_MAX_BYTES);
			return QUOTE_ERR_SIG_FORMAT;
		}
	}
	if (r.off != r.len) {
		err_set(e, "TPMT_SIGNATURE has %zu trailing bytes", r.len - r.off);
		return QUOTE_ERR_SIG_FORMAT;
	}
	return QUOTE_OK;
short_:
	err_set(e, "TPMT_SIGNATURE is truncated (%zu bytes)", q->sig.len);
	return QUOTE_ERR_SIG_FORMAT;
}

static quote_status_t blob_parse(quote_t *q, err_t *e)
{
	quote_status_t st =
	    quote_pcrblob_decode(q->blob.data, q->blob.len, &q->bsel, &q->values, e);
	sel_it_t it = {&q->bsel, 0, (unsigned)-1};
	size_t off = 0;

	if (st != QUOTE_OK)
		return st;
	memset(q->value_off, 0, sizeof(q->value_off));
	while (sel_next(&it)) {
		q->value_off[it.bank][it.pcr] = (uint16_t)(off + 1);
		off += tpm2_alg_size(q->bsel.bank[it.bank].alg);
	}
	return QUOTE_OK;
}

static void quote_clear(quote_t *q)
{
	q->valid = false;
	buf_reset(&q->attest);
	buf_reset(&q->sig);
	buf_reset(&q->blob);
	buf_reset(&q->values);
	memset(&q->asel, 0, sizeof(q->asel));
	memset(&q->bsel, 0, sizeof(q->bsel));
}

void quote_release(quote_t *q)
{
	quote_clear(q);
	buf_free(&q->attest);
	buf_free(&q->sig);
	buf_free(&q->blob);
	buf_free(&q->values);
}

static quote_status_t quote_parse(quote_t *q, err_t *e)
{
	quote_status_t st;

	if ((st = attest_parse(q, e)) != QUOTE_OK || (st = sig_parse(q, e)) != QUOTE_OK ||
	    (st = blob_parse(q, e)) != QUOTE_OK) {
		quote_clear(q);
		return st;
	}
	q->valid = true;
	return QUOTE_OK;
}

quote_status_t quote_decode_parts(quote_t *q, const uint8_t *attest, size_t attest_len,
                                  const uint8_t *sig, size_t sig_len, const uint8_t *pcrblob,
                                  size_t pcrblob_len, err_t *e)
{
	quote_clear(q);
	if (attest_len > QUOTE_ATTEST_MAX || sig_len > QUOTE_SIG_MAX ||
	    pcrblob_len > QUOTE_PCRBLOB_MAX) {
		err_set(e, "quote part too large (attest %zu, signature %zu, PCR blob %zu bytes)",
		        attest_len, sig_len, pcrblob_len);
		return QUOTE_ERR_FORMAT;
	}
	buf_set(&q->attest, attest, attest_len);
	buf_set(&q->sig, sig, sig_len);
	buf_set(&q->blob, pcrblob, pcrblob_len);
	return quote_parse(q, e);
}

/* Largest base64 text for n decoded bytes. */
#define B64_LEN(n) (((n) + 2) / 3 * 4)

quote_status_t quote_decode(quote_t *q, const char *s, size_t len, err_t *e)
{
	static const struct {
		const char *what; /* part name for messages */
		size_t max;       /* decoded size limit */
	} parts[3] = {
	    {"TPMS_ATTEST", QUOTE_ATTEST_MAX},
	    {"TPMT_SIGNATURE", QUOTE_SIG_MAX},
	    {"PCR blob", QUOTE_PCRBLOB_MAX},
	};
	buf_t *dst[3] = {&q->attest, &q->sig, &q->blob};
	size_t start = 1;

	quote_clear(q);
	if (len > QUOTE_STRING_MAX) {
		err_set(e, "quote is %zu bytes (max %d)", len, QUOTE_STRING_MAX);
		return QUOTE_ERR_FORMAT;
	}
	if (len == 0 || s[0] != 'r') {
		err_set(e, "quote does not start with 'r'");
		return QUOTE_ERR_FORMAT;
	}
	for (int i = 0; i < 3; i++) {
		const char *c = memchr(s + start, ':', len - start);
		size_t end = (i < 2) ? (c ? (size_t)(c - s) : len) : len;
		size_t n = end - start;

		if (i < 2 && c == NULL) {
			err_set(e, "quote has %d part%s, not 3 (attest:signature:pcrs)", i + 1,
			        i ? "s" : "");
			goto bad;
		}
		if (i == 2 && c != NULL) {
			err_set(e, "quote has more than 3 parts");
			goto bad;
		}
		if (n == 0) {
			err_set(e, "quote %s part is empty", parts[i].what);
			goto bad;
		}
		if (n > B64_LEN(parts[i].max)) {
			err_set(e, "quote %s part is %zu characters (max %zu)", parts[i].what, n,
			        (size_t)B64_LEN(parts[i].max));
			goto bad;
		}
		if (base64_decode(dst[i], s + start, n) < 0) {
			err_set(e, "quote %s part is not valid base64", parts[i].what);
			goto bad;
		}
		start = end + 1;
	}
	return quote_parse(q, e);
bad:
	quote_clear(q);
	return QUOTE_ERR_FORMAT;
}

int quote_encode(buf_t *out, const uint8_t *attest, size_t attest_len, const uint8_t *sig,
                 size_t sig_len, const uint8_t *pcrblob, size_t pcrblob_len, err_t *e)
{
	if (attest_len == 0 || sig_len == 0 || pcrblob_len == 0 || attest_len > QUOTE_ATTEST_MAX ||
	    sig_len > QUOTE_SIG_MAX || pcrblob_len > QUOTE_PCRBLOB_MAX) {
		err_set(e,
		        "quote part empty or too large (attest %zu, signature %zu, PCR blob %zu)",
		        attest_len, sig_len, pcrblob_len);
		return -1;
	}
	buf_reserve(out, 3 + B64_LEN(attest_len) + B64_LEN(sig_len) + B64_LEN(pcrblob_len));
	buf_append(out, "r", 1);
	base64_encode(out, attest, attest_len);
	buf_append(out, ":", 1);
	base64_encode(out, sig, sig_len);
	buf_append(out, ":", 1);
	base64_encode(out, pcrblob, pcrblob_len);
	return 0;
}

/* ---- accessors ---- */

static const uint8_t *part(const quote_t *q, const buf_t *b, size_t *len)
{
	if (!q->valid) {
		*len = 0;
		return NULL;
	}
	*len = b->len;
	return b->data;
}

const uint8_t *quote_attest_bytes(const quote_t *q, size_t *len)
{
	return part(q, &q->attest, len);
}

const uint8_t *quote_sig_bytes(const quote_t *q, size_t *len)
{
	return part(q, &q->sig, len);
}

const uint8_t *quote_pcrblob_bytes(const quote_t *q, size_t *len)
{
	return part(q, &q->blob, len);
}

static const uint8_t *field(const quote_t *q, size_t off, size_t n, size_t *len)
{
	if (!q->valid) {
		*len = 0;
		return NULL;
	}
	*len = n;
	return q->attest.data + off;
}

const uint8_t *quote_qualified_signer(const quote_t *q, size_t *len)
{
	return field(q, q->signer_off, q->signer_len, len);
}

const uint8_t *quote_extra_data(const quote_t *q, size_t *len)
{
	return field(q, q->extra_off, q->extra_len, len);
}

const uint8_t *quote_pcr_digest(const quote_t *q, size_t *len)
{
	return field(q, q->digest_off, q->digest_len, len);
}

const quote_pcrsel_t *quote_attest_selection(const quote_t *q)
{
	return q->valid ? &q->asel : NULL;
}

const quote_pcrsel_t *quote_blob_selection(const quote_t *q)
{
	return q->valid ? &q->bsel : NULL;
}

int quote_clock_info(const quote_t *q, quote_clock_t *out)
{
	if (!q->valid)
		return -1;
	*out = q->clock;
	return 0;
}

uint64_t quote_firmware_version(const quote_t *q)
{
	return q->valid ? q->fw : 0;
}

uint16_t quote_sig_alg(const quote_t *q)
{
	return q->valid ? q->sig_alg : 0;
}

uint16_t quote_sig_hash_alg(const quote_t *q)
{
	return q->valid ? q->sig_hash : 0;
}

const uint8_t *quote_pcr_value(const quote_t *q, uint16_t alg, unsigned pcr, size_t *len)
{
	*len = 0;
	if (!q->valid || pcr >= QUOTE_PCR_COUNT)
		return NULL;
	for (unsigned b = 0; b < q->bsel.count; b++) {
		if (q->bsel.bank[b].alg != alg)
			continue;
		if (q->value_off[b][pcr] == 0)
			return NULL;
		*len = tpm2_alg_size(alg);
		return q->values.data + q->value_off[b][pcr] - 1;
	}
	return NULL;
}

/* ---- checks ---- */

struct quote_ak {
	EVP_PKEY *pkey;                     /* own reference */
	int type;                           /* EVP_PKEY_RSA or EVP_PKEY_EC */
	size_t ec_bytes;                    /* EC: bytes of a coordinate; bound on r and s */
	EVP_PKEY_CTX *ctx[TPM2_HASH_BANKS]; /* verify contexts per hash, made on first use */
};

quote_ak_t *quote_ak_new(EVP_PKEY *pkey, err_t *e)
{
	quote_ak_t *ak;
	int type;

	if (pkey == NULL) {
		err_set(e, "no attestation key");
		return NULL;
	}
	type = EVP_PKEY_get_base_id(pkey);
	if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC) {
		err_set(e, "attestation key is neither RSA nor EC");
		return NULL;
	}
	if (!EVP_PKEY_up_ref(pkey)) {
		err_set_ssl(e, "EVP_PKEY_up_ref");
		return NULL;
	}
	ak = xcalloc(1, sizeof(*ak));
	ak->pkey = pkey;
	ak->type = type;
	if (type == EVP_PKEY_EC)
		ak->ec_bytes = (size_t)(EVP_PKEY_get_bits(pkey) + 7) / 8;
	return ak;
}

void quote_ak_free(quote_ak_t *ak)
{
	if (ak == NULL)
		return;
	for (int i = 0; i < TPM2_HASH_BANKS; i++)
		EVP_PKEY_CTX_free(ak->ctx[i]);
	EVP_PKEY_free(ak->pkey);
	free(ak);
}

/* The prepared verify context for one hash: made once, then EVP_PKEY_verify reuses it
 * every round (RSA and ECDSA verification keep no state between calls). */
static EVP_PKEY_CTX *ak_ctx(quote_ak_t *ak, uint16_t hash, err_t *e)
{
	int i = tpm2_alg_bank(hash);
	EVP_PKEY_CTX *c;

	if (ak->ctx[i])
		return ak->ctx[i];
	c = EVP_PKEY_CTX_new_from_pkey(NULL, ak->pkey, NULL);
	if (c == NULL || EVP_PKEY_verify_init(c) <= 0 ||
	    (ak->type == EVP_PKEY_RSA && EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) <= 0) ||
	    EVP_PKEY_CTX_set_signature_md(c, tpm2_alg_md_fetched(hash)) <= 0) {
		err_set_ssl(e, "preparing the %s signature check", alg_name(hash));
		EVP_PKEY_CTX_free(c);
		return NULL;
	}
	ak->ctx[i] = c;
	return c;
}

static int digest(quote_t *q, uint16_t alg, const uint8_t *p, size_t n, uint8_t *out,
                  unsigned *outlen)
{
	const EVP_MD *md = tpm2_alg_md_fetched(alg);

	if (md == NULL || EVP_DigestInit_ex2(q->md, md, NULL) != 1 ||
	    EVP_DigestUpdate(q->md, p, n) != 1 || EVP_DigestFinal_ex(q->md, out, outlen) != 1) {
		log_ssl("quote: %s digest", alg_name(alg));
		return -1;
	}
	return 0;
}

static quote_status_t need_quote(const quote_t *q, err_t *e)
{
	if (q->valid)
		return QUOTE_OK;
	err_set(e, "no decoded quote to check");
	return QUOTE_ERR_INTERNAL;
}

quote_status_t quote_check_signature(quote_t *q, quote_ak_t *ak, uint16_t hash_alg, err_t *e)
{
	uint8_t h[EVP_MAX_MD_SIZE];
	unsigned hlen = 0;
	EVP_PKEY_CTX *c;
	const uint8_t *sig;
	size_t siglen;
	int ok;

	if (need_quote(q, e) != QUOTE_OK)
		return QUOTE_ERR_INTERNAL;
	if (ak->type == EVP_PKEY_RSA && q->sig_alg != QUOTE_SIG_RSASSA) {
		if (q->sig_alg == QUOTE_SIG_RSAPSS)
			err_set(
			    e, "quote is signed with RSAPSS; only RSASSA is accepted for RSA keys");
		else
			err_set(e, "quote signature algorithm 0x%04x does not fit an RSA key",
			        q->sig_alg);
		return QUOTE_ERR_SIG_ALG;
	}
	if (ak->type == EVP_PKEY_EC && q->sig_alg != QUOTE_SIG_ECDSA) {
		err_set(e, "quote signature algorithm 0x%04x does not fit an EC key (ECDSA)",
		        q->sig_alg);
		return QUOTE_ERR_SIG_ALG;
	}
	if (q->sig_hash != hash_alg) {
		err_set(e, "quote was expected to use %s but used %s", alg_name(hash_alg),
		        alg_name(q->sig_hash));
		return QUOTE_ERR_HASH_ALG;
	}
	if (ak->type == EVP_PKEY_EC && q->ecc_param_len > ak->ec_bytes) {
		err_set(e, "ECDSA signature r/s longer than the key's %zu-byte curve",
		        ak->ec_bytes);
		return QUOTE_ERR_SIGNATURE;
	}
	if ((c = ak_ctx(ak, hash_alg, e)) == NULL)
		return QUOTE_ERR_INTERNAL;
	if (digest(q, hash_alg, q->attest.data, q->attest.len, h, &hlen) < 0) {
		err_set(e, "hashing the quote failed");
		return QUOTE_ERR_INTERNAL;
	}
	if (ak->type == EVP_PKEY_EC) {
		sig = q->der;
		siglen = q->der_len;
	} else {
		sig = q->sig.data + q->sig_off;
		siglen = q->sig_len;
	}
	ok = EVP_PKEY_verify(c, sig, siglen, h, hlen);
	if (ok != 1) {
		/* A bad signature is an expected outcome, not an internal error: drop
		 * OpenSSL's queued reason so it does not pile up round after round. */
		ERR_clear_error();
		err_set(e, "quote signature does not verify with the attestation key");
		return QUOTE_ERR_SIGNATURE;
	}
	return QUOTE_OK;
}

static void hex_short(char *out, size_t n, const uint8_t *p, size_t len)
{
	static const char hx[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < len && o + 3 < n; i++) {
		out[o++] = hx[p[i] >> 4];
		out[o++] = hx[p[i] & 15];
	}
	out[o] = 0;
}

quote_status_t quote_check_nonce(const quote_t *q, const void *nonce, size_t nonce_len, err_t *e)
{
	char got[2 * DATA_MAX_BYTES + 1];

	if (need_quote(q, e) != QUOTE_OK)
		return QUOTE_ERR_INTERNAL;
	if (q->extra_len == nonce_len &&
	    (nonce_len == 0 || memcmp(q->attest.data + q->extra_off, nonce, nonce_len) == 0))
		return QUOTE_OK;
	hex_short(got, sizeof(got), q->attest.data + q->extra_off, q->extra_len);
	err_set(e, "the nonce in the quote (hex %s) differs from the one sent", got);
	return QUOTE_ERR_NONCE;
}

quote_status_t quote_check_pcrs(quote_t *q, err_t *e)
{
	uint8_t h[EVP_MAX_MD_SIZE];
	unsigned hlen = 0;

	if (need_quote(q, e) != QUOTE_OK)
		return QUOTE_ERR_INTERNAL;
	if (!sel_equal(&q->asel, &q->bsel)) {
		char a[200], b[200];
		sel_format(&q->asel, a, sizeof(a));
		sel_format(&q->bsel, b, sizeof(b));
		err_set(e, "PCR blob selection (%s) differs from the quoted selection (%s)", b, a);
		return QUOTE_ERR_PCR_SELECTION;
	}
	if (digest(q, q->sig_hash, q->values.data, q->values.len, h, &hlen) < 0) {
		err_set(e, "hashing the PCR values failed");
		return QUOTE_ERR_INTERNAL;
	}
	if (hlen != q->digest_len || memcmp(h, q->attest.data + q->digest_off, hlen) != 0) {
		err_set(e, "the PCR values do not hash (%s) to the quoted pcrDigest",
		        alg_name(q->sig_hash));
		return QUOTE_ERR_PCR_DIGEST;
	}
	return QUOTE_OK;
}

quote_status_t quote_verify(quote_t *q, quote_ak_t *ak, uint16_t hash_alg, const void *nonce,
                            size_t nonce_len, err_t *e)
{
	quote_status_t st;

	if ((st = quote_check_signature(q, ak, hash_alg, e)) != QUOTE_OK)
		return st;
	if ((st = quote_check_nonce(q, nonce, nonce_len, e)) != QUOTE_OK)
		return st;
	return quote_check_pcrs(q, e);
}

quote_status_t quote_check_pcr16(quote_t *q, uint16_t hash_alg, const void *pem, size_t pem_len,
                                 err_t *e)
{
	uint8_t buf[2 * EVP_MAX_MD_SIZE], want[EVP_MAX_MD_SIZE];
	unsigned hlen = 0, wlen = 0;
	const uint8_t *got;
	size_t glen, sz = tpm2_alg_size(hash_alg);

	if (need_quote(q, e) != QUOTE_OK)
		return QUOTE_ERR_INTERNAL;
	if (sz == 0) {
		err_set(e, "hash 0x%04x is not supported", hash_alg);
		return QUOTE_ERR_HASH_ALG;
	}
	got = quote_pcr_value(q, hash_alg, 16, &glen);
	if (got == NULL) {
		err_set(e, "data PCR 16 (%s) is missing in the quote, but is required",
		        alg_name(hash_alg));
		return QUOTE_ERR_PCR16_MISSING;
	}
	/* Expected value: extend of H(pem) into a freshly reset (all-zero) PCR. */
	memset(buf, 0, sz);
	if (digest(q, hash_alg, pem, pem_len, buf + sz, &hlen) < 0 ||
	    digest(q, hash_alg, buf, sz + hlen, want, &wlen) < 0) {
		err_set(e, "hashing the public key failed");
		return QUOTE_ERR_INTERNAL;
	}
	if (wlen != glen || memcmp(want, got, glen) != 0) {
		char g[2 * QUOTE_DIGEST_MAX + 1], w[2 * QUOTE_DIGEST_MAX + 1];
		hex_short(g, sizeof(g), got, glen);
		hex_short(w, sizeof(w), want, wlen);
		err_set(e, "PCR 16 is %s, the public key binds %s", g, w);
		return QUOTE_ERR_PCR16;
	}
	return QUOTE_OK;
}

quote_status_t quote_check_clock(const quote_t *q, const quote_clock_t *prev, err_t *e)
{
	const quote_clock_t *c = &q->clock;

	if (need_quote(q, e) != QUOTE_OK)
		return QUOTE_ERR_INTERNAL;
	/* Keylime's order: the counters, then the safe flag, then the clock. */
	if (prev != NULL && c->reset_count < prev->reset_count) {
		err_set(e, "TPM resetCount decreased (%u -> %u)", prev->reset_count,
		        c->reset_count);
		return QUOTE_ERR_CLOCK;
	}
	if (prev != NULL && c->reset_count == prev->reset_count &&
	    c->restart_count < prev->restart_count) {
		err_set(e, "TPM restartCount decreased (%u -> %u)", prev->restart_count,
		        c->restart_count);
		return QUOTE_ERR_CLOCK;
	}
	if (c->safe != 1) {
		err_set(e, "TPM clock safe flag is not set");
		return QUOTE_ERR_CLOCK;
	}
	if (prev == NULL)
		return QUOTE_OK;
	if ((c->reset_count == prev->reset_count || c->restart_count == prev->restart_count) &&
	    c->clock <= prev->clock) {
		err_set(e, "TPM clock did not advance (%llu -> %llu ms)",
		        (unsigned long long)prev->clock, (unsigned long long)c->clock);
		return QUOTE_ERR_CLOCK;
	}
	return QUOTE_OK;
}

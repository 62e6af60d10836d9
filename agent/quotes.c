/* quotes: see quotes.h. The request path is: parse, PCR 16 reset + extend, quote with
 * PCR read-back until they agree, then the logs, in Keylime's order (quote first, so the
 * IMA list sent is at least as long as what the quoted PCR 10 covers). */
#include "agent/quotes.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/base/buf.h"
#include "common/base/log.h"
#include "common/evidence/quote.h"
#include "common/crypto/tpm2.h"
#include "common/base/xmalloc.h"

#define QUOTES_ATTEMPTS 5 /* quote + PCR read rounds before giving up */
#define QUOTES_BANK     TPM2_ALG_SHA256_ID
#define IMA_LINE_MAX    8192 /* longest last line the IMA read cache keeps */

/* Where the previous IMA list read ended (see ima_read). */
typedef struct ima_cache {
	int valid;               /* the fields below describe the file as last read */
	dev_t dev;               /* the file's device ... */
	ino_t ino;               /* ... and inode: another file means a full read */
	uint64_t lines;          /* complete lines before off */
	off_t off;               /* byte offset just past the last complete line */
	size_t last_len;         /* bytes of last */
	char last[IMA_LINE_MAX]; /* that last line, '\n' included */
} ima_cache_t;

/* ---- quoting ---- */

struct quotes {
	quotes_opts_t o;                 /* options; pointers borrowed */
	size_t pem_len;                  /* strlen(o.pubkey_pem) */
	uint8_t pem_digest[32];          /* SHA-256 of the pubkey PEM, what PCR 16 gets */
	quote_t *check;                  /* decoder for the read-back check */
	buf_t attest, sig, values, blob; /* quote parts, reused */
	buf_t text;                      /* the quote string, reused */
	buf_t file;                      /* a log as read, reused */
	buf_t b64;                       /* base64 of the event log, reused */
	ima_cache_t ima;                 /* where the last IMA read ended */
};

quotes_t *quotes_new(const quotes_opts_t *o)
{
	quotes_t *qs = xcalloc(1, sizeof(*qs));
	unsigned int dlen = 0;

	qs->o = *o;
	qs->pem_len = strlen(o->pubkey_pem);
	if (EVP_Digest(o->pubkey_pem, qs->pem_len, qs->pem_digest, &dlen, EVP_sha256(), NULL) !=
	        1 ||
	    dlen != sizeof(qs->pem_digest))
		fatalx("SHA-256 failed");
	qs->check = quote_new();
	return qs;
}

void quotes_free(quotes_t *qs)
{
	if (qs == NULL)
		return;
	quote_free(qs->check);
	buf_free(&qs->attest);
	buf_free(&qs->sig);
	buf_free(&qs->values);
	buf_free(&qs->blob);
	buf_free(&qs->text);
	buf_free(&qs->file);
	buf_free(&qs->b64);
	free(qs);
}

/* Quote mask in the SHA-256 bank, read the PCRs back and retry until their values hash
 * to the quoted pcrDigest (an extend between the two, e.g. a new IMA measurement, makes
 * them differ). Leaves the quote string in qs->text. */
static int quote_consistent(quotes_t *qs, const quotes_query_t *q, uint32_t mask, err_t *e)
{
	quote_pcrsel_t sel = {.count = 1};
	tpm_pcrs_t pcrs;
	err_t ce = {""};

	sel.bank[0].alg = QUOTES_BANK;
	sel.bank[0].mask = mask;
	for (int attempt = 1; attempt <= QUOTES_ATTEMPTS; attempt++) {
		if (tpm_quote(qs->o.tpm, (const uint8_t *)q->nonce, q->nonce_len, QUOTES_BANK, mask,
		              &qs->attest, &qs->sig, e) < 0 ||
		    tpm_pcr_read(qs->o.tpm, QUOTES_BANK, mask, &pcrs, e) < 0)
			return -1;
		buf_reset(&qs->values);
		for (int i = 0; i < TPM_NUM_PCRS; i++)
			if (mask & (1u << i))
				buf_append(&qs->values, pcrs.value[i], pcrs.digest_len);
		buf_reset(&qs->blob);
		if (quote_pcrblob_encode(&qs->blob, &sel, qs->values.data, qs->values.len, e) < 0)
			return -1;
		if (quote_decode_parts(qs->check, qs->attest.data, qs->attest.len, qs->sig.data,
		                       qs->sig.len, qs->blob.data, qs->blob.len, &ce) != QUOTE_OK) {
			err_set(e, "the TPM's quote does not decode: %s", ce.msg);
			return -1;
		}
		if (quote_check_pcrs(qs->check, &ce) == QUOTE_OK) {
			buf_reset(&qs->text);
			return quote_encode(&qs->text, qs->attest.data, qs->attest.len,
			                    qs->sig.data, qs->sig.len, qs->blob.data, qs->blob.len,
			                    e);
		}
		log_debug("quote attempt %d: PCRs changed between quote and read (%s)", attempt,
		          ce.msg);
	}
	err_set(e, "the PCRs kept changing between quote and read (%d attempts)", QUOTES_ATTEMPTS);
	return -1;
}

/* Append what fd has from its current position to out, up to max bytes in out in all.
 * 0, or -1 (errno; EFBIG when over max). */
static int read_fd(int fd, buf_t *out, size_t max)
{
	ssize_t n;

	for (;;) {
		buf_reserve(out, 65536);
		n = read(fd, out->data + out->len, out->cap - out->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		out->len += (size_t)n;
		if (out->len > max) {
			errno = EFBIG;
			return -1;
		}
	}
	out->data[out->len] = '\0';
	return 0;
}

/* A descriptor to read one log through: the pinned one (logs_pinned; a log that could not
 * be opened before the privilege drop stays unreadable), else the path opened now. -1 with
 * errno when not readable. */
static int log_open(const quotes_t *qs, int pinned_fd, const char *path)
{
	if (!qs->o.logs_pinned)
		return open(path, O_RDONLY | O_CLOEXEC);
	if (pinned_fd < 0)
		errno = EACCES;
	return pinned_fd;
}

static void log_close(const quotes_t *qs, int fd)
{
	if (!qs->o.logs_pinned && fd >= 0)
		close(fd);
}

static void log_unreadable(const char *key, const char *path, size_t max)
{
	if (errno == EFBIG)
		log_warnx("agent.%s %s is larger than its limit (%zu bytes): not sent", key, path,
		          max);
	else
		log_debug("agent.%s %s: %s (not sent)", key, path, strerror(errno));
}

/* Read the whole of fd (from offset 0) into qs->file. 0 or -1 (errno). */
static int read_all(quotes_t *qs, int fd, size_t max)
{
	buf_reset(&qs->file);
	if (lseek(fd, 0, SEEK_SET) != 0)
		return -1;
	return read_fd(fd, &qs->file, max);
}

static void add_mb_log(quotes_t *qs, json_t *r)
{
	int fd = -1;
	json_t *s;

	if (*qs->o.event_log == '\0')
		return;
	if ((fd = log_open(qs, qs->o.event_fd, qs->o.event_log)) < 0 ||
	    read_all(qs, fd, qs->o.event_max) < 0) {
		log_unreadable("event_log", qs->o.event_log, qs->o.event_max);
		log_close(qs, fd);
		return;
	}
	log_close(qs, fd);
	buf_reset(&qs->b64);
	base64_encode(&qs->b64, qs->file.data, qs->file.len);
	if ((s = json_stringn_nocheck((const char *)qs->b64.data, qs->b64.len)) != NULL)
		json_object_set_new(r, "mb_measurement_list", s);
}

/* Remember where the complete lines of text (which starts at line base, byte offset from
 * of the file) end, and the last of them, for the next read. */
static void ima_cache_update(quotes_t *qs, const struct stat *st, uint64_t base, off_t from,
                             const char *text, size_t len)
{
	ima_cache_t *c = &qs->ima;
	const char *end = len ? memrchr(text, '\n', len) : NULL, *begin;
	uint64_t lines = base;

	if (end == NULL) { /* nothing complete beyond what the cache already covers */
		c->valid = c->valid && base > 0;
		return;
	}
	for (const char *p = text; p <= end; p++) {
		p = memchr(p, '\n', (size_t)(end - p) + 1);
		lines++;
	}
	begin = end > text ? memrchr(text, '\n', (size_t)(end - text)) : NULL;
	begin = begin ? begin + 1 : text;
	c->last_len = (size_t)(end - begin) + 1;
	if (c->last_len > sizeof(c->last)) { /* an odd, huge line: read in full next time */
		c->valid = 0;
		return;
	}
	memcpy(c->last, begin, c->last_len);
	c->dev = st->st_dev;
	c->ino = st->st_ino;
	c->lines = lines;
	c->off = from + (off_t)(end - text) + 1;
	c->valid = 1;
}

/* Read the IMA list from line `entry` on. Polls ask for the line after the last one they
 * got, so the cache lets this read only the new tail: from the start of the last line
 * seen, which must still be there, byte for byte, at the same offset (else the file was
 * replaced or rewritten, and it is read in full). The kernel's list only ever grows during
 * a boot, and the agent starts afresh at each boot. */
static int ima_read(quotes_t *qs, uint64_t entry, const char **text, size_t *len, uint64_t *started)
{
	ima_cache_t *c = &qs->ima;
	const char *t = NULL;
	uint64_t base = 0, rel;
	off_t from = 0;
	struct stat st;
	size_t off, n = 0;
	int fd, rv = -1;

	if ((fd = log_open(qs, qs->o.ima_fd, qs->o.ima_log)) < 0 || fstat(fd, &st) < 0)
		goto out;
	if (c->valid && c->dev == st.st_dev && c->ino == st.st_ino && entry >= c->lines &&
	    (!S_ISREG(st.st_mode) || st.st_size >= c->off)) {
		from = c->off - (off_t)c->last_len;
		buf_reset(&qs->file);
		if (lseek(fd, from, SEEK_SET) == from &&
		    read_fd(fd, &qs->file, qs->o.ima_max - (size_t)from) == 0 &&
		    qs->file.len >= c->last_len &&
		    memcmp(qs->file.data, c->last, c->last_len) == 0) {
			log_debug("agent.ima_log: reading on from line %llu (byte %lld)",
			          (unsigned long long)c->lines, (long long)c->off);
			base = c->lines;
			from = c->off;
			t = (const char *)qs->file.data + c->last_len;
			n = qs->file.len - c->last_len;
		}
	}
	for (;;) {
		if (t == NULL) {
			base = 0;
			from = 0;
			if (read_all(qs, fd, qs->o.ima_max) < 0)
				goto out;
			t = (const char *)qs->file.data;
			n = qs->file.len;
		}
		off = quotes_ima_slice(t, n, entry - base, &rel);
		if (rel == entry - base || base == 0)
			break;
		t = NULL; /* past the end of the tail: restart at 0 needs the whole list */
	}
	ima_cache_update(qs, &st, base, from, t, n);
	*text = t + off;
	*len = n - off;
	*started = rel == entry - base ? entry : 0;
	rv = 0;
out:
	if (rv < 0) {
		log_unreadable("ima_log", qs->o.ima_log, qs->o.ima_max);
		c->valid = 0;
	}
	log_close(qs, fd);
	return rv;
}

static void add_ima_log(quotes_t *qs, const quotes_query_t *q, json_t *r)
{
	const char *text;
	uint64_t started;
	size_t len;
	json_t *s;

	if (*qs->o.ima_log == '\0' || ima_read(qs, q->ima_ml_entry, &text, &len, &started) < 0)
		return;
	if ((s = json_stringn(text, len)) == NULL) {
		log_warnx("agent.ima_log %s is not valid UTF-8 text: not sent", qs->o.ima_log);
		return;
	}
	json_object_set_new(r, "ima_measurement_list", s);
	json_object_set_new(r, "ima_measurement_list_entry", json_integer((json_int_t)started));
}

json_t *quotes_answer(quotes_t *qs, quotes_kind_t kind, const quotes_query_t *q, int minor,
                      err_t *e)
{
	uint32_t mask = (kind == QUOTES_INTEGRITY ? q->mask : 0) | (1u << QUOTES_PCR16);
	json_t *r;

	/* PCR 16 binds the payload key to this quote: reset, then extend with H(PEM). */
	if (tpm_pcr_reset(qs->o.tpm, QUOTES_PCR16, e) < 0 ||
	    tpm_pcr_extend(qs->o.tpm, QUOTES_PCR16, QUOTES_BANK, qs->pem_digest,
	                   sizeof(qs->pem_digest), e) < 0 ||
	    quote_consistent(qs, q, mask, e) < 0)
		return NULL;
	r = json_object();
	json_object_set_new(r, "quote",
	                    json_stringn_nocheck((const char *)qs->text.data, qs->text.len));
	json_object_set_new(r, "hash_alg", json_string(tpm_ak_hash_alg(qs->o.tpm)));
	json_object_set_new(r, "enc_alg", json_string(tpm_ak_key_alg(qs->o.tpm, minor < 5)));
	json_object_set_new(r, "sign_alg", json_string(tpm_ak_sign_alg(qs->o.tpm)));
	if (kind == QUOTES_IDENTITY || !q->partial)
		json_object_set_new(r, "pubkey", json_stringn(qs->o.pubkey_pem, qs->pem_len));
	if (kind == QUOTES_INTEGRITY) {
		if (q->mask & 1u)
			add_mb_log(qs, r);
		add_ima_log(qs, q, r);
	}
	return r;
}

/* Unit tests for common/ima: line parsing for every template, template data bytes, the
 * real 826-entry list replayed per bank, incremental replay, lagging quotes, tampering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "common/base/buf.h"
#include "common/evidence/ima.h"
#include "common/crypto/tpm2.h"

int main(void);

#define LIST826 "test/data/ima/ascii_runtime_measurements-826"

/* PCR 10 of the 826-entry list per bank, computed by test/integration/ima_ref.py (an
 * independent Python implementation) and checked against a software TPM by
 * t_ima_swtpm.sh. */
#define PCR826_SHA1   "82231c67a69da98dc5b3aa10f6343d33109225fc"
#define PCR826_SHA256 "c4a065637fc6a7c55f2811dd06cb45dd037133be2b3dc5c3e6fbe6bf061db724"
#define PCR826_SHA384                                                                              \
	"cd3b31be56970702d736d8faebcf9c0ad90961e38a4922975b3f4cce4fa106096c51bb5ef1b8dc41519e"     \
	"d18bd61afae5"

static void load(buf_t *b, const char *path)
{
	if (buf_read_file(b, path, IMA_TEXT_MAX) < 0)
		fail_msg("cannot read %s (run the tests from the top of the repository)", path);
}

static void hexs(char *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
	out[2 * n] = 0;
}

static void unhex(uint8_t *out, const char *s)
{
	for (size_t i = 0; s[2 * i]; i++) {
		unsigned v;
		sscanf(s + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

/* Rewrite a line's template hash to SHA-1 of its template data, so synthetic lines are
 * valid. line must start with "10 " followed by 40 hex digits. */
static void fix_template_hash(char *line)
{
	ima_entry_t ent;
	err_t e = {""};
	uint8_t h[20];
	char hx[41];

	ima_entry_init(&ent);
	assert_int_equal(ima_entry_parse(&ent, line, strlen(line), &e), 0);
	EVP_Digest(ent.tdata, ent.tdata_len, h, NULL, EVP_sha1(), NULL);
	hexs(hx, h, 20);
	memcpy(line + 3, hx, 40);
	ima_entry_clear(&ent);
}

static void test_parse_ima_ng(void **state)
{
	static const char line[] = "10 c156ebdcbfcd28fe1060ef4cdec0aab04d3a9b63 ima-ng "
	                           "sha1:19f13b42c2745066347e76454788c0fe083643f3 /init";
	ima_entry_t ent;
	err_t e = {""};
	uint8_t want[4 + 6 + 20 + 4 + 6];
	size_t o = 0;
	(void)state;

	ima_entry_init(&ent);
	assert_int_equal(ima_entry_parse(&ent, line, strlen(line), &e), 0);
	assert_int_equal(ent.pcr, 10);
	assert_int_equal(ent.tmpl, IMA_TEMPLATE_IMA_NG);
	assert_string_equal(ent.template_name, "ima-ng");
	assert_string_equal(ent.digest_alg, "sha1");
	assert_int_equal(ent.digest_len, 20);
	assert_int_equal(ent.digest_hash_id, 2);
	assert_string_equal(ent.name, "/init");
	assert_int_equal(ent.is_violation, 0);
	assert_null(ent.sig);
	/* Template data: u32le(4+2+20) "sha1" ':' NUL digest, u32le(6) "/init" NUL. */
	want[o++] = 26, want[o++] = 0, want[o++] = 0, want[o++] = 0;
	memcpy(want + o, "sha1:\0", 6), o += 6;
	unhex(want + o, "19f13b42c2745066347e76454788c0fe083643f3"), o += 20;
	want[o++] = 6, want[o++] = 0, want[o++] = 0, want[o++] = 0;
	memcpy(want + o, "/init\0", 6), o += 6;
	assert_int_equal(ent.tdata_len, o);
	assert_memory_equal(ent.tdata, want, o);
	assert_int_equal(ima_entry_check_template_hash(&ent, TPM2_ALG_SHA1_ID, &e), 0);
	/* The same entry judged with a SHA-256 log hash: wrong length, a clear error. */
	assert_int_equal(ima_entry_check_template_hash(&ent, TPM2_ALG_SHA256_ID, &e), -1);
	assert_non_null(strstr(e.msg, "sha256"));
	ima_entry_clear(&ent);
}

static void test_parse_legacy_ima(void **state)
{
	char line[200] = "10 0000000000000000000000000000000000000001 ima "
	                 "0123456789abcdef0123456789abcdef01234567 /usr/bin/true";
	ima_entry_t ent;
	err_t e = {""};
	(void)state;

	fix_template_hash(line);
	ima_entry_init(&ent);
	assert_int_equal(ima_entry_parse(&ent, line, strlen(line), &e), 0);
	assert_int_equal(ent.tmpl, IMA_TEMPLATE_IMA);
	assert_string_equal(ent.digest_alg, "sha1");
	/* 20-byte digest, then the name in a zero-padded 256-byte field, no length prefixes */
	assert_int_equal(ent.tdata_len, 20 + 256);
	assert_memory_equal(ent.tdata + 20, "/usr/bin/true\0\0", 15);
	assert_int_equal(ent.tdata[20 + 255], 0);
	assert_int_equal(ima_entry_check_template_hash(&ent, TPM2_ALG_SHA1_ID, &e), 0);
	/* An "ima" digest has no algorithm prefix; a name over 255 bytes does not fit. */
	strcpy(line, "10 0000000000000000000000000000000000000001 ima sha1:0123456789abcdef0123"
	             "456789abcdef01234567 /x");
	assert_int_equal(ima_entry_parse(&ent, line, strlen(line), &e), -1);
	ima_entry_clear(&ent);
}

static void test_parse_ima_sig_and_buf(void **state)
{
	char sig[300] = "10 0000000000000000000000000000000000000001 ima-sig sha256:"
	                "96d7fae8adb7286a419a88f78c13d35fb782d63df654b7db56f154765698b754 "
	                "/usr/bin/x 030204aabbccdd0002beef";
	char nosig[300] = "10 0000000000000000000000000000000000000001 ima-sig sha256:"
	                  "96d7fae8adb7286a419a88f78c13d35fb782d63df654b7db56f154765698b754 "
	                  "/usr/bin/x ";
	char buf[300] = "10 0000000000000000000000000000000000000001 ima-buf sha256:"
	                "96d7fae8adb7286a419a88f78c13d35fb782d63df654b7db56f154765698b754 "
	                "kexec-cmdline 726f6f743d2f6465762f736461";
	ima_entry_t ent;
	err_t e = {""};
	size_t ng_len = 4 + 8 + 32 + 4 + 11;
	(void)state;

	ima_entry_init(&ent);
	fix_template_hash(sig);
	assert_int_equal(ima_entry_parse(&ent, sig, strlen(sig), &e), 0);
	assert_int_equal(ent.tmpl, IMA_TEMPLATE_IMA_SIG);
	assert_string_equal(ent.name, "/usr/bin/x");
	assert_int_equal(ent.sig_len, 11);
	assert_int_equal(ent.sig[0], 3);
	assert_int_equal(ent.tdata_len, ng_len + 4 + 11);
	assert_int_equal(ent.tdata[ng_len], 11);
	assert_int_equal(ima_entry_check_template_hash(&ent, TPM2_ALG_SHA1_ID, &e), 0);

	/* No signature: the kernel prints a trailing space and hashes a zero length. */
	fix_template_hash(nosig);
	assert_int_equal(ima_entry_parse(&ent, nosig, strlen(nosig), &e), 0);
	assert_null(ent.sig);
	assert_int_equal(ent.tdata_len, ng_len + 4);
	assert_int_equal(ima_entry_check_template_hash(&ent, TPM2_ALG_SHA1_ID, &e), 0);
	/* The same line trimmed of its trailing space is the same entry. */
	assert_int_equal(ima_entry_parse(&ent, nosig, strlen(nosig) - 1, &e), 0);
	assert_int_equal(ima_entry_check_template_hash(&ent, TPM2_ALG_SHA1_ID, &e), 0);

	fix_template_hash(buf);
	assert_int_equal(ima_entry_parse(&ent, buf, strlen(buf), &e), 0);
	assert_int_equal(ent.tmpl, IMA_TEMPLATE_IMA_BUF);
	assert_string_equal(ent.name, "kexec-cmdline");
	assert_int_equal(ent.buf_len, 13);
	assert_memory_equal(ent.buf, "root=/dev/sda", 13);
	assert_int_equal(ima_entry_check_template_hash(&ent, TPM2_ALG_SHA1_ID, &e), 0);
	ima_entry_clear(&ent);
}

static void test_parse_rejects(void **state)
{
	static const char *bad[] = {
	    "",
	    "10",
	    "10 c156ebdcbfcd28fe1060ef4cdec0aab04d3a9b63",
	    "10 c156ebdcbfcd28fe1060ef4cdec0aab04d3a9b63 ima-ng",
	    "10 c156ebdcbfcd28fe1060ef4cdec0aab04d3a9b63 ima-ng sha1:19f13b42",
	    "10  c156ebdcbfcd28fe1060ef4cdec0aab04d3a9b63 ima-ng sha1:19f13b42c2745066347e76454788"
	    "c0fe083643f3 /init",
	    "010 c156ebdcbfcd28fe1060ef4cdec0aab04d3a9b63 ima-ng sha1:19f13b42c2745066347e7645478"
	    "8c0fe083643f3 /init",
	    "24 c156ebdcbfcd28fe1060ef4cdec0aab04d3a9b63 ima-ng sha1:19f13b42c2745066347e76454788"
	    "c0fe083643f3 /init",
	    "10 c156ebdcbfcd28fe1060ef4cdec0aab04d3a9b6 ima-ng sha1:19f13b42c2745066347e76454788c"
	    "0fe083643f3 /init",
	    "10 c156ebdcbfcd28fe1060ef4cdec0aab04d3a9b63 ima-ng sha1:19f13b42c2745066347e76454788"
	    "c0fe083643f /init",
	    "10 c156ebdcbfcd28fe1060ef4cdec0aab04d3a9b63 ima-ng sha256:19f13b42c2745066347e764547"
	    "88c0fe083643f3 /init",
	    "10 c156ebdcbfcd28fe1060ef4cdec0aab04d3a9b63 ima-ng foo:19f13b42c2745066347e76454788c"
	    "0fe083643f3 /init",
	    "10 c156ebdcbfcd28fe1060ef4cdec0aab04d3a9b63 ima-ng 19f13b42c2745066347e76454788c0fe0"
	    "83643f3 /init",
	    "10 c156ebdcbfcd28fe1060ef4cdec0aab04d3a9b63 ima-ngv2 sha1:19f13b42c2745066347e764547"
	    "88c0fe083643f3 /init",
	    "10 c156ebdcbfcd28fe1060ef4cdec0aab04d3a9b63 ima-ng sha1:19f13b42c2745066347e76454788"
	    "c0fe083643fz /init",
	    "10 c156ebdcbfcd28fe1060ef4cdec0aab04d3a9b63 ima-buf sha1:19f13b42c2745066347e7645478"
	    "8c0fe083643f3 name",
	    "10 c156ebdcbfcd28fe1060ef4cdec0aab04d3a9b63 ima-buf sha1:19f13b42c2745066347e7645478"
	    "8c0fe083643f3 name abc",
	    "10 c156ebdcbfcd28fe1060ef4cdec0aab04d3a9b63 ima-sig sha1:19f13b42c2745066347e7645478"
	    "8c0fe083643f3 name 0302zz",
	    "10 c156ebdcbfcd28fe1060ef4cdec0aab04d3a9b63 ima-ng sha1:19f13b42c2745066347e76454788"
	    "c0fe083643f3 ",
	};
	ima_entry_t ent;
	err_t e = {""};
	char *huge;
	(void)state;

	ima_entry_init(&ent);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e.msg[0] = 0;
		if (ima_entry_parse(&ent, bad[i], strlen(bad[i]), &e) != -1)
			fail_msg("accepted bad line %zu: %s", i, bad[i]);
		assert_true(e.msg[0] != 0);
	}
	/* A NUL byte inside a line. */
	assert_int_equal(ima_entry_parse(&ent, "10 c1\0", 6, &e), -1);
	/* Over the line limit. */
	huge = malloc(IMA_LINE_MAX + 2);
	memset(huge, 'a', IMA_LINE_MAX + 1);
	assert_int_equal(ima_entry_parse(&ent, huge, IMA_LINE_MAX + 1, &e), -1);
	assert_non_null(strstr(e.msg, "limit"));
	free(huge);
	ima_entry_clear(&ent);
}

static const char *pcr_hex(const ima_state_t *st, char *out)
{
	size_t n;
	const uint8_t *p = ima_state_pcr(st, &n);

	hexs(out, p, n);
	return out;
}

static void test_replay_826_banks(void **state)
{
	static const struct {
		uint16_t bank;
		const char *want;
	} cases[] = {{TPM2_ALG_SHA1_ID, PCR826_SHA1},
	             {TPM2_ALG_SHA256_ID, PCR826_SHA256},
	             {TPM2_ALG_SHA384_ID, PCR826_SHA384}};
	buf_t b = BUF_INIT;
	char hx[129];
	(void)state;

	load(&b, LIST826);
	for (size_t i = 0; i < 3; i++) {
		ima_state_t *st = ima_state_new(cases[i].bank);
		ima_replay_result_t res;
		uint8_t q[64];

		assert_int_equal(ima_replay(st, (char *)b.data, b.len, 0, NULL, 0, TPM2_ALG_SHA1_ID,
		                            NULL, NULL, &res),
		                 IMA_OK);
		assert_int_equal(res.entries, 826);
		assert_int_equal(ima_state_next_entry(st), 826);
		assert_string_equal(pcr_hex(st, hx), cases[i].want);

		/* The same list against the quoted value: a match at the last line. */
		unhex(q, cases[i].want);
		ima_state_reset(st, cases[i].bank);
		assert_int_equal(ima_replay(st, (char *)b.data, b.len, 0, q,
		                            ima_alg_size(cases[i].bank), TPM2_ALG_SHA1_ID, NULL,
		                            NULL, &res),
		                 IMA_OK);
		assert_int_equal(res.matched, 826);
		assert_int_equal(ima_state_lag(st), 0);
		ima_state_free(st);
	}
	buf_free(&b);
}

/* Offsets of the start of each line in the list, plus the end. */
static size_t line_starts(const buf_t *b, size_t *starts, size_t max)
{
	size_t n = 0;

	starts[n++] = 0;
	for (size_t i = 0; i < b->len && n < max; i++)
		if (b->data[i] == '\n')
			starts[n++] = i + 1;
	return n - 1; /* lines */
}

/* PCR values after each prefix of the list: pcrs[k] = value after k entries. */
static void prefix_pcrs(const buf_t *b, const size_t *starts, size_t lines, uint16_t bank,
                        uint8_t (*pcrs)[64])
{
	ima_state_t *st = ima_state_new(bank);
	size_t sz = ima_alg_size(bank);

	memset(pcrs[0], 0, 64);
	for (size_t k = 0; k < lines; k++) {
		assert_int_equal(ima_replay(st, (char *)b->data + starts[k],
		                            starts[k + 1] - starts[k], k, NULL, 0, TPM2_ALG_SHA1_ID,
		                            NULL, NULL, NULL),
		                 IMA_OK);
		memcpy(pcrs[k + 1], ima_state_pcr(st, NULL), sz);
	}
	ima_state_free(st);
}

static void test_replay_incremental(void **state)
{
	buf_t b = BUF_INIT;
	static size_t starts[1000];
	static uint8_t pcrs[1000][64];
	size_t lines, pos = 0, round = 0;
	ima_state_t *st = ima_state_new(TPM2_ALG_SHA256_ID);
	ima_replay_result_t res;
	char hx[129];
	unsigned seed = 12345;
	(void)state;

	load(&b, LIST826);
	lines = line_starts(&b, starts, 1000);
	assert_int_equal(lines, 826);
	prefix_pcrs(&b, starts, lines, TPM2_ALG_SHA256_ID, pcrs);
	hexs(hx, pcrs[826], 32);
	assert_string_equal(hx, PCR826_SHA256);

	/* Rounds of random sizes, the quote always at the end of the chunk; the state is
	 * stored as text and reloaded between rounds, as after a verifier restart. */
	while (pos < lines) {
		size_t n = 1 + (seed = seed * 1103515245 + 12345) % 97;
		buf_t txt = BUF_INIT;
		err_t e = {""};

		if (pos + n > lines)
			n = lines - pos;
		assert_int_equal(ima_replay(st, (char *)b.data + starts[pos],
		                            starts[pos + n] - starts[pos], pos, pcrs[pos + n], 32,
		                            TPM2_ALG_SHA1_ID, NULL, NULL, &res),
		                 IMA_OK);
		pos += n;
		assert_int_equal(ima_state_next_entry(st), pos);
		ima_state_format(st, &txt);
		ima_state_free(st);
		st = ima_state_parse((char *)txt.data, txt.len, &e);
		assert_non_null(st);
		buf_free(&txt);
		round++;
	}
	assert_true(round > 5);
	assert_string_equal(pcr_hex(st, hx), PCR826_SHA256);
	/* An empty reply with an unchanged PCR passes and changes nothing. */
	assert_int_equal(
	    ima_replay(st, "", 0, 826, pcrs[826], 32, TPM2_ALG_SHA1_ID, NULL, NULL, &res), IMA_OK);
	assert_int_equal(ima_state_next_entry(st), 826);
	/* An empty reply with another PCR value is a mismatch. */
	assert_int_equal(
	    ima_replay(st, "", 0, 826, pcrs[825], 32, TPM2_ALG_SHA1_ID, NULL, NULL, &res),
	    IMA_ERR_PCR_MISMATCH);
	ima_state_free(st);
	buf_free(&b);
}

static void test_replay_lagging_quote(void **state)
{
	buf_t b = BUF_INIT;
	static size_t starts[1000];
	static uint8_t pcrs[1000][64];
	ima_state_t *st = ima_state_new(TPM2_ALG_SHA1_ID);
	ima_replay_result_t res;
	(void)state;

	load(&b, LIST826);
	line_starts(&b, starts, 1000);
	prefix_pcrs(&b, starts, 826, TPM2_ALG_SHA1_ID, pcrs);

	/* Round 1: entries 0..99 sent, the quote only covers 90: the state stops at 90. */
	assert_int_equal(ima_replay(st, (char *)b.data, starts[100], 0, pcrs[90], 20,
	                            TPM2_ALG_SHA1_ID, NULL, NULL, &res),
	                 IMA_OK);
	assert_int_equal(res.entries, 100);
	assert_int_equal(res.matched, 90);
	assert_int_equal(ima_state_next_entry(st), 90);
	assert_int_equal(ima_state_lag(st), 10);
	assert_memory_equal(ima_state_pcr(st, NULL), pcrs[90], 20);

	/* The agent must now start at 90; another start is refused and changes nothing. */
	assert_int_equal(ima_replay(st, (char *)b.data + starts[100], starts[120] - starts[100],
	                            100, pcrs[120], 20, TPM2_ALG_SHA1_ID, NULL, NULL, &res),
	                 IMA_ERR_ENTRY_NB);
	assert_string_equal(res.failure.event_id, "qoute_validation.invalid_ima_entry_nb");
	assert_int_equal(ima_state_next_entry(st), 90);

	/* Round 2 lags again but got past the previous lag (covers 15 > 10 entries). */
	assert_int_equal(ima_replay(st, (char *)b.data + starts[90], starts[120] - starts[90], 90,
	                            pcrs[105], 20, TPM2_ALG_SHA1_ID, NULL, NULL, &res),
	                 IMA_OK);
	assert_int_equal(ima_state_next_entry(st), 105);
	assert_int_equal(ima_state_lag(st), 15);

	/* Round 3 covers only 5 of the 15 it lagged: no progress, a failure. */
	assert_int_equal(ima_replay(st, (char *)b.data + starts[105], starts[130] - starts[105],
	                            105, pcrs[110], 20, TPM2_ALG_SHA1_ID, NULL, NULL, &res),
	                 IMA_ERR_QUOTE_PROGRESS);
	assert_string_equal(res.failure.event_id, "ima.quote_progress");
	assert_int_equal(ima_state_next_entry(st), 105);

	/* Catching up with the whole tail is always fine. */
	assert_int_equal(ima_replay(st, (char *)b.data + starts[105], starts[130] - starts[105],
	                            105, pcrs[130], 20, TPM2_ALG_SHA1_ID, NULL, NULL, &res),
	                 IMA_OK);
	assert_int_equal(ima_state_next_entry(st), 130);
	assert_int_equal(ima_state_lag(st), 0);

	/* Entry 0 from the agent restarts the replay from zero. */
	assert_int_equal(ima_replay(st, (char *)b.data, starts[3], 0, pcrs[3], 20, TPM2_ALG_SHA1_ID,
	                            NULL, NULL, &res),
	                 IMA_OK);
	assert_int_equal(ima_state_next_entry(st), 3);
	ima_state_free(st);
	buf_free(&b);
}

static void test_replay_tampered(void **state)
{
	buf_t b = BUF_INIT, t = BUF_INIT;
	static size_t starts[1000];
	static uint8_t pcrs[1000][64];
	ima_state_t *st = ima_state_new(TPM2_ALG_SHA256_ID);
	ima_replay_result_t res;
	char *p;
	(void)state;

	load(&b, LIST826);
	line_starts(&b, starts, 1000);
	prefix_pcrs(&b, starts, 826, TPM2_ALG_SHA256_ID, pcrs);

	/* A file digest changed in entry 5: its template hash no longer fits. */
	buf_set(&t, b.data, b.len);
	p = (char *)t.data + starts[5] + 3 + 40 + 1 + 7 + 5; /* first digest hex digit */
	*p = *p == '0' ? '1' : '0';
	assert_int_equal(ima_replay(st, (char *)t.data, t.len, 0, pcrs[826], 32, TPM2_ALG_SHA1_ID,
	                            NULL, NULL, &res),
	                 IMA_ERR_TEMPLATE_HASH);
	assert_int_equal(res.failure.entry, 5);
	assert_string_equal(res.failure.event_id, "ima.validation.ima_hash");
	assert_int_equal(ima_state_next_entry(st), 0);

	/* Two entries swapped: every line is valid, the history is not. */
	buf_reset(&t);
	buf_append(&t, b.data, starts[10]);
	buf_append(&t, b.data + starts[11], starts[12] - starts[11]);
	buf_append(&t, b.data + starts[10], starts[11] - starts[10]);
	buf_append(&t, b.data + starts[12], b.len - starts[12]);
	assert_int_equal(ima_replay(st, (char *)t.data, t.len, 0, pcrs[826], 32, TPM2_ALG_SHA1_ID,
	                            NULL, NULL, &res),
	                 IMA_ERR_PCR_MISMATCH);
	assert_string_equal(res.failure.event_id, "ima.pcr_mismatch");
	assert_non_null(strstr(res.failure.reason, "does not match"));
	assert_int_equal(ima_state_next_entry(st), 0);

	/* An entry dropped from the history: mismatch as well. */
	buf_reset(&t);
	buf_append(&t, b.data, starts[400]);
	buf_append(&t, b.data + starts[401], b.len - starts[401]);
	assert_int_equal(ima_replay(st, (char *)t.data, t.len, 0, pcrs[826], 32, TPM2_ALG_SHA1_ID,
	                            NULL, NULL, &res),
	                 IMA_ERR_PCR_MISMATCH);

	/* A malformed line names its entry and line number. */
	buf_reset(&t);
	buf_append(&t, b.data, starts[7]);
	buf_append_str(&t, "10 nothex ima-ng sha1:00 /x\n");
	assert_int_equal(ima_replay(st, (char *)t.data, t.len, 0, pcrs[8], 32, TPM2_ALG_SHA1_ID,
	                            NULL, NULL, &res),
	                 IMA_ERR_PARSE);
	assert_int_equal(res.failure.entry, 7);
	assert_non_null(strstr(res.failure.reason, "line 8"));
	/* An empty line in the middle is malformed too. */
	buf_reset(&t);
	buf_append(&t, b.data, starts[2]);
	buf_append_str(&t, "\n");
	assert_int_equal(
	    ima_replay(st, (char *)t.data, t.len, 0, NULL, 0, TPM2_ALG_SHA1_ID, NULL, NULL, &res),
	    IMA_ERR_PARSE);
	/* The last newline may be missing. */
	assert_int_equal(ima_replay(st, (char *)b.data, starts[2] - 1, 0, pcrs[2], 32,
	                            TPM2_ALG_SHA1_ID, NULL, NULL, &res),
	                 IMA_OK);
	ima_state_free(st);
	buf_free(&b);
	buf_free(&t);
}

static int count_cb(void *arg, const ima_entry_t *ent, ima_failure_t *f)
{
	uint64_t *n = arg;

	if (strcmp(ent->name, "/bin/sh") == 0) {
		snprintf(f->event_id, sizeof(f->event_id), "test.reject");
		snprintf(f->reason, sizeof(f->reason), "no shells");
		return -1;
	}
	(*n)++;
	return 0;
}

static void test_replay_callback(void **state)
{
	buf_t b = BUF_INIT;
	static size_t starts[1000];
	static uint8_t pcrs[1000][64];
	ima_state_t *st = ima_state_new(TPM2_ALG_SHA1_ID);
	ima_replay_result_t res;
	uint64_t n = 0;
	(void)state;

	load(&b, LIST826);
	line_starts(&b, starts, 1000);
	prefix_pcrs(&b, starts, 826, TPM2_ALG_SHA1_ID, pcrs);
	/* Entry 2 is /bin/sh: the first policy failure is reported with its entry, the state
	 * does not move. */
	assert_int_equal(ima_replay(st, (char *)b.data, b.len, 0, pcrs[826], 20, TPM2_ALG_SHA1_ID,
	                            count_cb, &n, &res),
	                 IMA_ERR_POLICY);
	assert_int_equal(res.failure.entry, 2);
	assert_string_equal(res.failure.event_id, "test.reject");
	assert_int_equal(ima_state_next_entry(st), 0);
	/* Entries 0..1 pass. */
	n = 0;
	assert_int_equal(ima_replay(st, (char *)b.data, starts[2], 0, pcrs[2], 20, TPM2_ALG_SHA1_ID,
	                            count_cb, &n, &res),
	                 IMA_OK);
	assert_int_equal(n, 2);
	ima_state_free(st);
	buf_free(&b);
}

static void test_violation_extends_ff(void **state)
{
	static const char line[] = "10 0000000000000000000000000000000000000000 ima-ng "
	                           "sha1:0000000000000000000000000000000000000000 /tmp/file";
	ima_state_t *st = ima_state_new(TPM2_ALG_SHA256_ID);
	uint8_t ff[32], want[32], zero[32] = {0}, cat[64];
	ima_entry_t ent;
	size_t n;
	err_t e = {""};
	(void)state;

	ima_entry_init(&ent);
	assert_int_equal(ima_entry_parse(&ent, line, strlen(line), &e), 0);
	assert_true(ent.is_violation);
	assert_int_equal(ima_entry_check_template_hash(&ent, TPM2_ALG_SHA1_ID, &e), 0);
	assert_int_equal(ima_entry_extend_value(&ent, TPM2_ALG_SHA256_ID, ff, &n), 0);
	assert_int_equal(n, 32);
	for (size_t i = 0; i < 32; i++)
		assert_int_equal(ff[i], 0xff);
	memcpy(cat, zero, 32);
	memcpy(cat + 32, ff, 32);
	EVP_Digest(cat, 64, want, NULL, EVP_sha256(), NULL);
	assert_int_equal(
	    ima_replay(st, line, strlen(line), 0, want, 32, TPM2_ALG_SHA1_ID, NULL, NULL, NULL),
	    IMA_OK);
	ima_entry_clear(&ent);
	ima_state_free(st);
}

static void test_state_text(void **state)
{
	static const char *bad[] = {
	    "",
	    "ima1:sha1:1:0",
	    "ima2:sha1:1:0:0000000000000000000000000000000000000000",
	    "ima1:md5:1:0:00000000000000000000000000000000",
	    "ima1:sha1:01:0:0000000000000000000000000000000000000000",
	    "ima1:sha1:1:0:000000000000000000000000000000000000000",
	    "ima1:sha1:1:0:00000000000000000000000000000000000000000000",
	    "ima1:sha1:-1:0:0000000000000000000000000000000000000000",
	    "ima1:sha1:99999999999999999999:0:0000000000000000000000000000000000000000",
	    "ima1:sha1:1:0:000000000000000000000000000000000000000g",
	    "ima1:sha1:1:0:0000000000000000000000000000000000000000:",
	};
	ima_state_t *st = ima_state_new(TPM2_ALG_SHA384_ID), *st2;
	uint8_t v[48];
	buf_t t = BUF_INIT, t2 = BUF_INIT;
	err_t e = {""};
	(void)state;

	for (size_t i = 0; i < 48; i++)
		v[i] = (uint8_t)i;
	assert_int_equal(ima_state_set(st, TPM2_ALG_SHA384_ID, 18446744073709551615ull, v, 48, 7),
	                 0);
	assert_int_equal(ima_state_set(st, TPM2_ALG_SHA384_ID, 1, v, 32, 0), -1);
	ima_state_format(st, &t);
	assert_true(t.len < IMA_STATE_TXT_MAX);
	st2 = ima_state_parse((char *)t.data, t.len, &e);
	assert_non_null(st2);
	assert_int_equal(ima_state_bank(st2), TPM2_ALG_SHA384_ID);
	assert_true(ima_state_next_entry(st2) == 18446744073709551615ull);
	assert_int_equal(ima_state_lag(st2), 7);
	ima_state_format(st2, &t2);
	assert_string_equal((char *)t.data, (char *)t2.data);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ima_state_parse(bad[i], strlen(bad[i]), &e) != NULL)
			fail_msg("accepted bad state %s", bad[i]);
	assert_null(ima_state_new(0x1234));
	ima_state_free(st);
	ima_state_free(st2);
	buf_free(&t);
	buf_free(&t2);
}

static void test_boot_aggregate(void **state)
{
	uint8_t pcrs[10 * 32], out[32], want[32];
	(void)state;

	for (size_t i = 0; i < sizeof(pcrs); i++)
		pcrs[i] = (uint8_t)(i * 7);
	assert_int_equal(ima_boot_aggregate(TPM2_ALG_SHA256_ID, pcrs, sizeof(pcrs), out), 0);
	EVP_Digest(pcrs, sizeof(pcrs), want, NULL, EVP_sha256(), NULL);
	assert_memory_equal(out, want, 32);
	/* SHA-1 covers PCRs 0-7 only. */
	assert_int_equal(ima_boot_aggregate(TPM2_ALG_SHA1_ID, pcrs, 10 * 20, out), -1);
	assert_int_equal(ima_boot_aggregate(TPM2_ALG_SHA1_ID, pcrs, 8 * 20, out), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_ima_ng),
	    cmocka_unit_test(test_parse_legacy_ima),
	    cmocka_unit_test(test_parse_ima_sig_and_buf),
	    cmocka_unit_test(test_parse_rejects),
	    cmocka_unit_test(test_replay_826_banks),
	    cmocka_unit_test(test_replay_incremental),
	    cmocka_unit_test(test_replay_lagging_quote),
	    cmocka_unit_test(test_replay_tampered),
	    cmocka_unit_test(test_replay_callback),
	    cmocka_unit_test(test_violation_extends_ff),
	    cmocka_unit_test(test_state_text),
	    cmocka_unit_test(test_boot_aggregate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

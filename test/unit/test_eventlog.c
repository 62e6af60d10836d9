/* Unit tests for common/eventlog: every real log in test/data parses and replays to
 * the PCR values an independent tool (tpm2_eventlog) or a real TPM quote gives; truncated
 * and hostile logs are refused with the event index and offset; decoders stay in bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "common/base/buf.h"
#include "common/evidence/devpath.h"
#include "common/evidence/eventlog.h"

int main(void);

#define TESTDATA "test/data/eventlog/"

/* A testdata log as bytes. Files kept base64-encoded upstream (NAME.b64, lines of base64)
 * are decoded here, so that the checked-in copy stays byte for byte the published one. */
static void read_testdata(const char *name, buf_t *b)
{
	char path[256];
	size_t n = strlen(name);
	snprintf(path, sizeof(path), TESTDATA "%s", name);
	if (buf_read_file(b, path, 1u << 24) < 0)
		fail_msg("cannot read %s (run the tests from the top of the repository)", path);
	if (n > 4 && strcmp(name + n - 4, ".b64") == 0) {
		buf_t text = BUF_INIT, bin = BUF_INIT;
		for (size_t i = 0; i < b->len; i++)
			if (b->data[i] != '\n' && b->data[i] != '\r')
				buf_append(&text, b->data + i, 1);
		if (base64_decode(&bin, (const char *)text.data, text.len) < 0)
			fail_msg("%s: not base64", path);
		buf_set(b, bin.data, bin.len);
		buf_free(&text);
		buf_free(&bin);
	}
}

static eventlog_t *parse_file(const char *name)
{
	buf_t b = BUF_INIT;
	err_t e = {""};
	read_testdata(name, &b);
	eventlog_t *log = eventlog_parse(b.data, b.len, &e);
	if (log == NULL)
		fail_msg("%s: %s", name, e.msg);
	buf_free(&b);
	return log;
}

static void pcr_hex(const eventlog_t *log, uint16_t alg, unsigned pcr, char *out)
{
	const uint8_t *v;
	size_t n;
	assert_int_equal(eventlog_pcr_value(log, alg, pcr, &v, &n), 0);
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", v[i]);
}

/* Event counts (tpm2_eventlog's EventNum count; go-attestation for the SHA-1 logs it cannot
 * read) and PCR values printed by tpm2_eventlog 5.4. kl_binary_bios_measurements' PCR 0 is
 * the exception: it starts at locality 3, which tpm2-tools learnt only in 5.6 (commit
 * 576a31bc); our value is the spec's (PFP 10.4.5.3), checked independently below. */
static const struct {
	const char *file;  /* in testdata/eventlog */
	int format;        /* EVENTLOG_FORMAT_* */
	size_t events;     /* eventlog_count */
	size_t banks;      /* eventlog_bank_count */
	const char *alg;   /* bank of the values */
	unsigned pcr;      /* PCR */
	const char *value; /* expected replay */
} real_logs[] = {
    {"coreos_36_shielded_vm_no_secure_boot_eventlog", EVENTLOG_FORMAT_CRYPTO_AGILE, 76, 3, "sha256",
     7, "9340551428472c4820d41f51368427f5d1620b3e7d2081cf8859e7e220554bcd"},
    {"coreos_36_shielded_vm_no_secure_boot_eventlog", EVENTLOG_FORMAT_CRYPTO_AGILE, 76, 3, "sha256",
     0, "0f35c214608d93c7a6e68ae7359b4a8be5a0e99eea9107ece427c4dea4e439cf"},
    {"crypto_agile_eventlog", EVENTLOG_FORMAT_CRYPTO_AGILE, 27, 1, "sha256", 4,
     "b0af298ea2ca63fe39d0f9887948f8c9ccedd1cca90b6ed20f0aa1f9cbd8504e"},
    {"ebs_event_missing_eventlog", EVENTLOG_FORMAT_SHA1, 38, 1, "sha1", 7,
     "c6b89634b1d11a0083298c17acec8fd9ab266db6"},
    {"kl_binary_bios_measurements", EVENTLOG_FORMAT_CRYPTO_AGILE, 121, 2, "sha256", 4,
     "a77ff9ab296e10186dd7e7082eab94e795b1ba9d84e920b09cf6272f68c2711c"},
    {"kl_binary_bios_measurements", EVENTLOG_FORMAT_CRYPTO_AGILE, 121, 2, "sha256", 0,
     "0ee9a7feba8f4172f1a7451594aa5731665a4d353ac61814042ce107a00742f2"},
    {"kl_binary_bios_measurements-secureboot", EVENTLOG_FORMAT_CRYPTO_AGILE, 99, 1, "sha256", 0,
     "0d993cf4baec1dc2a47013c8bcc13e1593d5e6ba9cc4630f422e98d310212aff"},
    {"kl_binary_bios_measurements-secureboot", EVENTLOG_FORMAT_CRYPTO_AGILE, 99, 1, "sha256", 7,
     "2f96e1f1bf7f91b6f17e1bcb823e717e43782ff75481237711f2ed7bf8a8edb1"},
    {"option_rom_eventlog", EVENTLOG_FORMAT_SHA1, 61, 1, NULL, 0, NULL},
    {"rk_uefi_log.bin", EVENTLOG_FORMAT_CRYPTO_AGILE, 124, 1, "sha256", 7,
     "7ab310d890fb86d2084bcf75a11172654fc4fbe5ec29f68afd864e22bd0e13ab"},
    {"sb_cert_eventlog", EVENTLOG_FORMAT_CRYPTO_AGILE, 15, 3, "sha256", 7,
     "51b30488c9e6255d822bdc1b20d9a92c32bde6c3e7bc02bcdd32825eb5ef069a"},
    {"sb_cert_eventlog", EVENTLOG_FORMAT_CRYPTO_AGILE, 15, 3, "sha1", 0,
     "51c323de0c0c694f4601cdd02beb58ff13629f74"},
    {"ubuntu_2104_shielded_vm_no_secure_boot_eventlog", EVENTLOG_FORMAT_CRYPTO_AGILE, 106, 3,
     "sha256", 4, "ebc7ae25d0347868250995c9a8fff16bf79e048453262d0ef2756e213c76181c"},
    /* PCR 0 is the real machine's, as tpm2-tss's unit test keeps it (test/unit/
     * fapi-eventlog.c, check_eventlog_pcr0); tpm2_eventlog 5.4 prints 2162942d... for it,
     * having started PCR 0 at zero instead of at the H-CRTM's 4. */
    {"tss_binary_measurements_hcrtm.b64", EVENTLOG_FORMAT_CRYPTO_AGILE, 204, 3, "sha1", 0,
     "15f4e6ca457d1af6bc49511a93ba3500ad69acc5"},
};

static void test_real_logs(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(real_logs) / sizeof(real_logs[0]); i++) {
		eventlog_t *log = parse_file(real_logs[i].file);
		assert_int_equal(eventlog_format(log), real_logs[i].format);
		assert_int_equal(eventlog_count(log), real_logs[i].events);
		assert_int_equal(eventlog_bank_count(log), real_logs[i].banks);
		if (real_logs[i].alg != NULL) {
			uint16_t alg;
			char hex[2 * EVENTLOG_MAX_DIGEST + 1];
			assert_int_equal(eventlog_alg_from_name(real_logs[i].alg, &alg), 0);
			pcr_hex(log, alg, real_logs[i].pcr, hex);
			assert_string_equal(hex, real_logs[i].value);
		}
		/* Events are numbered densely and lie inside the log. */
		size_t rawlen;
		const uint8_t *raw = eventlog_raw(log, &rawlen);
		for (size_t k = 0; k < eventlog_count(log); k++) {
			const eventlog_event_t *ev = eventlog_event(log, k);
			assert_int_equal(ev->index, k);
			assert_true(ev->offset < rawlen);
			if (ev->data_len)
				assert_true(ev->data >= raw &&
				            ev->data + ev->data_len <= raw + rawlen);
		}
		assert_null(eventlog_event(log, eventlog_count(log)));
		eventlog_free(log);
	}
}

/* kl_binary_bios_measurements starts at locality 3: recompute PCR 0 by hand from its
 * events (the spec rule, independent of the replay code). */
static void test_startup_locality_real(void **state)
{
	eventlog_t *log = parse_file("kl_binary_bios_measurements");
	uint8_t pcr[32] = {0};
	unsigned n;
	(void)state;
	assert_int_equal(eventlog_startup_locality(log), 3);
	pcr[31] = 3;
	for (size_t i = 0; i < eventlog_count(log); i++) {
		const eventlog_event_t *ev = eventlog_event(log, i);
		if (ev->pcr != 0 || ev->type == EV_NO_ACTION)
			continue;
		const eventlog_digest_t *d = eventlog_event_digest(ev, EVENTLOG_ALG_SHA256);
		assert_non_null(d);
		uint8_t in[64];
		memcpy(in, pcr, 32);
		memcpy(in + 32, d->bytes, 32);
		EVP_Digest(in, 64, pcr, &n, EVP_sha256(), NULL);
	}
	const uint8_t *v;
	size_t vl;
	assert_int_equal(eventlog_pcr_value(log, EVENTLOG_ALG_SHA256, 0, &v, &vl), 0);
	assert_memory_equal(v, pcr, 32);
	eventlog_free(log);
}

static void test_short_no_action(void **state)
{
	buf_t b = BUF_INIT;
	err_t e = {""};
	(void)state;
	read_testdata("short_no_action_eventlog", &b);
	assert_int_equal(b.len, 49);
	assert_null(eventlog_parse(b.data, b.len, &e));
	assert_non_null(strstr(e.msg, "event 0 at offset 0"));
	assert_non_null(strstr(e.msg, "not a Spec ID event"));
	buf_free(&b);
}

/* Cut a real log at every byte: never a crash; an error naming event and offset unless the
 * cut falls exactly between two events, where the shorter log is valid. */
static void truncate_everywhere(const char *name)
{
	buf_t b = BUF_INIT;
	read_testdata(name, &b);
	eventlog_t *full = eventlog_parse(b.data, b.len, NULL);
	assert_non_null(full);
	size_t nev = eventlog_count(full), next = 1;

	for (size_t cut = 0; cut < b.len; cut++) {
		err_t e = {""};
		uint8_t *copy = malloc(cut ? cut : 1);
		memcpy(copy, b.data, cut);
		eventlog_t *log = eventlog_parse(copy, cut, &e);
		while (next < nev && eventlog_event(full, next)->offset < cut)
			next++;
		int boundary = next < nev && eventlog_event(full, next)->offset == cut;
		if (boundary && cut > 0) {
			if (log == NULL)
				fail_msg("%s cut at %zu (event boundary): %s", name, cut, e.msg);
			assert_int_equal(eventlog_count(log), next);
		} else {
			if (log != NULL)
				fail_msg("%s cut at %zu parsed", name, cut);
			if (cut == 0)
				assert_string_equal(e.msg, "the event log is empty");
			else if (strncmp(e.msg, "event ", 6) != 0 || !strstr(e.msg, " at offset "))
				fail_msg("%s cut at %zu: unclear error \"%s\"", name, cut, e.msg);
		}
		eventlog_free(log);
		free(copy);
	}
	eventlog_free(full);
	buf_free(&b);
}

static void test_truncation(void **state)
{
	(void)state;
	truncate_everywhere("crypto_agile_eventlog");
	truncate_everywhere("ebs_event_missing_eventlog");
}

/* The Windows shielded VM: the log beside the PCRs of a real TPM quote (SHA-1 bank). */
static void test_windows_quote(void **state)
{
	buf_t b = BUF_INIT, raw = BUF_INIT;
	json_error_t jerr;
	(void)state;
	read_testdata("windows_gcp_shielded_vm.json", &b);
	json_t *root = json_loadb((char *)b.data, b.len, 0, &jerr);
	assert_non_null(root);
	json_t *lg = json_object_get(root, "Log");
	const char *r = json_string_value(json_object_get(lg, "Raw"));
	assert_non_null(r);
	assert_int_equal(base64_decode(&raw, r, strlen(r)), 0);
	err_t e = {""};
	eventlog_t *log = eventlog_parse(raw.data, raw.len, &e);
	if (log == NULL)
		fail_msg("windows log: %s", e.msg);
	json_t *pcrs = json_object_get(lg, "PCRs"), *p;
	size_t i, checked = 0;
	json_array_foreach(pcrs, i, p)
	{
		buf_t d = BUF_INIT;
		const char *s = json_string_value(json_object_get(p, "Digest"));
		unsigned idx = (unsigned)json_integer_value(json_object_get(p, "Index"));
		/* go-attestation's DigestAlg is Go's crypto.Hash: 3 is SHA-1. */
		if (json_integer_value(json_object_get(p, "DigestAlg")) != 3)
			continue;
		assert_int_equal(base64_decode(&d, s, strlen(s)), 0);
		if (eventlog_check_pcr(log, EVENTLOG_ALG_SHA1, idx, d.data, d.len, &e) != 0)
			fail_msg("windows quote: %s", e.msg);
		checked++;
		buf_free(&d);
	}
	assert_int_equal(checked, 24); /* all 24, including the all-ones PCRs 17-22 */
	eventlog_free(log);
	json_decref(root);
	buf_free(&raw);
	buf_free(&b);
}

/* ---- synthetic logs ---- */

static void put16(buf_t *b, uint16_t v)
{
	uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	buf_append(b, x, 2);
}

static void put32(buf_t *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	buf_append(b, x, 4);
}

/* The Spec ID header declaring n (alg, size) banks; vendor bytes of vendor info. */
static void spec_id(buf_t *b, const uint16_t *algs, const uint16_t *sizes, uint32_t n,
                    uint8_t vendor)
{
	uint8_t zero[20] = {0};
	put32(b, 0);
	put32(b, EV_NO_ACTION);
	buf_append(b, zero, 20);
	put32(b, 16 + 4 + 4 + 4 + n * 4 + 1 + vendor);
	buf_append(b, "Spec ID Event03", 16);
	put32(b, 0);
	uint8_t ver[4] = {0, 2, 0, 2};
	buf_append(b, ver, 4);
	put32(b, n);
	for (uint32_t i = 0; i < n; i++) {
		put16(b, algs[i]);
		put16(b, sizes[i]);
	}
	buf_append(b, &vendor, 1);
	for (uint8_t i = 0; i < vendor; i++)
		buf_append(b, "v", 1);
}

/* A TCG_PCR_EVENT2 with one digest per (alg, size), each filled with fill. */
static void agile_event(buf_t *b, uint32_t pcr, uint32_t type, const uint16_t *algs,
                        const uint16_t *sizes, uint32_t n, uint8_t fill, const void *data,
                        uint32_t len)
{
	uint8_t d[EVENTLOG_MAX_DIGEST];
	memset(d, fill, sizeof(d));
	put32(b, pcr);
	put32(b, type);
	put32(b, n);
	for (uint32_t i = 0; i < n; i++) {
		put16(b, algs[i]);
		buf_append(b, d, sizes[i]);
	}
	put32(b, len);
	buf_append(b, data, len);
}

static const uint16_t sha256_alg[1] = {EVENTLOG_ALG_SHA256};
static const uint16_t sha256_size[1] = {32};

static void expect_error(buf_t *b, const char *needle)
{
	err_t e = {""};
	eventlog_t *log = eventlog_parse(b->data, b->len, &e);
	if (log != NULL)
		fail_msg("parsed; expected an error with \"%s\"", needle);
	if (strstr(e.msg, needle) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", e.msg, needle);
	buf_reset(b);
}

static void test_hostile(void **state)
{
	buf_t b = BUF_INIT;
	const uint16_t two_algs[2] = {EVENTLOG_ALG_SHA1, EVENTLOG_ALG_SHA256},
	               two_sizes[2] = {20, 32}, bad_alg[1] = {EVENTLOG_ALG_SHA1};
	(void)state;

	/* Fewer digests than declared banks. */
	spec_id(&b, two_algs, two_sizes, 2, 0);
	agile_event(&b, 1, EV_POST_CODE, sha256_alg, sha256_size, 1, 1, "x", 1);
	expect_error(&b, "event 1 at offset 69: 1 digests, but the Spec ID event declares 2");
	/* An algorithm the header does not declare. */
	spec_id(&b, sha256_alg, sha256_size, 1, 0);
	agile_event(&b, 1, EV_POST_CODE, bad_alg, sha256_size, 1, 1, "x", 1);
	expect_error(&b, "digest algorithm 0x0004 is not declared");
	/* The same algorithm twice. */
	spec_id(&b, two_algs, two_sizes, 2, 0);
	{
		const uint16_t dup[2] = {EVENTLOG_ALG_SHA256, EVENTLOG_ALG_SHA256},
		               dsz[2] = {32, 32};
		agile_event(&b, 1, EV_POST_CODE, dup, dsz, 2, 1, "x", 1);
	}
	expect_error(&b, "two digests for algorithm 0x000b");
	/* Header faults. */
	spec_id(&b, sha256_alg, sha256_size, 0, 0);
	expect_error(&b, "declares 0 algorithms");
	{
		const uint16_t wrong[1] = {20};
		spec_id(&b, sha256_alg, wrong, 1, 0);
		expect_error(&b, "sha256 digests are 32 bytes, not 20");
		const uint16_t huge[1] = {65};
		const uint16_t unk[1] = {0x1234};
		spec_id(&b, unk, huge, 1, 0);
		expect_error(&b, "digest size 65");
	}
	spec_id(&b, sha256_alg, sha256_size, 1, 3);
	b.data[28] = 39; /* event data size: 3 bytes more than the structure uses */
	buf_append(&b, "zzz", 3);
	expect_error(&b, "vendor info of 3 bytes, but 6 bytes remain");
	/* Event data larger than the rest of the log. */
	spec_id(&b, sha256_alg, sha256_size, 1, 0);
	agile_event(&b, 1, EV_POST_CODE, sha256_alg, sha256_size, 1, 1, "x", 1);
	b.data[b.len - 5] = 0xff;
	expect_error(&b, "event data size 255 exceeds the 1 bytes left");
	/* PCR index out of range; EV_NO_ACTION may use 0xffffffff (Windows). */
	spec_id(&b, sha256_alg, sha256_size, 1, 0);
	agile_event(&b, 24, EV_POST_CODE, sha256_alg, sha256_size, 1, 1, "x", 1);
	expect_error(&b, "PCR index 24 out of range");
	spec_id(&b, sha256_alg, sha256_size, 1, 0);
	agile_event(&b, 0xffffffffu, EV_NO_ACTION, sha256_alg, sha256_size, 1, 0, "x", 1);
	eventlog_t *log = eventlog_parse(b.data, b.len, NULL);
	assert_non_null(log);
	eventlog_free(log);
	buf_reset(&b);
	/* Too large, empty. */
	expect_error(&b, "empty");
	assert_null(eventlog_parse("x", EVENTLOG_MAX_SIZE + 1u, NULL));
	buf_free(&b);
}

static void test_locality(void **state)
{
	buf_t b = BUF_INIT;
	uint8_t loc[17];
	const uint8_t *v;
	size_t n;
	(void)state;

	memcpy(loc, "StartupLocality", 16);
	loc[16] = 3;
	spec_id(&b, sha256_alg, sha256_size, 1, 0);
	agile_event(&b, 0, EV_NO_ACTION, sha256_alg, sha256_size, 1, 0, loc, 17);
	eventlog_t *log = eventlog_parse(b.data, b.len, NULL);
	assert_non_null(log);
	assert_int_equal(eventlog_startup_locality(log), 3);
	assert_int_equal(eventlog_pcr_value(log, EVENTLOG_ALG_SHA256, 0, &v, &n), 0);
	assert_int_equal(n, 32);
	assert_int_equal(v[31], 3);
	assert_int_equal(v[0], 0);
	assert_int_equal(eventlog_pcrs_extended(log, EVENTLOG_ALG_SHA256), 0);
	eventlog_free(log);
	buf_reset(&b);
	/* Twice, after a measurement, or an impossible locality: refused. */
	spec_id(&b, sha256_alg, sha256_size, 1, 0);
	agile_event(&b, 0, EV_NO_ACTION, sha256_alg, sha256_size, 1, 0, loc, 17);
	agile_event(&b, 0, EV_NO_ACTION, sha256_alg, sha256_size, 1, 0, loc, 17);
	expect_error(&b, "event 2 at offset");
	spec_id(&b, sha256_alg, sha256_size, 1, 0);
	agile_event(&b, 0, EV_POST_CODE, sha256_alg, sha256_size, 1, 1, "x", 1);
	agile_event(&b, 0, EV_NO_ACTION, sha256_alg, sha256_size, 1, 0, loc, 17);
	expect_error(&b, "before any measurement into PCR 0");
	loc[16] = 5;
	spec_id(&b, sha256_alg, sha256_size, 1, 0);
	agile_event(&b, 0, EV_NO_ACTION, sha256_alg, sha256_size, 1, 0, loc, 17);
	expect_error(&b, "StartupLocality 5 is not 0-4");
	buf_free(&b);
}

/* The real H-CRTM machine: PCR 0 started at locality 4, in every bank. */
static void test_hcrtm_real(void **state)
{
	eventlog_t *log = parse_file("tss_binary_measurements_hcrtm.b64");
	(void)state;
	assert_int_equal(eventlog_is_hcrtm(log), 1);
	assert_int_equal(eventlog_startup_locality(log), 4);
	assert_int_equal(eventlog_event(log, 1)->type, EV_EFI_HCRTM_EVENT);
	eventlog_free(log);
	log = parse_file("kl_binary_bios_measurements");
	assert_int_equal(eventlog_is_hcrtm(log), 0);
	eventlog_free(log);
}

/* A hand-built H-CRTM log: PCR 0 = H(00..04 || d1), then H(. || d2); the rules around it. */
static void test_hcrtm(void **state)
{
	buf_t b = BUF_INIT;
	uint8_t loc[17], expect[32], in[64];
	const uint8_t *v;
	size_t n;
	unsigned hl;
	(void)state;

	spec_id(&b, sha256_alg, sha256_size, 1, 0);
	agile_event(&b, 0, EV_EFI_HCRTM_EVENT, sha256_alg, sha256_size, 1, 0x11, "HCRTM", 5);
	agile_event(&b, 0, EV_S_CRTM_VERSION, sha256_alg, sha256_size, 1, 0x22, "v", 1);
	eventlog_t *log = eventlog_parse(b.data, b.len, NULL);
	assert_non_null(log);
	memset(in, 0, 32);
	in[31] = 4;
	memset(in + 32, 0x11, 32);
	EVP_Digest(in, 64, expect, &hl, EVP_sha256(), NULL);
	memcpy(in, expect, 32);
	memset(in + 32, 0x22, 32);
	EVP_Digest(in, 64, expect, &hl, EVP_sha256(), NULL);
	assert_int_equal(eventlog_pcr_value(log, EVENTLOG_ALG_SHA256, 0, &v, &n), 0);
	assert_memory_equal(v, expect, 32);
	assert_int_equal(eventlog_startup_locality(log), 4);
	assert_int_equal(eventlog_is_hcrtm(log), 1);
	eventlog_free(log);
	buf_reset(&b);

	/* A StartupLocality of 4 before it agrees; 3 contradicts it; after it, too late. */
	memcpy(loc, "StartupLocality", 16);
	loc[16] = 4;
	spec_id(&b, sha256_alg, sha256_size, 1, 0);
	agile_event(&b, 0, EV_NO_ACTION, sha256_alg, sha256_size, 1, 0, loc, 17);
	agile_event(&b, 0, EV_EFI_HCRTM_EVENT, sha256_alg, sha256_size, 1, 0x11, "HCRTM", 5);
	log = eventlog_parse(b.data, b.len, NULL);
	assert_non_null(log);
	assert_int_equal(eventlog_pcr_value(log, EVENTLOG_ALG_SHA256, 0, &v, &n), 0);
	memset(in, 0, 32);
	in[31] = 4;
	memset(in + 32, 0x11, 32);
	EVP_Digest(in, 64, expect, &hl, EVP_sha256(), NULL);
	assert_memory_equal(v, expect, 32);
	eventlog_free(log);
	buf_reset(&b);
	loc[16] = 3;
	spec_id(&b, sha256_alg, sha256_size, 1, 0);
	agile_event(&b, 0, EV_NO_ACTION, sha256_alg, sha256_size, 1, 0, loc, 17);
	agile_event(&b, 0, EV_EFI_HCRTM_EVENT, sha256_alg, sha256_size, 1, 0x11, "HCRTM", 5);
	expect_error(&b, "EV_EFI_HCRTM_EVENT after a StartupLocality of 3");
	spec_id(&b, sha256_alg, sha256_size, 1, 0);
	agile_event(&b, 0, EV_EFI_HCRTM_EVENT, sha256_alg, sha256_size, 1, 0x11, "HCRTM", 5);
	agile_event(&b, 0, EV_NO_ACTION, sha256_alg, sha256_size, 1, 0, loc, 17);
	expect_error(&b, "before any measurement into PCR 0");
	/* Not first in PCR 0, twice, or in another PCR: refused. */
	spec_id(&b, sha256_alg, sha256_size, 1, 0);
	agile_event(&b, 0, EV_S_CRTM_VERSION, sha256_alg, sha256_size, 1, 0x22, "v", 1);
	agile_event(&b, 0, EV_EFI_HCRTM_EVENT, sha256_alg, sha256_size, 1, 0x11, "HCRTM", 5);
	expect_error(&b, "event 2 at offset 116: EV_EFI_HCRTM_EVENT must come once, before any");
	spec_id(&b, sha256_alg, sha256_size, 1, 0);
	agile_event(&b, 0, EV_EFI_HCRTM_EVENT, sha256_alg, sha256_size, 1, 0x11, "HCRTM", 5);
	agile_event(&b, 0, EV_EFI_HCRTM_EVENT, sha256_alg, sha256_size, 1, 0x11, "HCRTM", 5);
	expect_error(&b, "must come once");
	spec_id(&b, sha256_alg, sha256_size, 1, 0);
	agile_event(&b, 1, EV_EFI_HCRTM_EVENT, sha256_alg, sha256_size, 1, 0x11, "HCRTM", 5);
	expect_error(&b, "EV_EFI_HCRTM_EVENT must be for PCR 0, not 1");
	buf_free(&b);
}

/* Known-answer replay, an unknown bank carried along, reset values, the PCR comparison. */
static void test_replay(void **state)
{
	buf_t b = BUF_INIT;
	const uint16_t algs[2] = {EVENTLOG_ALG_SHA256, 0x1234}, sizes[2] = {32, 40};
	uint8_t expect[32], in[64];
	unsigned n;
	const uint8_t *v;
	size_t vl;
	err_t e = {""};
	(void)state;

	spec_id(&b, algs, sizes, 2, 0);
	agile_event(&b, 5, EV_EFI_ACTION, algs, sizes, 2, 0xab, "act", 3);
	agile_event(&b, 5, EV_NO_ACTION, algs, sizes, 2, 0xcd, "na", 2);
	eventlog_t *log = eventlog_parse(b.data, b.len, &e);
	assert_non_null(log);
	memset(in, 0, 32);
	memset(in + 32, 0xab, 32);
	EVP_Digest(in, 64, expect, &n, EVP_sha256(), NULL);
	assert_int_equal(eventlog_pcr_value(log, EVENTLOG_ALG_SHA256, 5, &v, &vl), 0);
	assert_memory_equal(v, expect, 32);
	assert_int_equal(eventlog_pcrs_extended(log, EVENTLOG_ALG_SHA256), 1u << 5);
	assert_int_equal(eventlog_check_pcr(log, EVENTLOG_ALG_SHA256, 5, expect, 32, &e), 0);
	expect[0] ^= 1;
	assert_int_equal(eventlog_check_pcr(log, EVENTLOG_ALG_SHA256, 5, expect, 32, &e), -1);
	assert_non_null(strstr(e.msg, "PCR 5 (sha256): the event log replays to "));
	assert_int_equal(eventlog_check_pcr(log, EVENTLOG_ALG_SHA256, 5, expect, 20, &e), -1);
	assert_int_equal(eventlog_check_pcr(log, EVENTLOG_ALG_SHA1, 5, expect, 20, &e), -1);
	assert_non_null(strstr(e.msg, "no replayable sha1 bank"));
	/* The unknown algorithm is parsed with its declared size but cannot be replayed. */
	assert_int_equal(eventlog_bank_count(log), 2);
	assert_int_equal(eventlog_bank(log, 1)->alg, 0x1234);
	assert_false(eventlog_bank(log, 1)->replayable);
	assert_int_equal(eventlog_pcr_value(log, 0x1234, 5, &v, &vl), -1);
	assert_int_equal(eventlog_event(log, 1)->digests[1].len, 40);
	/* Reset values: 17-22 all ones, the others zero. */
	assert_int_equal(eventlog_pcr_value(log, EVENTLOG_ALG_SHA256, 17, &v, &vl), 0);
	assert_int_equal(v[0], 0xff);
	assert_int_equal(eventlog_pcr_value(log, EVENTLOG_ALG_SHA256, 23, &v, &vl), 0);
	assert_int_equal(v[0], 0);
	assert_int_equal(eventlog_pcr_value(log, EVENTLOG_ALG_SHA256, 24, &v, &vl), -1);
	eventlog_free(log);
	buf_free(&b);
}

static void test_boot_aggregate(void **state)
{
	eventlog_t *log = parse_file("kl_binary_bios_measurements-secureboot");
	uint8_t agg[EVENTLOG_MAX_DIGEST], in[320], expect[32];
	size_t n = 0;
	unsigned en;
	(void)state;
	for (unsigned i = 0; i < 10; i++) {
		const uint8_t *v;
		size_t vl;
		assert_int_equal(eventlog_pcr_value(log, EVENTLOG_ALG_SHA256, i, &v, &vl), 0);
		memcpy(in + 32 * i, v, 32);
	}
	EVP_Digest(in, sizeof(in), expect, &en, EVP_sha256(), NULL);
	assert_int_equal(eventlog_boot_aggregate(log, EVENTLOG_ALG_SHA256, 10, agg, &n), 0);
	assert_int_equal(n, 32);
	assert_memory_equal(agg, expect, 32);
	assert_int_equal(eventlog_boot_aggregate(log, EVENTLOG_ALG_SHA1, 8, agg, &n), -1);
	eventlog_free(log);
}

static void test_decoders_real(void **state)
{
	eventlog_t *log = parse_file("kl_binary_bios_measurements-secureboot");
	eventlog_efi_var_t v;
	eventlog_image_load_t im;
	err_t e = {""};
	buf_t t = BUF_INIT;
	(void)state;

	/* Event 4: SecureBoot = 1. */
	assert_int_equal(eventlog_efi_var_decode(eventlog_event(log, 4), &v, &e), 0);
	assert_string_equal(v.name, "SecureBoot");
	assert_memory_equal(v.guid, EVENTLOG_GUID_EFI_GLOBAL, 16);
	assert_int_equal(v.data_len, 1);
	assert_int_equal(v.data[0], 1);
	/* Event 7: db, four X509 lists of one certificate each. */
	assert_int_equal(eventlog_efi_var_decode(eventlog_event(log, 7), &v, &e), 0);
	assert_string_equal(v.name, "db");
	const uint8_t *p = v.data;
	size_t left = v.data_len;
	eventlog_siglist_t l;
	int lists = 0;
	while (eventlog_siglist_next(&p, &left, &l, &e) == 1) {
		assert_memory_equal(l.type, EVENTLOG_GUID_CERT_X509, 16);
		assert_int_equal(l.count, 1);
		lists++;
	}
	assert_int_equal(lists, 4);
	/* Event 29: shim, with its whole device path. */
	assert_int_equal(eventlog_image_load_decode(eventlog_event(log, 29), &im, &e), 0);
	assert_int_equal(eventlog_devpath_format(im.devpath, im.devpath_len, &t, &e), 0);
	assert_string_equal((char *)t.data,
	                    "PciRoot(0x0)/Pci(0x2,0x3)/Pci(0x0,0x0)/HD(1,GPT,a88ed452-9a52-45c4-"
	                    "91ce-3da7707caaab,0x800,0x12c000)/\\EFI\\redhat\\shimx64.efi");
	/* Event 1: the S-CRTM version is UCS-2. */
	buf_reset(&t);
	const eventlog_event_t *ev = eventlog_event(log, 1);
	assert_int_equal(ev->type, EV_S_CRTM_VERSION);
	assert_int_equal(eventlog_ucs2_to_utf8(ev->data, ev->data_len, &t), 0);
	assert_string_equal((char *)t.data, "edk2-20240524-7.el9");
	/* Event 38: a grub command, NUL removed. */
	const uint8_t *s;
	size_t sn;
	assert_int_equal(eventlog_event_string(eventlog_event(log, 38), &s, &sn), 0);
	assert_int_equal(sn, 85);
	assert_memory_equal(s, "grub_cmd: search --no-floppy", 28);
	buf_free(&t);
	eventlog_free(log);
}

static void test_decoders_hostile(void **state)
{
	uint8_t d[128] = {0}, g[16];
	char s[37];
	eventlog_event_t ev;
	eventlog_efi_var_t v;
	eventlog_image_load_t im;
	eventlog_siglist_t l;
	err_t e = {""};
	buf_t t = BUF_INIT;
	(void)state;

	eventlog_guid_format(EVENTLOG_GUID_EFI_GLOBAL, s);
	assert_string_equal(s, "8be4df61-93ca-11d2-aa0d-00e098032b8c");
	assert_int_equal(eventlog_guid_parse(s, g), 0);
	assert_memory_equal(g, EVENTLOG_GUID_EFI_GLOBAL, 16);
	assert_int_equal(eventlog_guid_parse("8BE4DF61-93CA-11D2-AA0D-00E098032B8C", g), 0);
	assert_int_equal(eventlog_guid_parse("8be4df61-93ca-11d2-aa0d-00e098032b8", g), -1);
	assert_int_equal(eventlog_guid_parse("8be4df61x93ca-11d2-aa0d-00e098032b8c", g), -1);

	memset(&ev, 0, sizeof(ev));
	ev.data = d;
	/* UEFI_VARIABLE_DATA: too short, name longer than the event, a NUL in the name. */
	ev.data_len = 31;
	assert_int_equal(eventlog_efi_var_decode(&ev, &v, &e), -1);
	ev.data_len = 40;
	d[16] = 10; /* 10 characters = 20 bytes, but only 8 left */
	assert_int_equal(eventlog_efi_var_decode(&ev, &v, &e), -1);
	d[16] = 2;
	d[24] = 0xff; /* data length beyond the event */
	assert_int_equal(eventlog_efi_var_decode(&ev, &v, &e), -1);
	d[24] = 0;
	d[32] = 'a'; /* name "a\0" */
	assert_int_equal(eventlog_efi_var_decode(&ev, &v, &e), -1);
	assert_non_null(strstr(e.msg, "NUL"));
	d[34] = 'b';
	assert_int_equal(eventlog_efi_var_decode(&ev, &v, &e), 0);
	assert_string_equal(v.name, "ab");
	assert_int_equal(v.trailing, 4);
	/* Huge 64-bit lengths cannot wrap the checks. */
	memset(d + 16, 0xff, 16);
	assert_int_equal(eventlog_efi_var_decode(&ev, &v, &e), -1);

	/* EFI_SIGNATURE_LIST: header cut short, sizes that overflow, signature size 0. */
	memset(d, 0, sizeof(d));
	const uint8_t *p = d;
	size_t left = 20;
	assert_int_equal(eventlog_siglist_next(&p, &left, &l, &e), -1);
	d[16] = 28 + 16; /* list size */
	d[24] = 0;       /* signature size 0 */
	p = d;
	left = 64;
	assert_int_equal(eventlog_siglist_next(&p, &left, &l, &e), -1);
	d[24] = 17; /* 16 body bytes are not a multiple of 17 */
	p = d;
	left = 64;
	assert_int_equal(eventlog_siglist_next(&p, &left, &l, &e), -1);
	d[24] = 16;
	d[20] = 0xff, d[21] = 0xff, d[22] = 0xff, d[23] = 0xff; /* header size 4 GiB */
	p = d;
	left = 64;
	assert_int_equal(eventlog_siglist_next(&p, &left, &l, &e), -1);
	d[20] = d[21] = d[22] = d[23] = 0;
	p = d;
	left = 64;
	assert_int_equal(eventlog_siglist_next(&p, &left, &l, &e), 1);
	assert_int_equal(l.count, 1);
	assert_int_equal(left, 64 - 44);

	/* UEFI_IMAGE_LOAD_EVENT and device paths. */
	memset(d, 0, sizeof(d));
	ev.data_len = 31;
	assert_int_equal(eventlog_image_load_decode(&ev, &im, &e), -1);
	ev.data_len = 40;
	d[24] = 9;
	assert_int_equal(eventlog_image_load_decode(&ev, &im, &e), -1);
	d[24] = 8;
	assert_int_equal(eventlog_image_load_decode(&ev, &im, &e), 0);
	/* Node length 2 (< 4), then a length past the end. */
	uint8_t dp[8] = {4, 4, 2, 0, 0x7f, 0xff, 4, 0};
	assert_int_equal(eventlog_devpath_format(dp, 8, &t, &e), -1);
	dp[2] = 200;
	assert_int_equal(eventlog_devpath_format(dp, 8, &t, &e), -1);
	dp[2] = 4; /* empty file path, then the end node */
	buf_reset(&t);
	assert_int_equal(eventlog_devpath_format(dp, 8, &t, &e), 0);
	assert_int_equal(eventlog_devpath_format(dp, 3, &t, &e), -1);
	/* An unknown node is shown generically. */
	uint8_t un[6] = {0x33, 0x44, 6, 0, 0xbe, 0xef};
	buf_reset(&t);
	assert_int_equal(eventlog_devpath_format(un, 6, &t, &e), 0);
	assert_string_equal((char *)t.data, "Path(51,68,beef)");

	/* UCS-2: surrogate pairs, lone surrogates, odd lengths. */
	uint8_t u[8] = {0x3d, 0xd8, 0x00, 0xde, 0x00, 0xd8, 'A', 0};
	buf_reset(&t);
	assert_int_equal(eventlog_ucs2_to_utf8(u, 8, &t), 0);
	assert_string_equal((char *)t.data, "\xf0\x9f\x98\x80\xef\xbf\xbd"
	                                    "A");
	assert_int_equal(eventlog_ucs2_to_utf8(u, 7, &t), -1);

	/* Strings: one trailing NUL is dropped, an inner NUL is not a string. */
	const uint8_t *s2;
	size_t n2;
	ev.data = (const uint8_t *)"ab\0";
	ev.data_len = 3;
	assert_int_equal(eventlog_event_string(&ev, &s2, &n2), 0);
	assert_int_equal(n2, 2);
	ev.data = (const uint8_t *)"a\0b";
	assert_int_equal(eventlog_event_string(&ev, &s2, &n2), -1);
	buf_free(&t);
}

static void test_names(void **state)
{
	uint16_t alg;
	(void)state;
	assert_string_equal(eventlog_type_name(EV_EFI_VARIABLE_AUTHORITY),
	                    "EV_EFI_VARIABLE_AUTHORITY");
	assert_string_equal(eventlog_type_name(EV_IPL), "EV_IPL");
	assert_null(eventlog_type_name(0x12345678));
	assert_string_equal(eventlog_alg_name(EVENTLOG_ALG_SHA384), "sha384");
	assert_null(eventlog_alg_name(0x1234));
	assert_int_equal(eventlog_alg_from_name("sha512", &alg), 0);
	assert_int_equal(alg, EVENTLOG_ALG_SHA512);
	assert_int_equal(eventlog_alg_from_name("md5", &alg), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_real_logs),        cmocka_unit_test(test_startup_locality_real),
	    cmocka_unit_test(test_short_no_action),  cmocka_unit_test(test_truncation),
	    cmocka_unit_test(test_windows_quote),    cmocka_unit_test(test_hostile),
	    cmocka_unit_test(test_locality),         cmocka_unit_test(test_replay),
	    cmocka_unit_test(test_hcrtm_real),       cmocka_unit_test(test_hcrtm),
	    cmocka_unit_test(test_boot_aggregate),   cmocka_unit_test(test_decoders_real),
	    cmocka_unit_test(test_decoders_hostile), cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

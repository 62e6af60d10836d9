/* Unit tests for common/mb_policy: a policy made from a golden Secure Boot log passes on that
 * log and fails, with the right event, PCR and reason, on edited copies (a db key, the
 * kernel's digest, the command line, Secure Boot off) and under edited policies; the loader
 * refuses malformed refstates. The Python-regex translation has its own tests
 * (test_pyregex.c). */
#include <dirent.h>
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
#include "common/evidence/eventlog.h"
#include "common/policy/mb_policy.h"
#include "common/policy/mb_policy_gen.h"

int main(void);

#define TESTDATA "test/data/eventlog/"
#define SB_LOG   "kl_binary_bios_measurements-secureboot"

static void read_testdata(const char *name, buf_t *b)
{
	char path[256];
	snprintf(path, sizeof(path), TESTDATA "%s", name);
	if (buf_read_file(b, path, 1u << 24) < 0)
		fail_msg("cannot read %s (run the tests from the top of the repository)", path);
}

static eventlog_t *parse_buf(const buf_t *b)
{
	err_t e = {""};
	eventlog_t *log = eventlog_parse(b->data, b->len, &e);
	if (log == NULL)
		fail_msg("parse: %s", e.msg);
	return log;
}

/* The policy JSON text made from a testdata log. */
static void create_from(const char *name, int without_sb, buf_t *out)
{
	buf_t b = BUF_INIT;
	err_t e = {""};
	read_testdata(name, &b);
	eventlog_t *log = parse_buf(&b);
	if (mb_policy_create(log, without_sb, out, &e) < 0)
		fail_msg("create: %s", e.msg);
	eventlog_free(log);
	buf_free(&b);
}

static mb_policy_t *load_text(const char *text)
{
	err_t e = {""};
	mb_policy_t *p = mb_policy_load(text, strlen(text), &e);
	if (p == NULL)
		fail_msg("load: %s", e.msg);
	return p;
}

static mb_policy_t *load_json(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	mb_policy_t *p = load_text(s);
	free(s);
	return p;
}

/* Evaluate; return the verdict and fill f. */
static int judge(const mb_policy_t *p, const buf_t *logbytes, mb_failure_t *f)
{
	eventlog_t *log = parse_buf(logbytes);
	int r = mb_policy_evaluate(p, log, f);
	eventlog_free(log);
	return r;
}

static void expect_fail(const mb_policy_t *p, const buf_t *logbytes, long event, int pcr,
                        const char *needle)
{
	mb_failure_t f;
	if (judge(p, logbytes, &f) == 0)
		fail_msg("passed; expected a failure with \"%s\"", needle);
	if (strstr(f.reason, needle) == NULL)
		fail_msg("reason \"%s\" lacks \"%s\"", f.reason, needle);
	if (f.event != event || f.pcr != pcr)
		fail_msg("failure at event %ld PCR %d, expected event %ld PCR %d: %s", f.event,
		         f.pcr, event, pcr, f.reason);
}

/* Set every digest of event idx in the raw copy to the hash of bytes, the way firmware
 * would have measured the edited data. */
static void remeasure(buf_t *raw, size_t idx, const uint8_t *bytes, size_t n)
{
	eventlog_t *log = parse_buf(raw);
	const eventlog_event_t *ev = eventlog_event(log, idx);
	size_t rawlen;
	const uint8_t *base = eventlog_raw(log, &rawlen);
	for (uint32_t i = 0; i < ev->ndigests; i++) {
		const EVP_MD *md = ev->digests[i].alg == EVENTLOG_ALG_SHA256 ? EVP_sha256()
		                   : ev->digests[i].alg == EVENTLOG_ALG_SHA1 ? EVP_sha1()
		                                                             : NULL;
		unsigned hl;
		assert_non_null(md);
		EVP_Digest(bytes, n, raw->data + (ev->digests[i].bytes - base), &hl, md, NULL);
	}
	eventlog_free(log);
}

/* Offset of event idx's data in the raw log. */
static size_t data_off(const buf_t *raw, size_t idx)
{
	eventlog_t *log = parse_buf(raw);
	size_t rawlen;
	const uint8_t *base = eventlog_raw(log, &rawlen);
	size_t off = (size_t)(eventlog_event(log, idx)->data - base);
	eventlog_free(log);
	return off;
}

/* Index of the first event of the given PCR and type whose data contains needle. */
static size_t find_event(const buf_t *raw, uint32_t pcr, uint32_t type, const char *needle,
                         size_t nlen, int nth)
{
	eventlog_t *log = parse_buf(raw);
	for (size_t i = 0; i < eventlog_count(log); i++) {
		const eventlog_event_t *ev = eventlog_event(log, i);
		if (ev->pcr != pcr || ev->type != type)
			continue;
		if (needle && !memmem(ev->data, ev->data_len, needle, nlen))
			continue;
		if (nth-- > 0)
			continue;
		eventlog_free(log);
		return i;
	}
	fail_msg("no such event");
	return 0;
}

static void test_golden_passes(void **state)
{
	buf_t pol = BUF_INIT, raw = BUF_INIT;
	mb_failure_t f;
	(void)state;
	create_from(SB_LOG, 0, &pol);
	/* Keylime's key order and the escaped command line. */
	assert_non_null(
	    strstr((char *)pol.data, "{\n  \"has_secureboot\": true,\n  \"scrtm_and_bios\""));
	assert_non_null(
	    strstr((char *)pol.data, "\"kernel_cmdline\": \"\\\\(hd0,gpt2\\\\)/vmlinuz\\\\-5"));
	mb_policy_t *p = load_text((char *)pol.data);
	assert_int_equal(mb_policy_has_secureboot(p), 1);
	assert_int_equal(mb_policy_is_empty(p), 0);
	read_testdata(SB_LOG, &raw);
	if (judge(p, &raw, &f) != 0)
		fail_msg("golden log fails its own policy: %s", f.reason);
	assert_int_equal(f.event, -1);
	mb_policy_free(p);
	buf_free(&pol);
	buf_free(&raw);
}

static void test_edited_logs(void **state)
{
	buf_t pol = BUF_INIT, raw = BUF_INIT, orig = BUF_INIT;
	(void)state;
	create_from(SB_LOG, 0, &pol);
	mb_policy_t *p = load_text((char *)pol.data);
	read_testdata(SB_LOG, &orig);

	/* A changed db certificate, measured as firmware would: not in the policy's db. */
	buf_set(&raw, orig.data, orig.len);
	size_t db = find_event(&raw, 7, EV_EFI_VARIABLE_DRIVER_CONFIG, "d\0b\0", 4, 0);
	assert_int_equal(db, 7);
	size_t off = data_off(&raw, db);
	eventlog_t *l = parse_buf(&raw);
	uint32_t dlen = eventlog_event(l, db)->data_len;
	eventlog_free(l);
	raw.data[off + 32 + 4 + 28 + 16 + 200] ^= 0x01;
	remeasure(&raw, db, raw.data + off, dlen);
	expect_fail(p, &raw, 7, 7, "db entry (owner 77fa9abd-0359-4d32-bd60-28f4e78f784b");
	expect_fail(p, &raw, 7, 7, "is not in the policy's db");
	/* The same edit without re-measuring: the data no longer matches its digest. */
	buf_set(&raw, orig.data, orig.len);
	raw.data[off + 32 + 4 + 28 + 16 + 200] ^= 0x01;
	expect_fail(p, &raw, 7, 7, "does not match the event's digests");

	/* A different kernel (its Authenticode digest in PCR 4). */
	buf_set(&raw, orig.data, orig.len);
	size_t k = find_event(&raw, 4, EV_EFI_BOOT_SERVICES_APPLICATION, NULL, 0, 2);
	l = parse_buf(&raw);
	size_t rawlen;
	const uint8_t *base = eventlog_raw(l, &rawlen);
	size_t dg = (size_t)(eventlog_event(l, k)->digests[0].bytes - base);
	eventlog_free(l);
	raw.data[dg] ^= 0xff;
	expect_fail(p, &raw, (long)k, 4, "is not the kernel_authcode_sha256 0x219b8b53");

	/* A changed kernel command line, measured as grub would (the text after the prefix). */
	buf_set(&raw, orig.data, orig.len);
	size_t c = find_event(&raw, 8, EV_IPL, "kernel_cmdline: ", 16, 0);
	off = data_off(&raw, c);
	l = parse_buf(&raw);
	dlen = eventlog_event(l, c)->data_len;
	eventlog_free(l);
	uint8_t *q = memmem(raw.data + off, dlen, " quiet", 6);
	assert_non_null(q);
	q[5] = 'T';
	remeasure(&raw, c, raw.data + off + 16, dlen - 17);
	expect_fail(p, &raw, (long)c, 8, "does not match kernels[0].kernel_cmdline");
	/* Edited text, old digest. */
	buf_set(&raw, orig.data, orig.len);
	raw.data[(size_t)(q - raw.data)] = 'T';
	expect_fail(p, &raw, (long)c, 8, "kernel command line does not match the event's digests");

	/* An escape sequence in the command line: the reason shows it escaped, and holds no
	 * byte a terminal would act on. */
	buf_set(&raw, orig.data, orig.len);
	q = raw.data + off + 16;
	memcpy(q, "\x1b[2J\x07x", 6);
	remeasure(&raw, c, raw.data + off + 16, dlen - 17);
	expect_fail(p, &raw, (long)c, 8, "\\x1b[2J\\x07");
	{
		mb_failure_t f;
		assert_int_equal(judge(p, &raw, &f), -1);
		for (const char *ch = f.reason; *ch; ch++)
			assert_true(*ch >= 0x20 && *ch < 0x7f);
	}

	/* Secure Boot off. */
	buf_set(&raw, orig.data, orig.len);
	off = data_off(&raw, 4);
	raw.data[off + 52] = 0;
	remeasure(&raw, 4, raw.data + off, 53);
	expect_fail(p, &raw, 4, 7, "Secure Boot is disabled, the policy expects it enabled");

	mb_policy_free(p);
	buf_free(&pol);
	buf_free(&raw);
	buf_free(&orig);
}

static void test_edited_policies(void **state)
{
	buf_t pol = BUF_INIT, raw = BUF_INIT;
	json_error_t jerr;
	mb_failure_t f;
	(void)state;
	create_from(SB_LOG, 0, &pol);
	read_testdata(SB_LOG, &raw);
	json_t *base = json_loads((char *)pol.data, 0, &jerr), *j, *k0;
	assert_non_null(base);
	mb_policy_t *p;

	/* Another shim. */
	j = json_deep_copy(base);
	k0 = json_array_get(json_object_get(j, "kernels"), 0);
	json_object_set_new(k0, "shim_authcode_sha256",
	                    json_string("0x00000000000000000000000000000000000000000000000000000000"
	                                "00000000"));
	p = load_json(j);
	expect_fail(p, &raw, 29, 4, "is not the shim_authcode_sha256 0x0000");
	/* ... and the good kernel entry after the bad one: Or semantics, passes. */
	json_array_append(json_object_get(j, "kernels"),
	                  json_array_get(json_object_get(base, "kernels"), 0));
	mb_policy_free(p);
	p = load_json(j);
	assert_int_equal(judge(p, &raw, &f), 0);
	mb_policy_free(p);
	json_decref(j);

	/* A loosened command line regex passes; a stricter one fails. */
	j = json_deep_copy(base);
	k0 = json_array_get(json_object_get(j, "kernels"), 0);
	json_object_set_new(k0, "kernel_cmdline",
	                    json_string("\\(hd0,gpt2\\)/vmlinuz-[0-9.\\-]+el9_5\\.x86_64 .* quiet "
	                                "console=tty0 console=ttyS0"));
	p = load_json(j);
	if (judge(p, &raw, &f) != 0)
		fail_msg("loosened regex: %s", f.reason);
	mb_policy_free(p);
	json_object_set_new(k0, "kernel_cmdline", json_string(".* single"));
	p = load_json(j);
	expect_fail(p, &raw, 94, 8, "does not match kernels[0].kernel_cmdline \".* single\"");
	mb_policy_free(p);
	json_decref(j);

	/* dbx must contain an entry the log lacks. */
	j = json_deep_copy(base);
	json_t *sig = json_object();
	json_object_set_new(sig, "SignatureOwner",
	                    json_string("77fa9abd-0359-4d32-bd60-28f4e78f784b"));
	json_object_set_new(sig, "SignatureData", json_string("0x00112233"));
	json_array_append_new(json_object_get(j, "dbx"), sig);
	p = load_json(j);
	expect_fail(p, &raw, 8, 7, "dbx lacks the required entry");
	mb_policy_free(p);
	json_decref(j);

	/* Another S-CRTM; one firmware blob fewer. */
	j = json_deep_copy(base);
	json_t *sb0 = json_array_get(json_object_get(j, "scrtm_and_bios"), 0);
	json_object_set_new(json_object_get(sb0, "scrtm"), "sha256",
	                    json_string("0x11111111111111111111111111111111111111111111111111111111"
	                                "11111111"));
	p = load_json(j);
	expect_fail(p, &raw, 1, 0, "is not scrtm_and_bios[0].scrtm");
	mb_policy_free(p);
	json_decref(j);
	j = json_deep_copy(base);
	sb0 = json_array_get(json_object_get(j, "scrtm_and_bios"), 0);
	json_array_remove(json_object_get(sb0, "platform_firmware"), 1);
	p = load_json(j);
	expect_fail(p, &raw, -1, 0, "2 platform firmware blob events, scrtm_and_bios[0] lists 1");
	mb_policy_free(p);
	json_decref(j);

	/* No MokList digest allowed; an empty PK list. */
	j = json_deep_copy(base);
	json_object_set_new(j, "mokdig", json_array());
	p = load_json(j);
	expect_fail(p, &raw, 30, 14, "MokList sha256 digest c9531063");
	mb_policy_free(p);
	json_decref(j);
	j = json_deep_copy(base);
	json_object_set_new(j, "pk", json_array());
	p = load_json(j);
	expect_fail(p, &raw, 5, 7, "is not in the policy's PK");
	mb_policy_free(p);
	json_decref(j);

	/* A policy for a machine without Secure Boot. */
	j = json_deep_copy(base);
	json_object_set_new(j, "has_secureboot", json_false());
	k0 = json_array_get(json_object_get(j, "kernels"), 0);
	json_object_set_new(k0, "vmlinuz_plain_sha256",
	                    json_string("0x22222222222222222222222222222222222222222222222222222222"
	                                "22222222"));
	p = load_json(j);
	expect_fail(p, &raw, 4, 7, "Secure Boot is enabled, the policy expects it disabled");
	mb_policy_free(p);
	json_decref(j);

	json_decref(base);
	buf_free(&pol);
	buf_free(&raw);
}

static void test_load_errors(void **state)
{
	buf_t pol = BUF_INIT;
	json_error_t jerr;
	static const char *const hex64 =
	    "0x0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	(void)state;
	create_from(SB_LOG, 0, &pol);
	json_t *base = json_loads((char *)pol.data, 0, &jerr);
	struct {
		const char *path;  /* what to change: "key" or "kernels.key" */
		json_t *value;     /* new value (NULL: delete) */
		const char *error; /* expected in the message */
	} cases[] = {
	    {"foo", json_true(), "unknown key \"foo\""},
	    {"kernels", NULL, "missing \"kernels\""},
	    {"has_secureboot", json_string("yes"), "has_secureboot: expected true or false"},
	    {"kernels", json_array(), "kernels: expected a list of 1"},
	    {"dbx", json_object(), "dbx: expected a list"},
	    {"mokdig", json_pack("[{s:s}]", "sha256", "0xAB"), "mokdig[0].sha256: expected 0x"},
	    {"mokdig", json_pack("[{s:s}]", "sha256", "0xab"),
	     "mokdig[0].sha256: expected 0x and 64 lowercase hex digits, got 2"},
	    {"mokdig", json_pack("[{s:s}]", "SHA256", hex64), "bad algorithm name"},
	    {"pk",
	     json_pack("[{s:s,s:s}]", "SignatureOwner", "77FA9ABD-0359-4D32-BD60-28F4E78F784B",
	               "SignatureData", "0x00"),
	     "pk[0].SignatureOwner: expected a lowercase GUID"},
	    {"pk",
	     json_pack("[{s:s,s:s}]", "SignatureOwner", "77fa9abd-0359-4d32-bd60-28f4e78f784b",
	               "SignatureData", "0x000"),
	     "pk[0].SignatureData: odd number of hex digits"},
	    {"pk", json_pack("[{s:s}]", "SignatureOwner", "77fa9abd-0359-4d32-bd60-28f4e78f784b"),
	     "pk[0]: expected exactly {SignatureOwner, SignatureData}"},
	    {"kernels.kernel_cmdline", json_string("(?=x)"), "(?=...) groups are not supported"},
	    {"kernels.kernel_cmdline", json_string("a**"), "multiple repeat"},
	    {"kernels.kernel_cmdline", json_string("[a"), "unterminated [ set"},
	    {"kernels.kernel_cmdline", json_string("\\1"), "unsupported escape \\1"},
	    {"kernels.kernel_cmdline", json_integer(1),
	     "kernels[0].kernel_cmdline: expected a regex"},
	    {"kernels.kernel_authcode_sha256", NULL,
	     "kernels[0]: missing kernel_authcode_sha256 (required when has_secureboot is true)"},
	    {"kernels.initrd_plain_sha256", json_string("0x12"), "expected 0x and 64"},
	    {"kernels.extra", json_string("x"), "kernels[0].extra: unknown key"},
	    {"scrtm_and_bios", json_pack("[{s:{}}]", "scrtm"),
	     "scrtm_and_bios[0]: needs both scrtm and platform_firmware"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = json_deep_copy(base), *target = j;
		const char *key = cases[i].path;
		if (strncmp(key, "kernels.", 8) == 0) {
			target = json_array_get(json_object_get(j, "kernels"), 0);
			key += 8;
		}
		if (cases[i].value == NULL)
			json_object_del(target, key);
		else
			json_object_set_new(target, key, cases[i].value);
		char *s = json_dumps(j, 0);
		err_t e = {""};
		mb_policy_t *p = mb_policy_load(s, strlen(s), &e);
		if (p != NULL)
			fail_msg("case %zu (%s) loaded", i, cases[i].error);
		if (strstr(e.msg, cases[i].error) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, e.msg, cases[i].error);
		free(s);
		json_decref(j);
	}
	static const struct {
		const char *text;  /* whole policy */
		const char *error; /* expected in the message */
	} raw_cases[] = {
	    {"[]", "must be a JSON object"},
	    {"{", "not valid JSON"},
	    {"{\"pk\": [], \"pk\": []}", "not valid JSON"},
	};
	for (size_t i = 0; i < sizeof(raw_cases) / sizeof(raw_cases[0]); i++) {
		err_t e = {""};
		assert_null(mb_policy_load(raw_cases[i].text, strlen(raw_cases[i].text), &e));
		assert_non_null(strstr(e.msg, raw_cases[i].error));
	}
	err_t e = {""};
	assert_null(mb_policy_load("{}", MB_POLICY_MAX_SIZE + 1u, &e));
	json_decref(base);
	buf_free(&pol);
}

static void test_empty_policy(void **state)
{
	buf_t raw = BUF_INIT;
	mb_failure_t f;
	(void)state;
	mb_policy_t *p = load_text("{}");
	assert_int_equal(mb_policy_is_empty(p), 1);
	read_testdata("kl_binary_bios_measurements", &raw);
	assert_int_equal(judge(p, &raw, &f), 0);
	mb_policy_free(p);
	buf_free(&raw);
}

static void test_create_refusals(void **state)
{
	static const struct {
		const char *file;  /* testdata log */
		int without_sb;    /* --without-secureboot */
		const char *error; /* expected in the message */
	} cases[] = {
	    {"coreos_36_shielded_vm_no_secure_boot_eventlog", 0, "use --without-secureboot"},
	    {"ebs_event_missing_eventlog", 1, "no sha256 bank"},
	    {"crypto_agile_eventlog", 1, "no initrd EV_IPL (PCR 9) event"},
	    {"ubuntu_2104_shielded_vm_no_secure_boot_eventlog", 1, "no initrd EV_IPL"},
	    /* Locality 3: the Spec ID header and StartupLocality (events 0, 1) are no longer
	     * "EV_NO_ACTION may appear only once"; what the refstate cannot describe is the
	     * S-CRTM contents event. */
	    {"kl_binary_bios_measurements", 1,
	     "no measured-boot policy can describe this boot; the one made from the log fails "
	     "it at event 2 (PCR 0, EV_S_CRTM_CONTENTS)"},
	    /* Its dbx (event 9) holds five signature lists (two X509, three SHA256) and now
	     * passes; the ACPI tables measured as EV_POST_CODE in PCR 0 are what stops it. */
	    {"rk_uefi_log.bin", 1, "fails it at event 11 (PCR 0, EV_POST_CODE)"},
	    {"coreos_36_shielded_vm_no_secure_boot_eventlog", 1,
	     "fails it at event 2 (PCR 0, EV_NONHOST_INFO)"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_t b = BUF_INIT, out = BUF_INIT;
		err_t e = {""};
		read_testdata(cases[i].file, &b);
		eventlog_t *log = parse_buf(&b);
		assert_int_equal(mb_policy_create(log, cases[i].without_sb, &out, &e), -1);
		if (strstr(e.msg, cases[i].error) == NULL)
			fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].file, e.msg, cases[i].error);
		eventlog_free(log);
		buf_free(&b);
		buf_free(&out);
	}
}

/* Without Secure Boot: the policy carries vmlinuz instead of the kernel's Authenticode
 * digest. The GCP VM's firmware logs EV_NONHOST_INFO in PCR 0, which the refstate format has
 * no place for (Keylime's example policy refuses it too), so creation is refused with that
 * reason. With that event and Ignition's first-boot flag file (PCR 9, neither grub nor a
 * kernel or initrd) turned into EV_NO_ACTION events (a variant made here), the policy is
 * made and passes the log it was made from. */
static void test_create_without_secureboot(void **state)
{
	buf_t pol = BUF_INIT, raw = BUF_INIT;
	err_t e = {""};
	mb_failure_t f;
	(void)state;
	read_testdata("coreos_36_shielded_vm_no_secure_boot_eventlog", &raw);
	eventlog_t *log = parse_buf(&raw);
	assert_int_equal(mb_policy_create(log, 1, &pol, &e), -1);
	if (strstr(e.msg, "no measured-boot policy can describe this boot") == NULL ||
	    strstr(e.msg, "event 2 (PCR 0, EV_NONHOST_INFO)") == NULL)
		fail_msg("\"%s\"", e.msg);
	assert_int_equal(pol.len, 0);
	size_t nonhost = eventlog_event(log, 2)->offset + 4,
	       ignition = eventlog_event(log, 59)->offset + 4;
	eventlog_free(log);
	assert_int_equal(raw.data[nonhost], EV_NONHOST_INFO);
	raw.data[nonhost] = EV_NO_ACTION;
	assert_int_equal(raw.data[ignition], EV_IPL);
	raw.data[ignition] = EV_NO_ACTION;
	log = parse_buf(&raw);
	if (mb_policy_create(log, 1, &pol, &e) < 0)
		fail_msg("create: %s", e.msg);
	assert_non_null(strstr((char *)pol.data, "\"has_secureboot\": false"));
	assert_non_null(strstr((char *)pol.data, "\"vmlinuz_plain_sha256\": \"0x"));
	assert_null(strstr((char *)pol.data, "kernel_authcode_sha256"));
	mb_policy_t *p = load_text((char *)pol.data);
	assert_int_equal(mb_policy_has_secureboot(p), 0);
	if (mb_policy_evaluate(p, log, &f) != 0)
		fail_msg("%s", f.reason);
	mb_policy_free(p);
	eventlog_free(log);
	buf_free(&pol);
	buf_free(&raw);
}

/* A testdata file as log bytes: go-attestation's JSON carries the log base64-encoded in
 * Log.Raw; tpm2-tss's .b64 files are lines of base64. 0, or -1 when the file holds no log. */
static int real_log_bytes(const char *name, buf_t *out)
{
	buf_t b = BUF_INIT, text = BUF_INIT;
	size_t n = strlen(name);
	int rv = 0;

	read_testdata(name, &b);
	if (n > 5 && strcmp(name + n - 5, ".json") == 0) {
		json_t *j = json_loadb((char *)b.data, b.len, 0, NULL), *raw;
		raw = j ? json_object_get(json_object_get(j, "Log"), "Raw") : NULL;
		rv = raw && base64_decode(out, json_string_value(raw), json_string_length(raw)) == 0
		         ? 0
		         : -1;
		json_decref(j);
	} else if (n > 4 && strcmp(name + n - 4, ".b64") == 0) {
		for (size_t i = 0; i < b.len; i++)
			if (b.data[i] != '\n' && b.data[i] != '\r')
				buf_append(&text, b.data + i, 1);
		rv = base64_decode(out, (char *)text.data, text.len);
	} else {
		buf_set(out, b.data, b.len);
	}
	buf_free(&b);
	buf_free(&text);
	return rv;
}

/* Every real log in test/data/eventlog: the policy 'policy create mb' makes from it passes
 * on that same log, or creation is refused with a reason. Never a policy that fails the
 * very log it was made from. */
static void test_every_real_log(void **state)
{
	DIR *d = opendir(TESTDATA);
	struct dirent *de;
	int logs = 0, passed = 0, failed = 0;
	(void)state;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		buf_t raw = BUF_INIT, pol = BUF_INIT;
		err_t e = {""};
		eventlog_t *log;
		int without_sb = 0;

		if (de->d_name[0] == '.')
			continue;
		if (real_log_bytes(de->d_name, &raw) < 0)
			fail_msg("%s: cannot read the log", de->d_name);
		if ((log = eventlog_parse(raw.data, raw.len, &e)) == NULL) {
			/* Not a whole log (the truncated one): nothing to make a policy from. */
			print_message("%s: not a log: %s\n", de->d_name, e.msg);
			buf_free(&raw);
			continue;
		}
		logs++;
		if (mb_policy_create(log, 0, &pol, &e) < 0 &&
		    strstr(e.msg, "--without-secureboot") != NULL) {
			without_sb = 1;
			e.msg[0] = 0;
			buf_reset(&pol);
		}
		if (without_sb && mb_policy_create(log, 1, &pol, &e) < 0)
			without_sb = 2;
		if (pol.len == 0) {
			assert_true(strlen(e.msg) > 20);
			print_message("%s: refused: %s\n", de->d_name, e.msg);
		} else {
			mb_policy_t *p = load_text((char *)pol.data);
			mb_failure_t f;
			if (mb_policy_evaluate(p, log, &f) != 0) {
				print_message("%s: the policy made from it fails it: %s\n",
				              de->d_name, f.reason);
				failed++;
			} else {
				print_message("%s: policy%s passes\n", de->d_name,
				              without_sb ? " (--without-secureboot)" : "");
				passed++;
			}
			mb_policy_free(p);
		}
		eventlog_free(log);
		buf_free(&raw);
		buf_free(&pol);
	}
	closedir(d);
	assert_int_equal(failed, 0);
	assert_true(logs >= 11);
	assert_true(passed >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_golden_passes),
	    cmocka_unit_test(test_edited_logs),
	    cmocka_unit_test(test_edited_policies),
	    cmocka_unit_test(test_load_errors),
	    cmocka_unit_test(test_empty_policy),
	    cmocka_unit_test(test_create_refusals),
	    cmocka_unit_test(test_create_without_secureboot),
	    cmocka_unit_test(test_every_real_log),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for common/runtime_policy: strict parsing, every evaluation rule with its
 * Keylime event id, ima-sig signatures with RSA and EC keys made here, keys learned from
 * keyring measurements, boot_aggregate, and policies generated from real lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/base/buf.h"
#include "common/evidence/ima.h"
#include "common/policy/runtime_policy.h"
#include "common/crypto/tpm2.h"
#include "common/policy/runtime_policy_eval.h"
#include "common/policy/runtime_policy_gen.h"

int main(void);

#define TESTDATA "test/data/ima/"
#define DIG_A    "96d7fae8adb7286a419a88f78c13d35fb782d63df654b7db56f154765698b754"
#define DIG_B    "f4845392eca429a4c941a6a07fc32faf843a88c5c3dfa3b9329ab8f4171d9ce3"

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

/* A policy from parts; the rest as Keylime's empty policy. */
static runtime_policy_t *policy(const char *digests, const char *excludes, const char *extra,
                                err_t *e)
{
	char *j;
	runtime_policy_t *p;

	if (asprintf(&j,
	             "{\"meta\": {\"version\": 1, \"generator\": 3}, \"release\": 0, "
	             "\"digests\": {%s}, \"excludes\": [%s], \"keyrings\": {}, "
	             "\"ima\": {\"ignored_keyrings\": [], \"log_hash_alg\": \"sha1\", "
	             "\"dm_policy\": null}, \"ima-buf\": {}, \"verification-keys\": \"\"%s}",
	             digests, excludes, extra ? extra : "") < 0)
		fail();
	p = runtime_policy_parse(j, strlen(j), 0, e);
	free(j);
	return p;
}

/* Parse a synthetic line (template hash fixed up to SHA-1 of its data) and judge it. */
static int judge(runtime_policy_eval_t *ev, const char *fmt, ima_failure_t *f, ...)
{
	char line[8192];
	ima_entry_t ent;
	err_t e = {""};
	uint8_t h[20];
	char hx[41];
	va_list ap;
	int rc;

	va_start(ap, f);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	ima_entry_init(&ent);
	if (ima_entry_parse(&ent, line, strlen(line), &e) < 0)
		fail_msg("bad test line: %s: %s", line, e.msg);
	EVP_Digest(ent.tdata, ent.tdata_len, h, NULL, EVP_sha1(), NULL);
	hexs(hx, h, 20);
	memcpy(line + 3, hx, 40);
	assert_int_equal(ima_entry_parse(&ent, line, strlen(line), &e), 0);
	assert_int_equal(ima_entry_check_template_hash(&ent, TPM2_ALG_SHA1_ID, &e), 0);
	ent.index = 42;
	memset(f, 0, sizeof(*f));
	rc = runtime_policy_check_entry(ev, &ent, f);
	ima_entry_clear(&ent);
	return rc;
}

#define L1 "10 1111111111111111111111111111111111111111 "

static void test_digests_rules(void **state)
{
	err_t e = {""};
	runtime_policy_t *p =
	    policy("\"/usr/bin/a\": [\"" DIG_A "\", \"" DIG_B "\"], "
	           "\"/usr/bin/b\": [\"" DIG_B "\"]",
	           "\"/tmp/.*\", \"/var/log/\\\\d+\\\\.log$\", \"(?:/proc|/sys)/\"", NULL, &e);
	runtime_policy_eval_t *ev;
	ima_failure_t f;
	(void)state;

	assert_non_null(p);
	assert_int_equal(runtime_policy_digest_count(p), 2);
	assert_int_equal(runtime_policy_exclude_count(p), 3);
	ev = runtime_policy_eval_new(p);
	runtime_policy_unref(p); /* the evaluator holds its own reference */

	/* allowed */
	assert_int_equal(judge(ev, L1 "ima-ng sha256:" DIG_A " /usr/bin/a", &f), 0);
	assert_int_equal(judge(ev, L1 "ima-ng sha256:" DIG_B " /usr/bin/a", &f), 0);
	/* not in the allowlist */
	assert_int_equal(judge(ev, L1 "ima-ng sha256:" DIG_A " /usr/bin/c", &f), -1);
	assert_string_equal(f.event_id, "ima.validation.ima-ng.not_in_allowlist");
	assert_non_null(strstr(f.reason, "/usr/bin/c"));
	assert_non_null(strstr(f.reason, "entry 42"));
	/* wrong digest: the reason names the digest found and the ones allowed */
	assert_int_equal(judge(ev, L1 "ima-ng sha256:" DIG_A " /usr/bin/b", &f), -1);
	assert_string_equal(f.event_id, "ima.validation.ima-ng.runtime_policy_hash");
	assert_non_null(strstr(f.reason, DIG_A));
	assert_non_null(strstr(f.reason, DIG_B));
	/* the same hex under another algorithm of that size is the same digest to Keylime */
	assert_int_equal(judge(ev, L1 "ima-ng sm3:" DIG_A " /usr/bin/a", &f), 0);
	/* excludes: anchored at the start like Python's re.match, Python syntax */
	assert_int_equal(judge(ev, L1 "ima-ng sha256:" DIG_A " /tmp/x", &f), 0);
	assert_int_equal(judge(ev, L1 "ima-ng sha256:" DIG_A " /var/log/12.log", &f), 0);
	assert_int_equal(judge(ev, L1 "ima-ng sha256:" DIG_A " /var/log/ab.log", &f), -1);
	assert_int_equal(judge(ev, L1 "ima-ng sha256:" DIG_A " /sys/x", &f), 0);
	assert_int_equal(judge(ev, L1 "ima-ng sha256:" DIG_A " /x/tmp/y", &f), -1);
	runtime_policy_eval_free(ev);
	/* "^" changes nothing; ".*" reaches anywhere; "$" ends the match */
	p = policy("", "\"^/boot/\", \".*\\\\.pyc$\"", NULL, &e);
	assert_non_null(p);
	ev = runtime_policy_eval_new(p);
	runtime_policy_unref(p);
	assert_int_equal(judge(ev, L1 "ima-ng sha256:" DIG_A " /boot/vmlinuz", &f), 0);
	assert_int_equal(judge(ev, L1 "ima-ng sha256:" DIG_A " /usr/lib/x.pyc", &f), 0);
	assert_int_equal(judge(ev, L1 "ima-ng sha256:" DIG_A " /usr/lib/x.pyc.bak", &f), -1);
	assert_int_equal(judge(ev, L1 "ima-ng sha256:" DIG_A " /usr/boot/x", &f), -1);
	runtime_policy_eval_free(ev);
	p = policy("\"/usr/bin/a\": [\"" DIG_A "\"]", "", NULL, &e);
	assert_non_null(p);
	ev = runtime_policy_eval_new(p);
	runtime_policy_unref(p);
	/* legacy template follows the same rules */
	assert_int_equal(
	    judge(ev, L1 "ima 0123456789abcdef0123456789abcdef01234567 /usr/bin/a", &f), -1);
	assert_string_equal(f.event_id, "ima.validation.ima-ng.runtime_policy_hash");
	/* violations pass unless told otherwise (judge() would fix the template hash, so
	 * the entry is checked directly) */
	{
		static const char v[] = "10 0000000000000000000000000000000000000000 ima-ng "
		                        "sha1:0000000000000000000000000000000000000000 /etc/shadow";
		ima_entry_t ent;

		ima_entry_init(&ent);
		assert_int_equal(ima_entry_parse(&ent, v, strlen(v), &e), 0);
		assert_int_equal(runtime_policy_check_entry(ev, &ent, &f), 0);
		runtime_policy_eval_set_fail_violations(ev, 1);
		assert_int_equal(runtime_policy_check_entry(ev, &ent, &f), -1);
		assert_string_equal(f.event_id, "ima.validation.tomtou");
		assert_non_null(strstr(f.reason, "/etc/shadow"));
		ima_entry_clear(&ent);
	}
	runtime_policy_eval_free(ev);
}

static void test_boot_aggregate(void **state)
{
	err_t e = {""};
	runtime_policy_t *p = policy("\"boot_aggregate\": [\"" DIG_B "\"]", "", NULL, &e);
	runtime_policy_t *p2 = policy("", "", NULL, &e);
	runtime_policy_eval_t *ev = runtime_policy_eval_new(p), *ev2 = runtime_policy_eval_new(p2);
	ima_failure_t f;
	uint8_t d[32];
	(void)state;

	assert_int_equal(judge(ev, L1 "ima-ng sha256:" DIG_B " boot_aggregate", &f), 0);
	assert_int_equal(judge(ev, L1 "ima-ng sha256:" DIG_A " boot_aggregate", &f), -1);
	assert_string_equal(f.event_id, "ima.validation.ima-ng.runtime_policy_hash");
	/* the node's own value, computed from its quoted PCRs, is accepted as well */
	unhex(d, DIG_A);
	assert_int_equal(runtime_policy_eval_add_boot_aggregate(ev, d, 32), 0);
	assert_int_equal(judge(ev, L1 "ima-ng sha256:" DIG_A " boot_aggregate", &f), 0);
	/* and also when the policy has no boot_aggregate at all */
	assert_int_equal(judge(ev2, L1 "ima-ng sha256:" DIG_A " boot_aggregate", &f), -1);
	assert_string_equal(f.event_id, "ima.validation.ima-ng.not_in_allowlist");
	assert_int_equal(runtime_policy_eval_add_boot_aggregate(ev2, d, 32), 0);
	assert_int_equal(judge(ev2, L1 "ima-ng sha256:" DIG_A " boot_aggregate", &f), 0);
	assert_int_equal(judge(ev2, L1 "ima-ng sha256:" DIG_B " boot_aggregate", &f), -1);
	assert_string_equal(f.event_id, "ima.validation.ima-ng.runtime_policy_hash");
	runtime_policy_eval_free(ev);
	runtime_policy_eval_free(ev2);
	runtime_policy_unref(p);
	runtime_policy_unref(p2);
}

/* ---- ima-sig ---- */

static EVP_PKEY *make_key(int ec)
{
	EVP_PKEY *k = ec ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);

	assert_non_null(k);
	return k;
}

static uint32_t keyid_of(EVP_PKEY *k)
{
	unsigned char *der = NULL;
	uint8_t md[20];
	int n = i2d_PublicKey(k, &der);

	assert_true(n > 0);
	EVP_Digest(der, (size_t)n, md, NULL, EVP_sha1(), NULL);
	OPENSSL_free(der);
	return (uint32_t)md[16] << 24 | (uint32_t)md[17] << 16 | (uint32_t)md[18] << 8 | md[19];
}

/* IMA signature v2 hex over a SHA-256 file digest. */
static void ima_sig(EVP_PKEY *k, uint32_t keyid, const uint8_t *digest, char *hex)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, NULL);
	uint8_t out[600];
	size_t n = sizeof(out) - 9;

	assert_int_equal(EVP_PKEY_sign_init(c), 1);
	if (EVP_PKEY_is_a(k, "RSA"))
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()), 1);
	assert_int_equal(EVP_PKEY_sign(c, out + 9, &n, digest, 32), 1);
	EVP_PKEY_CTX_free(c);
	out[0] = 3;
	out[1] = 2;
	out[2] = 4; /* HASH_ALGO_SHA256 */
	out[3] = (uint8_t)(keyid >> 24), out[4] = (uint8_t)(keyid >> 16);
	out[5] = (uint8_t)(keyid >> 8), out[6] = (uint8_t)keyid;
	out[7] = (uint8_t)(n >> 8), out[8] = (uint8_t)n;
	hexs(hex, out, n + 9);
}

static char *spki_b64(EVP_PKEY *k)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(k, &der);
	buf_t b = BUF_INIT;
	size_t len;

	assert_true(n > 0);
	base64_encode(&b, der, (size_t)n);
	OPENSSL_free(der);
	return (char *)buf_steal(&b, &len);
}

static void test_ima_sig(void **state)
{
	EVP_PKEY *rsa = make_key(0), *ec = make_key(1), *other = make_key(1);
	uint32_t rid = keyid_of(rsa), eid = keyid_of(ec);
	char *rb = spki_b64(rsa), *eb = spki_b64(ec), extra[4096], sig[1300], sig2[1300];
	uint8_t dig[32];
	err_t e = {""};
	runtime_policy_t *p;
	runtime_policy_eval_t *ev;
	ima_failure_t f;
	(void)state;

	/* The RSA key with its id left to be derived (0), the EC key with its id given. */
	snprintf(extra, sizeof(extra),
	         "\"{\\\"meta\\\": {\\\"version\\\": 1}, \\\"keyids\\\": [0, %u], "
	         "\\\"pubkeys\\\": [\\\"%s\\\", \\\"%s\\\"]}\"",
	         eid, rb, eb);
	{
		char *j;

		assert_true(
		    asprintf(&j,
		             "{\"meta\": {\"version\": 1, \"generator\": 3}, \"release\": 0, "
		             "\"digests\": {\"/usr/bin/listed\": [\"" DIG_A "\"]}, "
		             "\"excludes\": [\"/opt/.*\"], \"keyrings\": {}, "
		             "\"ima\": {\"ignored_keyrings\": [], \"log_hash_alg\": \"sha1\", "
		             "\"dm_policy\": null}, \"ima-buf\": {}, "
		             "\"verification-keys\": %s}",
		             extra) > 0);
		p = runtime_policy_parse(j, strlen(j), 0, &e);
		free(j);
	}
	if (p == NULL)
		fail_msg("%s", e.msg);
	assert_int_equal(runtime_policy_key_count(p), 2);
	ev = runtime_policy_eval_new(p);

	unhex(dig, DIG_B);
	ima_sig(rsa, rid, dig, sig);
	ima_sig(ec, eid, dig, sig2);
	/* good signatures pass without the path being in the policy */
	assert_int_equal(judge(ev, L1 "ima-sig sha256:" DIG_B " /usr/bin/signed %s", &f, sig), 0);
	assert_int_equal(judge(ev, L1 "ima-sig sha256:" DIG_B " /usr/bin/signed %s", &f, sig2), 0);
	/* a signature over another digest fails, and the digest fallback fails too */
	assert_int_equal(judge(ev, L1 "ima-sig sha256:" DIG_A " /usr/bin/signed %s", &f, sig), -1);
	assert_string_equal(f.event_id, "ima.validation.ima-ng.not_in_allowlist");
	assert_non_null(strstr(f.reason, "signature does not verify"));
	/* ... but the fallback to digests can pass */
	assert_int_equal(judge(ev, L1 "ima-sig sha256:" DIG_A " /usr/bin/listed %s", &f, sig), 0);
	/* a flipped signature byte */
	{
		char bad[1300];

		strcpy(bad, sig);
		bad[40] = bad[40] == '0' ? '1' : '0';
		assert_int_equal(
		    judge(ev, L1 "ima-sig sha256:" DIG_B " /usr/bin/signed %s", &f, bad), -1);
	}
	/* a key the policy does not have */
	{
		char s3[1300];

		ima_sig(other, keyid_of(other), dig, s3);
		assert_int_equal(
		    judge(ev, L1 "ima-sig sha256:" DIG_B " /usr/bin/signed %s", &f, s3), -1);
		assert_non_null(strstr(f.reason, "no verification key"));
	}
	/* the digest algorithm must be the signature's */
	assert_int_equal(judge(ev, L1 "ima-sig sm3:" DIG_B " /usr/bin/signed %s", &f, sig), -1);
	assert_non_null(strstr(f.reason, "hash algorithm"));
	/* an unsigned ima-sig entry is judged by digests; excluded paths pass */
	assert_int_equal(judge(ev, L1 "ima-sig sha256:" DIG_B " /usr/bin/signed ", &f), -1);
	assert_int_equal(judge(ev, L1 "ima-sig sha256:" DIG_B " /opt/x ", &f), 0);
	/* a truncated header */
	assert_int_equal(judge(ev, L1 "ima-sig sha256:" DIG_B " /usr/bin/signed 0302", &f), -1);

	runtime_policy_eval_free(ev);
	runtime_policy_unref(p);
	free(rb);
	free(eb);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(other);
}

/* ---- ima-buf and keyrings ---- */

static int make_cert_der(EVP_PKEY *k, uint8_t **der)
{
	X509 *x = X509_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int n;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	                           (const unsigned char *)"ima test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, k);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_key_identifier, "hash");
	assert_non_null(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	*der = NULL;
	n = i2d_X509(x, der);
	X509_free(x);
	assert_true(n > 0);
	return n;
}

static void test_ima_buf_keyrings(void **state)
{
	EVP_PKEY *k = make_key(0);
	uint8_t *der, dig[32], fdig[32];
	int n = make_cert_der(k, &der);
	char *hex = malloc((size_t)n * 2 + 1), dhex[65], sig[1300], *j;
	err_t e = {""};
	runtime_policy_t *p;
	runtime_policy_eval_t *ev;
	ima_failure_t f;
	buf_t keys = BUF_INIT;
	(void)state;

	hexs(hex, der, (size_t)n);
	EVP_Digest(der, (size_t)n, dig, NULL, EVP_sha256(), NULL);
	hexs(dhex, dig, 32);
	assert_true(
	    asprintf(&j,
	             "{\"meta\": {\"version\": 1, \"generator\": 3}, \"release\": 0, "
	             "\"digests\": {}, \"excludes\": [], \"keyrings\": {\".ima\": [\"%s\"]}, "
	             "\"ima\": {\"ignored_keyrings\": [\".builtin_trusted_keys\"], "
	             "\"log_hash_alg\": \"sha1\", \"dm_policy\": null}, "
	             "\"ima-buf\": {\"kexec-cmdline\": [\"%s\"]}, "
	             "\"verification-keys\": \"\"}",
	             dhex, DIG_A) > 0);
	p = runtime_policy_parse(j, strlen(j), 0, &e);
	free(j);
	if (p == NULL)
		fail_msg("%s", e.msg);
	ev = runtime_policy_eval_new(p);

	/* A file signed by the key: unknown before the key is measured. */
	unhex(fdig, DIG_B);
	ima_sig(k, 0, fdig, sig); /* keyid from the certificate's SKID, patched below */
	{
		/* the kernel uses the certificate's subject key identifier as the key id */
		const unsigned char *q = der;
		X509 *x = d2i_X509(NULL, &q, n);
		const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(x);
		const unsigned char *s = ASN1_STRING_get0_data(skid);
		int l = ASN1_STRING_length(skid);
		char idhex[9];

		hexs(idhex, s + l - 4, 4);
		memcpy(sig + 6, idhex, 8);
		X509_free(x);
	}
	assert_int_equal(judge(ev, L1 "ima-sig sha256:" DIG_B " /usr/bin/vendor %s", &f, sig), -1);

	/* The key measured into .ima with an allowed digest passes and is learned. */
	assert_int_equal(judge(ev, L1 "ima-buf sha256:%s .ima %s", &f, dhex, hex), 0);
	assert_int_equal(runtime_policy_eval_learned_count(ev), 1);
	assert_int_equal(judge(ev, L1 "ima-sig sha256:" DIG_B " /usr/bin/vendor %s", &f, sig), 0);

	/* Learned keys survive a restart through their text form. */
	runtime_policy_eval_keys_export(ev, &keys);
	runtime_policy_eval_reset(ev);
	assert_int_equal(runtime_policy_eval_learned_count(ev), 0);
	assert_int_equal(judge(ev, L1 "ima-sig sha256:" DIG_B " /usr/bin/vendor %s", &f, sig), -1);
	assert_int_equal(runtime_policy_eval_keys_import(ev, (char *)keys.data, keys.len, &e), 0);
	assert_int_equal(judge(ev, L1 "ima-sig sha256:" DIG_B " /usr/bin/vendor %s", &f, sig), 0);
	assert_int_equal(runtime_policy_eval_keys_import(ev, "x 1 y\n", 6, &e), -1);
	assert_int_equal(runtime_policy_eval_learned_count(ev), 1);

	/* The same key into a keyring the policy does not list: a failure, nothing learned. */
	runtime_policy_eval_reset(ev);
	assert_int_equal(judge(ev, L1 "ima-buf sha256:%s .evm %s", &f, dhex, hex), -1);
	assert_string_equal(f.event_id, "ima.validation.ima-ng.not_in_allowlist");
	assert_non_null(strstr(f.reason, "keyrings"));
	assert_int_equal(runtime_policy_eval_learned_count(ev), 0);
	/* An ignored keyring passes without being learned. */
	assert_int_equal(judge(ev, L1 "ima-buf sha256:%s .builtin_trusted_keys %s", &f, dhex, hex),
	                 0);
	assert_int_equal(runtime_policy_eval_learned_count(ev), 0);
	/* Other buffers are judged by "ima-buf". */
	assert_int_equal(judge(ev, L1 "ima-buf sha256:" DIG_A " kexec-cmdline 6162", &f), 0);
	assert_int_equal(judge(ev, L1 "ima-buf sha256:" DIG_B " kexec-cmdline 6162", &f), -1);
	assert_string_equal(f.event_id, "ima.validation.ima-ng.runtime_policy_hash");
	assert_int_equal(judge(ev, L1 "ima-buf sha256:" DIG_B " dm_table 6162", &f), -1);
	assert_non_null(strstr(f.reason, "ima-buf"));

	/* In a replay transaction (judge's entries are entry 42) a key is usable at once but
	 * kept only if the quote covers its entry: a failed replay, or a quote that covers
	 * entries up to 41 only, takes it back; covering entry 42 keeps it. */
	runtime_policy_eval_reset(ev);
	runtime_policy_eval_begin(ev);
	assert_int_equal(judge(ev, L1 "ima-buf sha256:%s .ima %s", &f, dhex, hex), 0);
	assert_int_equal(judge(ev, L1 "ima-sig sha256:" DIG_B " /usr/bin/vendor %s", &f, sig), 0);
	runtime_policy_eval_commit(ev, 0);
	assert_int_equal(runtime_policy_eval_learned_count(ev), 0);
	assert_int_equal(judge(ev, L1 "ima-sig sha256:" DIG_B " /usr/bin/vendor %s", &f, sig), -1);
	runtime_policy_eval_begin(ev);
	assert_int_equal(judge(ev, L1 "ima-buf sha256:%s .ima %s", &f, dhex, hex), 0);
	runtime_policy_eval_commit(ev, 42);
	assert_int_equal(runtime_policy_eval_learned_count(ev), 0);
	runtime_policy_eval_begin(ev);
	assert_int_equal(judge(ev, L1 "ima-buf sha256:%s .ima %s", &f, dhex, hex), 0);
	runtime_policy_eval_commit(ev, 43);
	assert_int_equal(runtime_policy_eval_learned_count(ev), 1);
	/* A key replaced by an uncovered entry gets its old content back. */
	runtime_policy_eval_keys_export(ev, &keys);
	runtime_policy_eval_begin(ev);
	assert_int_equal(judge(ev, L1 "ima-buf sha256:%s .ima %s", &f, dhex, hex), 0);
	runtime_policy_eval_commit(ev, 0);
	assert_int_equal(runtime_policy_eval_learned_count(ev), 1);
	{
		buf_t again = BUF_INIT;
		runtime_policy_eval_keys_export(ev, &again);
		assert_int_equal(again.len, keys.len);
		assert_memory_equal(again.data, keys.data, keys.len);
		buf_free(&again);
	}
	assert_int_equal(judge(ev, L1 "ima-sig sha256:" DIG_B " /usr/bin/vendor %s", &f, sig), 0);

	runtime_policy_eval_free(ev);
	runtime_policy_unref(p);
	buf_free(&keys);
	free(hex);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

/* ---- strict parsing ---- */

static void test_parse_rejects(void **state)
{
	static const char *bad[] = {
	    "",
	    "[]",
	    "{",
	    "{\"meta\": {\"version\": 1, \"generator\": 3}}",
	};
	static const struct {
		const char *digests, *excludes, *extra;
	} cases[] = {
	    {"\"/a\": []", "", NULL},
	    {"\"/a\": [\"" DIG_A "\", 5]", "", NULL},
	    {"\"/a\": \"" DIG_A "\"", "", NULL},
	    {"\"/a\": [\"96D7FAE8ADB7286A419A88F78C13D35FB782D63DF654B7DB56F154765698B754\"]", "",
	     NULL},
	    {"\"/a\": [\"96d7fae8adb7286a419a88f78c13d35fb782d63df654b7db56f15476569\"]", "", NULL},
	    {"\"/a\": [\"1234\"]", "", NULL},
	    {"\"/a\": [\"" DIG_A "\"], \"/a\": [\"" DIG_A "\"]", "", NULL},
	    {"", "\"(unclosed\"", NULL},
	    {"", "5", NULL},
	    {"", "", ", \"unknown\": 1"},
	    {"", "", ", \"release\": 1"},
	};
	err_t e = {""};
	runtime_policy_t *p;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(runtime_policy_parse(bad[i], strlen(bad[i]), 0, &e));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		e.msg[0] = 0;
		p = policy(cases[i].digests, cases[i].excludes, cases[i].extra, &e);
		if (p != NULL)
			fail_msg("accepted bad policy %zu", i);
		assert_true(e.msg[0] != 0);
	}
	/* The error of a bad regex names it and the PCRE2 reason. */
	p = policy("", "\"/ok\", \"(unclosed\"", NULL, &e);
	assert_null(p);
	assert_non_null(strstr(e.msg, "excludes\"[1]"));
	/* Wrong types inside meta and ima. */
	{
		static const char *const docs[] = {
		    "{\"meta\": {\"version\": \"1\", \"generator\": 3}, \"release\": 0, "
		    "\"digests\": {}, "
		    "\"excludes\": [], \"keyrings\": {}, \"ima\": {\"ignored_keyrings\": [], "
		    "\"log_hash_alg\": \"sha1\", \"dm_policy\": null}, \"ima-buf\": {}, "
		    "\"verification-keys\": \"\"}",
		    "{\"meta\": {\"version\": 1, \"generator\": 9}, \"release\": 0, \"digests\": "
		    "{}, "
		    "\"excludes\": [], \"keyrings\": {}, \"ima\": {\"ignored_keyrings\": [], "
		    "\"log_hash_alg\": \"sha1\", \"dm_policy\": null}, \"ima-buf\": {}, "
		    "\"verification-keys\": \"\"}",
		    "{\"meta\": {\"version\": 1, \"generator\": 3}, \"release\": 0, \"digests\": "
		    "{}, "
		    "\"excludes\": [], \"keyrings\": {}, \"ima\": {\"ignored_keyrings\": [], "
		    "\"log_hash_alg\": \"md5\", \"dm_policy\": null}, \"ima-buf\": {}, "
		    "\"verification-keys\": \"\"}",
		    "{\"meta\": {\"version\": 1, \"generator\": 3}, \"release\": 0, \"digests\": "
		    "{}, "
		    "\"excludes\": [], \"keyrings\": {}, \"ima\": {\"ignored_keyrings\": [], "
		    "\"log_hash_alg\": \"sha1\", \"dm_policy\": {}}, \"ima-buf\": {}, "
		    "\"verification-keys\": \"\"}",
		    "{\"meta\": {\"version\": 1, \"generator\": 3}, \"release\": 0, \"digests\": "
		    "{}, "
		    "\"excludes\": [], \"keyrings\": {}, \"ima\": {\"ignored_keyrings\": [], "
		    "\"log_hash_alg\": \"sha1\", \"dm_policy\": null}, \"ima-buf\": {}, "
		    "\"verification-keys\": \"{\\\"keyids\\\": [], \\\"pubkeys\\\": "
		    "[\\\"AAAA\\\"]}\"}",
		    "{\"meta\": {\"version\": 1, \"generator\": 3}, \"release\": 0, \"digests\": "
		    "{}, "
		    "\"excludes\": [], \"keyrings\": {}, \"ima\": {\"ignored_keyrings\": [], "
		    "\"log_hash_alg\": \"sha1\", \"dm_policy\": null}, \"ima-buf\": {}, "
		    "\"verification-keys\": \"not json\"}",
		};
		for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
			if (runtime_policy_parse(docs[i], strlen(docs[i]), 0, &e) != NULL)
				fail_msg("accepted bad document %zu", i);
	}
	/* The size limit is enforced before parsing. */
	p = policy("", "", NULL, &e);
	assert_non_null(p);
	runtime_policy_unref(p);
	{
		const char *j = "{\"meta\": {}}";
		assert_null(runtime_policy_parse(j, strlen(j), 5, &e));
		assert_non_null(strstr(e.msg, "limit"));
	}
}

static void test_dsse_and_hash(void **state)
{
	static const char inner[] =
	    "{\"meta\": {\"version\": 1, \"generator\": 3}, \"release\": 0, "
	    "\"digests\": {\"/a\": [\"" DIG_A "\"]}, \"excludes\": [], \"keyrings\": {}, "
	    "\"ima\": {\"ignored_keyrings\": [], \"log_hash_alg\": \"sha256\", \"dm_policy\": "
	    "null}, "
	    "\"ima-buf\": {}, \"verification-keys\": \"\"}";
	buf_t b64 = BUF_INIT, env = BUF_INIT;
	runtime_policy_t *p;
	err_t e = {""};
	uint8_t md[32];
	char hx[65];
	(void)state;

	base64_encode(&b64, inner, strlen(inner));
	buf_appendf(&env,
	            "{\"payloadType\": \"application/vnd.keylime+json\", \"payload\": \"%s\", "
	            "\"signatures\": []}",
	            (char *)b64.data);
	p = runtime_policy_parse((char *)env.data, env.len, 0, &e);
	if (p == NULL)
		fail_msg("%s", e.msg);
	assert_int_equal(runtime_policy_digest_count(p), 1);
	assert_int_equal(runtime_policy_log_hash_alg(p), TPM2_ALG_SHA256_ID);
	EVP_Digest(env.data, env.len, md, NULL, EVP_sha256(), NULL);
	hexs(hx, md, 32);
	assert_string_equal(runtime_policy_sha256(p), hx);
	runtime_policy_unref(p);
	buf_free(&b64);
	buf_free(&env);
}

/* ---- generated policies against real lists ---- */

static void replay_with(const char *list, const char *policy_json, size_t plen, ima_status_t want,
                        uint64_t want_entries)
{
	buf_t b = BUF_INIT;
	err_t e = {""};
	runtime_policy_t *p = runtime_policy_parse(policy_json, plen, 0, &e);
	runtime_policy_eval_t *ev;
	ima_state_t *st = ima_state_new(TPM2_ALG_SHA256_ID);
	ima_replay_result_t res;

	if (p == NULL)
		fail_msg("%s", e.msg);
	load(&b, list);
	ev = runtime_policy_eval_new(p);
	if (ima_replay(st, (char *)b.data, b.len, 0, NULL, 0, runtime_policy_log_hash_alg(p),
	               runtime_policy_check_entry, ev, &res) != want)
		fail_msg("%s: %s (%s)", list, res.failure.reason, res.failure.event_id);
	if (want == IMA_OK)
		assert_int_equal(res.entries, want_entries);
	runtime_policy_eval_free(ev);
	runtime_policy_unref(p);
	ima_state_free(st);
	buf_free(&b);
}

static void test_generated_policies_pass(void **state)
{
	/* keylime-ima-log-sha1's boot_aggregate is a violation entry (all-zero template
	 * hash): it is skipped when generating and passes when judged. */
	static const struct {
		const char *list;
		uint64_t entries;
		int has_boot_aggregate;
	} lists[] = {{TESTDATA "ascii_runtime_measurements-826", 826, 1},
	             {TESTDATA "keylime-ima-log-sha1", 2, 0},
	             {TESTDATA "keylime-ima-log-sha256", 2, 1}};
	(void)state;

	for (size_t i = 0; i < 3; i++) {
		buf_t b = BUF_INIT, out = BUF_INIT;
		err_t e = {""};
		runtime_policy_gen_opts_t o;

		memset(&o, 0, sizeof(o));
		load(&b, lists[i].list);
		if (runtime_policy_generate((char *)b.data, b.len, &o, &out, &e) < 0)
			fail_msg("%s", e.msg);
		assert_int_equal(strstr((char *)out.data, "\"boot_aggregate\"") != NULL,
		                 lists[i].has_boot_aggregate);
		replay_with(lists[i].list, (char *)out.data, out.len, IMA_OK, lists[i].entries);
		buf_free(&b);
		buf_free(&out);
	}
}

static void test_generate_options(void **state)
{
	buf_t b = BUF_INIT, out = BUF_INIT, t = BUF_INIT;
	err_t e = {""};
	runtime_policy_gen_opts_t o;
	const char *excl[] = {"/usr/lib/.*", "/etc/.*", "/usr/lib/.*"};
	const char *badre[] = {"(x"};
	runtime_policy_t *p;
	(void)state;

	load(&b, TESTDATA "ascii_runtime_measurements-826");
	memset(&o, 0, sizeof(o));
	o.excludes = excl;
	o.n_excludes = 3;
	o.timestamp = "2024-01-01";
	assert_int_equal(runtime_policy_generate((char *)b.data, b.len, &o, &out, &e), 0);
	p = runtime_policy_parse((char *)out.data, out.len, 0, &e);
	assert_non_null(p);
	assert_int_equal(runtime_policy_exclude_count(p), 2); /* sorted, unique */
	assert_non_null(strstr((char *)out.data, "\"timestamp\": \"2024-01-01\""));
	runtime_policy_unref(p);
	/* Deterministic output for the same input. */
	assert_int_equal(runtime_policy_generate((char *)b.data, b.len, &o, &t, &e), 0);
	assert_int_equal(t.len, out.len);
	assert_memory_equal(t.data, out.data, t.len);
	/* A bad regex is refused. */
	o.excludes = badre;
	o.n_excludes = 1;
	assert_int_equal(runtime_policy_generate((char *)b.data, b.len, &o, &out, &e), -1);
	/* A tampered golden list is refused with its line number. */
	o.n_excludes = 0;
	buf_set(&t, b.data, b.len);
	t.data[200] ^= 1;
	assert_int_equal(runtime_policy_generate((char *)t.data, t.len, &o, &out, &e), -1);
	if (strstr(e.msg, "entry 1 (") == NULL)
		fail_msg("no entry number in \"%s\"", e.msg);

	/* The 826 list's policy without /init: the replay fails on entry 1. */
	buf_free(&out);
	memset(&o, 0, sizeof(o));
	assert_int_equal(runtime_policy_generate((char *)b.data, b.len, &o, &out, &e), 0);
	{
		char *s = strstr((char *)out.data, "\"/init\"");
		assert_non_null(s);
		s[2] = 'X';
		replay_with(TESTDATA "ascii_runtime_measurements-826", (char *)out.data, out.len,
		            IMA_ERR_POLICY, 0);
	}
	buf_free(&b);
	buf_free(&out);
	buf_free(&t);
}

/* An entry for another PCR (the PCR column is outside the template hash, so nothing else
 * gives it away): the verifier's replay and the generator refuse the list alike, with the
 * same words, instead of the generator allowlisting a digest no quote can vouch for. */
static void test_generate_pcr_rule(void **state)
{
	buf_t b = BUF_INIT, out = BUF_INIT;
	err_t e = {""};
	ima_state_t *st = ima_state_new(TPM2_ALG_SHA256_ID);
	ima_replay_result_t res;
	char *nl;
	(void)state;

	load(&b, TESTDATA "keylime-ima-log-sha256");
	nl = memchr(b.data, '\n', b.len);
	assert_non_null(nl);
	assert_memory_equal(nl + 1, "10 ", 3);
	nl[2] = '1'; /* the second entry now claims PCR 11 */
	assert_int_equal(runtime_policy_generate((char *)b.data, b.len, NULL, &out, &e), -1);
	assert_int_equal(
	    ima_replay(st, (char *)b.data, b.len, 0, NULL, 0, TPM2_ALG_SHA1_ID, NULL, NULL, &res),
	    IMA_ERR_PCR_COLUMN);
	assert_string_equal(e.msg, res.failure.reason);
	if (strstr(e.msg, "entry 1 (") == NULL || strstr(e.msg, "is for PCR 11, not 10") == NULL)
		fail_msg("reason \"%s\"", e.msg);
	assert_int_equal(out.len, 0);
	ima_state_free(st);
	buf_free(&b);
	buf_free(&out);
}

/* A path with an ESC sequence in it (IMA logs what the file system holds): every failure
 * reason that names it, the policy's and the replay's, shows it escaped and carries no
 * byte a terminal would act on. */
static void test_escaped_paths(void **state)
{
	err_t e = {""};
	runtime_policy_t *p = policy("\"/usr/bin/a\": [\"" DIG_A "\"]", "", NULL, &e);
	runtime_policy_eval_t *ev;
	ima_failure_t f;
	ima_state_t *st = ima_state_new(TPM2_ALG_SHA1_ID);
	ima_replay_result_t res;
	char line[512];
	(void)state;

	assert_non_null(p);
	ev = runtime_policy_eval_new(p);
	assert_int_equal(judge(ev, L1 "ima-ng sha256:" DIG_A " /tmp/\x1b]0;owned\x07\x1b[2Jx", &f),
	                 -1);
	if (strstr(f.reason, "/tmp/\\x1b]0;owned\\x07\\x1b[2Jx is not in") == NULL)
		fail_msg("reason \"%s\"", f.reason);
	for (const char *c = f.reason; *c; c++)
		assert_true(*c >= 0x20 && *c < 0x7f);
	/* The same path in an entry for PCR 11: the replay's own reason. */
	snprintf(line, sizeof(line),
	         "11 0000000000000000000000000000000000000000 ima-ng sha256:" DIG_A
	         " /tmp/\x1b[2Jy\n");
	assert_int_equal(
	    ima_replay(st, line, strlen(line), 0, NULL, 0, TPM2_ALG_SHA1_ID, NULL, NULL, &res),
	    IMA_ERR_PCR_COLUMN);
	if (strstr(res.failure.reason, "entry 0 (/tmp/\\x1b[2Jy) is for PCR 11") == NULL)
		fail_msg("reason \"%s\"", res.failure.reason);
	ima_state_free(st);
	runtime_policy_eval_free(ev);
	runtime_policy_unref(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_digests_rules),
	    cmocka_unit_test(test_boot_aggregate),
	    cmocka_unit_test(test_ima_sig),
	    cmocka_unit_test(test_ima_buf_keyrings),
	    cmocka_unit_test(test_parse_rejects),
	    cmocka_unit_test(test_dsse_and_hash),
	    cmocka_unit_test(test_generated_policies_pass),
	    cmocka_unit_test(test_generate_options),
	    cmocka_unit_test(test_generate_pcr_rule),
	    cmocka_unit_test(test_escaped_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for common/ekcert: chains made here with OpenSSL (root -> intermediate -> an
 * EK-like leaf with an empty subject, a critical TPM SAN and an unknown critical
 * extension), the failure cases an operator must see named (missing intermediate,
 * expired, wrong CA, non-CA issuer), the ekcert text forms, and the real certificates
 * swtpm_setup --create-ek-cert made with swtpm_localca; the TCG EK Credential Profile
 * refusals (a CA leaf, keyUsage without keyEncipherment or keyAgreement, an
 * extendedKeyUsage without tcg-kp-EKCertificate, a malformed extension), each with its
 * own reason, and real EK certificates of two vendors (STMicroelectronics, Google's
 * vTPM) with their published CA chains passing (test/unit/data/ekcert/vendor/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/base/buf.h"
#include "common/crypto/ekcert.h"
#include "common/crypto/ekcert_priv.h"

int main(void);

#define DATA "test/unit/data/"

enum {
	F_CA = 1,           /* basicConstraints CA:TRUE, keyCertSign */
	F_TPM_SAN = 2,      /* empty subject, critical SAN directoryName of TPM attributes */
	F_UNKNOWN_CRIT = 4, /* a critical extension OpenSSL does not know */
};

#define DAY (24L * 3600)

static EVP_PKEY *mkkey(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(k);
	return k;
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

static void add_tpm_san(X509 *x)
{
	static const char *const attr[][2] = {{"2.23.133.2.1", "id:00001014"},
	                                      {"2.23.133.2.2", "swtpm"},
	                                      {"2.23.133.2.3", "id:20191023"}};
	X509_NAME *dn = X509_NAME_new();
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *gn = GENERAL_NAME_new();

	for (int i = 0; i < 3; i++) {
		ASN1_OBJECT *o = OBJ_txt2obj(attr[i][0], 1);
		assert_int_equal(X509_NAME_add_entry_by_OBJ(dn, o, MBSTRING_UTF8,
		                                            (const unsigned char *)attr[i][1], -1,
		                                            -1, 0),
		                 1);
		ASN1_OBJECT_free(o);
	}
	GENERAL_NAME_set0_value(gn, GEN_DIRNAME, dn);
	sk_GENERAL_NAME_push(gens, gn);
	assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 1, X509V3_ADD_DEFAULT),
	                 1);
	GENERAL_NAMES_free(gens);
}

static void add_unknown_critical(X509 *x)
{
	static const unsigned char der_null[] = {0x05, 0x00};
	ASN1_OBJECT *o = OBJ_txt2obj("1.3.6.1.4.1.55555.1.1", 1);
	ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext;

	ASN1_OCTET_STRING_set(v, der_null, 2);
	ext = X509_EXTENSION_create_by_OBJ(NULL, o, 1, v);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(v);
	ASN1_OBJECT_free(o);
}

/* A certificate for key, issued by issuer/ikey (self-signed when issuer is NULL), valid
 * from now + nb to now + na seconds. */
static X509 *mkcert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey, long nb, long na,
                    int flags)
{
	static long serial = 1;
	X509 *x = X509_new();

	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), nb);
	X509_gmtime_adj(X509_getm_notAfter(x), na);
	if (!(flags & F_TPM_SAN))
		X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
		                           (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x));
	X509_set_pubkey(x, key);
	if (flags & F_CA) {
		add_ext(x, issuer ? issuer : x, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, issuer ? issuer : x, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(x, issuer ? issuer : x, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(x, issuer ? issuer : x, NID_key_usage, "critical,keyAgreement");
	}
	add_ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash");
	if (issuer)
		add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
	if (flags & F_TPM_SAN)
		add_tpm_san(x);
	if (flags & F_UNKNOWN_CRIT)
		add_unknown_critical(x);
	assert_true(X509_sign(x, issuer ? ikey : key, EVP_sha256()) > 0);
	return x;
}

/* The world the tests share: two roots, an intermediate under root 1, EK leaves. */
typedef struct world {
	char dir[64];                 /* temp dir for CA stores */
	EVP_PKEY *rk, *rk2, *ik, *lk; /* keys: root, other root, intermediate, leaf */
	X509 *root, *root2, *inter;   /* CA certificates */
	X509 *leaf;                   /* good EK-like leaf under inter */
} world_t;

static void write_pem(const char *dir, const char *file, X509 *const *certs, int n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < n; i++)
		assert_int_equal(PEM_write_X509(f, certs[i]), 1);
	fclose(f);
}

/* A CA store directory holding exactly these certificates. */
static ekca_t *store_of(world_t *w, const char *sub, X509 *const *certs, int n)
{
	char d[256];
	err_t e = {""};
	ekca_t *s;

	snprintf(d, sizeof(d), "%s/%s", w->dir, sub);
	assert_int_equal(mkdir(d, 0700), 0);
	write_pem(d, "ca.pem", certs, n);
	s = ekca_load_dir(d, &e);
	assert_non_null(s);
	assert_int_equal(ekca_count(s), n);
	return s;
}

static int setup(void **state)
{
	world_t *w = calloc(1, sizeof(*w));

	snprintf(w->dir, sizeof(w->dir), "/tmp/vigil-ekcert.XXXXXX");
	if (mkdtemp(w->dir) == NULL)
		return -1;
	w->rk = mkkey();
	w->rk2 = mkkey();
	w->ik = mkkey();
	w->lk = mkkey();
	w->root = mkcert("Test TPM Root CA", w->rk, NULL, NULL, -DAY, 3650 * DAY, F_CA);
	w->root2 = mkcert("Other Root CA", w->rk2, NULL, NULL, -DAY, 3650 * DAY, F_CA);
	w->inter = mkcert("Test TPM EK CA 1", w->ik, w->root, w->rk, -DAY, 3650 * DAY, F_CA);
	w->leaf = mkcert(NULL, w->lk, w->inter, w->ik, -DAY, 365 * DAY, F_TPM_SAN | F_UNKNOWN_CRIT);
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	world_t *w = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", w->dir);
	if (system(cmd) != 0)
		return -1;
	X509_free(w->root);
	X509_free(w->root2);
	X509_free(w->inter);
	X509_free(w->leaf);
	EVP_PKEY_free(w->rk);
	EVP_PKEY_free(w->rk2);
	EVP_PKEY_free(w->ik);
	EVP_PKEY_free(w->lk);
	free(w);
	return 0;
}

static STACK_OF(X509) * chain_of(X509 *a)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	if (a) {
		X509_up_ref(a);
		sk_X509_push(sk, a);
	}
	return sk;
}

static void expect_untrusted(ekca_t *s, X509 *leaf, STACK_OF(X509) * chain, const char *want)
{
	err_t e = {""};

	assert_int_equal(ekca_verify(s, leaf, chain, &e), -1);
	if (strstr(e.msg, want) == NULL)
		fail_msg("reason \"%s\" does not mention \"%s\"", e.msg, want);
}

static void test_good_chain(void **state)
{
	world_t *w = *state;
	err_t e = {""};
	STACK_OF(X509) *chain = chain_of(w->inter);
	ekca_t *s = store_of(w, "good", &w->root, 1);

	if (ekca_verify(s, w->leaf, chain, &e) != 0)
		fail_msg("%s", e.msg);
	/* A CA directory with only the intermediate also anchors the chain. */
	ekca_t *s2 = store_of(w, "inter-only", &w->inter, 1);
	if (ekca_verify(s2, w->leaf, NULL, &e) != 0)
		fail_msg("%s", e.msg);
	/* The intermediate in the store instead of in the chain. */
	X509 *both[] = {w->root, w->inter};
	ekca_t *s3 = store_of(w, "both", both, 2);
	if (ekca_verify(s3, w->leaf, NULL, &e) != 0)
		fail_msg("%s", e.msg);
	ekca_free(s);
	ekca_free(s2);
	ekca_free(s3);
	sk_X509_pop_free(chain, X509_free);
}

static void test_missing_intermediate(void **state)
{
	world_t *w = *state;
	ekca_t *s = store_of(w, "missing", &w->root, 1);
	STACK_OF(X509) *empty = chain_of(NULL);

	expect_untrusted(s, w->leaf, empty, "unable to get local issuer certificate");
	expect_untrusted(s, w->leaf, NULL, "depth 0");
	sk_X509_free(empty);
	ekca_free(s);
}

static void test_expired(void **state)
{
	world_t *w = *state;
	ekca_t *s = store_of(w, "expired", &w->root, 1);
	STACK_OF(X509) *chain = chain_of(w->inter);

	X509 *old = mkcert(NULL, w->lk, w->inter, w->ik, -10 * DAY, -DAY, F_TPM_SAN);
	expect_untrusted(s, old, chain, "certificate has expired");
	X509 *early = mkcert(NULL, w->lk, w->inter, w->ik, DAY, 10 * DAY, F_TPM_SAN);
	expect_untrusted(s, early, chain, "not yet valid");
	/* An expired intermediate: named, at depth 1. */
	X509 *old_ca = mkcert("Old EK CA", w->ik, w->root, w->rk, -10 * DAY, -DAY, F_CA);
	X509 *leaf2 = mkcert(NULL, w->lk, old_ca, w->ik, -DAY, DAY, F_TPM_SAN);
	STACK_OF(X509) *chain2 = chain_of(old_ca);
	expect_untrusted(s, leaf2, chain2,
	                 "certificate has expired (at depth 1, subject /CN=Old EK CA)");
	X509_free(old);
	X509_free(early);
	X509_free(old_ca);
	X509_free(leaf2);
	sk_X509_pop_free(chain, X509_free);
	sk_X509_pop_free(chain2, X509_free);
	ekca_free(s);
}

static void test_wrong_ca(void **state)
{
	world_t *w = *state;
	ekca_t *s = store_of(w, "wrong", &w->root2, 1);
	STACK_OF(X509) *chain = chain_of(w->inter);

	expect_untrusted(s, w->leaf, chain, "unable to get local issuer certificate");
	/* A root of the same name under another key is not the issuer. */
	X509 *fake_root = mkcert("Test TPM Root CA", w->rk2, NULL, NULL, -DAY, DAY, F_CA);
	ekca_t *s2 = store_of(w, "fake-root", &fake_root, 1);
	expect_untrusted(
	    s2, w->leaf, chain,
	    "unable to get local issuer certificate (at depth 1, subject /CN=Test TPM EK CA 1)");
	X509_free(fake_root);
	sk_X509_pop_free(chain, X509_free);
	ekca_free(s);
	ekca_free(s2);
}

/* Tolerance stops at the EK certificate: an unknown critical extension on a CA, or a
 * non-CA issuer, is refused. */
static void test_ca_strictness(void **state)
{
	world_t *w = *state;
	ekca_t *s = store_of(w, "strict", &w->root, 1);

	X509 *odd_ca = mkcert("Odd EK CA", w->ik, w->root, w->rk, -DAY, DAY, F_CA | F_UNKNOWN_CRIT);
	X509 *leaf = mkcert(NULL, w->lk, odd_ca, w->ik, -DAY, DAY, F_TPM_SAN);
	STACK_OF(X509) *chain = chain_of(odd_ca);
	expect_untrusted(s, leaf, chain, "unhandled critical extension");

	X509 *not_ca = mkcert("Not a CA", w->ik, w->root, w->rk, -DAY, DAY, 0);
	X509 *leaf2 = mkcert(NULL, w->lk, not_ca, w->ik, -DAY, DAY, F_TPM_SAN);
	STACK_OF(X509) *chain2 = chain_of(not_ca);
	expect_untrusted(s, leaf2, chain2, "invalid CA certificate");
	X509_free(odd_ca);
	X509_free(leaf);
	X509_free(not_ca);
	X509_free(leaf2);
	sk_X509_pop_free(chain, X509_free);
	sk_X509_pop_free(chain2, X509_free);
	ekca_free(s);
}

static void pem_of(buf_t *b, X509 *x)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p;
	long n;

	assert_int_equal(PEM_write_bio_X509(bio, x), 1);
	n = BIO_get_mem_data(bio, &p);
	buf_append(b, p, (size_t)n);
	BIO_free(bio);
}

static void b64der_of(buf_t *b, X509 *x, const char *extra)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	buf_t raw = BUF_INIT;

	buf_append(&raw, der, (size_t)n);
	if (extra)
		buf_append_str(&raw, extra);
	base64_encode(b, raw.data, raw.len);
	OPENSSL_free(der);
	buf_free(&raw);
}

static void parse_ok(const buf_t *text, X509 *want_leaf, int want_chain)
{
	X509 *leaf = NULL;
	STACK_OF(X509) *chain = NULL;
	err_t e = {""};

	if (ekcert_parse((const char *)text->data, text->len, &leaf, &chain, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(X509_cmp(leaf, want_leaf), 0);
	assert_int_equal(sk_X509_num(chain), want_chain);
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
}

static void parse_fails(const char *text, size_t len, const char *want)
{
	X509 *leaf = (X509 *)1;
	STACK_OF(X509) *chain = (STACK_OF(X509) *)1;
	err_t e = {""};

	assert_int_equal(ekcert_parse(text, len, &leaf, &chain, &e), -1);
	assert_null(leaf);
	assert_null(chain);
	if (strstr(e.msg, want) == NULL)
		fail_msg("reason \"%s\" does not mention \"%s\"", e.msg, want);
}

static void test_parse_forms(void **state)
{
	world_t *w = *state;
	buf_t t = BUF_INIT;
	char *b64 = NULL;

	/* EK certificate first, then its chain, as the Rust agent sends it. */
	pem_of(&t, w->leaf);
	pem_of(&t, w->inter);
	parse_ok(&t, w->leaf, 1);
	{
		X509 *leaf = NULL;
		STACK_OF(X509) *chain = NULL;
		err_t e = {""};
		ekca_t *s = store_of(w, "parsed", &w->root, 1);
		assert_int_equal(ekcert_parse((const char *)t.data, t.len, &leaf, &chain, &e), 0);
		assert_int_equal(ekca_verify(s, leaf, chain, &e), 0);
		X509_free(leaf);
		sk_X509_pop_free(chain, X509_free);
		ekca_free(s);
	}
	/* CRLF line ends and surrounding blank lines. */
	buf_reset(&t);
	pem_of(&t, w->leaf);
	buf_t c = BUF_INIT;
	buf_append_str(&c, "\r\n");
	for (size_t i = 0; i < t.len; i++)
		buf_append(&c, t.data[i] == '\n' ? "\r\n" : (const char *)&t.data[i],
		           t.data[i] == '\n' ? 2 : 1);
	buf_free(&t);
	t = c;
	parse_ok(&t, w->leaf, 0);
	/* base64 DER, with or without a trailing newline. */
	buf_reset(&t);
	b64der_of(&t, w->leaf, NULL);
	parse_ok(&t, w->leaf, 0);
	buf_append_str(&t, "\n");
	parse_ok(&t, w->leaf, 0);
	/* What the registrar hands out parses back to the same certificate. */
	assert_int_equal(ekcert_to_b64der(w->leaf, &b64), 0);
	assert_int_equal(strlen(b64), t.len - 1);
	assert_memory_equal(b64, t.data, t.len - 1);
	free(b64);
	buf_free(&t);
}

static void test_parse_rejects(void **state)
{
	world_t *w = *state;
	buf_t t = BUF_INIT, u = BUF_INIT;

	parse_fails("", 0, "empty");
	parse_fails(NULL, 0, "empty");
	parse_fails("not a certificate", 17, "neither PEM nor base64");
	parse_fails("AAAA", 4, "does not parse");
	/* Garbage inside the PEM armour. */
	const char *g = "-----BEGIN CERTIFICATE-----\nMIIB*garbage*\n-----END CERTIFICATE-----\n";
	parse_fails(g, strlen(g), "not valid base64");
	const char *h = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
	parse_fails(h, strlen(h), "does not parse");
	/* No END line. */
	pem_of(&t, w->leaf);
	parse_fails((const char *)t.data, t.len - 27, "no END line");
	/* Text between blocks, and a block of another type. */
	buf_set(&u, t.data, t.len);
	buf_append_str(&u, "hello\n");
	pem_of(&u, w->inter);
	parse_fails((const char *)u.data, u.len, "expected a PEM CERTIFICATE block");
	const char *k = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
	parse_fails(k, strlen(k), "expected a PEM CERTIFICATE block");
	/* An intermediate that does not parse poisons the whole text. */
	buf_set(&u, t.data, t.len);
	buf_append_str(&u, h);
	parse_fails((const char *)u.data, u.len, "certificate 1 does not parse");
	/* A NUL byte. */
	buf_set(&u, t.data, t.len);
	u.data[5] = 0;
	parse_fails((const char *)u.data, u.len, "NUL");
	/* DER followed by junk. */
	buf_reset(&u);
	b64der_of(&u, w->leaf, "xy");
	parse_fails((const char *)u.data, u.len, "2 trailing bytes");
	/* Too many intermediates. */
	buf_set(&u, t.data, t.len);
	for (int i = 0; i < 9; i++)
		pem_of(&u, w->inter);
	parse_fails((const char *)u.data, u.len, "more than 8");
	buf_free(&t);
	buf_free(&u);
}

static void test_load_dir(void **state)
{
	world_t *w = *state;
	char d[256], p[512];
	err_t e = {""};
	FILE *f;

	snprintf(d, sizeof(d), "%s/mixed", w->dir);
	assert_int_equal(mkdir(d, 0700), 0);
	write_pem(d, "root.pem", &w->root, 1);
	X509 *two[] = {w->root2, w->inter};
	write_pem(d, "bundle.crt", two, 2);
	write_pem(d, "ignored.txt", &w->root2, 1);
	snprintf(p, sizeof(p), "%s/garbage.cer", d);
	f = fopen(p, "w");
	fputs("-----BEGIN CERTIFICATE-----\nnonsense\n-----END CERTIFICATE-----\n", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/subdir.pem", d);
	assert_int_equal(mkdir(p, 0700), 0);
	ekca_t *s = ekca_load_dir(d, &e);
	assert_non_null(s);
	assert_int_equal(ekca_count(s), 3);
	ekca_free(s);
	ekca_free(NULL);
	assert_int_equal(ekca_count(NULL), 0);

	snprintf(p, sizeof(p), "%s/does-not-exist", w->dir);
	assert_null(ekca_load_dir(p, &e));
	assert_non_null(strstr(e.msg, "does-not-exist"));
	assert_int_equal(ekca_verify(NULL, w->leaf, NULL, &e), -1);
}

/* What swtpm_setup --create-ek-cert made (swtpm_localca: root -> "swtpm-localca" ->
 * EK certificate with an empty-ish subject and a critical TPM SAN). */
static void test_swtpm_certs(void **state)
{
	static const char *leaves[] = {DATA "ekcert/swtpm_ek_rsa.der",
	                               DATA "ekcert/swtpm_ek_ecc384.der"};
	world_t *w = *state;
	buf_t der = BUF_INIT, inter = BUF_INIT, root = BUF_INIT, t = BUF_INIT;
	char d[256];
	err_t e = {""};

	assert_int_equal(buf_read_file(&inter, DATA "ekcert/swtpm_localca.pem", 1 << 16), 0);
	assert_int_equal(buf_read_file(&root, DATA "ekcert/swtpm_localca_root.pem", 1 << 16), 0);
	snprintf(d, sizeof(d), "%s/swtpm", w->dir);
	assert_int_equal(mkdir(d, 0700), 0);
	snprintf(d, sizeof(d), "%s/swtpm/swtpm-localca-rootca.pem", w->dir);
	assert_int_equal(buf_write_file(d, root.data, root.len, 0644), 0);
	snprintf(d, sizeof(d), "%s/swtpm", w->dir);
	ekca_t *s = ekca_load_dir(d, &e);
	assert_non_null(s);
	assert_int_equal(ekca_count(s), 1);

	for (int i = 0; i < 2; i++) {
		X509 *leaf = NULL;
		STACK_OF(X509) *chain = NULL;
		assert_int_equal(buf_read_file(&der, leaves[i], 1 << 16), 0);
		/* base64 DER, as NV holds it; the intermediate comes from elsewhere. */
		buf_reset(&t);
		base64_encode(&t, der.data, der.len);
		assert_int_equal(ekcert_parse((const char *)t.data, t.len, &leaf, &chain, &e), 0);
		expect_untrusted(s, leaf, chain, "unable to get local issuer certificate");
		sk_X509_pop_free(chain, X509_free);
		X509_free(leaf);
		/* PEM: EK certificate, then the swtpm-localca intermediate. */
		buf_reset(&t);
		buf_append_str(&t, "-----BEGIN CERTIFICATE-----\n");
		base64_encode(&t, der.data, der.len);
		buf_append_str(&t, "\n-----END CERTIFICATE-----\n");
		buf_append(&t, inter.data, inter.len);
		assert_int_equal(ekcert_parse((const char *)t.data, t.len, &leaf, &chain, &e), 0);
		assert_int_equal(sk_X509_num(chain), 1);
		if (ekca_verify(s, leaf, chain, &e) != 0)
			fail_msg("%s: %s", leaves[i], e.msg);
		sk_X509_pop_free(chain, X509_free);
		X509_free(leaf);
	}
	ekca_free(s);
	buf_free(&der);
	buf_free(&inter);
	buf_free(&root);
	buf_free(&t);
}

static void put_len(buf_t *b, size_t n)
{
	uint8_t h[3] = {0x82, (uint8_t)(n >> 8), (uint8_t)n};

	assert_true(n >= 256 && n < 65536);
	buf_append(b, h, 3);
}

/* Some vendors' EK certificates are BER, not DER (e.g. a long-form length where DER
 * wants the short form). Their signature covers those exact bytes, so they must be kept
 * as received: such a certificate verifies and is handed out unchanged. */
static void test_ber_leaf(void **state)
{
	world_t *w = *state;
	X509 *good = mkcert(NULL, w->lk, w->inter, w->ik, -DAY, DAY, F_TPM_SAN);
	unsigned char *tbs = NULL, *alg = NULL;
	int tlen = i2d_re_X509_tbs(good, &tbs);
	int alen = i2d_X509_ALGOR(X509_get0_tbs_sigalg(good), &alg);
	buf_t ber = BUF_INIT, cert = BUF_INIT, t = BUF_INIT;
	uint8_t sig[128];
	size_t siglen = sizeof(sig);

	/* tbs = 30 82 LL LL | A0 03 02 01 02 | 02 01 NN ...: give the serial a long-form
	 * length (02 81 01 NN), which DER forbids. */
	assert_true(tlen > 300);
	assert_int_equal(tbs[0], 0x30);
	assert_int_equal(tbs[1], 0x82);
	assert_memory_equal(tbs + 4, "\xa0\x03\x02\x01\x02\x02\x01", 7);
	buf_append(&ber, "\x30", 1);
	put_len(&ber, (size_t)tlen - 4 + 1);
	buf_append(&ber, tbs + 4, 6);
	buf_append(&ber, "\x81\x01", 2);
	buf_append(&ber, tbs + 11, (size_t)tlen - 11);
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestSignInit(mc, NULL, EVP_sha256(), NULL, w->ik), 1);
	assert_int_equal(EVP_DigestSign(mc, sig, &siglen, ber.data, ber.len), 1);
	EVP_MD_CTX_free(mc);
	buf_append(&cert, "\x30", 1);
	put_len(&cert, ber.len + (size_t)alen + 3 + siglen);
	buf_append(&cert, ber.data, ber.len);
	buf_append(&cert, alg, (size_t)alen);
	uint8_t bs[3] = {0x03, (uint8_t)(siglen + 1), 0x00};
	buf_append(&cert, bs, 3);
	buf_append(&cert, sig, siglen);

	base64_encode(&t, cert.data, cert.len);
	X509 *leaf = NULL;
	STACK_OF(X509) *chain = NULL;
	err_t e = {""};
	char *out = NULL;
	ekca_t *s = store_of(w, "ber", &w->root, 1);
	if (ekcert_parse((const char *)t.data, t.len, &leaf, &chain, &e) != 0)
		fail_msg("%s", e.msg);
	sk_X509_push(chain, X509_dup(w->inter));
	if (ekca_verify(s, leaf, chain, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(ekcert_to_b64der(leaf, &out), 0);
	assert_string_equal(out, (const char *)t.data);
	free(out);
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	ekca_free(s);
	X509_free(good);
	OPENSSL_free(tbs);
	OPENSSL_free(alg);
	buf_free(&ber);
	buf_free(&cert);
	buf_free(&t);
}

/* An EK-like leaf for key under inter, with the given basicConstraints, keyUsage and
 * extendedKeyUsage values (NULL: extension absent). */
static X509 *mkleaf(world_t *w, EVP_PKEY *key, const char *bc, const char *ku, const char *eku)
{
	static long serial = 1000;
	X509 *x = X509_new();

	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), -DAY);
	X509_gmtime_adj(X509_getm_notAfter(x), DAY);
	X509_set_issuer_name(x, X509_get_subject_name(w->inter));
	X509_set_pubkey(x, key);
	if (bc)
		add_ext(x, w->inter, NID_basic_constraints, bc);
	if (ku)
		add_ext(x, w->inter, NID_key_usage, ku);
	if (eku)
		add_ext(x, w->inter, NID_ext_key_usage, eku);
	add_ext(x, w->inter, NID_authority_key_identifier, "keyid:always");
	add_tpm_san(x);
	assert_true(X509_sign(x, w->ik, EVP_sha256()) > 0);
	return x;
}

/* ekcert_check_profile and ekca_verify both refuse leaf with a reason containing want. */
static void expect_profile_refusal(ekca_t *s, world_t *w, X509 *leaf, const char *want)
{
	err_t e = {""};
	STACK_OF(X509) *chain = chain_of(w->inter);

	assert_int_equal(ekcert_check_profile(leaf, &e), -1);
	if (strstr(e.msg, want) == NULL || strncmp(e.msg, "EK certificate refused: ", 24) != 0)
		fail_msg("reason \"%s\" does not mention \"%s\"", e.msg, want);
	expect_untrusted(s, leaf, chain, want);
	sk_X509_pop_free(chain, X509_free);
	X509_free(leaf);
}

static void expect_profile_ok(ekca_t *s, world_t *w, X509 *leaf)
{
	err_t e = {""};
	STACK_OF(X509) *chain = chain_of(w->inter);

	if (ekcert_check_profile(leaf, &e) != 0 || ekca_verify(s, leaf, chain, &e) != 0)
		fail_msg("%s", e.msg);
	sk_X509_pop_free(chain, X509_free);
	X509_free(leaf);
}

/* The TCG EK Credential Profile on the EK certificate: each refusal with its reason, and
 * what the profile allows (keyUsage and extendedKeyUsage are optional). */
static void test_profile(void **state)
{
	world_t *w = *state;
	ekca_t *s = store_of(w, "profile", &w->root, 1);
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);

	assert_non_null(rsa);
	/* Refused. */
	expect_profile_refusal(s, w, mkleaf(w, w->lk, "critical,CA:TRUE", NULL, NULL),
	                       "it is a CA certificate (basicConstraints CA:TRUE)");
	expect_profile_refusal(
	    s, w,
	    mkleaf(w, rsa, "critical,CA:FALSE", "critical,digitalSignature,dataEncipherment", NULL),
	    "keyUsage does not allow keyEncipherment");
	expect_profile_refusal(s, w, mkleaf(w, rsa, NULL, "critical,keyAgreement", NULL),
	                       "keyUsage does not allow keyEncipherment");
	expect_profile_refusal(
	    s, w, mkleaf(w, w->lk, "critical,CA:FALSE", "critical,keyEncipherment", NULL),
	    "keyUsage does not allow keyAgreement, which an ECC EK certificate needs");
	expect_profile_refusal(
	    s, w,
	    mkleaf(w, w->lk, "critical,CA:FALSE", "critical,keyAgreement", "serverAuth,clientAuth"),
	    "extendedKeyUsage does not contain tcg-kp-EKCertificate (2.23.133.8.1)");
	/* The same extension twice: OpenSSL flags the certificate invalid. */
	X509 *twice = mkleaf(w, w->lk, "critical,CA:FALSE", "critical,keyAgreement", NULL);
	add_ext(twice, w->inter, NID_basic_constraints, "critical,CA:FALSE");
	assert_true(X509_sign(twice, w->ik, EVP_sha256()) > 0);
	expect_profile_refusal(s, w, twice, "malformed or repeated");

	/* Accepted. */
	expect_profile_ok(s, w, mkleaf(w, w->lk, NULL, NULL, NULL));
	expect_profile_ok(
	    s, w, mkleaf(w, rsa, "critical,CA:FALSE", "critical,keyEncipherment", "2.23.133.8.1"));
	expect_profile_ok(s, w,
	                  mkleaf(w, w->lk, "critical,CA:FALSE",
	                         "critical,keyAgreement,digitalSignature",
	                         "serverAuth,2.23.133.8.1"));
	EVP_PKEY_free(rsa);
	ekca_free(s);
}

/* The chain is checked for X509_PURPOSE_ANY: a CA that carries only tcg-kp-EKCertificate
 * in its extendedKeyUsage (as Google's EK intermediate does) is fine, where a TLS purpose
 * would refuse it; CA constraints still hold (test_ca_strictness). */
static void test_explicit_purpose(void **state)
{
	world_t *w = *state;
	ekca_t *s = store_of(w, "purpose", &w->root, 1);
	X509 *ca = mkcert("EKU-only EK CA", w->ik, w->root, w->rk, -DAY, DAY, F_CA);
	X509 *leaf;
	STACK_OF(X509) * chain;
	err_t e = {""};

	add_ext(ca, w->root, NID_ext_key_usage, "2.23.133.8.1");
	assert_true(X509_sign(ca, w->rk, EVP_sha256()) > 0);
	chain = chain_of(ca);
	leaf = mkcert(NULL, w->lk, ca, w->ik, -DAY, DAY, F_TPM_SAN);
	if (ekca_verify(s, leaf, chain, &e) != 0)
		fail_msg("%s", e.msg);
	X509_free(leaf);
	X509_free(ca);
	sk_X509_pop_free(chain, X509_free);
	ekca_free(s);
}

/* Real EK certificates from two vendors, with their published intermediates and roots,
 * pass every check (at 2025-01-01, inside every validity period); without the
 * intermediate they are not trusted. */
static void test_vendor_certs(void **state)
{
	static const struct {
		const char *leaf;     /* DER EK certificate */
		const char *inter;    /* PEM intermediate the agent would send */
		const char *roots[2]; /* CA directory content */
	} v[] = {
	    {"stm_ek_rsa.der",
	     "stm_rsa_ek_int05.pem",
	     {"stm_rsa_ek_root.pem", "globalsign_tpm_root.pem"}},
	    {"stm_ek_ecc.der", "stm_ecc_int01.pem", {"stm_ecc_root01.pem", NULL}},
	    {"gce_ek_rsa.der", "gce_ek_intermediate_3.pem", {"gce_ek_root_1.pem", NULL}},
	    {"gce_ek_ecc.der", "gce_ek_intermediate_3.pem", {"gce_ek_root_1.pem", NULL}},
	};
	world_t *w = *state;
	char d[256], p[512];
	buf_t der = BUF_INIT, inter = BUF_INIT, ca = BUF_INIT, t = BUF_INIT;
	err_t e = {""};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		X509 *leaf = NULL;
		STACK_OF(X509) *chain = NULL;
		snprintf(d, sizeof(d), "%s/vendor%zu", w->dir, i);
		assert_int_equal(mkdir(d, 0700), 0);
		for (int r = 0; r < 2 && v[i].roots[r]; r++) {
			snprintf(p, sizeof(p), DATA "ekcert/vendor/%s", v[i].roots[r]);
			assert_int_equal(buf_read_file(&ca, p, 1 << 16), 0);
			snprintf(p, sizeof(p), "%s/%s", d, v[i].roots[r]);
			assert_int_equal(buf_write_file(p, ca.data, ca.len, 0644), 0);
		}
		ekca_t *s = ekca_load_dir(d, &e);
		assert_non_null(s);
		ekca_set_time(s, 1735689600); /* 2025-01-01 */
		snprintf(p, sizeof(p), DATA "ekcert/vendor/%s", v[i].leaf);
		assert_int_equal(buf_read_file(&der, p, 1 << 16), 0);
		snprintf(p, sizeof(p), DATA "ekcert/vendor/%s", v[i].inter);
		assert_int_equal(buf_read_file(&inter, p, 1 << 16), 0);
		/* The EK certificate alone (base64 DER): the vendor intermediate is missing. */
		buf_reset(&t);
		base64_encode(&t, der.data, der.len);
		assert_int_equal(ekcert_parse((const char *)t.data, t.len, &leaf, &chain, &e), 0);
		if (ekcert_check_profile(leaf, &e) != 0)
			fail_msg("%s: %s", v[i].leaf, e.msg);
		expect_untrusted(s, leaf, chain, "unable to get local issuer certificate");
		X509_free(leaf);
		sk_X509_pop_free(chain, X509_free);
		/* As an agent sends it: EK certificate, then the intermediate. */
		buf_reset(&t);
		buf_append_str(&t, "-----BEGIN CERTIFICATE-----\n");
		base64_encode(&t, der.data, der.len);
		buf_append_str(&t, "\n-----END CERTIFICATE-----\n");
		buf_append(&t, inter.data, inter.len);
		assert_int_equal(ekcert_parse((const char *)t.data, t.len, &leaf, &chain, &e), 0);
		if (ekca_verify(s, leaf, chain, &e) != 0)
			fail_msg("%s: %s", v[i].leaf, e.msg);
		X509_free(leaf);
		sk_X509_pop_free(chain, X509_free);
		ekca_free(s);
	}
	buf_free(&der);
	buf_free(&inter);
	buf_free(&ca);
	buf_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_chain),    cmocka_unit_test(test_missing_intermediate),
	    cmocka_unit_test(test_expired),       cmocka_unit_test(test_wrong_ca),
	    cmocka_unit_test(test_ca_strictness), cmocka_unit_test(test_parse_forms),
	    cmocka_unit_test(test_parse_rejects), cmocka_unit_test(test_load_dir),
	    cmocka_unit_test(test_swtpm_certs),   cmocka_unit_test(test_ber_leaf),
	    cmocka_unit_test(test_profile),       cmocka_unit_test(test_explicit_purpose),
	    cmocka_unit_test(test_vendor_certs),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

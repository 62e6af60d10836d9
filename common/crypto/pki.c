/* pki: keys and certificates for vigil's own TLS, on OpenSSL 3's EVP and X509v3 APIs. */
#include "common/crypto/pki.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "common/base/log.h"
#include "common/base/statefile.h"

#define PKI_KEY_FILE_MAX  (64 * 1024)   /* a PEM private key is a few KiB at most */
#define PKI_CERT_FILE_MAX (1024 * 1024) /* a PEM bundle; only the first cert is used */
#define PKI_SERIAL_BYTES  16            /* 128 random bits, as CA/B asks for >= 64 */
#define PKI_BACKDATE_SECS 3600          /* notBefore = now - 1h, for clock skew */

EVP_PKEY *pki_key_new(pki_key_type_t t)
{
	EVP_PKEY *k = NULL;

	switch (t) {
	case PKI_KEY_EC256:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case PKI_KEY_RSA2048:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		break;
	}
	if (k == NULL) {
		log_ssl("key generation failed");
		fatalx("cannot generate a key");
	}
	return k;
}

/* Never prompt on a terminal for a passphrase: encrypted keys are refused instead. */
static int pki_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* Read a whole file for the parsers below; e gets a reason naming the path. */
static int pki_read(const char *path, size_t max, buf_t *out, err_t *e)
{
	if (buf_read_file(out, path, max) < 0) {
		if (errno == EFBIG)
			err_set(e, "%s: file too large (over %zu bytes)", path, max);
		else
			err_set(e, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

EVP_PKEY *pki_key_load(const char *path, err_t *e)
{
	buf_t b = BUF_INIT;
	BIO *bio = NULL;
	EVP_PKEY *k = NULL;

	if (pki_read(path, PKI_KEY_FILE_MAX, &b, e) < 0)
		goto out;
	bio = BIO_new_mem_buf(b.data, (int)b.len);
	if (bio == NULL)
		fatalx("out of memory");
	k = PEM_read_bio_PrivateKey(bio, NULL, pki_no_passphrase, NULL);
	if (k == NULL) {
		if (strstr((const char *)b.data, "ENCRYPTED") != NULL) {
			ERR_clear_error();
			err_set(e, "%s: encrypted private keys are not supported", path);
		} else {
			err_set_ssl(e, "%s: not a PEM private key", path);
		}
	}
out:
	BIO_free(bio);
	buf_free_secret(&b);
	return k;
}

int pki_key_save(EVP_PKEY *k, const char *path, err_t *e)
{
	BIO *bio;
	char *p;
	long n;
	int rv = -1;

	/* A secure-memory BIO wipes its buffer on growth and on free. */
	if ((bio = BIO_new(BIO_s_secmem())) == NULL)
		fatalx("out of memory");
	if (!PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL)) {
		err_set_ssl(e, "%s: cannot encode the private key", path);
		goto out;
	}
	n = BIO_get_mem_data(bio, &p);
	if (n <= 0) {
		err_set(e, "%s: empty key encoding", path);
		goto out;
	}
	if (statefile_write(path, p, (size_t)n, 0600, e) < 0)
		goto out;
	rv = 0;
out:
	BIO_free(bio);
	return rv;
}

/* Append what a memory BIO holds to out. */
static int pki_bio_append(BIO *bio, buf_t *out)
{
	char *p;
	long n = BIO_get_mem_data(bio, &p);

	if (n <= 0)
		return -1;
	buf_append(out, p, (size_t)n);
	return 0;
}

int pki_pubkey_pem(EVP_PKEY *k, buf_t *out)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int rv = -1;

	if (bio == NULL)
		fatalx("out of memory");
	if (!PEM_write_bio_PUBKEY(bio, k) || pki_bio_append(bio, out) < 0) {
		log_ssl("cannot encode a public key");
		goto out;
	}
	rv = 0;
out:
	BIO_free(bio);
	return rv;
}

/* One DNS label: letters, digits, hyphens; not starting or ending with a hyphen. */
static int pki_label_ok(const char *p, size_t n)
{
	if (n == 0 || n > 63 || p[0] == '-' || p[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return 0;
	}
	return 1;
}

int pki_san_check(const char *san, err_t *e)
{
	unsigned char ip[16];
	size_t len;
	const char *p, *dot;

	if (san == NULL || *san == '\0') {
		err_set(e, "empty subjectAltName");
		return -1;
	}
	if (inet_pton(AF_INET, san, ip) == 1 || inet_pton(AF_INET6, san, ip) == 1)
		return 0;
	len = strlen(san);
	if (len > 253) {
		err_set(e, "subjectAltName \"%.40s...\": DNS name longer than 253 characters", san);
		return -1;
	}
	for (p = san;; p = dot + 1) {
		dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (!pki_label_ok(p, n)) {
			err_set(e,
			        "subjectAltName \"%s\" is neither an IP address nor a DNS name "
			        "(labels of letters, digits and '-', separated by dots)",
			        san);
			return -1;
		}
		if (dot == NULL)
			break;
	}
	/* An all-numeric dotted name is a mistyped IP address, not a host name. */
	if (strspn(san, "0123456789.") == len) {
		err_set(e, "subjectAltName \"%s\" is not a valid IP address", san);
		return -1;
	}
	return 0;
}

/* Build the subjectAltName extension from sans; each entry already checked. */
static int pki_add_sans(X509 *x, const char *const *sans, err_t *e)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	int rv = -1;

	if (gens == NULL)
		fatalx("out of memory");
	for (size_t i = 0; sans[i] != NULL; i++) {
		unsigned char ip[16];
		int iplen = 0;
		GENERAL_NAME *g = GENERAL_NAME_new();

		if (g == NULL)
			fatalx("out of memory");
		if (inet_pton(AF_INET, sans[i], ip) == 1)
			iplen = 4;
		else if (inet_pton(AF_INET6, sans[i], ip) == 1)
			iplen = 16;
		if (iplen) {
			ASN1_OCTET_STRING *o = ASN1_OCTET_STRING_new();
			if (o == NULL || !ASN1_OCTET_STRING_set(o, ip, iplen))
				fatalx("out of memory");
			GENERAL_NAME_set0_value(g, GEN_IPADD, o);
		} else {
			ASN1_IA5STRING *s = ASN1_IA5STRING_new();
			if (s == NULL || !ASN1_STRING_set(s, sans[i], (int)strlen(sans[i])))
				fatalx("out of memory");
			GENERAL_NAME_set0_value(g, GEN_DNS, s);
		}
		if (!sk_GENERAL_NAME_push(gens, g))
			fatalx("out of memory");
	}
	if (!X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT)) {
		err_set_ssl(e, "cannot add subjectAltName");
		goto out;
	}
	rv = 0;
out:
	GENERAL_NAMES_free(gens);
	return rv;
}

/* Add one extension from OpenSSL's text form (our constant strings only). */
static int pki_add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value, err_t *e)
{
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);

	if (ext == NULL) {
		err_set_ssl(e, "cannot build %s = %s", OBJ_nid2sn(nid), value);
		return -1;
	}
	if (!X509_add_ext(x, ext, -1)) {
		X509_EXTENSION_free(ext);
		err_set_ssl(e, "cannot add %s", OBJ_nid2sn(nid));
		return -1;
	}
	X509_EXTENSION_free(ext);
	return 0;
}

/* A random positive 128-bit serial (RFC 5280 allows up to 20 octets; DER adds a leading
 * zero byte when the top bit is set). */
static int pki_set_serial(X509 *x, err_t *e)
{
	unsigned char r[PKI_SERIAL_BYTES];
	BIGNUM *bn = NULL;
	int rv = -1;

	for (;;) {
		if (RAND_bytes(r, sizeof(r)) != 1) {
			err_set_ssl(e, "no random bytes for the serial number");
			goto out;
		}
		if ((bn = BN_bin2bn(r, sizeof(r), bn)) == NULL)
			fatalx("out of memory");
		if (!BN_is_zero(bn))
			break;
	}
	if (BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL) {
		err_set_ssl(e, "cannot set the serial number");
		goto out;
	}
	rv = 0;
out:
	BN_free(bn);
	return rv;
}

/* The digest to sign with: SHA-256, or none for the EdDSA keys that hash internally. */
static const EVP_MD *pki_sign_md(EVP_PKEY *k)
{
	if (EVP_PKEY_is_a(k, "ED25519") || EVP_PKEY_is_a(k, "ED448"))
		return NULL;
	return EVP_sha256();
}

/* Check the arguments of pki_cert_issue; the issuer checks come after. */
static int pki_issue_args_ok(EVP_PKEY *key, const char *cn, const char *const *sans, int days,
                             err_t *e)
{
	size_t n = 0;

	if (key == NULL) {
		err_set(e, "no key to certify");
		return -1;
	}
	if (cn == NULL || cn[0] == '\0' || strlen(cn) > PKI_CN_MAX) {
		err_set(e, "the common name must be 1 to %d characters", PKI_CN_MAX);
		return -1;
	}
	for (const char *p = cn; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			err_set(e, "the common name contains a control character");
			return -1;
		}
	}
	if (days < 1 || days > PKI_DAYS_MAX) {
		err_set(e, "validity must be 1 to %d days, not %d", PKI_DAYS_MAX, days);
		return -1;
	}
	for (; sans != NULL && sans[n] != NULL; n++) {
		if (n >= PKI_SANS_MAX) {
			err_set(e, "more than %d subjectAltNames", PKI_SANS_MAX);
			return -1;
		}
		if (pki_san_check(sans[n], e) < 0)
			return -1;
	}
	return 0;
}

/* The issuer must be a usable CA for its key; say which rule it breaks. */
static int pki_issuer_ok(X509 *ca_cert, EVP_PKEY *ca_key, err_t *e)
{
	char subj[128];

	X509_NAME_oneline(X509_get_subject_name(ca_cert), subj, sizeof(subj));
	if (ca_key == NULL) {
		err_set(e, "no private key for CA \"%s\"", subj);
		return -1;
	}
	if (X509_check_ca(ca_cert) < 1) {
		err_set(e, "\"%s\" is not a CA certificate (no basicConstraints CA:TRUE)", subj);
		return -1;
	}
	if (X509_check_private_key(ca_cert, ca_key) != 1) {
		ERR_clear_error();
		err_set(e, "the CA key does not belong to the CA certificate \"%s\"", subj);
		return -1;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(ca_cert)) <= 0) {
		err_set(e, "CA certificate \"%s\" has expired", subj);
		return -1;
	}
	return 0;
}

X509 *pki_cert_issue(EVP_PKEY *key, const char *cn, const char *const *sans, int days,
                     pki_cert_kind_t kind, X509 *ca_cert, EVP_PKEY *ca_key, err_t *e)
{
	X509 *x = NULL, *ret = NULL;
	X509_NAME *name = NULL;
	X509V3_CTX ctx;
	EVP_PKEY *signer = ca_cert ? ca_key : key;
	int self = ca_cert == NULL, rsa;
	const char *eku = NULL, *ku;

	if (pki_issue_args_ok(key, cn, sans, days, e) < 0)
		return NULL;
	if (!self && pki_issuer_ok(ca_cert, ca_key, e) < 0)
		return NULL;
	if ((x = X509_new()) == NULL || (name = X509_NAME_new()) == NULL)
		fatalx("out of memory");
	if (!X509_set_version(x, X509_VERSION_3) || pki_set_serial(x, e) < 0)
		goto out;
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
	                                -1, 0)) {
		err_set_ssl(e, "bad common name \"%s\"", cn);
		goto out;
	}
	if (!X509_set_subject_name(x, name) ||
	    !X509_set_issuer_name(x, self ? name : X509_get_subject_name(ca_cert)) ||
	    !X509_set_pubkey(x, key)) {
		err_set_ssl(e, "cannot fill in the certificate");
		goto out;
	}
	if (X509_gmtime_adj(X509_getm_notBefore(x), -PKI_BACKDATE_SECS) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) == NULL) {
		err_set_ssl(e, "cannot set the validity period");
		goto out;
	}
	/* A certificate that outlives its CA cannot be verified anyway: end with the CA. */
	if (!self && ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(ca_cert)) > 0 &&
	    !X509_set1_notAfter(x, X509_get0_notAfter(ca_cert))) {
		err_set_ssl(e, "cannot set the validity period");
		goto out;
	}

	/* subjectKeyIdentifier goes in before authorityKeyIdentifier: a self-signed
	 * certificate's AKID is its own SKID; an issued one's is the CA's SKID, or the CA's
	 * issuer and serial when the CA has no SKID. */
	X509V3_set_ctx(&ctx, self ? x : ca_cert, x, NULL, NULL, 0);
	if (self && !X509V3_set_issuer_pkey(&ctx, key)) {
		err_set_ssl(e, "cannot set up the extensions");
		goto out;
	}
	rsa = EVP_PKEY_is_a(key, "RSA");
	ku = rsa ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature";
	switch (kind) {
	case PKI_CERT_CA:
		ku = "critical,keyCertSign,cRLSign";
		break;
	case PKI_CERT_SERVER:
		eku = self ? "serverAuth,clientAuth" : "serverAuth";
		break;
	case PKI_CERT_CLIENT:
		eku = "clientAuth";
		break;
	case PKI_CERT_BOTH:
		eku = "serverAuth,clientAuth";
		break;
	default:
		err_set(e, "unknown certificate kind %d", (int)kind);
		goto out;
	}
	if (pki_add_ext(x, &ctx, NID_basic_constraints,
	                kind == PKI_CERT_CA ? "critical,CA:TRUE,pathlen:0" : "critical,CA:FALSE",
	                e) < 0 ||
	    pki_add_ext(x, &ctx, NID_key_usage, ku, e) < 0 ||
	    (eku && pki_add_ext(x, &ctx, NID_ext_key_usage, eku, e) < 0) ||
	    pki_add_ext(x, &ctx, NID_subject_key_identifier, "hash", e) < 0 ||
	    pki_add_ext(x, &ctx, NID_authority_key_identifier,
	                self ? "keyid:always" : "keyid,issuer", e) < 0)
		goto out;
	if (sans != NULL && sans[0] != NULL && pki_add_sans(x, sans, e) < 0)
		goto out;
	if (X509_sign(x, signer, pki_sign_md(signer)) <= 0) {
		err_set_ssl(e, "cannot sign the certificate for \"%s\"", cn);
		goto out;
	}
	ret = x;
	x = NULL;
out:
	X509_NAME_free(name);
	X509_free(x);
	return ret;
}

X509 *pki_cert_load(const char *path, err_t *e)
{
	buf_t b = BUF_INIT;
	BIO *bio;
	X509 *x = NULL;

	if (pki_read(path, PKI_CERT_FILE_MAX, &b, e) < 0)
		goto out;
	if ((bio = BIO_new_mem_buf(b.data, (int)b.len)) == NULL)
		fatalx("out of memory");
	x = PEM_read_bio_X509(bio, NULL, pki_no_passphrase, NULL);
	if (x == NULL)
		err_set_ssl(e, "%s: no PEM certificate", path);
	BIO_free(bio);
out:
	buf_free(&b);
	return x;
}

int pki_cert_pem(X509 *c, buf_t *out)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int rv = -1;

	if (bio == NULL)
		fatalx("out of memory");
	if (!PEM_write_bio_X509(bio, c) || pki_bio_append(bio, out) < 0) {
		log_ssl("cannot encode a certificate");
		goto out;
	}
	rv = 0;
out:
	BIO_free(bio);
	return rv;
}

int pki_cert_save(X509 *c, const char *path, err_t *e)
{
	buf_t b = BUF_INIT;
	int rv = -1;

	if (pki_cert_pem(c, &b) < 0) {
		err_set(e, "%s: cannot encode the certificate", path);
		goto out;
	}
	if (statefile_write(path, b.data, b.len, 0644, e) < 0)
		goto out;
	rv = 0;
out:
	buf_free(&b);
	return rv;
}

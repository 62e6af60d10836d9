/* ekcert: EK certificate parsing and chain verification against a directory of TPM
 * vendor CAs. EK certificates are odd beasts: an empty subject with a critical SAN of TPM
 * attributes, and sometimes critical extensions OpenSSL does not know; both are accepted
 * on the EK certificate itself, never on the CAs above it. */
#include "common/crypto/ekcert.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "common/base/buf.h"
#include "common/crypto/ekcert_priv.h"
#include "common/base/log.h"
#include "common/base/xmalloc.h"

#define EKCERT_TEXT_MAX  (256 * 1024) /* a whole chain of PEM certificates */
#define EKCERT_DER_MAX   (16 * 1024)  /* one certificate */
#define EKCERT_CHAIN_MAX 8            /* intermediates an agent may send */
#define CA_FILE_MAX      (1024 * 1024)

struct ekca {
	X509_STORE *store; /* trusted roots and intermediates */
	int count;         /* certificates added */
	time_t at;         /* verification time for tests (ekca_set_time), 0: now */
};

/* tcg-kp-EKCertificate, the extendedKeyUsage purpose of an EK certificate (TCG EK
 * Credential Profile 2.0, section 3.2.16). */
#define TCG_KP_EK_CERTIFICATE "2.23.133.8.1"

static const char PEM_BEGIN[] = "-----BEGIN CERTIFICATE-----";
static const char PEM_END[] = "-----END CERTIFICATE-----";

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* One DER certificate, which must be exactly len bytes. */
static X509 *der_to_x509(const uint8_t *der, size_t len, int index, err_t *e)
{
	const unsigned char *p = der;
	X509 *x;

	if (len == 0 || len > EKCERT_DER_MAX) {
		err_set(e, "certificate %d is %zu bytes", index, len);
		return NULL;
	}
	/* d2i_X509 keeps the original encoding of the signed part, so a vendor
	 * certificate that is BER rather than strict DER still verifies. */
	x = d2i_X509(NULL, &p, (long)len);
	if (x == NULL) {
		err_set_ssl(e, "certificate %d does not parse", index);
		return NULL;
	}
	if ((size_t)(p - der) != len) {
		err_set(e, "certificate %d has %zu trailing bytes", index, len - (size_t)(p - der));
		X509_free(x);
		return NULL;
	}
	return x;
}

/* Find s (a C string) in [p, end). */
static const char *find(const char *p, const char *end, const char *s)
{
	size_t n = strlen(s);

	for (; (size_t)(end - p) >= n; p++)
		if (memcmp(p, s, n) == 0)
			return p;
	return NULL;
}

/* PEM blocks, only CERTIFICATE ones, separated by whitespace and nothing else. */
static int parse_pem(const char *text, size_t len, X509 **leaf, STACK_OF(X509) * chain, err_t *e)
{
	const char *p = text, *end = text + len;
	buf_t b64 = BUF_INIT, der = BUF_INIT;
	int n = 0, rv = -1;

	for (;;) {
		while (p < end && is_space(*p))
			p++;
		if (p == end)
			break;
		if ((size_t)(end - p) < sizeof(PEM_BEGIN) - 1 ||
		    memcmp(p, PEM_BEGIN, sizeof(PEM_BEGIN) - 1) != 0) {
			err_set(e, "ekcert: expected a PEM CERTIFICATE block at offset %zu",
			        (size_t)(p - text));
			goto out;
		}
		p += sizeof(PEM_BEGIN) - 1;
		const char *stop = find(p, end, PEM_END);
		if (stop == NULL) {
			err_set(e, "ekcert: PEM block %d has no END line", n);
			goto out;
		}
		/* The body is base64 in lines; drop the line breaks, then decode strictly. */
		buf_reset(&b64);
		for (const char *q = p; q < stop; q++)
			if (!is_space(*q))
				buf_append(&b64, q, 1);
		buf_reset(&der);
		if (b64.len == 0 || base64_decode(&der, (const char *)b64.data, b64.len) < 0) {
			err_set(e, "ekcert: PEM block %d is not valid base64", n);
			goto out;
		}
		X509 *x = der_to_x509(der.data, der.len, n, e);
		if (x == NULL)
			goto out;
		if (n == 0) {
			*leaf = x;
		} else if (sk_X509_num(chain) >= EKCERT_CHAIN_MAX) {
			X509_free(x);
			err_set(e, "ekcert: more than %d intermediate certificates",
			        EKCERT_CHAIN_MAX);
			goto out;
		} else if (!sk_X509_push(chain, x)) {
			X509_free(x);
			err_set_ssl(e, "ekcert: out of memory");
			goto out;
		}
		n++;
		p = stop + sizeof(PEM_END) - 1;
	}
	if (n == 0) {
		err_set(e, "ekcert: no certificate");
		goto out;
	}
	rv = 0;
out:
	buf_free(&b64);
	buf_free(&der);
	return rv;
}

int ekcert_parse(const char *text, size_t len, X509 **leaf, STACK_OF(X509) * *chain, err_t *e)
{
	STACK_OF(X509) *sk = NULL;
	X509 *x = NULL;
	buf_t der = BUF_INIT;
	int rv = -1;

	*leaf = NULL;
	*chain = NULL;
	if (text == NULL || len == 0) {
		err_set(e, "ekcert: empty");
		return -1;
	}
	if (len > EKCERT_TEXT_MAX) {
		err_set(e, "ekcert: too large (%zu bytes)", len);
		return -1;
	}
	if (memchr(text, '\0', len) != NULL) {
		err_set(e, "ekcert: contains a NUL byte");
		return -1;
	}
	sk = sk_X509_new_null();
	if (sk == NULL) {
		err_set_ssl(e, "ekcert: out of memory");
		return -1;
	}
	if (find(text, text + len, "-----BEGIN") != NULL) {
		if (parse_pem(text, len, &x, sk, e) < 0)
			goto out;
	} else {
		/* base64 of one DER certificate, as the registrar itself hands it out;
		 * surrounding whitespace (a trailing newline) is tolerated. */
		size_t s = 0, t = len;
		while (s < t && is_space(text[s]))
			s++;
		while (t > s && is_space(text[t - 1]))
			t--;
		if (s == t || base64_decode(&der, text + s, t - s) < 0) {
			err_set(e, "ekcert: neither PEM nor base64 DER");
			goto out;
		}
		if ((x = der_to_x509(der.data, der.len, 0, e)) == NULL)
			goto out;
	}
	*leaf = x;
	*chain = sk;
	x = NULL;
	sk = NULL;
	rv = 0;
out:
	X509_free(x);
	sk_X509_pop_free(sk, X509_free);
	buf_free(&der);
	return rv;
}

static int has_ca_suffix(const char *name)
{
	static const char *const sfx[] = {".pem", ".crt", ".cer"};
	size_t n = strlen(name);

	for (size_t i = 0; i < 3; i++)
		if (n > 4 && strcasecmp(name + n - 4, sfx[i]) == 0)
			return 1;
	return 0;
}

/* Add every certificate in one PEM file; a file with none is reported, not fatal. */
static int load_ca_file(ekca_t *s, const char *path)
{
	buf_t b = BUF_INIT;
	BIO *bio = NULL;
	X509 *x;
	int n = 0;

	if (buf_read_file(&b, path, CA_FILE_MAX) < 0) {
		log_warn("EK CA %s: cannot read", path);
		return 0;
	}
	if ((bio = BIO_new_mem_buf(b.data, (int)b.len)) == NULL)
		goto out;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		/* Adding a certificate already in the store is not an error: a root may be
		 * shipped in two files. */
		if (X509_STORE_add_cert(s->store, x) == 1)
			n++;
		X509_free(x);
	}
	ERR_clear_error();
	if (n == 0)
		log_warnx("EK CA %s: no PEM certificate in it, skipped", path);
out:
	BIO_free(bio);
	buf_free(&b);
	return n;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

ekca_t *ekca_load_dir(const char *dir, err_t *e)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	ekca_t *s;

	if ((d = opendir(dir)) == NULL) {
		err_set(e, "EK CA directory %s: %s", dir, strerror(errno));
		return NULL;
	}
	/* Sorted, so which duplicate wins and the log order do not depend on readdir. */
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !has_ca_suffix(de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[n++] = xasprintf("%s/%s", dir, de->d_name);
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_names);

	s = xcalloc(1, sizeof(*s));
	if ((s->store = X509_STORE_new()) == NULL)
		fatalx("X509_STORE_new: out of memory");
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
			s->count += load_ca_file(s, names[i]);
		free(names[i]);
	}
	free(names);
	log_debug("EK CA store %s: %d certificates", dir, s->count);
	return s;
}

void ekca_free(ekca_t *s)
{
	if (s == NULL)
		return;
	X509_STORE_free(s->store);
	free(s);
}

int ekca_count(const ekca_t *s)
{
	return s ? s->count : 0;
}

void ekca_set_time(ekca_t *s, time_t at)
{
	s->at = at;
}

/* The algorithm of the certificate's public key, from its OID: an RSA key may be written
 * as rsaEncryption or id-RSAES-OAEP (TPM 1.2-era vendors). NID_undef otherwise. */
static int key_family(X509 *x)
{
	ASN1_OBJECT *alg = NULL; /* borrowed from x */
	X509_PUBKEY *pk = X509_get_X509_PUBKEY(x);
	int nid;

	if (pk == NULL || !X509_PUBKEY_get0_param(&alg, NULL, NULL, NULL, pk) || alg == NULL)
		return NID_undef;
	nid = OBJ_obj2nid(alg);
	if (nid == NID_rsaEncryption || nid == NID_rsaesOaep)
		return NID_rsaEncryption;
	if (nid == NID_X9_62_id_ecPublicKey)
		return NID_X9_62_id_ecPublicKey;
	return NID_undef;
}

int ekcert_check_profile(X509 *leaf, err_t *e)
{
	uint32_t flags = X509_get_extension_flags(leaf);
	EXTENDED_KEY_USAGE *eku = NULL;
	ASN1_OBJECT *want = NULL;
	int family = key_family(leaf), crit = -1, idx = -1, found = 0, rv = -1;

	if (flags & EXFLAG_INVALID) {
		err_set(e, "EK certificate refused: an extension is malformed or repeated");
		goto out;
	}
	/* An EK certifies a decryption key of one TPM; it never issues certificates. */
	if (flags & EXFLAG_CA) {
		err_set(e, "EK certificate refused: it is a CA certificate (basicConstraints "
		           "CA:TRUE); an EK certificate must not be a CA");
		goto out;
	}
	if (family == NID_undef) {
		err_set(e, "EK certificate refused: its public key is neither RSA nor ECC");
		goto out;
	}
	/* keyUsage, when present, must allow what the EK does: RSA decrypts a seed
	 * (keyEncipherment), ECC derives one by ECDH (keyAgreement). */
	if (flags & EXFLAG_KUSAGE) {
		uint32_t ku = X509_get_key_usage(leaf);
		if (family == NID_rsaEncryption && !(ku & KU_KEY_ENCIPHERMENT)) {
			err_set(e, "EK certificate refused: its keyUsage does not allow "
			           "keyEncipherment, which an RSA EK certificate needs");
			goto out;
		}
		if (family == NID_X9_62_id_ecPublicKey && !(ku & KU_KEY_AGREEMENT)) {
			err_set(e, "EK certificate refused: its keyUsage does not allow "
			           "keyAgreement, which an ECC EK certificate needs");
			goto out;
		}
	}
	/* extendedKeyUsage, when present, must name the EK certificate purpose. */
	if (flags & EXFLAG_XKUSAGE) {
		eku = X509_get_ext_d2i(leaf, NID_ext_key_usage, &crit, &idx);
		if (eku == NULL) {
			err_set(e, "EK certificate refused: its extendedKeyUsage does not parse");
			goto out;
		}
		if ((want = OBJ_txt2obj(TCG_KP_EK_CERTIFICATE, 1)) == NULL)
			fatalx("OBJ_txt2obj: out of memory");
		for (int i = 0; i < sk_ASN1_OBJECT_num(eku) && !found; i++)
			found = OBJ_cmp(sk_ASN1_OBJECT_value(eku, i), want) == 0;
		if (!found) {
			err_set(e, "EK certificate refused: its extendedKeyUsage does not contain "
			           "tcg-kp-EKCertificate (" TCG_KP_EK_CERTIFICATE ")");
			goto out;
		}
	}
	rv = 0;
out:
	ASN1_OBJECT_free(want);
	EXTENDED_KEY_USAGE_free(eku);
	ERR_clear_error();
	return rv;
}

/* Only the EK certificate itself may carry critical extensions OpenSSL does not know
 * (TPM vendors' private ones); for any CA above it that stays an error. */
static int verify_cb(int ok, X509_STORE_CTX *ctx)
{
	if (!ok && X509_STORE_CTX_get_error(ctx) == X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION &&
	    X509_STORE_CTX_get_error_depth(ctx) == 0)
		return 1;
	return ok;
}

int ekca_verify(const ekca_t *s, X509 *leaf, STACK_OF(X509) * chain, err_t *e)
{
	X509_STORE_CTX *ctx = NULL;
	char subj[128] = "";
	int rv = -1, err;

	if (s == NULL || leaf == NULL) {
		err_set(e, "EK certificate check: no certificate or no CA store");
		return -1;
	}
	if (ekcert_check_profile(leaf, e) < 0)
		return -1;
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    !X509_STORE_CTX_init(ctx, s->store, leaf, chain)) {
		err_set_ssl(e, "EK certificate check: setup failed");
		goto out;
	}
	/* An explicit purpose, so that no default inherited from the store applies. EK
	 * certificates are not TLS certificates: the TLS purposes would demand EKUs that EK
	 * CAs do not carry (Google's EK intermediate carries only tcg-kp-EKCertificate).
	 * OpenSSL has no purpose for tcg-kp-EKCertificate, and adding one (X509_PURPOSE_add)
	 * edits a process-wide table shared with the TLS code; so the chain is checked for
	 * any purpose (signatures, validity, CA constraints and path lengths still apply)
	 * and the EK-specific usage is checked above, on the EK certificate, where the
	 * profile puts it. */
	if (!X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_ANY)) {
		err_set_ssl(e, "EK certificate check: setting the purpose failed");
		goto out;
	}
	if (s->at)
		X509_STORE_CTX_set_time(ctx, 0, s->at);
	/* A vendor intermediate placed in the CA directory is a trust anchor by itself:
	 * operators often have only the intermediate that issued their TPMs' EK certs. */
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_PARTIAL_CHAIN);
	X509_STORE_CTX_set_verify_cb(ctx, verify_cb);
	if (X509_verify_cert(ctx) == 1) {
		rv = 0;
		goto out;
	}
	err = X509_STORE_CTX_get_error(ctx);
	X509 *cur = X509_STORE_CTX_get_current_cert(ctx);
	if (cur == NULL)
		cur = leaf;
	X509_NAME_oneline(X509_get_subject_name(cur), subj, sizeof(subj));
	err_set(e, "EK certificate not trusted: %s (at depth %d, subject %s)",
	        X509_verify_cert_error_string(err), X509_STORE_CTX_get_error_depth(ctx),
	        subj[0] ? subj : "(empty)");
	ERR_clear_error();
out:
	X509_STORE_CTX_free(ctx);
	return rv;
}

int ekcert_to_b64der(X509 *cert, char **out)
{
	unsigned char *der = NULL;
	buf_t b = BUF_INIT;
	int n;

	*out = NULL;
	if ((n = i2d_X509(cert, &der)) <= 0) {
		ERR_clear_error();
		return -1;
	}
	base64_encode(&b, der, (size_t)n);
	OPENSSL_free(der);
	*out = (char *)buf_steal(&b, NULL);
	return 0;
}

/* makecred: TPM2_MakeCredential done in software, so the registrar can challenge an EK it
 * has never met, and the credential blob codec (tpm2-tools' file format, which Keylime
 * sends base64-encoded). The secret seed, derived keys and the credential are wiped. */
#include "common/crypto/makecred.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <tss2/tss2_mu.h>

#include "common/crypto/makecred_priv.h"
#include "common/base/xmalloc.h"

#define BLOB_MAGIC   0xBADCC0DEu
#define BLOB_VERSION 1u
/* Magic + version + the two TPM2Bs at their largest: anything longer is not a blob. */
#define BLOB_MAX (8 + 2 + sizeof(TPMS_ID_OBJECT) + 2 + sizeof(TPMU_ENCRYPTED_SECRET))

/* The labels of TPM 2.0 Part 1 (24.4, 24.5, 11.4.10); the NUL is part of each. */
static const char LABEL_IDENTITY[] = "IDENTITY";
static const char LABEL_STORAGE[] = "STORAGE";
static const char LABEL_INTEGRITY[] = "INTEGRITY";

static void put_u32be(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_u32be(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint16_t get_u16be(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

/* One keyed (HMAC) or plain hash over up to five pieces. out gets the digest size. */
static int digest_parts(uint16_t alg, const uint8_t *key, size_t key_len, const uint8_t *const *p,
                        const size_t *n, size_t count, uint8_t *out)
{
	const EVP_MD *md = tpm2_alg_md(alg);
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *mctx = NULL;
	EVP_MD_CTX *dctx = NULL;
	OSSL_PARAM params[2];
	size_t outl = 0;
	int rv = -1;

	if (md == NULL)
		return -1;
	if (key != NULL) {
		params[0] = OSSL_PARAM_construct_utf8_string(
		    OSSL_MAC_PARAM_DIGEST, (char *)(uintptr_t)EVP_MD_get0_name(md), 0);
		params[1] = OSSL_PARAM_construct_end();
		if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
		    (mctx = EVP_MAC_CTX_new(mac)) == NULL ||
		    !EVP_MAC_init(mctx, key, key_len, params))
			goto out;
		for (size_t i = 0; i < count; i++)
			if (n[i] && !EVP_MAC_update(mctx, p[i], n[i]))
				goto out;
		if (!EVP_MAC_final(mctx, out, &outl, EVP_MAX_MD_SIZE))
			goto out;
	} else {
		if ((dctx = EVP_MD_CTX_new()) == NULL || !EVP_DigestInit_ex(dctx, md, NULL))
			goto out;
		for (size_t i = 0; i < count; i++)
			if (n[i] && !EVP_DigestUpdate(dctx, p[i], n[i]))
				goto out;
		if (!EVP_DigestFinal_ex(dctx, out, NULL))
			goto out;
	}
	rv = 0;
out:
	EVP_MAC_CTX_free(mctx);
	EVP_MAC_free(mac);
	EVP_MD_CTX_free(dctx);
	return rv;
}

int makecred_kdfa(uint16_t hash_alg, const uint8_t *key, size_t key_len, const char *label,
                  const uint8_t *context_u, size_t u_len, const uint8_t *context_v, size_t v_len,
                  uint8_t *out, size_t bits)
{
	size_t dsize = tpm2_alg_size(hash_alg), want = bits / 8, done = 0;
	uint8_t ctr[4], lbits[4], block[EVP_MAX_MD_SIZE];
	int rv = -1;

	if (dsize == 0 || bits % 8 != 0 || bits > UINT32_MAX)
		return -1;
	put_u32be(lbits, (uint32_t)bits);
	for (uint32_t i = 1; done < want; i++) {
		const uint8_t *p[] = {ctr, (const uint8_t *)label, context_u, context_v, lbits};
		const size_t n[] = {4, strlen(label) + 1, u_len, v_len, 4};
		put_u32be(ctr, i);
		if (digest_parts(hash_alg, key, key_len, p, n, 5, block) < 0)
			goto out;
		size_t take = want - done < dsize ? want - done : dsize;
		memcpy(out + done, block, take);
		done += take;
	}
	rv = 0;
out:
	OPENSSL_cleanse(block, sizeof(block));
	return rv;
}

int makecred_kdfe(uint16_t hash_alg, const uint8_t *z, size_t z_len, const char *label,
                  const uint8_t *party_u, size_t u_len, const uint8_t *party_v, size_t v_len,
                  uint8_t *out, size_t bits)
{
	size_t dsize = tpm2_alg_size(hash_alg), want = bits / 8, done = 0;
	uint8_t ctr[4], block[EVP_MAX_MD_SIZE];
	int rv = -1;

	if (dsize == 0 || bits % 8 != 0)
		return -1;
	for (uint32_t i = 1; done < want; i++) {
		const uint8_t *p[] = {ctr, z, (const uint8_t *)label, party_u, party_v};
		const size_t n[] = {4, z_len, strlen(label) + 1, u_len, v_len};
		put_u32be(ctr, i);
		if (digest_parts(hash_alg, NULL, 0, p, n, 5, block) < 0)
			goto out;
		size_t take = want - done < dsize ? want - done : dsize;
		memcpy(out + done, block, take);
		done += take;
	}
	rv = 0;
out:
	OPENSSL_cleanse(block, sizeof(block));
	return rv;
}

/* RSA EK: a random seed, encrypted with RSA-OAEP(nameAlg, label "IDENTITY\0"). */
static int seed_rsa(EVP_PKEY *ekkey, uint16_t name_alg, uint8_t *seed, size_t seed_len,
                    buf_t *secret, err_t *e)
{
	const EVP_MD *md = tpm2_alg_md(name_alg);
	EVP_PKEY_CTX *ctx = NULL;
	unsigned char *label = NULL;
	size_t outl = 0;
	int rv = -1;

	if (RAND_bytes(seed, (int)seed_len) != 1) {
		err_set_ssl(e, "no random seed");
		goto out;
	}
	label = OPENSSL_memdup(LABEL_IDENTITY, sizeof(LABEL_IDENTITY));
	if (label == NULL || (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, ekkey, NULL)) == NULL ||
	    EVP_PKEY_encrypt_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) <= 0)
		goto ssl_err;
	if (EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label, sizeof(LABEL_IDENTITY)) <= 0)
		goto ssl_err;
	label = NULL; /* the context owns it now */
	if (EVP_PKEY_encrypt(ctx, NULL, &outl, seed, seed_len) <= 0)
		goto ssl_err;
	buf_reset(secret);
	buf_reserve(secret, outl);
	if (EVP_PKEY_encrypt(ctx, secret->data, &outl, seed, seed_len) <= 0)
		goto ssl_err;
	secret->len = outl;
	rv = 0;
	goto out;
ssl_err:
	err_set_ssl(e, "RSA-OAEP encryption of the seed failed");
out:
	OPENSSL_free(label);
	EVP_PKEY_CTX_free(ctx);
	return rv;
}

/* ECC EK: an ephemeral key on the EK's curve; seed = KDFe(Z.x, "IDENTITY", eph.x, ek.x);
 * the "encrypted secret" is the ephemeral public point as a TPMS_ECC_POINT. */
static int seed_ecc(EVP_PKEY *ekkey, const TPMT_PUBLIC *ek, uint8_t *seed, size_t seed_len,
                    buf_t *secret, err_t *e)
{
	size_t fb = 0;
	const char *group = tpm2_curve_group(ek->parameters.eccDetail.curveID, &fb);
	EVP_PKEY *eph = NULL;
	EVP_PKEY_CTX *dctx = NULL;
	uint8_t z[66], pt[1 + 2 * 66];
	size_t zlen = sizeof(z), ptlen = 0;
	int rv = -1;

	if ((eph = EVP_PKEY_Q_keygen(NULL, NULL, "EC", group)) == NULL) {
		err_set_ssl(e, "cannot make an ephemeral %s key", group);
		goto out;
	}
	if ((dctx = EVP_PKEY_CTX_new_from_pkey(NULL, eph, NULL)) == NULL ||
	    EVP_PKEY_derive_init(dctx) <= 0 || EVP_PKEY_derive_set_peer(dctx, ekkey) <= 0 ||
	    EVP_PKEY_derive(dctx, z, &zlen) <= 0 || zlen != fb) {
		err_set_ssl(e, "ECDH with the EK failed");
		goto out;
	}
	if (EVP_PKEY_get_octet_string_param(eph, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, sizeof(pt),
	                                    &ptlen) != 1 ||
	    ptlen != 1 + 2 * fb || pt[0] != 0x04) {
		err_set_ssl(e, "cannot read the ephemeral public point");
		goto out;
	}
	/* partyVInfo is the EK's x exactly as its public area carries it: that is what
	 * the TPM feeds its own KDFe. */
	if (makecred_kdfe(ek->nameAlg, z, zlen, LABEL_IDENTITY, pt + 1, fb, ek->unique.ecc.x.buffer,
	                  ek->unique.ecc.x.size, seed, seed_len * 8) < 0) {
		err_set(e, "KDFe failed");
		goto out;
	}
	buf_reset(secret);
	buf_append_u16be(secret, (uint16_t)fb);
	buf_append(secret, pt + 1, fb);
	buf_append_u16be(secret, (uint16_t)fb);
	buf_append(secret, pt + 1 + fb, fb);
	rv = 0;
out:
	OPENSSL_cleanse(z, sizeof(z));
	EVP_PKEY_CTX_free(dctx);
	EVP_PKEY_free(eph);
	return rv;
}

static const EVP_CIPHER *ek_cipher(const TPMT_SYM_DEF_OBJECT *sym, err_t *e)
{
	if (sym->algorithm != TPM2_ALG_AES || sym->mode.aes != TPM2_ALG_CFB) {
		err_set(e, "EK symmetric scheme 0x%04x/0x%04x is not AES-CFB", sym->algorithm,
		        sym->mode.aes);
		return NULL;
	}
	switch (sym->keyBits.aes) {
	case 128:
		return EVP_aes_128_cfb128();
	case 192:
		return EVP_aes_192_cfb128();
	case 256:
		return EVP_aes_256_cfb128();
	default:
		err_set(e, "EK AES key size %u is not supported", sym->keyBits.aes);
		return NULL;
	}
}

static int cfb_encrypt(const EVP_CIPHER *c, const uint8_t *key, const uint8_t *in, size_t len,
                       uint8_t *out, err_t *e)
{
	static const uint8_t iv[16]; /* the TPM uses a zero IV for the credential */
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int l1 = 0, l2 = 0, rv = -1;

	if (ctx == NULL || !EVP_EncryptInit_ex(ctx, c, NULL, key, iv) ||
	    !EVP_EncryptUpdate(ctx, out, &l1, in, (int)len) ||
	    !EVP_EncryptFinal_ex(ctx, out + l1, &l2) || (size_t)(l1 + l2) != len) {
		err_set_ssl(e, "AES-CFB encryption failed");
		goto out;
	}
	rv = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rv;
}

int makecred_blob(const tpm2_pub_t *ek, const uint8_t *name, size_t name_len, const uint8_t *cred,
                  size_t cred_len, buf_t *blob, err_t *e)
{
	const TPMT_PUBLIC *a = tpm2_pub_area(ek);
	uint16_t alg = a->nameAlg;
	size_t dsize = tpm2_alg_size(alg);
	const EVP_CIPHER *cipher;
	EVP_PKEY *ekkey = NULL;
	buf_t secret = BUF_INIT;
	uint8_t seed[EVP_MAX_MD_SIZE], symkey[32], hmackey[EVP_MAX_MD_SIZE];
	uint8_t plain[2 + sizeof(TPMU_HA)], enc[2 + sizeof(TPMU_HA)], integrity[EVP_MAX_MD_SIZE];
	size_t plain_len = 2 + cred_len;
	int rv = -1;

	if ((a->objectAttributes & (TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT)) !=
	        (TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT) ||
	    (a->objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT) != 0) {
		err_set(e, "EK is not a restricted decryption key");
		return -1;
	}
	if (dsize == 0) {
		err_set(e, "EK nameAlg 0x%04x is not supported", alg);
		return -1;
	}
	/* An object Name is its nameAlg and a digest of that algorithm's size. */
	if (name == NULL || name_len < 2 || tpm2_alg_size(get_u16be(name)) == 0 ||
	    name_len != 2 + tpm2_alg_size(get_u16be(name))) {
		err_set(e, "object Name is not nameAlg || digest (%zu bytes)", name_len);
		return -1;
	}
	/* The TPM refuses a credential longer than the EK's nameAlg digest (TPM_RC_SIZE). */
	if (cred_len == 0 || cred_len > dsize) {
		err_set(e, "credential is %zu bytes; 1 to %zu allowed", cred_len, dsize);
		return -1;
	}
	const TPMT_SYM_DEF_OBJECT *sym = a->type == TPM2_ALG_RSA
	                                     ? &a->parameters.rsaDetail.symmetric
	                                     : &a->parameters.eccDetail.symmetric;
	if ((cipher = ek_cipher(sym, e)) == NULL)
		return -1;
	if ((ekkey = tpm2_pub_to_pkey(ek, e)) == NULL)
		return -1;

	if (a->type == TPM2_ALG_RSA) {
		if (seed_rsa(ekkey, alg, seed, dsize, &secret, e) < 0)
			goto out;
	} else if (seed_ecc(ekkey, a, seed, dsize, &secret, e) < 0) {
		goto out;
	}

	if (makecred_kdfa(alg, seed, dsize, LABEL_STORAGE, name, name_len, NULL, 0, symkey,
	                  (size_t)sym->keyBits.aes) < 0 ||
	    makecred_kdfa(alg, seed, dsize, LABEL_INTEGRITY, NULL, 0, NULL, 0, hmackey, dsize * 8) <
	        0) {
		err_set(e, "KDFa failed");
		goto out;
	}
	/* encIdentity = CFB(TPM2B_DIGEST(cred)): the size field is encrypted too. */
	plain[0] = (uint8_t)(cred_len >> 8);
	plain[1] = (uint8_t)cred_len;
	memcpy(plain + 2, cred, cred_len);
	if (cfb_encrypt(cipher, symkey, plain, plain_len, enc, e) < 0)
		goto out;
	{
		const uint8_t *p[] = {enc, name};
		const size_t n[] = {plain_len, name_len};
		if (digest_parts(alg, hmackey, dsize, p, n, 2, integrity) < 0) {
			err_set_ssl(e, "integrity HMAC failed");
			goto out;
		}
	}

	buf_append_u32be(blob, BLOB_MAGIC);
	buf_append_u32be(blob, BLOB_VERSION);
	buf_append_u16be(blob, (uint16_t)(2 + dsize + plain_len));
	buf_append_u16be(blob, (uint16_t)dsize);
	buf_append(blob, integrity, dsize);
	buf_append(blob, enc, plain_len);
	buf_append_u16be(blob, (uint16_t)secret.len);
	buf_append(blob, secret.data, secret.len);
	rv = 0;
out:
	OPENSSL_cleanse(seed, sizeof(seed));
	OPENSSL_cleanse(symkey, sizeof(symkey));
	OPENSSL_cleanse(hmackey, sizeof(hmackey));
	OPENSSL_cleanse(plain, sizeof(plain));
	buf_free(&secret);
	EVP_PKEY_free(ekkey);
	return rv;
}

int makecred_blob_decode(const uint8_t *blob, size_t len, buf_t *id_object, buf_t *secret, err_t *e)
{
	TPM2B_ID_OBJECT id;
	TPM2B_ENCRYPTED_SECRET sec;
	size_t off = 8, id_start, sec_start;
	TSS2_RC rc;

	if (blob == NULL || len < 8) {
		err_set(e, "credential blob truncated (%zu bytes)", len);
		return -1;
	}
	if (len > BLOB_MAX) {
		err_set(e, "credential blob too large (%zu bytes)", len);
		return -1;
	}
	if (get_u32be(blob) != BLOB_MAGIC) {
		err_set(e, "credential blob has bad magic 0x%08x", get_u32be(blob));
		return -1;
	}
	if (get_u32be(blob + 4) != BLOB_VERSION) {
		err_set(e, "credential blob version %u is not supported", get_u32be(blob + 4));
		return -1;
	}
	id_start = off;
	rc = Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(blob, len, &off, &id);
	if (rc != TSS2_RC_SUCCESS) {
		err_set(e, "credential blob: bad TPM2B_ID_OBJECT (tss2-mu 0x%x)", (unsigned)rc);
		return -1;
	}
	/* Inside: TPM2B integrityHMAC, then the encrypted TPM2B_DIGEST (at least its size
	 * field and one byte, at most a 64-byte digest). */
	size_t isize = id.size >= 2 ? get_u16be(id.credential) : 0;
	if (id.size < 2 || (isize != 20 && isize != 32 && isize != 48 && isize != 64) ||
	    (size_t)id.size < 2 + isize + 3 || (size_t)id.size > 2 + isize + 2 + sizeof(TPMU_HA)) {
		err_set(e, "credential blob: malformed ID object (%u bytes, integrity %zu)",
		        id.size, isize);
		return -1;
	}
	sec_start = off;
	rc = Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(blob, len, &off, &sec);
	if (rc != TSS2_RC_SUCCESS) {
		err_set(e, "credential blob: bad TPM2B_ENCRYPTED_SECRET (tss2-mu 0x%x)",
		        (unsigned)rc);
		return -1;
	}
	if (sec.size == 0) {
		err_set(e, "credential blob: empty encrypted secret");
		return -1;
	}
	if (off != len) {
		err_set(e, "credential blob has %zu trailing bytes", len - off);
		return -1;
	}
	buf_set(id_object, blob + id_start, sec_start - id_start);
	buf_set(secret, blob + sec_start, off - sec_start);
	return 0;
}

/* ---- TPM2_ActivateCredential in software ---- */

/* The seed an RSA EK's secret carries: RSA-OAEP(nameAlg, label "IDENTITY") decryption. */
static int seed_rsa_open(EVP_PKEY *ek_priv, uint16_t name_alg, const uint8_t *in, size_t len,
                         uint8_t *seed, size_t seed_len, err_t *e)
{
	const EVP_MD *md = tpm2_alg_md(name_alg);
	EVP_PKEY_CTX *ctx = NULL;
	unsigned char *label = OPENSSL_memdup(LABEL_IDENTITY, sizeof(LABEL_IDENTITY));
	uint8_t out[512];
	size_t outl = sizeof(out);
	int rv = -1;

	if (label == NULL || (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, ek_priv, NULL)) == NULL ||
	    EVP_PKEY_decrypt_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) <= 0 ||
	    EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label, sizeof(LABEL_IDENTITY)) <= 0) {
		err_set_ssl(e, "RSA-OAEP context");
		goto out;
	}
	label = NULL; /* the context owns it now */
	if (EVP_PKEY_decrypt(ctx, out, &outl, in, len) <= 0 || outl != seed_len) {
		err_set_ssl(e, "RSA-OAEP decryption of the seed failed");
		goto out;
	}
	memcpy(seed, out, seed_len);
	rv = 0;
out:
	OPENSSL_cleanse(out, sizeof(out));
	OPENSSL_free(label);
	EVP_PKEY_CTX_free(ctx);
	return rv;
}

/* The seed an ECC EK's secret (the ephemeral point, a TPMS_ECC_POINT) stands for:
 * KDFe(Z.x of ECDH(EK, point), "IDENTITY", point.x, ek.x), as seed_ecc made it. */
static int seed_ecc_open(EVP_PKEY *ek_priv, const TPMT_PUBLIC *ek, const uint8_t *in, size_t len,
                         uint8_t *seed, size_t seed_len, err_t *e)
{
	size_t fb = 0;
	const char *group = tpm2_curve_group(ek->parameters.eccDetail.curveID, &fb);
	uint8_t pt[1 + 2 * 66], z[66];
	size_t zlen = sizeof(z);
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *fctx = NULL, *dctx = NULL;
	EVP_PKEY *eph = NULL;
	int rv = -1;

	if (group == NULL || len != 4 + 2 * fb || get_u16be(in) != fb ||
	    get_u16be(in + 2 + fb) != fb) {
		err_set(e, "the encrypted secret is not a point on the EK's curve");
		goto out;
	}
	pt[0] = 0x04;
	memcpy(pt + 1, in + 2, fb);
	memcpy(pt + 1 + fb, in + 4 + fb, fb);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
	                                             (char *)(uintptr_t)group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * fb);
	params[2] = OSSL_PARAM_construct_end();
	if ((fctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(fctx) <= 0 ||
	    EVP_PKEY_fromdata(fctx, &eph, EVP_PKEY_PUBLIC_KEY, params) <= 0 ||
	    (dctx = EVP_PKEY_CTX_new_from_pkey(NULL, ek_priv, NULL)) == NULL ||
	    EVP_PKEY_derive_init(dctx) <= 0 || EVP_PKEY_derive_set_peer(dctx, eph) <= 0 ||
	    EVP_PKEY_derive(dctx, z, &zlen) <= 0 || zlen != fb) {
		err_set_ssl(e, "ECDH with the ephemeral point failed");
		goto out;
	}
	if (makecred_kdfe(ek->nameAlg, z, zlen, LABEL_IDENTITY, pt + 1, fb, ek->unique.ecc.x.buffer,
	                  ek->unique.ecc.x.size, seed, seed_len * 8) < 0) {
		err_set(e, "KDFe failed");
		goto out;
	}
	rv = 0;
out:
	OPENSSL_cleanse(z, sizeof(z));
	EVP_PKEY_CTX_free(fctx);
	EVP_PKEY_CTX_free(dctx);
	EVP_PKEY_free(eph);
	return rv;
}

int makecred_activate(const tpm2_pub_t *ek, EVP_PKEY *ek_priv, const uint8_t *name, size_t name_len,
                      const uint8_t *blob, size_t blob_len, buf_t *cred, err_t *e)
{
	const TPMT_PUBLIC *a = tpm2_pub_area(ek);
	uint16_t alg = a->nameAlg;
	size_t dsize = tpm2_alg_size(alg), isize, enc_len;
	const TPMT_SYM_DEF_OBJECT *sym = a->type == TPM2_ALG_RSA
	                                     ? &a->parameters.rsaDetail.symmetric
	                                     : &a->parameters.eccDetail.symmetric;
	const EVP_CIPHER *cipher;
	buf_t id = BUF_INIT, secret = BUF_INIT;
	uint8_t seed[EVP_MAX_MD_SIZE], symkey[32], hmackey[EVP_MAX_MD_SIZE];
	uint8_t integrity[EVP_MAX_MD_SIZE], plain[2 + sizeof(TPMU_HA)];
	const uint8_t *enc;
	int rv = -1, l1 = 0, l2 = 0;
	EVP_CIPHER_CTX *cctx = NULL;
	static const uint8_t iv[16];

	if (dsize == 0 || (cipher = ek_cipher(sym, e)) == NULL) {
		if (dsize == 0)
			err_set(e, "EK nameAlg 0x%04x is not supported", alg);
		return -1;
	}
	if (makecred_blob_decode(blob, blob_len, &id, &secret, e) < 0)
		goto out;
	/* id: size(2) || integrity size(2) || integrity || encIdentity. secret: size(2) || it. */
	isize = get_u16be(id.data + 2);
	if (isize != dsize) {
		err_set(e, "the credential's integrity HMAC is %zu bytes, not %zu", isize, dsize);
		goto out;
	}
	enc = id.data + 4 + isize;
	enc_len = id.len - 4 - isize;
	if ((a->type == TPM2_ALG_RSA
	         ? seed_rsa_open(ek_priv, alg, secret.data + 2, secret.len - 2, seed, dsize, e)
	         : seed_ecc_open(ek_priv, a, secret.data + 2, secret.len - 2, seed, dsize, e)) < 0)
		goto out;
	if (makecred_kdfa(alg, seed, dsize, LABEL_STORAGE, name, name_len, NULL, 0, symkey,
	                  (size_t)sym->keyBits.aes) < 0 ||
	    makecred_kdfa(alg, seed, dsize, LABEL_INTEGRITY, NULL, 0, NULL, 0, hmackey, dsize * 8) <
	        0) {
		err_set(e, "KDFa failed");
		goto out;
	}
	{
		const uint8_t *p[] = {enc, name};
		const size_t n[] = {enc_len, name_len};
		if (digest_parts(alg, hmackey, dsize, p, n, 2, integrity) < 0) {
			err_set_ssl(e, "integrity HMAC failed");
			goto out;
		}
	}
	/* A TPM answers TPM_RC_INTEGRITY: the blob was not made for this EK and Name. */
	if (CRYPTO_memcmp(integrity, id.data + 4, dsize) != 0) {
		err_set(e, "the credential's integrity check failed (made for another EK or AK)");
		goto out;
	}
	if ((cctx = EVP_CIPHER_CTX_new()) == NULL ||
	    !EVP_DecryptInit_ex(cctx, cipher, NULL, symkey, iv) ||
	    !EVP_DecryptUpdate(cctx, plain, &l1, enc, (int)enc_len) ||
	    !EVP_DecryptFinal_ex(cctx, plain + l1, &l2) || (size_t)(l1 + l2) != enc_len) {
		err_set_ssl(e, "AES-CFB decryption failed");
		goto out;
	}
	if ((size_t)get_u16be(plain) != enc_len - 2) {
		err_set(e, "the decrypted credential's size field is wrong");
		goto out;
	}
	buf_set(cred, plain + 2, enc_len - 2);
	rv = 0;
out:
	OPENSSL_cleanse(seed, sizeof(seed));
	OPENSSL_cleanse(symkey, sizeof(symkey));
	OPENSSL_cleanse(hmackey, sizeof(hmackey));
	OPENSSL_cleanse(plain, sizeof(plain));
	EVP_CIPHER_CTX_free(cctx);
	buf_free(&id);
	buf_free(&secret);
	return rv;
}

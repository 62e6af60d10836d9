/* tpm_nv: the EK certificate and its chain from the TPM's NV indices (TCG EK Credential
 * Profile: the certificate at the index of its EK kind, chain certificates from
 * 0x01c00100-0x01c001ff), returned as PEM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <tss2/tss2_esys.h>

#include "agent/tpm.h"
#include "agent/tpm_priv.h"
#include "common/base/log.h"
#include "common/base/xmalloc.h"

#define EK_NV_CHAIN_FIRST  0x01c00100u
#define EK_NV_CHAIN_LAST   0x01c001ffu
#define EK_CHAIN_MAX_INDEX 16 /* chain indices we read at most */

/* Read the whole NV index into out (replacing). 0 or -1. */
static int nv_read_all(tpm_t *t, uint32_t index, buf_t *out, err_t *e)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPM2B_NV_PUBLIC *np = NULL;
	TPM2B_MAX_NV_BUFFER *data = NULL;
	TPMI_YES_NO more = 0;
	ESYS_TR nv = ESYS_TR_NONE, auth;
	uint32_t chunk = 512;
	uint16_t size, off = 0;
	TSS2_RC rc;
	int rv = -1;

	buf_reset(out);
	rc = Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	                        TPM2_CAP_TPM_PROPERTIES, TPM2_PT_NV_BUFFER_MAX, 1, &more, &cap);
	if (rc == TSS2_RC_SUCCESS && cap->data.tpmProperties.count == 1 &&
	    cap->data.tpmProperties.tpmProperty[0].property == TPM2_PT_NV_BUFFER_MAX &&
	    cap->data.tpmProperties.tpmProperty[0].value > 0)
		chunk = cap->data.tpmProperties.tpmProperty[0].value;
	Esys_Free(cap);
	if (chunk > TPM2_MAX_NV_BUFFER_SIZE)
		chunk = TPM2_MAX_NV_BUFFER_SIZE;
	rc = Esys_TR_FromTPMPublic(t->esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv);
	if (rc != TSS2_RC_SUCCESS) {
		tpm_tss_err(e, rc, "cannot open NV index 0x%08x", index);
		return -1;
	}
	rc = Esys_NV_ReadPublic(t->esys, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &np, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		tpm_tss_err(e, rc, "NV_ReadPublic(0x%08x)", index);
		goto out;
	}
	size = np->nvPublic.dataSize;
	/* EK certificate indices are readable with their own (empty) auth or the owner's. */
	if (np->nvPublic.attributes & TPMA_NV_AUTHREAD)
		auth = nv;
	else if (np->nvPublic.attributes & TPMA_NV_OWNERREAD)
		auth = ESYS_TR_RH_OWNER;
	else {
		err_set(e, "NV index 0x%08x is readable neither with its auth nor the owner's",
		        index);
		goto out;
	}
	while (off < size) {
		uint32_t left = (uint32_t)(size - off);
		uint16_t n = (uint16_t)(left < chunk ? left : chunk);

		rc = Esys_NV_Read(t->esys, auth, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
		                  n, off, &data);
		if (rc != TSS2_RC_SUCCESS) {
			tpm_tss_err(e, rc, "NV_Read(0x%08x, offset %u)", index, off);
			goto out;
		}
		if (data->size != n) {
			err_set(e, "NV_Read(0x%08x) returned %u bytes, asked %u", index, data->size,
			        n);
			goto out;
		}
		buf_append(out, data->buffer, data->size);
		Esys_Free(data);
		data = NULL;
		off = (uint16_t)(off + n);
	}
	rv = 0;
out:
	Esys_Free(data);
	Esys_Free(np);
	if (nv != ESYS_TR_NONE)
		Esys_TR_Close(t->esys, &nv);
	return rv;
}

/* Parse DER certificates laid end to end in an NV index (zero padding after the last is
 * tolerated, as vendors pad) and append each as PEM. Returns the count, or -1. */
static int der_certs_to_pem(const uint8_t *p, size_t len, int max, uint32_t index, buf_t *pem,
                            err_t *e)
{
	const uint8_t *q = p, *end = p + len;
	int n = 0;

	while (q < end && *q == 0x30 && (max == 0 || n < max)) {
		const uint8_t *start = q;
		X509 *x = d2i_X509(NULL, &q, (long)(end - q));
		BIO *bio;
		char *text;
		long tl;

		if (x == NULL) {
			err_set_ssl(e, "NV index 0x%08x: certificate %d does not parse", index,
			            n + 1);
			return -1;
		}
		bio = BIO_new(BIO_s_mem());
		if (bio == NULL || !PEM_write_bio_X509(bio, x)) {
			BIO_free(bio);
			X509_free(x);
			err_set_ssl(e, "cannot write a certificate as PEM");
			return -1;
		}
		tl = BIO_get_mem_data(bio, &text);
		buf_append(pem, text, (size_t)tl);
		BIO_free(bio);
		X509_free(x);
		n++;
		if (q <= start)
			break;
	}
	return n;
}

/* NV indices in [first, last] that exist, in ascending order; at most max. */
static int nv_list(tpm_t *t, uint32_t first, uint32_t last, uint32_t *out, int max, err_t *e)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more = 1;
	uint32_t next = first;
	int n = 0;

	while (more && n < max) {
		TSS2_RC rc =
		    Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
		                       TPM2_CAP_HANDLES, next, TPM2_MAX_CAP_HANDLES, &more, &cap);
		uint32_t i;

		if (rc != TSS2_RC_SUCCESS) {
			tpm_tss_err(e, rc, "GetCapability(NV indices)");
			return -1;
		}
		if (cap->data.handles.count == 0) {
			Esys_Free(cap);
			break;
		}
		for (i = 0; i < cap->data.handles.count; i++) {
			uint32_t h = cap->data.handles.handle[i];
			if (h > last) {
				more = 0;
				break;
			}
			if (h >= first && n < max)
				out[n++] = h;
			next = h + 1;
		}
		Esys_Free(cap);
		cap = NULL;
	}
	return n;
}

int tpm_ek_cert_chain_pem(tpm_t *t, buf_t *out, int *ncerts, err_t *e)
{
	uint32_t idx[EK_CHAIN_MAX_INDEX];
	buf_t raw = BUF_INIT, pem = BUF_INIT;
	err_t ce = {""};
	int ex, n, total = 0, rv = -1;

	buf_reset(out);
	if (ncerts)
		*ncerts = 0;
	if (t->ek == ESYS_TR_NONE || t->ek_cert_nv == 0) {
		err_set(e, "EK not loaded");
		return -1;
	}
	if ((ex = tpm_handle_exists(t, t->ek_cert_nv, e)) < 0)
		return -1;
	if (ex == 0) {
		log_debug("tpm: no EK certificate at NV 0x%08x", t->ek_cert_nv);
		rv = 0;
		goto out;
	}
	if (nv_read_all(t, t->ek_cert_nv, &raw, e) < 0)
		goto out;
	/* The EK certificate index holds exactly one certificate (possibly zero-padded). A
	 * vendor certificate OpenSSL cannot parse is reported and left out: the registrar's
	 * policy then decides about an EK without a certificate. */
	n = der_certs_to_pem(raw.data, raw.len, 1, t->ek_cert_nv, out, &ce);
	if (n <= 0) {
		log_warnx("the EK certificate in NV 0x%08x is unusable (%s); going on without it",
		          t->ek_cert_nv, n < 0 ? ce.msg : "no DER certificate in it");
		buf_reset(out);
		rv = 0;
		goto out;
	}
	total = n;
	/* Chain certificates only help the registrar build a path; one that cannot be read
	 * or parsed is reported and skipped, never fatal. */
	n = nv_list(t, EK_NV_CHAIN_FIRST, EK_NV_CHAIN_LAST, idx, EK_CHAIN_MAX_INDEX, &ce);
	if (n < 0) {
		log_warnx("cannot list the EK certificate chain indices: %s", ce.msg);
		n = 0;
	}
	for (int i = 0; i < n; i++) {
		int c;

		buf_reset(&pem);
		if (nv_read_all(t, idx[i], &raw, &ce) < 0 ||
		    (c = der_certs_to_pem(raw.data, raw.len, 0, idx[i], &pem, &ce)) < 0) {
			log_warnx("skipping EK chain index 0x%08x: %s", idx[i], ce.msg);
			continue;
		}
		if (c == 0) {
			log_warnx("skipping EK chain index 0x%08x: no DER certificate in it",
			          idx[i]);
			continue;
		}
		buf_append(out, pem.data, pem.len);
		total += c;
	}
	rv = 0;
out:
	buf_free(&raw);
	buf_free(&pem);
	if (rv < 0)
		buf_reset(out);
	else if (ncerts)
		*ncerts = total;
	return rv;
}

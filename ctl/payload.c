/* payload: vigilctl's tenant half of the secure payload (ctl/payload.h). */
#include "ctl/payload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "common/crypto/bootkey.h"
#include "common/net/http.h"
#include "ctl/zipw.h"

#define PAYLOAD_TIMEOUT_S 30 /* each request to the agent */

int ctl_payload_make(ctl_payload_t *p, const char *uuid, const uint8_t *plain, size_t len, err_t *e)
{
	buf_t sealed = BUF_INIT;
	int rv = -1;

	memset(p, 0, sizeof(*p)); /* the buffer included: an empty buf_t is all zeros */
	if (len > CTL_PAYLOAD_MAX) {
		err_set(e, "the payload is %zu bytes; at most %d (Keylime's max_payload_size)", len,
		        CTL_PAYLOAD_MAX);
		return -1;
	}
	if (RAND_bytes(p->k, sizeof(p->k)) != 1 || RAND_bytes(p->v, sizeof(p->v)) != 1) {
		err_set(e, "no random bytes for the payload key");
		return -1;
	}
	for (size_t i = 0; i < sizeof(p->k); i++)
		p->u[i] = p->k[i] ^ p->v[i];
	if (bootkey_hmac_hex(p->k, sizeof(p->k), uuid, strlen(uuid), p->auth_tag) < 0) {
		err_set(e, "cannot compute the auth_tag");
		goto out;
	}
	if (bootkey_seal(p->k, sizeof(p->k), plain, len, &sealed, e) < 0)
		goto out;
	base64_encode(&p->sealed_b64, sealed.data, sealed.len);
	rv = 0;
out:
	buf_free_secret(&sealed);
	if (rv < 0)
		ctl_payload_clear(p);
	return rv;
}

void ctl_payload_clear(ctl_payload_t *p)
{
	OPENSSL_cleanse(p->k, sizeof(p->k));
	OPENSSL_cleanse(p->u, sizeof(p->u));
	OPENSSL_cleanse(p->v, sizeof(p->v));
	OPENSSL_cleanse(p->auth_tag, sizeof(p->auth_tag));
	buf_free(&p->sealed_b64);
}

int ctl_payload_cert_package(const char *dir, const char *uuid, buf_t *zip, err_t *e)
{
	/* What goes in the package (Keylime's names), and where it is read from in dir. */
	zipw_t z = ZIPW_INIT;
	int rv = -1;

	for (int i = 0; i < 4; i++) {
		char entry[256], path[4096];
		buf_t data = BUF_INIT;
		int r;

		switch (i) {
		case 0:
			snprintf(entry, sizeof(entry), "%s-cert.crt", uuid);
			snprintf(path, sizeof(path), "%s/%s.crt", dir, uuid);
			break;
		case 1:
			snprintf(entry, sizeof(entry), "%s-private.pem", uuid);
			snprintf(path, sizeof(path), "%s/%s.key", dir, uuid);
			break;
		case 2:
			snprintf(entry, sizeof(entry), "cacert.crt");
			snprintf(path, sizeof(path), "%s/ca.crt", dir);
			break;
		default:
			snprintf(entry, sizeof(entry), "RevocationNotifier-cert.crt");
			snprintf(path, sizeof(path), "%s/RevocationNotifier.crt", dir);
		}
		if (buf_read_file(&data, path, CTL_PAYLOAD_MAX) < 0) {
			err_set(
			    e,
			    "cannot read %s (the package needs %s/%s.crt and .key: 'vigilctl ca "
			    "issue %s %s --client'; %s/RevocationNotifier.crt: the certificate of "
			    "the verifier's revocation_key)",
			    path, dir, uuid, dir, uuid, dir);
			buf_free_secret(&data);
			goto out;
		}
		r = zipw_add(&z, entry, data.data, data.len, 0600, e);
		buf_free_secret(&data);
		if (r < 0)
			goto out;
	}
	if (zipw_finish(&z, e) < 0)
		goto out;
	buf_append(zip, z.out.data, z.out.len);
	rv = 0;
out:
	zipw_free(&z);
	return rv;
}

/* The TLS options to talk to an agent: its registered certificate pinned as the trust
 * anchor (as the verifier does), the operator's certificate as the client's. */
static void payload_tls(const ctl_conf_t *c, const char *pem, tls_client_opts_t *tls)
{
	memset(tls, 0, sizeof(*tls));
	tls->ca_pem = pem;
	tls->cert_file = c->tls_cert;
	tls->key_file = c->tls_key;
	tls->check_hostname = 0;
}

/* GET path from the agent; the JSON "results" object in *res (caller decrefs *root). The
 * HTTP status, or 0 (e). */
static int payload_get(const ctl_conf_t *c, const char *ip, int port, const char *pem,
                       const char *path, json_t **root, err_t *e)
{
	tls_client_opts_t tls;
	buf_t body = BUF_INIT;
	int status;

	payload_tls(c, pem, &tls);
	*root = NULL;
	status = http_fetch(ip, port, &tls, PAYLOAD_TIMEOUT_S, HTTP_M_GET, path, NULL, NULL, 0,
	                    &body, e);
	if (status != 0)
		*root = json_loadb((const char *)body.data, body.len, 0, NULL);
	buf_free(&body);
	return status;
}

/* The agent's API version: its /version answer's supported_version, which every agent
 * API version serves the /keys routes under. */
static int payload_version(const ctl_conf_t *c, const char *ip, int port, const char *pem,
                           ctl_payload_t *p, err_t *e)
{
	json_t *root = NULL;
	const char *v;
	int status = payload_get(c, ip, port, pem, "/version", &root, e), rv = -1;

	if (status == 0)
		goto out;
	v = json_string_value(
	    json_object_get(json_object_get(root, "results"), "supported_version"));
	if (status != 200 || v == NULL || strlen(v) >= sizeof(p->api_version) ||
	    strspn(v, "0123456789.") != strlen(v)) {
		err_set(e, "the agent's /version answered HTTP %d without a usable version",
		        status);
		goto out;
	}
	snprintf(p->api_version, sizeof(p->api_version), "%s", v);
	rv = 0;
out:
	json_decref(root);
	return rv;
}

int ctl_payload_send_u(const ctl_conf_t *c, const char *ip, int port, const char *pem,
                       ctl_payload_t *p, err_t *e)
{
	tls_client_opts_t tls;
	json_t *root = NULL, *req = NULL;
	const char *pub;
	char path[64], *text = NULL;
	buf_t wrapped = BUF_INIT, b64 = BUF_INIT, resp = BUF_INIT;
	EVP_PKEY *pk = NULL;
	BIO *bio = NULL;
	int status, rv = -1;

	if (p->api_version[0] == '\0' && payload_version(c, ip, port, pem, p, e) < 0)
		return -1;
	snprintf(path, sizeof(path), "/v%s/keys/pubkey", p->api_version);
	if ((status = payload_get(c, ip, port, pem, path, &root, e)) == 0)
		goto out;
	pub = json_string_value(json_object_get(json_object_get(root, "results"), "pubkey"));
	if (status != 200 || pub == NULL) {
		err_set(e, "the agent's %s answered HTTP %d without a pubkey", path, status);
		goto out;
	}
	if ((bio = BIO_new_mem_buf(pub, -1)) == NULL ||
	    (pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) == NULL) {
		err_set(e, "the agent's payload public key is not a PEM public key");
		goto out;
	}
	if (bootkey_wrap(pk, p->u, sizeof(p->u), &wrapped, e) < 0)
		goto out;
	base64_encode(&b64, wrapped.data, wrapped.len);
	if ((req = json_pack("{s:s, s:s, s:s}", "encrypted_key", (const char *)b64.data, "auth_tag",
	                     p->auth_tag, "payload", (const char *)p->sealed_b64.data)) == NULL ||
	    (text = json_dumps(req, JSON_COMPACT)) == NULL) {
		err_set(e, "cannot encode the U request");
		goto out;
	}
	snprintf(path, sizeof(path), "/v%s/keys/ukey", p->api_version);
	payload_tls(c, pem, &tls);
	status = http_fetch(ip, port, &tls, PAYLOAD_TIMEOUT_S, HTTP_M_POST, path,
	                    "application/json", text, strlen(text), &resp, e);
	if (status == 0)
		goto out;
	if (status != 200) {
		json_t *r = json_loadb((const char *)resp.data, resp.len, 0, NULL);
		const char *why = json_string_value(json_object_get(r, "status"));
		err_set(e, "the agent refused U (HTTP %d: %s)", status, why ? why : "no reason");
		json_decref(r);
		goto out;
	}
	rv = 0;
out:
	free(text);
	json_decref(req);
	json_decref(root);
	buf_free(&wrapped);
	buf_free(&b64);
	buf_free(&resp);
	BIO_free(bio);
	EVP_PKEY_free(pk);
	return rv;
}

int ctl_payload_verify(const ctl_conf_t *c, const char *ip, int port, const char *pem,
                       const ctl_payload_t *p, int timeout_s, err_t *e)
{
	time_t until = time(NULL) + timeout_s;
	int status = 0;

	for (;;) {
		uint8_t raw[16];
		char challenge[33], path[128], want[BOOTKEY_HMAC_HEX + 1];
		const char *got;
		json_t *root = NULL;

		if (RAND_bytes(raw, sizeof(raw)) != 1) {
			err_set(e, "no random bytes for the challenge");
			return -1;
		}
		for (size_t i = 0; i < sizeof(raw); i++)
			snprintf(challenge + 2 * i, 3, "%02x", raw[i]);
		snprintf(path, sizeof(path), "/v%s/keys/verify?challenge=%s", p->api_version,
		         challenge);
		if (bootkey_hmac_hex(p->k, sizeof(p->k), challenge, strlen(challenge), want) < 0) {
			err_set(e, "cannot compute the expected HMAC");
			return -1;
		}
		status = payload_get(c, ip, port, pem, path, &root, e);
		got = json_string_value(json_object_get(json_object_get(root, "results"), "hmac"));
		if (status == 200 && got && strlen(got) == BOOTKEY_HMAC_HEX &&
		    CRYPTO_memcmp(got, want, BOOTKEY_HMAC_HEX) == 0) {
			json_decref(root);
			return 0;
		}
		json_decref(root);
		/* Another key: the agent may still hold an earlier payload's K until this
		 * payload's V arrives, as on a re-add; ask again. */
		if (status == 200)
			err_set(e, "the agent's /keys/verify answers for another key than this "
			           "payload's");
		if (time(NULL) >= until)
			break;
		nanosleep(&(struct timespec){0, 250 * 1000 * 1000}, NULL);
	}
	if (status != 0 && status != 200)
		err_set(e, "the agent has no key after %d s (last answer HTTP %d)", timeout_s,
		        status);
	return -1;
}

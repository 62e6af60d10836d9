/* webhook: Standard Webhooks secrets, signatures and their check. */
#include "common/net/webhook.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/base/buf.h"
#include "common/base/log.h"

#define WEBHOOK_PREFIX "whsec_"

void webhook_secret_wipe(webhook_secret_t *s)
{
	if (s != NULL)
		OPENSSL_cleanse(s, sizeof(*s));
}

int webhook_secret_parse(const char *text, size_t len, webhook_secret_t *out, err_t *e)
{
	static const size_t plen = sizeof(WEBHOOK_PREFIX) - 1;
	buf_t raw = BUF_INIT;
	int rv = -1;

	webhook_secret_wipe(out);
	if (len > 0 && text[len - 1] == '\n')
		len--;
	if (len > 0 && text[len - 1] == '\r')
		len--;
	if (len < plen || memcmp(text, WEBHOOK_PREFIX, plen) != 0) {
		err_set(e, "not a Standard Webhooks secret: expected \"whsec_\" followed by the "
		           "base64 of 24 to 64 random bytes");
		goto out;
	}
	if (memchr(text, '\0', len) != NULL || base64_decode(&raw, text + plen, len - plen) < 0) {
		err_set(e, "not a Standard Webhooks secret: the text after \"whsec_\" must be the "
		           "standard base64 of 24 to 64 bytes (one line, padded, no spaces)");
		goto out;
	}
	if (raw.len < WEBHOOK_SECRET_MIN || raw.len > WEBHOOK_SECRET_MAX) {
		err_set(e,
		        "a Standard Webhooks secret decodes to 24 to 64 bytes; this one has %zu "
		        "(make one with: echo whsec_$(head -c 32 /dev/urandom | base64))",
		        raw.len);
		goto out;
	}
	memcpy(out->key, raw.data, raw.len);
	out->len = raw.len;
	rv = 0;
out:
	buf_free_secret(&raw);
	return rv;
}

int webhook_secret_load(const char *path, webhook_secret_t *out, err_t *e)
{
	buf_t b = BUF_INIT;
	err_t pe = {""};
	int rv = -1;

	if (buf_read_file(&b, path, WEBHOOK_SECRET_FILE_MAX) < 0) {
		err_set(e, "cannot read the webhook secret file %s: %s", path,
		        errno == EFBIG ? "larger than 4 KiB" : strerror(errno));
		webhook_secret_wipe(out);
		goto out;
	}
	if (webhook_secret_parse((const char *)b.data, b.len, out, &pe) < 0) {
		err_set(e, "webhook secret file %s: %s", path, pe.msg);
		goto out;
	}
	rv = 0;
out:
	buf_free_secret(&b);
	return rv;
}

/* 1 when id may be a webhook-id: 1..WEBHOOK_ID_MAX printable ASCII characters without
 * '.', the separator of the signed text (an id with one could shift the boundary). */
static int webhook_id_ok(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > WEBHOOK_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (id[i] <= 0x20 || id[i] >= 0x7f || id[i] == '.')
			return 0;
	return 1;
}

/* HMAC-SHA256(s, "<id>.<ts>.<body>") into mac[32]. 0 or -1 (logged). */
static int webhook_mac(const webhook_secret_t *s, const char *id, const char *ts, const void *body,
                       size_t len, uint8_t mac[32])
{
	buf_t msg = BUF_INIT;
	size_t maclen = 0;
	int rv = -1;

	buf_appendf(&msg, "%s.%s.", id, ts);
	buf_append(&msg, body, len);
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, s->key, s->len, msg.data, msg.len, mac,
	              32, &maclen) == NULL ||
	    maclen != 32) {
		log_warnx("webhook: HMAC-SHA256 failed");
		goto out;
	}
	rv = 0;
out:
	buf_free(&msg);
	return rv;
}

int webhook_sign(const webhook_secret_t *s, const char *id, int64_t ts, const void *body,
                 size_t len, char sig[WEBHOOK_SIG_LEN])
{
	uint8_t mac[32];
	char tsbuf[32];
	buf_t b = BUF_INIT;

	sig[0] = '\0';
	if (!webhook_id_ok(id) || ts < 0)
		return -1;
	snprintf(tsbuf, sizeof(tsbuf), "%lld", (long long)ts);
	if (webhook_mac(s, id, tsbuf, body, len, mac) < 0)
		return -1;
	buf_append_str(&b, "v1,");
	base64_encode(&b, mac, sizeof(mac));
	snprintf(sig, WEBHOOK_SIG_LEN, "%s", (const char *)b.data);
	buf_free(&b);
	return 0;
}

int webhook_verify(const webhook_secret_t *s, const char *id, const char *timestamp,
                   const void *body, size_t len, const char *sig_header, int64_t now,
                   int tolerance_s, err_t *e)
{
	uint8_t mac[32];
	const char *p;
	long long ts;
	char *end;

	if (id == NULL || timestamp == NULL || sig_header == NULL) {
		err_set(e, "missing webhook-id, webhook-timestamp or webhook-signature");
		return -1;
	}
	if (!webhook_id_ok(id)) {
		err_set(e, "webhook-id is not 1-%d printable characters without '.'",
		        WEBHOOK_ID_MAX);
		return -1;
	}
	errno = 0;
	ts = strtoll(timestamp, &end, 10);
	if (*timestamp < '0' || *timestamp > '9' || *end != '\0' || errno != 0 ||
	    strlen(timestamp) > 19) {
		err_set(e, "webhook-timestamp is not a number of seconds");
		return -1;
	}
	if (tolerance_s > 0 && (ts < now - tolerance_s || ts > now + tolerance_s)) {
		err_set(e, "webhook-timestamp is more than %d s away from now", tolerance_s);
		return -1;
	}
	if (webhook_mac(s, id, timestamp, body, len, mac) < 0) {
		err_set(e, "cannot compute the HMAC");
		return -1;
	}
	/* Each entry: "v1,<base64>" separated by single spaces; other versions are skipped. */
	for (p = sig_header; *p;) {
		const char *sp = strchr(p, ' ');
		size_t n = sp ? (size_t)(sp - p) : strlen(p);
		buf_t got = BUF_INIT;
		int match = 0;

		if (n > 3 && memcmp(p, "v1,", 3) == 0 && base64_decode(&got, p + 3, n - 3) == 0 &&
		    got.len == sizeof(mac))
			match = CRYPTO_memcmp(got.data, mac, sizeof(mac)) == 0;
		buf_free(&got);
		if (match)
			return 0;
		p += n;
		while (*p == ' ')
			p++;
	}
	err_set(e, "no v1 signature in webhook-signature matches");
	return -1;
}

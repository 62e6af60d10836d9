/* webhook: Standard Webhooks signing (https://www.standardwebhooks.com): the shared secret
 * in its "whsec_<base64>" form, and the three headers a delivery carries:
 *
 *   webhook-id: <the event id>
 *   webhook-timestamp: <unix seconds>
 *   webhook-signature: v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>
 *
 * The HMAC key is the decoded secret, not its text. Receivers can check deliveries with
 * any Standard Webhooks library; webhook_verify is what such a receiver does (tests and
 * the fuzz target use it). */
#ifndef VIGIL_WEBHOOK_H
#define VIGIL_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/err.h"

#define WEBHOOK_SECRET_MIN      24   /* decoded bytes: the spec's range is 24 to 64 */
#define WEBHOOK_SECRET_MAX      64   /* "" */
#define WEBHOOK_SIG_LEN         48   /* "v1," + 44 base64 characters + NUL */
#define WEBHOOK_ID_MAX          256  /* longest webhook-id accepted */
#define WEBHOOK_SECRET_FILE_MAX 4096 /* a secret file larger than this is refused */

/* A decoded secret. Wipe it with webhook_secret_wipe when done. */
typedef struct webhook_secret {
	uint8_t key[WEBHOOK_SECRET_MAX]; /* the HMAC key */
	size_t len;                      /* its length, WEBHOOK_SECRET_MIN..MAX */
} webhook_secret_t;

/* Parse the secret text (borrowed; len bytes, need not be NUL-terminated): "whsec_" then
 * standard base64 of 24 to 64 bytes; one trailing newline ("\n" or "\r\n") is allowed, as
 * an editor or `echo` leaves it. Anything else is refused with a message that names the
 * expected form and never quotes the secret. 0, or -1 with e (out wiped). */
int webhook_secret_parse(const char *text, size_t len, webhook_secret_t *out, err_t *e);
/* The same from a file (read once; the text is wiped after parsing). */
int webhook_secret_load(const char *path, webhook_secret_t *out, err_t *e);
void webhook_secret_wipe(webhook_secret_t *s);

/* The webhook-signature value for a delivery of body (len bytes) with id (printable
 * ASCII, no '.') at unix time ts, into sig ("v1,<base64>"). 0, or -1 when id is not
 * acceptable or the HMAC failed (logged). */
int webhook_sign(const webhook_secret_t *s, const char *id, int64_t ts, const void *body,
                 size_t len, char sig[WEBHOOK_SIG_LEN]);

/* Check a delivery as a receiver does: id and timestamp are the header values as received
 * (timestamp decimal seconds), sig_header the webhook-signature value: one or more
 * space-separated "v<n>,<base64>" entries, of which one "v1" entry must match (compared in
 * constant time). With tolerance_s > 0 the timestamp must also be within tolerance_s of
 * now. 0 when the delivery is authentic, -1 with e saying why not. */
int webhook_verify(const webhook_secret_t *s, const char *id, const char *timestamp,
                   const void *body, size_t len, const char *sig_header, int64_t now,
                   int tolerance_s, err_t *e);

#endif

/* Fuzz target: the webhook code's decoders. The first byte picks one:
 *  0: a secret file's text (webhook_secret_parse); a secret that parses must sign a
 *     delivery that webhook_verify accepts, and refuse it with one body byte changed;
 *  1: a received delivery "id\ntimestamp\nsignature\nbody" checked against the Standard
 *     Webhooks reference secret (webhook_verify, as a receiver runs it);
 *  2: a stored event body (the outbox row's JSON) turned into the webhook body
 *     (events_webhook_body); what comes out must be a JSON object carrying the event's id. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/base/log.h"
#include "common/net/webhook.h"
#include "common/store/store.h"
#include "verifier/events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next '\n'-terminated field of [*p, end) as a new string (caller frees). */
static char *fuzz_field(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
	char *s = malloc(n + 1);

	memcpy(s, *p, n);
	s[n] = '\0';
	*p += nl ? n + 1 : n;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char ref[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
	const uint8_t *p = data + 1, *end = data + size;
	webhook_secret_t s;
	err_t e = {""};

	if (size < 1)
		return 0;
	log_init("fuzz_webhook", 0, 0);
	switch (data[0] % 3) {
	case 0: {
		char sig[WEBHOOK_SIG_LEN];
		if (webhook_secret_parse((const char *)p, size - 1, &s, &e) == 0) {
			if (s.len < WEBHOOK_SECRET_MIN || s.len > WEBHOOK_SECRET_MAX ||
			    webhook_sign(&s, "1-abc", 1700000000, "{}", 2, sig) < 0 ||
			    webhook_verify(&s, "1-abc", "1700000000", "{}", 2, sig, 0, 0, &e) < 0 ||
			    webhook_verify(&s, "1-abc", "1700000000", "{]", 2, sig, 0, 0, &e) == 0)
				abort();
		}
		webhook_secret_wipe(&s);
		break;
	}
	case 1: {
		char *id = fuzz_field(&p, end), *ts = fuzz_field(&p, end),
		     *sig = fuzz_field(&p, end);
		if (webhook_secret_parse(ref, strlen(ref), &s, &e) < 0)
			abort();
		(void)webhook_verify(&s, id, ts, p, (size_t)(end - p), sig, 1700000000, 300, &e);
		free(id);
		free(ts);
		free(sig);
		break;
	}
	default: {
		store_outbox_t row;
		char *body = fuzz_field(&p, end);
		char *out;
		memset(&row, 0, sizeof(row));
		row.id = 1;
		row.event_seq = 7;
		strcpy(row.event_id, "7-0123456789abcdef");
		row.event_time = 1700000000123;
		row.node_uuid = (char *)"node";
		row.event_type = (char *)"revocation";
		row.event_body = body;
		if ((out = events_webhook_body(&row)) != NULL) {
			json_t *j = json_loads(out, 0, NULL);
			json_t *ev = json_object_get(j, "event");
			if (!json_is_object(j) || !json_is_string(json_object_get(j, "msg")) ||
			    strcmp(json_string_value(json_object_get(ev, "id")), row.event_id) != 0)
				abort();
			json_decref(j);
			free(out);
		}
		free(body);
		break;
	}
	}
	return 0;
}

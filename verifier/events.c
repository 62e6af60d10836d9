/* events: the verifier's event history of a node (Keylime's revocation events and ours),
 * and the webhook body that carries one. */
#include "verifier/events.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/base/log.h"

static const char *const *ev_urls;     /* webhook URLs (borrowed), set at start */
static size_t ev_nurls;                /* how many */
static void (*ev_kick)(void *);        /* wakes the delivery thread */
static void *ev_kick_arg;              /* its argument */
static events_msg_signer_fn ev_signer; /* signs Keylime's msg, or NULL */
static void *ev_signer_arg;            /* its argument */

void events_set_webhooks(const char *const *urls, size_t n, void (*kick)(void *), void *arg)
{
	ev_urls = urls;
	ev_nurls = urls ? n : 0;
	ev_kick = kick;
	ev_kick_arg = arg;
}

void events_kick(void)
{
	if (ev_kick != NULL)
		ev_kick(ev_kick_arg);
}

void events_set_msg_signer(events_msg_signer_fn fn, void *arg)
{
	ev_signer = fn;
	ev_signer_arg = arg;
}

int events_record(struct store *st, const store_node_t *rec, const char *type, const char *event_id,
                  const char *reason)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s}", "type", type, "agent_id",
	                      rec->uuid, "event_id", event_id, "context", reason, "ip", rec->ip,
	                      "port", rec->port, "severity_label", "emergency");
	char *body = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	char id[40] = "";
	err_t e = {""};
	int rv = -1;

	if (body == NULL) {
		log_warnx("node %s: cannot encode the %s event (%s)", rec->uuid, type, event_id);
	} else if (store_event_commit(st, rec, rec->uuid, type, "emergency", body, ev_urls,
	                              ev_nurls, id, NULL, &e) != STORE_OK) {
		log_warnx("node %s: cannot record the %s event: %s", rec->uuid, type, e.msg);
	} else {
		rv = 0;
		if (ev_nurls > 0 && ev_kick != NULL)
			ev_kick(ev_kick_arg);
	}
	free(body);
	json_decref(j);
	return rv;
}

/* A string member of o, or def. */
static const char *ev_str(const json_t *o, const char *key, const char *def)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : def;
}

char *events_webhook_body(const store_outbox_t *row)
{
	json_error_t jerr;
	json_t *body = json_loads(row->event_body ? row->event_body : "", 0, &jerr);
	json_t *msg = NULL, *out = NULL, *ev = NULL;
	char *msg_text = NULL, *sig = NULL, *text = NULL, when[64];
	time_t t = (time_t)(row->event_time / 1000);
	struct tm tm;

	if (!json_is_object(body)) {
		log_warnx("webhook: event %s has a body that is not a JSON object", row->event_id);
		goto out;
	}
	json_int_t port = json_integer_value(json_object_get(body, "port"));
	const char *agent = ev_str(body, "agent_id", row->node_uuid ? row->node_uuid : "");
	const char *type = ev_str(body, "type", row->event_type ? row->event_type : "");
	const char *severity =
	    ev_str(body, "severity_label", row->event_severity ? row->event_severity : "");
	/* Keylime's event_time is Python's time.asctime(): "Mon Aug  3 07:14:14 2026", UTC
	 * here so that it does not depend on the verifier's time zone. */
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%a %b %e %H:%M:%S %Y", &tm);
	msg = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s}", "type", type, "ip",
	                ev_str(body, "ip", ""), "agent_id", agent, "port", port, "tpm_policy", "",
	                "meta_data", "{}", "event_time", when, "event_id",
	                ev_str(body, "event_id", ""), "severity_label", severity, "context",
	                ev_str(body, "context", ""));
	if (msg == NULL || (msg_text = json_dumps(msg, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		goto out;
	/* The hook for the revocation signer (common/crypto/revnotice): "" until one is set. */
	if (ev_signer != NULL)
		sig = ev_signer(msg_text, ev_signer_arg);
	ev = json_pack("{s:s, s:I, s:I, s:s?, s:s, s:s?, s:O}", "id", row->event_id, "seq",
	               (json_int_t)row->event_seq, "time", (json_int_t)row->event_time, "node",
	               row->node_uuid, "type", row->event_type ? row->event_type : "", "severity",
	               row->event_severity, "body", body);
	if (ev == NULL)
		goto out;
	out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:O}", "type", type,
	                "agent_id", agent, "event_id", ev_str(body, "event_id", ""), "severity",
	                severity, "context", ev_str(body, "context", ""), "ip",
	                ev_str(body, "ip", ""), "port", port, "msg", msg_text, "signature",
	                sig ? sig : "", "event", ev);
	if (out != NULL)
		text = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
out:
	if (text == NULL && json_is_object(body))
		log_warnx("webhook: cannot encode the body of event %s", row->event_id);
	free(sig);
	free(msg_text);
	json_decref(out);
	json_decref(ev);
	json_decref(msg);
	json_decref(body);
	return text;
}

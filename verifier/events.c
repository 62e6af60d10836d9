/* events: the verifier's trust events (the catalogue in events.h), committed with their
 * webhook deliveries, and the webhook body that carries one. */
#include "verifier/events.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/base/buf.h"
#include "common/base/log.h"
#include "common/crypto/revnotice.h"

/* Each type's severity, on Keylime's scale (info .. emergency). */
static const struct {
	const char *type;
	const char *severity;
} events_catalogue[] = {
    {EVENT_NODE_ADDED, "info"},        {EVENT_NODE_REMOVED, "info"},
    {EVENT_NODE_STOPPED, "notice"},    {EVENT_NODE_REACTIVATED, "info"},
    {EVENT_ATTESTED, "info"},          {EVENT_REVOCATION, "emergency"},
    {EVENT_COMM_ERROR, "error"},       {EVENT_RECOVERED, "info"},
    {EVENT_REBOOT, "notice"},          {EVENT_POLICY_PUT, "info"},
    {EVENT_POLICY_REPLACED, "notice"}, {EVENT_POLICY_DELETED, "notice"},
    {EVENT_CERT_REPINNED, "notice"},   {EVENT_PAYLOAD_V, "info"},
    {EVENT_NODE_UPDATED, "notice"},
};

/* Set once at start (events.h), read without locks afterwards. */
static const char *const *ev_urls;  /* webhook URLs (borrowed) */
static size_t ev_nurls;             /* how many */
static void (*ev_kick)(void *);     /* wakes the delivery thread */
static void *ev_kick_arg;           /* its argument */
static void (*ev_listener)(void *); /* wakes the WatchEvents hub */
static void *ev_listener_arg;       /* its argument */
static const char *ev_key_pem;      /* signs webhook msgs, or NULL */

void events_set_webhooks(const char *const *urls, size_t n, void (*kick)(void *), void *arg)
{
	ev_urls = urls;
	ev_nurls = urls ? n : 0;
	ev_kick = kick;
	ev_kick_arg = arg;
}

void events_set_listener(void (*fn)(void *arg), void *arg)
{
	ev_listener = fn;
	ev_listener_arg = arg;
}

void events_set_revocation_key(const char *key_pem)
{
	ev_key_pem = key_pem;
}

void events_kick(void)
{
	if (ev_kick != NULL)
		ev_kick(ev_kick_arg);
}

const char *events_severity(const char *type)
{
	for (size_t i = 0; i < sizeof(events_catalogue) / sizeof(events_catalogue[0]); i++)
		if (strcmp(events_catalogue[i].type, type) == 0)
			return events_catalogue[i].severity;
	return "info";
}

/* Commit body j (taken) as an event of type about node_uuid (NULL: none), with save's
 * progress fields when save is not NULL, and its deliveries; then wake the channels. */
static int events_commit(struct store *st, const store_node_t *save, const char *node_uuid,
                         const char *type, json_t *j)
{
	const char *sev = events_severity(type);
	char *body;
	char id[40] = "";
	err_t e = {""};
	store_rc_t rc;
	int rv = -1;

	json_object_set_new(j, "severity_label", json_string(sev));
	body = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	if (body == NULL) {
		log_warnx("cannot encode a %s event%s%s", type, node_uuid ? " of node " : "",
		          node_uuid ? node_uuid : "");
	} else if ((rc = store_event_commit(st, save, node_uuid, type, sev, body, ev_urls, ev_nurls,
	                                    id, NULL, &e)) == STORE_FENCED) {
		rv = 1; /* another instance holds the node now: the caller drops it, silently */
	} else if (rc != STORE_OK) {
		log_warnx("cannot record a %s event%s%s: %s", type, node_uuid ? " of node " : "",
		          node_uuid ? node_uuid : "", e.msg);
	} else {
		rv = 0;
		if (ev_nurls > 0 && ev_kick != NULL)
			ev_kick(ev_kick_arg);
		if (ev_listener != NULL)
			ev_listener(ev_listener_arg);
	}
	free(body);
	json_decref(j);
	return rv;
}

int events_record(struct store *st, const store_node_t *rec, int save, const char *type,
                  const char *event_id, const char *reason)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:i}", "type", type, "agent_id",
	                      rec->uuid, "event_id", event_id ? event_id : type, "context",
	                      reason ? reason : "", "ip", rec->ip, "port", rec->port);

	if (j == NULL) {
		log_warnx("node %s: cannot encode the %s event", rec->uuid, type);
		return -1;
	}
	return events_commit(st, save ? rec : NULL, rec->uuid, type, j);
}

char *events_node_body(const store_node_t *rec, const char *type, const char *event_id,
                       const char *reason)
{
	json_t *j =
	    json_pack("{s:s, s:s, s:s, s:s, s:s?, s:i, s:s}", "type", type, "agent_id", rec->uuid,
	              "event_id", event_id ? event_id : type, "context", reason ? reason : "", "ip",
	              rec->ip, "port", rec->port, "severity_label", events_severity(type));
	char *body = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	if (body == NULL)
		log_warnx("node %s: cannot encode the %s event", rec->uuid, type);
	json_decref(j);
	return body;
}

const char *const *events_urls(size_t *n)
{
	*n = ev_nurls;
	return ev_urls;
}

void events_committed(void)
{
	if (ev_nurls > 0 && ev_kick != NULL)
		ev_kick(ev_kick_arg);
	if (ev_listener != NULL)
		ev_listener(ev_listener_arg);
}

int events_record_policy(struct store *st, const char *type, const char *name, const char *kind,
                         const char *sha256)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", type, "event_id", type, "policy",
	                      name, "kind", kind ? kind : "", "sha256", sha256 ? sha256 : "");

	if (j == NULL) {
		log_warnx("policy %s: cannot encode the %s event", name, type);
		return -1;
	}
	return events_commit(st, NULL, NULL, type, j);
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
	json_t *notice = NULL, *out = NULL, *ev = NULL, *context = NULL;
	char *context_text = NULL, *text = NULL;
	buf_t signed_notice = BUF_INIT;
	err_t e = {""};

	if (!json_is_object(body)) {
		log_warnx("webhook: event %s has a body that is not a JSON object", row->event_id);
		goto out;
	}
	json_int_t port = json_integer_value(json_object_get(body, "port"));
	const char *agent = ev_str(body, "agent_id", row->node_uuid ? row->node_uuid : "");
	const char *type = ev_str(body, "type", row->event_type ? row->event_type : "");
	const char *severity =
	    ev_str(body, "severity_label", row->event_severity ? row->event_severity : "");
	/* The same notice a Keylime verifier sends its agents (and vigil's, notices.c). */
	context = json_pack("{s:s}", "message", ev_str(body, "context", ""));
	context_text = context ? json_dumps(context, JSON_COMPACT) : NULL;
	revnotice_fields_t f = {.type = type,
	                        .ip = ev_str(body, "ip", ""),
	                        .agent_id = agent,
	                        .port = (int)port,
	                        .tpm_policy = "{}",
	                        .meta_data = "{}",
	                        .event_time = (time_t)(row->event_time / 1000),
	                        .event_id = ev_str(body, "event_id", type),
	                        .severity_label = severity,
	                        .context = context_text};
	if (revnotice_sign(&f, ev_key_pem, &signed_notice, &e) < 0 ||
	    (notice = json_loadb((const char *)signed_notice.data, signed_notice.len, 0, &jerr)) ==
	        NULL) {
		log_warnx("webhook: cannot build Keylime's notice of event %s: %s", row->event_id,
		          e.msg[0] ? e.msg : jerr.text);
		goto out;
	}
	ev = json_pack("{s:s, s:I, s:I, s:s?, s:s, s:s?, s:O}", "id", row->event_id, "seq",
	               (json_int_t)row->event_seq, "time", (json_int_t)row->event_time, "node",
	               row->node_uuid, "type", row->event_type ? row->event_type : "", "severity",
	               row->event_severity, "body", body);
	if (ev == NULL)
		goto out;
	out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:O, s:O, s:O}", "type", type,
	                "agent_id", agent, "event_id", ev_str(body, "event_id", ""), "severity",
	                severity, "context", ev_str(body, "context", ""), "ip",
	                ev_str(body, "ip", ""), "port", port, "msg", json_object_get(notice, "msg"),
	                "signature", json_object_get(notice, "signature"), "event", ev);
	if (out != NULL)
		text = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
	if (text == NULL)
		log_warnx("webhook: cannot encode the body of event %s", row->event_id);
out:
	buf_free(&signed_notice);
	free(context_text);
	json_decref(context);
	json_decref(notice);
	json_decref(out);
	json_decref(ev);
	json_decref(body);
	return text;
}

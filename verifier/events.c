/* events: the verifier's trust events (the catalogue in events.h), one record each in the
 * store's hash-chained event log. */
#include "verifier/events.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/base/log.h"

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
    {EVENT_CERT_REPINNED, "notice"},
};

const char *events_severity(const char *type)
{
	for (size_t i = 0; i < sizeof(events_catalogue) / sizeof(events_catalogue[0]); i++)
		if (strcmp(events_catalogue[i].type, type) == 0)
			return events_catalogue[i].severity;
	return "info";
}

static void (*events_listener)(void *arg);
static void *events_listener_arg;

void events_set_listener(void (*fn)(void *arg), void *arg)
{
	events_listener = fn;
	events_listener_arg = arg;
}

/* Append body (taken) as an event of type about node_uuid (NULL: none). */
static void events_append(struct store *st, const char *node_uuid, const char *type, json_t *j)
{
	const char *sev = events_severity(type);
	char *body;
	char id[40] = "";
	err_t e = {""};

	json_object_set_new(j, "severity_label", json_string(sev));
	body = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	if (body == NULL)
		log_warnx("cannot encode a %s event%s%s", type, node_uuid ? " of node " : "",
		          node_uuid ? node_uuid : "");
	else if (store_event_append(st, node_uuid, type, sev, body, id, &e) == STORE_OK) {
		if (events_listener)
			events_listener(events_listener_arg);
	} else
		log_warnx("cannot record a %s event%s%s: %s", type, node_uuid ? " of node " : "",
		          node_uuid ? node_uuid : "", e.msg);
	free(body);
	json_decref(j);
}

void events_record(struct store *st, const store_node_t *rec, const char *type,
                   const char *event_id, const char *reason)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:i}", "type", type, "agent_id",
	                      rec->uuid, "event_id", event_id ? event_id : type, "context",
	                      reason ? reason : "", "ip", rec->ip, "port", rec->port);

	if (j == NULL) {
		log_warnx("node %s: cannot encode the %s event", rec->uuid, type);
		return;
	}
	events_append(st, rec->uuid, type, j);
}

void events_record_policy(struct store *st, const char *type, const char *name, const char *kind,
                          const char *sha256)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", type, "event_id", type, "policy",
	                      name, "kind", kind ? kind : "", "sha256", sha256 ? sha256 : "");

	if (j == NULL) {
		log_warnx("policy %s: cannot encode the %s event", name, type);
		return;
	}
	events_append(st, NULL, type, j);
}

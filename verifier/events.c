/* events: the verifier's event history of a node (Keylime's revocation events and ours). */
#include "verifier/events.h"

#include <stdlib.h>

#include <jansson.h>

#include "common/base/log.h"

void events_record(struct store *st, const store_node_t *rec, const char *type,
                   const char *event_id, const char *reason)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s}", "type", type, "agent_id",
	                      rec->uuid, "event_id", event_id, "context", reason, "ip", rec->ip,
	                      "port", rec->port, "severity_label", "emergency");
	char *body = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	char id[40] = "";
	err_t e = {""};

	if (body == NULL)
		log_warnx("node %s: cannot encode the %s event (%s)", rec->uuid, type, event_id);
	else if (store_event_append(st, rec->uuid, type, "emergency", body, id, &e) != STORE_OK)
		log_warnx("node %s: cannot record the %s event: %s", rec->uuid, type, e.msg);
	free(body);
	json_decref(j);
}

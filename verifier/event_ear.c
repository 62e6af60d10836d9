/* event_ear: the EAR JWT of the verdict an event announces (see event_ear.h). */
#include "verifier/event_ear.h"

#include <string.h>

#include <jansson.h>

#include "verifier/events.h"
#include "verifier/verdict_ear.h"

int event_ear_is_verdict(const char *type)
{
	return type != NULL &&
	       (strcmp(type, EVENT_ATTESTED) == 0 || strcmp(type, EVENT_RECOVERED) == 0 ||
	        strcmp(type, EVENT_REVOCATION) == 0 || strcmp(type, EVENT_COMM_ERROR) == 0);
}

int event_ear_jwt(const struct vctx *ctx, const char *type, const char *node_uuid, const char *body,
                  buf_t *out, err_t *e)
{
	verdict_ear_t v;
	json_t *j = NULL;
	int rc;

	if (!event_ear_is_verdict(type) || node_uuid == NULL || *node_uuid == '\0')
		return 0;
	memset(&v, 0, sizeof(v));
	v.uuid = node_uuid;
	v.quote_time = -1;
	v.reset_count = -1;
	if (strcmp(type, EVENT_ATTESTED) == 0 || strcmp(type, EVENT_RECOVERED) == 0) {
		v.status = "PASS";
	} else {
		/* What GetNode shows then: FAIL, and the failed check (revocation) or
		 * "comm_error" as last_event_id. */
		v.status = "FAIL";
		j = json_loads(body ? body : "", 0, NULL);
		v.event_id = json_string_value(json_object_get(j, "event_id"));
		if (v.event_id == NULL || *v.event_id == '\0')
			v.event_id = type;
	}
	rc = verdict_ear_sign(ctx, &v, EAR_FORMAT_JWT, out, e);
	json_decref(j);
	return rc < 0 ? -1 : 1;
}

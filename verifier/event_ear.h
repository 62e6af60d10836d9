/* event_ear: the EAR JWT of the verdict an event announces, for the webhooks and WatchEvents
 * (docs/ear.md, docs/revocation.md). Four event types announce a verdict: attested and
 * recovered (PASS), revocation (FAIL, with the failed check's event_id) and comm_error (the
 * agent does not answer); others carry no token. The token is signed when the event is
 * sent, not when it is recorded (iat is the sending time), through verdict_ear_sign, from
 * what the event itself says: no quote time, reset count or policies (an event does not
 * carry them; GetReport gives the full appraisal). */
#ifndef VIGIL_VERIFIER_EVENT_EAR_H
#define VIGIL_VERIFIER_EVENT_EAR_H

#include "common/base/buf.h"
#include "common/base/err.h"

struct vctx;

/* 1 when an event of type announces a verdict. */
int event_ear_is_verdict(const char *type);
/* The JWT (NUL-terminated text) of the verdict announced by the event of type about
 * node_uuid, whose stored body (JSON text) is body, replacing out. 1 signed; 0 when the
 * event announces no verdict (out untouched); -1 with e when it cannot be signed. */
int event_ear_jwt(const struct vctx *ctx, const char *type, const char *node_uuid, const char *body,
                  buf_t *out, err_t *e);

#endif

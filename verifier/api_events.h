/* api_events: the event log's vigil.v1.Verifier methods (ListEvents, GetEvent,
 * GetAuditKey, ExportEvents). They only read the store, on the gRPC thread's connection,
 * and answer at once; api.c lists them in its method table. */
#ifndef VIGIL_VERIFIER_API_EVENTS_H
#define VIGIL_VERIFIER_API_EVENTS_H

#include "common/net/grpcsrv.h"

struct store_event;
struct Vigil__V1__Event;
/* Fill pe from ev (borrowing its strings). */
void api_event_fill(struct Vigil__V1__Event *pe, const struct store_event *ev);

/* Handlers (grpcsrv_handler_fn); arg is the vctx_t. */
int api_list_events(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                    err_t *e);
int api_get_event(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                  err_t *e);
int api_get_audit_key(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                      err_t *e);
int api_export_events(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                      err_t *e);

#endif

/* api_outbox: the vigil.v1.Verifier methods of the webhook outbox (ListOutbox,
 * RetryOutbox), kept beside api.c's table. They run on the gRPC thread with its store
 * connection; the handler argument is the vctx_t. */
#ifndef VIGIL_VERIFIER_API_OUTBOX_H
#define VIGIL_VERIFIER_API_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/buf.h"
#include "common/base/err.h"
#include "common/net/grpcsrv.h"

int api_list_outbox(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                    err_t *e);
int api_retry_outbox(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                     err_t *e);

#endif

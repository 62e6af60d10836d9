/* api_report: the vigil.v1.Verifier methods of on-demand attestation and trust reports
 * (AttestNow, GetReport, GetReportKey); api.c lists them in its method table. */
#ifndef VIGIL_VERIFIER_API_REPORT_H
#define VIGIL_VERIFIER_API_REPORT_H

#include "common/net/grpcsrv.h"

/* Handlers (grpcsrv_handler_fn); arg is the vctx_t. */
int api_attest_now(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                   err_t *e);
int api_get_report(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                   err_t *e);
int api_get_report_key(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                       err_t *e);

#endif

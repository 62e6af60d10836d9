/* grpccli: a blocking unary gRPC client on the gRPC core C API, for vigilctl. */
#ifndef VIGIL_GRPCCLI_H
#define VIGIL_GRPCCLI_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/buf.h"
#include "common/base/err.h"

typedef struct grpccli_tls {
	const char *ca_file;   /* PEM CA that the server certificate must chain to */
	const char *cert_file; /* client certificate (mutual TLS) */
	const char *key_file;  /* its key */
} grpccli_tls_t;

typedef struct grpccli grpccli_t;

/* A channel to target "host:port"; tls NULL means plaintext. NULL on error. */
grpccli_t *grpccli_new(const char *target, const grpccli_tls_t *tls, err_t *e);
void grpccli_free(grpccli_t *c);

/* Call method (e.g. "/vigil.v1.Verifier/GetNode") with the serialized request; the
 * serialized reply goes to resp. Returns the gRPC status code (0 OK), or -1 when the call
 * could not be made; e holds the server's status details or our reason. */
int grpccli_call(grpccli_t *c, const char *method, const uint8_t *req, size_t req_len, buf_t *resp,
                 int timeout_s, err_t *e);

/* Name of a gRPC status code ("NOT_FOUND"), for messages. */
const char *grpccli_status_name(int code);

#endif

/* grpcsrv: a small unary gRPC server on the gRPC core C API. It runs its own thread with
 * one completion queue and calls the method handlers there, one call at a time (the
 * control plane's rate does not need more). Handlers see raw protobuf bytes; the daemon
 * unpacks them through common/pb.h. */
#ifndef VIGIL_GRPCSRV_H
#define VIGIL_GRPCSRV_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

/* gRPC status codes used by handlers (values of grpc_status_code). */
enum {
	GRPCSRV_OK = 0,
	GRPCSRV_INVALID_ARGUMENT = 3,
	GRPCSRV_NOT_FOUND = 5,
	GRPCSRV_ALREADY_EXISTS = 6,
	GRPCSRV_PERMISSION_DENIED = 7,
	GRPCSRV_FAILED_PRECONDITION = 9,
	GRPCSRV_UNIMPLEMENTED = 12,
	GRPCSRV_INTERNAL = 13,
	GRPCSRV_UNAVAILABLE = 14,
};

/* Handle one request: req/req_len are the serialized request message (borrowed); write
 * the serialized reply into resp. Return a status code above; on an error put an
 * operator-readable message in e (sent as the status details). */
typedef int (*grpcsrv_unary_fn)(void *arg, const uint8_t *req, size_t req_len, buf_t *resp,
                                err_t *e);

typedef struct grpcsrv_method {
	const char *path;    /* "/vigil.v1.Verifier/AddNode" */
	grpcsrv_unary_fn fn; /* its handler */
} grpcsrv_method_t;

typedef struct grpcsrv_tls {
	const char *cert_file;      /* PEM server certificate */
	const char *key_file;       /* PEM private key */
	const char *client_ca_file; /* PEM CA that client certificates must chain to */
} grpcsrv_tls_t;

typedef struct grpcsrv grpcsrv_t;

/* Listen on "host:port" with mutual TLS (tls non-NULL) or plaintext (tls NULL; only for
 * tests: the caller enforces the explicit opt-in). methods ends with a NULL path and is
 * borrowed, as is arg. Max request size max_msg bytes. NULL on error (e says why). */
grpcsrv_t *grpcsrv_new(const char *listen, const grpcsrv_tls_t *tls,
                       const grpcsrv_method_t *methods, void *arg, size_t max_msg, err_t *e);
/* Start serving in a new thread. 0 or -1. */
int grpcsrv_start(grpcsrv_t *s);
/* Stop (cancels calls in flight), join the thread, free everything. NULL does nothing. */
void grpcsrv_free(grpcsrv_t *s);

#endif

/* api: vigil.v1.Registrar over gRPC (registrar.grpc_listen, mutual TLS): list, show and
 * delete enrollments for operators (docs/api.md). Its handlers run on the gRPC server's
 * own thread with a store connection of their own, so they never wait on the registrar's
 * event loop and the loop never waits on them. */
#ifndef VIGIL_REGISTRAR_API_H
#define VIGIL_REGISTRAR_API_H

#include "common/base/config.h"
#include "common/base/err.h"

typedef struct regapi regapi_t;

/* Open a store connection to database (a store URL) and serve the API on
 * registrar.grpc_listen with the TLS files and limits of cfg (borrowed for the API's
 * lifetime). NULL with e set on error. */
regapi_t *regapi_new(const config_t *cfg, const char *database, err_t *e);
/* Stop serving (calls in flight are cancelled), close the store. NULL does nothing. */
void regapi_free(regapi_t *a);

#endif

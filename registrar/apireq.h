/* apireq: the checks of every vigil.v1.Registrar request, before a handler touches the
 * store (fuzzed: test/fuzz/fuzz_registrar_grpc.c). Each returns a gRPC status code
 * (GRPCSRV_OK, or GRPCSRV_INVALID_ARGUMENT with e naming the field); NULL requests (bytes
 * that did not decode) are refused. */
#ifndef VIGIL_REGISTRAR_APIREQ_H
#define VIGIL_REGISTRAR_APIREQ_H

#include <stddef.h>

#include "common/base/err.h"
#include "common/net/paging.h"
#include "common/net/pb.h"

/* ListEnrollments: *limit enrollments after the agent id in after ("" from the first). */
int apireq_list_enrollments(const Vigil__V1__ListEnrollmentsRequest *r, size_t *limit,
                            char after[PAGING_KEY_MAX + 1], err_t *e);
int apireq_get_enrollment(const Vigil__V1__GetEnrollmentRequest *r, err_t *e);
int apireq_delete_enrollment(const Vigil__V1__DeleteEnrollmentRequest *r, err_t *e);

#endif

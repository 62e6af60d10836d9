/* api: the vigil.v1.Verifier gRPC methods. Handlers run on the gRPC thread; they change
 * the store directly and the nodes through their workers, and a call that needs a worker
 * is answered from that worker (the gRPC thread never waits for one). */
#ifndef VIGIL_VERIFIER_API_H
#define VIGIL_VERIFIER_API_H

#include "common/net/grpcsrv.h"

struct Vigil__V1__Node;
struct node_status;
struct vctx;

/* Fill a proto Node from a snapshot (borrowing its strings). */
void api_node_fill(struct Vigil__V1__Node *pn, const struct node_status *st,
                   const struct vctx *ctx);

/* The method table; the handler argument is the vctx_t. */
extern const grpcsrv_method_t api_methods[];

#endif

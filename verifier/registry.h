/* registry: the verifier's in-memory index of nodes by UUID, shared by the gRPC thread
 * (lookups for GetNode/ListNodes) and the workers (which own the nodes). The registry
 * holds borrowed pointers; a worker removes its node before freeing it. */
#ifndef VIGIL_VERIFIER_REGISTRY_H
#define VIGIL_VERIFIER_REGISTRY_H

#include <stddef.h>

struct node;

typedef struct registry registry_t;

registry_t *registry_new(void);
void registry_free(registry_t *r); /* the nodes are not freed */
/* 0, or -1 when the uuid is already present. */
int registry_add(registry_t *r, struct node *n);
void registry_remove(registry_t *r, struct node *n);
/* Run fn on the node named uuid while the registry is locked (the node cannot go away
 * meanwhile). 0 when found, -1 when not. */
int registry_with(registry_t *r, const char *uuid, void (*fn)(struct node *n, void *arg),
                  void *arg);
/* Run fn on every node, locked, in UUID order. */
void registry_each(registry_t *r, void (*fn)(struct node *n, void *arg), void *arg);
size_t registry_count(registry_t *r);

#endif

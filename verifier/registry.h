/* registry: the verifier's in-memory index of nodes by UUID, shared by the gRPC thread
 * (lookups for GetNode/ListNodes) and the workers (which own the nodes). It knows nothing
 * of nodes: it keeps opaque pointers under a borrowed key and hands them to the caller's
 * callback, so it never calls back into node.c. A worker removes its node before freeing
 * it, and the key (the node's UUID) lives as long as the entry. */
#ifndef VIGIL_VERIFIER_REGISTRY_H
#define VIGIL_VERIFIER_REGISTRY_H

#include <stddef.h>

typedef struct registry registry_t;

/* Run on an entry's item while the registry is locked (the item cannot go away). */
typedef void (*registry_fn)(void *item, void *arg);

registry_t *registry_new(void);
void registry_free(registry_t *r); /* the items are not freed */
/* Add item under key (both borrowed). 0, or -1 when the key is already present. */
int registry_add(registry_t *r, const char *key, void *item);
/* Remove the entry of key if it holds item (a newer item under the same key stays). */
void registry_remove(registry_t *r, const char *key, const void *item);
/* Run fn on the item under key. 0 when found, -1 when not. */
int registry_with(registry_t *r, const char *key, registry_fn fn, void *arg);
/* Run fn on every item, locked, in key order. */
void registry_each(registry_t *r, registry_fn fn, void *arg);
/* Run fn, locked, on at most limit items whose keys sort after after (byte order; "" or
 * NULL: from the first), in key order: one page of a keyset walk. Returns how many ran.
 * O(log n + limit): the start is found by binary search, not by a scan. */
size_t registry_page(registry_t *r, const char *after, size_t limit, registry_fn fn, void *arg);
size_t registry_count(registry_t *r);

#endif

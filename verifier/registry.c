/* registry: UUID -> node index, a sorted array under one mutex. Lookups are O(log n);
 * adds and removes are O(n) memmoves, which is fine at control-plane rates (nodes are
 * added by operators, not per round). */
#include "verifier/registry.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/xmalloc.h"

typedef struct registry_entry {
	const char *key; /* borrowed: the item's UUID */
	void *item;      /* borrowed */
} registry_entry_t;

struct registry {
	pthread_mutex_t lock;    /* guards everything below */
	registry_entry_t *nodes; /* sorted by key */
	size_t n, cap;           /* used and allocated slots */
};

registry_t *registry_new(void)
{
	registry_t *r = xcalloc(1, sizeof(*r));

	pthread_mutex_init(&r->lock, NULL);
	return r;
}

void registry_free(registry_t *r)
{
	if (r == NULL)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r->nodes);
	free(r);
}

/* Index of uuid, or of where it would go (with *found = 0). Caller holds the lock. */
static size_t registry_find(registry_t *r, const char *uuid, int *found)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(r->nodes[mid].key, uuid);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

int registry_add(registry_t *r, const char *key, void *item)
{
	int found;
	size_t i;

	pthread_mutex_lock(&r->lock);
	i = registry_find(r, key, &found);
	if (found) {
		pthread_mutex_unlock(&r->lock);
		return -1;
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->nodes = xrealloc(r->nodes, r->cap * sizeof(*r->nodes));
	}
	memmove(&r->nodes[i + 1], &r->nodes[i], (r->n - i) * sizeof(*r->nodes));
	r->nodes[i].key = key;
	r->nodes[i].item = item;
	r->n++;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

void registry_remove(registry_t *r, const char *key, const void *item)
{
	int found;
	size_t i;

	pthread_mutex_lock(&r->lock);
	i = registry_find(r, key, &found);
	if (found && r->nodes[i].item == item) {
		memmove(&r->nodes[i], &r->nodes[i + 1], (r->n - i - 1) * sizeof(*r->nodes));
		r->n--;
	}
	pthread_mutex_unlock(&r->lock);
}

int registry_with(registry_t *r, const char *key, registry_fn fn, void *arg)
{
	int found;
	size_t i;

	pthread_mutex_lock(&r->lock);
	i = registry_find(r, key, &found);
	if (found)
		fn(r->nodes[i].item, arg);
	pthread_mutex_unlock(&r->lock);
	return found ? 0 : -1;
}

void registry_each(registry_t *r, registry_fn fn, void *arg)
{
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->n; i++)
		fn(r->nodes[i].item, arg);
	pthread_mutex_unlock(&r->lock);
}

size_t registry_page(registry_t *r, const char *after, size_t limit, registry_fn fn, void *arg)
{
	size_t i = 0, ran = 0;
	int found = 0;

	pthread_mutex_lock(&r->lock);
	if (after && *after) {
		i = registry_find(r, after, &found);
		if (found)
			i++; /* strictly after the key */
	}
	for (; i < r->n && ran < limit; i++, ran++)
		fn(r->nodes[i].item, arg);
	pthread_mutex_unlock(&r->lock);
	return ran;
}

size_t registry_count(registry_t *r)
{
	size_t n;

	pthread_mutex_lock(&r->lock);
	n = r->n;
	pthread_mutex_unlock(&r->lock);
	return n;
}

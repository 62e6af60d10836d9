/* vctx: helpers over the shared context. */
#include "verifier/vctx.h"

#include <string.h>

uint32_t vctx_hash(const char *s);

/* FNV-1a: a stable spread of UUIDs over workers. */
uint32_t vctx_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

struct worker *vctx_worker_for(vctx_t *ctx, const char *uuid)
{
	return ctx->workers[vctx_hash(uuid) % (uint32_t)ctx->nworkers];
}

int vctx_list_has(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		while (len && *p == ' ')
			p++, len--;
		while (len && p[len - 1] == ' ')
			len--;
		if (len == n && strncmp(p, name, n) == 0)
			return 1;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return 0;
}

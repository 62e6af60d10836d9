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

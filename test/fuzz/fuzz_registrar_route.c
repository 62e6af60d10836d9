/* Fuzz target: the registrar's URL routing (registrar_route_parse). Any path gets a route;
 * an id is NUL-terminated within its buffer and free of '/', a version is one the registrar
 * serves whenever the route needs one. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registrar/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *path = malloc(size + 1), id[96], ver[16];
	route_t rt;
	int served = 0;

	memcpy(path, data, size);
	path[size] = '\0';
	rt = registrar_route_parse(path, id, sizeof(id), ver, sizeof(ver));
	if (memchr(id, '\0', sizeof(id)) == NULL || strchr(id, '/') != NULL ||
	    memchr(ver, '\0', sizeof(ver)) == NULL)
		abort();
	for (int i = 0; i < REGISTRAR_API_COUNT; i++)
		served |= strcmp(ver, registrar_api_versions[i]) == 0;
	if ((rt == ROUTE_COLLECTION || rt == ROUTE_AGENT || rt == ROUTE_ACTIVATE) && !served)
		abort();
	if (rt == ROUTE_ACTIVATE && id[0] == '\0')
		abort();
	free(path);
	return 0;
}

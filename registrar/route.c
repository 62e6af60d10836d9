/* route: the registrar's URL routing. */
#include "registrar/route.h"

#include <stdio.h>
#include <string.h>

const char *const registrar_api_versions[REGISTRAR_API_COUNT] = {"2.1", "2.2", "2.3",
                                                                 "2.4", "2.5", "2.6"};

/* Split the path into a route, the agent id (borrowed into idbuf) and the API version. */
route_t registrar_route_parse(const char *path, char *idbuf, size_t idsz, char *ver, size_t versz)
{
	const char *p = path, *rest, *slash;
	unsigned maj = 0, min = 0;
	int nmin = -1, k = 0;
	size_t n;

	idbuf[0] = '\0';
	ver[0] = '\0';
	if (strcmp(p, "/version") == 0 || strcmp(p, "/version/") == 0)
		return ROUTE_VERSION;
	if (strncmp(p, "/v", 2) != 0)
		return ROUTE_NONE;
	p += 2;
	/* "/v<major>.<minor>/" or "/v<major>/" (the latest minor, as Keylime accepts). */
	while (*p >= '0' && *p <= '9' && k < 3)
		maj = maj * 10 + (unsigned)(*p++ - '0'), k++;
	if (k == 0 || (*p != '.' && *p != '/'))
		return ROUTE_NONE;
	if (*p == '.') {
		p++;
		nmin = 0;
		for (k = 0; *p >= '0' && *p <= '9' && k < 3; k++)
			min = min * 10 + (unsigned)(*p++ - '0'), nmin++;
		if (nmin == 0)
			return ROUTE_NONE;
	}
	if (*p != '/')
		return ROUTE_NONE;
	rest = p + 1;
	if (nmin < 0)
		snprintf(ver, versz, "%u", maj);
	else
		snprintf(ver, versz, "%u.%u", maj, min);
	if (nmin < 0 && maj == 2) {
		snprintf(ver, versz, "%s", registrar_api_versions[REGISTRAR_API_COUNT - 1]);
	} else {
		size_t i;
		for (i = 0; i < REGISTRAR_API_COUNT; i++)
			if (strcmp(ver, registrar_api_versions[i]) == 0)
				break;
		if (i == REGISTRAR_API_COUNT)
			return ROUTE_BAD_API;
	}
	if (strncmp(rest, "agents", 6) != 0)
		return ROUTE_NONE;
	rest += 6;
	if (*rest == '\0' || strcmp(rest, "/") == 0)
		return ROUTE_COLLECTION;
	if (*rest != '/')
		return ROUTE_NONE;
	rest++;
	slash = strchr(rest, '/');
	n = slash ? (size_t)(slash - rest) : strlen(rest);
	if (n == 0 || n >= idsz)
		return n == 0 ? ROUTE_NONE : ROUTE_AGENT; /* too long: caught as invalid id */
	memcpy(idbuf, rest, n);
	idbuf[n] = '\0';
	if (slash == NULL || strcmp(slash, "/") == 0)
		return ROUTE_AGENT;
	if (strcmp(slash, "/activate") == 0 || strcmp(slash, "/activate/") == 0)
		return ROUTE_ACTIVATE;
	return ROUTE_NONE;
}

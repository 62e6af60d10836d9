/* route: what a registrar request path names (Keylime's /version, /vX.Y/agents[/{id}
 * [/activate]]) and the API versions served. A pure function of the path, so that it can be
 * fuzzed alone. */
#ifndef VIGIL_REGISTRAR_ROUTE_H
#define VIGIL_REGISTRAR_ROUTE_H

#include <stddef.h>

/* The registrar API versions served, oldest first. */
#define REGISTRAR_API_COUNT 6
extern const char *const registrar_api_versions[REGISTRAR_API_COUNT];

/* What a request path names. */
typedef enum {
	ROUTE_NONE,       /* no such route: 404 */
	ROUTE_VERSION,    /* /version */
	ROUTE_BAD_API,    /* /vX.Y/... with X.Y not served: 400 */
	ROUTE_COLLECTION, /* /vX.Y/agents[/] */
	ROUTE_AGENT,      /* /vX.Y/agents/{id} */
	ROUTE_ACTIVATE,   /* /vX.Y/agents/{id}/activate */
} route_t;

/* Split path (percent-decoded, as the HTTP server hands it) into a route, the agent id
 * (into idbuf, idsz bytes; "" when none) and the API version (into ver, versz bytes). An
 * id too long for idbuf leaves idbuf empty with ROUTE_AGENT, for the caller to refuse as
 * an invalid id. */
route_t registrar_route_parse(const char *path, char *idbuf, size_t idsz, char *ver, size_t versz);

#endif

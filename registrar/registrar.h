/* registrar: the Keylime registrar API v2.1-2.6 on two listeners: agent routes over plain
 * HTTP, admin routes over HTTPS with client certificates. */
#ifndef VIGIL_REGISTRAR_REGISTRAR_H
#define VIGIL_REGISTRAR_REGISTRAR_H

#include "common/base/config.h"

struct event_base;

typedef struct registrar registrar_t;

/* Open the store, load the EK CA store and start both listeners on base, all from cfg
 * (borrowed for the registrar's lifetime). NULL on error (logged). */
registrar_t *registrar_new(struct event_base *base, const config_t *cfg);
void registrar_free(registrar_t *r); /* NULL does nothing */

#endif

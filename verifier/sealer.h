/* sealer: seals the event log (common/store/audit.h) with the verifier's audit key: when
 * audit_seal_records records are unsealed, or audit_seal_interval has passed with anything
 * unsealed, and once at a clean shutdown. It runs on the main thread's timer with its own
 * store connection, so it never waits for a worker or the gRPC thread. */
#ifndef VIGIL_VERIFIER_SEALER_H
#define VIGIL_VERIFIER_SEALER_H

#include <openssl/evp.h>

#include "common/base/err.h"

typedef struct sealer sealer_t;

/* Open the store at database for sealing with key (taken: the sealer frees it) every
 * records records or interval_ms. NULL (e says why) on error. */
sealer_t *sealer_new(const char *database, EVP_PKEY *key, int records, int interval_ms, err_t *e);
/* How often sealer_tick wants to run, in milliseconds. */
int sealer_tick_ms(const sealer_t *s);
/* Seal the newest record when a seal is due (see above). Failures are logged. */
void sealer_tick(sealer_t *s);
/* Seal the newest record if it is not sealed yet (at shutdown, once no worker appends). */
void sealer_flush(sealer_t *s);
void sealer_free(sealer_t *s); /* NULL does nothing */

#endif

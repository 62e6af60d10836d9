/* ekcert_priv: test-only access to common/ekcert. */
#ifndef VIGIL_EKCERT_PRIV_H
#define VIGIL_EKCERT_PRIV_H

#include <time.h>

#include "common/crypto/ekcert.h"

/* Verify chains at unix time at instead of now (0: now again), so that tests with real
 * vendor certificates do not start failing when one of them expires. */
void ekca_set_time(ekca_t *s, time_t at);

#endif

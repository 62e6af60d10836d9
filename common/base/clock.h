/* clock: the monotonic clock in milliseconds, for deadlines, rates and stalls (never
 * for times that are stored or shown: those are wall-clock). */
#ifndef VIGIL_CLOCK_H
#define VIGIL_CLOCK_H

#include <stdint.h>

int64_t clock_mono_ms(void);

#endif

/* rate: a token bucket, the one way vigil bounds how often something may start (costly
 * first rounds per worker, revocation notices per worker). The caller keeps the rate and
 * the burst; the bucket keeps only its tokens, so a zeroed bucket is ready to use (full at
 * its first use). Not thread-safe: one owner thread. And a fixed cadence (a node's
 * rounds): the next point of a phase. */
#ifndef VIGIL_RATE_H
#define VIGIL_RATE_H

#include <stdint.h>

typedef struct rate_bucket {
	double tokens; /* starts allowed now (may be fractional) */
	int64_t at;    /* when counted (clock_mono_ms), 0: never, full at first use */
} rate_bucket_t;

/* Refill for the time since the last call at rate per second, capped at burst; the
 * whole tokens now available. now is clock_mono_ms(). */
unsigned long rate_fill(rate_bucket_t *b, double rate, double burst, int64_t now);
/* Spend n tokens (after rate_fill said they are there). */
void rate_take(rate_bucket_t *b, double n);
/* Milliseconds until one whole token is there at rate per second (0: there is one). */
int rate_wait_ms(const rate_bucket_t *b, double rate);
/* The first time at or after from that is phase past a whole number of periods (phase in
 * [0, period)): the points of a cadence with that phase. from when period <= 0. Times in
 * milliseconds of one clock. */
int64_t rate_next_phase(int64_t phase, int64_t from, int64_t period);

#endif

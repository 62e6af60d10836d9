/* prom: what a daemon needs to expose metrics in the Prometheus text format (version
 * 0.0.4): counters that one thread bumps without a lock while another reads them, a
 * latency histogram over fixed buckets, and the writer of the exposition text.
 *
 * A counter has one writer (the thread that owns it: a verifier worker, the registrar's
 * loop) and any number of readers (the metrics thread). The writer's increment is a
 * relaxed load and store, a plain add on every CPU we build for, never a lock or a
 * locked instruction; readers see each value whole. Several writers sum their own
 * counters at read time instead of sharing one. */
#ifndef VIGIL_PROM_H
#define VIGIL_PROM_H

#include <stdatomic.h>
#include <stdint.h>

#include "common/base/buf.h"

typedef _Atomic uint64_t prom_counter_t;

/* Add v to c: only from c's one writer thread. */
static inline void prom_add(prom_counter_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
	                      memory_order_relaxed);
}

/* Set c (a gauge) to v: only from c's one writer thread. */
static inline void prom_set(prom_counter_t *c, uint64_t v)
{
	atomic_store_explicit(c, v, memory_order_relaxed);
}

/* Read c: from any thread. */
static inline uint64_t prom_get(const prom_counter_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* Latency buckets, upper bounds in seconds: 1 ms to 30 s (30 s is the longest request an
 * agent may take by default). The histogram keeps one more, +Inf. */
#define PROM_BUCKETS 14
extern const double prom_bounds[PROM_BUCKETS];

/* A histogram with one writer. Each bucket counts its own observations (not cumulative);
 * the text is cumulative. */
typedef struct prom_hist {
	prom_counter_t
	    bucket[PROM_BUCKETS + 1]; /* observations per bucket, last: over all bounds */
	prom_counter_t sum_us;        /* their sum in microseconds */
} prom_hist_t;

/* Count one observation of us microseconds: only from h's one writer thread. */
void prom_hist_observe(prom_hist_t *h, uint64_t us);

/* What the reader sums from several histograms. */
typedef struct prom_hist_sum {
	uint64_t bucket[PROM_BUCKETS + 1]; /* per bucket, not cumulative */
	uint64_t sum_us;                   /* microseconds */
} prom_hist_sum_t;

/* Add what h holds now to s (any thread). */
void prom_hist_sum_add(prom_hist_sum_t *s, const prom_hist_t *h);
/* The observations in s: what its _count line says. */
uint64_t prom_hist_sum_count(const prom_hist_sum_t *s);

/* Microseconds of a monotonic clock, for latencies. */
int64_t prom_now_us(void);

/* ---- the exposition text ---- */

/* "# HELP name help" and "# TYPE name type" (type: counter, gauge, histogram). name is a
 * metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), help plain text without newlines or
 * backslashes. */
void prom_family(buf_t *b, const char *name, const char *type, const char *help);
/* One sample line: name, then {label="value"} when label is not NULL (value escaped as
 * the format wants: backslash, double quote, newline), then v. */
void prom_sample(buf_t *b, const char *name, const char *label, const char *value, uint64_t v);
/* A family of one unlabelled sample: prom_family, then the sample name v. */
void prom_scalar(buf_t *b, const char *name, const char *type, const char *help, uint64_t v);
/* One sample line with a value of seconds (v microseconds, printed as seconds). */
void prom_sample_seconds(buf_t *b, const char *name, const char *label, const char *value,
                         uint64_t us);
/* A whole histogram family: HELP and TYPE, name_bucket lines for every bound and +Inf
 * (cumulative), name_sum (seconds) and name_count. */
void prom_histogram(buf_t *b, const char *name, const char *help, const prom_hist_sum_t *s);

/* Copy a label value made of outside or open-ended text into out (n bytes) as
 * [a-z0-9_] only: other bytes become '_', and it is cut at n - 1. An empty result is
 * "other". What goes into labels must stay a small set: callers bound how many. */
void prom_label_clean(char *out, size_t n, const char *in, size_t len);

#endif

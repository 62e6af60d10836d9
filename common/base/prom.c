/* prom: counters, histograms and the Prometheus text format (common/base/prom.h). */
#include "common/base/prom.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const double prom_bounds[PROM_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                          0.25,  0.5,    1,     2.5,  5,     10,   30};

void prom_hist_observe(prom_hist_t *h, uint64_t us)
{
	size_t i = 0;

	while (i < PROM_BUCKETS && (double)us > prom_bounds[i] * 1e6)
		i++;
	prom_add(&h->bucket[i], 1);
	prom_add(&h->sum_us, us);
}

void prom_hist_sum_add(prom_hist_sum_t *s, const prom_hist_t *h)
{
	for (size_t i = 0; i <= PROM_BUCKETS; i++)
		s->bucket[i] += prom_get(&h->bucket[i]);
	s->sum_us += prom_get(&h->sum_us);
}

uint64_t prom_hist_sum_count(const prom_hist_sum_t *s)
{
	uint64_t n = 0;

	for (size_t i = 0; i <= PROM_BUCKETS; i++)
		n += s->bucket[i];
	return n;
}

int64_t prom_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void prom_family(buf_t *b, const char *name, const char *type, const char *help)
{
	buf_appendf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_labels(buf_t *b, const char *name, const char *label, const char *value)
{
	buf_append_str(b, name);
	if (label == NULL)
		return;
	buf_appendf(b, "{%s=\"", label);
	for (const char *p = value; *p; p++) {
		if (*p == '\\' || *p == '"')
			buf_appendf(b, "\\%c", *p);
		else if (*p == '\n')
			buf_append_str(b, "\\n");
		else
			buf_append(b, p, 1);
	}
	buf_append_str(b, "\"}");
}

void prom_sample(buf_t *b, const char *name, const char *label, const char *value, uint64_t v)
{
	prom_labels(b, name, label, value);
	buf_appendf(b, " %" PRIu64 "\n", v);
}

void prom_scalar(buf_t *b, const char *name, const char *type, const char *help, uint64_t v)
{
	prom_family(b, name, type, help);
	prom_sample(b, name, NULL, NULL, v);
}

void prom_sample_seconds(buf_t *b, const char *name, const char *label, const char *value,
                         uint64_t us)
{
	prom_labels(b, name, label, value);
	buf_appendf(b, " %" PRIu64 ".%06" PRIu64 "\n", us / 1000000, us % 1000000);
}

void prom_histogram(buf_t *b, const char *name, const char *help, const prom_hist_sum_t *s)
{
	uint64_t cum = 0;

	prom_family(b, name, "histogram", help);
	for (size_t i = 0; i < PROM_BUCKETS; i++) {
		cum += s->bucket[i];
		buf_appendf(b, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, prom_bounds[i], cum);
	}
	cum += s->bucket[PROM_BUCKETS];
	buf_appendf(b, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cum);
	buf_appendf(b, "%s_sum %" PRIu64 ".%06" PRIu64 "\n", name, s->sum_us / 1000000,
	            s->sum_us % 1000000);
	buf_appendf(b, "%s_count %" PRIu64 "\n", name, cum);
}

void prom_label_clean(char *out, size_t n, const char *in, size_t len)
{
	size_t k = 0;

	if (n == 0)
		return;
	for (size_t i = 0; i < len && k + 1 < n; i++) {
		char c = in[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		out[k++] = ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') ? c : '_';
	}
	out[k] = '\0';
	if (k == 0)
		snprintf(out, n, "other");
}

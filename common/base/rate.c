/* rate: a token bucket (see rate.h). */
#include "common/base/rate.h"

unsigned long rate_fill(rate_bucket_t *b, double rate, double burst, int64_t now)
{
	if (b->at == 0)
		b->tokens = burst;
	else if (now > b->at)
		b->tokens += (double)(now - b->at) * rate / 1000.0;
	if (b->tokens > burst)
		b->tokens = burst;
	if (now > b->at)
		b->at = now;
	return b->tokens < 1 ? 0 : (unsigned long)b->tokens;
}

void rate_take(rate_bucket_t *b, double n)
{
	b->tokens -= n;
}

int rate_wait_ms(const rate_bucket_t *b, double rate)
{
	if (b->tokens >= 1)
		return 0;
	if (rate <= 0)
		return 1000;
	return (int)((1 - b->tokens) * 1000.0 / rate) + 1;
}

int64_t rate_next_phase(int64_t phase, int64_t from, int64_t period)
{
	int64_t d;

	if (period <= 0)
		return from;
	d = (phase - from) % period;
	return from + (d < 0 ? d + period : d);
}

/* show: how vigilctl prints shared values (show.h). */
#include "ctl/show.h"

#include <stdio.h>
#include <time.h>

#include "common/net/pb.h"

void ctl_time(char *out, size_t n, int64_t ms, int millis, const char *none)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char s[24];

	if (none != NULL && ms <= 0) {
		snprintf(out, n, "%s", none);
		return;
	}
	gmtime_r(&t, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	if (millis)
		snprintf(out, n, "%s.%03dZ", s, (int)(ms % 1000));
	else
		snprintf(out, n, "%sZ", s);
}

const char *ctl_policy_kind_name(int kind)
{
	switch (kind) {
	case VIGIL__V1__POLICY_KIND__POLICY_KIND_PCR:
		return "pcr";
	case VIGIL__V1__POLICY_KIND__POLICY_KIND_RUNTIME:
		return "runtime";
	case VIGIL__V1__POLICY_KIND__POLICY_KIND_MB:
		return "mb";
	default:
		return "?";
	}
}

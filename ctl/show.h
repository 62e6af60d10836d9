/* show: how vigilctl prints the values every command shows the same way. */
#ifndef VIGIL_CTL_SHOW_H
#define VIGIL_CTL_SHOW_H

#include <stddef.h>
#include <stdint.h>

/* The UTC time of unix milliseconds ms into out (n bytes): "YYYY-MM-DDTHH:MM:SSZ", with
 * ".mmm" before the Z when millis. When none is not NULL, ms <= 0 prints none instead. */
void ctl_time(char *out, size_t n, int64_t ms, int millis, const char *none);

/* A vigil.v1.PolicyKind as vigilctl names it: "pcr", "runtime", "mb", or "?". */
const char *ctl_policy_kind_name(int kind);

#endif

/* pcr_policy: the static PCR policy, Keylime's tpm_policy JSON:
 *   {"<pcr>": ["<hex>", ...], ..., "mask": "0x..."}
 * Each named PCR must be in the quote with one of the listed values. PCR 10 (IMA) and 16
 * (payload-key binding) have their own checks and may not be named. "mask" is accepted
 * and ignored: the verifier derives the mask from all of a node's policies. */
#ifndef VIGIL_PCR_POLICY_H
#define VIGIL_PCR_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/err.h"

#define PCR_POLICY_MAX_BYTES (1 << 20) /* a PCR policy larger than this is refused */

typedef struct pcr_policy pcr_policy_t;

/* Parse and validate (PCR numbers 0-23 except 10 and 16, lists of 1-64 hex digests of
 * SHA-1/256/384/512 length, nothing else). NULL on error, e says what is wrong. */
pcr_policy_t *pcr_policy_parse(const char *json, size_t len, err_t *e);
void pcr_policy_free(pcr_policy_t *p);
/* Bit i set when the policy names PCR i. */
uint32_t pcr_policy_mask(const pcr_policy_t *p);

/* Look up a quoted PCR value: returns the digest (borrowed) and its length, or NULL when
 * the PCR was not quoted. */
typedef const uint8_t *(*pcr_lookup_fn)(void *arg, int pcr, size_t *len);

/* 0 when every named PCR is quoted with an allowed value. Else -1, *event_id set to
 * "pcr_validation.invalid_pcr_N" or "pcr_validation.missing_pcrs", and e naming the PCR
 * and the value seen. */
int pcr_policy_check(const pcr_policy_t *p, pcr_lookup_fn lookup, void *arg, const char **event_id,
                     err_t *e);
/* 1 when PCR pcr may hold value v (len bytes): the policy does not name it, or names v
 * among its allowed values; 0 otherwise. For reports, PCR by PCR (pcr_policy_check stops
 * at the first refusal). */
int pcr_policy_allows(const pcr_policy_t *p, int pcr, const uint8_t *v, size_t len);

#endif

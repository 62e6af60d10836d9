/* policies: the verifier's cache of parsed policies. A policy document is parsed once per
 * content (SHA-256) and shared, reference-counted, by every node that uses it, whatever
 * its name; nodes hold a policy_obj_t for each of their policies. Thread-safe. */
#ifndef VIGIL_VERIFIER_POLICIES_H
#define VIGIL_VERIFIER_POLICIES_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/err.h"

struct store;
struct pcr_policy;
struct runtime_policy;
struct mb_policy;

typedef enum {
	POLICY_PCR,     /* stored kind "tpm_pcr" */
	POLICY_RUNTIME, /* "runtime" */
	POLICY_MB,      /* "measured_boot" */
} policy_kind_t;

typedef struct policy_obj {
	char sha256[65];                /* content address */
	policy_kind_t kind;             /* which member is set */
	int refs;                       /* guarded by the cache lock */
	struct pcr_policy *pcr;         /* POLICY_PCR */
	struct runtime_policy *runtime; /* POLICY_RUNTIME (its own refcount, we hold one) */
	struct mb_policy *mb;           /* POLICY_MB */
} policy_obj_t;

typedef struct policies policies_t;

policies_t *policies_new(void);
void policies_free(policies_t *c); /* every object must have been released */

/* The stored kind name of k ("tpm_pcr", "runtime", "measured_boot"). */
const char *policy_kind_store_name(policy_kind_t k);
/* Parse body as kind k only to validate it (PutPolicy). 0 or -1 with e. */
int policy_validate(policy_kind_t k, const uint8_t *body, size_t len, err_t *e);

/* The parsed policy named name (of kind k) from store s, shared. NULL with e when it does
 * not exist, is of another kind or does not parse. Release with policies_release. */
policy_obj_t *policies_acquire(policies_t *c, struct store *s, const char *name, policy_kind_t k,
                               err_t *e);
void policies_release(policies_t *c, policy_obj_t *p); /* NULL does nothing */
size_t policies_count(policies_t *c);                  /* distinct parsed documents */

#endif

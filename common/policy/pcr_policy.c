/* pcr_policy: static PCR policy parsing and checking. */
#include "common/policy/pcr_policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/base/buf.h"
#include "common/base/xmalloc.h"

#define PCR_POLICY_MAX_VALUES 64 /* allowed values per PCR */

typedef struct pcr_allowed {
	size_t n;                                 /* number of values */
	size_t len[PCR_POLICY_MAX_VALUES];        /* digest length of each */
	uint8_t value[PCR_POLICY_MAX_VALUES][64]; /* the digests */
} pcr_allowed_t;

/* Keylime's failure event ids, one per PCR. */
static const char *const pcr_policy_event_ids[24] = {
    "pcr_validation.invalid_pcr_0",  "pcr_validation.invalid_pcr_1",
    "pcr_validation.invalid_pcr_2",  "pcr_validation.invalid_pcr_3",
    "pcr_validation.invalid_pcr_4",  "pcr_validation.invalid_pcr_5",
    "pcr_validation.invalid_pcr_6",  "pcr_validation.invalid_pcr_7",
    "pcr_validation.invalid_pcr_8",  "pcr_validation.invalid_pcr_9",
    "pcr_validation.invalid_pcr_10", "pcr_validation.invalid_pcr_11",
    "pcr_validation.invalid_pcr_12", "pcr_validation.invalid_pcr_13",
    "pcr_validation.invalid_pcr_14", "pcr_validation.invalid_pcr_15",
    "pcr_validation.invalid_pcr_16", "pcr_validation.invalid_pcr_17",
    "pcr_validation.invalid_pcr_18", "pcr_validation.invalid_pcr_19",
    "pcr_validation.invalid_pcr_20", "pcr_validation.invalid_pcr_21",
    "pcr_validation.invalid_pcr_22", "pcr_validation.invalid_pcr_23"};

struct pcr_policy {
	uint32_t mask;          /* PCRs named */
	pcr_allowed_t *pcr[24]; /* allowed values per PCR, NULL when not named */
};

void pcr_policy_free(pcr_policy_t *p)
{
	if (p == NULL)
		return;
	for (int i = 0; i < 24; i++)
		free(p->pcr[i]);
	free(p);
}

static int pcr_policy_index(const char *key)
{
	char *end;
	long v;

	if (key[0] < '0' || key[0] > '9' || (key[0] == '0' && key[1]) || strlen(key) > 2)
		return -1;
	v = strtol(key, &end, 10);
	if (*end || v < 0 || v > 23)
		return -1;
	return (int)v;
}

pcr_policy_t *pcr_policy_parse(const char *json, size_t len, err_t *e)
{
	pcr_policy_t *p = NULL;
	json_error_t je;
	json_t *root, *val;
	const char *key;

	if (len > PCR_POLICY_MAX_BYTES) {
		err_set(e, "PCR policy is %zu bytes, over the %d byte limit", len,
		        PCR_POLICY_MAX_BYTES);
		return NULL;
	}
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		err_set(e, "PCR policy is not valid JSON: %s (line %d)", je.text, je.line);
		return NULL;
	}
	if (!json_is_object(root)) {
		err_set(e, "PCR policy must be a JSON object of \"<pcr>\": [\"<hex>\", ...]");
		goto fail;
	}
	p = xcalloc(1, sizeof(*p));
	json_object_foreach(root, key, val)
	{
		int idx;
		size_t i;
		json_t *v;

		if (strcmp(key, "mask") == 0) {
			if (!json_is_string(val)) {
				err_set(e, "PCR policy: \"mask\" must be a hex string");
				goto fail;
			}
			continue;
		}
		if ((idx = pcr_policy_index(key)) < 0) {
			err_set(e, "PCR policy: \"%.32s\" is not a PCR number 0-23", key);
			goto fail;
		}
		if (idx == 10 || idx == 16) {
			err_set(e, "PCR policy may not name PCR %d (%s)", idx,
			        idx == 10 ? "IMA is checked by the runtime policy"
			                  : "it binds the payload key");
			goto fail;
		}
		if (!json_is_array(val) || json_array_size(val) == 0 ||
		    json_array_size(val) > PCR_POLICY_MAX_VALUES) {
			err_set(e, "PCR policy: PCR %d needs a list of 1 to %d hex digests", idx,
			        PCR_POLICY_MAX_VALUES);
			goto fail;
		}
		p->pcr[idx] = xcalloc(1, sizeof(pcr_allowed_t));
		json_array_foreach(val, i, v)
		{
			const char *hex = json_string_value(v);
			size_t hl = hex ? strlen(hex) : 0;
			buf_t b = BUF_INIT;

			if (hex && hl > 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X'))
				hex += 2, hl -= 2;
			if (hex == NULL || (hl != 40 && hl != 64 && hl != 96 && hl != 128) ||
			    hex_decode(&b, hex, hl) < 0) {
				err_set(
				    e,
				    "PCR policy: PCR %d value %zu is not a hex SHA-1/256/384/512 "
				    "digest",
				    idx, i);
				buf_free(&b);
				goto fail;
			}
			memcpy(p->pcr[idx]->value[i], b.data, b.len);
			p->pcr[idx]->len[i] = b.len;
			p->pcr[idx]->n++;
			buf_free(&b);
		}
		p->mask |= 1u << idx;
	}
	json_decref(root);
	return p;
fail:
	json_decref(root);
	pcr_policy_free(p);
	return NULL;
}

uint32_t pcr_policy_mask(const pcr_policy_t *p)
{
	return p ? p->mask : 0;
}

int pcr_policy_check(const pcr_policy_t *p, pcr_lookup_fn lookup, void *arg, const char **event_id,
                     err_t *e)
{
	for (int i = 0; i < 24; i++) {
		const pcr_allowed_t *a = p->pcr[i];
		const uint8_t *v;
		size_t vl;

		if (a == NULL)
			continue;
		if ((v = lookup(arg, i, &vl)) == NULL) {
			*event_id = "pcr_validation.missing_pcrs";
			err_set(e, "PCR %d is in the PCR policy but not in the quote", i);
			return -1;
		}
		size_t k;
		for (k = 0; k < a->n; k++)
			if (a->len[k] == vl && memcmp(a->value[k], v, vl) == 0)
				break;
		if (k == a->n) {
			buf_t h = BUF_INIT;

			hex_encode(&h, v, vl);
			*event_id = pcr_policy_event_ids[i];
			err_set(e, "PCR %d is %s, not a value the PCR policy allows", i,
			        (char *)h.data);
			buf_free(&h);
			return -1;
		}
	}
	return 0;
}

int pcr_policy_allows(const pcr_policy_t *p, int pcr, const uint8_t *v, size_t len)
{
	const pcr_allowed_t *a;

	if (p == NULL || pcr < 0 || pcr >= 24 || (a = p->pcr[pcr]) == NULL)
		return 1;
	for (size_t k = 0; k < a->n; k++)
		if (a->len[k] == len && memcmp(a->value[k], v, len) == 0)
			return 1;
	return 0;
}

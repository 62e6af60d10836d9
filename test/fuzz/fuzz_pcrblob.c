/* Fuzz target: the PCR blob decoder. What decodes must encode back to a blob that
 * decodes to the same selection and values, and to the very same bytes when the input
 * grouped its values the canonical way (8 per group, as tpm2-tools writes them). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/buf.h"
#include "common/evidence/quote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	quote_pcrsel_t sel, sel2;
	buf_t vals = BUF_INIT, vals2 = BUF_INIT, out = BUF_INIT;
	bool canonical = true;

	if (quote_pcrblob_decode(data, size, &sel, &vals, NULL) != QUOTE_OK)
		goto done;
	if (quote_pcrsel_values_len(&sel) != vals.len)
		abort();
	if (quote_pcrblob_encode(&out, &sel, vals.data, vals.len, NULL) < 0)
		abort();
	if (quote_pcrblob_decode(out.data, out.len, &sel2, &vals2, NULL) != QUOTE_OK ||
	    sel.count != sel2.count || vals.len != vals2.len ||
	    (vals.len && memcmp(vals.data, vals2.data, vals.len) != 0))
		abort();
	for (unsigned b = 0; b < sel.count; b++)
		if (sel.bank[b].alg != sel2.bank[b].alg || sel.bank[b].mask != sel2.bank[b].mask)
			abort();
	size_t groups = (size - 136) / 532;
	for (size_t g = 0; g + 1 < groups; g++)
		if (le32(data + 136 + g * 532) != 8)
			canonical = false;
	if (canonical && (out.len != size || memcmp(out.data, data, size) != 0))
		abort();
done:
	buf_free(&vals);
	buf_free(&vals2);
	buf_free(&out);
	return 0;
}

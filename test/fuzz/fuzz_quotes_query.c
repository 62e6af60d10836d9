/* Fuzz target: the query string of GET /quotes/integrity and /quotes/identity (anything a
 * client sends), and the IMA list slicing over arbitrary text. The first byte picks the
 * quote kind (odd: identity) and, with the second, the IMA entry asked for; the rest is the
 * query string (up to the first NUL) and the list. Every accepted query must satisfy the
 * grammar quotes_query.h promises; every slice must start at a line boundary. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/evidence/quotes_query.h"
#include "common/base/xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int alnum(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	quotes_kind_t kind;
	quotes_query_t q;
	uint64_t entry, started;
	size_t off;
	char *qs;

	if (size < 2)
		return 0;
	kind = (data[0] & 1) ? QUOTES_IDENTITY : QUOTES_INTEGRITY;
	entry = (uint64_t)(data[0] >> 1) | ((uint64_t)data[1] << 7);
	data += 2, size -= 2;

	qs = xstrndup((const char *)data, size);
	if (quotes_query_parse(qs, kind, &q, NULL) == 0) {
		if (q.nonce_len < 1 || q.nonce_len > QUOTES_NONCE_MAX ||
		    strlen(q.nonce) != q.nonce_len)
			abort();
		for (size_t i = 0; i < q.nonce_len; i++)
			if (!alnum((unsigned char)q.nonce[i]))
				abort();
		if ((q.mask & ~QUOTES_PCR_MASK) || (q.partial != 0 && q.partial != 1) ||
		    q.ima_ml_entry > QUOTES_ENTRY_MAX || (!q.has_entry && q.ima_ml_entry))
			abort();
		if (kind == QUOTES_IDENTITY && (q.mask || q.partial || q.has_entry))
			abort();
	}
	free(qs);

	off = quotes_ima_slice((const char *)data, size, entry, &started);
	if (off > size || (off > 0 && off < size && data[off - 1] != '\n'))
		abort();
	if (started != entry && (started != 0 || off != 0))
		abort();
	return 0;
}

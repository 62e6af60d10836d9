/* Fuzz target: strict base64 and hex decoding must never crash, and what decodes must
 * encode back to the same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	buf_t d = BUF_INIT, e = BUF_INIT;

	if (base64_decode(&d, (const char *)data, size) == 0) {
		base64_encode(&e, d.data, d.len);
		if (e.len != size || (size && memcmp(e.data, data, size) != 0))
			abort();
	}
	buf_reset(&d);
	(void)hex_decode(&d, (const char *)data, size);
	buf_free(&d);
	buf_free(&e);
	return 0;
}

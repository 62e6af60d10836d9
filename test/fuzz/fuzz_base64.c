/* Fuzz target: strict base64 and hex decoding must never crash, and what decodes must
 * encode back to the same text; any bytes encoded must decode back to themselves, appended
 * after what the buffer held, and a refused text must leave the buffer as it was. */
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
	buf_set(&d, "kept", 4);
	buf_reset(&e);
	base64_encode(&e, data, size);
	if (base64_decode(&d, (const char *)e.data, e.len) != 0 || d.len != 4 + size ||
	    memcmp(d.data, "kept", 4) != 0 || (size && memcmp(d.data + 4, data, size) != 0))
		abort();
	buf_set(&d, "kept", 4);
	if (base64_decode(&d, (const char *)data, size) != 0 &&
	    (d.len != 4 || memcmp(d.data, "kept", 5) != 0))
		abort();
	buf_reset(&d);
	(void)hex_decode(&d, (const char *)data, size);
	buf_free(&d);
	buf_free(&e);
	return 0;
}

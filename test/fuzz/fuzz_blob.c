/* Fuzz target: the credential blob decoder (what the agent gets from a registrar). What
 * decodes must be exactly the header plus the two pieces, back to back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/buf.h"
#include "common/crypto/makecred.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	buf_t id = BUF_INIT, sec = BUF_INIT;
	err_t e = {""};

	if (makecred_blob_decode(data, size, &id, &sec, &e) == 0) {
		if (8 + id.len + sec.len != size || memcmp(id.data, data + 8, id.len) != 0 ||
		    memcmp(sec.data, data + 8 + id.len, sec.len) != 0)
			abort();
	} else if (e.msg[0] == 0 || id.len != 0 || sec.len != 0) {
		abort();
	}
	buf_free(&id);
	buf_free(&sec);
	return 0;
}

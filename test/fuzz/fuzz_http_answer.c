/* Fuzz target: an HTTP/1.x answer as a server sends it to vigil's client (status line,
 * headers, Content-Length, chunked or until-close body, interim answers), parsed in two
 * pieces split where the first byte says. Whatever the bytes, no crash, no body over the
 * limit, and a complete answer has a status from 200 to 599. */
#include <stdint.h>
#include <stdlib.h>

#include "common/net/http_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int status = 0;
	size_t body_len = 0, split;
	int rv;

	if (size < 1)
		return 0;
	split = data[0];
	rv = http_answer_parse(data + 1, size - 1, split, 4096, &status, &body_len);
	if (rv > 0 && (status < 200 || status > 599))
		abort();
	if (body_len > 4096)
		abort();
	return 0;
}

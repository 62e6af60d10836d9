/* Fuzz target: the audit export (common/store/audit.h) as vigilctl events verify reads
 * it: the line decoder on every line, then the whole offline verification with the key
 * from the export's own header. A record that decodes must encode again to a line that
 * decodes to the same hash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "common/store/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	audit_result_t r;
	size_t pos = 0;

	if (size > (4u << 20))
		return 0;
	while (pos < size) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t n = nl ? (size_t)(nl - (data + pos)) : size - pos;
		audit_line_t l;
		err_t e = {""};

		if (audit_line_decode((const char *)data + pos, n, &l, &e) == 0 &&
		    l.kind == AUDIT_LINE_RECORD) {
			buf_t b = BUF_INIT;
			audit_line_t again;
			audit_export_record(&l.ev, &b);
			if (audit_line_decode((const char *)b.data, b.len - 1, &again, &e) != 0 ||
			    strcmp(again.ev.hash, l.ev.hash) != 0 || again.ev.seq != l.ev.seq)
				abort();
			audit_line_clear(&again);
			buf_free(&b);
		}
		audit_line_clear(&l);
		pos += n + 1;
	}
	(void)audit_verify_export(data, size, NULL, &r);
	ERR_clear_error();
	return 0;
}

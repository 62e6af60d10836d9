/* zipwrite: a minimal ZIP writer for tests (stored or deflated entries, Unix modes, any
 * name, and hooks to damage what it writes), so the reader's tests build their archives
 * here instead of checking in binaries. Not for production: no ZIP64, no checks. */
#ifndef VIGIL_TEST_ZIPWRITE_H
#define VIGIL_TEST_ZIPWRITE_H

#include <stdint.h>
#include <string.h>

#include <zlib.h>

#include "common/base/buf.h"

typedef struct zw {
	buf_t out; /* the archive so far */
	buf_t cd;  /* the central directory so far */
	int n;     /* entries */
} zw_t;

static inline void zw_le16(buf_t *b, unsigned v)
{
	uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	buf_append(b, x, 2);
}

static inline void zw_le32(buf_t *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	buf_append(b, x, 4);
}

/* Add an entry: method 0 (stored) or 8 (deflate); mode a Unix st_mode (0: none, "made
 * by" MS-DOS). crc_xor is XORed into the CRC written (0: the right one). */
static inline void zw_add(zw_t *z, const char *name, const void *data, size_t len, int method,
                          unsigned mode, uint32_t crc_xor)
{
	uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), data, (uInt)len) ^ crc_xor;
	size_t off = z->out.len, nl = strlen(name);
	buf_t comp = BUF_INIT;

	if (method == 8) {
		z_stream s;
		memset(&s, 0, sizeof(s));
		deflateInit2(&s, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
		buf_reserve(&comp, deflateBound(&s, (uLong)len));
		s.next_in = (Bytef *)(uintptr_t)data;
		s.avail_in = (uInt)len;
		s.next_out = comp.data;
		s.avail_out = (uInt)comp.cap;
		deflate(&s, Z_FINISH);
		comp.len = s.total_out;
		deflateEnd(&s);
	} else {
		buf_append(&comp, data, len);
	}
	zw_le32(&z->out, 0x04034b50);
	zw_le16(&z->out, 20);
	zw_le16(&z->out, 0);
	zw_le16(&z->out, (unsigned)method);
	zw_le16(&z->out, 0);
	zw_le16(&z->out, 0x21);
	zw_le32(&z->out, crc);
	zw_le32(&z->out, (uint32_t)comp.len);
	zw_le32(&z->out, (uint32_t)len);
	zw_le16(&z->out, (unsigned)nl);
	zw_le16(&z->out, 0);
	buf_append(&z->out, name, nl);
	buf_append(&z->out, comp.data, comp.len);

	zw_le32(&z->cd, 0x02014b50);
	zw_le16(&z->cd, mode ? (3u << 8 | 20) : 20);
	zw_le16(&z->cd, 20);
	zw_le16(&z->cd, 0);
	zw_le16(&z->cd, (unsigned)method);
	zw_le16(&z->cd, 0);
	zw_le16(&z->cd, 0x21);
	zw_le32(&z->cd, crc);
	zw_le32(&z->cd, (uint32_t)comp.len);
	zw_le32(&z->cd, (uint32_t)len);
	zw_le16(&z->cd, (unsigned)nl);
	zw_le16(&z->cd, 0);
	zw_le16(&z->cd, 0);
	zw_le16(&z->cd, 0);
	zw_le16(&z->cd, 0);
	zw_le32(&z->cd, (uint32_t)mode << 16);
	zw_le32(&z->cd, (uint32_t)off);
	buf_append(&z->cd, name, nl);
	z->n++;
	buf_free(&comp);
}

/* Append the central directory and the end record; z->out is the archive. */
static inline void zw_finish(zw_t *z)
{
	size_t cd_off = z->out.len;

	buf_append(&z->out, z->cd.data, z->cd.len);
	zw_le32(&z->out, 0x06054b50);
	zw_le16(&z->out, 0);
	zw_le16(&z->out, 0);
	zw_le16(&z->out, (unsigned)z->n);
	zw_le16(&z->out, (unsigned)z->n);
	zw_le32(&z->out, (uint32_t)z->cd.len);
	zw_le32(&z->out, (uint32_t)cd_off);
	zw_le16(&z->out, 0);
}

static inline void zw_free(zw_t *z)
{
	buf_free(&z->out);
	buf_free(&z->cd);
}

#endif

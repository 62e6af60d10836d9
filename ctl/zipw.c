/* zipw: a stored-only ZIP writer (PKWARE APPNOTE 6.3: local file header, central
 * directory header, end of central directory record; all little-endian). */
#include "ctl/zipw.h"

#include <stdint.h>
#include <string.h>

#include <zlib.h>

#define ZIPW_MAX_NAME 1024

static void zipw_le16(buf_t *b, unsigned v)
{
	uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

	buf_append(b, x, 2);
}

static void zipw_le32(buf_t *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

	buf_append(b, x, 4);
}

/* The fields local and central headers share, from "version needed" to the name length. */
static void zipw_common(buf_t *b, uint32_t crc, uint32_t size, size_t nl)
{
	zipw_le16(b, 10);   /* version needed: 1.0, stored */
	zipw_le16(b, 0);    /* flags */
	zipw_le16(b, 0);    /* method: stored */
	zipw_le16(b, 0);    /* DOS time 00:00:00 */
	zipw_le16(b, 0x21); /* DOS date 1980-01-01: reproducible archives */
	zipw_le32(b, crc);
	zipw_le32(b, size); /* compressed */
	zipw_le32(b, size); /* uncompressed */
	zipw_le16(b, (unsigned)nl);
}

int zipw_add(zipw_t *z, const char *name, const void *data, size_t len, unsigned perm, err_t *e)
{
	size_t nl = strlen(name), off = z->out.len;
	uint32_t crc;

	if (nl == 0 || nl > ZIPW_MAX_NAME || name[0] == '/' || name[nl - 1] == '/') {
		err_set(e, "zip entry name \"%s\" is not a relative file path", name);
		return -1;
	}
	if (z->n >= 65535 || len > 0xfffffffeu || off + len + nl + 30 > 0xfffffffeu) {
		err_set(e, "zip archive too large for a plain ZIP (no ZIP64)");
		return -1;
	}
	crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), data, (uInt)len);
	zipw_le32(&z->out, 0x04034b50);
	zipw_common(&z->out, crc, (uint32_t)len, nl);
	zipw_le16(&z->out, 0); /* extra length */
	buf_append(&z->out, name, nl);
	buf_append(&z->out, data, len);

	zipw_le32(&z->cd, 0x02014b50);
	zipw_le16(&z->cd, (3u << 8) | 20); /* made by: Unix, spec 2.0 (modes are Unix) */
	zipw_common(&z->cd, crc, (uint32_t)len, nl);
	zipw_le16(&z->cd, 0);                                           /* extra length */
	zipw_le16(&z->cd, 0);                                           /* comment length */
	zipw_le16(&z->cd, 0);                                           /* disk number */
	zipw_le16(&z->cd, 0);                                           /* internal attributes */
	zipw_le32(&z->cd, (uint32_t)(0100000u | (perm & 0777u)) << 16); /* S_IFREG | perm */
	zipw_le32(&z->cd, (uint32_t)off);
	buf_append(&z->cd, name, nl);
	z->n++;
	return 0;
}

int zipw_finish(zipw_t *z, err_t *e)
{
	size_t cd_off = z->out.len;

	if (cd_off + z->cd.len > 0xfffffffeu) {
		err_set(e, "zip archive too large for a plain ZIP (no ZIP64)");
		return -1;
	}
	buf_append(&z->out, z->cd.data, z->cd.len);
	zipw_le32(&z->out, 0x06054b50);
	zipw_le16(&z->out, 0); /* this disk */
	zipw_le16(&z->out, 0); /* disk of the central directory */
	zipw_le16(&z->out, (unsigned)z->n);
	zipw_le16(&z->out, (unsigned)z->n);
	zipw_le32(&z->out, (uint32_t)z->cd.len);
	zipw_le32(&z->out, (uint32_t)cd_off);
	zipw_le16(&z->out, 0); /* comment length */
	return 0;
}

void zipw_free(zipw_t *z)
{
	buf_free_secret(&z->out);
	buf_free_secret(&z->cd);
	z->n = 0;
}

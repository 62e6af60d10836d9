/* unzip: see unzip.h. Two passes over the central directory: the first checks the
 * structure, every name and every entry's data (inflated, sized and CRC-checked, then
 * dropped); only when all of it passed does the second inflate each entry again and hand
 * it out. Inflating twice costs CPU but keeps memory to one entry at a time. */
#include "agent/unzip.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zlib.h>

#include "common/base/buf.h"
#include "common/base/xmalloc.h"

#define SIG_LOCAL   0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_END     0x06054b50u
#define LOCAL_LEN   30
#define CENTRAL_LEN 46
#define END_LEN     22
#define HOST_UNIX   3

const unzip_limits_t unzip_default_limits = {
    .max_entries = 1024,
    .max_entry = 64u << 20,
    .max_total = 64u << 20,
};

/* One entry as the central directory describes it. */
typedef struct zent {
	char *name;      /* NUL-terminated, checked */
	size_t name_len; /* bytes */
	int is_dir;      /* ends in '/' */
	int executable;  /* Unix mode with an execute bit */
	uint16_t method; /* 0 stored, 8 deflate */
	uint32_t crc;    /* CRC-32 of the content */
	size_t csize;    /* compressed bytes */
	size_t usize;    /* uncompressed bytes */
	size_t local;    /* offset of the local header */
	size_t data;     /* offset of the data (after the local header) */
} zent_t;

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int unzip_is_zip(const uint8_t *data, size_t len)
{
	return len >= 4 && (rd32(data) == SIG_LOCAL || (len == END_LEN && rd32(data) == SIG_END));
}

/* A name safe to create under a fresh folder: relative, no ".", ".." or empty component,
 * printable ASCII or UTF-8 bytes (no control byte, no backslash). */
static int name_ok(const char *n, size_t len, int is_dir, err_t *e)
{
	size_t end = is_dir ? len - 1 : len, start = 0;
	char shown[96];

	text_escape(shown, sizeof(shown), n, len);
	if (len == 0 || end == 0) {
		err_set(e, "an entry with an empty name");
		return 0;
	}
	if (n[0] == '/') {
		err_set(e, "entry \"%s\": an absolute path", shown);
		return 0;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)n[i];
		if (c < 0x20 || c == 0x7f || c == '\\') {
			err_set(e, "entry \"%s\": a control byte or backslash in the name", shown);
			return 0;
		}
	}
	for (size_t i = 0; i <= end; i++) {
		if (i < end && n[i] != '/')
			continue;
		size_t cl = i - start;
		if (cl == 0 || (cl == 1 && n[start] == '.') ||
		    (cl == 2 && n[start] == '.' && n[start + 1] == '.')) {
			err_set(e, "entry \"%s\": an empty, \".\" or \"..\" path component", shown);
			return 0;
		}
		if (cl > 255) {
			err_set(e, "entry \"%s\": a path component over 255 bytes", shown);
			return 0;
		}
		start = i + 1;
	}
	return 1;
}

/* Inflate or copy one entry into out (replacing), checking size and CRC. */
static int entry_content(const uint8_t *data, const zent_t *z, buf_t *out, err_t *e)
{
	const uint8_t *src = data + z->data;
	char shown[96];
	z_stream zs;
	int zr;

	text_escape(shown, sizeof(shown), z->name, z->name_len);
	buf_reset(out);
	buf_reserve(out, z->usize);
	if (z->method == 0) {
		if (z->csize != z->usize) {
			err_set(e, "entry \"%s\": stored with two sizes", shown);
			return -1;
		}
		buf_append(out, src, z->csize);
	} else {
		memset(&zs, 0, sizeof(zs));
		if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
			err_set(e, "zlib cannot start inflating");
			return -1;
		}
		/* Room for one byte more than declared, so that a longer stream shows. */
		buf_reserve(out, 1);
		zs.next_in = (Bytef *)(uintptr_t)src;
		zs.avail_in = (uInt)z->csize;
		zs.next_out = out->data;
		zs.avail_out = (uInt)(z->usize + 1);
		zr = inflate(&zs, Z_FINISH);
		out->len = zs.total_out;
		inflateEnd(&zs);
		if (zr != Z_STREAM_END || zs.total_out != z->usize || zs.total_in != z->csize) {
			err_set(e, "entry \"%s\": the deflate data is corrupt or not %zu bytes",
			        shown, z->usize);
			return -1;
		}
		out->data[out->len] = 0;
	}
	if ((uint32_t)crc32(crc32(0L, Z_NULL, 0), out->data ? out->data : (const Bytef *)"",
	                    (uInt)out->len) != z->crc) {
		err_set(e, "entry \"%s\": CRC-32 mismatch", shown);
		return -1;
	}
	return 0;
}

static int cmp_local(const void *a, const void *b)
{
	const zent_t *x = *(const zent_t *const *)a, *y = *(const zent_t *const *)b;
	return x->local < y->local ? -1 : x->local > y->local;
}

static int cmp_name(const void *a, const void *b)
{
	const zent_t *x = *(const zent_t *const *)a, *y = *(const zent_t *const *)b;
	return strcmp(x->name, y->name);
}

/* Two entries for one path, or a file that another entry uses as a folder. */
static int names_clash(zent_t **by, size_t n, err_t *e)
{
	char shown[96];

	qsort(by, n, sizeof(*by), cmp_name);
	for (size_t i = 0; i + 1 < n; i++) {
		const zent_t *a = by[i], *b = by[i + 1];
		size_t al = a->is_dir ? a->name_len - 1 : a->name_len;
		size_t bl = b->is_dir ? b->name_len - 1 : b->name_len;
		if (al == bl && memcmp(a->name, b->name, al) == 0) {
			text_escape(shown, sizeof(shown), a->name, al);
			err_set(e, "two entries named \"%s\"", shown);
			return 1;
		}
	}
	/* A file "a" and any "a/..." : in sorted order "a/..." need not follow "a" directly
	 * ("a.txt" sorts between), so look each file up. */
	for (size_t i = 0; i < n; i++) {
		const zent_t *f = by[i];
		if (f->is_dir)
			continue;
		for (size_t j = 0; j < n; j++) {
			const zent_t *g = by[j];
			if (g->name_len > f->name_len && g->name[f->name_len] == '/' &&
			    memcmp(g->name, f->name, f->name_len) == 0) {
				text_escape(shown, sizeof(shown), f->name, f->name_len);
				err_set(e, "entry \"%s\" is a file and a folder", shown);
				return 1;
			}
		}
	}
	return 0;
}

/* Pass one: the central directory into ents, everything checked. */
static int zip_check(const uint8_t *d, size_t len, const unzip_limits_t *lim, zent_t *ents,
                     size_t *nents, err_t *e)
{
	size_t end = 0, cd_off, cd_size, n, p, total = 0;
	zent_t **by = NULL;
	buf_t tmp = BUF_INIT;
	int found = 0, rv = -1;

	*nents = 0;
	if (len < END_LEN) {
		err_set(e, "not a ZIP archive: %zu bytes", len);
		return -1;
	}
	/* The end record, whose comment must reach exactly to the end of the data. */
	for (size_t i = len - END_LEN + 1; i-- > 0 && len - i <= END_LEN + 0xffff;) {
		if (rd32(d + i) == SIG_END && i + END_LEN + rd16(d + i + 20) == len) {
			end = i;
			found = 1;
			break;
		}
	}
	if (!found) {
		err_set(e, "not a ZIP archive: no end of central directory record");
		return -1;
	}
	n = rd16(d + end + 10);
	cd_size = rd32(d + end + 12);
	cd_off = rd32(d + end + 16);
	if (rd16(d + end + 4) != 0 || rd16(d + end + 6) != 0 || rd16(d + end + 8) != n) {
		err_set(e, "a multi-disk ZIP archive");
		return -1;
	}
	if (n == 0xffff || cd_off == 0xffffffffu || cd_size == 0xffffffffu) {
		err_set(e, "a ZIP64 archive (not supported)");
		return -1;
	}
	if (n > lim->max_entries) {
		err_set(e, "%zu entries, more than %zu", n, lim->max_entries);
		return -1;
	}
	if (cd_off > end || cd_size != end - cd_off) {
		err_set(e, "the central directory is not where the end record says");
		return -1;
	}
	for (p = cd_off; *nents < n;) {
		zent_t *z = &ents[*nents];
		size_t nl, xl, cl, ll;
		uint16_t flags, made_by;
		uint32_t ext, mode;
		char shown[96];

		if (p + CENTRAL_LEN > end || rd32(d + p) != SIG_CENTRAL) {
			err_set(e, "central directory entry %zu is malformed", *nents);
			goto out;
		}
		made_by = rd16(d + p + 4);
		flags = rd16(d + p + 8);
		z->method = rd16(d + p + 10);
		z->crc = rd32(d + p + 16);
		z->csize = rd32(d + p + 20);
		z->usize = rd32(d + p + 24);
		nl = rd16(d + p + 28);
		xl = rd16(d + p + 30);
		cl = rd16(d + p + 32);
		ext = rd32(d + p + 38);
		z->local = rd32(d + p + 42);
		if (p + CENTRAL_LEN + nl + xl + cl > end) {
			err_set(e, "central directory entry %zu runs past the directory", *nents);
			goto out;
		}
		if (nl > UNZIP_MAX_NAME) {
			err_set(e, "entry %zu: a name over %d bytes", *nents, UNZIP_MAX_NAME);
			goto out;
		}
		z->name = xstrndup((const char *)d + p + CENTRAL_LEN, nl);
		z->name_len = nl;
		text_escape(shown, sizeof(shown), d + p + CENTRAL_LEN, nl);
		if (strlen(z->name) != nl) {
			err_set(e, "entry \"%s\": a NUL byte in the name", shown);
			(*nents)++;
			goto out;
		}
		(*nents)++; /* from here on ents[*nents - 1] owns its name */
		z->is_dir = nl > 0 && z->name[nl - 1] == '/';
		if (!name_ok(z->name, nl, z->is_dir, e))
			goto out;
		if (flags & 0x41) {
			err_set(e, "entry \"%s\" is encrypted", shown);
			goto out;
		}
		if (z->method != 0 && z->method != 8) {
			err_set(e, "entry \"%s\": compression method %u (only stored and deflate)",
			        shown, z->method);
			goto out;
		}
		if (z->csize == 0xffffffffu || z->usize == 0xffffffffu || z->local == 0xffffffffu) {
			err_set(e, "entry \"%s\": ZIP64 sizes (not supported)", shown);
			goto out;
		}
		mode = ext >> 16;
		if ((made_by >> 8) == HOST_UNIX && (mode & S_IFMT) != 0) {
			if (S_ISLNK(mode)) {
				err_set(e, "entry \"%s\" is a symbolic link", shown);
				goto out;
			}
			if (!S_ISREG(mode) && !S_ISDIR(mode)) {
				err_set(e, "entry \"%s\" is a special file", shown);
				goto out;
			}
			if (S_ISDIR(mode) != z->is_dir) {
				err_set(e, "entry \"%s\": its mode and name disagree on folder",
				        shown);
				goto out;
			}
		}
		z->executable = (made_by >> 8) == HOST_UNIX && (mode & 0111) != 0;
		if (z->is_dir && (z->usize != 0 || z->csize > 2)) {
			err_set(e, "entry \"%s\": a folder with content", shown);
			goto out;
		}
		if (z->usize > lim->max_entry || z->usize > lim->max_total - total) {
			err_set(
			    e,
			    "entry \"%s\": %zu bytes uncompressed, over the limit (%zu per entry, "
			    "%zu in all)",
			    shown, z->usize, lim->max_entry, lim->max_total);
			goto out;
		}
		total += z->usize;
		/* The local header: same name, and the data inside the archive. */
		if (z->local > cd_off || cd_off - z->local < LOCAL_LEN ||
		    rd32(d + z->local) != SIG_LOCAL) {
			err_set(e, "entry \"%s\": no local header where the directory says", shown);
			goto out;
		}
		ll = rd16(d + z->local + 26);
		if (ll != nl || rd16(d + z->local + 8) != z->method ||
		    z->local + LOCAL_LEN + ll + rd16(d + z->local + 28) > cd_off ||
		    memcmp(d + z->local + LOCAL_LEN, z->name, nl) != 0) {
			err_set(e, "entry \"%s\": the local header disagrees with the directory",
			        shown);
			goto out;
		}
		z->data = z->local + LOCAL_LEN + ll + rd16(d + z->local + 28);
		if (z->csize > cd_off - z->data) {
			err_set(e, "entry \"%s\": its data runs past the archive", shown);
			goto out;
		}
		p += CENTRAL_LEN + nl + xl + cl;
	}
	if (p != end) {
		err_set(e, "the central directory holds more than %zu entries", n);
		goto out;
	}
	/* No two entries share bytes: the overlapping-entry zip bomb. */
	by = xcalloc(n ? n : 1, sizeof(*by));
	for (size_t i = 0; i < n; i++)
		by[i] = &ents[i];
	qsort(by, n, sizeof(*by), cmp_local);
	for (size_t i = 0; i + 1 < n; i++) {
		if (by[i]->data + by[i]->csize > by[i + 1]->local) {
			err_set(e, "entries overlap in the archive");
			goto out;
		}
	}
	if (names_clash(by, n, e))
		goto out;
	for (size_t i = 0; i < n; i++)
		if (!ents[i].is_dir && entry_content(d, &ents[i], &tmp, e) < 0)
			goto out;
	rv = 0;
out:
	free(by);
	buf_free_secret(&tmp);
	return rv;
}

int unzip_read(const uint8_t *data, size_t len, const unzip_limits_t *lim, unzip_entry_fn fn,
               void *arg, err_t *e)
{
	zent_t *ents;
	size_t n = 0, cap;
	buf_t content = BUF_INIT;
	int rv = -1;

	if (lim == NULL)
		lim = &unzip_default_limits;
	/* At most one entry per CENTRAL_LEN bytes, and never more than the limit allows. */
	cap = len / CENTRAL_LEN + 1;
	if (cap > lim->max_entries + 1)
		cap = lim->max_entries + 1;
	ents = xcalloc(cap, sizeof(*ents));
	if (zip_check(data, len, lim, ents, &n, e) < 0)
		goto out;
	for (size_t i = 0; fn && i < n; i++) {
		unzip_entry_t ent = {
		    .name = ents[i].name,
		    .is_dir = ents[i].is_dir,
		    .executable = ents[i].executable,
		};
		if (!ents[i].is_dir) {
			if (entry_content(data, &ents[i], &content, e) < 0)
				goto out;
			ent.data = content.data ? content.data : (const uint8_t *)"";
			ent.len = content.len;
		} else {
			ent.data = (const uint8_t *)"";
		}
		if (fn(arg, &ent, e) < 0)
			goto out;
	}
	rv = 0;
out:
	for (size_t i = 0; i < n; i++)
		free(ents[i].name);
	free(ents);
	buf_free_secret(&content);
	return rv;
}

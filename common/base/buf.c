/* buf: growable byte buffers, base64 and hex codecs, whole-file I/O. */
#include "common/base/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/base/xmalloc.h"

void buf_reserve(buf_t *b, size_t extra)
{
	size_t need = b->len + extra + 1;

	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

void buf_append(buf_t *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
}

void buf_append_str(buf_t *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void buf_appendf(buf_t *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void buf_append_u16be(buf_t *b, uint16_t v)
{
	uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	buf_append(b, x, 2);
}

void buf_append_u32be(buf_t *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

	buf_append(b, x, 4);
}

void buf_set(buf_t *b, const void *p, size_t n)
{
	b->len = 0;
	buf_append(b, p, n);
}

void buf_reset(buf_t *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = 0;
}

void buf_free(buf_t *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void buf_free_secret(buf_t *b)
{
	if (b->data)
		OPENSSL_cleanse(b->data, b->cap);
	buf_free(b);
}

uint8_t *buf_steal(buf_t *b, size_t *len)
{
	uint8_t *p;

	if (b->data == NULL)
		buf_reserve(b, 0), b->data[0] = 0;
	p = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void base64_encode(buf_t *out, const void *in, size_t len)
{
	const uint8_t *p = in;
	size_t i;

	buf_reserve(out, (len + 2) / 3 * 4);
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		char q[4] = {b64chars[v >> 18], b64chars[(v >> 12) & 63], b64chars[(v >> 6) & 63],
		             b64chars[v & 63]};
		buf_append(out, q, 4);
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		char q[4] = {b64chars[v >> 18], b64chars[(v >> 12) & 63], '=', '='};
		buf_append(out, q, 4);
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		char q[4] = {b64chars[v >> 18], b64chars[(v >> 12) & 63], b64chars[(v >> 6) & 63],
		             '='};
		buf_append(out, q, 4);
	}
}

/* One more than each alphabet byte's value; 0 for every other byte, so that the value
 * minus one has bit 7 set exactly for the bytes outside the alphabet. */
static const uint8_t b64val1[256] = {
    /* clang-format off */
    ['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8,
    ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15,
    ['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22,
    ['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29,
    ['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36,
    ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42, ['q'] = 43,
    ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49, ['x'] = 50,
    ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57,
    ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
    /* clang-format on */
};

static uint8_t b64v(char c)
{
	return (uint8_t)(b64val1[(uint8_t)c] - 1);
}

int base64_decode(buf_t *out, const char *in, size_t len)
{
	size_t start = out->len, i, full;
	uint8_t *o;

	if (len % 4 != 0)
		return -1;
	buf_reserve(out, len / 4 * 3);
	o = out->data + start;
	/* Every quad but the last has no padding: four alphabet bytes, three bytes out. */
	full = len >= 4 ? len - 4 : 0;
	for (i = 0; i < full; i += 4) {
		uint32_t a = b64v(in[i]), b = b64v(in[i + 1]), c = b64v(in[i + 2]),
		         d = b64v(in[i + 3]);
		if ((a | b | c | d) & 0x80)
			goto bad;
		uint32_t w = a << 18 | b << 12 | c << 6 | d;
		o[0] = (uint8_t)(w >> 16);
		o[1] = (uint8_t)(w >> 8);
		o[2] = (uint8_t)w;
		o += 3;
	}
	if (len > 0) {
		/* The last quad: "xx==", "xxx=" or four alphabet bytes. */
		uint32_t v[4], pad = 0;
		for (int k = 0; k < 4; k++) {
			if (in[i + k] == '=' && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad || ((v[k] = b64v(in[i + k])) & 0x80))
				goto bad;
		}
		uint32_t w = v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3];
		/* Non-canonical encodings (stray bits under padding) are malformed too. */
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
			goto bad;
		uint8_t t[3] = {(uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w};
		memcpy(o, t, 3 - pad);
		o += 3 - pad;
	}
	out->len = (size_t)(o - out->data);
	out->data[out->len] = 0;
	return 0;
bad:
	out->len = start;
	if (out->data)
		out->data[start] = 0;
	return -1;
}

static const char b64url_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void base64url_encode(buf_t *out, const void *in, size_t len)
{
	const uint8_t *p = in;
	size_t i;

	buf_reserve(out, (len + 2) / 3 * 4);
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		char q[4] = {b64url_chars[v >> 18], b64url_chars[(v >> 12) & 63],
		             b64url_chars[(v >> 6) & 63], b64url_chars[v & 63]};
		buf_append(out, q, 4);
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		char q[2] = {b64url_chars[v >> 18], b64url_chars[(v >> 12) & 63]};
		buf_append(out, q, 2);
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		char q[3] = {b64url_chars[v >> 18], b64url_chars[(v >> 12) & 63],
		             b64url_chars[(v >> 6) & 63]};
		buf_append(out, q, 3);
	}
}

static int b64url_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int base64url_decode(buf_t *out, const char *in, size_t len)
{
	size_t start = out->len, i;

	if (len % 4 == 1)
		return -1;
	buf_reserve(out, len / 4 * 3 + 2);
	for (i = 0; i < len; i += 4) {
		size_t n = len - i < 4 ? len - i : 4;
		uint32_t w = 0;

		for (size_t k = 0; k < 4; k++) {
			int v = k < n ? b64url_val(in[i + k]) : 0;

			if (v < 0)
				goto bad;
			w = w << 6 | (uint32_t)v;
		}
		uint8_t o[3] = {(uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w};
		/* A short last group carries 2 or 3 characters; the bits past its bytes must be
		 * zero, so that each byte string has exactly one text. */
		if ((n == 2 && (w & 0xffff)) || (n == 3 && (w & 0xff)))
			goto bad;
		buf_append(out, o, n == 4 ? 3 : n - 1);
	}
	return 0;
bad:
	out->len = start;
	if (out->data)
		out->data[start] = 0;
	return -1;
}

void hex_encode(buf_t *out, const void *in, size_t len)
{
	static const char hx[] = "0123456789abcdef";
	const uint8_t *p = in;

	buf_reserve(out, len * 2);
	for (size_t i = 0; i < len; i++) {
		out->data[out->len++] = hx[p[i] >> 4];
		out->data[out->len++] = hx[p[i] & 15];
	}
	out->data[out->len] = 0;
}

int hex_digit_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_decode(buf_t *out, const char *in, size_t len)
{
	size_t start = out->len;

	if (len % 2)
		return -1;
	buf_reserve(out, len / 2);
	for (size_t i = 0; i < len; i += 2) {
		int h = hex_digit_value(in[i]), l = hex_digit_value(in[i + 1]);
		if (h < 0 || l < 0) {
			out->len = start;
			out->data[start] = 0;
			return -1;
		}
		out->data[out->len++] = (uint8_t)(h << 4 | l);
	}
	out->data[out->len] = 0;
	return 0;
}

int buf_read_file(buf_t *out, const char *path, size_t max)
{
	int fd, rv = -1;
	ssize_t n;
	uint8_t tmp[65536];

	buf_reset(out);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	for (;;) {
		n = read(fd, tmp, sizeof(tmp));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		if (n == 0)
			break;
		if (out->len + (size_t)n > max) {
			errno = EFBIG;
			goto out;
		}
		buf_append(out, tmp, (size_t)n);
	}
	if (out->data == NULL)
		buf_reserve(out, 0), out->data[0] = 0;
	rv = 0;
out:
	close(fd);
	return rv;
}

int buf_write_file(const char *path, const void *p, size_t n, int mode)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	const uint8_t *q = p;
	int fd, rv = -1, saved;

	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)) < 0)
		goto out;
	while (n > 0) {
		ssize_t w = write(fd, q, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			goto fail;
		}
		q += w;
		n -= (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0)
		goto fail;
	if (rename(tmp, path) < 0)
		goto fail;
	rv = 0;
	goto out;
fail:
	saved = errno;
	unlink(tmp);
	errno = saved;
out:
	free(tmp);
	return rv;
}

int mem_equal_ct(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

/* One byte as text: itself, "\\", or "\xNN"; returns the length written to t (<= 4). */
static size_t escape_byte(uint8_t c, char t[5])
{
	if (c == '\\') {
		memcpy(t, "\\\\", 3);
		return 2;
	}
	if (c >= 0x20 && c < 0x7f) {
		t[0] = (char)c;
		t[1] = 0;
		return 1;
	}
	snprintf(t, 5, "\\x%02x", c);
	return 4;
}

void buf_append_escaped(buf_t *out, const void *p, size_t n)
{
	const uint8_t *s = p;
	char t[5];

	buf_reserve(out, n);
	for (size_t i = 0; i < n; i++)
		buf_append(out, t, escape_byte(s[i], t));
	buf_append(out, "", 0); /* NUL-terminated even when nothing was appended */
}

char *text_escape(char *out, size_t size, const void *p, size_t n)
{
	const uint8_t *s = p;
	size_t o = 0;
	char t[5];

	for (size_t i = 0; i < n; i++) {
		size_t k = escape_byte(s[i], t);
		/* Room for this escape, and for "..." should more follow. */
		if (o + k + (i + 1 < n ? 3 : 0) >= size) {
			if (size >= 4) {
				while (o + 3 >= size)
					o--;
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(out + o, t, k);
		o += k;
	}
	out[o < size ? o : size - 1] = 0;
	return out;
}

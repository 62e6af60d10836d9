/* buf: a growable byte buffer, and the text codecs (base64, hex) on top of it. */
#ifndef VIGIL_BUF_H
#define VIGIL_BUF_H

#include <stddef.h>
#include <stdint.h>

/* A plain struct on purpose: callers read data/len directly. The buffer owns data. */
typedef struct buf {
	uint8_t *data; /* owned; NUL-terminated past len when non-NULL, for text use */
	size_t len;    /* bytes used */
	size_t cap;    /* bytes allocated */
} buf_t;

#define BUF_INIT                                                                                   \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

void buf_reserve(buf_t *b, size_t extra);
void buf_append(buf_t *b, const void *p, size_t n);
void buf_append_str(buf_t *b, const char *s);
void buf_appendf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_append_u16be(buf_t *b, uint16_t v);
void buf_append_u32be(buf_t *b, uint32_t v);
void buf_set(buf_t *b, const void *p, size_t n); /* replace contents */
void buf_reset(buf_t *b);                        /* len = 0, keep memory */
void buf_free(buf_t *b);                         /* release memory; b reusable */
void buf_free_secret(buf_t *b);                  /* wipe, then release */
/* Take ownership of the data (NUL-terminated); b is left empty. Caller frees. */
uint8_t *buf_steal(buf_t *b, size_t *len);

/* Standard base64 (RFC 4648 §4) with padding. Encode appends text to out. */
void base64_encode(buf_t *out, const void *in, size_t len);
/* Strict decode: only the standard alphabet, padding required, no whitespace.
 * Appends to out. Returns 0, or -1 on malformed input (out unchanged). */
int base64_decode(buf_t *out, const char *in, size_t len);
/* base64url (RFC 4648 §5) without padding, as JOSE uses it (RFC 7515 §2). Encode appends
 * text to out. Decode is strict: only the URL-safe alphabet, no padding, no whitespace, no
 * stray bits in the last character; appends to out. 0, or -1 (out unchanged). */
void base64url_encode(buf_t *out, const void *in, size_t len);
int base64url_decode(buf_t *out, const char *in, size_t len);
/* Lowercase hex encode, appending text to out. */
void hex_encode(buf_t *out, const void *in, size_t len);
/* Value of one hex digit (either case), or -1. */
int hex_digit_value(int c);
/* Decode hex (either case, even length). Returns 0 or -1 (out unchanged). */
int hex_decode(buf_t *out, const char *in, size_t len);

/* Text that came from outside (an IMA path, an event log's data, a peer's field) made safe
 * for a message, a log line or a terminal: bytes 0x20-0x7e stay, a backslash becomes "\\",
 * every other byte "\xNN" (so an escape sequence cannot reach the operator's terminal and
 * the exact bytes can still be read back). Appends to out. */
void buf_append_escaped(buf_t *out, const void *p, size_t n);
/* The same into a fixed buffer (size > 0), always NUL-terminated; when the text does not
 * fit it is cut at a whole escape and ends in "...". Returns out, for use as a printf
 * argument. */
char *text_escape(char *out, size_t size, const void *p, size_t n);

/* Read a whole file (up to max bytes) into out (replacing). 0 or -1 (errno set; EFBIG
 * when larger than max). */
int buf_read_file(buf_t *out, const char *path, size_t max);
/* Write atomically: temp file in the same directory, fsync, rename. mode e.g. 0600. */
int buf_write_file(const char *path, const void *p, size_t n, int mode);

/* Constant-time comparison; 1 when equal. */
int mem_equal_ct(const void *a, const void *b, size_t n);

#endif

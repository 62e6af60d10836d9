/* utf8: make text from a node valid UTF-8 before it leaves the verifier. */
#include "verifier/utf8.h"

#include "common/base/xmalloc.h"

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when it is not one: the rules of
 * RFC 3629 (no overlong forms, no surrogates, nothing past U+10FFFF), which jansson and
 * protobuf readers enforce. */
static size_t utf8_seq_len(const unsigned char *p)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* A copy of s that is valid UTF-8: failure reasons quote the node's own text (file
 * paths, boot entries) cut to a length, which can split a character; the event body
 * (JSON), the store and gRPC all need UTF-8. Bytes of a broken sequence become '?'. */
char *utf8_sanitize_dup(const char *s)
{
	char *d = xstrdup(s);
	unsigned char *p = (unsigned char *)d;

	while (*p) {
		size_t n = utf8_seq_len(p);
		if (n == 0)
			*p++ = '?';
		else
			p += n;
	}
	return d;
}

/* utf8: failure reasons quote a node's own text (file paths, boot entries) cut to a
 * length, which can split a character, and their readers (the event body in JSON, the
 * store, gRPC) need valid UTF-8. */
#ifndef VIGIL_VERIFIER_UTF8_H
#define VIGIL_VERIFIER_UTF8_H

/* A copy of s (NUL-terminated) that is valid UTF-8 by RFC 3629: each byte of a broken,
 * overlong, surrogate or out-of-range sequence becomes '?'. Caller frees. */
char *utf8_sanitize_dup(const char *s);

#endif

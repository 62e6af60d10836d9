/* paging: page sizes and opaque page tokens of the vigil.v1 list calls. */
#include "common/net/paging.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/xmalloc.h"
#include "common/net/grpcsrv.h"

/* What a token decodes to: this tag, then the key. A new token format takes a new tag, so
 * an old client's token is refused clearly instead of being misread. */
#define PAGING_TAG     "p1:"
#define PAGING_TAG_LEN 3
/* base64url length of the longest token (tag + key), without padding. */
#define PAGING_TOKEN_MAX (((PAGING_TAG_LEN + PAGING_KEY_MAX) * 4 + 2) / 3)

static int paging_key_ok(const char *k, size_t len)
{
	if (len == 0 || len > PAGING_KEY_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (k[i] < 0x21 || k[i] > 0x7e)
			return 0;
	return 1;
}

int paging_request(uint32_t page_size, const char *page_token, const char *msg, size_t *limit,
                   char after[PAGING_KEY_MAX + 1], err_t *e)
{
	buf_t raw = BUF_INIT;
	size_t tlen = page_token ? strlen(page_token) : 0;
	int code = GRPCSRV_INVALID_ARGUMENT;

	after[0] = '\0';
	if (page_size > PAGING_MAX) {
		err_set(e, "%s.page_size %u is over the maximum of %d (0 means %d)", msg, page_size,
		        PAGING_MAX, PAGING_DEFAULT);
		goto out;
	}
	*limit = page_size == 0 ? PAGING_DEFAULT : page_size;
	if (tlen > 0) {
		if (tlen > PAGING_TOKEN_MAX || base64url_decode(&raw, page_token, tlen) < 0 ||
		    raw.len <= PAGING_TAG_LEN ||
		    memcmp(raw.data, PAGING_TAG, PAGING_TAG_LEN) != 0 ||
		    !paging_key_ok((const char *)raw.data + PAGING_TAG_LEN,
		                   raw.len - PAGING_TAG_LEN)) {
			err_set(e,
			        "%s.page_token is not a token this server issued: pass the "
			        "previous reply's next_page_token unchanged, or \"\" for the first "
			        "page",
			        msg);
			goto out;
		}
		memcpy(after, raw.data + PAGING_TAG_LEN, raw.len - PAGING_TAG_LEN);
		after[raw.len - PAGING_TAG_LEN] = '\0';
	}
	code = GRPCSRV_OK;
out:
	buf_free(&raw);
	return code;
}

char *paging_token(const char *key)
{
	buf_t in = BUF_INIT, out = BUF_INIT;
	char *t;

	buf_append(&in, PAGING_TAG, PAGING_TAG_LEN);
	buf_append(&in, key, strlen(key));
	base64url_encode(&out, in.data, in.len);
	t = xstrndup((const char *)out.data, out.len);
	buf_free(&in);
	buf_free(&out);
	return t;
}

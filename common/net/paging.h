/* paging: the one paging rule of every vigil.v1 list call (docs/api.md, "Paging"). A
 * request carries page_size (0: PAGING_DEFAULT; more than PAGING_MAX: INVALID_ARGUMENT)
 * and page_token ("" for the first page, else the previous reply's next_page_token); a
 * reply carries next_page_token, "" on the last page. The token is opaque to clients: here
 * it is the base64url of a version tag and the sort key of the previous page's last item,
 * so the next page is read from the store as "key > last" (keyset paging). Items added or
 * removed between two pages then never make others skip or repeat. */
#ifndef VIGIL_PAGING_H
#define VIGIL_PAGING_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/buf.h"
#include "common/base/err.h"

#define PAGING_DEFAULT 100  /* page_size 0 means this */
#define PAGING_MAX     1000 /* largest page_size accepted */
#define PAGING_KEY_MAX 255  /* longest sort key a token carries, bytes */

/* Check a request's page_size and page_token. msg names the request message for errors
 * ("ListEnrollmentsRequest"). On success (GRPCSRV_OK) *limit is the page size to serve and
 * after (PAGING_KEY_MAX + 1 bytes) the key to start after, "" for the first page. Else
 * GRPCSRV_INVALID_ARGUMENT with e naming the field. A key is 1 to PAGING_KEY_MAX printable
 * ASCII characters (0x21-0x7e). */
int paging_request(uint32_t page_size, const char *page_token, const char *msg, size_t *limit,
                   char after[PAGING_KEY_MAX + 1], err_t *e);

/* The next_page_token that resumes after key (a valid key as above); caller frees. */
char *paging_token(const char *key);

#endif

/* Fuzz target: what a registrar (or anyone on the path to it) can send the agent, and the
 * request paths the agent routes on. Every parse must end in a clean accept or reject:
 * the GET /version answer, the registration answer and the credential blob inside it,
 * and the /v{maj}.{min}/... split of a request path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/api_version.h"
#include "agent/register.h"
#include "common/base/buf.h"
#include "common/crypto/makecred.h"
#include "common/base/xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	buf_t blob = BUF_INIT, id = BUF_INIT, secret = BUF_INIT;
	api_versions_t ours;
	char ver[16], *text;
	const char *rest;
	int major, minor;

	api_versions_parse("default", &ours, NULL);
	if (register_parse_version(data, size, &ours, ver, sizeof(ver), NULL) == 0) {
		/* A chosen version is always one we serve. */
		if (api_version_parse(ver, &major, &minor) < 0 ||
		    !api_versions_has(&ours, major, minor))
			abort();
	}
	if (register_parse_blob(data, size, &blob, NULL) == 0)
		(void)makecred_blob_decode(blob.data, blob.len, &id, &secret, NULL);
	text = xstrndup((const char *)data, size);
	if (api_path_split(text, &major, &minor, &rest) == 1 &&
	    (rest < text || rest > text + strlen(text) || (*rest != '\0' && *rest != '/')))
		abort();
	(void)api_versions_parse(text, &ours, NULL);
	free(text);
	buf_free(&blob);
	buf_free(&id);
	buf_free(&secret);
	return 0;
}

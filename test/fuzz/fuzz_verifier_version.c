/* Fuzz target: the agent's GET /version answer as the verifier reads it
 * (node_pick_version): any bytes pick one of the versions the verifier speaks, or none. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verifier/node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const known[] = {"2.1", "2.2", "2.3", "2.4", "2.5", "2.6"};
	const char *v = node_pick_version(data, size);
	int ok = v == NULL;

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]) && !ok; i++)
		ok = strcmp(v, known[i]) == 0;
	if (!ok)
		abort();
	return 0;
}

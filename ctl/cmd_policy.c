/* cmd_policy: vigilctl policy: offline creation here; put/get/list/delete go to the
 * verifier over gRPC. */
#include <stdio.h>
#include <string.h>

#include "ctl/commands.h"

static void policy_usage(FILE *out)
{
	fprintf(out, "Usage: vigilctl policy create runtime --ima-log FILE [OPTIONS]\n"
	             "       vigilctl policy create mb --event-log FILE [OPTIONS]\n"
	             "Run 'vigilctl policy create runtime --help' (or mb) for the options.\n");
}

int cmd_policy(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		policy_usage(stdout);
		return 0;
	}
	if (argc >= 3 && strcmp(argv[1], "create") == 0) {
		if (strcmp(argv[2], "runtime") == 0)
			return cmd_policy_create_runtime(argc - 2, argv + 2);
		if (strcmp(argv[2], "mb") == 0)
			return cmd_policy_create_mb(argc - 2, argv + 2);
	}
	policy_usage(stderr);
	return 2;
}

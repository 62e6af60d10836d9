/* cmd_eventlog: vigilctl eventlog (placeholder until the module lands). */
#include <stdio.h>

#include "ctl/commands.h"

int cmd_eventlog(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "vigilctl: 'eventlog' is not implemented yet\n");
	return 1;
}

int cmd_policy_create_mb(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "vigilctl: 'policy create mb' is not implemented yet\n");
	return 1;
}

/* cmd_ima: vigilctl ima (placeholder until the module lands). */
#include <stdio.h>

#include "ctl/commands.h"

int cmd_ima(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "vigilctl: 'ima' is not implemented yet\n");
	return 1;
}

int cmd_policy_create_runtime(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "vigilctl: 'policy create runtime' is not implemented yet\n");
	return 1;
}

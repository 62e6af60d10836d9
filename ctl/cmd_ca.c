/* cmd_ca: vigilctl ca (placeholder until the module lands). */
#include <stdio.h>

#include "ctl/commands.h"

int cmd_ca(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "vigilctl: 'ca' is not implemented yet\n");
	return 1;
}

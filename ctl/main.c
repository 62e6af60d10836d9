/* vigilctl: the operator's command-line tool. */
#include <stdio.h>
#include <string.h>

#include "common/log.h"

int main(int argc, char **argv);

static void ctl_usage(FILE *out)
{
	fprintf(out, "Usage: vigilctl COMMAND [ARGS]\n\n"
	             "Commands:\n"
	             "  help                 show this help\n");
}

int main(int argc, char **argv)
{
	log_init("vigilctl", 1, 0);
	if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0) {
		ctl_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	fprintf(stderr, "vigilctl: unknown command \"%s\"\n", argv[1]);
	ctl_usage(stderr);
	return 2;
}

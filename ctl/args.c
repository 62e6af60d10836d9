/* args: options before and after operands in every vigilctl command. See args.h. */
#include "ctl/args.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"

#define ARGS_SHORTOPTS_MAX 64 /* characters of a command's short option string */

/* The operands met so far in the current parse (pointers to argv's strings, not to its
 * slots, so that moving the slots does not disturb them). */
static char **args_ops; /* owned array */
static int args_nops;   /* used entries */

int ctl_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	char inorder[ARGS_SHORTOPTS_MAX + 2];
	int c;

	if (strlen(shortopts) > ARGS_SHORTOPTS_MAX || shortopts[0] == '+' || shortopts[0] == '-')
		fatalx("ctl_getopt: bad option string \"%s\"", shortopts);
	if (optind == 0) {
		free(args_ops);
		args_ops = xcalloc((size_t)argc + 1, sizeof(char *));
		args_nops = 0;
	} else if (args_ops == NULL) {
		fatalx("ctl_getopt: a parse must start with optind = 0");
	}
	/* '-': getopt returns each operand in place as option 1 and never permutes, whatever
	 * POSIXLY_CORRECT says; options and their arguments keep their order and errors are
	 * reported where they are. */
	snprintf(inorder, sizeof(inorder), "-%s", shortopts);
	while ((c = getopt_long(argc, argv, inorder, longopts, NULL)) == 1)
		args_ops[args_nops++] = optarg;
	if (c != -1)
		return c;
	/* The end, or "--": the operands met, then whatever follows, last in argv. */
	int rest = argc - optind, n = args_nops + rest;
	char **all = xcalloc((size_t)n + 1, sizeof(char *));
	memcpy(all, args_ops, (size_t)args_nops * sizeof(char *));
	memcpy(all + args_nops, argv + optind, (size_t)rest * sizeof(char *));
	memcpy(argv + argc - n, all, (size_t)n * sizeof(char *));
	optind = argc - n;
	free(all);
	free(args_ops);
	args_ops = NULL;
	args_nops = 0;
	return -1;
}

int ctl_page_size_arg(const char *arg, void *out)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (end == arg || *end != '\0' || v < 1 || v > 1000) {
		fprintf(stderr, "vigilctl: --page-size %s: expected 1 to 1000\n", arg);
		return -1;
	}
	*(uint32_t *)out = (uint32_t)v;
	return 0;
}

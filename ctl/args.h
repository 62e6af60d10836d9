/* args: option parsing for every vigilctl command, so that options are accepted before and
 * after operands ('eventlog show FILE --json' as well as 'eventlog show --json FILE'),
 * whatever the environment says. glibc's getopt_long stops at the first operand when the
 * option string starts with '+' or when POSIXLY_CORRECT is set; ctl_getopt does neither. */
#ifndef VIGIL_CTL_ARGS_H
#define VIGIL_CTL_ARGS_H

#include <getopt.h>

/* getopt_long with the same arguments and results, except that operands are never
 * returned: start each command's parse with optind = 0, and when it returns -1,
 * argv[optind]..argv[argc-1] are exactly the operands in their order (those after a "--"
 * included, even when they look like options). shortopts must not start with '+' or '-';
 * a leading ':' keeps its meaning. */
int ctl_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts);

/* --page-size N of the list commands: N 1-1000 (the API's largest page) into *(uint32_t *)
 * out. 0, or -1 with the reason printed. */
int ctl_page_size_arg(const char *arg, void *out);

#endif

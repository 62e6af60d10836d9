/* daemon: shared command line, config loading and signal handling. */
#include "common/daemon.h"

#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xmalloc.h"

static struct event *sig_int, *sig_term; /* loop-breaking signal events */

static void daemon_usage(const daemon_info_t *info, FILE *out)
{
	fprintf(out,
	        "Usage: %s [-dhnpv] [-c FILE] [-o section.key=value]...\n"
	        "\n%s\n\n"
	        "Options:\n"
	        "  -c FILE    Read the configuration from FILE (default %s, when it exists).\n"
	        "  -o S.K=V   Set key K of section S to V, over the file; may be repeated.\n"
	        "  -n         Check the configuration, print \"configuration OK\" and exit.\n"
	        "  -d         Stay in the foreground and log to stderr (default: syslog).\n"
	        "  -v         Log debug messages too.\n"
	        "  -p         Print a sample configuration with every key and its default.\n"
	        "  -h         Show this help.\n"
	        "\n%s\n",
	        info->name, info->summary, info->default_conf, info->description);
}

config_t *daemon_start(const daemon_info_t *info, int argc, char **argv)
{
	const char *file = NULL;
	int ch, check = 0, fg = 0, verbose = 0, bad = 0;
	config_t *c;
	char **ov = calloc((size_t)argc + 1, sizeof(char *));
	int nov = 0;

	if (ov == NULL)
		exit(1);
	log_init(info->name, 1, 0);
	while ((ch = getopt(argc, argv, "c:o:ndvph")) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'o':
			ov[nov++] = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'd':
			fg = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'p': {
			char *title = xasprintf("%s. Any key can also be set on the command line "
			                        "with -o section.key=value.",
			                        info->name);
			config_write_sample(info->keys, title, stdout);
			free(title);
		}
			exit(0);
		case 'h':
			daemon_usage(info, stdout);
			exit(0);
		default:
			daemon_usage(info, stderr);
			exit(2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument \"%s\"\n", info->name, argv[optind]);
		exit(2);
	}
	log_init(info->name, fg || check, verbose);
	c = config_new(info->keys);
	if (file == NULL && info->default_conf && access(info->default_conf, R_OK) == 0)
		file = info->default_conf;
	if (file && config_load_file(c, file) < 0)
		bad = 1;
	for (int i = 0; i < nov; i++)
		if (config_set_override(c, ov[i]) < 0)
			bad = 1;
	free(ov);
	if (bad) {
		fprintf(stderr, "%s: configuration has errors\n", info->name);
		exit(1);
	}
	if (check) {
		printf("configuration OK\n");
		config_free(c);
		exit(0);
	}
	return c;
}

static void daemon_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;

	(void)what;
	log_info("received %s, shutting down", strsignal((int)sig));
	event_base_loopbreak(base);
}

void daemon_signals(struct event_base *base)
{
	signal(SIGPIPE, SIG_IGN);
	sig_int = evsignal_new(base, SIGINT, daemon_on_signal, base);
	sig_term = evsignal_new(base, SIGTERM, daemon_on_signal, base);
	if (sig_int == NULL || sig_term == NULL || evsignal_add(sig_int, NULL) < 0 ||
	    evsignal_add(sig_term, NULL) < 0)
		fatalx("cannot install signal handlers");
}

void daemon_signals_free(void)
{
	if (sig_int)
		event_free(sig_int);
	if (sig_term)
		event_free(sig_term);
	sig_int = sig_term = NULL;
}

/* daemon: shared command line, config loading and signal handling. */
#include "common/base/daemon.h"

#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"

static struct event *sig_int, *sig_term; /* loop-breaking signal events */
static const char *daemon_section;       /* the daemon's config section, for .user */
static config_key_t *daemon_keys;        /* its table plus the shared keys; never freed */

static const char *check_user(const char *v)
{
	if (*v == '\0')
		return NULL;
	errno = 0;
	return getpwnam(v) != NULL ? NULL : "no such user (getpwnam)";
}

/* The daemon's table followed by the keys every daemon has. */
static const config_key_t *daemon_table(const daemon_info_t *info)
{
	size_t n = 0;

	if (daemon_keys != NULL)
		return daemon_keys;
	while (info->keys[n].section != NULL)
		n++;
	if (n == 0)
		fatalx("%s: empty configuration table", info->name);
	daemon_section = info->keys[0].section;
	daemon_keys = xcalloc(n + 2, sizeof(*daemon_keys));
	memcpy(daemon_keys, info->keys, n * sizeof(*daemon_keys));
	daemon_keys[n] = (config_key_t){
	    daemon_section,
	    "user",
	    CFG_STR,
	    "",
	    0,
	    0,
	    "The user to run as. Started as root, the daemon opens what needs root first (TPM "
	    "device, ports below 1024, logs under /sys, state files), then switches to this "
	    "user and its groups for good, and checks that root cannot be taken back. Empty: "
	    "no change. A user that does not exist stops the daemon at start.",
	    check_user,
	};
	return daemon_keys;
}

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
	const char *user;
	struct passwd *pw;
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
			config_write_sample(daemon_table(info), title, stdout);
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
	c = config_new(daemon_table(info));
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
	user = config_str(c, daemon_section, "user");
	if (*user != '\0' && geteuid() != 0 &&
	    ((pw = getpwnam(user)) == NULL || pw->pw_uid != geteuid())) {
		fprintf(stderr,
		        "%s: %s.user = %s needs the daemon started as root or as that user (it "
		        "runs as uid %u)\n",
		        info->name, daemon_section, user, (unsigned)geteuid());
		exit(1);
	}
	return c;
}

int daemon_will_drop(const config_t *cfg)
{
	const char *user = config_str(cfg, daemon_section, "user");
	struct passwd *pw;

	return *user != '\0' && geteuid() == 0 && (pw = getpwnam(user)) != NULL && pw->pw_uid != 0;
}

void daemon_drop_privileges(const config_t *cfg)
{
	const char *user = config_str(cfg, daemon_section, "user");
	uid_t uid, ru, eu, su;
	gid_t gid, rg, eg, sg;
	struct passwd *pw;

	if (*user == '\0')
		return;
	errno = 0;
	if ((pw = getpwnam(user)) == NULL)
		fatalx("%s.user %s: no such user", daemon_section, user);
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (geteuid() == uid)
		return;
	if (uid == 0) {
		log_info("%s.user %s is root: running as root", daemon_section, user);
		return;
	}
	if (geteuid() != 0)
		fatalx("%s.user = %s needs the daemon started as root", daemon_section, user);
	if (initgroups(user, gid) < 0)
		fatal("cannot set the groups of %s", user);
	if (setresgid(gid, gid, gid) < 0)
		fatal("cannot switch to group %u", (unsigned)gid);
	if (setresuid(uid, uid, uid) < 0)
		fatal("cannot switch to user %s (uid %u)", user, (unsigned)uid);
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 || ru != uid ||
	    eu != uid || su != uid || rg != gid || eg != gid || sg != gid)
		fatalx("switching to user %s left other user or group ids", user);
	if (setuid(0) == 0 || seteuid(0) == 0 || (gid != 0 && (setgid(0) == 0 || setegid(0) == 0)))
		fatalx("root privileges could be taken back after switching to user %s", user);
	log_info("running as user %s (uid %u, gid %u)", user, (unsigned)uid, (unsigned)gid);
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

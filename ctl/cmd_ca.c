/* cmd_ca: vigilctl ca init | issue | k8s: a small fleet CA for vigil's own mutual TLS, so that
 * setting up certificates takes two commands instead of an afternoon with openssl, and
 * tells the operator which configuration key takes which file. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "common/base/buf.h"
#include "common/base/statefile.h"
#include "common/crypto/pki.h"
#include "common/base/xmalloc.h"
#include "ctl/args.h"
#include "ctl/commands.h"

#define CA_DAYS_DEFAULT   3650             /* the CA: ten years */
#define CERT_DAYS_DEFAULT 365              /* issued certificates: one year */
#define CA_CN_DEFAULT     "vigil fleet CA" /* the CA's subject when --cn is not given */
#define CA_NAME_MAX       64               /* NAME of 'ca issue': CN and file name */

static const char ca_help_text[] =
    "NAME\n"
    "    vigilctl ca - a certificate authority for vigil's mutual TLS\n"
    "\n"
    "SYNOPSIS\n"
    "    vigilctl ca init DIR [--cn NAME] [--days N] [--rsa]\n"
    "    vigilctl ca issue DIR NAME (--server | --client | --both) [--san HOST]...\n"
    "                      [--days N] [--rsa] [--force]\n"
    "    vigilctl ca k8s DIR [--namespace NS] [--agent-namespace NS] [--out FILE]\n"
    "\n"
    "DESCRIPTION\n"
    "    Every link between vigil components runs over mutual TLS, except the agents'\n"
    "    registration port, which carries only public data. 'vigilctl ca' makes the\n"
    "    few files this needs: one CA that the whole fleet trusts (ca init), and a\n"
    "    certificate with its key for each server and client (ca issue).\n"
    "\n"
    "    Agents need nothing from it: each agent makes its own self-signed certificate,\n"
    "    registers it at the registrar, and the verifier pins exactly that certificate.\n"
    "    Agents do trust the CA, to check the verifier's client certificate.\n"
    "\n"
    "    'ca k8s' writes them all as Kubernetes Secrets, for deploy/k8s.\n"
    "\n"
    "    Run 'vigilctl ca init --help', 'vigilctl ca issue --help' or\n"
    "    'vigilctl ca k8s --help' for the details;\n"
    "    docs/tls.md shows which component takes which file, and how to read TLS errors.\n"
    "\n"
    "EXAMPLE\n"
    "    vigilctl ca init /etc/vigil/ca\n"
    "    vigilctl ca issue /etc/vigil/ca registrar --server --san registrar.example.com\n"
    "    vigilctl ca issue /etc/vigil/ca verifier --both --san verifier.example.com\n"
    "    vigilctl ca issue /etc/vigil/ca admin --client\n";

static const char ca_init_help_text[] =
    "NAME\n"
    "    vigilctl ca init - create the fleet CA\n"
    "\n"
    "SYNOPSIS\n"
    "    vigilctl ca init DIR [--cn NAME] [--days N] [--rsa]\n"
    "\n"
    "DESCRIPTION\n"
    "    Creates DIR (mode 0700) when it does not exist, and in it:\n"
    "\n"
    "      DIR/ca.crt   the CA certificate (mode 0644). Every vigil component gets a\n"
    "                   copy: it is how they recognise each other.\n"
    "      DIR/ca.key   the CA private key (mode 0600). It stays here: whoever holds\n"
    "                   it can pose as any vigil component.\n"
    "\n"
    "    The CA certificate is self-signed, with basicConstraints CA:TRUE, pathlen:0\n"
    "    (it signs end-entity certificates only), keyUsage keyCertSign and cRLSign, an\n"
    "    ECDSA P-256 key (RSA-2048 with --rsa), a random 128-bit serial number, and\n"
    "    is valid from one hour ago (to tolerate clock skew) for --days days.\n"
    "\n"
    "    An existing CA is never overwritten, since every certificate it issued would\n"
    "    stop working: use another DIR, or remove the old files yourself.\n"
    "\n"
    "OPTIONS\n"
    "    --cn NAME    the CA's common name (default \"" CA_CN_DEFAULT "\"), 1 to 64\n"
    "                 characters; shown in TLS error messages, so make it recognisable\n"
    "    --days N     validity in days (default 3650, at most 36500). Certificates issued\n"
    "                 later never outlive the CA.\n"
    "    --rsa        an RSA-2048 key instead of ECDSA P-256\n"
    "    -h, --help   show this help\n"
    "\n"
    "EXIT STATUS\n"
    "    0 the CA was created; 1 it was not (a CA exists, DIR is not writable, ...);\n"
    "    2 bad arguments.\n"
    "\n"
    "EXAMPLE\n"
    "    vigilctl ca init /etc/vigil/ca --cn \"ACME fleet CA\"\n"
    "\n"
    "SEE ALSO\n"
    "    vigilctl ca issue --help, docs/tls.md\n";

static const char ca_issue_help_text[] =
    "NAME\n"
    "    vigilctl ca issue - issue a certificate from the fleet CA\n"
    "\n"
    "SYNOPSIS\n"
    "    vigilctl ca issue DIR NAME (--server | --client | --both) [--san HOST]...\n"
    "                      [--days N] [--rsa] [--force]\n"
    "\n"
    "DESCRIPTION\n"
    "    Makes a new key and has the CA in DIR (see 'vigilctl ca init') sign a\n"
    "    certificate for it, with subject CN=NAME:\n"
    "\n"
    "      DIR/NAME.crt   the certificate (mode 0644)\n"
    "      DIR/NAME.key   its private key (mode 0600); copy it only to the one\n"
    "                     machine that uses it\n"
    "\n"
    "    NAME is also the file name: letters, digits, '.', '_' and '-', at most 64\n"
    "    characters, not starting with '.' or '-', and not \"ca\".\n"
    "\n"
    "    The purpose decides what TLS peers accept the certificate for\n"
    "    (extendedKeyUsage); a certificate used for the wrong purpose fails with\n"
    "    \"unsuitable certificate purpose\":\n"
    "\n"
    "      --server   serverAuth: a TLS server, such as the registrar\n"
    "      --client   clientAuth: a TLS client, such as vigilctl or a fleet controller\n"
    "      --both     serverAuth and clientAuth: the verifier, which serves gRPC and is\n"
    "                 a client of the agents and the registrar\n"
    "\n"
    "    A client checks that the DNS name or IP address it connected to is in the\n"
    "    server's certificate (subjectAltName). Give every name and address clients\n"
    "    use, one --san each. A --server or --both certificate issued without --san\n"
    "    gets 127.0.0.1, ::1 and localhost: enough for one machine, not for a fleet.\n"
    "\n"
    "OPTIONS\n"
    "    --server, --client, --both\n"
    "                 the purpose; exactly one is required\n"
    "    --san HOST   a DNS name (no wildcards) or an IPv4/IPv6 address; repeat for\n"
    "                 more (at most 64)\n"
    "    --days N     validity in days (default 365); never past the CA's own expiry\n"
    "    --rsa        an RSA-2048 key instead of ECDSA P-256\n"
    "    --force      replace an existing DIR/NAME.crt and DIR/NAME.key (renewal);\n"
    "                 without it they are never overwritten\n"
    "    -h, --help   show this help\n"
    "\n"
    "EXIT STATUS\n"
    "    0 the certificate was issued; 1 it was not (no CA in DIR, NAME exists, ...);\n"
    "    2 bad arguments.\n"
    "\n"
    "EXAMPLES\n"
    "    vigilctl ca issue /etc/vigil/ca registrar --server \\\n"
    "        --san registrar.example.com --san 10.0.0.5\n"
    "    vigilctl ca issue /etc/vigil/ca verifier --both --san verifier.example.com\n"
    "    vigilctl ca issue /etc/vigil/ca admin --client\n"
    "\n"
    "SEE ALSO\n"
    "    vigilctl ca init --help, docs/tls.md\n";

/* Report a usage error the same way everywhere: what is wrong, then where help is. */
static int ca_usage_error(const char *sub, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int ca_usage_error(const char *sub, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vigilctl ca%s%s: ", sub ? " " : "", sub ? sub : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nRun 'vigilctl ca%s%s --help' for usage.\n", sub ? " " : "",
	        sub ? sub : "");
	return 2;
}

/* Strict decimal day count in 1..PKI_DAYS_MAX. */
/* --days of subcommand sub: a whole number from 1 to PKI_DAYS_MAX into *days; 0, or the
 * usage error's exit code (printed). */
static int ca_parse_days(const char *sub, const char *s, int *days)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || s[0] == '+' || v < 1 || v > PKI_DAYS_MAX)
		return ca_usage_error(
		    sub, "--days needs a whole number of days from 1 to %d, not \"%s\"",
		    PKI_DAYS_MAX, s);
	*days = (int)v;
	return 0;
}

/* The option that getopt_long just refused, for the error message. */
static const char *ca_bad_option(char **argv)
{
	return argv[optind - 1];
}

static int ca_file_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* mkdir -p with mode for what we create; existing directories are left alone. */
static int ca_mkdirs(const char *dir, mode_t mode)
{
	char *p = xstrdup(dir);
	int rv = -1;

	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			fprintf(stderr, "vigilctl ca: cannot create %s: %s\n", p, strerror(errno));
			goto out;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	rv = 0;
out:
	free(p);
	return rv;
}

/* DIR as an absolute path, for the configuration lines we print: daemons do not run
 * in the operator's current directory. Caller frees. */
static char *ca_absdir(const char *dir)
{
	char *abs = realpath(dir, NULL);

	return abs ? abs : xstrdup(dir);
}

/* "2036-11-21 06:00 UTC" */
static void ca_time_str(const ASN1_TIME *t, char *out, size_t n)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1 || strftime(out, n, "%Y-%m-%d %H:%M UTC", &tm) == 0)
		snprintf(out, n, "(unknown)");
}

/* SHA-256 fingerprint as colon-separated hex, as 'openssl x509 -fingerprint' shows it. */
static void ca_fingerprint(X509 *x, char *out, size_t n)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	size_t o = 0;

	out[0] = '\0';
	if (!X509_digest(x, EVP_sha256(), md, &len))
		return;
	for (unsigned int i = 0; i < len && o + 4 <= n; i++)
		o += (size_t)snprintf(out + o, n - o, "%s%02X", i ? ":" : "", md[i]);
}

static void ca_print_cert(const char *what, X509 *x, const char *crt, const char *key)
{
	char until[40], fp[100];

	ca_time_str(X509_get0_notAfter(x), until, sizeof(until));
	ca_fingerprint(x, fp, sizeof(fp));
	printf("%s\n  certificate  %s\n  private key  %s  (mode 0600)\n  valid until  %s\n"
	       "  SHA-256      %s\n",
	       what, crt, key, until, fp);
}

static int ca_init(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"cn", required_argument, NULL, 'n'},
	    {"days", required_argument, NULL, 'd'},
	    {"rsa", no_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cn = CA_CN_DEFAULT, *dir;
	char *crt = NULL, *key = NULL, *absdir = NULL, what[200];
	int days = CA_DAYS_DEFAULT, rsa = 0, c, rv = 1;
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	err_t e = {""};

	optind = 0;
	opterr = 0;
	while ((c = ctl_getopt(argc, argv, ":h", opts)) != -1) {
		switch (c) {
		case 'n':
			cn = optarg;
			break;
		case 'd':
			if (ca_parse_days("init", optarg, &days) != 0)
				return 2;
			break;
		case 'r':
			rsa = 1;
			break;
		case 'h':
			fputs(ca_init_help_text, stdout);
			return 0;
		case ':':
			return ca_usage_error("init", "%s needs a value", ca_bad_option(argv));
		default:
			return ca_usage_error("init", "unknown option \"%s\"", ca_bad_option(argv));
		}
	}
	if (argc - optind != 1)
		return ca_usage_error("init", argc - optind == 0 ? "missing the directory DIR"
		                                                 : "too many arguments");
	dir = argv[optind];
	if (dir[0] == '\0')
		return ca_usage_error("init", "DIR is empty");
	if (cn[0] == '\0' || strlen(cn) > PKI_CN_MAX)
		return ca_usage_error("init", "--cn must be 1 to %d characters", PKI_CN_MAX);
	for (const char *p = cn; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return ca_usage_error("init", "--cn must not contain control characters");

	crt = xasprintf("%s/ca.crt", dir);
	key = xasprintf("%s/ca.key", dir);
	if (ca_file_exists(crt) || ca_file_exists(key)) {
		fprintf(
		    stderr,
		    "vigilctl ca init: %s already holds a CA (%s): refusing to overwrite it,\n"
		    "since every certificate it issued would stop working. Use another\n"
		    "directory, or remove %s and %s yourself if you really mean to start over.\n",
		    dir, ca_file_exists(crt) ? crt : key, crt, key);
		goto out;
	}
	if (ca_mkdirs(dir, 0700) < 0)
		goto out;
	absdir = ca_absdir(dir);
	free(crt);
	free(key);
	crt = xasprintf("%s/ca.crt", absdir);
	key = xasprintf("%s/ca.key", absdir);
	k = pki_key_new(rsa ? PKI_KEY_RSA2048 : PKI_KEY_EC256);
	if ((x = pki_cert_issue(k, cn, NULL, days, PKI_CERT_CA, NULL, NULL, &e)) == NULL) {
		fprintf(stderr, "vigilctl ca init: %s\n", e.msg);
		goto out;
	}
	if (pki_key_save(k, key, &e) < 0) {
		fprintf(stderr, "vigilctl ca init: cannot write the CA key: %s\n", e.msg);
		goto out;
	}
	if (pki_cert_save(x, crt, &e) < 0) {
		fprintf(stderr, "vigilctl ca init: cannot write the CA certificate: %s\n", e.msg);
		unlink(key); /* no half-made CA left behind */
		goto out;
	}
	snprintf(what, sizeof(what), "Created the CA \"%s\" in %s:", cn, dir);
	ca_print_cert(what, x, crt, key);
	printf("\n"
	       "Next steps (docs/tls.md has the whole recipe):\n"
	       "  1. Issue a certificate for each server and client, naming every DNS name\n"
	       "     and IP address clients use to reach the server:\n"
	       "       vigilctl ca issue %s registrar --server --san REGISTRAR-HOST\n"
	       "       vigilctl ca issue %s verifier --both --san VERIFIER-HOST\n"
	       "       vigilctl ca issue %s admin --client\n"
	       "  2. Copy %s (not the key) to every machine; it is the one trust anchor:\n"
	       "       registrar.trusted_client_ca = ca.crt   (who may use the admin API)\n"
	       "       verifier.trusted_client_ca  = ca.crt   (who may use the gRPC API)\n"
	       "       agent.trusted_client_ca     = ca.crt   (checks the verifier)\n"
	       "       vigilctl.tls_ca             = ca.crt   (checks the verifier and the\n"
	       "                                               registrar; or --tls-ca ca.crt)\n"
	       "  3. Keep %s here, readable by you alone, and back it up offline.\n",
	       absdir, absdir, absdir, crt, key);
	rv = 0;
out:
	X509_free(x);
	EVP_PKEY_free(k);
	free(absdir);
	free(crt);
	free(key);
	return rv;
}

/* NAME of 'ca issue': safe as a file name in DIR and as a common name. */
static int ca_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > CA_NAME_MAX || name[0] == '.' || name[0] == '-' ||
	    strcmp(name, "ca") == 0)
		return 0;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
	       n;
}

/* The configuration keys that take the issued files, by purpose. */
static void ca_print_next_steps(pki_cert_kind_t kind, const char *dir, const char *crt,
                                const char *key)
{
	printf("\nNext steps (docs/tls.md has the whole recipe):\n");
	if (kind == PKI_CERT_SERVER)
		printf(
		    "  On the server this certificate is for, e.g. the registrar:\n"
		    "    registrar.tls_cert          = %s\n"
		    "    registrar.tls_key           = %s\n"
		    "    registrar.trusted_client_ca = %s/ca.crt\n"
		    "  Its clients check it against %s/ca.crt:\n"
		    "    vigilctl.tls_ca = %s/ca.crt   (or vigilctl COMMAND --tls-ca %s/ca.crt)\n",
		    crt, key, dir, dir, dir, dir);
	else if (kind == PKI_CERT_CLIENT)
		printf("  On the client this certificate is for, e.g. vigilctl, in\n"
		       "  /etc/vigil/vigilctl.conf (or a file named by -c or $VIGILCTL_CONF):\n"
		       "    vigilctl.tls_cert = %s\n"
		       "    vigilctl.tls_key  = %s\n"
		       "    vigilctl.tls_ca   = %s/ca.crt\n"
		       "  or on its command line:\n"
		       "    vigilctl COMMAND --tls-cert %s --tls-key %s --tls-ca %s/ca.crt\n"
		       "  Servers accept it when they trust %s/ca.crt:\n"
		       "    registrar.trusted_client_ca, verifier.trusted_client_ca\n",
		       crt, key, dir, crt, key, dir, dir);
	else
		printf("  On the verifier (it serves gRPC and is a client of the agents):\n"
		       "    verifier.tls_cert           = %s\n"
		       "    verifier.tls_key            = %s\n"
		       "    verifier.trusted_client_ca  = %s/ca.crt   (who may use gRPC)\n"
		       "  On every agent, so that it accepts this verifier:\n"
		       "    agent.trusted_client_ca     = %s/ca.crt\n",
		       crt, key, dir, dir);
	printf("  Copy %s only to the machine that uses it,\n"
	       "  readable by the daemon's user alone.\n",
	       key);
}

static int ca_issue(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"server", no_argument, NULL, 's'},
	    {"client", no_argument, NULL, 'c'},
	    {"both", no_argument, NULL, 'b'},
	    {"san", required_argument, NULL, 'a'},
	    {"days", required_argument, NULL, 'd'},
	    {"rsa", no_argument, NULL, 'r'},
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static const char *const default_sans[] = {"127.0.0.1", "::1", "localhost", NULL};
	const char *sans[PKI_SANS_MAX + 1] = {NULL};
	const char *const *use_sans = sans;
	const char *dir, *name;
	char *crt = NULL, *key = NULL, *cacrt = NULL, *cakey = NULL, *absdir = NULL, what[300];
	int days = CERT_DAYS_DEFAULT, rsa = 0, force = 0, nkinds = 0, c, rv = 1;
	size_t nsans = 0;
	pki_cert_kind_t kind = PKI_CERT_SERVER;
	EVP_PKEY *k = NULL, *ca_key = NULL;
	X509 *x = NULL, *ca_cert = NULL;
	err_t e = {""};

	optind = 0;
	opterr = 0;
	while ((c = ctl_getopt(argc, argv, ":h", opts)) != -1) {
		switch (c) {
		case 's':
		case 'c':
		case 'b':
			kind = c == 's'   ? PKI_CERT_SERVER
			       : c == 'c' ? PKI_CERT_CLIENT
			                  : PKI_CERT_BOTH;
			nkinds++;
			break;
		case 'a': {
			int dup = 0;
			if (pki_san_check(optarg, &e) < 0)
				return ca_usage_error("issue", "--san: %s", e.msg);
			for (size_t i = 0; i < nsans; i++)
				dup |= strcasecmp(sans[i], optarg) == 0;
			if (dup)
				break;
			if (nsans >= PKI_SANS_MAX)
				return ca_usage_error("issue", "at most %d --san", PKI_SANS_MAX);
			sans[nsans++] = optarg;
			break;
		}
		case 'd':
			if (ca_parse_days("issue", optarg, &days) != 0)
				return 2;
			break;
		case 'r':
			rsa = 1;
			break;
		case 'f':
			force = 1;
			break;
		case 'h':
			fputs(ca_issue_help_text, stdout);
			return 0;
		case ':':
			return ca_usage_error("issue", "%s needs a value", ca_bad_option(argv));
		default:
			return ca_usage_error("issue", "unknown option \"%s\"",
			                      ca_bad_option(argv));
		}
	}
	if (argc - optind < 2)
		return ca_usage_error("issue", argc - optind == 0
		                                   ? "missing DIR and NAME"
		                                   : "missing the NAME to issue for");
	if (argc - optind > 2)
		return ca_usage_error("issue",
		                      "too many arguments (\"%s\"); give each host name "
		                      "with its own --san",
		                      argv[optind + 2]);
	if (nkinds != 1)
		return ca_usage_error("issue", nkinds == 0 ? "say what the certificate is for: "
		                                             "--server, --client or --both"
		                                           : "give only one of --server, --client "
		                                             "and --both");
	dir = argv[optind];
	name = argv[optind + 1];
	if (!ca_name_ok(name))
		return ca_usage_error(
		    "issue",
		    "NAME \"%s\" is not usable: letters, digits, '.', '_' and '-', "
		    "1 to %d characters, not starting with '.' or '-', not \"ca\"",
		    name, CA_NAME_MAX);

	absdir = ca_absdir(dir);
	cacrt = xasprintf("%s/ca.crt", absdir);
	cakey = xasprintf("%s/ca.key", absdir);
	crt = xasprintf("%s/%s.crt", absdir, name);
	key = xasprintf("%s/%s.key", absdir, name);
	if (!ca_file_exists(cacrt) && !ca_file_exists(cakey)) {
		fprintf(stderr,
		        "vigilctl ca issue: there is no CA in %s (no ca.crt, no ca.key).\n"
		        "Create one first with: vigilctl ca init %s\n",
		        dir, dir);
		goto out;
	}
	if ((ca_cert = pki_cert_load(cacrt, &e)) == NULL ||
	    (ca_key = pki_key_load(cakey, &e)) == NULL) {
		fprintf(stderr, "vigilctl ca issue: cannot load the CA: %s\n", e.msg);
		goto out;
	}
	if (!force && (ca_file_exists(crt) || ca_file_exists(key))) {
		fprintf(stderr,
		        "vigilctl ca issue: %s already exists: refusing to overwrite it.\n"
		        "To renew or replace the certificate and key of \"%s\", add --force.\n",
		        ca_file_exists(crt) ? crt : key, name);
		goto out;
	}
	if (nsans == 0 && kind != PKI_CERT_CLIENT)
		use_sans = default_sans;
	k = pki_key_new(rsa ? PKI_KEY_RSA2048 : PKI_KEY_EC256);
	if ((x = pki_cert_issue(k, name, use_sans, days, kind, ca_cert, ca_key, &e)) == NULL) {
		fprintf(stderr, "vigilctl ca issue: %s\n", e.msg);
		goto out;
	}
	/* The key first: a certificate without its key is useless, the reverse is harmless. */
	if (pki_key_save(k, key, &e) < 0 || pki_cert_save(x, crt, &e) < 0) {
		fprintf(stderr, "vigilctl ca issue: %s\n", e.msg);
		goto out;
	}
	snprintf(what, sizeof(what), "Issued a %s certificate for \"%s\":",
	         kind == PKI_CERT_SERVER   ? "server"
	         : kind == PKI_CERT_CLIENT ? "client"
	                                   : "server and client",
	         name);
	ca_print_cert(what, x, crt, key);
	if (use_sans[0] != NULL) {
		printf("  valid for    ");
		for (size_t i = 0; use_sans[i] != NULL; i++)
			printf("%s%s", i ? ", " : "", use_sans[i]);
		printf("\n");
	}
	if (ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(ca_cert)) == 0)
		printf("  note: shortened to end with the CA, which expires first\n");
	if (use_sans == default_sans)
		printf("  note: no --san given, so only clients on this machine (127.0.0.1, ::1,\n"
		       "        localhost) will accept it; reissue with --force and a --san for\n"
		       "        each name and address clients use to reach it.\n");
	ca_print_next_steps(kind, absdir, crt, key);
	rv = 0;
out:
	free(absdir);
	X509_free(x);
	X509_free(ca_cert);
	EVP_PKEY_free(k);
	EVP_PKEY_free(ca_key);
	free(crt);
	free(key);
	free(cacrt);
	free(cakey);
	return rv;
}

static const char ca_k8s_help_text[] =
    "NAME\n"
    "    vigilctl ca k8s - the fleet's TLS material as Kubernetes Secrets\n"
    "\n"
    "SYNOPSIS\n"
    "    vigilctl ca k8s DIR [--namespace NS] [--agent-namespace NS] [--out FILE]\n"
    "                        [--force]\n"
    "\n"
    "DESCRIPTION\n"
    "    Writes, as one YAML stream for 'kubectl apply -f', a Secret for everything\n"
    "    the manifests in deploy/k8s mount (docs/kubernetes.md):\n"
    "\n"
    "      vigil-ca            (in the agent namespace) ca.crt, for the agents\n"
    "      vigil-tls-NAME      type kubernetes.io/tls: tls.crt, tls.key and ca.crt,\n"
    "                          one for each certificate NAME.crt issued in DIR with\n"
    "                          'vigilctl ca issue' (NAME in lower case, '_' as '-')\n"
    "      vigil-verifier-keys audit.key and report.key: the verifier pool's one audit\n"
    "                          key and one attestation-result (EAR) key\n"
    "      vigil-webhook       webhook.secret: the verifiers' webhook signing secret\n"
    "\n"
    "    DIR/audit.key and DIR/report.key (ECDSA P-256) and DIR/webhook.secret (whsec_\n"
    "    and 32 random bytes) are made on the first run, mode 0600, and reused\n"
    "    afterwards, so that running it again gives the same Secrets. The CA key never\n"
    "    leaves DIR. Each certificate must match its key and be signed by DIR's CA, or\n"
    "    nothing is written. The manifests expect certificates named registrar,\n"
    "    verifier, vigilctl and receiver; a missing one is named on stderr.\n"
    "\n"
    "OPTIONS\n"
    "    --namespace NS        of every Secret but vigil-ca (default vigil)\n"
    "    --agent-namespace NS  of vigil-ca (default vigil-agent)\n"
    "    --out FILE            write there (mode 0600) instead of standard output;\n"
    "                          an existing FILE is replaced only with --force\n"
    "    -h, --help            show this help\n"
    "\n"
    "EXIT STATUS\n"
    "    0 written; 1 not (no CA in DIR, a certificate that does not match, ...);\n"
    "    2 bad arguments.\n"
    "\n"
    "EXAMPLE\n"
    "    vigilctl ca k8s /etc/vigil/ca | kubectl apply -f -\n"
    "\n"
    "SEE ALSO\n"
    "    vigilctl ca issue --help, docs/kubernetes.md\n";

#define K8S_NAME_MAX   253       /* a Secret's name: a DNS-1123 subdomain */
#define K8S_FILE_MAX   (1 << 20) /* largest PEM file put in a Secret */
#define K8S_SECRET_PFX "vigil-tls-"

/* The certificates the manifests in deploy/k8s mount, as vigil-tls-NAME. */
static const char *const k8s_expected[] = {"registrar", "verifier", "vigilctl", "receiver", NULL};

/* A namespace: a DNS-1123 label (lower-case letters, digits, '-'; 1..63). */
static int k8s_label_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 63 && s[0] != '-' && s[n - 1] != '-' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* The Secret name for certificate NAME: "vigil-tls-" + NAME in lower case with '_' as
 * '-'; NULL when that is not a DNS-1123 subdomain. Caller frees. */
static char *k8s_secret_name(const char *name)
{
	char *s = xasprintf(K8S_SECRET_PFX "%s", name);
	size_t n = strlen(s);

	for (char *p = s; *p; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
		else if (*p == '_')
			*p = '-';
	}
	if (n > K8S_NAME_MAX || s[n - 1] == '-' || s[n - 1] == '.' || strstr(s, "..") ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-.") != n) {
		free(s);
		return NULL;
	}
	return s;
}

/* Append key: base64(contents of path) as one line of a Secret's data. 0 or -1. */
static int k8s_put_file(buf_t *y, const char *key, const char *path)
{
	buf_t f = BUF_INIT;
	char *b64;
	int n;

	if (buf_read_file(&f, path, K8S_FILE_MAX) < 0) {
		fprintf(stderr, "vigilctl ca k8s: cannot read %s: %s\n", path, strerror(errno));
		return -1;
	}
	b64 = xmalloc(4 * ((f.len + 2) / 3) + 1);
	n = EVP_EncodeBlock((unsigned char *)b64, f.data, (int)f.len);
	buf_appendf(y, "  %s: %.*s\n", key, n, b64);
	free(b64);
	buf_free_secret(&f);
	return 0;
}

static void k8s_secret_head(buf_t *y, const char *name, const char *ns, const char *type)
{
	buf_appendf(y,
	            "---\n"
	            "apiVersion: v1\n"
	            "kind: Secret\n"
	            "metadata:\n"
	            "  name: %s\n"
	            "  namespace: %s\n"
	            "  labels:\n"
	            "    app.kubernetes.io/part-of: vigil\n"
	            "type: %s\n"
	            "data:\n",
	            name, ns, type);
}

/* NAME.crt in DIR: matches NAME.key and was signed by the CA. 0 or -1 (printed). */
static int k8s_check_pair(const char *crt, const char *key, X509 *ca)
{
	err_t e = {""};
	X509 *x = pki_cert_load(crt, &e);
	EVP_PKEY *k = x ? pki_key_load(key, &e) : NULL;
	EVP_PKEY *capub = X509_get0_pubkey(ca);
	int rv = -1;

	if (x == NULL || k == NULL)
		fprintf(stderr, "vigilctl ca k8s: %s\n", e.msg);
	else if (X509_check_private_key(x, k) != 1)
		fprintf(stderr, "vigilctl ca k8s: %s is not the key of %s\n", key, crt);
	else if (capub == NULL || X509_verify(x, capub) != 1)
		fprintf(stderr, "vigilctl ca k8s: %s was not issued by this directory's CA\n", crt);
	else
		rv = 0;
	X509_free(x);
	EVP_PKEY_free(k);
	return rv;
}

/* An ECDSA P-256 key at path, made when missing (mode 0600); what says what it is for. */
static int k8s_make_key(const char *path, const char *what)
{
	err_t e = {""};
	EVP_PKEY *k;
	int rv;

	if (ca_file_exists(path))
		return 0;
	k = pki_key_new(PKI_KEY_EC256);
	rv = pki_key_save(k, path, &e);
	EVP_PKEY_free(k);
	if (rv < 0) {
		fprintf(stderr, "vigilctl ca k8s: cannot write %s: %s\n", path, e.msg);
		return -1;
	}
	fprintf(stderr, "vigilctl ca k8s: made the verifier pool's %s %s\n", what, path);
	return 0;
}

/* DIR/audit.key, DIR/report.key and DIR/webhook.secret: made when missing (mode 0600).
 * 0 or -1. */
static int k8s_make_pool_files(const char *audit, const char *report, const char *hook)
{
	err_t e = {""};

	if (k8s_make_key(audit, "audit key") < 0 ||
	    k8s_make_key(report, "attestation-result key") < 0)
		return -1;
	if (!ca_file_exists(hook)) {
		unsigned char rnd[32];
		char line[6 + 4 * sizeof(rnd) / 3 + 4 + 2];
		int n;

		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			fprintf(stderr,
			        "vigilctl ca k8s: no random bytes for the webhook secret\n");
			return -1;
		}
		memcpy(line, "whsec_", 6);
		n = EVP_EncodeBlock((unsigned char *)line + 6, rnd, sizeof(rnd));
		line[6 + n] = '\n';
		OPENSSL_cleanse(rnd, sizeof(rnd));
		if (statefile_write(hook, line, (size_t)(6 + n + 1), 0600, &e) < 0) {
			OPENSSL_cleanse(line, sizeof(line));
			fprintf(stderr, "vigilctl ca k8s: cannot write %s: %s\n", hook, e.msg);
			return -1;
		}
		OPENSSL_cleanse(line, sizeof(line));
		fprintf(stderr, "vigilctl ca k8s: made the webhook secret %s\n", hook);
	}
	return 0;
}

/* Only "NAME.crt" with a usable NAME, not the CA's. */
static int k8s_crt_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	char name[CA_NAME_MAX + 1];

	if (n <= 4 || n - 4 > CA_NAME_MAX || strcmp(d->d_name + n - 4, ".crt") != 0)
		return 0;
	memcpy(name, d->d_name, n - 4);
	name[n - 4] = '\0';
	return ca_name_ok(name);
}

/* Write y to path (0600; replaced only with force) or to stdout. 0 or -1. */
static int k8s_write(const buf_t *y, const char *path, int force)
{
	int fd;
	size_t off = 0;

	if (path == NULL)
		return fwrite(y->data, 1, y->len, stdout) == y->len && fflush(stdout) == 0 ? 0 : -1;
	fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (force ? O_TRUNC : O_EXCL),
	          0600);
	if (fd < 0) {
		fprintf(stderr, "vigilctl ca k8s: cannot create %s: %s%s\n", path, strerror(errno),
		        errno == EEXIST ? " (--force replaces it)" : "");
		return -1;
	}
	if (fchmod(fd, 0600) < 0)
		goto fail;
	while (off < y->len) {
		ssize_t w = write(fd, y->data + off, y->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "vigilctl ca k8s: cannot write %s: %s\n", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static int ca_k8s(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"namespace", required_argument, NULL, 'n'},
	    {"agent-namespace", required_argument, NULL, 'a'},
	    {"out", required_argument, NULL, 'o'},
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *ns = "vigil", *agent_ns = "vigil-agent", *out = NULL, *dir;
	char *absdir = NULL, *cacrt = NULL, *audit = NULL, *report = NULL, *hook = NULL;
	struct dirent **ents = NULL;
	int nents = 0, force = 0, c, rv = 1, bad = 0;
	buf_t y = BUF_INIT;
	X509 *ca = NULL;
	err_t e = {""};

	optind = 0;
	opterr = 0;
	while ((c = ctl_getopt(argc, argv, ":h", opts)) != -1) {
		switch (c) {
		case 'n':
			ns = optarg;
			break;
		case 'a':
			agent_ns = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'f':
			force = 1;
			break;
		case 'h':
			fputs(ca_k8s_help_text, stdout);
			return 0;
		case ':':
			return ca_usage_error("k8s", "%s needs a value", ca_bad_option(argv));
		default:
			return ca_usage_error("k8s", "unknown option \"%s\"", ca_bad_option(argv));
		}
	}
	if (argc - optind != 1)
		return ca_usage_error("k8s", argc - optind == 0 ? "missing the directory DIR"
		                                                : "too many arguments");
	if (!k8s_label_ok(ns) || !k8s_label_ok(agent_ns))
		return ca_usage_error("k8s",
		                      "a namespace is a DNS-1123 label: 1 to 63 lower-case "
		                      "letters, digits and '-', not starting or ending with '-'");
	dir = argv[optind];
	absdir = ca_absdir(dir);
	cacrt = xasprintf("%s/ca.crt", absdir);
	audit = xasprintf("%s/audit.key", absdir);
	report = xasprintf("%s/report.key", absdir);
	hook = xasprintf("%s/webhook.secret", absdir);
	if ((ca = pki_cert_load(cacrt, &e)) == NULL) {
		fprintf(stderr,
		        "vigilctl ca k8s: no CA certificate in %s (%s).\n"
		        "Create the CA first with: vigilctl ca init %s\n",
		        dir, e.msg, dir);
		goto out;
	}
	if ((nents = scandir(absdir, &ents, k8s_crt_filter, alphasort)) < 0) {
		fprintf(stderr, "vigilctl ca k8s: cannot read %s: %s\n", dir, strerror(errno));
		goto out;
	}
	buf_appendf(&y,
	            "# The fleet's TLS material for deploy/k8s, from %s by 'vigilctl ca k8s'.\n"
	            "# It holds private keys: apply it, do not commit it.\n",
	            absdir);
	k8s_secret_head(&y, "vigil-ca", agent_ns, "Opaque");
	if (k8s_put_file(&y, "ca.crt", cacrt) < 0)
		goto out;
	for (int i = 0; i < nents; i++) {
		const char *f = ents[i]->d_name;
		char *name = xstrndup(f, strlen(f) - 4);
		char *crt = xasprintf("%s/%s", absdir, f);
		char *key = xasprintf("%s/%s.key", absdir, name);
		char *sname = k8s_secret_name(name);

		if (!ca_file_exists(key)) {
			fprintf(stderr, "vigilctl ca k8s: %s has no key %s: skipped\n", crt, key);
		} else if (sname == NULL) {
			fprintf(stderr, "vigilctl ca k8s: \"%s\" does not make a Kubernetes name\n",
			        name);
			bad = 1;
		} else if (k8s_check_pair(crt, key, ca) < 0) {
			bad = 1;
		} else {
			k8s_secret_head(&y, sname, ns, "kubernetes.io/tls");
			if (k8s_put_file(&y, "tls.crt", crt) < 0 ||
			    k8s_put_file(&y, "tls.key", key) < 0 ||
			    k8s_put_file(&y, "ca.crt", cacrt) < 0)
				bad = 1;
		}
		free(sname);
		free(key);
		free(crt);
		free(name);
	}
	for (int i = 0; k8s_expected[i] != NULL; i++) {
		char *crt = xasprintf("%s/%s.crt", absdir, k8s_expected[i]);

		if (!ca_file_exists(crt))
			fprintf(stderr,
			        "vigilctl ca k8s: note: no certificate \"%s\", which deploy/k8s "
			        "mounts as " K8S_SECRET_PFX "%s (docs/kubernetes.md, step 1)\n",
			        k8s_expected[i], k8s_expected[i]);
		free(crt);
	}
	if (bad)
		goto out;
	if (k8s_make_pool_files(audit, report, hook) < 0)
		goto out;
	k8s_secret_head(&y, "vigil-verifier-keys", ns, "Opaque");
	if (k8s_put_file(&y, "audit.key", audit) < 0 || k8s_put_file(&y, "report.key", report) < 0)
		goto out;
	k8s_secret_head(&y, "vigil-webhook", ns, "Opaque");
	if (k8s_put_file(&y, "webhook.secret", hook) < 0)
		goto out;
	if (k8s_write(&y, out, force) < 0)
		goto out;
	rv = 0;
out:
	for (int i = 0; i < nents; i++)
		free(ents[i]);
	free(ents);
	buf_free_secret(&y);
	X509_free(ca);
	free(absdir);
	free(cacrt);
	free(audit);
	free(report);
	free(hook);
	return rv;
}

int cmd_ca(int argc, char **argv)
{
	if (argc < 2)
		return ca_usage_error(NULL, "missing the subcommand: init, issue or k8s");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		if (argc >= 3 && strcmp(argv[2], "init") == 0)
			fputs(ca_init_help_text, stdout);
		else if (argc >= 3 && strcmp(argv[2], "issue") == 0)
			fputs(ca_issue_help_text, stdout);
		else if (argc >= 3 && strcmp(argv[2], "k8s") == 0)
			fputs(ca_k8s_help_text, stdout);
		else
			fputs(ca_help_text, stdout);
		return 0;
	}
	if (strcmp(argv[1], "init") == 0)
		return ca_init(argc - 1, argv + 1);
	if (strcmp(argv[1], "issue") == 0)
		return ca_issue(argc - 1, argv + 1);
	if (strcmp(argv[1], "k8s") == 0)
		return ca_k8s(argc - 1, argv + 1);
	return ca_usage_error(NULL, "unknown subcommand \"%s\" (expected init, issue or k8s)",
	                      argv[1]);
}

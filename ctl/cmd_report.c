/* cmd_report: vigilctl report verify: the offline check of an attestation result, an EAR
 * token the verifier signed (common/crypto/ear.h, docs/ear.md). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/base/buf.h"
#include "common/crypto/ear.h"
#include "ctl/args.h"
#include "ctl/commands.h"

#define REPORT_MAX_AGE_DEFAULT 86400 /* seconds a token is accepted for by default */
#define REPORT_SKEW            60    /* seconds iat may lie in the future */

static const char report_usage[] =
    "Usage: vigilctl report verify FILE --key PUB.pem [--max-age SECONDS] [--now UNIXTIME]\n"
    "\n"
    "The verifier can express a node's verdict as an attestation result: an EAR token\n"
    "(IETF RATS \"EAT Attestation Results\", the profile Veraison emits), signed with its\n"
    "attestation-result key (ECDSA P-256, STATE_DIR/report.key), as a JWT or as a CWT\n"
    "(a COSE_Sign1 of CBOR claims). Anyone holding the public key can check one offline.\n"
    "See docs/ear.md for every claim.\n"
    "\n"
    "  verify FILE  check the token in FILE (\"-\": standard input), which may be either\n"
    "               encoding (told apart by its first bytes): the ES256 signature against\n"
    "               PUB.pem, the profile (" EAR_PROFILE "),\n"
    "               the issue time (iat: not more than 60 s ahead of the clock, not older\n"
    "               than --max-age), and every claim vigil knows by its type. On success\n"
    "               the claims are printed on standard output as JSON (a CWT in its JWT\n"
    "               form, with the names instead of the integer keys) and \"signature good\"\n"
    "               on standard error.\n"
    "\n"
    "Options:\n"
    "  -k, --key PUB.pem      the verifier's attestation-result public key (PEM; a private\n"
    "                         key file also works, only its public half is used)\n"
    "  -a, --max-age SECONDS  oldest iat accepted, in seconds before now (default 86400;\n"
    "                         0: any age)\n"
    "      --now UNIXTIME     judge iat against this time instead of the clock\n"
    "  -h, --help             this help\n"
    "\n"
    "Exit status: 0 the token is good, 1 it is refused (why is printed: bad signature,\n"
    "wrong key, wrong profile, expired, issued in the future, malformed), 2 usage or file\n"
    "error.\n";

static int report_verify(const char *file, const char *key_file, int64_t max_age, int64_t now)
{
	buf_t tok = BUF_INIT, pem = BUF_INIT;
	EVP_PKEY *pub = NULL;
	json_t *claims = NULL;
	ear_format_t fmt = EAR_FORMAT_JWT;
	ear_window_t w = {now, max_age, REPORT_SKEW};
	err_t e = {""};
	ear_rc_t rc;
	int rv = 2;

	if (buf_read_file(&pem, key_file, 64 * 1024) < 0) {
		fprintf(stderr, "vigilctl: %s: %s\n", key_file, strerror(errno));
		goto out;
	}
	if ((pub = ear_key_from_pem((const char *)pem.data, pem.len, &e)) == NULL) {
		fprintf(stderr, "vigilctl: %s: %s\n", key_file, e.msg);
		goto out;
	}
	if (strcmp(file, "-") == 0) {
		uint8_t chunk[65536];
		size_t n;

		while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0 && tok.len <= EAR_TOKEN_MAX)
			buf_append(&tok, chunk, n);
	} else if (buf_read_file(&tok, file, EAR_TOKEN_MAX + 1) < 0 && errno != EFBIG) {
		fprintf(stderr, "vigilctl: %s: %s\n", file, strerror(errno));
		goto out;
	}
	rc = ear_verify(tok.data, tok.len, pub, &w, &claims, &fmt, &e);
	if (rc != EAR_OK) {
		fprintf(stderr, "vigilctl: %s: refused (%s): %s\n", file, ear_rc_str(rc), e.msg);
		rv = 1;
		goto out;
	}
	json_dumpf(claims, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	fputc('\n', stdout);
	fprintf(stderr, "signature good (ES256, %s, profile %s)\n",
	        fmt == EAR_FORMAT_JWT ? "JWT" : "CWT (COSE_Sign1)", EAR_PROFILE);
	rv = 0;
out:
	json_decref(claims);
	EVP_PKEY_free(pub);
	buf_free(&tok);
	buf_free(&pem);
	return rv;
}

/* A whole non-negative decimal number, or -1. */
static int64_t report_number(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	return (errno || *s == '\0' || *end != '\0' || v < 0) ? -1 : (int64_t)v;
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"max-age", required_argument, NULL, 'a'},
	    {"now", required_argument, NULL, 'N'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *key = NULL;
	int64_t max_age = REPORT_MAX_AGE_DEFAULT, now = (int64_t)time(NULL);
	int opt;

	optind = 0;
	while ((opt = ctl_getopt(argc, argv, "hk:a:", opts)) != -1) {
		switch (opt) {
		case 'h':
			fputs(report_usage, stdout);
			return 0;
		case 'k':
			key = optarg;
			break;
		case 'a':
			if ((max_age = report_number(optarg)) < 0) {
				fprintf(stderr,
				        "vigilctl: --max-age: \"%s\" is not a number of seconds\n",
				        optarg);
				return 2;
			}
			break;
		case 'N':
			if ((now = report_number(optarg)) <= 0) {
				fprintf(stderr, "vigilctl: --now: \"%s\" is not a unix time\n",
				        optarg);
				return 2;
			}
			break;
		default:
			goto usage;
		}
	}
	if (optind + 2 == argc && strcmp(argv[optind], "verify") == 0) {
		if (key == NULL) {
			fprintf(stderr, "vigilctl: report verify needs --key PUB.pem\n");
			return 2;
		}
		return report_verify(argv[optind + 1], key, max_age, now);
	}
usage:
	fprintf(stderr, "%s(see --help)\n", report_usage);
	return 2;
}

/* cmd_eventlog: vigilctl eventlog show (decode a UEFI event log and replay its PCRs; the
 * decoding itself is ctl/eventlog_json.c) and vigilctl policy create mb (a Keylime-format
 * measured-boot refstate from a golden log). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/base/buf.h"
#include "common/evidence/eventlog.h"
#include "common/base/log.h"
#include "common/policy/mb_policy_gen.h"
#include "ctl/args.h"
#include "ctl/commands.h"
#include "ctl/eventlog_json.h"

static const char eventlog_help[] =
    "NAME\n"
    "    vigilctl eventlog - decode a UEFI measured-boot event log and replay its PCRs\n"
    "\n"
    "SYNOPSIS\n"
    "    vigilctl eventlog show FILE [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Reads a binary TCG PC Client event log, as the kernel exposes it in\n"
    "    /sys/kernel/security/tpm0/binary_bios_measurements (FILE '-' reads standard\n"
    "    input). Both layouts are understood: the legacy SHA-1 log of TPM 1.2 firmware and\n"
    "    the crypto-agile log (Spec ID Event03) with one digest per active PCR bank.\n"
    "\n"
    "    Every event is printed with its index (the Spec ID header is event 0, as in\n"
    "    tpm2_eventlog), byte offset, PCR, type, digests and its decoded data: UEFI\n"
    "    variables with their Secure Boot signature lists, boot options, loaded images\n"
    "    with their device paths, firmware blobs, grub's EV_IPL strings, separators, the\n"
    "    Spec ID and StartupLocality no-action events. Then the log is replayed per bank:\n"
    "    PCR 0 starts at the StartupLocality when the log has one, at 4 when an\n"
    "    EV_EFI_HCRTM_EVENT shows that an H-CRTM started it, PCRs 17-22 at all ones,\n"
    "    the rest at zero; EV_NO_ACTION events are not extended. The values printed are\n"
    "    what a TPM that measured this boot must hold; compare them with tpm2_pcrread.\n"
    "\n"
    "    The parser is strict: a log that is truncated, whose sizes or digest counts do\n"
    "    not add up, or that names an undeclared algorithm is rejected with the event\n"
    "    index and byte offset where it goes wrong.\n"
    "\n"
    "OPTIONS\n"
    "    --json    Print one JSON document instead of text. Its layout is stable and\n"
    "              documented in docs/policies.md; \"pcrs\" lists, per replayable bank,\n"
    "              the PCRs the log extends (the others keep their reset values).\n"
    "    -h, --help\n"
    "              Show this help.\n"
    "\n"
    "EXIT STATUS\n"
    "    0 the log was decoded; 1 it could not be read or is malformed (the reason is\n"
    "    printed on standard error); 2 usage error.\n"
    "\n"
    "EXAMPLES\n"
    "    vigilctl eventlog show /sys/kernel/security/tpm0/binary_bios_measurements\n"
    "    vigilctl eventlog show boot.log --json | jq '.pcrs.sha256'\n";

static const char policy_mb_help[] =
    "NAME\n"
    "    vigilctl policy create mb - a measured-boot policy from a golden machine's log\n"
    "\n"
    "SYNOPSIS\n"
    "    vigilctl policy create mb --event-log FILE [--output OUT] [--without-secureboot]\n"
    "\n"
    "DESCRIPTION\n"
    "    Reads the UEFI event log of a machine known to be good and writes a measured-boot\n"
    "    reference state in Keylime's format (the one keylime-policy create measured-boot\n"
    "    and create_mb_refstate write), for Keylime's 'example' policy engine and for\n"
    "    vigil's verifier: the S-CRTM and firmware blob digests, the Secure Boot keys (PK,\n"
    "    KEK, db, dbx and shim's vendor_db), the MokList and MokListX digests, and one\n"
    "    kernel entry with the shim, grub and kernel Authenticode digests, the initrd\n"
    "    digest and the kernel command line (as an escaped regular expression; edit it to\n"
    "    allow variations). Add further kernels or firmware to the lists by hand.\n"
    "\n"
    "    The log must show Secure Boot enabled; a policy for a machine without Secure Boot\n"
    "    (measured boot only: grub's vmlinuz digest instead of the kernel's Authenticode\n"
    "    digest) needs --without-secureboot. Logs from which no passing policy can be made\n"
    "    are refused with the reason: no sha256 bank, no EV_S_CRTM_VERSION event, not\n"
    "    three or four boot applications (shim, grub, kernel) with Secure Boot or two\n"
    "    without, no initrd or kernel command line measured by grub, or an event the\n"
    "    format has no place for (EV_POST_CODE in PCR 0, say): the policy made is judged\n"
    "    against the log before it is written, and never fails the log it came from.\n"
    "\n"
    "OPTIONS\n"
    "    -e, --event-log FILE\n"
    "              The binary event log ('-' for standard input). Required.\n"
    "    -o, --output OUT\n"
    "              Write the policy to OUT (atomically, mode 0644) instead of standard\n"
    "              output ('-').\n"
    "    -i, --without-secureboot\n"
    "              Make a policy for a machine that boots without Secure Boot. Ignored,\n"
    "              with a warning, when the log shows Secure Boot enabled.\n"
    "    -h, --help\n"
    "              Show this help.\n"
    "\n"
    "EXIT STATUS\n"
    "    0 the policy was written; 1 the log could not be read or no policy can be made\n"
    "    from it (the reason is printed); 2 usage error.\n"
    "\n"
    "EXAMPLES\n"
    "    vigilctl policy create mb -e /sys/kernel/security/tpm0/binary_bios_measurements \\\n"
    "        -o mb-refstate.json\n";

/* ---- commands ---- */

static int read_log(const char *path, buf_t *b)
{
	if (buf_read_file(b, strcmp(path, "-") == 0 ? "/dev/stdin" : path, EVENTLOG_MAX_SIZE) < 0) {
		if (errno == EFBIG)
			fprintf(stderr, "vigilctl: %s: larger than %u bytes\n", path,
			        EVENTLOG_MAX_SIZE);
		else
			fprintf(stderr, "vigilctl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int eventlog_show(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	int c, as_json = 0, rv = 1;
	buf_t b = BUF_INIT;
	eventlog_t *log = NULL;
	err_t e = {""};
	json_t *doc = NULL;

	optind = 0;
	while ((c = ctl_getopt(argc, argv, "jh", opts)) != -1) {
		if (c == 'j') {
			as_json = 1;
		} else if (c == 'h') {
			fputs(eventlog_help, stdout);
			return 0;
		} else {
			fputs("Usage: vigilctl eventlog show FILE [--json]\n", stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fputs("Usage: vigilctl eventlog show FILE [--json]\n", stderr);
		return 2;
	}
	if (read_log(argv[optind], &b) < 0)
		goto out;
	if ((log = eventlog_parse(b.data, b.len, &e)) == NULL) {
		fprintf(stderr, "vigilctl: %s: %s\n", argv[optind], e.msg);
		goto out;
	}
	doc = eventlog_json_doc(log);
	if (as_json) {
		if (json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0) {
			fprintf(stderr, "vigilctl: cannot write the JSON\n");
			goto out;
		}
		fputc('\n', stdout);
	} else {
		eventlog_json_print_text(stdout, log, doc);
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "vigilctl: writing the output: %s\n", strerror(errno));
		goto out;
	}
	rv = 0;
out:
	json_decref(doc);
	eventlog_free(log);
	buf_free(&b);
	return rv;
}

int cmd_eventlog(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	                  strcmp(argv[1], "help") == 0)) {
		fputs(eventlog_help, stdout);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "show") == 0)
		return eventlog_show(argc - 1, argv + 1);
	fputs("Usage: vigilctl eventlog show FILE [--json]\n"
	      "Run 'vigilctl eventlog --help' for the details.\n",
	      stderr);
	return 2;
}

int cmd_policy_create_mb(int argc, char **argv)
{
	static const struct option opts[] = {{"event-log", required_argument, NULL, 'e'},
	                                     {"output", required_argument, NULL, 'o'},
	                                     {"without-secureboot", no_argument, NULL, 'i'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	static const char usage[] = "Usage: vigilctl policy create mb --event-log FILE "
	                            "[--output OUT] [--without-secureboot]\n";
	const char *in = NULL, *outpath = "-";
	int c, without_sb = 0, rv = 1;
	buf_t b = BUF_INIT, out = BUF_INIT;
	eventlog_t *log = NULL;
	err_t e = {""};

	optind = 0;
	while ((c = ctl_getopt(argc, argv, "e:o:ih", opts)) != -1) {
		switch (c) {
		case 'e':
			in = optarg;
			break;
		case 'o':
			outpath = optarg;
			break;
		case 'i':
			without_sb = 1;
			break;
		case 'h':
			fputs(policy_mb_help, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (in == NULL || optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	if (read_log(in, &b) < 0)
		goto out;
	if ((log = eventlog_parse(b.data, b.len, &e)) == NULL) {
		fprintf(stderr, "vigilctl: %s: %s\n", in, e.msg);
		goto out;
	}
	if (mb_policy_create(log, without_sb, &out, &e) < 0) {
		fprintf(stderr, "vigilctl: %s: %s\n", in, e.msg);
		goto out;
	}
	if (strcmp(outpath, "-") == 0) {
		if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
			fprintf(stderr, "vigilctl: writing the policy: %s\n", strerror(errno));
			goto out;
		}
	} else if (buf_write_file(outpath, out.data, out.len, 0644) < 0) {
		fprintf(stderr, "vigilctl: %s: %s\n", outpath, strerror(errno));
		goto out;
	}
	rv = 0;
out:
	eventlog_free(log);
	buf_free(&b);
	buf_free(&out);
	return rv;
}

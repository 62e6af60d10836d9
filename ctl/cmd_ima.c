/* cmd_ima: vigilctl ima replay, and vigilctl policy create runtime (both work offline on
 * an IMA ascii measurement list). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/buf.h"
#include "common/evidence/ima.h"
#include "common/policy/runtime_policy.h"
#include "common/crypto/tpm2.h"
#include "common/base/xmalloc.h"
#include "common/policy/runtime_policy_eval.h"
#include "common/policy/runtime_policy_gen.h"
#include "ctl/args.h"
#include "ctl/commands.h"

#define CTL_MAX_LIST_ITEMS 10000 /* --exclude, --ignored-keyring, --verification-key */

static const char ima_replay_help[] =
    "NAME\n"
    "    vigilctl ima replay - replay an IMA measurement list to its PCR 10 value\n"
    "\n"
    "SYNOPSIS\n"
    "    vigilctl ima replay FILE [--bank sha1|sha256|sha384|sha512|all]\n"
    "                        [--log-hash-alg ALG] [--policy POLICY] [--quiet]\n"
    "\n"
    "DESCRIPTION\n"
    "    Reads an IMA ascii measurement list (the format of\n"
    "    /sys/kernel/security/ima/ascii_runtime_measurements; FILE '-' is standard\n"
    "    input), checks every entry's template hash, and extends the entries into a\n"
    "    zeroed PCR 10 exactly as the kernel does: the SHA-1 bank gets the template\n"
    "    hash, every bank gets H_bank(template data), and a violation entry (all-zero\n"
    "    template hash) extends ff..ff. Compare the result with tpm2_pcrread or a\n"
    "    quote to see whether a list is complete and untampered.\n"
    "    Templates: ima, ima-ng, ima-sig, ima-buf. A malformed line stops the replay\n"
    "    with its line number.\n"
    "\n"
    "OPTIONS\n"
    "    --bank ALG          PCR bank to compute (default sha1); 'all' prints each.\n"
    "    --log-hash-alg ALG  algorithm of the template-hash column (default sha1, as\n"
    "                        the kernel prints it; a runtime policy's\n"
    "                        ima.log_hash_alg). Overrides the policy's value.\n"
    "    --policy POLICY     also judge every entry against a Keylime runtime policy\n"
    "                        (JSON) and print each failing entry with its reason.\n"
    "    -q, --quiet         print only the PCR value (one bank).\n"
    "    -h, --help          this text.\n"
    "\n"
    "OUTPUT\n"
    "    pcr10.<bank> <hex>   for each bank computed\n"
    "    entries <n>          entries replayed\n"
    "    with --policy: one 'FAIL <event id>: <reason>' line per failing entry on\n"
    "    standard error, then 'policy pass' or 'policy fail <n> entries'.\n"
    "\n"
    "EXIT STATUS\n"
    "    0 replayed (and, with --policy, every entry passed); 1 malformed list,\n"
    "    template hash mismatch, unreadable file or policy failure; 2 usage error.\n"
    "\n"
    "EXAMPLES\n"
    "    vigilctl ima replay /sys/kernel/security/ima/ascii_runtime_measurements \\\n"
    "        --bank sha256\n"
    "    vigilctl ima replay list.txt --policy runtime-policy.json\n";

static const char policy_runtime_help[] =
    "NAME\n"
    "    vigilctl policy create runtime - build a runtime (IMA) policy from a golden\n"
    "    machine's measurement list\n"
    "\n"
    "SYNOPSIS\n"
    "    vigilctl policy create runtime --ima-log FILE [--output OUT]\n"
    "        [--exclude REGEX]... [--exclude-file FILE] [--log-hash-alg ALG]\n"
    "        [--keyrings] [--ima-buf] [--ignored-keyring NAME]...\n"
    "        [--verification-key FILE]... [--timestamp TEXT]\n"
    "\n"
    "DESCRIPTION\n"
    "    Writes a Keylime-format runtime policy (JSON, meta.version 1) that allows\n"
    "    exactly what the golden machine measured: for every ima, ima-ng and ima-sig\n"
    "    entry, its file digest under its path in \"digests\" (boot_aggregate\n"
    "    included: it is the first entry of every list). Every entry's template hash\n"
    "    is checked on the way; violation entries (all-zero template hash) are\n"
    "    skipped; a list with an entry for a PCR other than 10 is refused, as\n"
    "    'vigilctl ima replay' and the verifier refuse it. The policy loads in\n"
    "    vigil's verifier and in Keylime's.\n"
    "    Take the list from a freshly booted golden machine after running the\n"
    "    workloads you want to allow; a node that boots the same image and runs the\n"
    "    same binaries then passes. boot_aggregate depends on the firmware and boot\n"
    "    chain: machines that boot differently need their values added (the\n"
    "    verifier also accepts the value it computes from the quoted PCRs).\n"
    "\n"
    "OPTIONS\n"
    "    --ima-log FILE          the golden list (FILE '-' is standard input).\n"
    "    -o, --output OUT        write the policy to OUT (atomically); default\n"
    "                            standard output.\n"
    "    --exclude REGEX         paths to skip entirely, as a Python-style regular\n"
    "                            expression matched at the start of the path\n"
    "                            (e.g. '/tmp/.*'); repeatable.\n"
    "    --exclude-file FILE     more excludes, one per line; empty lines and lines\n"
    "                            starting with '#' are ignored.\n"
    "    --log-hash-alg ALG      template-hash algorithm of the list (default sha1).\n"
    "    --keyrings              add keys measured into keyrings (ima-buf entries\n"
    "                            holding a certificate or public key) to\n"
    "                            \"keyrings\"; at attestation such keys are learned\n"
    "                            and used to verify ima-sig signatures.\n"
    "    --ima-buf               add the other ima-buf entries (kexec command line,\n"
    "                            device-mapper tables, ...) to \"ima-buf\".\n"
    "    --ignored-keyring NAME  keyring whose key measurements are not checked\n"
    "                            ('*' for all); repeatable.\n"
    "    --verification-key FILE a certificate or public key (PEM or DER, RSA or\n"
    "                            EC) that signs files: ima-sig entries with a\n"
    "                            valid signature by it pass without a digest;\n"
    "                            repeatable.\n"
    "    --timestamp TEXT        meta.timestamp (default: now, UTC).\n"
    "    -h, --help              this text.\n"
    "\n"
    "EXIT STATUS\n"
    "    0 written; 1 unreadable or malformed list, bad regex or key; 2 usage error.\n"
    "\n"
    "EXAMPLES\n"
    "    vigilctl policy create runtime \\\n"
    "        --ima-log /sys/kernel/security/ima/ascii_runtime_measurements \\\n"
    "        --exclude '/tmp/.*' --exclude '/var/log/.*' -o runtime-policy.json\n";

static int read_input(const char *path, buf_t *b, size_t max)
{
	if (buf_read_file(b, strcmp(path, "-") == 0 ? "/dev/stdin" : path, max) < 0) {
		fprintf(stderr, "vigilctl: %s: %s\n", path,
		        errno == EFBIG ? "file too large" : strerror(errno));
		return -1;
	}
	return 0;
}

/* Offline policy check: print every failing entry, keep replaying. */
typedef struct ctl_policy_ctx {
	runtime_policy_eval_t *ev; /* evaluator */
	uint64_t failed;           /* entries that failed */
} ctl_policy_ctx_t;

static int ctl_policy_cb(void *arg, const ima_entry_t *ent, ima_failure_t *f)
{
	ctl_policy_ctx_t *c = arg;

	if (runtime_policy_check_entry(c->ev, ent, f) < 0) {
		fprintf(stderr, "FAIL %s: %s\n", f->event_id, f->reason);
		c->failed++;
	}
	return 0;
}

static int ima_replay_cmd(int argc, char **argv)
{
	static const struct option opts[] = {{"bank", required_argument, NULL, 'b'},
	                                     {"log-hash-alg", required_argument, NULL, 'l'},
	                                     {"policy", required_argument, NULL, 'p'},
	                                     {"quiet", no_argument, NULL, 'q'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	static const uint16_t all_banks[] = {TPM2_ALG_SHA1_ID, TPM2_ALG_SHA256_ID,
	                                     TPM2_ALG_SHA384_ID, TPM2_ALG_SHA512_ID};
	const char *bank_name = "sha1", *log_name = NULL, *policy_path = NULL;
	uint16_t banks[4], log_alg = TPM2_ALG_SHA1_ID;
	size_t nbanks = 0;
	int quiet = 0, c, rv = 1;
	buf_t text = BUF_INIT;
	runtime_policy_t *pol = NULL;
	ctl_policy_ctx_t pc = {NULL, 0};
	err_t e = {""};

	optind = 0;
	while ((c = ctl_getopt(argc, argv, "qh", opts)) != -1) {
		switch (c) {
		case 'b':
			bank_name = optarg;
			break;
		case 'l':
			log_name = optarg;
			break;
		case 'p':
			policy_path = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			fputs(ima_replay_help, stdout);
			return 0;
		default:
			fprintf(stderr, "Run 'vigilctl ima replay --help' for the options.\n");
			return 2;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "vigilctl ima replay: expected one FILE\n"
		                "Run 'vigilctl ima replay --help' for the options.\n");
		return 2;
	}
	if (strcmp(bank_name, "all") == 0) {
		memcpy(banks, all_banks, sizeof(banks));
		nbanks = 4;
	} else if ((banks[0] = ima_alg_from_name(bank_name)) != 0) {
		nbanks = 1;
	} else {
		fprintf(stderr,
		        "vigilctl ima replay: unknown bank \"%s\" (sha1, sha256, sha384, "
		        "sha512 or all)\n",
		        bank_name);
		return 2;
	}
	if (quiet && nbanks != 1) {
		fprintf(stderr, "vigilctl ima replay: --quiet needs a single --bank\n");
		return 2;
	}
	if (policy_path != NULL) {
		pol = runtime_policy_load(policy_path, 0, &e);
		if (pol == NULL) {
			fprintf(stderr, "vigilctl: %s\n", e.msg);
			goto out;
		}
		log_alg = runtime_policy_log_hash_alg(pol);
	}
	if (log_name != NULL && (log_alg = ima_alg_from_name(log_name)) == 0) {
		fprintf(stderr, "vigilctl ima replay: unknown log hash algorithm \"%s\"\n",
		        log_name);
		rv = 2;
		goto out;
	}
	if (read_input(argv[optind], &text, IMA_TEXT_MAX) < 0)
		goto out;
	for (size_t i = 0; i < nbanks; i++) {
		ima_state_t *st = ima_state_new(banks[i]);
		ima_replay_result_t res;
		const uint8_t *pcr;
		size_t plen;
		ima_status_t s;

		if (pol != NULL && i == 0)
			pc.ev = runtime_policy_eval_new(pol);
		s = ima_replay(st, (const char *)text.data, text.len, 0, NULL, 0, log_alg,
		               pc.ev != NULL && i == 0 ? ctl_policy_cb : NULL, &pc, &res);
		if (s != IMA_OK) {
			fprintf(stderr, "vigilctl: %s: %s (%s)\n", argv[optind], res.failure.reason,
			        res.failure.event_id);
			ima_state_free(st);
			goto out;
		}
		pcr = ima_state_pcr(st, &plen);
		if (!quiet)
			printf("pcr10.%s ", ima_alg_name(banks[i]));
		for (size_t k = 0; k < plen; k++)
			printf("%02x", pcr[k]);
		printf("\n");
		if (!quiet && i + 1 == nbanks)
			printf("entries %" PRIu64 "\n", res.entries);
		ima_state_free(st);
	}
	if (pc.ev != NULL) {
		if (pc.failed)
			printf("policy fail %" PRIu64 " entries\n", pc.failed);
		else
			printf("policy pass\n");
	}
	rv = pc.failed ? 1 : 0;
out:
	runtime_policy_eval_free(pc.ev);
	runtime_policy_unref(pol);
	buf_free(&text);
	return rv;
}

int cmd_ima(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "replay") == 0)
		return ima_replay_cmd(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(ima_replay_help, stdout);
		return 0;
	}
	fprintf(stderr, "Usage: vigilctl ima replay FILE [--bank ALG] [--log-hash-alg ALG]\n"
	                "Run 'vigilctl ima replay --help' for the details.\n");
	return 2;
}

/* Append one string to a growable list, bounded. */
static int list_add(const char ***v, size_t *n, const char *s)
{
	if (*n >= CTL_MAX_LIST_ITEMS) {
		fprintf(stderr, "vigilctl: more than %d values for one option\n",
		        CTL_MAX_LIST_ITEMS);
		return -1;
	}
	*v = xrealloc(*v, (*n + 1) * sizeof(char *));
	(*v)[(*n)++] = s;
	return 0;
}

/* --exclude-file: one regex per line; the lines live in file (kept until exit). */
static int read_exclude_file(const char *path, buf_t *file, const char ***v, size_t *n)
{
	char *p, *end;

	if (read_input(path, file, 16u << 20) < 0)
		return -1;
	p = (char *)file->data;
	end = p + file->len;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));

		if (nl == NULL)
			nl = end;
		*nl = 0;
		if (nl > p && nl[-1] == '\r')
			nl[-1] = 0;
		if (*p != 0 && *p != '#' && list_add(v, n, p) < 0)
			return -1;
		p = nl + 1;
	}
	return 0;
}

int cmd_policy_create_runtime(int argc, char **argv)
{
	static const struct option opts[] = {{"ima-log", required_argument, NULL, 'i'},
	                                     {"output", required_argument, NULL, 'o'},
	                                     {"exclude", required_argument, NULL, 'x'},
	                                     {"exclude-file", required_argument, NULL, 'X'},
	                                     {"log-hash-alg", required_argument, NULL, 'l'},
	                                     {"keyrings", no_argument, NULL, 'k'},
	                                     {"ima-buf", no_argument, NULL, 'B'},
	                                     {"ignored-keyring", required_argument, NULL, 'g'},
	                                     {"verification-key", required_argument, NULL, 'K'},
	                                     {"timestamp", required_argument, NULL, 't'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	runtime_policy_gen_opts_t go;
	const char *log_path = NULL, *out_path = NULL;
	const char **excl = NULL, **ign = NULL, **keys = NULL;
	size_t nexcl = 0, nign = 0, nkeys = 0;
	buf_t text = BUF_INIT, out = BUF_INIT, exfile = BUF_INIT;
	err_t e = {""};
	int c, rv = 1;

	memset(&go, 0, sizeof(go));
	go.log_alg = TPM2_ALG_SHA1_ID;
	optind = 0;
	while ((c = ctl_getopt(argc, argv, "o:h", opts)) != -1) {
		switch (c) {
		case 'i':
			log_path = optarg;
			break;
		case 'o':
			out_path = optarg;
			break;
		case 'x':
			if (list_add(&excl, &nexcl, optarg) < 0)
				goto out;
			break;
		case 'X':
			if (exfile.len != 0) {
				fprintf(stderr, "vigilctl: --exclude-file may be given once\n");
				rv = 2;
				goto out;
			}
			if (read_exclude_file(optarg, &exfile, &excl, &nexcl) < 0)
				goto out;
			break;
		case 'l':
			if ((go.log_alg = ima_alg_from_name(optarg)) == 0) {
				fprintf(stderr, "vigilctl: unknown log hash algorithm \"%s\"\n",
				        optarg);
				rv = 2;
				goto out;
			}
			break;
		case 'k':
			go.with_keyrings = 1;
			break;
		case 'B':
			go.with_ima_buf = 1;
			break;
		case 'g':
			if (list_add(&ign, &nign, optarg) < 0)
				goto out;
			break;
		case 'K':
			if (list_add(&keys, &nkeys, optarg) < 0)
				goto out;
			break;
		case 't':
			go.timestamp = optarg;
			break;
		case 'h':
			fputs(policy_runtime_help, stdout);
			rv = 0;
			goto out;
		default:
			fprintf(stderr,
			        "Run 'vigilctl policy create runtime --help' for the options.\n");
			rv = 2;
			goto out;
		}
	}
	if (log_path == NULL || optind != argc) {
		fprintf(stderr, "vigilctl policy create runtime: --ima-log FILE is required (and "
		                "nothing else)\n"
		                "Run 'vigilctl policy create runtime --help' for the options.\n");
		rv = 2;
		goto out;
	}
	go.excludes = excl;
	go.n_excludes = nexcl;
	go.ignored_keyrings = ign;
	go.n_ignored_keyrings = nign;
	go.key_files = keys;
	go.n_key_files = nkeys;
	if (read_input(log_path, &text, IMA_TEXT_MAX) < 0)
		goto out;
	if (runtime_policy_generate((const char *)text.data, text.len, &go, &out, &e) < 0) {
		fprintf(stderr, "vigilctl: %s: %s\n", log_path, e.msg);
		goto out;
	}
	if (out_path == NULL || strcmp(out_path, "-") == 0) {
		if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
			fprintf(stderr, "vigilctl: writing the policy: %s\n", strerror(errno));
			goto out;
		}
	} else if (buf_write_file(out_path, out.data, out.len, 0644) < 0) {
		fprintf(stderr, "vigilctl: %s: %s\n", out_path, strerror(errno));
		goto out;
	}
	rv = 0;
out:
	free(excl);
	free(ign);
	free(keys);
	buf_free(&text);
	buf_free(&out);
	buf_free(&exfile);
	return rv;
}

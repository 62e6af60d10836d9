/* cmd_report: vigilctl report UUID | report key | report verify, and vigilctl attest UUID:
 * a node's trust report and on-demand attestation over the verifier's gRPC API
 * (GetReport, GetReportKey, AttestNow), and the offline check of an attestation result,
 * an EAR token the verifier signed (common/crypto/ear.h, docs/ear.md). */
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
#include "ctl/ctlconf.h"
#include "ctl/show.h"

#define REPORT_MAX_AGE_DEFAULT 86400 /* seconds a token is accepted for by default */
#define REPORT_SKEW            60    /* seconds iat may lie in the future */

static const char report_usage[] =
    "Usage: vigilctl report verify FILE --key PUB.pem [--max-age SECONDS] [--now UNIXTIME]\n"
    "       (vigilctl report UUID and vigilctl report key: see vigilctl report --help)\n"
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

static int report_verify_cmd(int argc, char **argv)
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

/* ---- report UUID, report key, attest UUID: over the verifier's gRPC API ---- */

static const char report_node_usage[] =
    "Usage: vigilctl report UUID [--ear jwt|cwt] [--out FILE] [--events N] [--json]\n"
    "                            [connection options]\n"
    "       vigilctl report key [--out FILE] [connection options]\n"
    "       vigilctl report verify FILE --key PUB.pem [--max-age SECONDS]\n"
    "\n"
    "  report UUID  the node's trust report (GetReport): its current verdict and the\n"
    "               evidence behind it, that of the last round that reached the checks:\n"
    "               when its quote arrived, the TPM clock of the last good quote (clock,\n"
    "               reset and restart counts, safe flag), every PCR quoted in that round\n"
    "               with its value and whether the PCR policy constrains it (ok / FAIL /\n"
    "               - when it does not), the measured-boot and IMA results (pass, fail,\n"
    "               none: no such policy, skipped: an earlier check failed) with what\n"
    "               failed (for IMA the entry, its path and digest), the policies it is\n"
    "               judged by with their SHA-256, the EAR status the verdict maps to\n"
    "               (affirming, warning, contraindicated, none; docs/ear.md) and the\n"
    "               node's last events, newest last. A node stored but not attested by\n"
    "               this verifier (it failed to load, or another pool instance holds it)\n"
    "               shows its stored state, EAR status none.\n"
    "  report key   the verifier's attestation-result public key (PEM; GetReportKey), the\n"
    "               key `report verify` checks tokens with; its key id (hex SHA-256 of\n"
    "               the DER SubjectPublicKeyInfo) goes to standard error.\n"
    "  report verify  check a token offline (vigilctl report verify --help).\n"
    "\n"
    "Options:\n"
    "      --ear jwt|cwt  also have the verdict signed as an EAR token (JWT, or CWT: a\n"
    "                     COSE_Sign1 of CBOR claims). Written to --out FILE; without\n"
    "                     --out the token alone goes to standard output (instead of the\n"
    "                     report), e.g. to pipe into `vigilctl report verify - --key K`\n"
    "  -o, --out FILE     where the token (report UUID) or the PEM key (report key) goes\n"
    "      --events N     the node's last N events (default 10, at most 100)\n"
    "      --json         the report as JSON (every field of the Report message)\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit status: 0 done, 1 the verifier refused (the reason is printed: NOT_FOUND for an\n"
    "unknown UUID, INVALID_ARGUMENT naming the field) or could not be reached, 2 usage or\n"
    "file error.\n";

static const char attest_usage[] =
    "Usage: vigilctl attest UUID [--ear jwt|cwt] [--out FILE] [--json] [connection options]\n"
    "\n"
    "Attests a node now (AttestNow): the verifier that owns it starts a round at once (or,\n"
    "when a request to the agent is already under way, waits for that one), and answers\n"
    "once the round is judged, with the verdict and its evidence, printed as by `vigilctl\n"
    "report UUID` (without events). The node's schedule goes on as before: its next\n"
    "regular round comes one quote interval after this one. A failed round is a verdict\n"
    "like any other: the node is revoked and stops being polled until ReactivateNode.\n"
    "\n"
    "Refusals: NOT_FOUND (no such node); FAILED_PRECONDITION (stopped by an operator or\n"
    "failed, and not polled: reactivate it first; being removed; stored but not attested\n"
    "here; held by another pool instance, named); UNAVAILABLE (its agent did not answer:\n"
    "the reason is printed, and its usual retries go on); RESOURCE_EXHAUSTED (16 calls wait\n"
    "on that node already).\n"
    "\n"
    "Options:\n"
    "      --ear jwt|cwt  also have the verdict signed as an EAR token; written to --out\n"
    "                     FILE, or without --out to standard output instead of the report\n"
    "  -o, --out FILE     where the token goes\n"
    "      --json         the report as JSON\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit status: 0 the node passed (PASS), 1 it failed (FAIL), 2 no verdict: the verifier\n"
    "refused or could not be reached (reason printed), or a usage or file error.\n";

enum {
	REPORT_OPT_EAR = 2000, /* above the shared options' numbers (CTL_OPT_BASE) */
	REPORT_OPT_EVENTS,
	REPORT_OPT_JSON,
};

typedef struct report_opts {
	Vigil__V1__EarFormat ear; /* token asked for */
	const char *out;          /* --out */
	uint32_t events;          /* --events (0: the server's default) */
} report_opts_t;

/* Parse the shared connection options plus ours (--ear, --out, --events only where
 * with_events). Returns the index of the first operand, -1 on a usage error (printed),
 * or -2 after --help (printed). */
static int report_getopt(ctl_conf_t *c, int argc, char **argv, report_opts_t *o, int with_events,
                         const char *usage)
{
	static const struct option extra[] = {
	    {"ear", required_argument, NULL, REPORT_OPT_EAR},
	    {"out", required_argument, NULL, 'o'},
	    {"events", required_argument, NULL, REPORT_OPT_EVENTS},
	    {"help", no_argument, NULL, 'h'},
	};
	struct option all[CTL_COMMON_OPTION_COUNT + 5];
	int opt;
	int64_t v;

	memset(all, 0, sizeof(all));
	memcpy(all, ctl_common_options, CTL_COMMON_OPTION_COUNT * sizeof(*all));
	memcpy(all + CTL_COMMON_OPTION_COUNT, extra, sizeof(extra));
	memset(o, 0, sizeof(*o));
	optind = 0;
	while ((opt = ctl_getopt(argc, argv, "hc:o:", all)) != -1) {
		switch (opt) {
		case 'h':
			printf("%s\n%s", usage, ctl_common_help);
			return -2;
		case REPORT_OPT_EAR:
			if (strcmp(optarg, "jwt") == 0)
				o->ear = VIGIL__V1__EAR_FORMAT__EAR_JWT;
			else if (strcmp(optarg, "cwt") == 0)
				o->ear = VIGIL__V1__EAR_FORMAT__EAR_CWT;
			else {
				fprintf(stderr, "vigilctl: --ear: \"%s\" is neither jwt nor cwt\n",
				        optarg);
				return -1;
			}
			break;
		case 'o':
			o->out = optarg;
			break;
		case REPORT_OPT_EVENTS:
			if (!with_events || (v = report_number(optarg)) < 0 || v > 100) {
				fprintf(stderr,
				        "vigilctl: --events: \"%s\" is not a number 0-100\n",
				        optarg);
				return -1;
			}
			o->events = (uint32_t)v;
			break;
		default:
			if (opt == '?' || ctl_conf_option(c, opt, optarg) < 0) {
				fprintf(stderr, "%s(see --help)\n", usage);
				return -1;
			}
		}
	}
	return optind;
}

static json_t *report_json(const Vigil__V1__Report *r)
{
	const Vigil__V1__Node *n = r->node;
	json_t *pcrs = json_array(), *pols = json_array(), *mbf = json_array(), *imf = json_array(),
	       *evs = json_array();

	for (size_t i = 0; i < r->n_pcrs; i++) {
		const Vigil__V1__PcrEvidence *p = r->pcrs[i];
		json_array_append_new(pcrs,
		                      json_pack("{s:i, s:s, s:s, s:b, s:b}", "index", (int)p->index,
		                                "bank", p->bank, "value", p->value, "in_policy",
		                                p->in_policy, "ok", p->ok));
	}
	for (size_t i = 0; i < r->n_policies; i++)
		json_array_append_new(pols, json_pack("{s:s, s:s, s:s}", "kind",
		                                      ctl_policy_kind_name(r->policies[i]->kind),
		                                      "name", r->policies[i]->name, "sha256",
		                                      r->policies[i]->sha256));
	for (size_t i = 0; i < r->n_mb_failures; i++)
		json_array_append_new(mbf, json_string(r->mb_failures[i]));
	for (size_t i = 0; i < r->n_ima_failures; i++) {
		const Vigil__V1__ImaFailure *f = r->ima_failures[i];
		json_array_append_new(imf, json_pack("{s:I, s:s, s:s, s:s}", "entry",
		                                     (json_int_t)f->entry, "path", f->path,
		                                     "digest", f->digest, "reason", f->reason));
	}
	for (size_t i = 0; i < r->n_events; i++) {
		const Vigil__V1__Event *e = r->events[i];
		json_array_append_new(evs, json_pack("{s:s, s:I, s:s, s:s}", "id", e->id, "time_ms",
		                                     (json_int_t)e->time_ms, "type", e->type,
		                                     "body", e->body));
	}
	return json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:i, s:i, s:b, s:o, s:o, s:s, s:o, s:s, "
	    "s:o, s:o}",
	    "uuid", n ? n->uuid : "", "attestation_status", n ? n->attestation_status : "",
	    "last_event_id", n ? n->last_event_id : "", "failure_reason",
	    n ? n->failure_reason : "", "ear_status", r->ear_status, "attestation_count",
	    (json_int_t)(n ? n->attestation_count : 0), "quote_time_ms",
	    (json_int_t)r->quote_time_ms, "tpm_clock", (json_int_t)r->tpm_clock, "reset_count",
	    (int)r->reset_count, "restart_count", (int)r->restart_count, "clock_safe",
	    r->clock_safe, "pcrs", pcrs, "policies", pols, "mb_result", r->mb_result, "mb_failures",
	    mbf, "ima_result", r->ima_result, "ima_failures", imf, "events", evs);
}

static void report_print(const Vigil__V1__Report *r)
{
	const Vigil__V1__Node *n = r->node;
	char t[48];

	ctl_time(t, sizeof(t), r->quote_time_ms, 1, "never");
	printf("node:          %s\n", n ? n->uuid : "?");
	printf("verdict:       %s (EAR %s)\n", n ? n->attestation_status : "?", r->ear_status);
	if (n && *n->last_event_id)
		printf("failure:       %s: %s\n", n->last_event_id, n->failure_reason);
	printf("quote:         %s\n", t);
	printf("TPM clock:     %llu ms, reset count %u, restart count %u, %s\n",
	       (unsigned long long)r->tpm_clock, r->reset_count, r->restart_count,
	       r->clock_safe ? "safe" : "NOT safe");
	for (size_t i = 0; i < r->n_policies; i++)
		printf("%-15s%s %s (sha256 %.16s...)\n", i == 0 ? "policies:" : "",
		       ctl_policy_kind_name(r->policies[i]->kind), r->policies[i]->name,
		       r->policies[i]->sha256);
	if (r->n_pcrs > 0) {
		printf("PCRs (%s):\n", r->pcrs[0]->bank);
		for (size_t i = 0; i < r->n_pcrs; i++) {
			const Vigil__V1__PcrEvidence *p = r->pcrs[i];
			printf("  %2u  %-64s  %s\n", p->index,
			       *p->value ? p->value : "(not quoted)",
			       !p->in_policy ? "-"
			       : p->ok       ? "ok"
			                     : "FAIL");
		}
	}
	printf("measured boot: %s\n", r->mb_result);
	for (size_t i = 0; i < r->n_mb_failures; i++)
		printf("  FAIL  %s\n", r->mb_failures[i]);
	printf("IMA:           %s\n", r->ima_result);
	for (size_t i = 0; i < r->n_ima_failures; i++) {
		const Vigil__V1__ImaFailure *f = r->ima_failures[i];
		if (*f->path)
			printf("  FAIL  entry %llu  %s  %s\n        %s\n",
			       (unsigned long long)f->entry, f->path, f->digest, f->reason);
		else
			printf("  FAIL  %s\n", f->reason);
	}
	if (r->n_events > 0) {
		printf("events:\n");
		for (size_t i = 0; i < r->n_events; i++) {
			ctl_time(t, sizeof(t), r->events[i]->time_ms, 1, "never");
			printf("  %s  %-20s %s\n", t, r->events[i]->type, r->events[i]->id);
		}
	}
}

/* Print the report (text or JSON) and write the token: to o->out, or alone to standard
 * output when there is a token and no --out. 0, or 2 on a file error. */
static int report_emit(const ctl_conf_t *c, const report_opts_t *o, const Vigil__V1__Report *r,
                       const ProtobufCBinaryData *tok)
{
	if (o->ear != VIGIL__V1__EAR_FORMAT__EAR_NONE && o->out == NULL) {
		fwrite(tok->data, 1, tok->len, stdout);
		if (o->ear == VIGIL__V1__EAR_FORMAT__EAR_JWT)
			fputc('\n', stdout);
		return 0;
	}
	if (c->json) {
		json_t *j = report_json(r);
		char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("%s\n", s ? s : "{}");
		free(s);
		json_decref(j);
	} else {
		report_print(r);
	}
	if (o->ear != VIGIL__V1__EAR_FORMAT__EAR_NONE) {
		if (buf_write_file(o->out, tok->data, tok->len, 0644) < 0) {
			fprintf(stderr, "vigilctl: %s: %s\n", o->out, strerror(errno));
			return 2;
		}
		fprintf(stderr, "EAR %s written to %s (%zu bytes)\n",
		        o->ear == VIGIL__V1__EAR_FORMAT__EAR_JWT ? "JWT" : "CWT", o->out, tok->len);
	}
	return 0;
}

static int report_key_cmd(ctl_conf_t *c, const report_opts_t *o)
{
	Vigil__V1__GetReportKeyRequest req = VIGIL__V1__GET_REPORT_KEY_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	int rv = 1;

	if (ctl_call(c, "GetReportKey", &req.base, &vigil__v1__get_report_key_response__descriptor,
	             &resp) == 0) {
		const Vigil__V1__GetReportKeyResponse *k =
		    (const Vigil__V1__GetReportKeyResponse *)resp;
		rv = 0;
		if (o->out == NULL) {
			fputs(k->pem, stdout);
		} else if (buf_write_file(o->out, k->pem, strlen(k->pem), 0644) < 0) {
			fprintf(stderr, "vigilctl: %s: %s\n", o->out, strerror(errno));
			rv = 2;
		}
		fprintf(stderr, "key id %s\n", k->key_id);
	}
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	return rv;
}

static int report_node_cmd(ctl_conf_t *c, const report_opts_t *o, const char *uuid)
{
	Vigil__V1__GetReportRequest req = VIGIL__V1__GET_REPORT_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	int rv = 1;

	req.uuid = (char *)(uintptr_t)uuid;
	req.ear = o->ear;
	req.events = o->events;
	if (ctl_call(c, "GetReport", &req.base, &vigil__v1__get_report_response__descriptor,
	             &resp) == 0) {
		const Vigil__V1__GetReportResponse *g = (const Vigil__V1__GetReportResponse *)resp;
		rv = g->report ? report_emit(c, o, g->report, &g->ear) : 1;
	}
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	return rv;
}

int cmd_report(int argc, char **argv)
{
	report_opts_t o;
	ctl_conf_t c;
	int i, rv;

	/* The offline check keeps its own options (no connection). */
	if (argc >= 2 && strcmp(argv[1], "verify") == 0)
		return report_verify_cmd(argc, argv);
	if (ctl_conf_init(&c, NULL) < 0)
		return 1;
	i = report_getopt(&c, argc, argv, &o, 1, report_node_usage);
	if (i == -2) {
		ctl_conf_free(&c);
		return 0;
	}
	if (i < 0 || argc - i != 1) {
		if (i >= 0)
			fprintf(stderr, "%s(see --help)\n", report_node_usage);
		ctl_conf_free(&c);
		return 2;
	}
	if (strcmp(argv[i], "key") == 0)
		rv = report_key_cmd(&c, &o);
	else
		rv = report_node_cmd(&c, &o, argv[i]);
	ctl_conf_free(&c);
	return rv;
}

int cmd_attest(int argc, char **argv)
{
	Vigil__V1__AttestNowRequest req = VIGIL__V1__ATTEST_NOW_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	report_opts_t o;
	ctl_conf_t c;
	int i, rv = 2;

	if (ctl_conf_init(&c, NULL) < 0)
		return 2;
	i = report_getopt(&c, argc, argv, &o, 0, attest_usage);
	if (i == -2) {
		ctl_conf_free(&c);
		return 0;
	}
	if (i < 0 || argc - i != 1) {
		if (i >= 0)
			fprintf(stderr, "%s(see --help)\n", attest_usage);
		ctl_conf_free(&c);
		return 2;
	}
	req.uuid = argv[i];
	req.ear = o.ear;
	if (ctl_call(&c, "AttestNow", &req.base, &vigil__v1__attest_now_response__descriptor,
	             &resp) == 0) {
		const Vigil__V1__AttestNowResponse *a = (const Vigil__V1__AttestNowResponse *)resp;
		if (a->report && a->report->node && report_emit(&c, &o, a->report, &a->ear) == 0)
			rv = strcmp(a->report->node->attestation_status, "PASS") == 0 ? 0 : 1;
	}
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	ctl_conf_free(&c);
	return rv;
}

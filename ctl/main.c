/* vigilctl: the operator's command-line tool. Dispatches to the command groups. */
#include <stdio.h>
#include <string.h>

#include "common/base/log.h"
#include "ctl/commands.h"

int main(int argc, char **argv);

static const struct ctl_group {
	const char *name;                 /* first word on the command line */
	int (*fn)(int argc, char **argv); /* the group's entry point */
	const char *usage;                /* lines for the overview */
} ctl_groups[] = {
    {"add", cmd_node,
     "  add UUID [--runtime-policy N] [--mb-policy N] [--pcr-policy N]\n"
     "                                     attest an enrolled node (EK certificate checked)\n"},
    {"status", cmd_node, "  status UUID                        a node's state and last failure\n"},
    {"list", cmd_node, "  list                               every attested node\n"},
    {"stop", cmd_node, "  stop UUID                          pause a node's attestation\n"},
    {"reactivate", cmd_node,
     "  reactivate UUID                    resume a stopped or failed node\n"},
    {"update", cmd_node,
     "  update UUID [--ip A] [--port N] [--cert FILE] [--pcr-policy N]\n"
     "              [--runtime-policy N] [--mb-policy N]\n"
     "                                     change a node's contact or policies in place\n"},
    {"remove", cmd_node, "  remove UUID                        stop attesting a node\n"},
    {"enrollment", cmd_enrollment,
     "  enrollment list [--page-size N] [--all] [--json]\n"
     "                                     the registrar's enrollments (gRPC)\n"
     "  enrollment show UUID | delete UUID one enrollment: every field, or remove it\n"},
    {"policy", cmd_policy,
     "  policy put NAME --kind pcr|runtime|mb FILE [--replace]\n"
     "                                     store a policy on the verifier\n"
     "  policy get NAME | list [--kind K] | delete NAME\n"
     "  policy create runtime --ima-log FILE   runtime policy from a golden machine\n"
     "  policy create mb --event-log FILE      measured-boot policy from a golden machine\n"},
    {"events", cmd_events,
     "  events list [--node UUID] [--type T] [--since ID] [--json]\n"
     "                                     the verifier's trust events, in order\n"
     "  events show ID | key | export --out FILE\n"
     "  events verify [--export FILE] [--key PUB.pem]\n"
     "                                     check the hash chain and its seals\n"},
    {"attest", cmd_attest,
     "  attest UUID [--ear jwt|cwt]        attest a node now; exit 0 PASS, 1 FAIL\n"},
    {"report", cmd_report,
     "  report UUID [--ear jwt|cwt] [--out FILE] [--events N]\n"
     "                                     a node's trust report (verdict and evidence)\n"
     "  report key [--out FILE]            the attestation-result public key (PEM)\n"
     "  report verify FILE --key PUB.pem [--max-age S]\n"
     "                                     check an attestation result (EAR JWT or CWT)\n"},
    {"pool", cmd_pool,
     "  pool [--json]                      the verifier instances sharing its database\n"},
    {"outbox", cmd_outbox,
     "  outbox list [--dead] [--page-size N] [--json]\n"
     "                                     webhook deliveries pending or dead-lettered\n"
     "  outbox retry ID | --all            send dead-lettered deliveries again\n"},
    {"eventlog", cmd_eventlog,
     "  eventlog show FILE [--json]        decode a UEFI event log, replay its PCRs\n"},
    {"ima", cmd_ima,
     "  ima replay FILE [--bank ALG]       replay an IMA list to its PCR 10 value\n"},
    {"config", cmd_config,
     "  config                             print the sample vigilctl.conf (every key)\n"},
    {"ca", cmd_ca,
     "  ca init DIR                        create a fleet CA for vigil's TLS\n"
     "  ca issue DIR NAME --server|--client|--both [--san HOST]...\n"
     "                                     issue a certificate from that CA\n"
     "  ca k8s DIR [--out FILE]            its Secrets for deploy/k8s (YAML)\n"},
};

static void ctl_usage(FILE *out)
{
	fprintf(out,
	        "Usage: vigilctl COMMAND [ARGS]\n\n"
	        "vigilctl is the operator's tool for vigil, hardware-rooted remote attestation.\n"
	        "Run 'vigilctl COMMAND --help' for the details of one command.\n\n"
	        "Commands:\n");
	for (size_t i = 0; i < sizeof(ctl_groups) / sizeof(ctl_groups[0]); i++)
		fputs(ctl_groups[i].usage, out);
	fprintf(out, "  help                               show this help\n");
}

int main(int argc, char **argv)
{
	log_init("vigilctl", 1, 0);
	if (argc < 2) {
		ctl_usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0) {
		ctl_usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(ctl_groups) / sizeof(ctl_groups[0]); i++)
		if (strcmp(argv[1], ctl_groups[i].name) == 0)
			return ctl_groups[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "vigilctl: unknown command \"%s\"\n", argv[1]);
	ctl_usage(stderr);
	return 2;
}

/* cmd_policy: vigilctl policy: create (offline, from a golden machine's logs) and
 * put | get | list | delete on the verifier over gRPC. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/base/buf.h"
#include "common/base/xmalloc.h"
#include "ctl/args.h"
#include "ctl/commands.h"
#include "ctl/ctlconf.h"
#include "ctl/show.h"

static const char policy_usage[] =
    "Usage: vigilctl policy create runtime --ima-log FILE [OPTIONS]\n"
    "       vigilctl policy create mb --event-log FILE [OPTIONS]\n"
    "       vigilctl policy put NAME --kind pcr|runtime|mb FILE [--replace]\n"
    "       vigilctl policy get NAME [--output FILE]\n"
    "       vigilctl policy list [--kind pcr|runtime|mb] [--page-size N]\n"
    "       vigilctl policy delete NAME\n"
    "\n"
    "'create' builds a policy offline from a golden machine's logs (see 'vigilctl policy\n"
    "create runtime --help' and 'create mb --help'). The others manage the verifier's\n"
    "named policies: a policy is stored once per content and shared by every node that\n"
    "names it; 'put --replace' updates every node using that name at its next round; a\n"
    "policy still named by a node cannot be deleted. Kinds: pcr (Keylime tpm_policy JSON),\n"
    "runtime (Keylime runtime policy JSON), mb (Keylime measured-boot reference state).\n"
    "'list' shows them by name, read in pages of --page-size N (1-1000, default 100)\n"
    "until the last. See docs/policies.md.\n";

static int policy_kind_parse(const char *s, Vigil__V1__PolicyKind *k)
{
	if (strcmp(s, "pcr") == 0)
		*k = VIGIL__V1__POLICY_KIND__POLICY_KIND_PCR;
	else if (strcmp(s, "runtime") == 0)
		*k = VIGIL__V1__POLICY_KIND__POLICY_KIND_RUNTIME;
	else if (strcmp(s, "mb") == 0)
		*k = VIGIL__V1__POLICY_KIND__POLICY_KIND_MB;
	else
		return -1;
	return 0;
}

static void policy_print(const Vigil__V1__Policy *p)
{
	char t[32];

	ctl_time(t, sizeof(t), p->created * 1000, 0, NULL);
	printf("%-24s %-8s %10u  %.16s  %s\n", p->name, ctl_policy_kind_name(p->kind), p->size,
	       p->sha256, t);
}

static int policy_remote(int argc, char **argv)
{
	static const struct option extra[] = {
	    {"kind", required_argument, NULL, 'k'},   {"replace", no_argument, NULL, 'r'},
	    {"output", required_argument, NULL, 'o'}, {"page-size", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	};
	struct option all[CTL_COMMON_OPTION_COUNT + 6];
	const char *sub = argv[0], *kind = NULL, *output = NULL;
	int replace = 0, opt, rv = 1;
	uint32_t page_size = 0;
	ctl_conf_t c;
	ProtobufCMessage *resp = NULL;
	buf_t body = BUF_INIT;

	memset(all, 0, sizeof(all));
	memcpy(all, ctl_common_options, CTL_COMMON_OPTION_COUNT * sizeof(*all));
	memcpy(all + CTL_COMMON_OPTION_COUNT, extra, sizeof(extra));
	if (ctl_conf_init(&c, NULL) < 0)
		return 1;
	optind = 0;
	while ((opt = ctl_getopt(argc, argv, "hc:o:", all)) != -1) {
		if (opt == 'h') {
			printf("%s\n%s", policy_usage, ctl_common_help);
			ctl_conf_free(&c);
			return 0;
		}
		if (opt == 'k')
			kind = optarg;
		else if (opt == 'r')
			replace = 1;
		else if (opt == 'o')
			output = optarg;
		else if (opt == 'S') {
			if (ctl_page_size_arg(optarg, &page_size) < 0)
				goto usage;
		} else if (opt == '?' || ctl_conf_option(&c, opt, optarg) < 0)
			goto usage;
	}
	if (strcmp(sub, "put") == 0) {
		Vigil__V1__PutPolicyRequest req = VIGIL__V1__PUT_POLICY_REQUEST__INIT;
		Vigil__V1__Policy p = VIGIL__V1__POLICY__INIT;

		if (argc - optind != 2 || kind == NULL || policy_kind_parse(kind, &p.kind) < 0)
			goto usage;
		if (buf_read_file(&body, argv[optind + 1], 256u << 20) < 0) {
			fprintf(stderr, "vigilctl: cannot read %s: %m\n", argv[optind + 1]);
			goto out;
		}
		p.name = argv[optind];
		p.body.data = body.data;
		p.body.len = body.len;
		req.policy = &p;
		req.replace = replace;
		if (ctl_call(&c, "PutPolicy", &req.base,
		             &vigil__v1__put_policy_response__descriptor, &resp) != 0)
			goto out;
		policy_print(((Vigil__V1__PutPolicyResponse *)resp)->policy);
	} else if (strcmp(sub, "get") == 0) {
		Vigil__V1__PolicyRequest req = VIGIL__V1__POLICY_REQUEST__INIT;
		Vigil__V1__Policy *p;

		if (argc - optind != 1)
			goto usage;
		req.name = argv[optind];
		if (ctl_call(&c, "GetPolicy", &req.base,
		             &vigil__v1__get_policy_response__descriptor, &resp) != 0)
			goto out;
		p = ((Vigil__V1__GetPolicyResponse *)resp)->policy;
		if (output) {
			if (buf_write_file(output, p->body.data, p->body.len, 0644) < 0) {
				fprintf(stderr, "vigilctl: cannot write %s: %m\n", output);
				goto out;
			}
		} else {
			fwrite(p->body.data, 1, p->body.len, stdout);
			if (p->body.len && p->body.data[p->body.len - 1] != '\n')
				putchar('\n');
		}
	} else if (strcmp(sub, "list") == 0) {
		Vigil__V1__ListPoliciesRequest req = VIGIL__V1__LIST_POLICIES_REQUEST__INIT;
		Vigil__V1__ListPoliciesResponse *l;
		char *token = NULL;

		if (argc != optind || (kind && policy_kind_parse(kind, &req.kind) < 0))
			goto usage;
		printf("%-24s %-8s %10s  %-16s  %s\n", "NAME", "KIND", "BYTES", "SHA256",
		       "CREATED");
		req.page_size = page_size;
		do { /* every page, following next_page_token to the last */
			req.page_token = token ? token : (char *)(uintptr_t) "";
			if (ctl_call(&c, "ListPolicies", &req.base,
			             &vigil__v1__list_policies_response__descriptor, &resp) != 0) {
				free(token);
				goto out;
			}
			l = (Vigil__V1__ListPoliciesResponse *)resp;
			for (size_t i = 0; i < l->n_policies; i++)
				policy_print(l->policies[i]);
			free(token);
			token = *l->next_page_token ? xstrdup(l->next_page_token) : NULL;
			protobuf_c_message_free_unpacked(resp, NULL);
			resp = NULL;
		} while (token);
	} else if (strcmp(sub, "delete") == 0) {
		Vigil__V1__PolicyRequest req = VIGIL__V1__POLICY_REQUEST__INIT;

		if (argc - optind != 1)
			goto usage;
		req.name = argv[optind];
		if (ctl_call(&c, "DeletePolicy", &req.base,
		             &vigil__v1__delete_policy_response__descriptor, &resp) != 0)
			goto out;
		printf("policy %s deleted\n", argv[optind]);
	} else {
		goto usage;
	}
	rv = 0;
	goto out;
usage:
	fprintf(stderr, "%s", policy_usage);
	rv = 2;
out:
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	buf_free(&body);
	ctl_conf_free(&c);
	return rv;
}

int cmd_policy(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("%s\n%s", policy_usage, ctl_common_help);
		return 0;
	}
	if (argc >= 3 && strcmp(argv[1], "create") == 0) {
		if (strcmp(argv[2], "runtime") == 0)
			return cmd_policy_create_runtime(argc - 2, argv + 2);
		if (strcmp(argv[2], "mb") == 0)
			return cmd_policy_create_mb(argc - 2, argv + 2);
	}
	if (argc >= 2 && (strcmp(argv[1], "put") == 0 || strcmp(argv[1], "get") == 0 ||
	                  strcmp(argv[1], "list") == 0 || strcmp(argv[1], "delete") == 0))
		return policy_remote(argc - 1, argv + 1);
	fprintf(stderr, "%s", policy_usage);
	return 2;
}

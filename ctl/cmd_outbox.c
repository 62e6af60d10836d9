/* cmd_outbox: vigilctl outbox list | retry: the verifier's webhook deliveries over gRPC. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/base/xmalloc.h"
#include "ctl/args.h"
#include "ctl/commands.h"
#include "ctl/ctlconf.h"
#include "ctl/show.h"

static const char outbox_usage[] =
    "Usage: vigilctl outbox list [--dead] [--page-size N] [--json]\n"
    "       vigilctl outbox retry ID | --all\n"
    "\n"
    "The verifier sends every event (a failed attestation, a node unreachable, a\n"
    "re-pinned agent certificate) to each verifier.webhook_url through a durable outbox:\n"
    "one delivery per event and URL, kept in its database, retried with exponential\n"
    "backoff until the receiver answers 2xx, in order per node, across restarts.\n"
    "\n"
    "'list' shows the pending deliveries (not yet acknowledged: ID, event, node, attempts,\n"
    "next attempt, URL, last error); with --dead, the dead-lettered ones: deliveries given\n"
    "up after verifier.webhook_max_age, which are never sent again by themselves. --json\n"
    "prints an array of objects with every field (times in unix milliseconds). The list is\n"
    "read in pages of --page-size N deliveries (1-1000, default 500) until the last.\n"
    "\n"
    "'retry ID' queues the dead-lettered delivery ID again (due now, with a fresh\n"
    "webhook_max_age); 'retry --all' queues every dead-lettered delivery. A retried\n"
    "delivery again goes before the later events of its node on that URL.\n"
    "\n"
    "Exit status: 0 done, 1 the verifier refused or could not be reached (for retry: no\n"
    "dead-lettered delivery with that ID), 2 usage. See docs/revocation.md.\n";

static json_t *outbox_json(const Vigil__V1__OutboxEntry *o)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:I, s:s, s:i, s:I, s:I, s:I, s:I, s:s}", "id",
	                 (json_int_t)o->id, "url", o->url, "node_uuid", o->node_uuid, "event_id",
	                 o->event_id, "event_seq", (json_int_t)o->event_seq, "event_type",
	                 o->event_type, "attempts", (int)o->attempts, "next_attempt",
	                 (json_int_t)o->next_attempt, "created", (json_int_t)o->created,
	                 "last_attempt", (json_int_t)o->last_attempt, "dead", (json_int_t)o->dead,
	                 "last_error", o->last_error);
}

static int outbox_list(ctl_conf_t *c, int dead, uint32_t page_size)
{
	Vigil__V1__ListOutboxRequest req = VIGIL__V1__LIST_OUTBOX_REQUEST__INIT;
	json_t *all = c->json ? json_array() : NULL;
	char *token = NULL;
	int rv = 1;

	req.dead = dead;
	req.page_size = page_size ? page_size : 500;
	if (!c->json)
		printf("%-8s %-22s %-36s %8s  %-20s  %s\n", "ID", "EVENT", "NODE", "ATTEMPTS",
		       dead ? "DEAD SINCE" : "NEXT ATTEMPT", "URL / LAST ERROR");
	do { /* every page, following next_page_token to the last */
		ProtobufCMessage *resp = NULL;
		Vigil__V1__ListOutboxResponse *l;

		req.page_token = token ? token : (char *)(uintptr_t) "";
		if (ctl_call(c, "ListOutbox", &req.base,
		             &vigil__v1__list_outbox_response__descriptor, &resp) != 0)
			goto out;
		l = (Vigil__V1__ListOutboxResponse *)resp;
		for (size_t i = 0; i < l->n_entries; i++) {
			const Vigil__V1__OutboxEntry *o = l->entries[i];
			char t[32];
			if (all) {
				json_array_append_new(all, outbox_json(o));
				continue;
			}
			ctl_time(t, sizeof(t), dead ? o->dead : o->next_attempt, 0, "-");
			printf("%-8" PRId64 " %-22s %-36s %8u  %-20s  %s\n", o->id, o->event_id,
			       o->node_uuid, o->attempts, t, o->url);
			if (*o->last_error)
				printf("%-8s %-22s %-36s %8s  %-20s  %s\n", "", "", "", "", "",
				       o->last_error);
		}
		free(token);
		token = *l->next_page_token ? xstrdup(l->next_page_token) : NULL;
		protobuf_c_message_free_unpacked(resp, NULL);
	} while (token);
	if (all) {
		char *s = json_dumps(all, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("%s\n", s ? s : "[]");
		free(s);
	}
	rv = 0;
out:
	free(token);
	json_decref(all);
	return rv;
}

int cmd_outbox(int argc, char **argv)
{
	static const struct option extra[] = {
	    {"dead", no_argument, NULL, 'd'},
	    {"all", no_argument, NULL, 'a'},
	    {"page-size", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	};
	struct option all[CTL_COMMON_OPTION_COUNT + 5];
	int dead = 0, every = 0, opt, rv = 1;
	uint32_t page_size = 0;
	const char *sub = argc >= 2 ? argv[1] : "";
	ctl_conf_t c;
	ProtobufCMessage *resp = NULL;

	if (argc >= 2 && (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)) {
		printf("%s\n%s", outbox_usage, ctl_common_help);
		return 0;
	}
	if (strcmp(sub, "list") != 0 && strcmp(sub, "retry") != 0) {
		fprintf(stderr, "%s", outbox_usage);
		return 2;
	}
	memset(all, 0, sizeof(all));
	memcpy(all, ctl_common_options, CTL_COMMON_OPTION_COUNT * sizeof(*all));
	memcpy(all + CTL_COMMON_OPTION_COUNT, extra, sizeof(extra));
	if (ctl_conf_init(&c, NULL) < 0)
		return 1;
	argc--;
	argv++;
	optind = 0;
	while ((opt = ctl_getopt(argc, argv, "hc:", all)) != -1) {
		if (opt == 'h') {
			printf("%s\n%s", outbox_usage, ctl_common_help);
			ctl_conf_free(&c);
			return 0;
		}
		if (opt == 'd')
			dead = 1;
		else if (opt == 'a')
			every = 1;
		else if (opt == 'S') {
			if (ctl_page_size_arg(optarg, &page_size) < 0)
				goto usage;
		} else if (opt == '?' || ctl_conf_option(&c, opt, optarg) < 0)
			goto usage;
	}
	if (strcmp(sub, "list") == 0) {
		if (argc != optind || every)
			goto usage;
		rv = outbox_list(&c, dead, page_size);
	} else {
		Vigil__V1__RetryOutboxRequest req = VIGIL__V1__RETRY_OUTBOX_REQUEST__INIT;
		char *end = NULL;

		if (dead || page_size || (every ? argc != optind : argc - optind != 1))
			goto usage;
		if (!every) {
			long long id = strtoll(argv[optind], &end, 10);
			if (end == argv[optind] || *end != '\0' || id <= 0) {
				fprintf(stderr,
				        "vigilctl: %s is not a delivery id (see 'outbox list "
				        "--dead')\n",
				        argv[optind]);
				goto usage;
			}
			req.id = id;
		}
		req.all_dead = every;
		if (ctl_call(&c, "RetryOutbox", &req.base,
		             &vigil__v1__retry_outbox_response__descriptor, &resp) != 0)
			goto out;
		printf("%" PRId64 " deliver%s queued again\n",
		       ((Vigil__V1__RetryOutboxResponse *)resp)->count,
		       ((Vigil__V1__RetryOutboxResponse *)resp)->count == 1 ? "y" : "ies");
		rv = 0;
	}
	goto out;
usage:
	fprintf(stderr, "%s", outbox_usage);
	rv = 2;
out:
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	ctl_conf_free(&c);
	return rv;
}

/* cmd_events: vigilctl events list | show | key | verify | export: the verifier's
 * hash-chained, sealed event log, read over gRPC and verified offline
 * (common/store/audit.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/base/buf.h"
#include "common/base/xmalloc.h"
#include "common/store/audit.h"
#include "ctl/args.h"
#include "ctl/commands.h"
#include "ctl/ctlconf.h"
#include "ctl/show.h"

static const char events_usage[] =
    "Usage: vigilctl events list [--node UUID] [--type TYPE] [--since ID] [--json]\n"
    "       vigilctl events show ID [--json]\n"
    "       vigilctl events key\n"
    "       vigilctl events verify [--export FILE] [--key PUB.pem]\n"
    "       vigilctl events export --out FILE\n"
    "\n"
    "The verifier records every trust event (a failed attestation, an unreachable node,\n"
    "a re-pinned agent certificate, ...) in an append-only log. Each record carries the\n"
    "SHA-256 of the one before it, and the verifier seals the chain every\n"
    "verifier.audit_seal_records records or verifier.audit_seal_interval seconds with\n"
    "its audit key (ECDSA P-256, STATE_DIR/audit.key), so that an edit, a removal, an\n"
    "insertion or a reordering anywhere shows, even one made with access to the\n"
    "database. See docs/revocation.md.\n"
    "\n"
    "  list      the events in the order they were recorded, optionally only one node's\n"
    "            (--node), one type's (--type, e.g. revocation, comm_error), or those\n"
    "            after the event with id ID (--since). --json prints a JSON array.\n"
    "  show ID   one event with every field: its place in the chain (seq), time, node,\n"
    "            type, severity, hashes, and its JSON body.\n"
    "  key       the audit key's public half (PEM): keep a copy apart from the verifier to\n"
    "            verify exports with later.\n"
    "  verify    check the whole chain and every seal, and name the first broken link\n"
    "            (\"record 17 (id 17-ab12...): content does not match its hash: edited\").\n"
    "            Without --export the log is fetched from the verifier; with --export\n"
    "            FILE it is checked offline. The key is PUB.pem from --key, else the\n"
    "            verifier's (online) or the one in the export itself (offline: that only\n"
    "            shows the file agrees with itself; compare the key id printed with\n"
    "            'vigilctl events key', or give --key). Records after the last seal are\n"
    "            checked by their chain only.\n"
    "  export    write the whole log, its seals and the public key to FILE as JSON lines,\n"
    "            for 'verify --export' anywhere, without the verifier.\n"
    "\n"
    "Exit status: 0 intact (or done), 1 the log is broken (the link is named), 2 usage,\n"
    "connection or file error.\n";

typedef struct events_opts {
	const char *node, *type, *since; /* list filters */
	const char *export_file;         /* verify: offline from this file */
	const char *key_file;            /* verify: the public key */
	const char *out;                 /* export: where to */
} events_opts_t;

static json_t *events_json(const Vigil__V1__Event *ev)
{
	json_t *body = json_loads(ev->body, 0, NULL);
	char t[40];

	ctl_time(t, sizeof(t), ev->time_ms, 1, NULL);
	return json_pack("{s:I, s:s, s:I, s:s, s:s, s:s, s:s, s:o, s:s, s:s}", "seq",
	                 (json_int_t)ev->seq, "id", ev->id, "time_ms", (json_int_t)ev->time_ms,
	                 "time", t, "node_uuid", ev->node_uuid, "type", ev->type, "severity",
	                 ev->severity, "body", body ? body : json_string(ev->body), "prev_hash",
	                 ev->prev_hash, "hash", ev->hash);
}

static void events_json_print(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	printf("%s\n", s);
	free(s);
	json_decref(j);
}

static int events_list(ctl_conf_t *c, const events_opts_t *o)
{
	Vigil__V1__ListEventsRequest req = VIGIL__V1__LIST_EVENTS_REQUEST__INIT;
	json_t *arr = json_array();
	char *token = NULL;
	int rv = 2;

	req.node_uuid = (char *)(uintptr_t)(o->node ? o->node : "");
	req.type = (char *)(uintptr_t)(o->type ? o->type : "");
	req.since_id = (char *)(uintptr_t)(o->since ? o->since : "");
	req.page_size = 1000;
	if (!c->json)
		printf("%-6s %-24s %-24s %-20s %s\n", "SEQ", "ID", "TIME", "TYPE", "NODE");
	do {
		ProtobufCMessage *resp = NULL;
		Vigil__V1__ListEventsResponse *l;

		req.page_token = token ? token : (char *)(uintptr_t) "";
		if (ctl_call(c, "ListEvents", &req.base,
		             &vigil__v1__list_events_response__descriptor, &resp) != 0)
			goto out;
		l = (Vigil__V1__ListEventsResponse *)resp;
		for (size_t i = 0; i < l->n_events; i++) {
			Vigil__V1__Event *ev = l->events[i];
			char t[40];
			if (c->json) {
				json_array_append_new(arr, events_json(ev));
				continue;
			}
			ctl_time(t, sizeof(t), ev->time_ms, 1, NULL);
			printf("%-6llu %-24s %-24s %-20s %s\n", (unsigned long long)ev->seq, ev->id,
			       t, ev->type, *ev->node_uuid ? ev->node_uuid : "-");
		}
		free(token);
		token = *l->next_page_token ? xstrdup(l->next_page_token) : NULL;
		protobuf_c_message_free_unpacked(resp, NULL);
	} while (token);
	if (c->json) {
		events_json_print(arr);
		arr = NULL;
	}
	rv = 0;
out:
	free(token);
	json_decref(arr);
	return rv;
}

static int events_show(ctl_conf_t *c, const char *id)
{
	Vigil__V1__EventRequest req = VIGIL__V1__EVENT_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	Vigil__V1__Event *ev;
	json_t *body;
	char t[40];

	req.id = (char *)(uintptr_t)id;
	if (ctl_call(c, "GetEvent", &req.base, &vigil__v1__event_response__descriptor, &resp) != 0)
		return 2;
	ev = ((Vigil__V1__EventResponse *)resp)->event;
	if (c->json) {
		events_json_print(events_json(ev));
	} else {
		ctl_time(t, sizeof(t), ev->time_ms, 1, NULL);
		printf("event:     %s\nseq:       %llu\ntime:      %s\n", ev->id,
		       (unsigned long long)ev->seq, t);
		printf("node:      %s\ntype:      %s\nseverity:  %s\n",
		       *ev->node_uuid ? ev->node_uuid : "-", ev->type,
		       *ev->severity ? ev->severity : "-");
		printf("prev_hash: %s\nhash:      %s\n", ev->prev_hash, ev->hash);
		if ((body = json_loads(ev->body, 0, NULL)) != NULL) {
			char *s = json_dumps(body, JSON_INDENT(2) | JSON_SORT_KEYS);
			printf("body:\n%s\n", s);
			free(s);
			json_decref(body);
		} else {
			printf("body:      %s\n", ev->body);
		}
	}
	protobuf_c_message_free_unpacked(resp, NULL);
	return 0;
}

/* The audit key's PEM from the verifier into *pem (caller frees). 0, or 2 (printed). */
static int events_fetch_key(ctl_conf_t *c, char **pem)
{
	Vigil__V1__GetAuditKeyRequest req = VIGIL__V1__GET_AUDIT_KEY_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;

	if (ctl_call(c, "GetAuditKey", &req.base, &vigil__v1__get_audit_key_response__descriptor,
	             &resp) != 0)
		return 2;
	*pem = xstrdup(((Vigil__V1__GetAuditKeyResponse *)resp)->pem);
	protobuf_c_message_free_unpacked(resp, NULL);
	return 0;
}

/* The whole export from the verifier into out. 0, or 2 (printed). */
static int events_fetch_export(ctl_conf_t *c, buf_t *out)
{
	Vigil__V1__ExportEventsRequest req = VIGIL__V1__EXPORT_EVENTS_REQUEST__INIT;
	int done = 0;

	while (!done) {
		ProtobufCMessage *resp = NULL;
		Vigil__V1__ExportEventsResponse *p;

		if (ctl_call(c, "ExportEvents", &req.base,
		             &vigil__v1__export_events_response__descriptor, &resp) != 0)
			return 2;
		p = (Vigil__V1__ExportEventsResponse *)resp;
		buf_append(out, p->lines.data, p->lines.len);
		/* A page that does not move on would loop forever: stop there. */
		done = p->done || p->last_seq <= req.after_seq;
		req.after_seq = p->last_seq;
		protobuf_c_message_free_unpacked(resp, NULL);
		if (out->len > AUDIT_EXPORT_MAX) {
			fprintf(stderr, "vigilctl: the export is larger than %u bytes\n",
			        AUDIT_EXPORT_MAX);
			return 2;
		}
	}
	return 0;
}

static int events_verify(ctl_conf_t *c, const events_opts_t *o)
{
	buf_t data = BUF_INIT, keyb = BUF_INIT;
	char *key = NULL;
	audit_result_t r;
	audit_verdict_t v;
	int rv = 2;

	if (o->key_file) {
		if (buf_read_file(&keyb, o->key_file, 64 * 1024) < 0) {
			fprintf(stderr, "vigilctl: cannot read %s: %m\n", o->key_file);
			goto out;
		}
		key = xstrndup((const char *)keyb.data, keyb.len);
	}
	if (o->export_file) {
		if (buf_read_file(&data, o->export_file, AUDIT_EXPORT_MAX) < 0) {
			fprintf(stderr, "vigilctl: cannot read %s: %m\n", o->export_file);
			goto out;
		}
	} else if (events_fetch_export(c, &data) != 0 ||
	           (key == NULL && events_fetch_key(c, &key))) {
		goto out;
	}
	v = audit_verify_export(data.data, data.len, key, &r);
	if (v == AUDIT_UNUSABLE) {
		fprintf(stderr, "vigilctl: cannot verify: %s\n", r.what);
		goto out;
	}
	if (v == AUDIT_BROKEN) {
		printf("BROKEN after %zu intact records and %zu seals: %s\n", r.records, r.seals,
		       r.what);
		rv = 1;
		goto out;
	}
	printf("intact: %zu records, %zu seals", r.records, r.seals);
	if (r.seals)
		printf(", last seal at record %lld", (long long)r.last_sealed);
	if (r.last_seq > r.last_sealed)
		printf(" (%lld records %s chained but not sealed yet)",
		       (long long)(r.last_seq - r.last_sealed), r.seals ? "after it are" : "are");
	printf("\n");
	if (*r.key_id)
		printf("key id: %s%s\n", r.key_id,
		       r.key_from_export ? " (the export's own key: compare it with 'vigilctl "
		                           "events key', or give --key)"
		                         : "");
	rv = 0;
out:
	free(key);
	buf_free(&data);
	buf_free(&keyb);
	return rv;
}

static int events_export(ctl_conf_t *c, const char *file)
{
	buf_t data = BUF_INIT;
	int rv = 2;

	if (events_fetch_export(c, &data) != 0)
		goto out;
	if (buf_write_file(file, data.data, data.len, 0644) < 0) {
		fprintf(stderr, "vigilctl: cannot write %s: %m\n", file);
		goto out;
	}
	printf("exported %zu bytes to %s\n", data.len, file);
	rv = 0;
out:
	buf_free(&data);
	return rv;
}

int cmd_events(int argc, char **argv)
{
	static const struct option extra[] = {
	    {"node", required_argument, NULL, 'n'},  {"type", required_argument, NULL, 't'},
	    {"since", required_argument, NULL, 's'}, {"export", required_argument, NULL, 'e'},
	    {"key", required_argument, NULL, 'k'},   {"out", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	};
	struct option all[CTL_COMMON_OPTION_COUNT + 8];
	events_opts_t o;
	const char *sub;
	ctl_conf_t c;
	int opt, rv = 2, nargs;

	memset(&o, 0, sizeof(o));
	memset(all, 0, sizeof(all));
	memcpy(all, ctl_common_options, CTL_COMMON_OPTION_COUNT * sizeof(*all));
	memcpy(all + CTL_COMMON_OPTION_COUNT, extra, sizeof(extra));
	if (ctl_conf_init(&c, NULL) < 0)
		return 2;
	optind = 0;
	while ((opt = ctl_getopt(argc, argv, "hc:o:", all)) != -1) {
		switch (opt) {
		case 'h':
			printf("%s\n%s", events_usage, ctl_common_help);
			ctl_conf_free(&c);
			return 0;
		case 'n':
			o.node = optarg;
			break;
		case 't':
			o.type = optarg;
			break;
		case 's':
			o.since = optarg;
			break;
		case 'e':
			o.export_file = optarg;
			break;
		case 'k':
			o.key_file = optarg;
			break;
		case 'o':
			o.out = optarg;
			break;
		default:
			if (opt == '?' || ctl_conf_option(&c, opt, optarg) < 0)
				goto usage;
		}
	}
	/* Operands after the group word: the subcommand, then its own. */
	if (optind >= argc)
		goto usage;
	sub = argv[optind];
	nargs = argc - optind - 1;
	if (strcmp(sub, "list") == 0 && nargs == 0)
		rv = events_list(&c, &o);
	else if (strcmp(sub, "show") == 0 && nargs == 1)
		rv = events_show(&c, argv[optind + 1]);
	else if (strcmp(sub, "key") == 0 && nargs == 0) {
		char *pem = NULL;
		if ((rv = events_fetch_key(&c, &pem)) == 0)
			fputs(pem, stdout);
		free(pem);
	} else if (strcmp(sub, "verify") == 0 && nargs == 0)
		rv = events_verify(&c, &o);
	else if (strcmp(sub, "export") == 0 && nargs == 0 && o.out)
		rv = events_export(&c, o.out);
	else
		goto usage;
	ctl_conf_free(&c);
	return rv;
usage:
	fprintf(stderr, "%s(see --help)\n", events_usage);
	ctl_conf_free(&c);
	return 2;
}

/* cmd_pool: vigilctl pool: the verifier instances sharing one database, over gRPC. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/base/xmalloc.h"
#include "ctl/args.h"
#include "ctl/commands.h"
#include "ctl/ctlconf.h"

static const char pool_usage[] =
    "Usage: vigilctl pool [--json] [connection options]\n"
    "\n"
    "Lists the verifier instances that share the asked verifier's database (a pool on\n"
    "PostgreSQL): each instance's id, whether it is live (a heartbeat within one\n"
    "verifier.lease_time), the nodes it holds by lease, its last heartbeat, and its lag:\n"
    "how long ago the oldest of its attested nodes last passed a round. In a healthy pool\n"
    "every instance is live, the nodes are spread about evenly, and the lag stays near the\n"
    "quote interval. An instance that died stops heartbeating (LIVE: NO); one whose process\n"
    "lives but whose workers stopped making rounds shows \"STALLED\" and how long ago that\n"
    "was noticed, and holds no nodes. Either way its nodes are taken over by the others\n"
    "within two lease periods (docs/verifier.md, \"A pool of verifiers\"). A verifier on\n"
    "SQLite is not a pool: it holds every node itself.\n"
    "--json prints an object with every field (times in unix milliseconds).\n"
    "\n"
    "Exit status: 0 done, 1 the verifier refused or could not be reached, 2 usage.\n";

static json_t *pool_json(const Vigil__V1__ListPoolResponse *l)
{
	json_t *a = json_array();

	for (size_t i = 0; i < l->n_members; i++) {
		const Vigil__V1__PoolMember *m = l->members[i];
		json_array_append_new(
		    a, json_pack(
		           "{s:s, s:s, s:b, s:b, s:I, s:I, s:I, s:I, s:I}", "id", m->id, "address",
		           m->address, "live", m->live, "stalled", m->stalled_ms != 0, "stalled_ms",
		           (json_int_t)m->stalled_ms, "nodes", (json_int_t)m->nodes, "heartbeat_ms",
		           (json_int_t)m->heartbeat_ms, "started_ms", (json_int_t)m->started_ms,
		           "oldest_attestation", (json_int_t)m->oldest_attestation));
	}
	return json_pack("{s:s, s:b, s:I, s:o}", "self_id", l->self_id, "pool", l->pool,
	                 "lease_time_ms", (json_int_t)l->lease_time_ms, "members", a);
}

static void pool_print(const Vigil__V1__ListPoolResponse *l)
{
	if (!l->pool) {
		printf("%s is a single verifier (SQLite store): it holds every node itself\n",
		       l->self_id);
		return;
	}
	printf("pool of %zu instance(s), lease_time %.1f s, asked: %s\n", l->n_members,
	       (double)l->lease_time_ms / 1000.0, l->self_id);
	printf("%-32s %-13s %7s %14s %9s  %s\n", "INSTANCE", "LIVE", "NODES", "HEARTBEAT AGO",
	       "LAG", "ADDRESS");
	for (size_t i = 0; i < l->n_members; i++) {
		const Vigil__V1__PoolMember *m = l->members[i];
		char lag[32] = "-", live[32];
		if (m->stalled_ms != 0)
			snprintf(live, sizeof(live), "STALLED %.0fs",
			         (double)(l->now_ms - m->stalled_ms) / 1000.0);
		else
			snprintf(live, sizeof(live), "%s", m->live ? "yes" : "NO");
		if (m->oldest_attestation > 0)
			snprintf(lag, sizeof(lag), "%.0f s",
			         (double)(l->now_ms / 1000 - m->oldest_attestation));
		printf("%-32s %-13s %7" PRIu64 " %12.1f s %9s  %s\n", m->id, live, m->nodes,
		       (double)(l->now_ms - m->heartbeat_ms) / 1000.0, lag,
		       *m->address ? m->address : "-");
	}
}

/* The pages after first, their members moved into first (which then owns them). 0, or -1
 * (printed). */
static int pool_rest(ctl_conf_t *c, Vigil__V1__ListPoolResponse *first)
{
	Vigil__V1__ListPoolRequest req = VIGIL__V1__LIST_POOL_REQUEST__INIT;
	char *token = *first->next_page_token ? xstrdup(first->next_page_token) : NULL;
	int rv = 0;

	while (token) {
		ProtobufCMessage *resp = NULL;
		Vigil__V1__ListPoolResponse *l;
		req.page_token = token;
		if (ctl_call(c, "ListPool", &req.base, &vigil__v1__list_pool_response__descriptor,
		             &resp) != 0) {
			rv = -1;
			break;
		}
		l = (Vigil__V1__ListPoolResponse *)resp;
		first->members = xrealloc(first->members, (first->n_members + l->n_members + 1) *
		                                              sizeof(*first->members));
		for (size_t i = 0; i < l->n_members; i++)
			first->members[first->n_members++] = l->members[i];
		l->n_members = 0; /* moved */
		free(token);
		token = *l->next_page_token ? xstrdup(l->next_page_token) : NULL;
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	free(token);
	return rv;
}

int cmd_pool(int argc, char **argv)
{
	static const struct option extra[] = {
	    {"help", no_argument, NULL, 'h'},
	};
	struct option all[CTL_COMMON_OPTION_COUNT + 2];
	Vigil__V1__ListPoolRequest req = VIGIL__V1__LIST_POOL_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	ctl_conf_t c;
	int opt, rv = 1;

	memset(all, 0, sizeof(all));
	memcpy(all, ctl_common_options, CTL_COMMON_OPTION_COUNT * sizeof(*all));
	memcpy(all + CTL_COMMON_OPTION_COUNT, extra, sizeof(extra));
	if (ctl_conf_init(&c, NULL) < 0)
		return 1;
	optind = 0;
	while ((opt = ctl_getopt(argc, argv, "hc:", all)) != -1) {
		if (opt == 'h') {
			printf("%s\n%s", pool_usage, ctl_common_help);
			ctl_conf_free(&c);
			return 0;
		}
		if (opt == '?' || ctl_conf_option(&c, opt, optarg) < 0) {
			fprintf(stderr, "%s", pool_usage);
			ctl_conf_free(&c);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s", pool_usage);
		ctl_conf_free(&c);
		return 2;
	}
	if (ctl_call(&c, "ListPool", &req.base, &vigil__v1__list_pool_response__descriptor,
	             &resp) == 0) {
		Vigil__V1__ListPoolResponse *l = (Vigil__V1__ListPoolResponse *)resp;
		/* Every page (ListPool follows the paging rule), its members gathered into the
		 * first page's answer, which says what the instance that answered is. */
		if (pool_rest(&c, l) < 0)
			goto out;
		if (c.json) {
			json_t *j = pool_json(l);
			char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
			printf("%s\n", s ? s : "{}");
			free(s);
			json_decref(j);
		} else {
			pool_print(l);
		}
		rv = 0;
	}
out:
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	ctl_conf_free(&c);
	return rv;
}

/* cmd_node: vigilctl add | remove | status | list | stop | reactivate: nodes under
 * attestation, over the verifier's gRPC API. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "common/crypto/ekcert.h"
#include "common/net/grpccli.h"
#include "common/net/http.h"
#include "common/crypto/tpm2.h"
#include "common/base/xmalloc.h"
#include "ctl/args.h"
#include "ctl/commands.h"
#include "ctl/ctlconf.h"
#include "ctl/show.h"
#include "ctl/payload.h"

static const char *const node_state_names[] = {
    "REGISTERED",      "START",  "SAVED",      "GET_QUOTE",     "GET_QUOTE_RETRY", "PROVIDE_V",
    "PROVIDE_V_RETRY", "FAILED", "TERMINATED", "INVALID_QUOTE", "TENANT_FAILED"};

static const char *node_state_name(int s)
{
	return s >= 0 && s <= 10 ? node_state_names[s] : "UNKNOWN";
}

static json_t *node_json(const Vigil__V1__Node *n)
{
	return json_pack(
	    "{s:s, s:s, s:i, s:s, s:i, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:s, "
	    "s:s, s:I, s:s, s:s}",
	    "uuid", n->uuid, "ip", n->ip, "port", (int)n->port, "operational_state_name",
	    node_state_name(n->operational_state), "operational_state", (int)n->operational_state,
	    "attestation_status", n->attestation_status, "attestation_count",
	    (json_int_t)n->attestation_count, "last_successful_attestation",
	    (json_int_t)n->last_successful_attestation, "last_received_quote",
	    (json_int_t)n->last_received_quote, "last_event_id", n->last_event_id, "failure_reason",
	    n->failure_reason, "pcr_policy", n->pcr_policy, "runtime_policy", n->runtime_policy,
	    "mb_policy", n->mb_policy, "api_version", n->api_version, "ima_next_entry",
	    (json_int_t)n->ima_next_entry, "hash_alg", n->hash_alg, "verifier_id", n->verifier_id);
}

static void node_print(const ctl_conf_t *c, const Vigil__V1__Node *n)
{
	char t1[32], t2[32];

	if (c->json) {
		json_t *j = node_json(n);
		char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("%s\n", s);
		free(s);
		json_decref(j);
		return;
	}
	ctl_time(t1, sizeof(t1), n->last_successful_attestation * 1000, 0, "never");
	ctl_time(t2, sizeof(t2), n->last_received_quote * 1000, 0, "never");
	printf("node:          %s\n", n->uuid);
	printf("state:         %s (%s)\n", node_state_name(n->operational_state),
	       n->attestation_status);
	printf("contact:       %s:%u%s%s\n", n->ip, n->port, *n->api_version ? ", API v" : "",
	       n->api_version);
	printf("policies:      pcr=%s runtime=%s mb=%s\n", *n->pcr_policy ? n->pcr_policy : "-",
	       *n->runtime_policy ? n->runtime_policy : "-", *n->mb_policy ? n->mb_policy : "-");
	printf("attestations:  %llu, last success %s, last quote %s\n",
	       (unsigned long long)n->attestation_count, t1, t2);
	if (*n->runtime_policy)
		printf("IMA position:  entry %llu\n", (unsigned long long)n->ima_next_entry);
	if (*n->last_event_id)
		printf("last failure:  %s: %s\n", n->last_event_id, n->failure_reason);
	printf("verifier:      %s\n", n->verifier_id);
}

/* Parse the shared options plus extra ones; returns the index of the first operand, or
 * -1 on a usage error (printed). */
static int node_getopt(ctl_conf_t *c, int argc, char **argv, const struct option *extra,
                       size_t nextra, int (*on_extra)(int opt, const char *arg, void *ctx),
                       void *ctx, const char *usage)
{
	struct option *all = xcalloc(CTL_COMMON_OPTION_COUNT + nextra + 2, sizeof(*all));
	int opt, rv = -1;

	memcpy(all, ctl_common_options, CTL_COMMON_OPTION_COUNT * sizeof(*all));
	if (nextra)
		memcpy(all + CTL_COMMON_OPTION_COUNT, extra, nextra * sizeof(*all));
	all[CTL_COMMON_OPTION_COUNT + nextra] = (struct option){"help", no_argument, NULL, 'h'};
	optind = 0;
	while ((opt = ctl_getopt(argc, argv, "hc:", all)) != -1) {
		if (opt == 'h') {
			printf("%s\n%s", usage, ctl_common_help);
			exit(0);
		}
		if (opt == '?')
			goto out;
		if (ctl_conf_option(c, opt, optarg) == 0)
			continue;
		if (on_extra == NULL || on_extra(opt, optarg, ctx) < 0)
			goto out;
	}
	rv = optind;
out:
	if (rv < 0)
		fprintf(stderr, "%s\n(see --help)\n", usage);
	free(all);
	return rv;
}

/* ---- add ---- */

typedef struct add_opts {
	const char *pcr, *runtime, *mb; /* policy names */
	const char *ip;                 /* contact override */
	int port;                       /* contact override */
	int allow_no_ekcert;            /* accept a node whose TPM has no EK certificate */
	const char *file;               /* --file: UUIDs to add, one a line */
	const char *payload;            /* --payload: file to deliver after the first good quote */
	const char *cert_package;       /* --cert-package: a `vigilctl ca` directory */
	int verify_s;                   /* --payload-verify: seconds to wait, 0: do not */
} add_opts_t;

static int add_on_opt(int opt, const char *arg, void *ctx)
{
	add_opts_t *o = ctx;

	switch (opt) {
	case 'P':
		o->pcr = arg;
		return 0;
	case 'R':
		o->runtime = arg;
		return 0;
	case 'M':
		o->mb = arg;
		return 0;
	case 'I':
		o->ip = arg;
		return 0;
	case 'p': {
		char *end;
		long v = strtol(arg, &end, 10);
		if (end == arg || *end || v < 1 || v > 65535) {
			fprintf(stderr, "vigilctl: --port %s: expected a port 1-65535\n", arg);
			return -1;
		}
		o->port = (int)v;
		return 0;
	}
	case 'N':
		o->allow_no_ekcert = 1;
		return 0;
	case 'F':
		o->file = arg;
		return 0;
	case 'Y':
		o->payload = arg;
		return 0;
	case 'C':
		o->cert_package = arg;
		return 0;
	case 'V': {
		char *end;
		long v = arg ? strtol(arg, &end, 10) : 120;
		if (arg && (end == arg || *end || v < 1 || v > 86400)) {
			fprintf(stderr, "vigilctl: --payload-verify=%s: expected seconds 1-86400\n",
			        arg);
			return -1;
		}
		o->verify_s = (int)v;
		return 0;
	}
	}
	return -1;
}

static const char add_usage[] =
    "Usage: vigilctl add UUID [--runtime-policy NAME] [--mb-policy NAME] [--pcr-policy NAME]\n"
    "                     [--ip ADDR --port N] [--allow-no-ek-cert]\n"
    "                     [--payload FILE | --cert-package DIR] [--payload-verify[=SECONDS]]\n"
    "                     [connection options]\n"
    "       vigilctl add --file FILE [--runtime-policy NAME] [--mb-policy NAME]\n"
    "                    [--pcr-policy NAME] [--allow-no-ek-cert] [connection options]\n"
    "\n"
    "Puts an enrolled node under continuous attestation. vigilctl reads the node's record\n"
    "from the registrar's admin API (its AK, EK, EK certificate, mTLS certificate and\n"
    "contact address), checks the EK certificate against --ek-ca-dir and that it certifies\n"
    "the registered EK, then adds the node to the verifier with the named policies (store\n"
    "them first with 'vigilctl policy put'). The registrar answers only for nodes that\n"
    "completed activation.\n"
    "\n"
    "With --file, adds every node UUID listed in FILE (one a line, '#' comments; '-' reads\n"
    "stdin), each checked at the registrar as above, with the same policies, sent to the\n"
    "verifier in AddNodes calls of 1000 nodes (one store transaction each). Prints one line\n"
    "per node added, the reason for each node refused on stderr; exits 0 only when every\n"
    "node was added.\n"
    "\n"
    "  --runtime-policy NAME   IMA runtime policy (adds PCR 10 to every quote)\n"
    "  --mb-policy NAME        measured-boot policy (adds PCRs 0-9, 11-15 and the UEFI log)\n"
    "  --pcr-policy NAME       static PCR values\n"
    "  --ip ADDR, --port N     contact the agent here instead of the registered address\n"
    "  --allow-no-ek-cert      accept a TPM without an EK certificate (not recommended)\n"
    "  --file FILE             add the nodes listed in FILE (see above)\n"
    "\n"
    "Secure payload (docs/payload.md), as Keylime's tenant delivers it: vigilctl seals the\n"
    "payload under a fresh key K = U xor V, posts U with the sealed payload to the agent's\n"
    "/keys/ukey (over mutual TLS: the agent's registered certificate pinned, this operator's\n"
    "certificate), and gives V to the verifier with the node; the verifier posts V to the\n"
    "agent only after the node's first good quote, then forgets it. A node that fails\n"
    "never gets V. The agent unpacks a ZIP payload into its secure dir and runs autorun.sh.\n"
    "  --payload FILE          deliver FILE (at most 1 MiB), e.g. a ZIP with autorun.sh\n"
    "  --cert-package DIR      deliver Keylime's certificate package, a ZIP of\n"
    "                          UUID-cert.crt, UUID-private.pem, cacert.crt and\n"
    "                          RevocationNotifier-cert.crt from the `vigilctl ca` directory\n"
    "                          DIR (DIR/UUID.crt, DIR/UUID.key: 'vigilctl ca issue DIR UUID\n"
    "                          --client'; DIR/ca.crt; DIR/RevocationNotifier.crt)\n"
    "  --payload-verify[=S]    after adding, wait (default 120 s) until the agent's\n"
    "                          /keys/verify proves it derived K; exit 1 if it does not\n";

/* The verifier's rule for node UUIDs; checked here too because the UUID becomes part of
 * the registrar URL path. */
static int node_uuid_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 80)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

static int add_check_ek(ctl_conf_t *c, json_t *res, int allow_no_cert)
{
	const char *ek_b64 = json_string_value(json_object_get(res, "ek_tpm"));
	const char *cert = json_string_value(json_object_get(res, "ekcert"));
	buf_t ek = BUF_INIT;
	tpm2_pub_t *pub = NULL;
	ekca_t *ca = NULL;
	X509 *leaf = NULL;
	STACK_OF(X509) *chain = NULL;
	err_t e = {""};
	int rv = -1;

	if (ek_b64 == NULL || base64_decode(&ek, ek_b64, strlen(ek_b64)) < 0 ||
	    (pub = tpm2_pub_decode(ek.data, ek.len, &e)) == NULL) {
		fprintf(stderr, "vigilctl: the registrar's ek_tpm is unusable %s\n", e.msg);
		goto out;
	}
	if (cert == NULL || *cert == '\0') {
		if (allow_no_cert) {
			fprintf(stderr, "vigilctl: warning: the node's TPM has no EK certificate; "
			                "its identity is not vouched for by a TPM vendor\n");
			rv = 0;
		} else {
			fprintf(stderr, "vigilctl: the node's TPM has no EK certificate; refusing "
			                "(--allow-no-ek-cert to accept it anyway)\n");
		}
		goto out;
	}
	if (ekcert_parse(cert, strlen(cert), &leaf, &chain, &e) < 0) {
		fprintf(stderr, "vigilctl: the EK certificate does not parse: %s\n", e.msg);
		goto out;
	}
	if (!tpm2_pub_matches_pkey(pub, X509_get0_pubkey(leaf))) {
		fprintf(stderr, "vigilctl: the EK certificate certifies another key than the "
		                "registered EK\n");
		goto out;
	}
	if ((ca = ekca_load_dir(c->ek_ca_dir, &e)) == NULL) {
		fprintf(stderr, "vigilctl: cannot read --ek-ca-dir %s: %s\n", c->ek_ca_dir, e.msg);
		goto out;
	}
	if (ekca_verify(ca, leaf, chain, &e) < 0) {
		fprintf(stderr, "vigilctl: EK certificate not trusted: %s\n", e.msg);
		goto out;
	}
	rv = 0;
out:
	ekca_free(ca);
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	tpm2_pub_free(pub);
	buf_free(&ek);
	return rv;
}

/* The node's record from the registrar, checked (its EK certificate), as an AddNode Node
 * in *node: strings and AK owned (add_node_clear). 0, or -1 (printed). */
static int add_fetch(ctl_conf_t *c, const add_opts_t *o, const char *host, int rport,
                     const char *uuid, Vigil__V1__Node *node)
{
	tls_client_opts_t tls = {0};
	buf_t body = BUF_INIT, ak = BUF_INIT;
	json_t *root = NULL, *res;
	char path[160];
	const char *ak_b64, *mtls, *ip;
	err_t e = {""};
	int port, status, rv = -1;

	vigil__v1__node__init(node);
	tls.ca_file = c->tls_ca;
	tls.cert_file = c->tls_cert;
	tls.key_file = c->tls_key;
	tls.check_hostname = 1;
	snprintf(path, sizeof(path), "/v2.6/agents/%s", uuid);
	status = http_fetch(host, rport, &tls, 30, HTTP_M_GET, path, NULL, NULL, 0, &body, &e);
	if (status == 0) {
		fprintf(stderr, "vigilctl: registrar %s: %s\n", c->registrar, e.msg);
		goto out;
	}
	if (status == 404) {
		fprintf(stderr, "vigilctl: the registrar has no activated node %s\n", uuid);
		goto out;
	}
	root = json_loadb((const char *)body.data, body.len, 0, NULL);
	res = json_object_get(root, "results");
	if (status != 200 || !json_is_object(res)) {
		fprintf(stderr, "vigilctl: registrar answered HTTP %d: %s\n", status,
		        json_string_value(json_object_get(root, "status"))
		            ? json_string_value(json_object_get(root, "status"))
		            : "(no reason)");
		goto out;
	}
	if (add_check_ek(c, res, o->allow_no_ekcert) < 0)
		goto out;
	ak_b64 = json_string_value(json_object_get(res, "aik_tpm"));
	mtls = json_string_value(json_object_get(res, "mtls_cert"));
	ip = o->ip ? o->ip : json_string_value(json_object_get(res, "ip"));
	port = o->port ? o->port : (int)json_integer_value(json_object_get(res, "port"));
	if (ak_b64 == NULL || base64_decode(&ak, ak_b64, strlen(ak_b64)) < 0 || mtls == NULL ||
	    ip == NULL || port <= 0) {
		fprintf(stderr,
		        "vigilctl: the registrar's record of %s lacks its AK, mTLS "
		        "certificate or contact address\n",
		        uuid);
		goto out;
	}
	node->uuid = xstrdup(uuid);
	node->ip = xstrdup(ip);
	node->port = (uint32_t)port;
	node->ak_tpm.data = xmalloc(ak.len);
	memcpy(node->ak_tpm.data, ak.data, ak.len);
	node->ak_tpm.len = ak.len;
	node->mtls_cert = xstrdup(mtls);
	node->pcr_policy = xstrdup(o->pcr ? o->pcr : "");
	node->runtime_policy = xstrdup(o->runtime ? o->runtime : "");
	node->mb_policy = xstrdup(o->mb ? o->mb : "");
	rv = 0;
out:
	json_decref(root);
	buf_free(&body);
	buf_free(&ak);
	return rv;
}

static void add_node_clear(Vigil__V1__Node *node)
{
	if (node->ak_tpm.data == NULL)
		return; /* not filled by add_fetch: its strings are protobuf-c's static "" */
	free(node->uuid);
	free(node->ip);
	free(node->ak_tpm.data);
	free(node->mtls_cert);
	free(node->pcr_policy);
	free(node->runtime_policy);
	free(node->mb_policy);
	vigil__v1__node__init(node);
}

#define ADD_BATCH 1000 /* nodes per AddNodes call (the verifier's limit) */

/* One AddNodes call for nodes[0..n): a line per node. The number of nodes not added, or
 * -1 when the call failed as a whole (printed). */
static int add_batch(ctl_conf_t *c, Vigil__V1__Node *nodes, size_t n)
{
	Vigil__V1__AddNodesRequest req = VIGIL__V1__ADD_NODES_REQUEST__INIT;
	Vigil__V1__AddNodeRequest *rs = xcalloc(n, sizeof(*rs)), **rp = xcalloc(n, sizeof(*rp));
	Vigil__V1__AddNodesResponse *resp = NULL;
	int failed = -1;

	for (size_t i = 0; i < n; i++) {
		vigil__v1__add_node_request__init(&rs[i]);
		rs[i].node = &nodes[i];
		rp[i] = &rs[i];
	}
	req.n_requests = n;
	req.requests = rp;
	if (ctl_call(c, "AddNodes", &req.base, &vigil__v1__add_nodes_response__descriptor,
	             (ProtobufCMessage **)&resp) != 0)
		goto out;
	failed = 0;
	for (size_t i = 0; i < resp->n_results; i++) {
		const Vigil__V1__AddNodeResult *r = resp->results[i];
		if (r->code == 0) {
			if (c->json) {
				json_t *j =
				    json_pack("{s:s, s:s}", "uuid", r->uuid, "status", "added");
				char *t = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
				printf("%s\n", t);
				free(t);
				json_decref(j);
			} else {
				printf("%s added\n", r->uuid);
			}
		} else {
			failed++;
			fprintf(stderr, "vigilctl: %s not added: %s (%s)\n", r->uuid, r->message,
			        grpccli_status_name((int)r->code));
		}
	}
	failed += (int)(n - resp->n_results); /* a result missing: not known to be added */
out:
	if (resp)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	free(rs);
	free(rp);
	return failed;
}

/* vigilctl add --file FILE: every UUID of FILE (one a line; blank lines and # comments
 * skipped), each read and checked at the registrar as for one, added in AddNodes calls of
 * ADD_BATCH. 0 when all were added, 1 otherwise. */
static int add_file(ctl_conf_t *c, const add_opts_t *o, const char *host, int rport,
                    const char *file)
{
	FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
	Vigil__V1__Node *batch = xcalloc(ADD_BATCH, sizeof(*batch));
	size_t n = 0, total = 0, lineno = 0;
	char line[256];
	int bad = 0, r;

	if (f == NULL) {
		fprintf(stderr, "vigilctl: --file %s: %s\n", file, strerror(errno));
		free(batch);
		return 1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *u = line, *end;
		lineno++;
		while (*u == ' ' || *u == '\t')
			u++;
		end = u + strcspn(u, " \t\r\n#");
		if (*u == '#' || end == u)
			continue;
		*end = '\0';
		total++;
		if (!node_uuid_ok(u)) {
			fprintf(stderr,
			        "vigilctl: %s:%zu: node UUID \"%s\" must be 1-80 of "
			        "[A-Za-z0-9._-]\n",
			        file, lineno, u);
			bad++;
			continue;
		}
		if (add_fetch(c, o, host, rport, u, &batch[n]) < 0) {
			bad++;
			continue;
		}
		if (++n == ADD_BATCH) {
			r = add_batch(c, batch, n);
			bad += r < 0 ? (int)n : r;
			for (size_t i = 0; i < n; i++)
				add_node_clear(&batch[i]);
			n = 0;
		}
	}
	if (n > 0) {
		r = add_batch(c, batch, n);
		bad += r < 0 ? (int)n : r;
		for (size_t i = 0; i < n; i++)
			add_node_clear(&batch[i]);
	}
	if (f != stdin)
		fclose(f);
	free(batch);
	if (!c->json)
		fprintf(stderr, "vigilctl: %zu of %zu nodes added\n", total - (size_t)bad, total);
	return bad ? 1 : 0;
}

/* The tenant's half of a secure payload for node: K, V, U; U and the sealed payload
 * posted to the agent. 0, or -1 (printed). */
static int add_payload_send(const ctl_conf_t *c, const add_opts_t *o, const Vigil__V1__Node *node,
                            ctl_payload_t *pl)
{
	buf_t plain = BUF_INIT;
	err_t e = {""};
	int rv = -1;

	if (o->cert_package) {
		if (ctl_payload_cert_package(o->cert_package, node->uuid, &plain, &e) < 0) {
			fprintf(stderr, "vigilctl: --cert-package %s: %s\n", o->cert_package,
			        e.msg);
			goto out;
		}
	} else if (buf_read_file(&plain, o->payload, CTL_PAYLOAD_MAX) < 0) {
		fprintf(stderr, "vigilctl: --payload %s: %s%s\n", o->payload, strerror(errno),
		        errno == EFBIG ? " (at most 1 MiB, Keylime's max_payload_size)" : "");
		goto out;
	}
	if (ctl_payload_make(pl, node->uuid, plain.data, plain.len, &e) < 0) {
		fprintf(stderr, "vigilctl: payload: %s\n", e.msg);
		goto out;
	}
	if (ctl_payload_send_u(c, node->ip, (int)node->port, node->mtls_cert, pl, &e) < 0) {
		fprintf(stderr, "vigilctl: payload: agent %s:%u: %s\n", node->ip, node->port,
		        e.msg);
		ctl_payload_clear(pl);
		goto out;
	}
	rv = 0;
out:
	buf_free_secret(&plain);
	return rv;
}

static int cmd_add(int argc, char **argv)
{
	static const struct option extra[] = {
	    {"pcr-policy", required_argument, NULL, 'P'},
	    {"runtime-policy", required_argument, NULL, 'R'},
	    {"mb-policy", required_argument, NULL, 'M'},
	    {"ip", required_argument, NULL, 'I'},
	    {"port", required_argument, NULL, 'p'},
	    {"allow-no-ek-cert", no_argument, NULL, 'N'},
	    {"file", required_argument, NULL, 'F'},
	    {"payload", required_argument, NULL, 'Y'},
	    {"cert-package", required_argument, NULL, 'C'},
	    {"payload-verify", optional_argument, NULL, 'V'},
	};
	ctl_conf_t c;
	add_opts_t o = {0};
	Vigil__V1__AddNodeRequest req = VIGIL__V1__ADD_NODE_REQUEST__INIT;
	Vigil__V1__Node node = VIGIL__V1__NODE__INIT;
	Vigil__V1__AddNodeResponse *resp = NULL;
	ctl_payload_t pl;
	int has_payload = 0;
	char *host = NULL;
	int port, i, rv = 1;

	if (ctl_conf_init(&c, NULL) < 0)
		return 1;
	memset(&pl, 0, sizeof(pl));
	if ((i = node_getopt(&c, argc, argv, extra, 10, add_on_opt, &o, add_usage)) < 0 ||
	    argc - i != (o.file ? 0 : 1) || (o.file && (o.ip || o.port)) ||
	    (o.payload && o.cert_package) ||
	    (o.file && (o.payload || o.cert_package || o.verify_s)) ||
	    (o.verify_s && !o.payload && !o.cert_package)) {
		if (i >= 0)
			fprintf(stderr, "%s", add_usage);
		rv = 2;
		goto out;
	}
	if (!o.file && !node_uuid_ok(argv[i])) {
		fprintf(stderr, "vigilctl: node UUID \"%s\" must be 1-80 of [A-Za-z0-9._-]\n",
		        argv[i]);
		rv = 2;
		goto out;
	}
	if (http_parse_hostport(c.registrar, &host, &port) < 0) {
		fprintf(stderr, "vigilctl: --registrar %s: expected HOST:PORT\n", c.registrar);
		goto out;
	}
	if (o.file) {
		rv = add_file(&c, &o, host, port, o.file);
		goto out;
	}
	if (add_fetch(&c, &o, host, port, argv[i], &node) < 0)
		goto out;
	req.node = &node;
	if (o.payload || o.cert_package) {
		if (add_payload_send(&c, &o, &node, &pl) < 0)
			goto out;
		has_payload = 1;
		req.payload_v.data = pl.v;
		req.payload_v.len = sizeof(pl.v);
	}
	if (ctl_call(&c, "AddNode", &req.base, &vigil__v1__add_node_response__descriptor,
	             (ProtobufCMessage **)&resp) != 0)
		goto out;
	node_print(&c, resp->node);
	if (o.verify_s) {
		err_t e = {""};
		if (ctl_payload_verify(&c, node.ip, (int)node.port, node.mtls_cert, &pl, o.verify_s,
		                       &e) < 0) {
			fprintf(stderr, "vigilctl: payload of %s not verified: %s\n", node.uuid,
			        e.msg);
			goto out;
		}
		if (!c.json)
			printf("payload:       delivered (the agent's /keys/verify matches K)\n");
	}
	rv = 0;
out:
	if (has_payload)
		ctl_payload_clear(&pl);
	if (resp)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	add_node_clear(&node);
	free(host);
	ctl_conf_free(&c);
	return rv;
}

/* ---- update ---- */

typedef struct upd_opts {
	const char *ip, *cert_file, *pcr, *runtime, *mb; /* NULL: unchanged */
	int port;                                        /* 0: unchanged */
} upd_opts_t;

static int upd_on_opt(int opt, const char *arg, void *ctx)
{
	upd_opts_t *o = ctx;

	switch (opt) {
	case 'P':
		o->pcr = arg;
		return 0;
	case 'R':
		o->runtime = arg;
		return 0;
	case 'M':
		o->mb = arg;
		return 0;
	case 'I':
		o->ip = arg;
		return 0;
	case 'T':
		o->cert_file = arg;
		return 0;
	case 'p': {
		char *end;
		long v = strtol(arg, &end, 10);
		if (end == arg || *end || v < 1 || v > 65535) {
			fprintf(stderr, "vigilctl: --port %s: expected a port 1-65535\n", arg);
			return -1;
		}
		o->port = (int)v;
		return 0;
	}
	}
	return -1;
}

static const char upd_usage[] =
    "Usage: vigilctl update UUID [--ip ADDR] [--port N] [--cert FILE]\n"
    "                       [--pcr-policy NAME] [--runtime-policy NAME] [--mb-policy NAME]\n"
    "                       [connection options]\n"
    "\n"
    "Changes a node's policies or its agent's contact in place, without removing and adding\n"
    "it: its attestation count, last attestation times, IMA position and verdict stay. Only\n"
    "the fields given change; an empty NAME (--runtime-policy '') takes the policy away.\n"
    "Prints the node's status once the change is stored and in force.\n"
    "\n"
    "A new policy judges the node from its next round on: IMA entries already judged stay\n"
    "judged (a new runtime policy is not applied to them; a node that learned keys from its\n"
    "keyring measurements replays its IMA list under the new one instead). A round under\n"
    "way is asked again, never judged half by the old and half by the new policy. A node\n"
    "that failed stays failed: 'vigilctl reactivate' starts it over under the new policy.\n"
    "A new contact closes the connection to the agent and opens one to the new address,\n"
    "pinned to the new certificate, at once. The verifier records a node_updated event\n"
    "naming each field changed (old -> new).\n"
    "\n"
    "  --ip ADDR               the agent's IPv4 or IPv6 address\n"
    "  --port N                the agent's port (1-65535)\n"
    "  --cert FILE             the agent's mTLS certificate (PEM) to pin\n"
    "  --pcr-policy NAME       static PCR policy ('' for none)\n"
    "  --runtime-policy NAME   IMA runtime policy ('' for none)\n"
    "  --mb-policy NAME        measured-boot policy ('' for none)\n"
    "\n"
    "Exit status 0 when updated; 1 when the verifier refused (NOT_FOUND: no such node;\n"
    "FAILED_PRECONDITION: a policy named does not exist, or the node is not attested by\n"
    "this verifier; INVALID_ARGUMENT: a value is malformed); 2 on a usage error.\n";

static int cmd_update(int argc, char **argv)
{
	static const struct option extra[] = {
	    {"pcr-policy", required_argument, NULL, 'P'},
	    {"runtime-policy", required_argument, NULL, 'R'},
	    {"mb-policy", required_argument, NULL, 'M'},
	    {"ip", required_argument, NULL, 'I'},
	    {"port", required_argument, NULL, 'p'},
	    {"cert", required_argument, NULL, 'T'},
	};
	ctl_conf_t c;
	upd_opts_t o = {0};
	Vigil__V1__UpdateNodeRequest req = VIGIL__V1__UPDATE_NODE_REQUEST__INIT;
	Vigil__V1__Node node = VIGIL__V1__NODE__INIT;
	Vigil__V1__NodeResponse *resp = NULL;
	char *mask[6];
	buf_t pem = BUF_INIT;
	int i, rv = 1;

	if (ctl_conf_init(&c, NULL) < 0)
		return 1;
	if ((i = node_getopt(&c, argc, argv, extra, 6, upd_on_opt, &o, upd_usage)) < 0 ||
	    argc - i != 1) {
		if (i >= 0)
			fprintf(stderr, "%s", upd_usage);
		rv = 2;
		goto out;
	}
	if (!node_uuid_ok(argv[i])) {
		fprintf(stderr, "vigilctl: node UUID \"%s\" must be 1-80 of [A-Za-z0-9._-]\n",
		        argv[i]);
		rv = 2;
		goto out;
	}
	if (o.cert_file) {
		if (buf_read_file(&pem, o.cert_file, 1 << 20) < 0) {
			fprintf(stderr, "vigilctl: --cert %s: %s\n", o.cert_file, strerror(errno));
			goto out;
		}
		buf_append(&pem, "", 1);
		node.mtls_cert = (char *)pem.data;
		mask[req.n_update_mask++] = "mtls_cert";
	}
	if (o.ip) {
		node.ip = (char *)(uintptr_t)o.ip;
		mask[req.n_update_mask++] = "ip";
	}
	if (o.port) {
		node.port = (uint32_t)o.port;
		mask[req.n_update_mask++] = "port";
	}
	if (o.pcr) {
		node.pcr_policy = (char *)(uintptr_t)o.pcr;
		mask[req.n_update_mask++] = "pcr_policy";
	}
	if (o.runtime) {
		node.runtime_policy = (char *)(uintptr_t)o.runtime;
		mask[req.n_update_mask++] = "runtime_policy";
	}
	if (o.mb) {
		node.mb_policy = (char *)(uintptr_t)o.mb;
		mask[req.n_update_mask++] = "mb_policy";
	}
	if (req.n_update_mask == 0) {
		fprintf(stderr, "vigilctl update: nothing to change (give at least one option)\n%s",
		        upd_usage);
		rv = 2;
		goto out;
	}
	req.uuid = argv[i];
	req.node = &node;
	req.update_mask = mask;
	if (ctl_call(&c, "UpdateNode", &req.base, &vigil__v1__node_response__descriptor,
	             (ProtobufCMessage **)&resp) != 0)
		goto out;
	node_print(&c, resp->node);
	rv = 0;
out:
	if (resp)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	buf_free(&pem);
	ctl_conf_free(&c);
	return rv;
}

/* ---- the one-UUID commands ---- */

static int cmd_uuid(int argc, char **argv, const char *method, const char *usage)
{
	ctl_conf_t c;
	Vigil__V1__NodeRequest req = VIGIL__V1__NODE_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	int i, rv = 1, remove = strcmp(method, "RemoveNode") == 0;

	if (ctl_conf_init(&c, NULL) < 0)
		return 1;
	if ((i = node_getopt(&c, argc, argv, NULL, 0, NULL, NULL, usage)) < 0 || argc - i != 1) {
		if (i >= 0)
			fprintf(stderr, "%s", usage);
		ctl_conf_free(&c);
		return 2;
	}
	req.uuid = argv[i];
	if (ctl_call(&c, method, &req.base,
	             remove ? &vigil__v1__remove_node_response__descriptor
	                    : &vigil__v1__node_response__descriptor,
	             &resp) == 0) {
		if (remove)
			printf("node %s removed from attestation\n", argv[i]);
		else
			node_print(&c, ((Vigil__V1__NodeResponse *)resp)->node);
		rv = 0;
	}
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	ctl_conf_free(&c);
	return rv;
}

static int list_on_opt(int opt, const char *arg, void *ctx)
{
	if (opt != 'S')
		return -1;
	return ctl_page_size_arg(arg, ctx);
}

static int cmd_list(int argc, char **argv)
{
	static const char usage[] =
	    "Usage: vigilctl list [--page-size N] [--json] [connection options]\n\n"
	    "Lists every node the verifier attests, with its state, ordered by UUID. The list\n"
	    "is read in pages (ListNodes, following next_page_token to the end).\n"
	    "  --page-size N           nodes per call, 1-1000 (default 100)\n";
	static const struct option extra[] = {{"page-size", required_argument, NULL, 'S'}};
	ctl_conf_t c;
	Vigil__V1__ListNodesRequest req = VIGIL__V1__LIST_NODES_REQUEST__INIT;
	Vigil__V1__ListNodesResponse *resp = NULL;
	json_t *all = NULL;
	char *token = NULL;
	uint32_t page = 0;
	int i, rv = 1;

	if (ctl_conf_init(&c, NULL) < 0)
		return 1;
	if ((i = node_getopt(&c, argc, argv, extra, 1, list_on_opt, &page, usage)) < 0 ||
	    argc != i) {
		if (i >= 0)
			fprintf(stderr, "%s", usage);
		ctl_conf_free(&c);
		return 2;
	}
	if (c.json)
		all = json_array();
	else
		printf("%-38s %-16s %-7s %10s  %s\n", "UUID", "STATE", "STATUS", "ATTESTED",
		       "LAST FAILURE");
	req.page_size = page;
	do {
		req.page_token = token ? token : (char *)(uintptr_t) "";
		if (ctl_call(&c, "ListNodes", &req.base,
		             &vigil__v1__list_nodes_response__descriptor,
		             (ProtobufCMessage **)&resp) != 0)
			goto out;
		for (size_t k = 0; k < resp->n_nodes; k++) {
			Vigil__V1__Node *n = resp->nodes[k];
			if (all) {
				json_array_append_new(all, node_json(n));
				continue;
			}
			printf("%-38s %-16s %-7s %10llu  %s\n", n->uuid,
			       node_state_name(n->operational_state), n->attestation_status,
			       (unsigned long long)n->attestation_count,
			       *n->last_event_id ? n->last_event_id : "-");
		}
		free(token);
		token = *resp->next_page_token ? xstrdup(resp->next_page_token) : NULL;
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		resp = NULL;
	} while (token);
	if (all) {
		char *s = json_dumps(all, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("%s\n", s);
		free(s);
	}
	rv = 0;
out:
	json_decref(all);
	free(token);
	ctl_conf_free(&c);
	return rv;
}

int cmd_node(int argc, char **argv)
{
	const char *cmd = argv[0];

	if (strcmp(cmd, "add") == 0)
		return cmd_add(argc, argv);
	if (strcmp(cmd, "list") == 0)
		return cmd_list(argc, argv);
	if (strcmp(cmd, "update") == 0)
		return cmd_update(argc, argv);
	if (strcmp(cmd, "status") == 0)
		return cmd_uuid(argc, argv, "GetNode",
		                "Usage: vigilctl status UUID [connection options]\n\n"
		                "Shows a node's attestation state, counters and last failure.\n");
	if (strcmp(cmd, "remove") == 0)
		return cmd_uuid(argc, argv, "RemoveNode",
		                "Usage: vigilctl remove UUID [connection options]\n\n"
		                "Stops attesting a node and forgets it (the registrar keeps its "
		                "enrollment).\n");
	if (strcmp(cmd, "stop") == 0)
		return cmd_uuid(
		    argc, argv, "StopNode",
		    "Usage: vigilctl stop UUID [connection options]\n\n"
		    "Pauses a node's attestation (state TENANT_FAILED) until reactivated.\n");
	if (strcmp(cmd, "reactivate") == 0)
		return cmd_uuid(
		    argc, argv, "ReactivateNode",
		    "Usage: vigilctl reactivate UUID [connection options]\n\n"
		    "Resumes a stopped or failed node from scratch: policies reloaded, IMA "
		    "list replayed from its start.\n");
	return 2;
}

/* ctlconf: shared settings and the gRPC call of vigilctl. */
#include "ctl/ctlconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/net/grpccli.h"
#include "common/base/log.h"
#include "ctl/commands.h"

static const config_key_t ctl_keys[] = {
    {"vigilctl", "verifier", CFG_STR, "127.0.0.1:8881", 0, 0,
     "host:port of the verifier's gRPC API.", NULL},
    {"vigilctl", "registrar", CFG_STR, "127.0.0.1:8891", 0, 0,
     "host:port of the registrar's admin HTTPS port.", NULL},
    {"vigilctl", "registrar_grpc", CFG_STR, "127.0.0.1:8892", 0, 0,
     "host:port of the registrar's gRPC API (registrar.grpc_listen), for 'vigilctl "
     "enrollment'.",
     NULL},
    {"vigilctl", "tls_ca", CFG_STR, "/etc/vigil/tls/ca.crt", 0, 0,
     "PEM CA that the verifier's and registrar's certificates chain to.", NULL},
    {"vigilctl", "tls_cert", CFG_STR, "/etc/vigil/tls/vigilctl.crt", 0, 0,
     "This operator's client certificate (vigilctl ca issue DIR vigilctl --client).", NULL},
    {"vigilctl", "tls_key", CFG_STR, "/etc/vigil/tls/vigilctl.key", 0, 0, "Its private key.", NULL},
    {"vigilctl", "ek_ca_dir", CFG_STR, "/etc/vigil/ek-ca", 0, 0,
     "Directory of TPM vendor CA certificates (PEM) that 'vigilctl add' checks EK "
     "certificates against.",
     NULL},
    {"vigilctl", "grpc_insecure", CFG_BOOL, "no", 0, 0,
     "Talk plaintext gRPC to a verifier or registrar run with grpc_insecure = yes (tests "
     "only).",
     NULL},
    {NULL, NULL, CFG_STR, NULL, 0, 0, NULL, NULL},
};

const struct option ctl_common_options[] = {
    {"verifier", required_argument, NULL, CTL_OPT_BASE + 0},
    {"registrar", required_argument, NULL, CTL_OPT_BASE + 1},
    {"tls-ca", required_argument, NULL, CTL_OPT_BASE + 2},
    {"tls-cert", required_argument, NULL, CTL_OPT_BASE + 3},
    {"tls-key", required_argument, NULL, CTL_OPT_BASE + 4},
    {"ek-ca-dir", required_argument, NULL, CTL_OPT_BASE + 5},
    {"insecure", no_argument, NULL, CTL_OPT_BASE + 6},
    {"json", no_argument, NULL, CTL_OPT_BASE + 7},
    {"config", required_argument, NULL, 'c'},
    {"registrar-grpc", required_argument, NULL, CTL_OPT_BASE + 8},
};

const char ctl_common_help[] =
    "Connection options (defaults from /etc/vigil/vigilctl.conf, or -c FILE, or\n"
    "$VIGILCTL_CONF; see deploy/config/vigilctl.conf):\n"
    "  -c, --config FILE       read settings from FILE\n"
    "  --verifier HOST:PORT    verifier gRPC API (default 127.0.0.1:8881)\n"
    "  --registrar HOST:PORT   registrar admin port (default 127.0.0.1:8891)\n"
    "  --registrar-grpc HOST:PORT\n"
    "                          registrar gRPC API (default 127.0.0.1:8892)\n"
    "  --tls-ca FILE           CA of the verifier's and registrar's certificates\n"
    "  --tls-cert FILE         your client certificate\n"
    "  --tls-key FILE          its key\n"
    "  --ek-ca-dir DIR         TPM vendor CAs for the EK certificate check of 'add'\n"
    "  --insecure              plaintext gRPC (a server with grpc_insecure = yes)\n"
    "  --json                  print JSON\n";

static void ctl_conf_refresh(ctl_conf_t *c)
{
	c->verifier = config_str(c->cfg, "vigilctl", "verifier");
	c->registrar = config_str(c->cfg, "vigilctl", "registrar");
	c->registrar_grpc = config_str(c->cfg, "vigilctl", "registrar_grpc");
	c->tls_ca = config_str(c->cfg, "vigilctl", "tls_ca");
	c->tls_cert = config_str(c->cfg, "vigilctl", "tls_cert");
	c->tls_key = config_str(c->cfg, "vigilctl", "tls_key");
	c->ek_ca_dir = config_str(c->cfg, "vigilctl", "ek_ca_dir");
	c->insecure = config_bool(c->cfg, "vigilctl", "grpc_insecure");
}

int ctl_conf_init(ctl_conf_t *c, const char *file)
{
	memset(c, 0, sizeof(*c));
	c->cfg = config_new(ctl_keys);
	if (file == NULL)
		file = getenv("VIGILCTL_CONF");
	if (file == NULL && access("/etc/vigil/vigilctl.conf", R_OK) == 0)
		file = "/etc/vigil/vigilctl.conf";
	if (file && config_load_file(c->cfg, file) < 0) {
		fprintf(stderr, "vigilctl: configuration %s has errors\n", file);
		return -1;
	}
	ctl_conf_refresh(c);
	return 0;
}

int ctl_conf_option(ctl_conf_t *c, int opt, const char *arg)
{
	/* By option number; --json (7) is no setting. */
	static const char *const keys[CTL_GIVEN] = {"verifier",      "registrar", "tls_ca",
	                                            "tls_cert",      "tls_key",   "ek_ca_dir",
	                                            "grpc_insecure", NULL,        "registrar_grpc"};
	int i = opt - CTL_OPT_BASE;

	if (opt == 'c') {
		/* The file replaces the defaults, never what the command line said before -c:
		 * '--verifier staging:8881 -c prod.conf' must not talk to prod. */
		const char *given[CTL_GIVEN];
		int json = c->json;

		memcpy(given, c->given, sizeof(given));
		config_free(c->cfg);
		if (ctl_conf_init(c, arg) < 0)
			return -1;
		memcpy(c->given, given, sizeof(given));
		c->json = json;
		for (i = 0; i < CTL_GIVEN; i++)
			if (given[i] && keys[i] &&
			    config_set(c->cfg, "vigilctl", keys[i], given[i]) < 0)
				return -1;
		ctl_conf_refresh(c);
		return 0;
	}
	if (i == 7) {
		c->json = 1;
		return 0;
	}
	if (i < 0 || i >= CTL_GIVEN || keys[i] == NULL)
		return -1;
	c->given[i] = i == 6 ? "yes" : arg;
	if (config_set(c->cfg, "vigilctl", keys[i], c->given[i]) < 0)
		return -1;
	ctl_conf_refresh(c);
	return 0;
}

int cmd_config(int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		fprintf(stderr,
		        "Usage: vigilctl config\n\nPrints the sample vigilctl.conf with every "
		        "key and its default.\n");
		return 2;
	}
	config_write_sample(ctl_keys,
	                    "vigilctl: /etc/vigil/vigilctl.conf, or -c FILE, or $VIGILCTL_CONF; "
	                    "the --verifier, --registrar, --registrar-grpc, --tls-* options "
	                    "override it.",
	                    stdout);
	return 0;
}

void ctl_conf_free(ctl_conf_t *c)
{
	config_free(c->cfg);
	c->cfg = NULL;
}

/* The gRPC services vigilctl calls: the name in the method path, and what to call the
 * server in messages. */
static const struct ctl_service {
	const char *name; /* "Verifier": /vigil.v1.Verifier/METHOD */
	const char *what; /* "verifier" */
	const char *hint; /* what to check when it cannot be reached */
} ctl_services[] = {
    [CTL_VERIFIER] = {"Verifier", "verifier", "--verifier"},
    [CTL_REGISTRAR] = {"Registrar", "registrar", "--registrar-grpc (registrar.grpc_listen)"},
};

int ctl_call_service(ctl_conf_t *c, ctl_service_t svc, const char *method,
                     const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                     ProtobufCMessage **resp)
{
	const struct ctl_service *sv = &ctl_services[svc];
	const char *addr = svc == CTL_REGISTRAR ? c->registrar_grpc : c->verifier;
	grpccli_tls_t tls = {c->tls_ca, c->tls_cert, c->tls_key};
	grpccli_t *g;
	buf_t in = BUF_INIT, out = BUF_INIT;
	err_t e = {""};
	char path[128];
	int code, rv = 1;

	*resp = NULL;
	if ((g = grpccli_new(addr, c->insecure ? NULL : &tls, &e)) == NULL) {
		fprintf(stderr, "vigilctl: %s\n", e.msg);
		return 1;
	}
	snprintf(path, sizeof(path), "/vigil.v1.%s/%s", sv->name, method);
	pb_pack(req, &in);
	code = grpccli_call(g, path, in.data, in.len, &out, 30, &e);
	if (code == 0) {
		*resp = protobuf_c_message_unpack(resp_desc, NULL, out.len, out.data);
		if (*resp == NULL)
			fprintf(stderr, "vigilctl: cannot decode the %s's %s reply\n", sv->what,
			        method);
		else
			rv = 0;
	} else if (code == 14 && strncmp(e.msg, "node ", 5) != 0) {
		/* The transport's UNAVAILABLE: the server is not reached. (A vigil server's own
		 * UNAVAILABLE names a node, e.g. AttestNow's agent that did not answer: that
		 * one is printed as any other error, below.) */
		fprintf(stderr,
		        "vigilctl: %s at %s unavailable: %s\n"
		        "  (is it running? is %s right? do --tls-ca/--tls-cert/--tls-key match "
		        "its certificates? see docs/tls.md)\n",
		        sv->what, addr, e.msg, sv->hint);
	} else if (code < 0) {
		fprintf(stderr, "vigilctl: %s: %s\n", method, e.msg);
	} else {
		fprintf(stderr, "vigilctl: %s: %s (%s)\n", method, e.msg,
		        grpccli_status_name(code));
	}
	buf_free(&in);
	buf_free(&out);
	grpccli_free(g);
	return rv;
}

int ctl_call(ctl_conf_t *c, const char *method, const ProtobufCMessage *req,
             const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp)
{
	return ctl_call_service(c, CTL_VERIFIER, method, req, resp_desc, resp);
}

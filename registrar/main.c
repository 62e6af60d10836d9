/* vigil-registrar: enrolls TPM identities: EK chain, AK attributes, MakeCredential. */
#include <stdlib.h>

#include <event2/event.h>

#include "common/base/config.h"
#include "common/base/daemon.h"
#include "common/base/log.h"
#include "registrar/registrar.h"

int main(int argc, char **argv);

static const config_key_t registrar_keys[] = {
    {"registrar", "listen", CFG_STR, "127.0.0.1:8890", 0, 0,
     "Address for the agent-facing HTTP routes (register, activate, version).", NULL},
    {"registrar", "tls_listen", CFG_STR, "127.0.0.1:8891", 0, 0,
     "Address for the HTTPS admin routes (list, show, delete agents; they need a client "
     "certificate from trusted_client_ca). The agent routes are served here too. Empty: no "
     "HTTPS listener, no admin routes.",
     NULL},
    {"registrar", "grpc_listen", CFG_STR, "127.0.0.1:8892", 0, 0,
     "Address of the gRPC API (vigil.v1.Registrar: list, show and delete enrollments; "
     "docs/api.md) for vigilctl and fleet controllers, with mutual TLS: tls_cert, tls_key, "
     "and client certificates from trusted_client_ca. Empty: off.",
     NULL},
    {"registrar", "tls_cert", CFG_STR, "/etc/vigil/tls/registrar.crt", 0, 0,
     "PEM certificate (chain) of the HTTPS listener and of the gRPC API.", NULL},
    {"registrar", "tls_key", CFG_STR, "/etc/vigil/tls/registrar.key", 0, 0,
     "PEM private key of tls_cert.", NULL},
    {"registrar", "trusted_client_ca", CFG_STR, "/etc/vigil/tls/ca.crt", 0, 0,
     "PEM CA certificate(s) that admin client certificates (HTTPS admin routes and gRPC) must "
     "chain to.",
     NULL},
    {"registrar", "grpc_recv_timeout", CFG_INT, "10", 1, 3600,
     "Seconds a gRPC client has to send its whole request once it opened a call; then the "
     "call ends with DEADLINE_EXCEEDED.",
     NULL},
    {"registrar", "grpc_send_timeout", CFG_INT, "30", 1, 3600,
     "Seconds a gRPC client has to take each reply the registrar sends; then the call is "
     "cancelled.",
     NULL},
    {"registrar", "grpc_max_calls", CFG_INT, "64", 1, 4096,
     "gRPC calls served at once, in total. More are answered RESOURCE_EXHAUSTED at once.", NULL},
    {"registrar", "grpc_max_calls_per_peer", CFG_INT, "16", 1, 4096,
     "gRPC calls served at once for one client IP address. More are answered "
     "RESOURCE_EXHAUSTED at once, so one client cannot use up what others need.",
     NULL},
    {"registrar", "grpc_insecure", CFG_BOOL, "no", 0, 0,
     "Serve gRPC in plaintext without client certificates. Only for tests on loopback.", NULL},
    {"registrar", "ek_ca_dir", CFG_STR, "/etc/vigil/ek-ca", 0, 0,
     "Directory of TPM vendor CA certificates (*.pem, *.crt, *.cer; roots and "
     "intermediates). An agent's EK certificate must chain to one of them.",
     NULL},
    {"registrar", "require_ek_cert", CFG_BOOL, "yes", 0, 0,
     "Refuse agents that send no EK certificate. Set to no only for TPMs without one (some "
     "firmware TPMs); a certificate that is sent is always checked.",
     NULL},
    {"registrar", "allow_ek_reuse", CFG_BOOL, "no", 0, 0,
     "Let one TPM (one EK) be enrolled under several agent ids. With no, a registration or "
     "activation whose EK another id has enrolled is refused (403; the other id is named "
     "in the log only).",
     NULL},
    {"registrar", "state_dir", CFG_STR, "/var/lib/vigil/registrar", 0, 0,
     "Directory for the registrar's state (created with mode 0700 if missing).", NULL},
    {"registrar", "database", CFG_STR, "", 0, 0,
     "Enrollment database URL: sqlite:PATH, or a PostgreSQL (libpq) URI such as "
     "postgresql://vigil@/vigil?host=/run/postgresql. Empty: sqlite:STATE_DIR/registrar.db.",
     NULL},
    {"registrar", "max_body", CFG_INT, "65536", 4096, 4194304,
     "Largest request body accepted, in bytes; larger ones get 413.", NULL},
    {"registrar", "request_timeout", CFG_INT, "30", 1, 3600,
     "Seconds a connection may stay silent in the middle of a request or a reply before it "
     "is closed.",
     NULL},
    {"registrar", "idle_timeout", CFG_INT, "10", 1, 3600,
     "Seconds a connection may go without a complete request, from when it opens (TLS "
     "handshake included) or from the previous answer; then it is closed.",
     NULL},
    {"registrar", "max_conns_per_peer", CFG_INT, "64", 1, 512,
     "Connections one address (IPv6: one /64) may hold open on each listener without a "
     "verified client certificate. Over it, the oldest such connection that is not serving "
     "a request is closed for the newcomer, so idle sockets cannot lock others at that "
     "address out. Many agents behind one NAT registering at once share it. At most 512 "
     "connections are open in all.",
     NULL},
    {"registrar", "metrics_listen", CFG_STR, "127.0.0.1:9465", 0, 0,
     "HOST:PORT of the plain-HTTP listener for Prometheus (GET /metrics) and health checks "
     "(GET /healthz: the process serves; GET /readyz: the store is reachable, else 503). "
     "It carries no secrets (counts, no agent ids) but has no authentication: keep it on "
     "loopback or a trusted network. Empty: off. docs/metrics.md lists the metrics.",
     NULL},
    {NULL, NULL, CFG_STR, NULL, 0, 0, NULL, NULL},
};

static const daemon_info_t registrar_info = {
    .name = "vigil-registrar",
    .summary = "vigil-registrar: enrolls TPM identities (Keylime registrar API v2.1-2.6).",
    .description = "Agents register their EK and AK over HTTP (registrar.listen); the EK "
                   "certificate must chain to a TPM vendor CA in registrar.ek_ca_dir and the "
                   "AK must be a restricted signing key. The registrar answers with a "
                   "MakeCredential challenge that only that TPM can open; the agent proves "
                   "it with an HMAC and is enrolled. Administrators list, show and delete "
                   "enrollments over HTTPS with a client certificate (registrar.tls_listen), or "
                   "over gRPC with mutual TLS (registrar.grpc_listen).",
    .default_conf = "/etc/vigil/registrar.conf",
    .keys = registrar_keys,
};

int main(int argc, char **argv)
{
	config_t *cfg = daemon_start(&registrar_info, argc, argv);
	struct event_base *base;
	registrar_t *r;
	int rv = 1;

	if ((base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	daemon_signals(base);
	if ((r = registrar_new(base, cfg)) == NULL)
		goto out;
	/* The ports and the database are open: the rest runs as registrar.user. */
	daemon_drop_privileges(cfg);
	event_base_dispatch(base);
	log_info("vigil-registrar stopped");
	rv = 0;
out:
	registrar_free(r);
	daemon_signals_free();
	event_base_free(base);
	config_free(cfg);
	return rv;
}

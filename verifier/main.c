/* vigil-verifier: keeps proving, round after round, that every node it owns booted and
 * runs what its policies allow. */
#include <errno.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/thread.h>
#include <openssl/crypto.h>

#include "common/base/config.h"
#include "common/base/daemon.h"
#include "common/net/grpcsrv.h"
#include "common/net/http.h"
#include "common/base/log.h"
#include "common/store/audit.h"
#include "common/crypto/ear.h"
#include "common/crypto/revnotice.h"
#include "common/store/store.h"
#include "common/base/xmalloc.h"
#include "verifier/api.h"
#include "verifier/event_ear.h"
#include "verifier/events.h"
#include "verifier/lease.h"
#include "verifier/metrics.h"
#include "verifier/outbox.h"
#include "verifier/node.h"
#include "verifier/policies.h"
#include "verifier/registry.h"
#include "verifier/sealer.h"
#include "verifier/storeq.h"
#include "verifier/watch.h"
#include "verifier/vctx.h"
#include "verifier/worker.h"

int main(int argc, char **argv);

static const char *check_seconds(const char *v)
{
	char *end;
	double d = strtod(v, &end);

	/* Written so that NaN ("nan" parses) fails too: it would reach an int cast. */
	if (end == v || *end || !(d >= 0 && d <= 86400))
		return "not a number of seconds between 0 and 86400";
	return NULL;
}

static const char *check_hostport(const char *v)
{
	char *host = NULL;
	int port;

	if (*v == '\0')
		return NULL;
	if (http_parse_hostport(v, &host, &port) < 0 || port == 0)
		return "not HOST:PORT";
	free(host);
	return NULL;
}

/* verifier.webhook_url: whitespace-separated URLs, each one outbox_url_check accepts. */
static const char *check_webhook_urls(const char *v)
{
	char *copy = xstrdup(v), *save = NULL;
	const char *why = NULL;

	for (char *u = strtok_r(copy, " \t", &save); u && !why; u = strtok_r(NULL, " \t", &save))
		why = outbox_url_check(u);
	free(copy);
	return why;
}

static const config_key_t verifier_keys[] = {
    {"verifier", "grpc_listen", CFG_STR, "127.0.0.1:8881", 0, 0,
     "Address of the gRPC API (vigil.v1.Verifier) for vigilctl and fleet controllers.", NULL},
    {"verifier", "tls_cert", CFG_STR, "/etc/vigil/tls/verifier.crt", 0, 0,
     "PEM certificate of this verifier: the gRPC server's, and the client certificate it "
     "shows agents. Issue it with 'vigilctl ca issue DIR verifier --both'.",
     NULL},
    {"verifier", "tls_key", CFG_STR, "/etc/vigil/tls/verifier.key", 0, 0,
     "PEM private key of tls_cert.", NULL},
    {"verifier", "trusted_client_ca", CFG_STR, "/etc/vigil/tls/ca.crt", 0, 0,
     "PEM CA that gRPC clients' certificates must chain to.", NULL},
    {"verifier", "grpc_recv_timeout", CFG_INT, "10", 1, 3600,
     "Seconds a gRPC client has to send its whole request once it opened a call; then the "
     "call ends with DEADLINE_EXCEEDED.",
     NULL},
    {"verifier", "grpc_send_timeout", CFG_INT, "30", 1, 3600,
     "Seconds a gRPC client has to take each reply (or stream message) the verifier sends; "
     "then the call is cancelled.",
     NULL},
    {"verifier", "grpc_max_calls", CFG_INT, "64", 1, 4096,
     "gRPC calls served at once, in total. More are answered RESOURCE_EXHAUSTED at once.", NULL},
    {"verifier", "grpc_max_calls_per_peer", CFG_INT, "16", 1, 4096,
     "gRPC calls served at once for one client IP address. More are answered "
     "RESOURCE_EXHAUSTED at once, so one client cannot use up what others need.",
     NULL},
    {"verifier", "max_watchers", CFG_INT, "32", 1, 4096,
     "WatchEvents streams open at once. Each also counts as a gRPC call against "
     "grpc_max_calls and grpc_max_calls_per_peer.",
     NULL},
    {"verifier", "watch_max_stall", CFG_INT, "5", 1, 3600,
     "Seconds a WatchEvents stream may leave its send queue full while events wait. A "
     "watcher that reads slower than that is ended with RESOURCE_EXHAUSTED and the id to "
     "resume after; it never delays verdicts or other watchers.",
     NULL},
    {"verifier", "grpc_insecure", CFG_BOOL, "no", 0, 0,
     "Serve gRPC in plaintext without client certificates. Only for tests on loopback.", NULL},
    {"verifier", "state_dir", CFG_STR, "/var/lib/vigil/verifier", 0, 0,
     "Directory for the verifier's state: the default database, audit.key (seals the event "
     "log) and report.key (signs EAR attestation results: docs/ear.md; every instance of "
     "a pool should hold the same one). Both keys are made at the first start.",
     NULL},
    {"verifier", "database", CFG_STR, "", 0, 0,
     "Store URL: sqlite:PATH, or a PostgreSQL (libpq) URI such as "
     "postgresql://vigil@/vigil?host=/run/postgresql, the database a verifier pool shares. "
     "Empty means sqlite:STATE_DIR/verifier.db.",
     NULL},
    {"verifier", "verifier_id", CFG_STR, "", 0, 0,
     "Name of this verifier instance, shown with every node it owns. Empty means the host "
     "name. In a pool (PostgreSQL) it must be unique per running instance and stable "
     "across its restarts: a restarted instance takes its own nodes back at once, while "
     "another name waits for their leases to expire. Two instances on one host need "
     "distinct names (in Kubernetes, the pod name).",
     NULL},
    {"verifier", "lease_time", CFG_INT, "15", 2, 3600,
     "Seconds a node's lease lasts in a verifier pool (PostgreSQL): renewed every third of "
     "it; a dead or stuck instance's nodes are taken over within two lease periods.",
     NULL},
    {"verifier", "first_rounds_per_s", CFG_INT, "100", 1, 100000,
     "Costly first rounds (a node's whole IMA list replayed, or its UEFI log judged: a few "
     "ms of CPU each) started per second, shared by the workers. Nodes beyond it wait "
     "their turn, so that thousands of new or reloaded nodes never stall the rounds of the "
     "nodes already attested.",
     NULL},
    {"verifier", "workers", CFG_INT, "0", 0, 256,
     "Worker threads, each with its own event loop and share of the nodes. 0 means one per "
     "CPU core.",
     NULL},
    {"verifier", "quote_interval", CFG_STR, "2", 0, 0,
     "Seconds from one good round of a node to its next. Each node's rounds come at its own "
     "offset within the interval (random, so that nodes stay spread), so a slow round does "
     "not delay the ones after it (decimals allowed).",
     check_seconds},
    {"verifier", "retry_interval", CFG_STR, "2", 0, 0,
     "Seconds before the first retry when an agent does not answer; each further retry "
     "waits twice as long when exponential_backoff is on.",
     check_seconds},
    {"verifier", "exponential_backoff", CFG_BOOL, "yes", 0, 0,
     "Double the retry delay after every failed contact.", NULL},
    {"verifier", "max_retries", CFG_INT, "5", 0, 1000,
     "Failed contacts in a row before a node enters the comm-error state FAILED (it is "
     "still probed at the longest delay and recovers by itself). Never a policy failure.",
     NULL},
    {"verifier", "request_timeout", CFG_INT, "30", 1, 3600,
     "Seconds a request to an agent may take, connection and TLS included.", NULL},
    {"verifier", "connect_timeout", CFG_STR, "5", 0, 0,
     "Seconds to connect to an agent (TCP and TLS) and send the request (decimals "
     "allowed); past it the contact failed, reported as 'cannot connect: timed out'. 0 "
     "leaves only request_timeout.",
     check_seconds},
    {"verifier", "answer_timeout", CFG_STR, "10", 0, 0,
     "Seconds from the request sent to the first byte of the agent's answer (decimals "
     "allowed); past it the contact failed, reported as a slow answer, and the node is "
     "retried like an unreachable one. 0 leaves only request_timeout.",
     check_seconds},
    {"verifier", "max_response", CFG_INT, "67108864", 65536, 1073741824,
     "Largest agent answer accepted, in bytes (the first round carries the whole IMA list).", NULL},
    {"verifier", "max_round_response", CFG_INT, "16777216", 65536, 1073741824,
     "Largest agent answer accepted, in bytes, for a round that asks for the IMA entries "
     "after a known position (every round but a node's first and those after a reboot). A "
     "larger answer fails that contact (a comm error, not a policy failure) and the retry "
     "accepts up to max_response.",
     NULL},
    {"verifier", "answer_budget", CFG_INT, "512", 1, 65536,
     "MiB of agents' answers that may be arriving at once on each worker thread. An answer "
     "that would take the total over it is dropped (a comm error for that node, retried "
     "later), so many large answers at once cannot exhaust memory or starve the other "
     "nodes. At least max_response.",
     NULL},
    {"verifier", "flush_interval", CFG_INT, "1000", 10, 60000,
     "Milliseconds between batched writes of attestation progress (IMA position, counters) "
     "to the store. Each worker hands its changed nodes' progress to the store thread this "
     "often; the rounds never wait for the write. Verdict changes are handed over at once.",
     NULL},
    {"verifier", "progress_interval", CFG_INT, "30", 0, 3600,
     "Seconds between writes of a node whose only change is its round counters and times "
     "(attestation count, last quote and success times, TPM clock): one row per node this "
     "often instead of one per round (10,000 nodes every 2 s: 333 rows/s, not 5,000). "
     "Anything else (state, verdict, IMA position and running PCR 10, keys, UEFI log "
     "digest, TPM reset or restart) is written at the next flush_interval, and everything "
     "at a clean stop or hand-over. A restart or takeover after a crash resumes the counts "
     "and times up to this much behind, never the IMA position. 0: every flush_interval.",
     NULL},
    {"verifier", "registrar", CFG_STR, "127.0.0.1:8891", 0, 0,
     "HOST:PORT of the registrar's HTTPS admin API (registrar.tls_listen). When an agent "
     "shows a TLS certificate other than the one pinned for its node (it renewed it), the "
     "verifier asks the registrar for the node's record and re-pins the certificate the "
     "registrar holds for the same AK, once per round. Empty: never re-pin.",
     check_hostport},
    {"verifier", "registrar_ca", CFG_STR, "/etc/vigil/tls/ca.crt", 0, 0,
     "PEM CA that the registrar's server certificate must chain to (its name must match "
     "the host of 'registrar'). The verifier shows tls_cert as its client certificate.",
     NULL},
    {"verifier", "audit_seal_records", CFG_INT, "100", 1, 1000000,
     "Seal the event log once this many records are unsealed: sign the newest record's "
     "hash, and with it the whole chain, with the audit key (ECDSA P-256, made at first "
     "start as STATE_DIR/audit.key; 'vigilctl events key' prints its public half).",
     NULL},
    {"verifier", "audit_seal_interval", CFG_INT, "60", 1, 86400,
     "Seconds after the last seal when anything unsealed in the event log is sealed. The "
     "log is also sealed once at a clean shutdown.",
     NULL},
    {"verifier", "accept_hash_algs", CFG_STR, "sha256,sha384,sha512", 0, 0,
     "Quote hash algorithms accepted, comma-separated.", NULL},
    {"verifier", "revocation_key", CFG_STR, "", 0, 0,
     "PEM RSA private key (at least 2048 bits) that signs the Keylime revocation notices "
     "sent to agents (/v{ver}/notifications/revocation): the RevocationNotifier key, whose "
     "certificate agents hold as agent.revocation_cert. Empty: notices are sent UNSIGNED "
     "(signature \"\"), as Keylime does without a key, and agents that check signatures "
     "refuse them.",
     NULL},
    {"verifier", "notice_rate", CFG_INT, "200", 1, 1000000,
     "Revocation notice requests started per second, shared by the workers. Every failure "
     "notifies every agent, so a burst of failures in a large fleet is failures x agents "
     "TLS requests: this bound keeps them from crowding out the rounds. Each worker sends "
     "one notice at a time and keeps 8 waiting; more are dropped with a log line (the event "
     "and its webhooks are stored either way).",
     NULL},
    {"verifier", "notice_timeout", CFG_INT, "10", 1, 3600,
     "Seconds each revocation notice to one agent may take, connection and TLS included; "
     "each agent has its own, and none delays verdicts or other agents.",
     NULL},
    {"verifier", "accept_sign_algs", CFG_STR, "rsassa,ecdsa", 0, 0,
     "Quote signature schemes accepted, comma-separated.", NULL},
    {"verifier", "webhook_url", CFG_STR, "", 0, 0,
     "Webhook receivers, separated by spaces: every trust event (docs/revocation.md lists them) "
     "is POSTed to each as JSON, signed the "
     "Standard Webhooks way (headers webhook-id, webhook-timestamp, webhook-signature). "
     "https:// URLs are checked against the system CAs or webhook_ca; http:// is allowed "
     "only to a loopback address (127.0.0.0/8, [::1], localhost). Deliveries are kept in "
     "the store and retried until a 2xx, across restarts, in order per node. Empty: no "
     "webhooks. See docs/revocation.md.",
     check_webhook_urls},
    {"verifier", "webhook_secret_file", CFG_STR, "/etc/vigil/webhook.secret", 0, 0,
     "File holding the webhook signing secret in the Standard Webhooks form whsec_<base64 "
     "of 24 to 64 random bytes>, e.g. made with: echo whsec_$(head -c 32 /dev/urandom | "
     "base64). Read at start; required when webhook_url is set.",
     NULL},
    {"verifier", "webhook_ca", CFG_STR, "", 0, 0,
     "PEM CA(s) that https webhook receivers' certificates must chain to. Empty: the "
     "system's CAs.",
     NULL},
    {"verifier", "webhook_cert", CFG_STR, "", 0, 0,
     "PEM client certificate shown to https webhook receivers that ask for one. Empty: "
     "none.",
     NULL},
    {"verifier", "webhook_key", CFG_STR, "", 0, 0, "PEM private key of webhook_cert.", NULL},
    {"verifier", "webhook_timeout", CFG_INT, "10", 1, 300,
     "Seconds one webhook delivery may take, connection and TLS included; past it the "
     "attempt failed and is retried. A hung receiver holds at most 4 connections per URL, "
     "each for this long, and never delays verdicts or other receivers.",
     NULL},
    {"verifier", "webhook_max_age", CFG_INT, "86400", 1, 2592000,
     "Seconds a webhook delivery is retried (1 s, doubling, with jitter) before it is "
     "dead-lettered: logged, listed by 'vigilctl outbox list --dead', and sent again only "
     "after 'vigilctl outbox retry'.",
     NULL},
    {"verifier", "webhook_keep_delivered", CFG_INT, "604800", 0, 315360000,
     "Seconds a delivered webhook row is kept (for 'vigilctl outbox list' and debugging) "
     "before it is deleted; 0: never delete. Pending and dead-lettered deliveries and the "
     "events themselves (the audit log) are never deleted by this.",
     NULL},
    {"verifier", "metrics_listen", CFG_STR, "127.0.0.1:9464", 0, 0,
     "HOST:PORT of the plain-HTTP listener for Prometheus (GET /metrics) and health checks "
     "(GET /healthz: the process serves; GET /readyz: the store is reachable and every "
     "worker runs, else 503). It carries no secrets (counts, latencies, no node names) but "
     "has no authentication: keep it on loopback or a trusted network. Empty: off. "
     "docs/metrics.md lists the metrics.",
     check_hostport},
    {"verifier", "webhook_backoff_max", CFG_INT, "300", 1, 3600,
     "Longest wait in seconds between two attempts of a webhook delivery.", NULL},
    {NULL, NULL, CFG_STR, NULL, 0, 0, NULL, NULL},
};

static const daemon_info_t verifier_info = {
    .name = "vigil-verifier",
    .summary = "vigil-verifier: continuous remote attestation of enrolled nodes.",
    .description =
        "The verifier asks every node it owns for a fresh TPM quote with its IMA and UEFI\n"
        "event logs, round after round, and checks in order: the AK signature, the nonce,\n"
        "the PCR digest, the PCR 16 payload-key binding, the TPM clock, the static PCR\n"
        "policy, the measured-boot log and policy, and every new IMA entry against the\n"
        "runtime policy. A node that fails goes to INVALID_QUOTE with the precise reason;\n"
        "an agent that does not answer is retried with backoff and is never mistaken for\n"
        "a policy failure.\n\n"
        "Nodes and policies are managed over gRPC (vigil.v1.Verifier), normally with\n"
        "vigilctl. See docs/verifier.md.",
    .default_conf = "/etc/vigil/verifier.conf",
    .keys = verifier_keys,
};

/* Descriptors the verifier needs besides one per node: the store, the gRPC server and
 * its clients, the workers' wake-up pipes, a registrar lookup now and then. */
#define VERIFIER_FD_RESERVE 128

/* Raise the open-file soft limit to the hard limit: each node keeps one connection to
 * its agent, and the usual soft limit of 1024 would stop the verifier near 900 nodes.
 * Returns how many nodes the limit allows. */
static long raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_warn("getrlimit(RLIMIT_NOFILE)");
		return -1;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t was = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
			log_warn("cannot raise the open-file limit from %llu",
			         (unsigned long long)was);
			rl.rlim_cur = was;
		}
	}
	if (rl.rlim_cur == RLIM_INFINITY)
		return LONG_MAX;
	return (long)rl.rlim_cur > VERIFIER_FD_RESERVE ? (long)rl.rlim_cur - VERIFIER_FD_RESERVE
	                                               : 0;
}

static int seconds_ms(const char *v)
{
	return (int)(strtod(v, NULL) * 1000.0 + 0.5);
}

/* Load the audit key from STATE_DIR/audit.key (made on first start) and start the sealer
 * on the store; the public half goes to ctx for GetAuditKey. */
static sealer_t *audit_start(vctx_t *ctx, config_t *cfg, const char *state_dir)
{
	char *path = xasprintf("%s/audit.key", state_dir);
	EVP_PKEY *key;
	sealer_t *s;
	err_t e = {""};
	int created;

	if ((key = audit_key_load_or_create(path, &created, &e)) == NULL)
		fatalx("%s", e.msg);
	ctx->audit_pub_pem = audit_key_public_pem(key);
	if (audit_key_id(key, ctx->audit_key_id) < 0)
		fatalx("audit key %s: cannot encode its public key", path);
	log_info("audit key %s %s (key id %.16s...)", path, created ? "created" : "loaded",
	         ctx->audit_key_id);
	s = sealer_new(ctx->database, key, (int)config_int(cfg, "verifier", "audit_seal_records"),
	               (int)config_int(cfg, "verifier", "audit_seal_interval") * 1000, &e);
	if (s == NULL)
		fatalx("audit sealer: %s", e.msg);
	free(path);
	return s;
}

/* Load the attestation-result key from STATE_DIR/report.key (made on first start): it
 * signs EAR tokens (docs/ear.md); its public half goes to ctx for GetReportKey. */
static void report_key_start(vctx_t *ctx, const char *state_dir)
{
	char *path = xasprintf("%s/report.key", state_dir);
	buf_t pem = BUF_INIT;
	err_t e = {""};
	int created;

	if ((ctx->report_key = ear_key_load_or_create(path, &created, &e)) == NULL)
		fatalx("%s", e.msg);
	if (ear_key_public_pem(ctx->report_key, &pem) < 0 ||
	    audit_key_id(ctx->report_key, ctx->report_key_id) < 0)
		fatalx("attestation-result key %s: cannot encode its public key", path);
	ctx->report_pub_pem = (char *)buf_steal(&pem, NULL);
	log_info("attestation-result key %s %s (key id %.16s...)", path,
	         created ? "created" : "loaded", ctx->report_key_id);
	free(path);
}

/* The main thread's loop: wait for SIGINT/SIGTERM, sealing the event log on its timer
 * meanwhile. Returns the signal. */
/* An event was appended (any thread): WatchEvents serves it now. */
static void main_on_event(void *hub)
{
	watch_hub_notify(hub);
}

/* glibc's malloc keeps the pages of memory freed inside its heaps resident: what the AddNode
 * of thousands of nodes, their first rounds, a burst of large answers or a store stall left
 * behind (measured: 3.4 MiB of 36 MiB at 1,000 nodes). Every MAIN_TRIM_S seconds the main
 * thread, otherwise idle, hands the whole free pages back (malloc_trim: a walk of the free
 * lists, each arena locked in turn; measured 7 to 25 ms of CPU a call at 10,000 nodes, a
 * worker's malloc waiting that long at most once in 10 s; pages used again fault back in).
 * The time each call took is logged at debug level. */
#define MAIN_TRIM_S 10

static void main_trim(void)
{
#ifdef __GLIBC__
	struct timespec t0, t1;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	malloc_trim(0);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
	log_debug("malloc_trim: %.2f ms of CPU",
	          (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
#endif
}

static int main_loop(const sigset_t *set, sealer_t *sealer)
{
	int ms = sealer_tick_ms(sealer);
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L}, now;
	time_t next_trim = 0;
	int sig;

	for (;;) {
		sig = sigtimedwait(set, NULL, &ts);
		if (sig > 0)
			return sig;
		if (errno == EAGAIN)
			sealer_tick(sealer);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec >= next_trim) {
			if (next_trim != 0)
				main_trim();
			next_trim = now.tv_sec + MAIN_TRIM_S;
		}
	}
}

int main(int argc, char **argv)
{
	config_t *cfg = daemon_start(&verifier_info, argc, argv);
	vctx_t ctx;
	grpcsrv_tls_t tls;
	grpcsrv_limits_t lim;
	grpcsrv_t *srv;
	sealer_t *sealer;
	store_node_t *nodes = NULL;
	size_t nn = 0;
	err_t e = {""};
	sigset_t set;
	char host[256];
	int sig, nw;

	memset(&ctx, 0, sizeof(ctx));
	evthread_use_pthreads();
	signal(SIGPIPE, SIG_IGN);
	/* Every thread inherits these blocked; main waits for them with sigwait. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	/* Nothing here needs root: switch to verifier.user first, so that the state it
	 * makes is that user's (the gRPC port must then be one it may bind, >= 1024). */
	daemon_drop_privileges(cfg);
	const char *state_dir = config_str(cfg, "verifier", "state_dir");
	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST)
		fatal("cannot create state_dir %s", state_dir);
	const char *db = config_str(cfg, "verifier", "database");
	ctx.database = *db ? xstrdup(db) : xasprintf("sqlite:%s/verifier.db", state_dir);
	const char *vid = config_str(cfg, "verifier", "verifier_id");
	if (*vid == '\0' && gethostname(host, sizeof(host)) == 0)
		vid = host;
	ctx.verifier_id = xstrdup(*vid ? vid : "verifier");
	ctx.quote_interval_ms = seconds_ms(config_str(cfg, "verifier", "quote_interval"));
	ctx.first_rounds_per_s = (int)config_int(cfg, "verifier", "first_rounds_per_s");
	ctx.retry_interval_ms = seconds_ms(config_str(cfg, "verifier", "retry_interval"));
	ctx.exponential_backoff = config_bool(cfg, "verifier", "exponential_backoff");
	ctx.max_retries = (int)config_int(cfg, "verifier", "max_retries");
	ctx.request_timeout_s = (int)config_int(cfg, "verifier", "request_timeout");
	ctx.connect_timeout_ms = seconds_ms(config_str(cfg, "verifier", "connect_timeout"));
	ctx.answer_timeout_ms = seconds_ms(config_str(cfg, "verifier", "answer_timeout"));
	ctx.max_response = (size_t)config_int(cfg, "verifier", "max_response");
	ctx.max_round_response = (size_t)config_int(cfg, "verifier", "max_round_response");
	if (ctx.max_round_response > ctx.max_response)
		ctx.max_round_response = ctx.max_response;
	ctx.answer_budget = (size_t)config_int(cfg, "verifier", "answer_budget") << 20;
	if (ctx.answer_budget < ctx.max_response)
		fatalx("verifier.answer_budget (%zu MiB) is below max_response (%zu bytes): a "
		       "node's first round could never pass",
		       ctx.answer_budget >> 20, ctx.max_response);
	ctx.flush_interval_ms = (int)config_int(cfg, "verifier", "flush_interval");
	ctx.progress_interval_ms = (int)config_int(cfg, "verifier", "progress_interval") * 1000;
	const char *reg = config_str(cfg, "verifier", "registrar");
	if (*reg && http_parse_hostport(reg, &ctx.registrar_host, &ctx.registrar_port) < 0)
		fatalx("verifier.registrar %s: expected HOST:PORT", reg);
	ctx.registrar_ca = xstrdup(config_str(cfg, "verifier", "registrar_ca"));
	ctx.tls_cert = xstrdup(config_str(cfg, "verifier", "tls_cert"));
	ctx.tls_key = xstrdup(config_str(cfg, "verifier", "tls_key"));
	snprintf(ctx.accept_hash, sizeof(ctx.accept_hash), "%s",
	         config_str(cfg, "verifier", "accept_hash_algs"));
	snprintf(ctx.accept_sign, sizeof(ctx.accept_sign), "%s",
	         config_str(cfg, "verifier", "accept_sign_algs"));
	/* Read once: every node's TLS client uses them, and a file opened per node would
	 * cost a descriptor and a read each, thousands of times at start. */
	{
		buf_t b = BUF_INIT;
		if (buf_read_file(&b, ctx.tls_cert, 1 << 20) < 0)
			fatal("cannot read verifier.tls_cert %s (the client certificate shown to "
			      "agents)",
			      ctx.tls_cert);
		ctx.tls_cert_pem = (char *)buf_steal(&b, NULL);
		if (buf_read_file(&b, ctx.tls_key, 1 << 20) < 0)
			fatal("cannot read verifier.tls_key %s", ctx.tls_key);
		ctx.tls_key_pem = (char *)buf_steal(&b, NULL);
		if (http_client_identity_check(ctx.tls_cert_pem, ctx.tls_key_pem, &e) < 0)
			fatalx("verifier.tls_cert %s and tls_key %s: %s", ctx.tls_cert, ctx.tls_key,
			       e.msg);
	}

	ctx.notice_timeout_s = (int)config_int(cfg, "verifier", "notice_timeout");
	ctx.notice_rate = (int)config_int(cfg, "verifier", "notice_rate");
	{
		const char *rk = config_str(cfg, "verifier", "revocation_key");
		buf_t b = BUF_INIT;
		if (*rk == '\0') {
			log_info(
			    "verifier.revocation_key is not set: revocation notices to agents go "
			    "unsigned");
		} else {
			if (buf_read_file(&b, rk, 1 << 20) < 0)
				fatal("cannot read verifier.revocation_key %s", rk);
			if (revnotice_key_check((const char *)b.data, &e) < 0) {
				buf_free_secret(&b);
				fatalx("verifier.revocation_key %s: %s", rk, e.msg);
			}
			ctx.revocation_key_pem = (char *)buf_steal(&b, NULL);
		}
	}
	events_set_revocation_key(ctx.revocation_key_pem);

	if ((ctx.api_store = store_open(ctx.database, &e)) == NULL)
		fatalx("cannot open the store: %s", e.msg);
	sealer = audit_start(&ctx, cfg, state_dir);
	report_key_start(&ctx, state_dir);
	ctx.watch = watch_hub_new(ctx.database, (int)config_int(cfg, "verifier", "max_watchers"),
	                          (int)config_int(cfg, "verifier", "watch_max_stall") * 1000, &e);
	if (ctx.watch == NULL)
		fatalx("WatchEvents: %s", e.msg);
	events_set_listener(main_on_event, ctx.watch);

	/* Webhooks: the delivery thread starts before the workers, so that every event they
	 * record can wake it. */
	char *hook_text = xstrdup(config_str(cfg, "verifier", "webhook_url")), *save = NULL;
	char **hook_urls = xcalloc(strlen(hook_text) / 2 + 2, sizeof(*hook_urls));
	size_t nhooks = 0;
	outbox_t *outbox = NULL;
	for (char *u = strtok_r(hook_text, " \t", &save); u; u = strtok_r(NULL, " \t", &save))
		hook_urls[nhooks++] = u;
	if (nhooks > 0) {
		outbox_conf_t oc = {
		    .database = ctx.database,
		    .urls = (const char *const *)hook_urls,
		    .nurls = nhooks,
		    .secret_file = config_str(cfg, "verifier", "webhook_secret_file"),
		    .ca_file = config_str(cfg, "verifier", "webhook_ca"),
		    .cert_file = config_str(cfg, "verifier", "webhook_cert"),
		    .key_file = config_str(cfg, "verifier", "webhook_key"),
		    .timeout_s = (int)config_int(cfg, "verifier", "webhook_timeout"),
		    .max_age_ms = config_int(cfg, "verifier", "webhook_max_age") * 1000,
		    .backoff_max_ms =
		        (int)config_int(cfg, "verifier", "webhook_backoff_max") * 1000,
		    .keep_ms = config_int(cfg, "verifier", "webhook_keep_delivered") * 1000,
		    .ear = event_ear_jwt,
		    .ear_ctx = &ctx,
		};
		if ((*oc.cert_file != '\0') != (*oc.key_file != '\0'))
			fatalx("verifier.webhook_cert and webhook_key go together: set both or "
			       "neither");
		if ((outbox = outbox_new(&oc, &e)) == NULL)
			fatalx("webhooks: %s", e.msg);
		if (outbox_start(outbox) < 0)
			fatalx("webhooks: cannot start the delivery thread");
		events_set_webhooks((const char *const *)hook_urls, nhooks, outbox_kick, outbox);
		log_info("webhooks: %zu receiver(s), deliveries retried for %lld s", nhooks,
		         (long long)config_int(cfg, "verifier", "webhook_max_age"));
	}
	ctx.registry = registry_new();
	ctx.policies = policies_new();
	nw = (int)config_int(cfg, "verifier", "workers");
	if (nw == 0)
		nw = (int)sysconf(_SC_NPROCESSORS_ONLN);
	ctx.nworkers = nw < 1 ? 1 : nw;
	ctx.workers = xcalloc((size_t)ctx.nworkers, sizeof(*ctx.workers));
	ctx.metrics = vmetrics_new(ctx.nworkers);
	/* The store thread writes what the workers' rounds leave behind; it starts before
	 * them and stops after them, so that it takes their last writes. */
	if ((ctx.storeq = storeq_new(ctx.database, vmetrics_store(ctx.metrics), &e)) == NULL)
		fatalx("store thread: cannot open the store: %s", e.msg);
	if (storeq_start(ctx.storeq) < 0)
		fatalx("cannot start the store thread");
	for (int i = 0; i < ctx.nworkers; i++) {
		ctx.workers[i] = worker_new(i, &ctx);
		if (worker_start(ctx.workers[i]) < 0)
			fatalx("cannot start worker %d", i);
	}
	const char *mlisten = config_str(cfg, "verifier", "metrics_listen");
	if (*mlisten) {
		if (vmetrics_serve(ctx.metrics, mlisten, &ctx, &e) < 0)
			fatalx("verifier.metrics_listen %s: %s", mlisten, e.msg);
		log_info("metrics on http://%s/metrics (also /healthz, /readyz)", mlisten);
	}

	/* On a shared database the lease manager claims this instance's share; alone
	 * (SQLite), it resumes every stored node where it stood. */
	if (store_url_is_pool(ctx.database)) {
		ctx.lease = lease_new(&ctx, (int)config_int(cfg, "verifier", "lease_time"),
		                      config_str(cfg, "verifier", "grpc_listen"), &e);
		if (ctx.lease == NULL || lease_start(ctx.lease) < 0)
			fatalx("pool: cannot start the lease manager: %s", e.msg);
		log_info("pool: %s holds nodes by lease (lease_time %lld s)", ctx.verifier_id,
		         (long long)config_int(cfg, "verifier", "lease_time"));
	} else if (store_node_list(ctx.api_store, &nodes, &nn, &e) != STORE_OK)
		fatalx("cannot list nodes: %s", e.msg);
	long max_nodes = raise_nofile();
	if (max_nodes >= 0 && max_nodes != LONG_MAX)
		log_info(
		    "open-file limit %ld: room for about %ld nodes (one agent connection each)",
		    max_nodes + VERIFIER_FD_RESERVE, max_nodes);
	if (max_nodes >= 0 && (long)nn > max_nodes)
		log_warnx(
		    "%zu nodes stored but the open-file limit leaves room for about %ld: raise "
		    "it (LimitNOFILE= in the systemd unit, or ulimit -n)",
		    nn, max_nodes);
	for (size_t i = 0; i < nn; i++) {
		store_node_t *copy = xcalloc(1, sizeof(*copy));
		*copy = nodes[i];
		memset(&nodes[i], 0, sizeof(nodes[i]));
		worker_post_node(vctx_worker_for(&ctx, copy->uuid), node_cmd_load, copy);
	}
	store_nodes_free(nodes, nn);

	const char *listen = config_str(cfg, "verifier", "grpc_listen");
	char *shown; /* the store URL without a password, for the log */
	tls.cert_file = ctx.tls_cert;
	tls.key_file = ctx.tls_key;
	tls.client_ca_file = config_str(cfg, "verifier", "trusted_client_ca");
	if (config_bool(cfg, "verifier", "grpc_insecure"))
		log_warnx("gRPC API on %s is PLAINTEXT without client certificates "
		          "(grpc_insecure = yes): for tests only",
		          listen);
	grpcsrv_limits_default(&lim);
	lim.max_msg = 64u << 20; /* a runtime policy may be that large */
	lim.recv_timeout_ms = (int)config_int(cfg, "verifier", "grpc_recv_timeout") * 1000;
	lim.send_timeout_ms = (int)config_int(cfg, "verifier", "grpc_send_timeout") * 1000;
	lim.max_calls = (int)config_int(cfg, "verifier", "grpc_max_calls");
	lim.max_calls_per_peer = (int)config_int(cfg, "verifier", "grpc_max_calls_per_peer");
	srv = grpcsrv_new(listen, config_bool(cfg, "verifier", "grpc_insecure") ? NULL : &tls,
	                  api_methods, &ctx, &lim, &e);
	if (srv == NULL || grpcsrv_start(srv) < 0)
		fatalx("gRPC API: %s", e.msg);
	shown = store_url_redact(ctx.database);
	log_info("vigil-verifier %s: %d workers, %zu nodes, gRPC on %s, store %s", ctx.verifier_id,
	         ctx.nworkers, nn, listen, shown);
	free(shown);

	sig = main_loop(&set, sealer);
	log_info("received %s, shutting down", strsignal(sig));
	grpcsrv_free(srv);     /* the hub still runs: it gives back the streams being cancelled */
	lease_stop(ctx.lease); /* no claims while the workers write their last progress */
	for (int i = 0; i < ctx.nworkers; i++)
		worker_free(ctx.workers[i]);
	storeq_free(ctx.storeq); /* all the workers' writes are done: close its store */
	lease_free(ctx.lease);   /* after those writes: release the leases */
	free(ctx.workers);
	vmetrics_free(ctx.metrics); /* after the workers: their counters are its */
	watch_hub_free(ctx.watch);
	/* No worker appends any more: seal what they wrote. */
	sealer_flush(sealer);
	sealer_free(sealer);
	free(ctx.audit_pub_pem);
	free(ctx.report_pub_pem);
	EVP_PKEY_free(ctx.report_key);
	/* After the workers: nothing records an event, and so kicks it, any more. */
	events_set_webhooks(NULL, 0, NULL, NULL);
	outbox_free(outbox);
	free(hook_urls);
	free(hook_text);
	policies_free(ctx.policies);
	registry_free(ctx.registry);
	store_close(ctx.api_store);
	free(ctx.database);
	free(ctx.verifier_id);
	free(ctx.tls_cert);
	free(ctx.tls_key);
	free(ctx.tls_cert_pem);
	if (ctx.tls_key_pem)
		OPENSSL_cleanse(ctx.tls_key_pem, strlen(ctx.tls_key_pem));
	free(ctx.tls_key_pem);
	if (ctx.revocation_key_pem)
		OPENSSL_cleanse(ctx.revocation_key_pem, strlen(ctx.revocation_key_pem));
	free(ctx.revocation_key_pem);
	free(ctx.registrar_host);
	free(ctx.registrar_ca);
	config_free(cfg);
	return 0;
}

/* vigil-agent: one per node; owns the TPM, enrolls at the registrar, answers quotes.
 *
 * Start-up: read the EK (and its certificate chain), create or reload the AK, settle the
 * UUID and the mTLS certificate, register and activate at the registrar, then serve the
 * Keylime agent API over HTTPS with client-certificate checking until SIGTERM. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/base/api_version.h"
#include "agent/identity.h"
#include "agent/payload.h"
#include "agent/register.h"
#include "agent/secure.h"
#include "agent/server.h"
#include "agent/tpm.h"
#include "common/base/config.h"
#include "common/base/daemon.h"
#include "common/crypto/ekcert.h"
#include "common/net/http.h"
#include "common/crypto/pki.h"
#include "common/crypto/revnotice.h"
#include "common/crypto/tpm2.h"
#include "common/base/log.h"
#include "common/base/xmalloc.h"

int main(int argc, char **argv);

static const char *check_ek_alg(const char *v)
{
	tpm_ek_alg_t a;
	return tpm_ek_alg_parse(v, &a) == 0 && strcmp(v, "rsa") != 0 && strcmp(v, "ecc") != 0
	           ? NULL
	           : "must be rsa2048, ecc256 or ecc384";
}

static const char *check_ak_alg(const char *v)
{
	return strcmp(v, "rsa") == 0 || strcmp(v, "ecc") == 0 ? NULL : "must be rsa or ecc";
}

/* A persistent handle 0x81000000..0x81ffffff, or empty. */
static int parse_handle(const char *v, uint32_t *h)
{
	char *end;
	unsigned long x;

	*h = 0;
	if (*v == '\0')
		return 0;
	errno = 0;
	x = strtoul(v, &end, 16);
	if (strncmp(v, "0x", 2) != 0 || errno || *end || x < 0x81000000ul || x > 0x81fffffful)
		return -1;
	*h = (uint32_t)x;
	return 0;
}

static const char *check_ek_handle(const char *v)
{
	uint32_t h;
	return parse_handle(v, &h) == 0 ? NULL
	                                : "must be empty or a persistent handle like 0x81010001";
}

static const char *check_hostport(const char *v)
{
	char *host = NULL;
	int port;

	if (*v == '\0')
		return NULL;
	if (http_parse_hostport(v, &host, &port) < 0)
		return "must be host:port";
	free(host);
	return NULL;
}

static const char *check_listen(const char *v)
{
	return *v ? check_hostport(v) : "must be host:port";
}

static const config_key_t agent_keys[] = {
    {"agent", "uuid", CFG_STR, "d432fbb3-d2f1-4a97-9ef7-75bd81c00000", 0, 0,
     "The node's identity at the registrar and verifier: a literal UUID, \"generate\" (a new "
     "random UUID at every start) or \"hash_ek\" (the SHA-256 of the EK public key PEM, as "
     "Keylime does; stable for the life of the TPM). Give every node its own: two nodes with "
     "one UUID lock each other out at the registrar.",
     identity_uuid_check},
    {"agent", "tcti", CFG_STR, "device:/dev/tpmrm0", 0, 0,
     "How to reach the TPM, as a tss2 TCTI string: \"device:/dev/tpmrm0\" (the kernel's "
     "resource manager; the agent's user must be able to open it, usually group tss), "
     "\"swtpm:host=127.0.0.1,port=2321\" for a software TPM, or \"tabrmd:\".",
     NULL},
    {"agent", "ek_alg", CFG_STR, "rsa2048", 0, 0,
     "Endorsement key template (TCG EK Credential Profile): rsa2048 (certificate in NV "
     "0x01c00002), ecc256 (NIST P-256, NV 0x01c0000a; what most recent TPMs carry) or ecc384 "
     "(NIST P-384 high-range template, NV 0x01c00016, persistent at 0x81010016; what "
     "swtpm_setup provisions). Pick the one your TPM has a certificate for: the registrar "
     "refuses EKs whose certificate it cannot check.",
     check_ek_alg},
    {"agent", "ek_handle", CFG_STR, "", 0, 0,
     "A persistent EK handle to use as it is (e.g. 0x81010001), for TPMs provisioned with a "
     "non-standard EK. Empty: use the persistent EK at the template's handle when it matches "
     "the template, else create the EK from the template.",
     check_ek_handle},
    {"agent", "ak_alg", CFG_STR, "rsa", 0, 0,
     "Attestation key type: rsa (RSA-2048, RSASSA-SHA256) or ecc (NIST P-256, ECDSA-SHA256). "
     "Changing it makes a new AK, which the registrar refuses for an already registered UUID "
     "until an admin deletes the old record.",
     check_ak_alg},
    {"agent", "state_dir", CFG_STR, "/var/lib/vigil/agent", 0, 0,
     "Directory for the agent's state: the AK (ak.pub, ak.priv: keep them, the registrar "
     "binds the UUID to this AK), the payload key (payload-private.pem, RSA-2048, bound into "
     "PCR 16 of every quote) and the TLS key and self-signed certificate "
     "(server-private.pem, server-cert.pem). Created with mode 0700 when missing.",
     NULL},
    {"agent", "registrar", CFG_STR, "127.0.0.1:8890", 0, 0,
     "The registrar's agent port (plain HTTP, as in Keylime), host:port. Empty: do not "
     "register (the node then cannot be added to a verifier).",
     check_hostport},
    {"agent", "registrar_retries", CFG_INT, "10", 0, 1000000,
     "How many more times to try while the registrar is unreachable (no answer or a 5xx) "
     "before giving up and exiting; 0 tries once. A refusal (4xx) is never retried.",
     NULL},
    {"agent", "registrar_retry_interval", CFG_INT, "1", 1, 3600,
     "Seconds to wait before the first retry; each later wait doubles.", NULL},
    {"agent", "registrar_retry_max_interval", CFG_INT, "60", 1, 86400,
     "The longest wait between two registration attempts, in seconds.", NULL},
    {"agent", "contact_ip", CFG_STR, "127.0.0.1", 0, 0,
     "The address verifiers and tenants use to reach this agent; sent to the registrar and "
     "put in the TLS certificate's subjectAltName.",
     NULL},
    {"agent", "contact_port", CFG_INT, "9002", 1, 65535,
     "The port verifiers and tenants use to reach this agent (sent to the registrar).", NULL},
    {"agent", "listen", CFG_STR, "127.0.0.1:9002", 0, 0,
     "Where the HTTPS API listens, host:port (\"0.0.0.0:9002\" for every IPv4 address).",
     check_listen},
    {"agent", "tls_cert", CFG_STR, "", 0, 0,
     "PEM certificate for the HTTPS API. Empty: a self-signed certificate in state_dir (CN = "
     "UUID, SAN = contact_ip), made on first start, as the Keylime agent does; verifiers "
     "trust it because the registrar hands it to them.",
     NULL},
    {"agent", "tls_key", CFG_STR, "", 0, 0, "PEM private key for tls_cert (set both or neither).",
     NULL},
    {"agent", "trusted_client_ca", CFG_STR, "/etc/vigil/tls/ca.crt", 0, 0,
     "PEM file with the CA certificate(s) that verifier and tenant client certificates must "
     "chain to; connections without such a certificate are refused.",
     NULL},
    {"agent", "request_timeout", CFG_INT, "30", 1, 3600,
     "Seconds a request to the registrar may take, and how long a client connection may stay "
     "silent in the middle of a request or a reply.",
     NULL},
    {"agent", "idle_timeout", CFG_INT, "10", 1, 3600,
     "Seconds a client connection may go without a complete request, from when it opens "
     "(the TLS handshake included) or from the previous answer; then it is closed. Verifiers "
     "open a new connection, or reuse an open one, for each request.",
     NULL},
    {"agent", "max_conns_per_peer", CFG_INT, "16", 1, 512,
     "Connections one address (IPv6: one /64) may hold open without a verified client "
     "certificate. Over it, the oldest such connection that is not serving a request is "
     "closed for the newcomer, so idle sockets from an address a verifier shares cannot "
     "lock the verifier out; connections that presented a verified client certificate "
     "do not count. At most 512 connections are open in all.",
     NULL},
    {"agent", "api_versions", CFG_STR, "default", 0, 0,
     "Keylime agent API versions to serve and to register with: \"default\" (2.1 to 2.6), "
     "\"latest\" (2.6 only) or a list such as \"2.4, 2.5\".",
     api_versions_check},
    {"agent", "ima_log", CFG_STR, "/sys/kernel/security/ima/ascii_runtime_measurements", 0, 0,
     "The IMA measurement list (ASCII) sent with integrity quotes, from the entry the "
     "verifier asks for. Empty, or a file the agent cannot read: no list is sent (the "
     "verifier then cannot check PCR 10).",
     NULL},
    {"agent", "ima_log_max_mb", CFG_INT, "256", 1, 4096,
     "Largest IMA measurement list the agent reads, in MiB; a longer one is not sent (and "
     "logged). A list grows by about 150 bytes per measured file.",
     NULL},
    {"agent", "event_log", CFG_STR, "/sys/kernel/security/tpm0/binary_bios_measurements", 0, 0,
     "The UEFI (TCG2) event log sent, base64, with integrity quotes whose mask includes PCR "
     "0. Empty, or unreadable: not sent.",
     NULL},
    {"agent", "event_log_max_mb", CFG_INT, "16", 1, 1024,
     "Largest UEFI event log the agent reads, in MiB (real ones are well under 1 MiB).", NULL},
    {"agent", "revocation_cert", CFG_STR, "", 0, 0,
     "PEM certificate of the RevocationNotifier (an RSA key of at least 2048 bits): the "
     "revocation notices verifiers POST to /v{ver}/notifications/revocation must be signed "
     "with its key. Read once at start. Empty: every notice is refused and logged (\"no "
     "revocation certificate configured\").",
     NULL},
    {"agent", "revocation_actions_dir", CFG_STR, "", 0, 0,
     "Directory of the actions run for each valid revocation notice: every executable "
     "regular file in it, in name order, one after the other, as '<action> <file.json>' "
     "where the file holds the notice's message. Links are followed only to files inside "
     "the directory; other entries, and files anyone may write, are skipped and logged. "
     "Empty: nothing is run (the notice is still checked and logged).",
     NULL},
    {"agent", "revocation_action_timeout", CFG_INT, "30", 1, 86400,
     "Seconds each revocation action may run; then it is killed with its process group and "
     "the next one runs. The agent answers requests meanwhile.",
     NULL},
    {"agent", "secure_dir", CFG_STR, "", 0, 0,
     "Where the secure payload goes (docs/payload.md): once a tenant's U share and a "
     "verifier's V share give the bootstrap key, the payload is decrypted into "
     "<secure_dir>/unzipped/ (decrypted_payload, derived_tci_key, and the ZIP archive's "
     "files), and unzipped/autorun.sh runs. Started as root, the agent mounts a tmpfs "
     "here (agent.secure_size), so none of it reaches a disk; otherwise it is a plain "
     "directory of mode 0700 (logged). Empty: <state_dir>/secure.",
     NULL},
    {"agent", "secure_size", CFG_STR, "1m", 0, 0,
     "Size of the tmpfs mounted on agent.secure_dir when the agent starts as root (as "
     "Keylime's secure_size): 1m, 512k, 2g... \"0\": never mount one (a plain directory).",
     secure_size_check},
    {"agent", "payload_script_timeout", CFG_INT, "300", 1, 86400,
     "Seconds the payload's autorun.sh may run; then it is killed with its process group. "
     "The agent answers requests meanwhile.",
     NULL},
    {NULL, NULL, CFG_STR, NULL, 0, 0, NULL, NULL},
};

static const daemon_info_t agent_info = {
    .name = "vigil-agent",
    .summary = "vigil-agent: the per-node attestation agent (Keylime agent API v2.1-2.6).",
    .description =
        "At start the agent reads the TPM's endorsement key and certificate, creates or reloads "
        "its attestation key (kept in agent.state_dir), registers at agent.registrar and proves "
        "it holds the TPM (ActivateCredential), then serves the agent API over HTTPS with "
        "client certificates on agent.listen. See docs/agent.md.",
    .default_conf = "/etc/vigil/agent.conf",
    .keys = agent_keys,
};

static volatile sig_atomic_t stop_flag; /* set by SIGINT/SIGTERM before the event loop */
static volatile int stop_int;           /* mirror handed to register_agent */

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
	stop_int = 1;
}

/* Catch SIGINT/SIGTERM during start-up (registration can wait for minutes) so the TPM
 * objects are flushed on the way out; libevent takes the signals over later. */
static void startup_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Files the HTTPS server needs, checked before the TPM work and registration so that a
 * typo does not surface only after the node has enrolled. */
static int check_readable(const char *key, const char *path, const char *hint)
{
	if (access(path, R_OK) == 0)
		return 0;
	log_warn("agent.%s %s is not readable (%s)", key, path, hint);
	return -1;
}

/* Warn when the EK certificate in NV is not for the EK in use: the registrar would refuse
 * it, and the operator should pick another ek_alg or ek_handle. */
static void check_ekcert_matches(const buf_t *ek_pub, const buf_t *pem)
{
	STACK_OF(X509) *chain = NULL;
	tpm2_pub_t *k = NULL;
	X509 *leaf = NULL;
	EVP_PKEY *pk;
	err_t e = {""};

	if (pem->len == 0)
		return;
	if ((k = tpm2_pub_decode(ek_pub->data, ek_pub->len, &e)) == NULL ||
	    ekcert_parse((const char *)pem->data, pem->len, &leaf, &chain, &e) < 0) {
		log_warnx("cannot compare the EK certificate with the EK: %s", e.msg);
		goto out;
	}
	pk = X509_get0_pubkey(leaf);
	if (pk == NULL || tpm2_pub_matches_pkey(k, pk) != 1)
		log_warnx(
		    "the EK certificate in the TPM's NV is for another key than the EK in use "
		    "(check agent.ek_alg / agent.ek_handle); the registrar will refuse it");
out:
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	tpm2_pub_free(k);
}

/* A log opened before the privilege drop, or -1 (logged: it will not be sent). */
static int open_log(const char *key, const char *path)
{
	int fd;

	if (*path == '\0')
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		log_warn("agent.%s %s cannot be opened before dropping privileges: not sent", key,
		         path);
	return fd;
}

static int ensure_dir(const char *dir)
{
	struct stat st;

	if (stat(dir, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : (errno = ENOTDIR, -1);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	config_t *cfg = daemon_start(&agent_info, argc, argv);
	const char *state = config_str(cfg, "agent", "state_dir");
	const char *tcti = config_str(cfg, "agent", "tcti");
	const char *tls_cert = config_str(cfg, "agent", "tls_cert");
	const char *tls_key = config_str(cfg, "agent", "tls_key");
	const char *client_ca = config_str(cfg, "agent", "trusted_client_ca");
	const char *registrar = config_str(cfg, "agent", "registrar");
	char *cert_file = NULL, *key_file = NULL, *uuid = NULL, *secure_dir = NULL;
	buf_t ek_pub = BUF_INIT, ak_pub = BUF_INIT, ekcert = BUF_INIT, mtls = BUF_INIT;
	buf_t payload_pub = BUF_INIT, rev_cert = BUF_INIT;
	const char *rev_cert_file = config_str(cfg, "agent", "revocation_cert");
	EVP_PKEY *payload_key = NULL;
	struct event_base *base = NULL;
	agent_server_t *srv = NULL;
	api_versions_t versions;
	tpm_ek_alg_t ek_alg;
	tpm_ak_alg_t ak_alg;
	uint32_t ek_handle;
	tpm_t *tpm = NULL;
	err_t e = {""};
	int ncerts = 0, created = 0, rv = 1, logs_pinned = 0, ima_fd = -1, event_fd = -1;

	/* The table's checks already passed; these only convert. */
	if (tpm_ek_alg_parse(config_str(cfg, "agent", "ek_alg"), &ek_alg) < 0 ||
	    tpm_ak_alg_parse(config_str(cfg, "agent", "ak_alg"), &ak_alg) < 0 ||
	    parse_handle(config_str(cfg, "agent", "ek_handle"), &ek_handle) < 0 ||
	    api_versions_parse(config_str(cfg, "agent", "api_versions"), &versions, &e) < 0)
		fatalx("configuration: %s", e.msg[0] ? e.msg : "bad algorithm or handle");
	if ((*tls_cert == '\0') != (*tls_key == '\0')) {
		log_warnx("agent.tls_cert and agent.tls_key go together: set both or neither");
		goto out;
	}
	if (check_readable("trusted_client_ca", client_ca,
	                   "the CA that verifier client certificates chain to; see docs/tls.md") <
	        0 ||
	    (*tls_cert && (check_readable("tls_cert", tls_cert, "PEM certificate") < 0 ||
	                   check_readable("tls_key", tls_key, "PEM private key") < 0)))
		goto out;
	/* Read before the privilege drop, and checked now, so that a bad file stops the start
	 * instead of every notice later. */
	if (*rev_cert_file) {
		if (buf_read_file(&rev_cert, rev_cert_file, 1 << 20) < 0) {
			log_warn("cannot read agent.revocation_cert %s", rev_cert_file);
			goto out;
		}
		if (revnotice_cert_check((const char *)rev_cert.data, &e) < 0) {
			log_warnx("agent.revocation_cert %s: %s", rev_cert_file, e.msg);
			goto out;
		}
	}
	startup_signals();
	if (ensure_dir(state) < 0) {
		log_warn("cannot use agent.state_dir %s", state);
		goto out;
	}
	/* The secure dir is mounted and handed to agent.user while still root. */
	{
		const char *sd = config_str(cfg, "agent", "secure_dir");
		uid_t uid = (uid_t)-1;
		gid_t gid = (gid_t)-1;
		struct passwd *pw;

		secure_dir = *sd ? xstrdup(sd) : xasprintf("%s/secure", state);
		if (daemon_will_drop(cfg) &&
		    (pw = getpwnam(config_str(cfg, "agent", "user"))) != NULL) {
			uid = pw->pw_uid;
			gid = pw->pw_gid;
		}
		if (secure_dir_prepare(secure_dir, config_str(cfg, "agent", "secure_size"), uid,
		                       gid, &e) < 0) {
			log_warnx("agent.secure_dir: %s", e.msg);
			goto out;
		}
	}

	if ((tpm = tpm_open(tcti, &e)) == NULL) {
		log_warnx("%s; check agent.tcti and that this user may open the TPM", e.msg);
		goto out;
	}
	if (tpm_ek_load(tpm, ek_alg, ek_handle, &e) < 0) {
		log_warnx("cannot get the endorsement key: %s", e.msg);
		goto out;
	}
	tpm_ek_public(tpm, &ek_pub);
	if (tpm_ek_cert_chain_pem(tpm, &ekcert, &ncerts, &e) < 0) {
		log_warnx("cannot read the EK certificate: %s", e.msg);
		goto out;
	}
	check_ekcert_matches(&ek_pub, &ekcert);
	if (ncerts == 0)
		log_warnx(
		    "the TPM holds no certificate for this EK (%s); a registrar that checks EK "
		    "certificates will refuse this node: try another agent.ek_alg",
		    tpm_ek_key_alg(tpm));
	if (ek_handle)
		log_info("EK: %s persistent at 0x%08x (agent.ek_handle), %d certificate(s)",
		         tpm_ek_key_alg(tpm), ek_handle, ncerts);
	else
		log_info("EK: %s %s, %d certificate(s)", tpm_ek_key_alg(tpm),
		         tpm_ek_is_persistent(tpm) ? "persistent" : "created from the template",
		         ncerts);
	if (tpm_ak_load_or_create(tpm, ak_alg, state, &created, &e) < 0) {
		log_warnx("cannot get the attestation key: %s", e.msg);
		goto out;
	}
	tpm_ak_public(tpm, &ak_pub);
	log_info("AK: %s %s (%s/ak.pub)", tpm_ak_key_alg(tpm, 0), created ? "created" : "reloaded",
	         state);

	if ((payload_key = payload_key_ensure(state, &payload_pub, &e)) == NULL) {
		log_warnx("cannot set up the payload key: %s", e.msg);
		goto out;
	}

	if ((uuid = identity_uuid(config_str(cfg, "agent", "uuid"), &ek_pub, &e)) == NULL) {
		log_warnx("cannot determine the agent UUID: %s", e.msg);
		goto out;
	}
	log_info("agent UUID %s", uuid);

	if (*tls_cert) {
		X509 *c;
		cert_file = xstrdup(tls_cert);
		key_file = xstrdup(tls_key);
		if ((c = pki_cert_load(cert_file, &e)) == NULL || pki_cert_pem(c, &mtls) < 0) {
			X509_free(c);
			log_warnx("agent.tls_cert %s: %s", cert_file, e.msg);
			goto out;
		}
		X509_free(c);
	} else {
		cert_file = xasprintf("%s/server-cert.pem", state);
		key_file = xasprintf("%s/server-private.pem", state);
		if (identity_tls_ensure(state, uuid, config_str(cfg, "agent", "contact_ip"), &mtls,
		                        &e) < 0) {
			log_warnx("cannot set up the agent's TLS certificate: %s", e.msg);
			goto out;
		}
	}

	/* What only root may open is opened before the privilege drop: the TPM (above), the
	 * listening socket (a port below 1024) and, when the agent drops privileges, the logs
	 * under /sys, which it then keeps open and reads again for each answer. The listener
	 * takes connections into its backlog until the loop runs after registration, which
	 * talks to the network and so runs as agent.user already. */
	if (daemon_will_drop(cfg)) {
		logs_pinned = 1;
		ima_fd = open_log("ima_log", config_str(cfg, "agent", "ima_log"));
		event_fd = open_log("event_log", config_str(cfg, "agent", "event_log"));
	}
	if ((base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	agent_server_opts_t so = {
	    .listen = config_str(cfg, "agent", "listen"),
	    .cert_file = cert_file,
	    .key_file = key_file,
	    .client_ca_file = client_ca,
	    .timeout_s = (int)config_int(cfg, "agent", "request_timeout"),
	    .idle_timeout_s = (int)config_int(cfg, "agent", "idle_timeout"),
	    .max_conns_per_peer = (unsigned)config_int(cfg, "agent", "max_conns_per_peer"),
	    .uuid = uuid,
	    .versions = &versions,
	    .tpm = tpm,
	    .pubkey_pem = (const char *)payload_pub.data,
	    .payload_key = payload_key,
	    .secure_dir = secure_dir,
	    .payload_script_timeout_s = (int)config_int(cfg, "agent", "payload_script_timeout"),
	    .ima_log = config_str(cfg, "agent", "ima_log"),
	    .event_log = config_str(cfg, "agent", "event_log"),
	    .ima_max = (size_t)config_int(cfg, "agent", "ima_log_max_mb") << 20,
	    .event_max = (size_t)config_int(cfg, "agent", "event_log_max_mb") << 20,
	    .logs_pinned = logs_pinned,
	    .ima_fd = ima_fd,
	    .event_fd = event_fd,
	    .revocation_cert_pem = rev_cert.len ? (const char *)rev_cert.data : NULL,
	    .revocation_actions_dir = config_str(cfg, "agent", "revocation_actions_dir"),
	    .revocation_work_dir = state,
	    .revocation_action_timeout_s =
	        (int)config_int(cfg, "agent", "revocation_action_timeout"),
	};
	if (*rev_cert_file == '\0')
		log_info("agent.revocation_cert is not set: revocation notices will be refused");
	if ((srv = agent_server_new(base, &so, &e)) == NULL) {
		log_warnx("%s", e.msg);
		goto out;
	}
	daemon_drop_privileges(cfg);

	if (*registrar) {
		register_opts_t ro = {
		    .registrar = registrar,
		    .uuid = uuid,
		    .ek_tpm = &ek_pub,
		    .ekcert = (const char *)(ekcert.data ? ekcert.data : (const uint8_t *)""),
		    .aik_tpm = &ak_pub,
		    .mtls_cert = (const char *)mtls.data,
		    .contact_ip = config_str(cfg, "agent", "contact_ip"),
		    .contact_port = (int)config_int(cfg, "agent", "contact_port"),
		    .versions = &versions,
		    .timeout_s = (int)config_int(cfg, "agent", "request_timeout"),
		    .retries = (int)config_int(cfg, "agent", "registrar_retries"),
		    .retry_initial_s = (int)config_int(cfg, "agent", "registrar_retry_interval"),
		    .retry_max_s = (int)config_int(cfg, "agent", "registrar_retry_max_interval"),
		    .stop = &stop_int,
		};
		char ver[16];

		if (register_agent(&ro, tpm, ver, sizeof(ver), &e) < 0) {
			log_warnx("registration of agent %s at %s failed: %s", uuid, registrar,
			          e.msg);
			goto out;
		}
		log_info("agent %s registered and activated at %s (API v%s)", uuid, registrar, ver);
	} else {
		log_warnx("agent.registrar is empty: not registering");
	}
	if (stop_flag)
		goto out;
	daemon_signals(base);
	log_info("serving the agent API on https://%s (client certificates from %s)", so.listen,
	         client_ca);
	event_base_dispatch(base);
	daemon_signals_free();
	rv = 0;
out:
	agent_server_free(srv);
	if (ima_fd >= 0)
		close(ima_fd);
	if (event_fd >= 0)
		close(event_fd);
	if (base)
		event_base_free(base);
	tpm_free(tpm);
	buf_free(&ek_pub);
	buf_free(&ak_pub);
	buf_free(&ekcert);
	buf_free(&mtls);
	buf_free(&payload_pub);
	buf_free(&rev_cert);
	EVP_PKEY_free(payload_key);
	free(uuid);
	free(secure_dir);
	free(cert_file);
	free(key_file);
	config_free(cfg);
	return rv;
}

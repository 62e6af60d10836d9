/* vigil-loadgen: one process playing many Keylime-protocol agents on loopback, so that a
 * verifier can be driven at scale from the same machine. See docs/loadgen.md.
 *
 * Shape: main() parses options, makes the shared world and the nodes (keys are made by
 * the worker threads, in parallel), writes the node and policy files, then blocks in
 * sigwait. Each worker thread owns the nodes i with i % threads == its number: one
 * libevent loop, one HTTPS server (agentsrv, one SSL_CTX) listening on every one of its
 * nodes' addresses; a request is routed to its node by the listening socket it came in
 * on. SIGUSR1 prints the statistics line; SIGTERM / SIGINT stop the workers and print it
 * once more. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/base/api_version.h"
#include "common/base/buf.h"
#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/evidence/quotes_query.h"
#include "common/net/http.h"
#include "test/loadgen/agentsrv.h"
#include "test/loadgen/simnode.h"
#include "test/loadgen/storm.h"

#define LG_MAX_NODES   100000
#define LG_MAX_THREADS 64
#define LG_MAX_FAULTS  1024
#define LG_MAX_BODY    65536 /* requests carry no body worth the name */
#define LG_TIMEOUT_S   60    /* idle keep-alive: the verifier polls every few seconds */

int main(int argc, char **argv);

/* One --bad or --silent. */
typedef struct fault {
	int node;                /* node index */
	double at;               /* seconds after start */
	simnode_bad_kind_t kind; /* --bad: what goes wrong (":ima", the default, or ":pcr") */
} fault_t;

typedef struct options {
	int nodes;                  /* -n */
	int base_port;              /* --port */
	int addrs;                  /* --addrs: 127.0.0.1 .. 127.0.0.<addrs> */
	int threads;                /* --threads */
	int rsa;                    /* --rsa */
	double ima_rate;            /* --ima-rate */
	const char *cert;           /* --cert */
	const char *key;            /* --key */
	const char *client_ca;      /* --client-ca */
	const char *nodes_out;      /* --nodes-out */
	const char *policy_out;     /* --runtime-policy-out */
	const char *pcr_policy_out; /* --pcr-policy-out */
	const char *dump_dir;       /* --dump-quote */
	const char *nonce;          /* --nonce (with --dump-quote) */
	uint32_t mask;              /* --mask (with --dump-quote) */
	fault_t bad[LG_MAX_FAULTS]; /* --bad */
	int nbad;
	fault_t silent[LG_MAX_FAULTS]; /* --silent */
	int nsilent;
	int verbose;            /* -v */
	const char *registrar;  /* --registrar: enroll every node there first */
	const char *ek_ca_cert; /* --ek-ca-cert: issues the nodes' EK certificates */
	const char *ek_ca_key;  /* --ek-ca-key: its key */
	int register_conns;     /* --register-conns */
	int register_only;      /* --register-only: enroll, then exit without serving */
} options_t;

typedef struct worker {
	int id;                  /* 0 .. threads-1 */
	pthread_t thread;        /* its thread */
	struct event_base *base; /* its loop */
	agentsrv_t *srv;         /* its server, on all its nodes' addresses */
	atomic_ulong rounds;     /* quotes answered */
	atomic_ulong errors;     /* requests answered with an error */
	atomic_ulong notices;    /* revocation notices received */
	int ready;               /* set up (or failed: ready < 0) */
} worker_t;

static options_t opt = {
    .nodes = 10,
    .base_port = 20000,
    .addrs = 1,
    .threads = 0,
    .mask = 0x408400,
    .register_conns = 16,
};
static X509 *ek_ca;         /* --ek-ca-cert, loaded */
static EVP_PKEY *ek_ca_key; /* --ek-ca-key, loaded */
static simnode_world_t *world;
static simnode_t **nodes; /* by index */
static worker_t *workers;
static double t_start;          /* monotonic seconds at start */
static api_versions_t versions; /* what the simulated agents serve: 2.1 .. 2.6 */
static pthread_mutex_t ready_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready_cv = PTHREAD_COND_INITIALIZER;

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: vigil-loadgen [-n NODES] [--port BASE] [--addrs K] [--threads T] [--rsa]\n"
	        "           [--ima-rate R] [--bad I@S[:ima|:pcr]]... [--silent I@S]...\n"
	        "           --cert F --key F --client-ca F [--nodes-out F]\n"
	        "           [--runtime-policy-out F] [--pcr-policy-out F]\n"
	        "           [--registrar HOST:PORT --ek-ca-cert F --ek-ca-key F\n"
	        "            [--register-conns C] [--register-only]] [-v]\n"
	        "       vigil-loadgen --dump-quote DIR --nonce N [--mask M] [--rsa]\n"
	        "       vigil-loadgen --help\n");
	exit(2);
}

static const char help_text[] =
    "NAME\n"
    "    vigil-loadgen - many simulated Keylime agents in one process, for load tests\n"
    "\n"
    "SYNOPSIS\n"
    "    vigil-loadgen [-n NODES] [--port BASE] [--addrs K] [--threads T] [--rsa]\n"
    "                  [--ima-rate R] [--bad I@S[:ima|:pcr]]... [--silent I@S]...\n"
    "                  --cert F --key F --client-ca F [--nodes-out F]\n"
    "                  [--runtime-policy-out F] [--pcr-policy-out F]\n"
    "                  [--registrar HOST:PORT --ek-ca-cert F --ek-ca-key F\n"
    "                   [--register-conns C] [--register-only]] [-v]\n"
    "    vigil-loadgen --dump-quote DIR --nonce N [--mask M] [--rsa]\n"
    "\n"
    "DESCRIPTION\n"
    "    Plays NODES Keylime-protocol agents on loopback so that a verifier (and a\n"
    "    registrar) can be driven at scale from the same machine. Node I listens on\n"
    "    127.0.0.(1 + I mod K):BASE+I with mutual TLS, has its own software attestation\n"
    "    key, a SHA-256 PCR bank (PCRs 0-7 fixed, PCR 10 its IMA list, PCR 16 the payload\n"
    "    key binding) and an ima-ng list, and answers GET /version and\n"
    "    /v2.x/quotes/integrity and /quotes/identity (API 2.1 to 2.6) with real TPM\n"
    "    structures (TPMS_ATTEST, TPMT_SIGNATURE, the tpm2-tools PCR blob). Revocation\n"
    "    notices are taken with 200 and counted. A test tool: its quotes are made without\n"
    "    a TPM and prove nothing. See docs/loadgen.md.\n"
    "\n"
    "OPTIONS\n"
    "    -n, --nodes N          nodes to simulate, 1 to 100000 (default 10)\n"
    "    --port BASE            node I listens on port BASE+I; BASE .. BASE+N-1 must be\n"
    "                           free (default 20000)\n"
    "    --addrs K              spread the nodes over 127.0.0.1 .. 127.0.0.K, round robin,\n"
    "                           1 to 254 (default 1)\n"
    "    --threads T            worker threads, each with its own event loop and TLS\n"
    "                           server; node I belongs to thread I mod T (default: the\n"
    "                           number of cores, at most 64 and at most N)\n"
    "    --rsa                  RSA-2048 / RSASSA-SHA256 attestation keys instead of ECC\n"
    "                           P-256 / ECDSA-SHA256 (about 50 ms of key generation a\n"
    "                           node)\n"
    "    --ima-rate R           IMA entries a second per node, 0 to 1000 (default 0: the\n"
    "                           list holds boot_aggregate only)\n"
    "    --bad I@S[:ima|:pcr]   from S seconds after start node I turns bad: :ima (the\n"
    "                           default) logs a file no runtime policy allows, :pcr\n"
    "                           extends PCR 7 so the PCR policy fails; repeatable\n"
    "    --silent I@S           from S seconds on node I takes requests and never\n"
    "                           answers (a hung agent); repeatable\n"
    "    --cert F, --key F      the server certificate and key every node presents\n"
    "                           (required)\n"
    "    --client-ca F          client certificates (the verifier's) must chain to this CA\n"
    "                           (required)\n"
    "    --nodes-out F          write one JSON line per node: uuid, ip, port, ak_tpm\n"
    "                           (base64 TPM2B_PUBLIC), mtls_cert (PEM)\n"
    "    --runtime-policy-out F write a runtime (IMA) policy allowing every good entry\n"
    "    --pcr-policy-out F     write a PCR policy with the fixed PCRs 0-7\n"
    "    --registrar HOST:PORT  enrollment storm: before serving, every node registers and\n"
    "                           activates at this registrar's agent listener (plain\n"
    "                           HTTP, vigil's or Keylime's port 8890) as a Keylime agent\n"
    "                           does: POST /v{ver}/agents/{uuid} with its EK, EK\n"
    "                           certificate, AK, mtls_cert (--cert) and contact, software\n"
    "                           ActivateCredential of the blob, PUT the auth_tag. Each node\n"
    "                           gets an ECC P-256 EK (TCG template) when this is given.\n"
    "                           Exits 1 if any node fails to enroll.\n"
    "    --ek-ca-cert F, --ek-ca-key F\n"
    "                           the CA (PEM certificate and key) that issues every node's\n"
    "                           EK certificate; put the certificate in the registrar's\n"
    "                           ek_ca_dir (required with --registrar)\n"
    "    --register-conns C     registrations in flight at once, 1 to 1024: one thread\n"
    "                           each, a fresh connection per request (default 16)\n"
    "    --register-only        enroll the nodes (--registrar), write the files, print\n"
    "                           the registered: line and exit 0, without listening (no\n"
    "                           ports needed: a storm of any size from one process)\n"
    "    --dump-quote DIR       write one quote as tpm2_quote's files (attest, sig, pcrs)\n"
    "                           and quote.txt, ak.pem, ak.pub, payload.pem, answer.json\n"
    "                           into DIR, then exit; needs --nonce\n"
    "    --nonce N              the quote's nonce (with --dump-quote)\n"
    "    --mask M               its PCR mask, hex (with --dump-quote; default 0x408400)\n"
    "    -v, --verbose          debug logging\n"
    "    --help                 this text\n"
    "\n"
    "OUTPUT\n"
    "    With --registrar, once every node enrolled:\n"
    "      registered: N of N nodes at HOST:PORT in S s (R/s), C connections; per node\n"
    "      (register + activate) p50 X ms p99 Y ms max Z ms\n"
    "    Then, once every node listens and the files are written:\n"
    "      ready: N nodes on ... port BASE-END, T threads, ECC P-256 AKs, S s\n"
    "    On SIGUSR1, and once more at exit (SIGTERM, SIGINT), one statistics line:\n"
    "      loadgen stats: nodes=N rounds=R errors=E notices=V cpu_user=U cpu_sys=S\n"
    "      cpu_total=T elapsed=W cpu_per_round_us=C\n"
    "    (CPU since start, key generation included: difference two lines for a rate).\n"
    "    Logs go to stderr. The open-file soft limit is raised to the hard limit: each\n"
    "    node needs a listening socket and a kept-alive connection.\n"
    "\n"
    "EXIT STATUS\n"
    "    0 after SIGTERM or SIGINT (or a --dump-quote written); 1 when the nodes cannot\n"
    "    be set up or a node fails to enroll; 2 on a usage error.\n"
    "\n"
    "EXAMPLES\n"
    "    Simulated agents for a verifier, added over gRPC from the node file:\n"
    "      vigilctl ca issue CA loadgen --server --san 127.0.0.1\n"
    "      vigil-loadgen -n 1000 --port 24000 --cert CA/loadgen.crt \\\n"
    "          --key CA/loadgen.key --client-ca CA/ca.crt --nodes-out nodes.jsonl \\\n"
    "          --pcr-policy-out pcr.json &\n"
    "      vigilctl policy put lg-pcr --kind pcr pcr.json\n"
    "      test/integration/loadgen_nodes.py 127.0.0.1:8881 add nodes.jsonl \\\n"
    "          --pcr-policy lg-pcr\n"
    "\n"
    "    The enrollment storm: 10000 nodes against one registrar whose\n"
    "    registrar.ek_ca_dir holds ekca/ca.crt:\n"
    "      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \\\n"
    "          -subj /CN=loadgen-ek-ca -keyout ekca/ca.key -out ekca/ca.crt\n"
    "      vigil-loadgen -n 10000 --port 30000 --cert CA/loadgen.crt \\\n"
    "          --key CA/loadgen.key --client-ca CA/ca.crt \\\n"
    "          --registrar 127.0.0.1:8890 --ek-ca-cert ekca/ca.crt \\\n"
    "          --ek-ca-key ekca/ca.key\n"
    "\n"
    "    One quote for tpm2_checkquote:\n"
    "      vigil-loadgen --dump-quote q --nonce lgNonce0123456789xyz --mask 0x4004ff\n"
    "      tpm2_checkquote -u q/ak.pem -m q/attest -s q/sig -f q/pcrs -g sha256 \\\n"
    "          -q $(printf %s lgNonce0123456789xyz | od -An -tx1 | tr -d ' \\n')\n"
    "\n"
    "SEE ALSO\n"
    "    docs/loadgen.md, docs/wire.md (the registrar protocol), docs/bench.md\n";

static void help(void)
{
	fputs(help_text, stdout);
	exit(0);
}

static void parse_fault(const char *s, fault_t *list, int *n)
{
	char *end;
	long i;
	double at;

	if (*n >= LG_MAX_FAULTS)
		fatalx("more than %d faults", LG_MAX_FAULTS);
	i = strtol(s, &end, 10);
	if (end == s || *end != '@' || i < 0)
		fatalx("fault \"%s\": want NODE_INDEX@SECONDS", s);
	at = strtod(end + 1, &end);
	list[*n].kind = SIMNODE_BAD_IMA;
	if (strcmp(end, ":pcr") == 0 && list == opt.bad)
		list[*n].kind = SIMNODE_BAD_PCR_CHANGE;
	else if (!(*end == '\0' || (strcmp(end, ":ima") == 0 && list == opt.bad)) || at < 0)
		fatalx("fault \"%s\": want NODE_INDEX@SECONDS (--bad: optionally :ima or :pcr)", s);
	list[*n].node = (int)i;
	list[*n].at = at;
	(*n)++;
}

static void parse_options(int argc, char **argv)
{
	enum {
		O_PORT = 256,
		O_ADDRS,
		O_THREADS,
		O_RSA,
		O_IMA_RATE,
		O_BAD,
		O_SILENT,
		O_CERT,
		O_KEY,
		O_CA,
		O_NODES_OUT,
		O_RT_OUT,
		O_PCR_OUT,
		O_DUMP,
		O_NONCE,
		O_MASK,
		O_REGISTRAR,
		O_EK_CA_CERT,
		O_EK_CA_KEY,
		O_REG_CONNS,
		O_REG_ONLY,
		O_HELP
	};
	static const struct option lo[] = {
	    {"nodes", required_argument, NULL, 'n'},
	    {"port", required_argument, NULL, O_PORT},
	    {"addrs", required_argument, NULL, O_ADDRS},
	    {"threads", required_argument, NULL, O_THREADS},
	    {"rsa", no_argument, NULL, O_RSA},
	    {"ima-rate", required_argument, NULL, O_IMA_RATE},
	    {"bad", required_argument, NULL, O_BAD},
	    {"silent", required_argument, NULL, O_SILENT},
	    {"cert", required_argument, NULL, O_CERT},
	    {"key", required_argument, NULL, O_KEY},
	    {"client-ca", required_argument, NULL, O_CA},
	    {"nodes-out", required_argument, NULL, O_NODES_OUT},
	    {"runtime-policy-out", required_argument, NULL, O_RT_OUT},
	    {"pcr-policy-out", required_argument, NULL, O_PCR_OUT},
	    {"dump-quote", required_argument, NULL, O_DUMP},
	    {"nonce", required_argument, NULL, O_NONCE},
	    {"mask", required_argument, NULL, O_MASK},
	    {"verbose", no_argument, NULL, 'v'},
	    {"registrar", required_argument, NULL, O_REGISTRAR},
	    {"ek-ca-cert", required_argument, NULL, O_EK_CA_CERT},
	    {"ek-ca-key", required_argument, NULL, O_EK_CA_KEY},
	    {"register-conns", required_argument, NULL, O_REG_CONNS},
	    {"register-only", no_argument, NULL, O_REG_ONLY},
	    {"help", no_argument, NULL, O_HELP},
	    {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "n:v", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			opt.nodes = atoi(optarg);
			break;
		case O_PORT:
			opt.base_port = atoi(optarg);
			break;
		case O_ADDRS:
			opt.addrs = atoi(optarg);
			break;
		case O_THREADS:
			opt.threads = atoi(optarg);
			break;
		case O_RSA:
			opt.rsa = 1;
			break;
		case O_IMA_RATE:
			opt.ima_rate = atof(optarg);
			break;
		case O_BAD:
			parse_fault(optarg, opt.bad, &opt.nbad);
			break;
		case O_SILENT:
			parse_fault(optarg, opt.silent, &opt.nsilent);
			break;
		case O_CERT:
			opt.cert = optarg;
			break;
		case O_KEY:
			opt.key = optarg;
			break;
		case O_CA:
			opt.client_ca = optarg;
			break;
		case O_NODES_OUT:
			opt.nodes_out = optarg;
			break;
		case O_RT_OUT:
			opt.policy_out = optarg;
			break;
		case O_PCR_OUT:
			opt.pcr_policy_out = optarg;
			break;
		case O_DUMP:
			opt.dump_dir = optarg;
			break;
		case O_NONCE:
			opt.nonce = optarg;
			break;
		case O_MASK:
			opt.mask = (uint32_t)strtoul(optarg, NULL, 16);
			break;
		case 'v':
			opt.verbose = 1;
			break;
		case O_REGISTRAR:
			opt.registrar = optarg;
			break;
		case O_EK_CA_CERT:
			opt.ek_ca_cert = optarg;
			break;
		case O_EK_CA_KEY:
			opt.ek_ca_key = optarg;
			break;
		case O_REG_CONNS:
			opt.register_conns = atoi(optarg);
			break;
		case O_REG_ONLY:
			opt.register_only = 1;
			break;
		case O_HELP:
			help();
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (opt.dump_dir != NULL) {
		if (opt.nonce == NULL)
			usage();
		return;
	}
	if (opt.nodes < 1 || opt.nodes > LG_MAX_NODES)
		fatalx("-n must be 1 to %d", LG_MAX_NODES);
	if (opt.addrs < 1 || opt.addrs > 254)
		fatalx("--addrs must be 1 to 254");
	if (opt.base_port < 1 || opt.base_port + opt.nodes - 1 > 65535)
		fatalx("--port %d with %d nodes goes past port 65535", opt.base_port, opt.nodes);
	if (opt.threads <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		opt.threads = n > 0 ? (int)n : 1;
	}
	if (opt.threads > LG_MAX_THREADS)
		opt.threads = LG_MAX_THREADS;
	if (opt.threads > opt.nodes)
		opt.threads = opt.nodes;
	if (opt.ima_rate < 0 || opt.ima_rate > 1000)
		fatalx("--ima-rate must be 0 to 1000 entries per second");
	if (opt.cert == NULL || opt.key == NULL || opt.client_ca == NULL)
		fatalx("--cert, --key and --client-ca are required (mutual TLS, as vigil-agent)");
	if (opt.registrar != NULL && (opt.ek_ca_cert == NULL || opt.ek_ca_key == NULL))
		fatalx("--registrar needs --ek-ca-cert and --ek-ca-key (the CA of the nodes' EK "
		       "certificates, which the registrar's ek_ca_dir must hold)");
	if (opt.register_only && opt.registrar == NULL)
		fatalx("--register-only needs --registrar");
	if (opt.register_conns < 1 || opt.register_conns > 1024)
		fatalx("--register-conns must be 1 to 1024");
	for (int i = 0; i < opt.nbad; i++)
		if (opt.bad[i].node >= opt.nodes)
			fatalx("--bad %d: there are %d nodes", opt.bad[i].node, opt.nodes);
	for (int i = 0; i < opt.nsilent; i++)
		if (opt.silent[i].node >= opt.nodes)
			fatalx("--silent %d: there are %d nodes", opt.silent[i].node, opt.nodes);
}

/* ---- the dump mode: one quote as tpm2_quote's files, for tpm2_checkquote ---- */

static void write_or_die(const char *dir, const char *name, const void *p, size_t n)
{
	char *path = xasprintf("%s/%s", dir, name);

	if (buf_write_file(path, p, n, 0644) < 0)
		fatal("cannot write %s", path);
	free(path);
}

static int dump_quote(void)
{
	simnode_opts_t so = {.index = 0,
	                     .ip = "127.0.0.1",
	                     .port = 1,
	                     .rsa = opt.rsa,
	                     .bad_at = -1,
	                     .silent_at = -1};
	quotes_query_t q;
	softtpm_t *t;
	simnode_t *n;
	buf_t out = BUF_INIT, attest = BUF_INIT, sig = BUF_INIT, blob = BUF_INIT, pem = BUF_INIT;
	char *qs;
	err_t e = {""};

	if (mkdir(opt.dump_dir, 0755) < 0 && errno != EEXIST)
		fatal("%s", opt.dump_dir);
	qs = xasprintf("nonce=%s&mask=0x%x&partial=0&ima_ml_entry=0", opt.nonce, opt.mask);
	if (quotes_query_parse(qs, QUOTES_INTEGRITY, &q, &e) < 0)
		fatalx("--nonce/--mask: %s", e.msg);
	if ((world = simnode_world_new(&e)) == NULL ||
	    (n = simnode_new(world, &so, mono_now(), &e)) == NULL)
		fatalx("%s", e.msg);
	if (simnode_answer(n, QUOTES_INTEGRITY, &q, 6, mono_now(), &out, &e) < 0)
		fatalx("%s", e.msg);
	write_or_die(opt.dump_dir, "answer.json", out.data, out.len);
	/* The same quote's parts, decoded from the answer's string: what the verifier gets. */
	t = simnode_tpm(n);
	{
		const char *s = strstr((const char *)out.data, "\"quote\": \"r") + 10, *c1, *c2,
		           *end;
		c1 = strchr(s, ':');
		c2 = strchr(c1 + 1, ':');
		end = strchr(c2 + 1, '"');
		if (base64_decode(&attest, s + 1, (size_t)(c1 - s - 1)) < 0 ||
		    base64_decode(&sig, c1 + 1, (size_t)(c2 - c1 - 1)) < 0 ||
		    base64_decode(&blob, c2 + 1, (size_t)(end - c2 - 1)) < 0)
			fatalx("internal: the quote string does not decode");
		write_or_die(opt.dump_dir, "quote.txt", s, (size_t)(end - s));
	}
	write_or_die(opt.dump_dir, "attest", attest.data, attest.len);
	write_or_die(opt.dump_dir, "sig", sig.data, sig.len);
	write_or_die(opt.dump_dir, "pcrs", blob.data, blob.len);
	if (softtpm_ak_pem(t, &pem) < 0)
		fatalx("AK PEM");
	write_or_die(opt.dump_dir, "ak.pem", pem.data, pem.len);
	write_or_die(opt.dump_dir, "ak.pub", softtpm_ak_public(t)->data, softtpm_ak_public(t)->len);
	write_or_die(opt.dump_dir, "payload.pem", simnode_world_pubkey(world),
	             strlen(simnode_world_pubkey(world)));
	simnode_free(n);
	simnode_world_free(world);
	buf_free(&out);
	buf_free(&attest);
	buf_free(&sig);
	buf_free(&blob);
	buf_free(&pem);
	free(qs);
	return 0;
}

/* ---- serving ---- */

/* A Keylime envelope without results, {"code": code, "status": status, "results": {}}, into
 * out; returns code. */
static int envelope(buf_t *out, int code, const char *status)
{
	json_t *env = json_pack("{s:i, s:s, s:{}}", "code", code, "status", status, "results");
	char *text = NULL;

	if (env == NULL) /* only when status is not UTF-8; answer anyway */
		env = json_pack("{s:i, s:s, s:{}}", "code", code, "status", "Error", "results");
	if (env != NULL)
		text = json_dumps(env, JSON_COMPACT);
	if (text != NULL)
		buf_append_str(out, text);
	free(text);
	json_decref(env);
	return code;
}

static int on_version(buf_t *out)
{
	json_t *list = json_array(), *env;
	char v[16], *text;

	for (int i = 0; i < versions.n; i++) {
		snprintf(v, sizeof(v), "2.%d", versions.minor[i]);
		json_array_append_new(list, json_string(v));
	}
	api_versions_latest(&versions, v, sizeof(v));
	env = json_pack("{s:i, s:s, s:{s:s, s:o}}", "code", 200, "status", "Success", "results",
	                "supported_version", v, "supported_versions", list);
	if (env == NULL || (text = json_dumps(env, JSON_COMPACT)) == NULL)
		fatalx("out of memory");
	buf_append_str(out, text);
	free(text);
	json_decref(env);
	return 200;
}

/* The agent API as vigil-agent routes it, for the quote endpoints and /version: the answer
 * of node r->tag to r into out, and its status (0: none, the node is silent). */
static int on_request(const agentsrv_req_t *r, buf_t *out, void *arg)
{
	worker_t *w = arg;
	const char *rest;
	int major, minor;
	quotes_kind_t kind;
	quotes_query_t q;
	simnode_t *n = nodes[r->tag];
	double now = mono_now();
	err_t e = {""};
	char msg[sizeof(e.msg) + 32];

	if (simnode_is_silent(n, now)) {
		/* A hung agent: the request stays unanswered until the verifier gives up and
		 * closes the connection. */
		return 0;
	}
	if (strcmp(r->path, "/version") == 0 && r->method == HTTP_M_GET)
		return on_version(out);
	if (!api_path_split(r->path, &major, &minor, &rest))
		return envelope(out, 400, "Bad Request: no such path");
	if (!api_versions_has(&versions, major, minor)) {
		snprintf(msg, sizeof(msg), "API version not supported: v%d.%d", major, minor);
		return envelope(out, 400, msg);
	}
	if (strcmp(rest, "/notifications/revocation") == 0 && r->method == HTTP_M_POST) {
		/* A verifier's revocation notice: taken, not checked (nothing here acts on it). */
		atomic_fetch_add_explicit(&w->notices, 1, memory_order_relaxed);
		return envelope(out, 200, "Success");
	}
	if (strcmp(rest, "/quotes/integrity") == 0)
		kind = QUOTES_INTEGRITY;
	else if (strcmp(rest, "/quotes/identity") == 0)
		kind = QUOTES_IDENTITY;
	else
		return envelope(out, 400, "Bad Request: no such path");
	if (r->method != HTTP_M_GET)
		return envelope(out, 405, "Method Not Allowed");
	if (quotes_query_parse(r->query, kind, &q, &e) < 0) {
		atomic_fetch_add_explicit(&w->errors, 1, memory_order_relaxed);
		snprintf(msg, sizeof(msg), "Bad Request: %s", e.msg);
		return envelope(out, 400, msg);
	}
	if (simnode_answer(n, kind, &q, minor, now, out, &e) < 0) {
		log_warnx("node %s: %s", simnode_uuid(n), e.msg);
		atomic_fetch_add_explicit(&w->errors, 1, memory_order_relaxed);
		buf_reset(out);
		return envelope(out, 500, "Internal Server Error: quote failed");
	}
	atomic_fetch_add_explicit(&w->rounds, 1, memory_order_relaxed);
	return 200;
}

static const fault_t *fault_of(const fault_t *list, int n, int node)
{
	for (int i = 0; i < n; i++)
		if (list[i].node == node)
			return &list[i];
	return NULL;
}

static void worker_set_ready(worker_t *w, int v)
{
	pthread_mutex_lock(&ready_mu);
	w->ready = v;
	pthread_cond_broadcast(&ready_cv);
	pthread_mutex_unlock(&ready_mu);
}

/* Make this worker's nodes (their keys: the slow part, so in parallel), listen on their
 * addresses, then serve until main breaks the loop. */
static void *worker_main(void *arg)
{
	worker_t *w = arg;
	tls_server_opts_t tls = {.cert_file = opt.cert,
	                         .key_file = opt.key,
	                         .client_ca_file = opt.client_ca,
	                         .client_cert = HTTP_CLIENT_CERT_REQUIRED};
	unsigned mine = 0;
	err_t e = {""};

	for (int i = w->id; i < opt.nodes; i += opt.threads) {
		const fault_t *bad = fault_of(opt.bad, opt.nbad, i);
		const fault_t *silent = fault_of(opt.silent, opt.nsilent, i);
		char ip[24];
		simnode_opts_t so = {.index = i,
		                     .ip = ip,
		                     .port = opt.base_port + i,
		                     .rsa = opt.rsa,
		                     .ima_rate = opt.ima_rate,
		                     .bad_kind = bad ? bad->kind : SIMNODE_BAD_IMA,
		                     .bad_at = bad ? bad->at : -1,
		                     .silent_at = silent ? silent->at : -1};
		snprintf(ip, sizeof(ip), "127.0.0.%d", 1 + (i % opt.addrs & 0xff));
		if ((nodes[i] = simnode_new(world, &so, t_start, &e)) == NULL) {
			log_warnx("node %d: %s", i, e.msg);
			goto fail;
		}
		if (opt.registrar != NULL &&
		    softtpm_ek_make(simnode_tpm(nodes[i]), simnode_uuid(nodes[i]), ek_ca, ek_ca_key,
		                    &e) < 0) {
			log_warnx("node %d: %s", i, e.msg);
			goto fail;
		}
		if (opt.register_only)
			continue; /* no server: the nodes only enroll */
		if (w->srv == NULL && (w->srv = agentsrv_new(w->base, &tls, LG_MAX_BODY,
		                                             LG_TIMEOUT_S, on_request, w)) == NULL)
			goto fail;
		if (agentsrv_listen(w->srv, ip, so.port, i) < 0)
			goto fail;
		mine++;
	}
	/* Every connection the verifier makes is one of ours to keep: room for all of them
	 * and for reconnects, from the one address the verifier comes from. */
	if (opt.register_only) {
		worker_set_ready(w, 1);
		return NULL;
	}
	agentsrv_set_max_connections(w->srv, 4 * mine + 64);
	worker_set_ready(w, 1);
	event_base_dispatch(w->base);
	return NULL;
fail:
	worker_set_ready(w, -1);
	return NULL;
}

static void print_stats(const char *why)
{
	struct rusage ru;
	unsigned long rounds = 0, errors = 0, notices = 0;
	double user, sys;

	getrusage(RUSAGE_SELF, &ru);
	user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	for (int i = 0; i < opt.threads; i++) {
		rounds += atomic_load_explicit(&workers[i].rounds, memory_order_relaxed);
		errors += atomic_load_explicit(&workers[i].errors, memory_order_relaxed);
		if (workers[i].srv != NULL)
			errors += agentsrv_errors(workers[i].srv);
		notices += atomic_load_explicit(&workers[i].notices, memory_order_relaxed);
	}
	printf("loadgen %s: nodes=%d rounds=%lu errors=%lu notices=%lu cpu_user=%.3f cpu_sys=%.3f "
	       "cpu_total=%.3f elapsed=%.3f cpu_per_round_us=%.1f\n",
	       why, opt.nodes, rounds, errors, notices, user, sys, user + sys, mono_now() - t_start,
	       rounds ? (user + sys) * 1e6 / (double)rounds : 0.0);
	fflush(stdout);
}

static void write_outputs(void)
{
	buf_t b = BUF_INIT, cert = BUF_INIT;

	if (opt.nodes_out != NULL) {
		if (buf_read_file(&cert, opt.cert, 1 << 20) < 0)
			fatal("%s", opt.cert);
		buf_append(&cert, "", 1);
		for (int i = 0; i < opt.nodes; i++)
			simnode_describe(nodes[i], (const char *)cert.data, &b);
		if (buf_write_file(opt.nodes_out, b.data, b.len, 0644) < 0)
			fatal("cannot write %s", opt.nodes_out);
	}
	if (opt.policy_out != NULL) {
		simnode_world_runtime_policy(world, &b);
		if (buf_write_file(opt.policy_out, b.data, b.len, 0644) < 0)
			fatal("cannot write %s", opt.policy_out);
	}
	if (opt.pcr_policy_out != NULL) {
		simnode_world_pcr_policy(world, &b);
		if (buf_write_file(opt.pcr_policy_out, b.data, b.len, 0644) < 0)
			fatal("cannot write %s", opt.pcr_policy_out);
	}
	buf_free(&b);
	buf_free(&cert);
}

/* Load the EK CA (--ek-ca-cert, --ek-ca-key) before the workers make the EKs. */
static void load_ek_ca(void)
{
	FILE *f;

	if ((f = fopen(opt.ek_ca_cert, "r")) == NULL)
		fatal("--ek-ca-cert %s", opt.ek_ca_cert);
	ek_ca = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if ((f = fopen(opt.ek_ca_key, "r")) == NULL)
		fatal("--ek-ca-key %s", opt.ek_ca_key);
	ek_ca_key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (ek_ca == NULL || ek_ca_key == NULL || X509_check_private_key(ek_ca, ek_ca_key) != 1)
		fatalx("--ek-ca-cert %s / --ek-ca-key %s: not a PEM certificate and its key",
		       opt.ek_ca_cert, opt.ek_ca_key);
}

/* The enrollment storm: every node registers and activates at --registrar, then one
 * line says how it went. Exits when a node could not enroll. */
static void enroll_all(void)
{
	storm_opts_t so = {.conns = opt.register_conns, .timeout_s = 30};
	storm_result_t r;
	buf_t cert = BUF_INIT;
	char *host = NULL;

	if (http_parse_hostport(opt.registrar, &host, &so.port) < 0)
		fatalx("--registrar %s: expected HOST:PORT", opt.registrar);
	if (buf_read_file(&cert, opt.cert, 1 << 20) < 0)
		fatal("%s", opt.cert);
	buf_append(&cert, "", 1);
	so.host = host;
	so.mtls_pem = (const char *)cert.data;
	storm_run(nodes, opt.nodes, &so, &r);
	printf("registered: %d of %d nodes at %s in %.3f s (%.1f/s), %d connections; per node "
	       "(register + activate) p50 %.2f ms p99 %.2f ms max %.2f ms\n",
	       r.ok, opt.nodes, opt.registrar, r.seconds, r.seconds > 0 ? r.ok / r.seconds : 0.0,
	       so.conns < opt.nodes ? so.conns : opt.nodes, r.p50_ms, r.p99_ms, r.max_ms);
	fflush(stdout);
	free(host);
	buf_free(&cert);
	if (r.failed)
		fatalx("%d of %d nodes could not enroll; the first: %s", r.failed, opt.nodes,
		       r.first_err);
}

/* As many descriptors as the hard limit allows: a listening socket and a kept-alive
 * connection (or two, around a reconnect) per node. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)(3 * opt.nodes + 64))
		log_warnx("the open-file limit (%llu) is low for %d nodes (want %d)",
		          (unsigned long long)rl.rlim_cur, opt.nodes, 3 * opt.nodes + 64);
}

int main(int argc, char **argv)
{
	sigset_t set;
	err_t e = {""};
	int sig, failed = 0;

	log_init("vigil-loadgen", 1, 0);
	parse_options(argc, argv);
	log_set_verbose(opt.verbose);
	if (opt.dump_dir != NULL)
		return dump_quote();
	if (api_versions_parse("default", &versions, &e) < 0)
		fatalx("%s", e.msg);
	raise_fd_limit();
	if (evthread_use_pthreads() < 0)
		fatalx("libevent threads");
	if (opt.registrar != NULL)
		load_ek_ca();
	t_start = mono_now();
	if ((world = simnode_world_new(&e)) == NULL)
		fatalx("%s", e.msg);
	nodes = xcalloc((size_t)opt.nodes, sizeof(*nodes));
	workers = xcalloc((size_t)opt.threads, sizeof(*workers));

	/* Signals go to main's sigwait only: block them before any thread exists. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	for (int i = 0; i < opt.threads; i++) {
		workers[i].id = i;
		if ((workers[i].base = http_event_base_new()) == NULL)
			fatalx("event_base_new");
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0)
			fatalx("pthread_create");
	}
	pthread_mutex_lock(&ready_mu);
	for (int i = 0; i < opt.threads; i++) {
		while (workers[i].ready == 0)
			pthread_cond_wait(&ready_cv, &ready_mu);
		failed |= workers[i].ready < 0;
	}
	pthread_mutex_unlock(&ready_mu);
	if (failed)
		fatalx("cannot set up the simulated agents (see above)");
	if (opt.registrar != NULL)
		enroll_all();
	write_outputs();
	if (opt.register_only) {
		for (int i = 0; i < opt.threads; i++) {
			pthread_join(workers[i].thread, NULL);
			event_base_free(workers[i].base);
		}
		for (int i = 0; i < opt.nodes; i++)
			simnode_free(nodes[i]);
		free(nodes);
		free(workers);
		simnode_world_free(world);
		X509_free(ek_ca);
		EVP_PKEY_free(ek_ca_key);
		return 0;
	}
	printf("ready: %d nodes on %s127.0.0.1..%d port %d-%d, %d threads, %s AKs, %.1f s\n",
	       opt.nodes, opt.addrs > 1 ? "" : "", opt.addrs, opt.base_port,
	       opt.base_port + opt.nodes - 1, opt.threads, opt.rsa ? "RSA-2048" : "ECC P-256",
	       mono_now() - t_start);
	fflush(stdout);

	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGUSR1) {
			print_stats("stats");
			continue;
		}
		break;
	}
	for (int i = 0; i < opt.threads; i++)
		event_base_loopbreak(workers[i].base);
	for (int i = 0; i < opt.threads; i++)
		pthread_join(workers[i].thread, NULL);
	print_stats("exit");
	for (int i = 0; i < opt.threads; i++) {
		agentsrv_free(workers[i].srv);
		event_base_free(workers[i].base);
	}
	for (int i = 0; i < opt.nodes; i++)
		simnode_free(nodes[i]);
	free(nodes);
	free(workers);
	simnode_world_free(world);
	X509_free(ek_ca);
	EVP_PKEY_free(ek_ca_key);
	return 0;
}

/* ctlconf: what every networked vigilctl command shares: where the verifier and the
 * registrar are, the TLS files, and the gRPC call with its error reporting. Settings come
 * from /etc/vigil/vigilctl.conf (or -c FILE, or $VIGILCTL_CONF), then the command line:
 *   --verifier HOST:PORT  --registrar HOST:PORT  --registrar-grpc HOST:PORT
 *   --tls-ca F  --tls-cert F  --tls-key F
 *   --ek-ca-dir DIR  --insecure (plaintext gRPC, tests only)  --json */
#ifndef VIGIL_CTL_CTLCONF_H
#define VIGIL_CTL_CTLCONF_H

#include <getopt.h>

#include "common/base/config.h"
#include "common/net/pb.h"

/* Settings an option can give (indexed by option number, CTL_OPT_BASE + i). */
#define CTL_GIVEN 9

typedef struct ctl_conf {
	config_t *cfg;                /* loaded configuration (owned) */
	const char *verifier;         /* host:port of the verifier's gRPC API */
	const char *registrar;        /* host:port of the registrar's admin (HTTPS) port */
	const char *registrar_grpc;   /* host:port of the registrar's gRPC API */
	const char *tls_ca;           /* CA the servers' certificates chain to */
	const char *tls_cert;         /* this operator's client certificate */
	const char *tls_key;          /* its key */
	const char *ek_ca_dir;        /* TPM vendor CAs, for vigilctl add's EK check */
	int insecure;                 /* plaintext gRPC (tests) */
	int json;                     /* print JSON instead of text */
	const char *given[CTL_GIVEN]; /* values given on the command line (borrowed from argv), by
	                          option; they win over a -c file whatever the order */
} ctl_conf_t;

/* Long options shared by the networked commands; getopt_long returns CTL_OPT_BASE + i. */
#define CTL_OPT_BASE 1000
extern const struct option ctl_common_options[];
#define CTL_COMMON_OPTION_COUNT 10

/* The text for --help describing the shared options. */
extern const char ctl_common_help[];

/* Load the configuration (file from -c/VIGILCTL_CONF/default). 0 or -1 (printed). */
int ctl_conf_init(ctl_conf_t *c, const char *file);
/* Apply one shared option (opt = getopt_long's return). 0, or -1 when not one of ours. */
int ctl_conf_option(ctl_conf_t *c, int opt, const char *arg);
void ctl_conf_free(ctl_conf_t *c);

/* The gRPC services vigilctl talks to, each at its own address. */
typedef enum {
	CTL_VERIFIER,  /* vigil.v1.Verifier at --verifier */
	CTL_REGISTRAR, /* vigil.v1.Registrar at --registrar-grpc */
} ctl_service_t;

/* Call a method ("GetEnrollment") of service svc with req; on success *resp is the
 * unpacked reply (free with protobuf_c_message_free_unpacked). Prints the error (the
 * server's status details and code name) and returns 1 on failure, 0 on success. */
int ctl_call_service(ctl_conf_t *c, ctl_service_t svc, const char *method,
                     const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                     ProtobufCMessage **resp);
/* ctl_call_service for the verifier: a vigil.v1.Verifier method ("GetNode"). */
int ctl_call(ctl_conf_t *c, const char *method, const ProtobufCMessage *req,
             const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp);

#endif

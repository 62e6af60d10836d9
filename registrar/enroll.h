/* enroll: the registrar's strict parser and checker for a registration request body.
 * Pure: no storage, no network; what it accepts is a well-formed registration whose EK is
 * trusted and whose AK is a proper attestation key. The fuzz target drives it directly. */
#ifndef VIGIL_REGISTRAR_ENROLL_H
#define VIGIL_REGISTRAR_ENROLL_H

#include <stddef.h>
#include <stdint.h>

#include "common/crypto/ekcert.h"
#include "common/base/err.h"
#include "common/crypto/tpm2.h"

/* Size limits of the registration fields, in characters of their JSON string value. */
#define ENROLL_MAX_ID      80    /* agent_id: [A-Za-z0-9._-]{1,80} */
#define ENROLL_MAX_TPM2B   4096  /* ek_tpm, aik_tpm: base64 of a TPM2B_PUBLIC */
#define ENROLL_MAX_EKCERT  32768 /* ekcert: the EK certificate and its chain */
#define ENROLL_MAX_MTLS    16384 /* mtls_cert PEM */
#define ENROLL_MAX_IP      253   /* ip: address literal or host name */
#define ENROLL_MAX_AUTHTAG 96    /* auth_tag: hex of HMAC-SHA-384 */

typedef struct enroll_policy {
	const ekca_t *ekca;  /* TPM vendor CAs; borrowed; NULL: no EK certificate is trusted */
	int require_ek_cert; /* 1: a registration without an ekcert is refused */
} enroll_policy_t;

/* A registration that passed every check. Strings are NUL-terminated copies. */
typedef struct enroll_req {
	char *agent_id;      /* validated id */
	char *ek_tpm;        /* base64 TPM2B_PUBLIC text as received */
	char *ekcert;        /* EK certificate text as received, NULL when none */
	char *aik_tpm;       /* base64 TPM2B_PUBLIC text as received */
	char *mtls_cert;     /* PEM, "disabled", or NULL */
	char *ip;            /* contact address or NULL */
	int port;            /* contact port, 0 when none */
	tpm2_pub_t *ek;      /* decoded ek_tpm */
	tpm2_pub_t *ak;      /* decoded aik_tpm */
	char ek_issuer[128]; /* issuer of the EK certificate (one line), "" when none */
} enroll_req_t;

/* Parse and check a registration body. path_id is the {agent_id} of the URL, or NULL for
 * the collection route (then the body's agent_id is required; when both are given they
 * must agree). On failure returns NULL with *status the HTTP status to answer (400 bad
 * input, 403 untrusted EK) and e the reason for the client. */
enroll_req_t *enroll_parse(const uint8_t *body, size_t len, const char *path_id,
                           const enroll_policy_t *pol, int *status, err_t *e);
void enroll_req_free(enroll_req_t *r); /* NULL does nothing */

/* 1 when id is an acceptable agent id: 1 to 80 of [A-Za-z0-9._-], not "." or "..". */
int enroll_id_is_valid(const char *id);

/* Replace every byte of s outside printable ASCII by '?', in place: texts that quote
 * client input go into log lines and JSON status strings. Returns s. */
char *enroll_text_clean(char *s);

/* Parse an activation body {"auth_tag": "<96 lowercase hex>"}; the tag (NUL-terminated)
 * is copied into tag. 0, or -1 with e set. */
int enroll_parse_auth_tag(const uint8_t *body, size_t len, char tag[ENROLL_MAX_AUTHTAG + 1],
                          err_t *e);

#endif

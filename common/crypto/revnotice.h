/* revnotice: Keylime's signed revocation message (docs/wire.md §6.1), both ends.
 *
 * A notice is the JSON object {"msg": "<inner JSON object, serialised>", "signature":
 * "<base64>"}; the signature is RSA-PSS with SHA-256, MGF1-SHA-256 and the longest salt
 * the key allows, over the UTF-8 bytes of msg exactly as carried, made with the
 * RevocationNotifier's private key; "" when the sender has no key (Keylime sends it
 * unsigned then). The receiver checks it with the RevocationNotifier certificate. */
#ifndef VIGIL_REVNOTICE_H
#define VIGIL_REVNOTICE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "common/base/buf.h"
#include "common/base/err.h"

#define REVNOTICE_MAX_BODY (256 * 1024) /* largest notice accepted (outer JSON, bytes) */
#define REVNOTICE_MAX_SIG  4096         /* longest signature text (base64 of 16384 bits) */
#define REVNOTICE_MIN_BITS 2048         /* smallest RSA key signed with or accepted */

/* The inner message's fields, in the order Keylime writes them. Strings are borrowed;
 * NULL is written as "" (port and event_time are always written). */
typedef struct revnotice_fields {
	const char *type;           /* "revocation" (failed evidence) or "comm_error" */
	const char *ip;             /* the node's contact address */
	const char *agent_id;       /* the node's UUID */
	int port;                   /* the node's contact port */
	const char *tpm_policy;     /* its PCR policy as JSON text (Keylime sends a string) */
	const char *meta_data;      /* its metadata as JSON text */
	time_t event_time;          /* when it happened (0: now), written as time.asctime() */
	const char *event_id;       /* the failure's event id; NULL: no event fields at all */
	const char *severity_label; /* e.g. "emergency" (with event_id) */
	const char *context;        /* JSON text of the event's context (with event_id) */
} revnotice_fields_t;

/* Outcomes of revnotice_verify, most specific first. */
typedef enum {
	REVNOTICE_OK = 0,
	REVNOTICE_TOO_LARGE,     /* over REVNOTICE_MAX_BODY */
	REVNOTICE_MALFORMED,     /* not JSON, not an object, msg/signature missing or not strings */
	REVNOTICE_UNSIGNED,      /* signature "" (or absent, or Keylime's "none") */
	REVNOTICE_BAD_BASE64,    /* signature is not strict base64, or too long */
	REVNOTICE_BAD_SIGNATURE, /* the signature does not verify over msg with the cert's key */
	REVNOTICE_BAD_CERT,      /* the certificate does not parse, or its key is not RSA >= 2048 */
	REVNOTICE_BAD_MSG,       /* signed, but msg is not a JSON object */
} revnotice_rc_t;

/* A short name of rc for log lines ("bad signature"); static. */
const char *revnotice_rc_str(revnotice_rc_t rc);

/* The inner message text (Python json.dumps style: ", " and ": ", ASCII only), replacing
 * out. 0, or -1 with e (a context that is not JSON text is written as a plain string). */
int revnotice_msg_build(const revnotice_fields_t *f, buf_t *out, err_t *e);

/* Wrap msg (len bytes of UTF-8) into the outer JSON, signed with the RSA private key in
 * key_pem (unencrypted PEM, PKCS#8 or traditional; borrowed), or with signature "" when
 * key_pem is NULL or "". Replaces out. 0, or -1 with e (the key does not parse, is not
 * RSA or is under REVNOTICE_MIN_BITS; msg is not UTF-8). */
int revnotice_seal(const char *msg, size_t len, const char *key_pem, buf_t *out, err_t *e);

/* revnotice_msg_build then revnotice_seal. */
int revnotice_sign(const revnotice_fields_t *f, const char *key_pem, buf_t *out, err_t *e);

/* Check a private key PEM as revnotice_seal would use it. 0, or -1 with e. */
int revnotice_key_check(const char *key_pem, err_t *e);
/* Check a certificate PEM as revnotice_verify would use it. 0, or -1 with e. */
int revnotice_cert_check(const char *cert_pem, err_t *e);

/* Check a notice received from outside (len bytes, any content) against the
 * RevocationNotifier certificate cert_pem (borrowed). On REVNOTICE_OK, *msg is the parsed
 * inner message, a JSON object (caller frees with json_decref); else *msg is NULL and e
 * says why in a sentence fit for a log line and an HTTP reason. Nothing is parsed beyond
 * the outer object before the signature has verified. */
revnotice_rc_t revnotice_verify(const uint8_t *body, size_t len, const char *cert_pem, json_t **msg,
                                err_t *e);

#endif

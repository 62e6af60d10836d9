/* store: durable state behind one small interface with typed operations (no SQL in the
 * daemons). Backends are chosen by URL: "sqlite:PATH" now; "postgresql://..." (libpq) for a
 * verifier pool later. Every state-changing call has committed durably (SQLite: WAL with
 * synchronous=FULL) when it returns 0, so a daemon may reply right after it.
 *
 * The schema is a list of numbered migrations, each applied once in its own transaction
 * and recorded in the schema_version table; opening a store applies the missing ones and
 * refuses a database written by a newer vigil. */
#ifndef VIGIL_STORE_H
#define VIGIL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct store store_t;

/* Outcomes of lookups and conditional changes. */
typedef enum {
	STORE_ERROR = -1,   /* the backend failed; err says why (already logged) */
	STORE_OK = 0,       /* done */
	STORE_NOT_FOUND = 1 /* no such record; nothing changed */
} store_rc_t;

/* A registrar enrollment. Every string is NUL-terminated text exactly as received (the
 * base64 of TPM2B_PUBLICs, the ekcert PEM or base64 DER). Records returned by the store are
 * owned by the caller: release them with store_agent_clear(). */
typedef struct store_agent {
	char *agent_id;    /* the node's UUID or name; primary key */
	char *ek_tpm;      /* base64 TPM2B_PUBLIC of the EK */
	char *ekcert;      /* EK certificate text as received, or NULL when none was sent */
	char *aik_tpm;     /* base64 TPM2B_PUBLIC of the AK */
	char *mtls_cert;   /* agent's HTTPS certificate PEM, "disabled", or NULL */
	char *ip;          /* contact address for verifiers, or NULL */
	int port;          /* contact port, 0 when none */
	int regcount;      /* registrations seen for this identity (1 on the first) */
	int active;        /* 1 once the credential challenge was answered */
	char *pending_key; /* base64(credential): HMAC key of the open challenge; NULL once
	                      active. A secret: cleared with the record. */
	int64_t created;   /* unix seconds of the first registration */
	int64_t updated;   /* unix seconds of the last change */
} store_agent_t;

/* Open (creating if needed) the store named by url and bring its schema up to date.
 * NULL on error (e says why: unknown scheme, cannot open, newer schema, failed
 * migration). */
store_t *store_open(const char *url, err_t *e);
void store_close(store_t *s); /* NULL does nothing */

/* The schema version the store is at, and the newest one this build knows. */
int store_schema_version(store_t *s);
int store_schema_latest(void);

/* ---- registrar enrollments ---- */

/* Insert the record, or replace every field of the one with the same agent_id. a is
 * borrowed. created is kept from an existing record; updated is set to now. */
store_rc_t store_agent_put(store_t *s, const store_agent_t *a, err_t *e);
/* Fill *out (caller clears) with the record of agent_id. */
store_rc_t store_agent_get(store_t *s, const char *agent_id, store_agent_t *out, err_t *e);
/* All agent ids in ascending order. *ids is a NULL-terminated array (caller frees with
 * store_ids_free); *n its length. */
store_rc_t store_agent_list(store_t *s, char ***ids, size_t *n, err_t *e);
store_rc_t store_agent_delete(store_t *s, const char *agent_id, err_t *e);
/* Mark the record active and forget its pending key. STORE_NOT_FOUND when there is no
 * record, or it is already active. */
store_rc_t store_agent_activate(store_t *s, const char *agent_id, err_t *e);

/* Free the fields of a (wiping the pending key) and zero it; the struct itself is the
 * caller's. */
void store_agent_clear(store_agent_t *a);
void store_ids_free(char **ids); /* NULL does nothing */

#endif

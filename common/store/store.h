/* store: durable state behind one small interface with typed operations (no SQL in the
 * daemons). Backends are chosen by URL: "sqlite:PATH" (embedded), or a libpq URI
 * "postgresql://..." (one database shared by a verifier pool). Every state-changing call
 * has committed durably (SQLite: WAL with synchronous=FULL; PostgreSQL: a synchronous
 * commit) when it returns 0, so a daemon may reply right after it.
 *
 * The schema is a list of numbered migrations, each applied once in its own transaction
 * and recorded in the schema_version table; opening a store applies the missing ones and
 * refuses a database written by a newer vigil. */
#ifndef VIGIL_STORE_H
#define VIGIL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/err.h"

typedef struct store store_t;

/* Outcomes of lookups and conditional changes. */
typedef enum {
	STORE_ERROR = -1,    /* the backend failed; err says why (already logged) */
	STORE_OK = 0,        /* done */
	STORE_NOT_FOUND = 1, /* no such record; nothing changed */
	STORE_EXISTS = 2,    /* a record with that key exists; nothing changed */
	STORE_IN_USE = 3,    /* still referenced (a policy a node uses); nothing changed */
	STORE_FENCED = 4     /* the node's lease epoch moved (another verifier instance owns it
	                        now, or it was removed); nothing changed */
} store_rc_t;

/* A registrar enrollment. Every string is NUL-terminated text exactly as received (the
 * base64 of TPM2B_PUBLICs, the ekcert PEM or base64 DER). Records returned by the store are
 * owned by the caller: release them with store_agent_clear(). */
typedef struct store_agent {
	char *agent_id;    /* the node's UUID or name; primary key */
	char *ek_tpm;      /* base64 TPM2B_PUBLIC of the EK */
	char *ek_key;      /* hex SHA-256 of the EK's DER SubjectPublicKeyInfo: one TPM's EK
	                      however ek_tpm spells it; NULL in records written before
	                      schema 4 until the registrar fills it in */
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
/* From now on this connection's commits need not reach the disk before they return: one
 * may be lost on a power failure or an OS crash (never on a crash of the process). Only
 * for a writer whose lost commit merely repeats work, such as the webhook delivery thread
 * marking a delivery done (the delivery is then sent again: at least once holds). SQLite:
 * synchronous=NORMAL in WAL mode; PostgreSQL: synchronous_commit=off. */
void store_relax_durability(store_t *s);
/* The URL as it may be shown in logs and errors: a password in the userinfo
 * (postgresql://user:SECRET@host/db) or a password= query parameter replaced by "***".
 * Caller frees. */
char *store_url_redact(const char *url);
/* 1 when url names a database several verifier instances may share (PostgreSQL), so
 * that nodes are owned by lease. */
int store_url_is_pool(const char *url);

/* What a daemon's metrics show of its store, counted in one read. */
typedef struct store_stats {
	int64_t agents;         /* registrar enrollments, active or awaiting activation */
	int64_t agents_active;  /* of them, activated */
	int64_t outbox_pending; /* webhook deliveries neither delivered nor dead-lettered */
	int64_t outbox_dead;    /* dead-lettered deliveries waiting for an operator */
	int64_t outbox_oldest;  /* when the oldest pending delivery was queued (unix ms), 0:
	                           none */
} store_stats_t;
/* Fill *out; STORE_ERROR when the store cannot be read, or no longer is the one it
 * opened (SQLite: the database file was moved or deleted under the open connection, so
 * commits would go nowhere anyone reads). What /readyz asks. */
store_rc_t store_stats(store_t *s, store_stats_t *out, err_t *e);

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
/* One page of enrollments in ascending agent_id order (byte order, the same on every
 * backend): at most limit records (1..10000) whose agent_id sorts after after_id (NULL or
 * "": from the first), read in one statement. Because the page starts after a key rather
 * than at an offset, records added or deleted between two calls never make the others
 * skip or repeat. *out (caller frees with store_agents_free) holds *n full records without
 * their pending_key (a secret the lister never needs). */
store_rc_t store_agent_list_page(store_t *s, const char *after_id, size_t limit,
                                 store_agent_t **out, size_t *n, err_t *e);
void store_agents_free(store_agent_t *v, size_t n); /* NULL does nothing */
store_rc_t store_agent_delete(store_t *s, const char *agent_id, err_t *e);
/* Delete the record only while it was never activated (a first registration whose
 * challenge was answered wrongly); STORE_NOT_FOUND when there is none or it is active. */
store_rc_t store_agent_delete_pending(store_t *s, const char *agent_id, err_t *e);
/* Mark the record active and forget its pending key. STORE_NOT_FOUND when there is no
 * record, or it is already active. */
store_rc_t store_agent_activate(store_t *s, const char *agent_id, err_t *e);

/* Re-registrations of an active enrollment are staged beside it (registrar_staged), so
 * that an unauthenticated request never changes what an authenticated one made: the
 * enrollment changes only when the staged attempt is activated. One staged attempt per
 * agent_id; an administrator's delete of the enrollment removes it too. */

/* Insert or replace the staged attempt of a->agent_id (ek_tpm, ekcert, aik_tpm,
 * mtls_cert, ip, port, pending_key; the rest is ignored). STORE_NOT_FOUND when there is
 * no active enrollment of that id. */
store_rc_t store_agent_stage(store_t *s, const store_agent_t *a, err_t *e);
/* Fill *out (caller clears) with the staged attempt of agent_id: the fields above, and
 * created. */
store_rc_t store_agent_get_staged(store_t *s, const char *agent_id, store_agent_t *out, err_t *e);
/* Discard the staged attempt; the enrollment stays as it is. */
store_rc_t store_agent_unstage(store_t *s, const char *agent_id, err_t *e);
/* In one transaction: copy the staged attempt's mtls_cert, ip and port into the active
 * enrollment, count the registration (regcount + 1) and discard the attempt.
 * STORE_NOT_FOUND (nothing changed) when there is no staged attempt, or the enrollment is
 * no longer active with the same EK, EK certificate and AK. */
store_rc_t store_agent_promote(store_t *s, const char *agent_id, err_t *e);
/* The id of another enrollment (not exclude_id) whose ek_key is this one, active ones
 * only when active_only: *other (caller frees), or STORE_NOT_FOUND. */
store_rc_t store_agent_find_ek(store_t *s, const char *ek_key, const char *exclude_id,
                               int active_only, char **other, err_t *e);

/* Free the fields of a (wiping the pending key) and zero it; the struct itself is the
 * caller's. */
void store_agent_clear(store_agent_t *a);
void store_ids_free(char **ids); /* NULL does nothing */

/* ---- verifier: nodes ---- */

/* A node under attestation: identity, contact, policies and the durable copy of its
 * attestation progress. Strings are caller-owned when returned (store_node_clear). */
typedef struct store_node {
	char *uuid;                          /* primary key */
	char *ak_tpm;                        /* base64 TPM2B_PUBLIC of the enrolled AK */
	char *ip;                            /* agent contact address */
	int port;                            /* agent contact port */
	char *mtls_cert;                     /* agent's self-signed HTTPS certificate PEM */
	char *api_version;                   /* agent API version in use, or NULL */
	char *pcr_policy;                    /* policy names, NULL for none */
	char *runtime_policy;                /* "" */
	char *mb_policy;                     /* "" */
	int operational_state;               /* Keylime operational_state number */
	int64_t attestation_count;           /* successful rounds */
	int64_t last_received_quote;         /* unix seconds, 0 = never */
	int64_t last_successful_attestation; /* unix seconds, 0 = never */
	char *last_event_id;                 /* last failure's event id, or NULL */
	char *failure_reason;                /* last failure's text, or NULL */
	char *ima_state;                     /* IMA replay position (ima_state_format), or NULL */
	char *ima_keys; /* keys learned from keyring measurements, one per line as
	                   runtime_policy_eval_keys_export writes them, or NULL */
	char
	    *mb_log_digest; /* hex SHA-256 of the UEFI log (base64 text as sent) that last passed */
	int has_clock;      /* 1 when the three clock fields are set */
	int64_t tpm_clock;  /* TPMS_CLOCK_INFO of the last good quote */
	int64_t tpm_reset_count;   /* "" */
	int64_t tpm_restart_count; /* "" */
	int64_t created;           /* unix seconds */
	int64_t updated;           /* unix seconds */
	char *lease_owner;    /* verifier instance holding the node's lease, or NULL (unowned) */
	int64_t lease_expiry; /* unix milliseconds the lease runs out, 0 when unowned */
	int64_t lease_epoch;  /* bumped by every claim; a write of the node's state carries the
	                         epoch its writer holds and is refused once it moved */
	char *payload_v;      /* lowercase hex of V, the verifier's share of a secure payload's
	                         key (docs/payload.md), or NULL: none. A secret: wiped by
	                         store_node_clear. Written by store_node_add only; read by
	                         every read of the node */
	int payload_v_forget; /* store_node_save, store_event_commit: also forget the stored V
	                         (set once V was delivered, or may never be) */
} store_node_t;

/* Insert a new node (progress fields and lease fields as given). STORE_EXISTS when the uuid is
 * taken; STORE_NOT_FOUND when a named policy does not exist. */
store_rc_t store_node_add(store_t *s, const store_node_t *n, err_t *e);
store_rc_t store_node_get(store_t *s, const char *uuid, store_node_t *out, err_t *e);
/* One node of store_node_add_many: the record to insert, the event recorded with it, and
 * what became of it. */
typedef struct store_node_add_item {
	const store_node_t *node; /* the record (borrowed), as for store_node_add */
	const char *type;         /* its event (store_event_commit's fields; borrowed) */
	const char *severity;     /* "" */
	const char *body_json;    /* "" */
	store_rc_t rc;            /* out: as store_node_add answers for this node alone */
	char event_id[40];        /* out: the event's id when rc is STORE_OK */
	err_t err;                /* out: why, when rc is not STORE_OK */
} store_node_add_item_t;
/* Insert n nodes, each with its event and one pending outbox row per URL of
 * urls[0..nurls), in ONE transaction (one commit for the lot, not one per node). A node
 * that cannot be added (its uuid taken, a policy missing) changes nothing and the others
 * go on: items[i].rc says each one's outcome. STORE_OK once the transaction committed;
 * STORE_ERROR (e says why) when it did not, and then nothing at all was stored and every
 * item's rc is STORE_ERROR. */
store_rc_t store_node_add_many(store_t *s, store_node_add_item_t *items, size_t n,
                               const char *const *urls, size_t nurls, err_t *e);
/* Every node, ordered by uuid; free with store_nodes_free. */
store_rc_t store_node_list(store_t *s, store_node_t **nodes, size_t *n, err_t *e);
store_rc_t store_node_delete(store_t *s, const char *uuid, err_t *e);
/* Write the progress fields (operational_state .. tpm_restart_count, and api_version) of
 * n nodes in one transaction: the verifier's batched durable copy. Fenced: a node's row is
 * written only while its lease_epoch is the one in nodes[i]; a node whose epoch moved (or
 * that is no longer stored) is skipped, and fenced[i] (fenced may be NULL) says so. */
store_rc_t store_node_save(store_t *s, const store_node_t *const *nodes, size_t n, int *fenced,
                           err_t *e);
/* Replace a node's pinned agent certificate (PEM), at once, while its lease epoch is
 * epoch (epoch < 0: unfenced). STORE_FENCED when the epoch moved, STORE_NOT_FOUND when
 * the node is not stored. */
store_rc_t store_node_set_mtls_cert(store_t *s, const char *uuid, const char *pem, int64_t epoch,
                                    err_t *e);
/* UpdateNode: replace a node's contact (ip, port, mtls_cert) and policy names
 * (pcr_policy, runtime_policy, mb_policy; NULL: none) with u's, whose uuid names the row,
 * in one statement (one transaction), while its lease epoch is epoch (epoch < 0:
 * unfenced). Nothing else of the node changes. STORE_FENCED when the epoch moved,
 * STORE_NOT_FOUND when the node is not stored or a named policy does not exist (e says
 * which). */
store_rc_t store_node_update(store_t *s, const store_node_t *u, int64_t epoch, err_t *e);
void store_node_clear(store_node_t *n);
void store_nodes_free(store_node_t *nodes, size_t n);

/* ---- verifier: policies (content-addressed, named) ---- */

/* Kinds as stored: "tpm_pcr", "runtime", "measured_boot". */
typedef struct store_policy {
	char *name;      /* operator's name */
	char *kind;      /* one of the kinds above */
	char sha256[65]; /* hex SHA-256 of body */
	uint8_t *body;   /* the document (NULL in lists) */
	size_t body_len; /* its size */
	int64_t created; /* unix seconds the name was first used */
} store_policy_t;

/* Store body under name. With replace = 0 an existing name is STORE_EXISTS; with
 * replace = 1 the name moves to the new content (which must be of the same kind). The
 * stored record (without body) is written to out when non-NULL. */
store_rc_t store_policy_put(store_t *s, const char *name, const char *kind, const uint8_t *body,
                            size_t len, int replace, store_policy_t *out, err_t *e);
store_rc_t store_policy_get(store_t *s, const char *name, store_policy_t *out, err_t *e);
/* Policies of one kind (NULL: all) whose names sort after after (byte order; NULL or "":
 * from the first), by name, at most limit (0: all), without bodies: one page of a keyset
 * walk. Free with store_policies_free. */
store_rc_t store_policy_list(store_t *s, const char *kind, const char *after, size_t limit,
                             store_policy_t **out, size_t *n, err_t *e);
/* STORE_IN_USE while a node names the policy. */
store_rc_t store_policy_delete(store_t *s, const char *name, err_t *e);
void store_policy_clear(store_policy_t *p);
void store_policies_free(store_policy_t *p, size_t n);

/* ---- verifier: events (append-only, hash-chained) ---- */

/* Append an event; its hash covers the previous event's hash and this row, so an edit or
 * removal anywhere breaks the chain. id_out (40 bytes) receives the event's public id. */
store_rc_t store_event_append(store_t *s, const char *node_uuid, const char *type,
                              const char *severity, const char *body_json, char id_out[40],
                              err_t *e);
/* Re-hash the whole chain; STORE_OK when intact, STORE_ERROR naming the first bad seq. */
store_rc_t store_event_verify_chain(store_t *s, err_t *e);

/* One record of the event log, as stored (common/store/audit.h defines its canonical
 * bytes and hash). Returned records are the caller's: store_event_clear / store_events_free. */
typedef struct store_event {
	int64_t seq;        /* 1, 2, 3, ...: its place in the chain */
	char id[40];        /* public id: "<seq>-<first 16 hex digits of hash>" */
	int64_t time;       /* unix milliseconds when appended */
	char *node_uuid;    /* subject node, or NULL */
	char *type;         /* "revocation", "comm_error", ... */
	char *severity;     /* or NULL */
	char *body;         /* JSON document, the exact bytes hashed */
	char prev_hash[65]; /* hex SHA-256 of record seq - 1 (64 zeros for the first) */
	char hash[65];      /* hex SHA-256 of this record's canonical bytes */
} store_event_t;

/* Which events store_event_list returns: all of them match (NULL/0 = no condition), in
 * ascending seq, at most limit (0: no limit). */
typedef struct store_event_filter {
	const char *node_uuid; /* only this node's, or NULL (borrowed) */
	const char *type;      /* only this type, or NULL (borrowed) */
	int64_t after_seq;     /* only seq > after_seq */
	size_t limit;          /* at most this many, 0 = all */
	int newest;            /* with limit: the newest limit of them (still in ascending seq) */
} store_event_filter_t;

store_rc_t store_event_list(store_t *s, const store_event_filter_t *f, store_event_t **out,
                            size_t *n, err_t *e);
/* The event with public id id (STORE_NOT_FOUND, named in e, when none). */
store_rc_t store_event_get(store_t *s, const char *id, store_event_t *out, err_t *e);
/* The newest event; STORE_NOT_FOUND when the log is empty. */
store_rc_t store_event_last(store_t *s, store_event_t *out, err_t *e);
void store_event_clear(store_event_t *ev);
void store_events_free(store_event_t *v, size_t n);

/* ---- verifier: audit seals ---- */

/* A seal: the verifier's audit key signed the chain up to record seq (whose hash it
 * names), so that a later rewrite of the log, however consistent, shows. */
typedef struct store_seal {
	int64_t seq;     /* last record covered */
	char hash[65];   /* that record's hash */
	int64_t time;    /* unix milliseconds when sealed */
	char key_id[65]; /* hex SHA-256 of the signing key's DER SubjectPublicKeyInfo */
	char *sig;       /* base64 DER ECDSA P-256 signature (SHA-256) of the seal's
	                    canonical bytes (audit_seal_canonical) */
} store_seal_t;

/* Append a seal (s->sig borrowed). STORE_EXISTS when seq is sealed already;
 * STORE_NOT_FOUND when there is no record seq. */
store_rc_t store_seal_append(store_t *s, const store_seal_t *seal, err_t *e);
/* Seals with after_seq < seq <= upto_seq (upto_seq 0: no upper bound), ascending. */
store_rc_t store_seal_list(store_t *s, int64_t after_seq, int64_t upto_seq, store_seal_t **out,
                           size_t *n, err_t *e);
/* The newest seal; STORE_NOT_FOUND when none. */
store_rc_t store_seal_last(store_t *s, store_seal_t *out, err_t *e);
void store_seal_clear(store_seal_t *seal);
void store_seals_free(store_seal_t *v, size_t n);
/* ---- verifier: the webhook outbox (durable deliveries of events) ---- */

/* In ONE transaction: write the progress fields of node (as store_node_save does, fenced
 * by node->lease_epoch: STORE_FENCED and nothing written when it moved; NULL: none), append
 * an event (as store_event_append) and insert one pending outbox row per
 * URL of urls[0..nurls) for it. So a verdict, its event and its deliveries are durable
 * together or not at all. id_out (40 bytes) and seq_out (may be NULL) receive the event's
 * id and sequence number. */
store_rc_t store_event_commit(store_t *s, const store_node_t *node, const char *node_uuid,
                              const char *type, const char *severity, const char *body_json,
                              const char *const *urls, size_t nurls, char id_out[40],
                              int64_t *seq_out, err_t *e);

/* One delivery of one event to one URL, with the event it carries. Times are unix
 * milliseconds, 0 for "not yet". Strings are owned (store_outbox_free). */
typedef struct store_outbox {
	int64_t id;           /* row id: the order of deliveries */
	char *url;            /* where it goes */
	char *node_uuid;      /* the event's node, or NULL: deliveries of one node and URL go
	                         in id order */
	int attempts;         /* failed or successful POSTs so far (since the last retry) */
	int64_t next_attempt; /* not tried before this */
	int64_t since;        /* when the current run of attempts began (insert, or an
	                         operator's retry): webhook_max_age counts from it */
	int64_t created;      /* when the row was written */
	int64_t last_attempt; /* when it was last tried */
	int64_t delivered;    /* when a 2xx came */
	int64_t dead;         /* when it was dead-lettered */
	char *last_error;     /* why the last attempt failed, or NULL */
	int64_t event_seq;    /* the event: its sequence number */
	char event_id[40];    /* its public id (the webhook-id) */
	int64_t event_time;   /* when it was recorded */
	char *event_type;     /* its type */
	char *event_severity; /* its severity, or NULL */
	char *event_body;     /* its JSON body */
} store_outbox_t;

/* Which rows store_outbox_list returns. */
typedef enum {
	STORE_OUTBOX_PENDING = 0, /* neither delivered nor dead-lettered */
	STORE_OUTBOX_DEAD = 1,    /* dead-lettered, waiting for an operator */
} store_outbox_kind_t;

/* Rows due at now (ms) for url (NULL: every URL): pending, next_attempt <= now, and no older
 * pending row of the same node and URL (per-node order; a dead-lettered row does not hold later
 * ones back). At most limit, by id; *rows (free with store_outbox_free), *n. */
store_rc_t store_outbox_due(store_t *s, const char *url, int64_t now, size_t limit,
                            store_outbox_t **rows, size_t *n, err_t *e);
/* The earliest next_attempt of a pending row not held back by an older one, in *when;
 * STORE_NOT_FOUND when nothing is pending. */
store_rc_t store_outbox_next_due(store_t *s, int64_t *when, err_t *e);
/* A 2xx came: the row is done. STORE_NOT_FOUND when it is not pending. */
store_rc_t store_outbox_delivered(store_t *s, int64_t id, err_t *e);
/* An attempt failed: count it, keep why (err_text, copied) and try again at next_attempt
 * (ms). STORE_NOT_FOUND when the row is not pending. */
store_rc_t store_outbox_failed(store_t *s, int64_t id, int64_t next_attempt, const char *err_text,
                               err_t *e);
/* Give up on a pending row (counting the attempt that failed, with why). */
store_rc_t store_outbox_dead(store_t *s, int64_t id, const char *err_text, err_t *e);
/* Rows of one kind with id > after, by id, at most limit. */
store_rc_t store_outbox_list(store_t *s, store_outbox_kind_t kind, int64_t after, size_t limit,
                             store_outbox_t **rows, size_t *n, err_t *e);
/* Put dead-lettered rows back in the queue, due now, with a fresh max-age window: the
 * row id, or every dead row when id is 0. *count (may be NULL) says how many;
 * STORE_NOT_FOUND when id names no dead-lettered row. */
store_rc_t store_outbox_retry(store_t *s, int64_t id, int64_t *count, err_t *e);
/* Delete at most limit delivered rows marked delivered before before_ms (unix ms), oldest
 * first; *count (may be NULL) says how many. Pending and dead-lettered rows, and the
 * events themselves (the audit log), are never pruned. */
store_rc_t store_outbox_prune(store_t *s, int64_t before_ms, size_t limit, int64_t *count,
                              err_t *e);
void store_outbox_free(store_outbox_t *rows, size_t n); /* NULL does nothing */

/* ---- verifier pool: members and node leases ---- */

/* Times are unix milliseconds. Members are verifier instances sharing the database. */

/* Record that instance id (address: its gRPC address, may be NULL) is alive at now; stalled:
 * since when its workers stopped ticking (it holds nothing then), 0 while they tick. */
store_rc_t store_pool_heartbeat(store_t *s, const char *id, const char *address, int64_t now,
                                int64_t stalled, err_t *e);
/* A clean exit: release every lease of id and remove its member row. */
store_rc_t store_pool_leave(store_t *s, const char *id, err_t *e);
/* Members other than id whose process is gone: on PostgreSQL each member holds a session
 * lock while its heartbeat connection lives (store_pool_heartbeat takes it), and the
 * server lets go of it when that connection ends, as when the process dies. Such members
 * are removed and their leases end at now, so that the others claim their nodes at once
 * instead of when the leases run out. *gone: how many members; *desc: their ids, comma
 * separated, and how many leases ended (caller frees), or NULL when none. Nothing on
 * SQLite (one instance). */
store_rc_t store_pool_reap(store_t *s, const char *id, int64_t now, int64_t *gone, char **desc,
                           err_t *e);
/* What the lease manager decides on, read in one statement. */
typedef struct store_pool_counts {
	int64_t live;        /* members with a heartbeat at or after live_since, not stalled */
	int64_t nodes;       /* all nodes */
	int64_t mine;        /* the nodes id holds */
	int64_t next_expiry; /* the soonest lease of another instance to run out after now
	                        (unix ms): nothing becomes claimable before it; 0: none */
} store_pool_counts_t;
store_rc_t store_pool_counts(store_t *s, const char *id, int64_t live_since, int64_t now,
                             store_pool_counts_t *out, err_t *e);
/* One held lease. */
typedef struct store_lease {
	char *uuid;     /* the node (caller frees: store_leases_free) */
	int64_t epoch;  /* its lease epoch */
	int64_t expiry; /* when it runs out (unix ms) */
} store_lease_t;
/* Extend every lease id holds to expiry; *out (store_leases_free) lists them all, each
 * with its expiry now. PostgreSQL skips a row another transaction has locked (this
 * instance's own progress batch, mostly) rather than wait for it: such a lease keeps its
 * old expiry, and the caller renews again soon. */
store_rc_t store_lease_renew(store_t *s, const char *id, int64_t expiry, store_lease_t **out,
                             size_t *n, err_t *e);
/* Claim at most limit nodes that nobody holds or whose lease (of another instance) ran out
 * before now: owner id, lease until expiry, epoch bumped. *out: the claimed nodes' whole
 * records (store_nodes_free), new epoch included. */
store_rc_t store_lease_claim(store_t *s, const char *id, int64_t now, int64_t expiry, size_t limit,
                             store_node_t **out, size_t *n, err_t *e);
/* Let go of node uuid if id holds it (STORE_NOT_FOUND when it does not). */
store_rc_t store_lease_release(store_t *s, const char *id, const char *uuid, err_t *e);
void store_leases_free(store_lease_t *v, size_t n); /* NULL does nothing */

/* A member as `vigilctl pool` shows it. */
typedef struct store_pool_member {
	char *id;                   /* instance id (owned) */
	char *address;              /* its gRPC address, or NULL (owned) */
	int64_t heartbeat;          /* last heartbeat (unix ms) */
	int64_t started;            /* first heartbeat (unix ms) */
	int64_t stalled;            /* its workers stopped ticking at (unix ms), 0: they tick */
	int64_t nodes;              /* nodes it holds */
	int64_t oldest_attestation; /* oldest last_successful_attestation (unix s) of its
	                               attested nodes, 0: none */
} store_pool_member_t;
store_rc_t store_pool_list(store_t *s, store_pool_member_t **out, size_t *n, err_t *e);
void store_pool_members_free(store_pool_member_t *v, size_t n); /* NULL does nothing */

#endif

/* store_sqlite: the SQLite backend of common/store. One connection per store handle,
 * WAL journal with synchronous=FULL so that every committed change is on disk before the
 * call returns; each public operation is one statement (an implicit transaction) or an
 * explicit one. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>
#include <stdio.h>

#include <openssl/evp.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/store/store_sqlite_priv.h"

/* The numbered migrations, oldest first; migrations[i] brings the schema to version i + 1.
 * Never edit one that has shipped: add a new one. The PostgreSQL backend will carry the
 * same numbers in its own dialect. */
static const char *const migrations[STORE_SCHEMA_LATEST] = {
    /* 1: registrar enrollments. */
    "CREATE TABLE registrar_agents ("
    " agent_id TEXT PRIMARY KEY NOT NULL,"
    " ek_tpm TEXT NOT NULL,"  /* base64 TPM2B_PUBLIC */
    " ekcert TEXT,"           /* as received, NULL when none */
    " aik_tpm TEXT NOT NULL," /* base64 TPM2B_PUBLIC */
    " mtls_cert TEXT,"        /* PEM, 'disabled' or NULL */
    " ip TEXT,"               /* contact address */
    " port INTEGER NOT NULL DEFAULT 0,"
    " regcount INTEGER NOT NULL DEFAULT 1,"
    " active INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),"
    " pending_key TEXT,"         /* base64(credential) until activation */
    " created INTEGER NOT NULL," /* unix seconds */
    " updated INTEGER NOT NULL"
    ");",

    /* 2: verifier state (docs/design.md sections 4 and 5). Created now so that the verifier
     * issue adds code, not a schema rewrite. */
    /* Policies are content-addressed: the key is the SHA-256 of the body, so nodes that
     * share a policy share one row; a name is an optional handle for operators. */
    "CREATE TABLE policies ("
    " sha256 TEXT PRIMARY KEY NOT NULL," /* lowercase hex of SHA-256(body) */
    " kind TEXT NOT NULL CHECK (kind IN ('runtime', 'measured_boot', 'tpm_pcr')),"
    " body BLOB NOT NULL," /* the policy document */
    " created INTEGER NOT NULL"
    ");"
    /* Operators name policies; a name points at one content. Replacing a policy moves the
     * name; bodies no name points at any more are removed. */
    "CREATE TABLE policy_names ("
    " name TEXT PRIMARY KEY NOT NULL,"
    " kind TEXT NOT NULL,"
    " sha256 TEXT NOT NULL REFERENCES policies (sha256),"
    " created INTEGER NOT NULL,"
    " updated INTEGER NOT NULL"
    ");"

    "CREATE TABLE nodes ("
    " uuid TEXT PRIMARY KEY NOT NULL,"
    " ak_tpm TEXT NOT NULL," /* base64 TPM2B_PUBLIC of the AK */
    " ek_tpm TEXT,"          /* base64 TPM2B_PUBLIC of the EK, if known */
    " ip TEXT NOT NULL,"     /* agent contact */
    " port INTEGER NOT NULL,"
    " mtls_cert TEXT,"   /* agent's HTTPS certificate PEM */
    " api_version TEXT," /* negotiated Keylime API version, e.g. '2.6' */
    /* Policies by name; a policy in use cannot be deleted (the references refuse it). */
    " tpm_policy TEXT REFERENCES policy_names (name),"
    " runtime_policy TEXT REFERENCES policy_names (name),"
    " mb_policy TEXT REFERENCES policy_names (name),"
    " accept_hash_algs TEXT," /* JSON lists, as Keylime's tenant sends them */
    " accept_enc_algs TEXT,"
    " accept_sign_algs TEXT,"
    " payload_v BLOB,"                               /* V half of the payload key, or NULL */
    " operational_state INTEGER NOT NULL DEFAULT 1," /* Keylime states: 1 START ... */
    " attestation_count INTEGER NOT NULL DEFAULT 0,"
    " last_received_quote INTEGER," /* unix seconds */
    " last_successful_attestation INTEGER,"
    " last_event_id TEXT,"  /* failure event id of the last failure */
    " failure_reason TEXT," /* text of the last failure */
    " ima_state TEXT,"      /* IMA replay position: ima_state_format() text, so a */
                            /* restart or takeover resumes without re-reading the list */
    " boottime INTEGER,"    /* agent-reported boot time, if any */
    " mb_log_digest TEXT,"  /* SHA-256 of the base64 UEFI log text that last passed */
    " tpm_clock INTEGER,"   /* TPMS_CLOCK_INFO of the last good quote, NULL before */
    " tpm_reset_count INTEGER,"
    " tpm_restart_count INTEGER,"
    " lease_owner TEXT,"     /* verifier instance that owns the node */
    " lease_expiry INTEGER," /* unix milliseconds */
    " created INTEGER NOT NULL,"
    " updated INTEGER NOT NULL"
    ");"
    "CREATE INDEX nodes_lease ON nodes (lease_expiry);"

    /* Append-only audit log: each row's hash covers the previous row's hash, so any edit
     * or removal breaks the chain. Triggers refuse updates and deletes. */
    "CREATE TABLE events ("
    " seq INTEGER PRIMARY KEY," /* 1, 2, 3, ... */
    " id TEXT NOT NULL UNIQUE," /* public event id */
    " time INTEGER NOT NULL,"   /* unix milliseconds */
    " node_uuid TEXT,"          /* subject node, if any */
    " type TEXT NOT NULL,"      /* e.g. 'revocation', 'node_added' */
    " severity TEXT,"
    " body TEXT NOT NULL,"      /* JSON document */
    " prev_hash TEXT NOT NULL," /* hash of seq - 1 (zeros for the first) */
    " hash TEXT NOT NULL"       /* SHA-256 over prev_hash and this row */
    ");"
    "CREATE INDEX events_node ON events (node_uuid, seq);"
    "CREATE TRIGGER events_no_update BEFORE UPDATE ON events"
    " BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;"
    "CREATE TRIGGER events_no_delete BEFORE DELETE ON events"
    " BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;"

    /* Durable webhook outbox: one row per (event, endpoint), retried until delivered. */
    "CREATE TABLE webhook_outbox ("
    " id INTEGER PRIMARY KEY,"
    " event_seq INTEGER NOT NULL REFERENCES events (seq),"
    " url TEXT NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt INTEGER NOT NULL," /* unix milliseconds */
    " last_error TEXT,"
    " delivered INTEGER," /* unix milliseconds, NULL while pending */
    " created INTEGER NOT NULL"
    ");"
    "CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt) WHERE delivered IS NULL;"

    /* Verifier pool membership, for fair-share lease claims. */
    "CREATE TABLE pool_members ("
    " instance_id TEXT PRIMARY KEY NOT NULL,"
    " address TEXT,"               /* where the instance serves gRPC */
    " heartbeat INTEGER NOT NULL," /* unix milliseconds */
    " started INTEGER NOT NULL"
    ");",

    /* 3: keys a node's evaluator learned from keyring measurements (ima-buf), as
     * runtime_policy_eval_keys_export writes them, so a restart or takeover resumes
     * without re-reading the list and still checks ima-sig entries signed by them. */
    "ALTER TABLE nodes ADD COLUMN ima_keys TEXT;",

    /* 4: a re-registration of an active enrollment waits here until its challenge is
     * answered; only then does it change the enrollment (its contact fields). Until then
     * the enrollment, and what the admin API shows, stay as they were. The identity is
     * kept too, so that activation can check it still matches the enrollment. ek_key
     * (hex SHA-256 of the EK's SubjectPublicKeyInfo) and its index find an EK enrolled
     * under another id (one TPM, one node), however its TPM2B_PUBLIC is spelled; rows
     * from before get it from the registrar at its next start. */
    "CREATE TABLE registrar_staged ("
    " agent_id TEXT PRIMARY KEY NOT NULL"
    "  REFERENCES registrar_agents (agent_id) ON DELETE CASCADE,"
    " ek_tpm TEXT NOT NULL,"
    " ekcert TEXT,"
    " aik_tpm TEXT NOT NULL,"
    " mtls_cert TEXT,"
    " ip TEXT,"
    " port INTEGER NOT NULL DEFAULT 0,"
    " pending_key TEXT NOT NULL," /* base64(credential) of the staged challenge */
    " created INTEGER NOT NULL"   /* unix seconds */
    ");"
    "ALTER TABLE registrar_agents ADD COLUMN ek_key TEXT;"
    "CREATE INDEX registrar_agents_ek_key ON registrar_agents (ek_key);",

    /* 5: seals of the event log (common/store/audit.h): the verifier's audit key signs
     * the hash of record seq, and with it the whole chain up to there. Append-only like
     * the events; one seal per record at most. The events' canonical form is unchanged,
     * so records stored before still verify. The index finds a type's events. */
    "CREATE TABLE audit_seals ("
    " seq INTEGER PRIMARY KEY NOT NULL REFERENCES events (seq)," /* last record covered */
    " hash TEXT NOT NULL,"                                       /* that record's hash */
    " time INTEGER NOT NULL,"                                    /* unix milliseconds */
    " key_id TEXT NOT NULL," /* hex SHA-256 of the key's DER SubjectPublicKeyInfo */
    " sig TEXT NOT NULL"     /* base64 DER ECDSA signature */
    ");"
    "CREATE TRIGGER audit_seals_no_update BEFORE UPDATE ON audit_seals"
    " BEGIN SELECT RAISE(ABORT, 'seals are append-only'); END;"
    "CREATE TRIGGER audit_seals_no_delete BEFORE DELETE ON audit_seals"
    " BEGIN SELECT RAISE(ABORT, 'seals are append-only'); END;"
    "CREATE INDEX events_type ON events (type, seq);",

    /* 6: the webhook outbox as the delivery thread uses it. node_uuid keeps deliveries of
     * one node in order (a row waits while an older pending row of the same node and URL
     * exists); since starts the max-age window (insert, or an operator's retry); dead is
     * when a row was given up (dead-lettered), NULL while it is pending or delivered. */
    "ALTER TABLE webhook_outbox ADD COLUMN node_uuid TEXT;"
    "ALTER TABLE webhook_outbox ADD COLUMN since INTEGER;"
    "ALTER TABLE webhook_outbox ADD COLUMN last_attempt INTEGER;"
    "ALTER TABLE webhook_outbox ADD COLUMN dead INTEGER;"
    "UPDATE webhook_outbox SET since = created,"
    " node_uuid = (SELECT node_uuid FROM events WHERE seq = event_seq);"
    "CREATE INDEX webhook_outbox_order ON webhook_outbox (url, node_uuid, id)"
    " WHERE delivered IS NULL AND dead IS NULL;"
    "CREATE INDEX webhook_outbox_dead ON webhook_outbox (dead) WHERE dead IS NOT NULL;",

    /* 7: the verifier pool: a node's lease epoch, bumped by every claim; a write of the
     * node's state carries the epoch its writer holds and changes nothing once it moved,
     * so a paused old owner never overwrites the new owner's state. */
    ("ALTER TABLE nodes ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;"
     "CREATE INDEX nodes_lease_owner ON nodes (lease_owner);"),

    /* 8: a pool member whose workers stopped ticking (a stuck instance) keeps
     * heartbeating with the time it noticed, so that it shows as stalled, not dead, and
     * counts as no live instance in the others' fair shares. */
    "ALTER TABLE pool_members ADD COLUMN stalled INTEGER;",
};

int64_t sq_now(void)
{
	return (int64_t)time(NULL);
}

store_rc_t sq_fail(sq_t *q, err_t *e, const char *what)
{
	err_set(e, "database %s: %s: %s", q->path, what, sqlite3_errmsg(q->db));
	log_warnx("database %s: %s: %s", q->path, what, sqlite3_errmsg(q->db));
	return STORE_ERROR;
}

int sq_exec(sq_t *q, const char *sql, err_t *e, const char *what)
{
	char *msg = NULL;

	if (sqlite3_exec(q->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		err_set(e, "database %s: %s: %s", q->path, what, msg ? msg : "?");
		log_warnx("database %s: %s: %s", q->path, what, msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

store_rc_t sq_rows(sq_t *q, sqlite3_stmt *st, size_t sz, sq_row_fn row,
                   void (*release)(void *array, size_t n), void **out, size_t *n, err_t *e,
                   const char *what)
{
	unsigned char *v = NULL;
	size_t k = 0, cap = 0;
	int r;

	*out = NULL;
	*n = 0;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (k == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sz);
		}
		memset(v + k * sz, 0, sz);
		row(st, v + k * sz);
		k++;
	}
	if (r != SQLITE_DONE) {
		sq_fail(q, e, what);
		release(v, k);
		return STORE_ERROR;
	}
	*out = v;
	*n = k;
	return STORE_OK;
}

store_rc_t sq_row_one(sq_t *q, sqlite3_stmt *st, sq_row_fn row, void *elem, err_t *e,
                      const char *what)
{
	int r = sqlite3_step(st);

	if (r == SQLITE_DONE)
		return STORE_NOT_FOUND;
	if (r != SQLITE_ROW)
		return sq_fail(q, e, what);
	row(st, elem);
	return STORE_OK;
}

/* Current schema version, 0 for a new database; -1 on error. */
static int sq_read_version(sq_t *q, err_t *e)
{
	sqlite3_stmt *st = NULL;
	int v = -1;

	if (sqlite3_prepare_v2(q->db, "SELECT COALESCE(MAX(version), 0) FROM schema_version", -1,
	                       &st, NULL) != SQLITE_OK) {
		sq_fail(q, e, "reading schema version");
		goto out;
	}
	if (sqlite3_step(st) != SQLITE_ROW) {
		sq_fail(q, e, "reading schema version");
		goto out;
	}
	v = sqlite3_column_int(st, 0);
out:
	sqlite3_finalize(st);
	return v;
}

/* Apply every missing migration, each in one IMMEDIATE transaction that re-reads the
 * version first, so two processes opening the same file never apply one twice. */
static int sq_migrate(sq_t *q, err_t *e)
{
	char *ins;
	int v;

	if (sq_exec(q,
	            "CREATE TABLE IF NOT EXISTS schema_version ("
	            " version INTEGER PRIMARY KEY NOT NULL, applied INTEGER NOT NULL)",
	            e, "creating schema_version") < 0)
		return -1;
	for (;;) {
		if (sq_exec(q, "BEGIN IMMEDIATE", e, "starting migration") < 0)
			return -1;
		if ((v = sq_read_version(q, e)) < 0)
			goto fail;
		if (v > STORE_SCHEMA_LATEST) {
			err_set(
			    e,
			    "database %s has schema version %d, newer than this vigil knows (%d); "
			    "refusing to use it",
			    q->path, v, STORE_SCHEMA_LATEST);
			goto fail;
		}
		if (v == STORE_SCHEMA_LATEST)
			break;
		if (sq_exec(q, migrations[v], e, "applying migration") < 0)
			goto fail;
		ins = xasprintf("INSERT INTO schema_version (version, applied) VALUES (%d, %lld)",
		                v + 1, (long long)sq_now());
		if (sq_exec(q, ins, e, "recording migration") < 0) {
			free(ins);
			goto fail;
		}
		free(ins);
		if (sq_exec(q, "COMMIT", e, "committing migration") < 0)
			goto fail;
		log_info("database %s: schema migrated to version %d", q->path, v + 1);
	}
	if (sq_exec(q, "COMMIT", e, "finishing migration check") < 0)
		goto fail;
	q->version = STORE_SCHEMA_LATEST;
	return 0;
fail:
	sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static void sq_close(void *h)
{
	sq_t *q = h;

	if (q == NULL)
		return;
	sqlite3_close(q->db);
	free(q->path);
	free(q);
}

/* One statement for every count, so that they are of one moment. */
static store_rc_t sq_stats(void *h, store_stats_t *out, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	int moved = 0;

	/* A renamed or deleted file still reads through the open connection; commits to it
	 * would be lost for anyone who opens the path. */
	if (sqlite3_file_control(q->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK ||
	    moved) {
		err_set(e, "database %s was moved or deleted", q->path);
		return STORE_ERROR;
	}
	if (sqlite3_prepare_v2(
	        q->db,
	        "SELECT (SELECT count(*) FROM registrar_agents),"
	        " (SELECT count(*) FROM registrar_agents WHERE active = 1),"
	        " (SELECT count(*) FROM webhook_outbox WHERE delivered IS NULL AND dead IS NULL),"
	        " (SELECT count(*) FROM webhook_outbox WHERE delivered IS NULL AND dead IS NOT "
	        "NULL),"
	        " (SELECT coalesce(min(created), 0) FROM webhook_outbox"
	        "  WHERE delivered IS NULL AND dead IS NULL)",
	        -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		sq_fail(q, e, "counting for metrics");
		goto out;
	}
	out->agents = sqlite3_column_int64(st, 0);
	out->agents_active = sqlite3_column_int64(st, 1);
	out->outbox_pending = sqlite3_column_int64(st, 2);
	out->outbox_dead = sqlite3_column_int64(st, 3);
	out->outbox_oldest = sqlite3_column_int64(st, 4);
	rc = STORE_OK;
out:
	sqlite3_finalize(st);
	return rc;
}

static void sq_relax_durability(void *h)
{
	sq_t *q = h;
	err_t e = {""};

	sq_exec(q, "PRAGMA synchronous=NORMAL", &e, "relaxing durability");
}

static void *sq_open(const char *path, err_t *e)
{
	sq_t *q = xcalloc(1, sizeof(*q));
	sqlite3_stmt *st = NULL;
	int fd, ok = 0;

	q->path = xstrdup(path);
	/* Pending credentials are secrets: create the file private before SQLite does (its
	 * -wal and -shm files copy the database's permissions). Only when it does not exist
	 * yet (O_EXCL): closing a descriptor of a file drops every POSIX lock this process
	 * holds on it, so an open and close of a database that another connection of this
	 * process has open (a worker's, the webhook thread's) would release that
	 * connection's locks. Another process could then take the database as unused,
	 * checkpoint and delete the WAL under us, and later commits would be lost. */
	if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) >= 0) {
		close(fd);
	} else if (errno != EEXIST) {
		err_set(e, "database %s: %s", path, strerror(errno));
		goto out;
	}
	if (sqlite3_open_v2(path, &q->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
	                    NULL) != SQLITE_OK) {
		err_set(e, "database %s: %s", path,
		        q->db ? sqlite3_errmsg(q->db) : "cannot allocate");
		goto out;
	}
	sqlite3_extended_result_codes(q->db, 1);
	sqlite3_busy_timeout(q->db, 5000);
	/* WAL lets readers run beside the writer; FULL syncs the WAL at every commit, which
	 * is what makes "committed" mean "survives power loss". */
	if (sqlite3_prepare_v2(q->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		sq_fail(q, e, "setting WAL mode");
		goto out;
	}
	if (strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
		err_set(e, "database %s: cannot use WAL journal mode (got %s)", path,
		        (const char *)sqlite3_column_text(st, 0));
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	/* A daemon opens several connections (one per thread that writes or reads): each
	 * keeps at most 512 KiB of pages (SQLite's default is 2 MiB) and the kernel's page
	 * cache holds the rest of the file for all of them. */
	if (sq_exec(q,
	            "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA trusted_schema=OFF;"
	            " PRAGMA cache_size=-512",
	            e, "setting pragmas") < 0)
		goto out;
	if (sq_migrate(q, e) < 0)
		goto out;
	ok = 1;
out:
	sqlite3_finalize(st);
	if (!ok) {
		sq_close(q);
		return NULL;
	}
	return q;
}

static int sq_schema_version(void *h)
{
	return ((sq_t *)h)->version;
}

int sq_bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

char *sq_col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? xstrdup((const char *)t) : NULL;
}

int64_t sq_col_i64(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, i);
}

store_rc_t sq_change_by_id(sq_t *q, const char *sql, const char *id, err_t *e, const char *what)
{
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;

	if (sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK || sq_bind_text(st, 1, id) ||
	    (sqlite3_bind_parameter_count(st) >= 2 && sqlite3_bind_int64(st, 2, sq_now()))) {
		sq_fail(q, e, what);
		goto out;
	}
	if (sqlite3_step(st) != SQLITE_DONE) {
		sq_fail(q, e, what);
		goto out;
	}
	rc = sqlite3_changes(q->db) > 0 ? STORE_OK : STORE_NOT_FOUND;
out:
	sqlite3_finalize(st);
	return rc;
}

const store_ops_t store_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .relax_durability = sq_relax_durability,
    .stats = sq_stats,
    .close = sq_close,
    .schema_version = sq_schema_version,
    .agent_put = sq_agent_put,
    .agent_get = sq_agent_get,
    .agent_list = sq_agent_list,
    .agent_list_page = sq_agent_list_page,
    .agent_delete = sq_agent_delete,
    .agent_activate = sq_agent_activate,
    .agent_delete_pending = sq_agent_delete_pending,
    .agent_stage = sq_agent_stage,
    .agent_get_staged = sq_agent_get_staged,
    .agent_unstage = sq_agent_unstage,
    .agent_promote = sq_agent_promote,
    .agent_find_ek = sq_agent_find_ek,
    .node_add = sq_node_add,
    .node_get = sq_node_get,
    .node_list = sq_node_list,
    .node_delete = sq_node_delete,
    .node_save = sq_node_save,
    .node_update = sq_node_update,
    .node_set_mtls_cert = sq_node_set_mtls_cert,
    .policy_put = sq_policy_put,
    .policy_get = sq_policy_get,
    .policy_list = sq_policy_list,
    .policy_delete = sq_policy_delete,
    .event_append = sq_event_append,
    .event_verify_chain = sq_event_verify_chain,
    .event_list = sq_event_list,
    .event_get = sq_event_get,
    .event_last = sq_event_last,
    .seal_append = sq_seal_append,
    .seal_list = sq_seal_list,
    .seal_last = sq_seal_last,
    .event_commit = sq_event_commit,
    .node_add_many = sq_node_add_many,
    .pool_heartbeat = sq_pool_heartbeat,
    .pool_leave = sq_pool_leave,
    .pool_counts = sq_pool_counts,
    .lease_renew = sq_lease_renew,
    .lease_claim = sq_lease_claim,
    .lease_release = sq_lease_release,
    .pool_list = sq_pool_list,
    .outbox_due = sq_outbox_due,
    .outbox_next_due = sq_outbox_next_due,
    .outbox_delivered = sq_outbox_delivered,
    .outbox_failed = sq_outbox_failed,
    .outbox_dead = sq_outbox_dead,
    .outbox_list = sq_outbox_list,
    .outbox_retry = sq_outbox_retry,
    .outbox_prune = sq_outbox_prune,
};

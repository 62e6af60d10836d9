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
#include "common/store/store_backend.h"
#include "common/base/xmalloc.h"

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
};

typedef struct sq {
	sqlite3 *db; /* the connection */
	char *path;  /* database file, for messages */
	int version; /* schema version after open */
} sq_t;

static int64_t sq_now(void)
{
	return (int64_t)time(NULL);
}

static store_rc_t sq_fail(sq_t *q, err_t *e, const char *what)
{
	err_set(e, "database %s: %s: %s", q->path, what, sqlite3_errmsg(q->db));
	log_warnx("database %s: %s: %s", q->path, what, sqlite3_errmsg(q->db));
	return STORE_ERROR;
}

static int sq_exec(sq_t *q, const char *sql, err_t *e, const char *what)
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

static void *sq_open(const char *path, err_t *e)
{
	sq_t *q = xcalloc(1, sizeof(*q));
	sqlite3_stmt *st = NULL;
	int fd, ok = 0;

	q->path = xstrdup(path);
	/* Pending credentials are secrets: create the file private before SQLite does (its
	 * -wal and -shm files copy the database's permissions). */
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		err_set(e, "database %s: %s", path, strerror(errno));
		goto out;
	}
	close(fd);
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
	if (sq_exec(q, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA trusted_schema=OFF",
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

static int sq_bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

static store_rc_t sq_agent_put(void *h, const store_agent_t *a, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	int64_t now = sq_now();

	if (sqlite3_prepare_v2(
	        q->db,
	        "INSERT INTO registrar_agents (agent_id, ek_tpm, ekcert, aik_tpm, mtls_cert, ip, "
	        "port,"
	        " regcount, active, pending_key, created, updated, ek_key)"
	        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12)"
	        " ON CONFLICT (agent_id) DO UPDATE SET ek_tpm = ?2, ekcert = ?3, aik_tpm = ?4,"
	        " mtls_cert = ?5, ip = ?6, port = ?7, regcount = ?8, active = ?9,"
	        " pending_key = ?10, updated = ?11, ek_key = ?12",
	        -1, &st, NULL) != SQLITE_OK) {
		sq_fail(q, e, "preparing agent insert");
		goto out;
	}
	if (sq_bind_text(st, 1, a->agent_id) || sq_bind_text(st, 2, a->ek_tpm) ||
	    sq_bind_text(st, 3, a->ekcert) || sq_bind_text(st, 4, a->aik_tpm) ||
	    sq_bind_text(st, 5, a->mtls_cert) || sq_bind_text(st, 6, a->ip) ||
	    sqlite3_bind_int(st, 7, a->port) || sqlite3_bind_int(st, 8, a->regcount) ||
	    sqlite3_bind_int(st, 9, a->active ? 1 : 0) || sq_bind_text(st, 10, a->pending_key) ||
	    sqlite3_bind_int64(st, 11, now) || sq_bind_text(st, 12, a->ek_key)) {
		sq_fail(q, e, "binding agent insert");
		goto out;
	}
	if (sqlite3_step(st) != SQLITE_DONE) {
		sq_fail(q, e, "storing agent");
		goto out;
	}
	rc = STORE_OK;
out:
	sqlite3_finalize(st);
	return rc;
}

static char *sq_col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? xstrdup((const char *)t) : NULL;
}

static store_rc_t sq_agent_get(void *h, const char *agent_id, store_agent_t *out, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	int r;

	if (sqlite3_prepare_v2(q->db,
	                       "SELECT agent_id, ek_tpm, ekcert, aik_tpm, mtls_cert, ip, port,"
	                       " regcount, active, pending_key, created, updated, ek_key"
	                       " FROM registrar_agents WHERE agent_id = ?1",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, agent_id)) {
		sq_fail(q, e, "preparing agent lookup");
		goto out;
	}
	r = sqlite3_step(st);
	if (r == SQLITE_DONE) {
		rc = STORE_NOT_FOUND;
		goto out;
	}
	if (r != SQLITE_ROW) {
		sq_fail(q, e, "reading agent");
		goto out;
	}
	out->agent_id = sq_col_dup(st, 0);
	out->ek_tpm = sq_col_dup(st, 1);
	out->ekcert = sq_col_dup(st, 2);
	out->aik_tpm = sq_col_dup(st, 3);
	out->mtls_cert = sq_col_dup(st, 4);
	out->ip = sq_col_dup(st, 5);
	out->port = sqlite3_column_int(st, 6);
	out->regcount = sqlite3_column_int(st, 7);
	out->active = sqlite3_column_int(st, 8);
	out->pending_key = sq_col_dup(st, 9);
	out->created = sqlite3_column_int64(st, 10);
	out->updated = sqlite3_column_int64(st, 11);
	out->ek_key = sq_col_dup(st, 12);
	rc = STORE_OK;
out:
	sqlite3_finalize(st);
	return rc;
}

static store_rc_t sq_agent_list(void *h, char ***ids, size_t *n, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	char **v = xcalloc(1, sizeof(char *));
	size_t k = 0;
	int r;

	if (sqlite3_prepare_v2(q->db, "SELECT agent_id FROM registrar_agents ORDER BY agent_id", -1,
	                       &st, NULL) != SQLITE_OK) {
		sq_fail(q, e, "preparing agent list");
		goto out;
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		v = xrealloc(v, (k + 2) * sizeof(char *));
		v[k++] = sq_col_dup(st, 0);
		v[k] = NULL;
	}
	if (r != SQLITE_DONE) {
		sq_fail(q, e, "listing agents");
		goto out;
	}
	*ids = v;
	*n = k;
	v = NULL;
	rc = STORE_OK;
out:
	sqlite3_finalize(st);
	store_ids_free(v);
	return rc;
}

/* Run one change on agent_id (?1), with now as ?2 when the statement has it; NOT_FOUND
 * when it touched no row. */
static store_rc_t sq_agent_change(sq_t *q, const char *sql, const char *agent_id, err_t *e,
                                  const char *what)
{
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;

	if (sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, agent_id) ||
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

static store_rc_t sq_agent_delete(void *h, const char *agent_id, err_t *e)
{
	return sq_agent_change(h, "DELETE FROM registrar_agents WHERE agent_id = ?1", agent_id, e,
	                       "deleting agent");
}

static store_rc_t sq_agent_delete_pending(void *h, const char *agent_id, err_t *e)
{
	return sq_agent_change(h, "DELETE FROM registrar_agents WHERE agent_id = ?1 AND active = 0",
	                       agent_id, e, "deleting a pending registration");
}

static store_rc_t sq_agent_activate(void *h, const char *agent_id, err_t *e)
{
	return sq_agent_change(h,
	                       "UPDATE registrar_agents SET active = 1, pending_key = NULL,"
	                       " updated = ?2 WHERE agent_id = ?1 AND active = 0",
	                       agent_id, e, "activating agent");
}

static store_rc_t sq_agent_stage(void *h, const store_agent_t *a, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;

	/* The SELECT yields no row unless an active enrollment exists, so nothing is staged
	 * beside a record that is still waiting for its first activation. */
	if (sqlite3_prepare_v2(
	        q->db,
	        "INSERT INTO registrar_staged (agent_id, ek_tpm, ekcert, aik_tpm, mtls_cert, ip,"
	        " port, pending_key, created)"
	        " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 FROM registrar_agents"
	        " WHERE agent_id = ?1 AND active = 1"
	        " ON CONFLICT (agent_id) DO UPDATE SET ek_tpm = ?2, ekcert = ?3, aik_tpm = ?4,"
	        " mtls_cert = ?5, ip = ?6, port = ?7, pending_key = ?8, created = ?9",
	        -1, &st, NULL) != SQLITE_OK) {
		sq_fail(q, e, "preparing staged insert");
		goto out;
	}
	if (sq_bind_text(st, 1, a->agent_id) || sq_bind_text(st, 2, a->ek_tpm) ||
	    sq_bind_text(st, 3, a->ekcert) || sq_bind_text(st, 4, a->aik_tpm) ||
	    sq_bind_text(st, 5, a->mtls_cert) || sq_bind_text(st, 6, a->ip) ||
	    sqlite3_bind_int(st, 7, a->port) || sq_bind_text(st, 8, a->pending_key) ||
	    sqlite3_bind_int64(st, 9, sq_now())) {
		sq_fail(q, e, "binding staged insert");
		goto out;
	}
	if (sqlite3_step(st) != SQLITE_DONE) {
		sq_fail(q, e, "staging a re-registration");
		goto out;
	}
	rc = sqlite3_changes(q->db) > 0 ? STORE_OK : STORE_NOT_FOUND;
out:
	sqlite3_finalize(st);
	return rc;
}

static store_rc_t sq_agent_get_staged(void *h, const char *agent_id, store_agent_t *out, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	int r;

	if (sqlite3_prepare_v2(q->db,
	                       "SELECT agent_id, ek_tpm, ekcert, aik_tpm, mtls_cert, ip, port,"
	                       " pending_key, created FROM registrar_staged WHERE agent_id = ?1",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, agent_id)) {
		sq_fail(q, e, "preparing staged lookup");
		goto out;
	}
	r = sqlite3_step(st);
	if (r == SQLITE_DONE) {
		rc = STORE_NOT_FOUND;
		goto out;
	}
	if (r != SQLITE_ROW) {
		sq_fail(q, e, "reading staged attempt");
		goto out;
	}
	out->agent_id = sq_col_dup(st, 0);
	out->ek_tpm = sq_col_dup(st, 1);
	out->ekcert = sq_col_dup(st, 2);
	out->aik_tpm = sq_col_dup(st, 3);
	out->mtls_cert = sq_col_dup(st, 4);
	out->ip = sq_col_dup(st, 5);
	out->port = sqlite3_column_int(st, 6);
	out->pending_key = sq_col_dup(st, 7);
	out->created = sqlite3_column_int64(st, 8);
	out->updated = out->created;
	rc = STORE_OK;
out:
	sqlite3_finalize(st);
	return rc;
}

static store_rc_t sq_agent_unstage(void *h, const char *agent_id, err_t *e)
{
	return sq_agent_change(h, "DELETE FROM registrar_staged WHERE agent_id = ?1", agent_id, e,
	                       "discarding staged attempt");
}

static store_rc_t sq_agent_promote(void *h, const char *agent_id, err_t *e)
{
	sq_t *q = h;
	store_rc_t rc;
	err_t ignore = {""};

	if (sq_exec(q, "BEGIN IMMEDIATE", e, "starting activation") < 0)
		return STORE_ERROR;
	/* Only into the same identity, still active: an administrator may have deleted the
	 * enrollment (which cascades) or another one may have replaced it meanwhile. */
	rc = sq_agent_change(
	    q,
	    "UPDATE registrar_agents SET"
	    " mtls_cert = (SELECT mtls_cert FROM registrar_staged WHERE agent_id = ?1),"
	    " ip = (SELECT ip FROM registrar_staged WHERE agent_id = ?1),"
	    " port = (SELECT port FROM registrar_staged WHERE agent_id = ?1),"
	    " regcount = regcount + 1, updated = ?2"
	    " WHERE agent_id = ?1 AND active = 1 AND EXISTS (SELECT 1 FROM registrar_staged s"
	    "  WHERE s.agent_id = ?1 AND s.ek_tpm = registrar_agents.ek_tpm"
	    "  AND s.aik_tpm = registrar_agents.aik_tpm"
	    "  AND s.ekcert IS registrar_agents.ekcert)",
	    agent_id, e, "activating staged attempt");
	if (rc != STORE_OK)
		goto fail;
	rc = sq_agent_change(q, "DELETE FROM registrar_staged WHERE agent_id = ?1", agent_id, e,
	                     "discarding activated attempt");
	if (rc != STORE_OK)
		goto fail;
	if (sq_exec(q, "COMMIT", e, "committing activation") < 0) {
		rc = STORE_ERROR;
		goto fail;
	}
	return STORE_OK;
fail:
	sq_exec(q, "ROLLBACK", &ignore, "rolling back activation");
	return rc;
}

static store_rc_t sq_agent_find_ek(void *h, const char *ek_key, const char *exclude_id,
                                   int active_only, char **other, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	int r;

	if (sqlite3_prepare_v2(q->db,
	                       "SELECT agent_id FROM registrar_agents WHERE ek_key = ?1"
	                       " AND agent_id <> ?2 AND (?3 = 0 OR active = 1)"
	                       " ORDER BY agent_id LIMIT 1",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, ek_key) || sq_bind_text(st, 2, exclude_id) ||
	    sqlite3_bind_int(st, 3, active_only ? 1 : 0)) {
		sq_fail(q, e, "preparing EK lookup");
		goto out;
	}
	r = sqlite3_step(st);
	if (r == SQLITE_DONE) {
		rc = STORE_NOT_FOUND;
		goto out;
	}
	if (r != SQLITE_ROW) {
		sq_fail(q, e, "looking up an EK");
		goto out;
	}
	*other = sq_col_dup(st, 0);
	rc = STORE_OK;
out:
	sqlite3_finalize(st);
	return rc;
}

/* ---- verifier: nodes ---- */

#define SQ_NODE_COLS                                                                               \
	"uuid, ak_tpm, ip, port, mtls_cert, api_version, tpm_policy, runtime_policy, mb_policy,"   \
	" operational_state, attestation_count, last_received_quote,"                              \
	" last_successful_attestation, last_event_id, failure_reason, ima_state,"                  \
	" mb_log_digest, tpm_clock, tpm_reset_count, tpm_restart_count, created, updated,"         \
	" ima_keys"

static int64_t sq_col_i64(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, i);
}

static void sq_node_row(sqlite3_stmt *st, store_node_t *n)
{
	n->uuid = sq_col_dup(st, 0);
	n->ak_tpm = sq_col_dup(st, 1);
	n->ip = sq_col_dup(st, 2);
	n->port = sqlite3_column_int(st, 3);
	n->mtls_cert = sq_col_dup(st, 4);
	n->api_version = sq_col_dup(st, 5);
	n->pcr_policy = sq_col_dup(st, 6);
	n->runtime_policy = sq_col_dup(st, 7);
	n->mb_policy = sq_col_dup(st, 8);
	n->operational_state = sqlite3_column_int(st, 9);
	n->attestation_count = sq_col_i64(st, 10);
	n->last_received_quote = sq_col_i64(st, 11);
	n->last_successful_attestation = sq_col_i64(st, 12);
	n->last_event_id = sq_col_dup(st, 13);
	n->failure_reason = sq_col_dup(st, 14);
	n->ima_state = sq_col_dup(st, 15);
	n->mb_log_digest = sq_col_dup(st, 16);
	n->has_clock = sqlite3_column_type(st, 17) != SQLITE_NULL;
	n->tpm_clock = sq_col_i64(st, 17);
	n->tpm_reset_count = sq_col_i64(st, 18);
	n->tpm_restart_count = sq_col_i64(st, 19);
	n->created = sq_col_i64(st, 20);
	n->updated = sq_col_i64(st, 21);
	n->ima_keys = sq_col_dup(st, 22);
}

/* Bind the progress fields of n to ?2..?14 and ?22 (shared by add and save). */
static int sq_bind_progress(sqlite3_stmt *st, const store_node_t *n)
{
	return sqlite3_bind_int(st, 2, n->operational_state) ||
	       sqlite3_bind_int64(st, 3, n->attestation_count) ||
	       sqlite3_bind_int64(st, 4, n->last_received_quote) ||
	       sqlite3_bind_int64(st, 5, n->last_successful_attestation) ||
	       sq_bind_text(st, 6, n->last_event_id) || sq_bind_text(st, 7, n->failure_reason) ||
	       sq_bind_text(st, 8, n->ima_state) || sq_bind_text(st, 9, n->mb_log_digest) ||
	       (n->has_clock ? sqlite3_bind_int64(st, 10, n->tpm_clock) ||
	                           sqlite3_bind_int64(st, 11, n->tpm_reset_count) ||
	                           sqlite3_bind_int64(st, 12, n->tpm_restart_count)
	                     : sqlite3_bind_null(st, 10) || sqlite3_bind_null(st, 11) ||
	                           sqlite3_bind_null(st, 12)) ||
	       sq_bind_text(st, 13, n->api_version) || sqlite3_bind_int64(st, 14, sq_now()) ||
	       sq_bind_text(st, 22, n->ima_keys);
}

static store_rc_t sq_node_add(void *h, const store_node_t *n, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	int r;

	if (sqlite3_prepare_v2(
	        q->db,
	        "INSERT INTO nodes (uuid, operational_state, attestation_count,"
	        " last_received_quote, last_successful_attestation, last_event_id,"
	        " failure_reason, ima_state, mb_log_digest, tpm_clock, tpm_reset_count,"
	        " tpm_restart_count, api_version, created, updated, ak_tpm, ip, port,"
	        " mtls_cert, tpm_policy, runtime_policy, mb_policy, ima_keys)"
	        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
	        " ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)",
	        -1, &st, NULL) != SQLITE_OK) {
		sq_fail(q, e, "preparing node insert");
		goto out;
	}
	if (sq_bind_text(st, 1, n->uuid) || sq_bind_progress(st, n) ||
	    sq_bind_text(st, 15, n->ak_tpm) || sq_bind_text(st, 16, n->ip) ||
	    sqlite3_bind_int(st, 17, n->port) || sq_bind_text(st, 18, n->mtls_cert) ||
	    sq_bind_text(st, 19, n->pcr_policy) || sq_bind_text(st, 20, n->runtime_policy) ||
	    sq_bind_text(st, 21, n->mb_policy)) {
		sq_fail(q, e, "binding node insert");
		goto out;
	}
	r = sqlite3_step(st);
	if (r == SQLITE_CONSTRAINT_PRIMARYKEY) {
		err_set(e, "node %s already exists", n->uuid);
		rc = STORE_EXISTS;
	} else if (r == SQLITE_CONSTRAINT_FOREIGNKEY) {
		err_set(e, "a policy named for node %s does not exist", n->uuid);
		rc = STORE_NOT_FOUND;
	} else if (r != SQLITE_DONE) {
		sq_fail(q, e, "storing node");
	} else {
		rc = STORE_OK;
	}
out:
	sqlite3_finalize(st);
	return rc;
}

static store_rc_t sq_node_get(void *h, const char *uuid, store_node_t *out, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	int r;

	if (sqlite3_prepare_v2(q->db, "SELECT " SQ_NODE_COLS " FROM nodes WHERE uuid = ?1", -1, &st,
	                       NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, uuid)) {
		sq_fail(q, e, "preparing node lookup");
		goto out;
	}
	r = sqlite3_step(st);
	if (r == SQLITE_DONE) {
		rc = STORE_NOT_FOUND;
	} else if (r != SQLITE_ROW) {
		sq_fail(q, e, "reading node");
	} else {
		sq_node_row(st, out);
		rc = STORE_OK;
	}
out:
	sqlite3_finalize(st);
	return rc;
}

static store_rc_t sq_node_list(void *h, store_node_t **nodes, size_t *n, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	store_node_t *v = NULL;
	size_t k = 0, cap = 0;
	int r;

	if (sqlite3_prepare_v2(q->db, "SELECT " SQ_NODE_COLS " FROM nodes ORDER BY uuid", -1, &st,
	                       NULL) != SQLITE_OK) {
		sq_fail(q, e, "preparing node list");
		goto out;
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (k == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof(*v));
		}
		memset(&v[k], 0, sizeof(v[k]));
		sq_node_row(st, &v[k++]);
	}
	if (r != SQLITE_DONE) {
		sq_fail(q, e, "listing nodes");
		store_nodes_free(v, k);
		goto out;
	}
	*nodes = v;
	*n = k;
	rc = STORE_OK;
out:
	sqlite3_finalize(st);
	return rc;
}

static store_rc_t sq_node_set_mtls_cert(void *h, const char *uuid, const char *pem, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;

	if (sqlite3_prepare_v2(q->db,
	                       "UPDATE nodes SET mtls_cert = ?2, updated = ?3 WHERE uuid = ?1", -1,
	                       &st, NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, uuid) || sq_bind_text(st, 2, pem) ||
	    sqlite3_bind_int64(st, 3, sq_now()) || sqlite3_step(st) != SQLITE_DONE) {
		sq_fail(q, e, "changing a node's certificate");
		goto out;
	}
	rc = sqlite3_changes(q->db) > 0 ? STORE_OK : STORE_NOT_FOUND;
	if (rc == STORE_NOT_FOUND)
		err_set(e, "node %s not found", uuid);
out:
	sqlite3_finalize(st);
	return rc;
}

static store_rc_t sq_node_delete(void *h, const char *uuid, err_t *e)
{
	return sq_agent_change(h, "DELETE FROM nodes WHERE uuid = ?1", uuid, e, "deleting node");
}

static store_rc_t sq_node_save(void *h, const store_node_t *const *nodes, size_t n, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;

	if (sq_exec(q, "BEGIN IMMEDIATE", e, "starting node save") < 0)
		return STORE_ERROR;
	if (sqlite3_prepare_v2(q->db,
	                       "UPDATE nodes SET operational_state = ?2, attestation_count = ?3,"
	                       " last_received_quote = ?4, last_successful_attestation = ?5,"
	                       " last_event_id = ?6, failure_reason = ?7, ima_state = ?8,"
	                       " mb_log_digest = ?9, tpm_clock = ?10, tpm_reset_count = ?11,"
	                       " tpm_restart_count = ?12, api_version = ?13, updated = ?14,"
	                       " ima_keys = ?22"
	                       " WHERE uuid = ?1",
	                       -1, &st, NULL) != SQLITE_OK) {
		sq_fail(q, e, "preparing node save");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (sq_bind_text(st, 1, nodes[i]->uuid) || sq_bind_progress(st, nodes[i]) ||
		    sqlite3_step(st) != SQLITE_DONE) {
			sq_fail(q, e, "saving node");
			goto out;
		}
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sq_exec(q, "COMMIT", e, "committing node save") < 0)
		goto out;
	rc = STORE_OK;
out:
	sqlite3_finalize(st);
	if (rc != STORE_OK)
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* ---- verifier: policies ---- */

static store_rc_t sq_policy_put(void *h, const char *name, const char *kind, const uint8_t *body,
                                size_t len, const char *sha256, int replace, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	int r;

	if (sq_exec(q, "BEGIN IMMEDIATE", e, "starting policy put") < 0)
		return STORE_ERROR;
	/* An existing name: refuse, or check the kind before moving it. */
	if (sqlite3_prepare_v2(q->db, "SELECT kind FROM policy_names WHERE name = ?1", -1, &st,
	                       NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, name)) {
		sq_fail(q, e, "preparing policy lookup");
		goto out;
	}
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		if (!replace) {
			err_set(e, "a policy named %s exists (replace it explicitly)", name);
			rc = STORE_EXISTS;
			goto out;
		}
		if (strcmp((const char *)sqlite3_column_text(st, 0), kind) != 0) {
			err_set(e, "policy %s is of kind %s, not %s", name,
			        (const char *)sqlite3_column_text(st, 0), kind);
			rc = STORE_EXISTS;
			goto out;
		}
	} else if (r != SQLITE_DONE) {
		sq_fail(q, e, "looking up policy");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(
	        q->db,
	        "INSERT INTO policies (sha256, kind, body, created) VALUES (?1, ?2, ?3, ?4)"
	        " ON CONFLICT (sha256) DO NOTHING",
	        -1, &st, NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, sha256) || sq_bind_text(st, 2, kind) ||
	    sqlite3_bind_blob(st, 3, body, (int)len, SQLITE_TRANSIENT) ||
	    sqlite3_bind_int64(st, 4, sq_now()) || sqlite3_step(st) != SQLITE_DONE) {
		sq_fail(q, e, "storing policy body");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(q->db,
	                       "INSERT INTO policy_names (name, kind, sha256, created, updated)"
	                       " VALUES (?1, ?2, ?3, ?4, ?4)"
	                       " ON CONFLICT (name) DO UPDATE SET sha256 = ?3, updated = ?4",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, name) || sq_bind_text(st, 2, kind) || sq_bind_text(st, 3, sha256) ||
	    sqlite3_bind_int64(st, 4, sq_now()) || sqlite3_step(st) != SQLITE_DONE) {
		sq_fail(q, e, "storing policy name");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sq_exec(q, "DELETE FROM policies WHERE sha256 NOT IN (SELECT sha256 FROM policy_names)",
	            e, "removing unused policy bodies") < 0 ||
	    sq_exec(q, "COMMIT", e, "committing policy") < 0)
		goto out;
	rc = STORE_OK;
out:
	sqlite3_finalize(st);
	if (rc != STORE_OK)
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static void sq_policy_row(sqlite3_stmt *st, store_policy_t *p, int with_body)
{
	const unsigned char *sha = sqlite3_column_text(st, 2);

	p->name = sq_col_dup(st, 0);
	p->kind = sq_col_dup(st, 1);
	snprintf(p->sha256, sizeof(p->sha256), "%s", sha ? (const char *)sha : "");
	p->created = sq_col_i64(st, 3);
	p->body_len = (size_t)sqlite3_column_bytes(st, 4);
	if (with_body)
		p->body = xmemdup(sqlite3_column_blob(st, 4), p->body_len);
}

static store_rc_t sq_policy_get(void *h, const char *name, int with_body, store_policy_t *out,
                                err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	int r;

	if (sqlite3_prepare_v2(
	        q->db,
	        "SELECT n.name, n.kind, n.sha256, n.created, p.body FROM policy_names n"
	        " JOIN policies p ON p.sha256 = n.sha256 WHERE n.name = ?1",
	        -1, &st, NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, name)) {
		sq_fail(q, e, "preparing policy get");
		goto out;
	}
	r = sqlite3_step(st);
	if (r == SQLITE_DONE) {
		err_set(e, "no policy named %s", name);
		rc = STORE_NOT_FOUND;
	} else if (r != SQLITE_ROW) {
		sq_fail(q, e, "reading policy");
	} else {
		sq_policy_row(st, out, with_body);
		rc = STORE_OK;
	}
out:
	sqlite3_finalize(st);
	return rc;
}

static store_rc_t sq_policy_list(void *h, const char *kind, store_policy_t **out, size_t *n,
                                 err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	store_policy_t *v = NULL;
	size_t k = 0, cap = 0;
	int r;

	if (sqlite3_prepare_v2(
	        q->db,
	        "SELECT n.name, n.kind, n.sha256, n.created, p.body FROM policy_names n"
	        " JOIN policies p ON p.sha256 = n.sha256"
	        " WHERE ?1 IS NULL OR n.kind = ?1 ORDER BY n.name",
	        -1, &st, NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, kind)) {
		sq_fail(q, e, "preparing policy list");
		goto out;
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (k == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof(*v));
		}
		memset(&v[k], 0, sizeof(v[k]));
		sq_policy_row(st, &v[k++], 0);
	}
	if (r != SQLITE_DONE) {
		sq_fail(q, e, "listing policies");
		store_policies_free(v, k);
		goto out;
	}
	*out = v;
	*n = k;
	rc = STORE_OK;
out:
	sqlite3_finalize(st);
	return rc;
}

static store_rc_t sq_policy_delete(void *h, const char *name, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;

	if (sq_exec(q, "BEGIN IMMEDIATE", e, "starting policy delete") < 0)
		return STORE_ERROR;
	if (sqlite3_prepare_v2(q->db,
	                       "SELECT uuid FROM nodes WHERE tpm_policy = ?1 OR runtime_policy = ?1"
	                       " OR mb_policy = ?1 LIMIT 1",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sq_bind_text(st, 1, name)) {
		sq_fail(q, e, "preparing policy use check");
		goto out;
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		err_set(e, "policy %s is in use by node %s", name,
		        (const char *)sqlite3_column_text(st, 0));
		rc = STORE_IN_USE;
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	rc = sq_agent_change(q, "DELETE FROM policy_names WHERE name = ?1", name, e,
	                     "deleting policy");
	if (rc != STORE_OK)
		goto out;
	rc = STORE_ERROR;
	if (sq_exec(q, "DELETE FROM policies WHERE sha256 NOT IN (SELECT sha256 FROM policy_names)",
	            e, "removing unused policy bodies") < 0 ||
	    sq_exec(q, "COMMIT", e, "committing policy delete") < 0)
		goto out;
	rc = STORE_OK;
out:
	sqlite3_finalize(st);
	if (rc != STORE_OK)
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	if (rc == STORE_NOT_FOUND)
		err_set(e, "no policy named %s", name);
	return rc;
}

/* ---- verifier: events ---- */

/* SHA-256 over the previous hash and every field of the row, hex into out[65]. */
static void sq_event_hash(const char *prev, int64_t seq, int64_t t, const char *node,
                          const char *type, const char *severity, const char *body, char out[65])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned char md[32];
	char num[64];

	if (c == NULL)
		fatalx("out of memory");
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	snprintf(num, sizeof(num), "%lld\n%lld\n", (long long)seq, (long long)t);
	EVP_DigestUpdate(c, prev, strlen(prev));
	EVP_DigestUpdate(c, "\n", 1);
	EVP_DigestUpdate(c, num, strlen(num));
	/* Lengths first, so field boundaries cannot be moved without changing the hash. */
	const char *f[4] = {node ? node : "", type, severity ? severity : "", body};
	for (int i = 0; i < 4; i++) {
		snprintf(num, sizeof(num), "%zu:", strlen(f[i]));
		EVP_DigestUpdate(c, num, strlen(num));
		EVP_DigestUpdate(c, f[i], strlen(f[i]));
	}
	EVP_DigestFinal_ex(c, md, NULL);
	EVP_MD_CTX_free(c);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static store_rc_t sq_event_append(void *h, const char *node_uuid, const char *type,
                                  const char *severity, const char *body_json, char id_out[40],
                                  err_t *e)
{
	static const char zeros[65] =
	    "0000000000000000000000000000000000000000000000000000000000000000";
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	char prev[65], hash[65], id[40];
	int64_t seq = 1, t;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	t = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (sq_exec(q, "BEGIN IMMEDIATE", e, "starting event append") < 0)
		return STORE_ERROR;
	memcpy(prev, zeros, sizeof(prev));
	if (sqlite3_prepare_v2(q->db, "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1", -1,
	                       &st, NULL) != SQLITE_OK) {
		sq_fail(q, e, "reading the last event");
		goto out;
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		seq = sqlite3_column_int64(st, 0) + 1;
		snprintf(prev, sizeof(prev), "%s", (const char *)sqlite3_column_text(st, 1));
	}
	sqlite3_finalize(st);
	st = NULL;
	sq_event_hash(prev, seq, t, node_uuid, type, severity, body_json, hash);
	snprintf(id, sizeof(id), "%lld-%.16s", (long long)seq, hash);
	if (sqlite3_prepare_v2(q->db,
	                       "INSERT INTO events (seq, id, time, node_uuid, type, severity, body,"
	                       " prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, seq) || sq_bind_text(st, 2, id) ||
	    sqlite3_bind_int64(st, 3, t) || sq_bind_text(st, 4, node_uuid) ||
	    sq_bind_text(st, 5, type) || sq_bind_text(st, 6, severity) ||
	    sq_bind_text(st, 7, body_json) || sq_bind_text(st, 8, prev) ||
	    sq_bind_text(st, 9, hash) || sqlite3_step(st) != SQLITE_DONE) {
		sq_fail(q, e, "appending event");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sq_exec(q, "COMMIT", e, "committing event") < 0)
		goto out;
	if (id_out)
		memcpy(id_out, id, sizeof(id));
	rc = STORE_OK;
out:
	sqlite3_finalize(st);
	if (rc != STORE_OK)
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static store_rc_t sq_event_verify_chain(void *h, err_t *e)
{
	sq_t *q = h;
	sqlite3_stmt *st = NULL;
	store_rc_t rc = STORE_ERROR;
	char prev[65] = "0000000000000000000000000000000000000000000000000000000000000000";
	char hash[65];
	int64_t expect = 1;
	int r;

	if (sqlite3_prepare_v2(q->db,
	                       "SELECT seq, time, node_uuid, type, severity, body, prev_hash, hash"
	                       " FROM events ORDER BY seq",
	                       -1, &st, NULL) != SQLITE_OK) {
		sq_fail(q, e, "reading events");
		goto out;
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(st, 0);
		const char *stored_prev = (const char *)sqlite3_column_text(st, 6);
		const char *stored = (const char *)sqlite3_column_text(st, 7);

		sq_event_hash(prev, seq, sqlite3_column_int64(st, 1),
		              (const char *)sqlite3_column_text(st, 2),
		              (const char *)sqlite3_column_text(st, 3),
		              (const char *)sqlite3_column_text(st, 4),
		              (const char *)sqlite3_column_text(st, 5), hash);
		if (seq != expect || stored_prev == NULL || strcmp(stored_prev, prev) != 0 ||
		    stored == NULL || strcmp(stored, hash) != 0) {
			err_set(e, "event chain broken at seq %lld", (long long)seq);
			goto out;
		}
		memcpy(prev, hash, sizeof(prev));
		expect++;
	}
	if (r != SQLITE_DONE) {
		sq_fail(q, e, "reading events");
		goto out;
	}
	rc = STORE_OK;
out:
	sqlite3_finalize(st);
	return rc;
}

const store_ops_t store_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .schema_version = sq_schema_version,
    .agent_put = sq_agent_put,
    .agent_get = sq_agent_get,
    .agent_list = sq_agent_list,
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
    .node_set_mtls_cert = sq_node_set_mtls_cert,
    .policy_put = sq_policy_put,
    .policy_get = sq_policy_get,
    .policy_list = sq_policy_list,
    .policy_delete = sq_policy_delete,
    .event_append = sq_event_append,
    .event_verify_chain = sq_event_verify_chain,
};

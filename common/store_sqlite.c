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

#include "common/log.h"
#include "common/store_backend.h"
#include "common/xmalloc.h"

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

    /* 2: verifier state (DESIGN.md section 4 and 5). Created now so that the verifier
     * issue adds code, not a schema rewrite. */
    /* Policies are content-addressed: the key is the SHA-256 of the body, so nodes that
     * share a policy share one row; a name is an optional handle for operators. */
    "CREATE TABLE policies ("
    " sha256 TEXT PRIMARY KEY NOT NULL," /* lowercase hex of SHA-256(body) */
    " kind TEXT NOT NULL CHECK (kind IN ('runtime', 'measured_boot', 'tpm_pcr')),"
    " name TEXT,"          /* operator's name, unique per kind */
    " body BLOB NOT NULL," /* the policy document */
    " created INTEGER NOT NULL"
    ");"
    "CREATE UNIQUE INDEX policies_kind_name ON policies (kind, name) WHERE name IS NOT NULL;"

    "CREATE TABLE nodes ("
    " uuid TEXT PRIMARY KEY NOT NULL,"
    " ak_tpm TEXT NOT NULL," /* base64 TPM2B_PUBLIC of the AK */
    " ek_tpm TEXT,"          /* base64 TPM2B_PUBLIC of the EK, if known */
    " ip TEXT NOT NULL,"     /* agent contact */
    " port INTEGER NOT NULL,"
    " mtls_cert TEXT,"   /* agent's HTTPS certificate PEM */
    " api_version TEXT," /* negotiated Keylime API version, e.g. '2.6' */
    " tpm_policy TEXT REFERENCES policies (sha256),"
    " runtime_policy TEXT REFERENCES policies (sha256),"
    " mb_policy TEXT REFERENCES policies (sha256),"
    " accept_hash_algs TEXT," /* JSON lists, as Keylime's tenant sends them */
    " accept_enc_algs TEXT,"
    " accept_sign_algs TEXT,"
    " payload_v BLOB,"                               /* V half of the payload key, or NULL */
    " operational_state INTEGER NOT NULL DEFAULT 1," /* Keylime states: 1 START ... */
    " attestation_count INTEGER NOT NULL DEFAULT 0,"
    " last_received_quote INTEGER," /* unix seconds */
    " last_successful_attestation INTEGER,"
    " last_event_id TEXT,"                        /* failure event id of the last failure */
    " failure_reason TEXT,"                       /* text of the last failure */
    " ima_next_entry INTEGER NOT NULL DEFAULT 0," /* next IMA log line to ask for */
    " boottime INTEGER,"                          /* agent-reported boot time, if any */
    " mb_log_digest TEXT,"                        /* SHA-256 of the last UEFI log that passed */
    " tpm_clock INTEGER,"                         /* TPMS_CLOCK_INFO of the last quote */
    " tpm_reset_count INTEGER,"
    " tpm_restart_count INTEGER,"
    " lease_owner TEXT,"     /* verifier instance that owns the node */
    " lease_expiry INTEGER," /* unix milliseconds */
    " created INTEGER NOT NULL,"
    " updated INTEGER NOT NULL"
    ");"
    "CREATE INDEX nodes_lease ON nodes (lease_expiry);"

    /* The running IMA PCR 10 per bank, so a takeover resumes at ima_next_entry. */
    "CREATE TABLE node_ima_pcr ("
    " uuid TEXT NOT NULL REFERENCES nodes (uuid) ON DELETE CASCADE,"
    " bank TEXT NOT NULL,"  /* 'sha1', 'sha256', ... */
    " pcr10 TEXT NOT NULL," /* lowercase hex */
    " PRIMARY KEY (uuid, bank)"
    ");"

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
	        " regcount, active, pending_key, created, updated)"
	        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)"
	        " ON CONFLICT (agent_id) DO UPDATE SET ek_tpm = ?2, ekcert = ?3, aik_tpm = ?4,"
	        " mtls_cert = ?5, ip = ?6, port = ?7, regcount = ?8, active = ?9,"
	        " pending_key = ?10, updated = ?11",
	        -1, &st, NULL) != SQLITE_OK) {
		sq_fail(q, e, "preparing agent insert");
		goto out;
	}
	if (sq_bind_text(st, 1, a->agent_id) || sq_bind_text(st, 2, a->ek_tpm) ||
	    sq_bind_text(st, 3, a->ekcert) || sq_bind_text(st, 4, a->aik_tpm) ||
	    sq_bind_text(st, 5, a->mtls_cert) || sq_bind_text(st, 6, a->ip) ||
	    sqlite3_bind_int(st, 7, a->port) || sqlite3_bind_int(st, 8, a->regcount) ||
	    sqlite3_bind_int(st, 9, a->active ? 1 : 0) || sq_bind_text(st, 10, a->pending_key) ||
	    sqlite3_bind_int64(st, 11, now)) {
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
	                       " regcount, active, pending_key, created, updated"
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

static store_rc_t sq_agent_activate(void *h, const char *agent_id, err_t *e)
{
	return sq_agent_change(h,
	                       "UPDATE registrar_agents SET active = 1, pending_key = NULL,"
	                       " updated = ?2 WHERE agent_id = ?1 AND active = 0",
	                       agent_id, e, "activating agent");
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
};

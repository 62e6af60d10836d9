/* store_testdb: a fresh, empty database for a store unit test, and a side door to it (raw
 * SQL through a connection of its own, as an outside observer or an attacker with database
 * access would use). SQLite by default: a file under /tmp. With VIGIL_TEST_STORE_URL set to
 * a PostgreSQL URL (a database the test may connect to, usually "postgres"; see
 * test/integration/t_store_pg.sh), each fresh database is a new PostgreSQL database on that
 * server, created here and dropped at the end, so the same tests run on both backends.
 * Header-only (static inline) so that each test binary still links only what it tests. */
#ifndef VIGIL_TEST_STORE_TESTDB_H
#define VIGIL_TEST_STORE_TESTDB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

typedef struct tdb {
	int pg;          /* 1: PostgreSQL, 0: SQLite */
	char path[96];   /* SQLite: the database file */
	char name[64];   /* PostgreSQL: the database's name */
	char url[1024];  /* the store URL of the fresh database */
	char admin[960]; /* PostgreSQL: VIGIL_TEST_STORE_URL, to create and drop it */
} tdb_t;

/* The backend the tests run on, for messages and skips. */
static inline int tdb_use_pg(void)
{
	const char *u = getenv("VIGIL_TEST_STORE_URL");

	return u != NULL && strncmp(u, "postgres", 8) == 0;
}

/* base with its database name (the URI path) replaced by name, into out. */
static inline int tdb_url_with_db(const char *base, const char *name, char *out, size_t size)
{
	const char *auth = strstr(base, "://"), *path, *rest;
	int n;

	if (auth == NULL)
		return -1;
	auth += 3;
	path = auth + strcspn(auth, "/?");
	rest = *path == '/' ? path + 1 + strcspn(path + 1, "?") : path;
	n = snprintf(out, size, "%.*s/%s%s", (int)(path - base), base, name, rest);
	return n > 0 && (size_t)n < size ? 0 : -1;
}

/* Run sql on the admin connection (PostgreSQL): 0 or -1 (printed). */
static inline int tdb_admin(const tdb_t *t, const char *sql)
{
	PGconn *c = PQconnectdb(t->admin);
	PGresult *r = NULL;
	int rv = -1;

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "# test database server: %s", PQerrorMessage(c));
		goto out;
	}
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "# %s: %s", sql, PQerrorMessage(c));
		goto out;
	}
	rv = 0;
out:
	PQclear(r);
	PQfinish(c);
	return rv;
}

/* A fresh, empty database named after tag: 0, or -1 when it cannot be made. */
static inline int tdb_create(tdb_t *t, const char *tag)
{
	static int counter;
	char sql[128];
	int fd;

	memset(t, 0, sizeof(*t));
	if (!tdb_use_pg()) {
		snprintf(t->path, sizeof(t->path), "/tmp/vigil-test-%s-XXXXXX", tag);
		if ((fd = mkstemp(t->path)) < 0)
			return -1;
		close(fd);
		snprintf(t->url, sizeof(t->url), "sqlite:%s", t->path);
		return 0;
	}
	t->pg = 1;
	snprintf(t->admin, sizeof(t->admin), "%s", getenv("VIGIL_TEST_STORE_URL"));
	snprintf(t->name, sizeof(t->name), "vigil_%s_%d_%d", tag, (int)getpid(), counter++);
	for (char *c = t->name; *c; c++)
		if (*c == '-')
			*c = '_';
	if (tdb_url_with_db(t->admin, t->name, t->url, sizeof(t->url)) < 0)
		return -1;
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", t->name);
	return tdb_admin(t, sql);
}

/* Remove the database (and SQLite's side files). */
static inline void tdb_destroy(tdb_t *t)
{
	char p[128], sql[128];

	if (t->pg) {
		snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", t->name);
		tdb_admin(t, sql);
		return;
	}
	if (t->path[0] == '\0')
		return;
	unlink(t->path);
	snprintf(p, sizeof(p), "%s-wal", t->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", t->path);
	unlink(p);
}

/* Run sql (one or more statements) on a connection of its own: 0, or -1 when the database
 * refused it (the refusal is what some tests expect). */
static inline int tdb_exec(const tdb_t *t, const char *sql)
{
	int rv = -1;

	if (t->pg) {
		PGconn *c = PQconnectdb(t->url);
		PGresult *r = NULL;

		if (PQstatus(c) == CONNECTION_OK) {
			r = PQexec(c, sql);
			rv = PQresultStatus(r) == PGRES_COMMAND_OK ||
			             PQresultStatus(r) == PGRES_TUPLES_OK
			         ? 0
			         : -1;
		}
		PQclear(r);
		PQfinish(c);
	} else {
		sqlite3 *db = NULL;

		if (sqlite3_open(t->path, &db) == SQLITE_OK &&
		    sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
			rv = 0;
		sqlite3_close(db);
	}
	return rv;
}

/* The first column of the first row sql yields, as a number; -1 when there is none or the
 * query fails. */
static inline long long tdb_value(const tdb_t *t, const char *sql)
{
	long long v = -1;

	if (t->pg) {
		PGconn *c = PQconnectdb(t->url);
		PGresult *r = NULL;

		if (PQstatus(c) == CONNECTION_OK) {
			r = PQexec(c, sql);
			if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 &&
			    !PQgetisnull(r, 0, 0))
				v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		}
		PQclear(r);
		PQfinish(c);
	} else {
		sqlite3 *db = NULL;
		sqlite3_stmt *st = NULL;

		if (sqlite3_open_v2(t->path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
		    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
	return v;
}

#endif

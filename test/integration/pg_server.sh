# pg_server.sh: a throwaway PostgreSQL server for tests (sourced by lib.sh and
# t_store_pg.sh). Debian's postgresql package provides the server binaries in
# /usr/lib/postgresql/VERSION/bin (not on PATH); initdb makes a cluster in a temp dir of its
# own, and the server listens only on a unix socket in that dir (listen_addresses is
# empty: no TCP port at all, so nothing to collide with and nothing reachable from outside).
#
# initdb and the server refuse to run as root. As root, both run as `nobody` (setpriv,
# the data dir owned by nobody); the clients connect as root through the socket. The
# cluster's superuser is the role "vigil", with trust authentication on the socket only;
# the socket dir is 0700 and owned by the server's user, so only that user and root reach
# it.
#
# For speed the server runs with fsync=off: a throwaway cluster need not survive a power
# loss, and commits are still synchronous with respect to other connections.
#
#   pg_server_start      start it; sets PG_DIR, PG_ADMIN_URL (database "postgres") and
#                        PG_URL (database "vigil", created empty), PG_SERVER_PID
#   pg_server_stop       stop it (pg_ctl stop: a signal to the postmaster's PID) and
#                        remove PG_DIR
#   pg_server_psql ARGS  psql against PG_URL

pg_server_bindir() {
	local d
	if command -v pg_config >/dev/null 2>&1 && d=$(pg_config --bindir 2>/dev/null) &&
		[ -x "$d/initdb" ]; then
		echo "$d"
		return 0
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		[ -x "$d/initdb" ] && { echo "$d"; return 0; }
	done
	return 1
}

# _pg_as CMD...: run CMD as the server's user (nobody when we are root).
_pg_as() {
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups --reset-env -- "$@"
	else
		"$@"
	fi
}

pg_server_start() {
	local bin
	bin=$(pg_server_bindir) || { echo "pg_server_start: no PostgreSQL server binaries (initdb)" >&2; return 1; }
	PG_BIN=$bin
	PG_DIR=$(mktemp -d /tmp/vigil-pg.XXXXXX) || return 1
	[ "$(id -u)" -ne 0 ] || chown nobody "$PG_DIR"
	chmod 700 "$PG_DIR"
	if ! _pg_as "$bin/initdb" -D "$PG_DIR/data" -U vigil --auth=trust -E UTF8 --locale=C.UTF-8 \
		--no-sync >"$PG_DIR/initdb.log" 2>&1; then
		echo "pg_server_start: initdb failed:" >&2
		tail -5 "$PG_DIR/initdb.log" >&2
		return 1
	fi
	# pg_ctl -w waits until the server accepts connections (no sleeps here).
	if ! _pg_as "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
		-o "-c listen_addresses='' -k $PG_DIR -p 5432 -c fsync=off -c full_page_writes=off -c max_connections=300" \
		start >"$PG_DIR/pg_ctl.log" 2>&1; then
		echo "pg_server_start: the server did not start:" >&2
		tail -5 "$PG_DIR/server.log" >&2
		return 1
	fi
	PG_SERVER_PID=$(head -1 "$PG_DIR/data/postmaster.pid")
	PG_ADMIN_URL="postgresql://vigil@/postgres?host=$PG_DIR&port=5432"
	PG_URL="postgresql://vigil@/vigil?host=$PG_DIR&port=5432"
	"$bin/psql" -qAtX "$PG_ADMIN_URL" -c "CREATE DATABASE vigil" >/dev/null || return 1
}

pg_server_psql() {
	"$PG_BIN/psql" -qAtX "$PG_URL" "$@"
}

pg_server_stop() {
	[ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ] || return 0
	if [ -n "${PG_SERVER_PID:-}" ] && kill -0 "$PG_SERVER_PID" 2>/dev/null; then
		_pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
			kill -9 "$PG_SERVER_PID" 2>/dev/null
	fi
	rm -rf "$PG_DIR"
	PG_DIR=
}

#!/usr/bin/env bash
# The store on PostgreSQL: the store's unit tests (test/unit/test_store*.c) against a
# PostgreSQL server this test starts itself (pg_server.sh: initdb + pg_ctl in a temp dir, a
# unix socket only; as root, the server runs as nobody).
# Setup: the server, VIGIL_TEST_STORE_URL pointing at its "postgres" database (each test
# creates and drops databases of its own there).
# Actions and expected outcome: every cmocka test of test_store, test_store_audit,
# test_store_outbox, test_store_verifier and test_verifier_storeq (the verifier's store
# thread, its queue fed while another session locks the nodes table) passes as on SQLite, among them migrations and
# the refusal of a newer schema, the append-only triggers, the one-transaction event
# commit, and four processes appending to one chain at once with the chain intact after.
# Each cmocka test is reported as one "ok"/"not ok" line.
. "$(dirname "$0")/lib.sh"

if ! pg_server_bindir >/dev/null; then
	echo "skip server: no PostgreSQL server binaries (deploy/deps.sh installs postgresql)"
	exit 0
fi
pg_server_start
check "a throwaway PostgreSQL server starts (unix socket in a temp dir)" $? || exit 1

for t in store store_audit store_outbox store_verifier verifier_storeq; do
	bin=$TOP/build/test/test_$t
	log=$T/test_$t.log
	VIGIL_TEST_STORE_URL=$PG_ADMIN_URL CMOCKA_MESSAGE_OUTPUT=stdout "$bin" >"$log" 2>&1
	rc=$?
	n=0
	while IFS= read -r line; do
		case $line in
		"[       OK ] "*) check "$t/${line#\[       OK \] }" 0; n=$((n + 1)) ;;
		"[  FAILED  ] "*[0-9]" test(s)"*) ;;
		"[  FAILED  ] "*) check "$t/${line#\[  FAILED  \] }" 1; n=$((n + 1)) ;;
		esac
	done < <(grep -E '^\[ +(OK|FAILED) +\] ' "$log" | awk '!seen[$0]++')
	if [ $n -eq 0 ] || [ $rc -ne 0 ]; then
		check "$t ran to the end (exit $rc)" 1
		sed 's/^/#   /' "$log" | tail -20
	fi
done
# Every test dropped the databases it made.
left=$("$PG_BIN/psql" -qAtX "$PG_ADMIN_URL" -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'vigil\_%'")
[ "$left" = 0 ]
check "the tests leave no database behind" $?

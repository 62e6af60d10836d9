#!/usr/bin/env bash
# vigil.v1.Registrar, the registrar's gRPC API (docs/api.md), with a stock grpcio client
# and with vigilctl enrollment.
# Setup: a fleet CA (registrar server certificate, an admin client certificate) and a
#   second CA with its own client certificate; a test EK CA (ECC P-256); vigil-registrar
#   with registrar.grpc_listen on a free port (mutual TLS) and a fresh SQLite database;
#   250 nodes enrolled by vigil-loadgen --register-only (register + activate each).
# Actions and expected outcome:
#   - ListEnrollments in pages of 100: 100, 100, 50, then no token; every uuid exactly once,
#     in byte order; page_size 0 means 100;
#   - a list page carries no key material unless full = true;
#   - GetEnrollment gives what the REST GET gives (EK and AK as TPM2B_PUBLIC bytes, the EK
#     certificate as DER), and the EK identity matches the certificate's key;
#   - two enrollments deleted between two pages make no other one skip or repeat; the
#     deletion is logged with the client's address;
#   - NOT_FOUND names the uuid; INVALID_ARGUMENT names page_size (5000), page_token (garbage)
#     and uuid;
#   - a registration never activated is shown, with active = false;
#   - a client without a certificate, or with one from another CA, is refused;
#   - vigilctl enrollment list (--all, --page-size, --json), show and delete work against it.
. "$(dirname "$0")/lib.sh"

LG=$BIN/vigil-loadgen
N=250
PY=/usr/bin/python3
[ -x "$LG" ] || { echo "not ok vigil-loadgen built"; exit 1; }
$PY -c 'import grpc, grpc_tools, cryptography' 2>/dev/null ||
	{ echo "skip registrar_grpc: python3-grpcio, python3-grpc-tools or python3-cryptography missing"; exit 0; }
export VIGIL_PB_DIR=$T/pb

"$BIN/vigilctl" ca init "$T/ca" >/dev/null &&
	"$BIN/vigilctl" ca issue "$T/ca" registrar --server >/dev/null &&
	"$BIN/vigilctl" ca issue "$T/ca" admin --client >/dev/null &&
	"$BIN/vigilctl" ca issue "$T/ca" loadgen --server --san 127.0.0.1 >/dev/null &&
	"$BIN/vigilctl" ca init "$T/other" >/dev/null &&
	"$BIN/vigilctl" ca issue "$T/other" admin --client >/dev/null || exit 1
mkdir -p "$T/ekca" "$T/ek-ca-dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=registrar_grpc EK CA" -keyout "$T/ekca/ca.key" -out "$T/ekca/ca.crt" \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
	2>/dev/null || exit 1
cp "$T/ekca/ca.crt" "$T/ek-ca-dir/"

REGISTRAR_ADDR=127.0.0.1:$(free_port)
REGISTRAR_TLS_ADDR=127.0.0.1:$(free_port)
GRPC=127.0.0.1:$(free_port)
spawn "$T/registrar.log" "$BIN/vigil-registrar" -d -o registrar.listen="$REGISTRAR_ADDR" \
	-o registrar.tls_listen="$REGISTRAR_TLS_ADDR" -o registrar.grpc_listen="$GRPC" \
	-o registrar.tls_cert="$T/ca/registrar.crt" -o registrar.tls_key="$T/ca/registrar.key" \
	-o registrar.trusted_client_ca="$T/ca/ca.crt" -o registrar.ek_ca_dir="$T/ek-ca-dir" \
	-o registrar.state_dir="$T" -o registrar.database="sqlite:$T/registrar.db" \
	-o registrar.metrics_listen=
for _ in $(seq 100); do
	grep -q "registrar ready: .*gRPC on $GRPC" "$T/registrar.log" && break
	sleep 0.1
done
grep -q "registrar ready: .*gRPC on $GRPC" "$T/registrar.log"
check "the registrar serves its gRPC API on registrar.grpc_listen" $? || exit 1

"$LG" -n $N --port "$(free_port)" --cert "$T/ca/loadgen.crt" --key "$T/ca/loadgen.key" \
	--client-ca "$T/ca/ca.crt" --nodes-out "$T/nodes.jsonl" --registrar "$REGISTRAR_ADDR" \
	--ek-ca-cert "$T/ekca/ca.crt" --ek-ca-key "$T/ekca/ca.key" --register-conns 8 \
	--register-only >"$T/loadgen.log" 2>&1
grep -q "^registered: $N of $N nodes" "$T/loadgen.log"
check "the loadgen enrolls $N nodes (register + activate)" $? || { cat "$T/loadgen.log"; exit 1; }
sed -n 's/.*"uuid": "\([^"]*\)".*/\1/p' "$T/nodes.jsonl" >"$T/uuids"

TLS=(--ca "$T/ca/ca.crt" --cert "$T/ca/admin.crt" --key "$T/ca/admin.key")
rg() { $PY "$TOP/test/integration/registrar_grpc.py" "$1" "$GRPC" "${TLS[@]}" "${@:2}"; }
vctl_reg() {
	"$BIN/vigilctl" enrollment "$@" --registrar-grpc "$GRPC" --tls-ca "$T/ca/ca.crt" \
		--tls-cert "$T/ca/admin.crt" --tls-key "$T/ca/admin.key"
}

rg pages "$T/uuids" >"$T/pages.out" 2>&1
check "ListEnrollments pages 250 by 100: 100, 100, 50, no token last; each uuid once, sorted" $? ||
	cat "$T/pages.out"

rg summary >"$T/summary.out" 2>&1
check "a list page carries the key material only with full = true" $? || cat "$T/summary.out"

U1=$(sort "$T/uuids" | sed -n 7p)
curl -sf --cacert "$T/ca/ca.crt" --cert "$T/ca/admin.crt" --key "$T/ca/admin.key" \
	"https://$REGISTRAR_TLS_ADDR/v2.6/agents/$U1" -o "$T/rest.json"
rg get "$U1" "$T/rest.json" >"$T/get.out" 2>&1
check "GetEnrollment gives what the REST GET gives (EK, AK, EK cert DER, ek_key of its key)" $? ||
	cat "$T/get.out"

# vigilctl before the deletions: all 250.
vctl_reg list --all >"$T/ctl-all.out" 2>"$T/ctl-all.err"
[ $? = 0 ] && [ "$(grep -c ' active ' "$T/ctl-all.out")" = $N ] && [ ! -s "$T/ctl-all.err" ] &&
	head -1 "$T/ctl-all.out" | grep -q '^UUID *STATE *EK CERT'
check "vigilctl enrollment list --all follows the pages: $N active enrollments" $? ||
	{ head -3 "$T/ctl-all.out"; cat "$T/ctl-all.err"; }
vctl_reg list --page-size 100 >"$T/ctl-page.out" 2>"$T/ctl-page.err"
[ $? = 0 ] && [ "$(($(wc -l <"$T/ctl-page.out") - 1))" = 100 ] &&
	grep -q '100 shown; more follow: --page-token ' "$T/ctl-page.err"
check "vigilctl enrollment list --page-size 100 prints one page and the token to go on" $? ||
	cat "$T/ctl-page.err"
tok=$(sed -n 's/.*--page-token \([^ ]*\) .*/\1/p' "$T/ctl-page.err")
vctl_reg list --page-size 200 --page-token "$tok" --json >"$T/ctl-json.out" &&
	$PY - "$T/ctl-json.out" "$T/uuids" <<'EOF'
import json, sys
o = json.load(open(sys.argv[1]))
want = sorted(open(sys.argv[2]).read().split())[100:]
sys.exit(0 if [e["uuid"] for e in o["enrollments"]] == want and o["next_page_token"] == ""
         and all(e["active"] and e["has_ekcert"] for e in o["enrollments"]) else 1)
EOF
check "vigilctl enrollment list --page-token --json continues where the page ended" $?
vctl_reg show "$U1" >"$T/ctl-show.out" 2>&1
[ $? = 0 ] && grep -q "^uuid: *$U1\$" "$T/ctl-show.out" &&
	grep -q '^state: *active' "$T/ctl-show.out" &&
	grep -q '^ekcert issuer: .*registrar_grpc EK CA' "$T/ctl-show.out" &&
	grep -q 'BEGIN CERTIFICATE' "$T/ctl-show.out"
check "vigilctl enrollment show prints the enrollment with its EK certificate" $? ||
	cat "$T/ctl-show.out"
vctl_reg show "$U1" --json >"$T/ctl-show.json" &&
	$PY - "$T/ctl-show.json" "$T/rest.json" <<'EOF'
import json, sys
s, r = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))["results"]
sys.exit(0 if all(s[k] == r[k] for k in ("ek_tpm", "aik_tpm", "ekcert", "mtls_cert", "ip",
                                         "port", "regcount")) else 1)
EOF
check "vigilctl enrollment show --json spells ek_tpm, aik_tpm and ekcert as the REST GET does" $?

rg delete-between "$T/uuids" >"$T/delete.out" 2>&1
check "enrollments deleted between two pages make no other one skip or repeat" $? ||
	cat "$T/delete.out"
gone=$(sed -n 's/^deleted: //p' "$T/delete.out")
for u in $gone; do
	grep -q "agent $u deleted by an administrator from 127.0.0.1 (gRPC)" "$T/registrar.log" ||
		gone=missing
done
[ "$gone" != missing ] && [ -n "$gone" ]
check "each deletion is logged with the client's address" $?

GHOST=00000000-dead-beef-0000-000000000000
rg errors "$GHOST" >"$T/errors.out" 2>&1
check "NOT_FOUND names the uuid; INVALID_ARGUMENT names page_size, page_token, uuid" $? ||
	cat "$T/errors.out"

# A registration that was never activated, as the registrar stores one (a copy of an
# enrollment under another id, active = 0, with a pending challenge key).
$PY - "$T/registrar.db" "$U1" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
db.execute("INSERT INTO registrar_agents (agent_id, ek_tpm, ekcert, aik_tpm, mtls_cert, ip,"
           " port, regcount, active, pending_key, created, updated, ek_key)"
           " SELECT 'zz-pending', ek_tpm, ekcert, aik_tpm, mtls_cert, ip, port, 1, 0,"
           " 'cGVuZGluZw==', created, updated, ek_key FROM registrar_agents WHERE agent_id = ?",
           (sys.argv[2],))
db.commit()
EOF
rg pending zz-pending >"$T/pending.out" 2>&1
check "a registration never activated is shown with active = false" $? || cat "$T/pending.out"
vctl_reg show zz-pending | grep -q '^state: *registered, not activated'
check "vigilctl enrollment show says it is registered, not activated" $?

$PY "$TOP/test/integration/registrar_grpc.py" no-cert "$GRPC" --ca "$T/ca/ca.crt" \
	>"$T/nocert.out" 2>&1
check "a client without a certificate is refused" $? || cat "$T/nocert.out"
$PY "$TOP/test/integration/registrar_grpc.py" no-cert "$GRPC" --ca "$T/ca/ca.crt" \
	--cert "$T/other/admin.crt" --key "$T/other/admin.key" >"$T/othercert.out" 2>&1
check "a client whose certificate another CA issued is refused" $? || cat "$T/othercert.out"

U2=$(sort "$T/uuids" | sed -n 200p)
vctl_reg delete "$U2" >"$T/ctl-del.out" 2>&1 && grep -q "enrollment $U2 deleted" "$T/ctl-del.out" &&
	grep -q "agent $U2 deleted by an administrator from 127.0.0.1 (gRPC)" "$T/registrar.log"
check "vigilctl enrollment delete removes it (and the registrar logs who did)" $?
vctl_reg show "$U2" >"$T/ctl-gone.out" 2>&1
[ $? = 1 ] && grep -q "GetEnrollment: no enrollment of agent $U2 .*(NOT_FOUND)" "$T/ctl-gone.out"
check "vigilctl enrollment show of a deleted uuid exits 1 naming it (NOT_FOUND)" $? ||
	cat "$T/ctl-gone.out"
vctl_reg list --page-size 5000 >/dev/null 2>"$T/ctl-bad.out"
[ $? = 2 ]
check "vigilctl enrollment list --page-size 5000 is a usage error" $?
"$BIN/vigilctl" enrollment list --registrar-grpc "$GRPC" --tls-ca "$T/ca/ca.crt" \
	--tls-cert "$T/other/admin.crt" --tls-key "$T/other/admin.key" >/dev/null 2>"$T/ctl-other.out"
[ $? = 1 ] && grep -q "registrar at $GRPC unavailable" "$T/ctl-other.out"
check "vigilctl with a certificate from another CA is refused and says where it called" $? ||
	cat "$T/ctl-other.out"

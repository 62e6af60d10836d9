#!/usr/bin/env bash
# registrar.user and verifier.user: the registrar and the verifier started as root with
# user = nobody. Needs root (skipped otherwise); uses the existing user nobody.
# Setup: this run's temp dir made traversable, a state dir for each daemon owned by
# nobody (as docs/registrar.md and docs/verifier.md ask), the swtpm EK CA, a swtpm and an
# agent (as root, no agent.user) to enroll.
# Actions: start both daemons; read /proc/PID/status; let the agent register and activate
# (database writes after the switch); store a policy at the verifier and list it.
# Expected: both run with nobody's uid and gid (real, effective, saved, fs); the agent is
# enrolled; the verifier stores the policy; its database belongs to nobody.
. "$(dirname "$0")/lib.sh"

for tool in swtpm swtpm_setup curl; do
	command -v $tool >/dev/null || { echo "skip daemon_user: $tool not installed"; exit 0; }
done
[ "$(id -u)" = 0 ] || { echo "skip daemon_user: needs root"; exit 0; }
id nobody >/dev/null 2>&1 || { echo "skip daemon_user: no user nobody"; exit 0; }
for f in "$BIN/vigil-agent" "$BIN/vigil-registrar" "$BIN/vigil-verifier" "$BIN/vigilctl"; do
	[ -x "$f" ] || { echo "not ok daemon_user: $f not built"; exit 1; }
done
NOBODY=$(id -u nobody):$(id -g nobody)

# is_nobody PID: all four uids and gids in /proc/PID/status are nobody's.
is_nobody() {
	local u g
	u=$(awk '/^Uid:/ { print $2 " " $3 " " $4 " " $5 }' "/proc/$1/status")
	g=$(awk '/^Gid:/ { print $2 " " $3 " " $4 " " $5 }' "/proc/$1/status")
	local n=${NOBODY%:*} m=${NOBODY#*:}
	[ "$u" = "$n $n $n $n" ] && [ "$g" = "$m $m $m $m" ]
}

chmod 711 "$T"
swtpm_ca_init
check swtpm_ca $?
mkdir -m 700 "$T/reg" "$T/ver" && chown nobody: "$T/reg" "$T/ver"
check state_dirs_for_nobody $?

# --- registrar
RP=$(free_port)
spawn "$T/registrar.log" "$BIN/vigil-registrar" -d -o registrar.user=nobody \
	-o registrar.listen=127.0.0.1:$RP -o registrar.tls_listen= -o registrar.ek_ca_dir="$EK_CA_DIR" \
	-o registrar.state_dir="$T/reg" -o registrar.database="sqlite:$T/reg/registrar.db" \
	-o registrar.metrics_listen= -o registrar.grpc_listen=
REG_PID=$!
for _ in $(seq 100); do
	curl -sf "http://127.0.0.1:$RP/version" >/dev/null && break
	sleep 0.1
done
curl -sf "http://127.0.0.1:$RP/version" >/dev/null && is_nobody "$REG_PID" &&
	grep -q "running as user nobody" "$T/registrar.log"
check registrar_runs_as_nobody $?

swtpm_start R
AP=$(free_port)
spawn "$T/agent.log" "$BIN/vigil-agent" -d -o agent.uuid=d432fbb3-d2f1-4a97-9ef7-75bd81c0beef \
	-o agent.tcti="$TCTI_R" -o agent.state_dir="$T/agent" -o agent.registrar=127.0.0.1:$RP \
	-o agent.listen=127.0.0.1:$AP -o agent.contact_port=$AP -o agent.trusted_client_ca="$EK_CA_DIR/root.pem" \
	-o agent.ima_log= -o agent.event_log=
AGENT_PID=$!
for _ in $(seq 300); do
	grep -q "registered and activated\|registration of agent" "$T/agent.log" && break
	kill -0 "$AGENT_PID" 2>/dev/null || break
	sleep 0.1
done
grep -q "registered and activated" "$T/agent.log"
check agent_enrolls_at_registrar_running_as_nobody $?

# --- verifier (its certificate readable by nobody, as docs/verifier.md asks)
"$BIN/vigilctl" ca init "$T/ca" >/dev/null && "$BIN/vigilctl" ca issue "$T/ca" verifier --both >/dev/null &&
	cp "$T/ca/verifier.crt" "$T/ca/verifier.key" "$T/ca/ca.crt" "$T/ver/" && chown nobody: "$T/ver/"*
check verifier_cert_for_nobody $?
VP=$(free_port)
VERIFIER_ADDR=127.0.0.1:$VP
spawn "$T/verifier.log" "$BIN/vigil-verifier" -d -o verifier.user=nobody -o verifier.grpc_insecure=yes \
	-o verifier.grpc_listen="$VERIFIER_ADDR" -o verifier.state_dir="$T/ver" \
	-o verifier.tls_cert="$T/ver/verifier.crt" -o verifier.tls_key="$T/ver/verifier.key" \
	-o verifier.trusted_client_ca="$T/ver/ca.crt" -o verifier.metrics_listen=
VER_PID=$!
for _ in $(seq 100); do
	grep -q "gRPC on" "$T/verifier.log" && break
	kill -0 "$VER_PID" 2>/dev/null || break
	sleep 0.1
done
grep -q "gRPC on" "$T/verifier.log" && is_nobody "$VER_PID" &&
	grep -q "running as user nobody" "$T/verifier.log"
check verifier_runs_as_nobody $?
printf '{"15": ["%064d"]}' 0 >"$T/pcr15.json"
vctl policy put pcr15 --kind pcr "$T/pcr15.json" >/dev/null && vctl policy list | grep -q "^pcr15 " &&
	[ "$(stat -c %U "$T/ver/verifier.db")" = nobody ]
check verifier_stores_policy_as_nobody $?

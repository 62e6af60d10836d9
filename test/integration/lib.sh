#!/usr/bin/env bash
# Shared helpers for integration tests. Source it first; it sets TOP, BIN, a temp dir
# T that is removed at exit (kept when a check failed, or with KEEP_TMP set), and kills
# every process started with `spawn` at exit, also on failure. A failed check prints the
# end of every log of a process started with `spawn` (the daemons), so the reason is in
# make check's output, not only in a temp dir.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${BIN:-$TOP/build/bin}
T=$(mktemp -d /tmp/vigil-it.XXXXXX)
SPAWNED=()
SPAWN_LOGS=()
CHECK_FAILED=0

cleanup() {
	local p
	for p in "${SPAWNED[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${SPAWNED[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	# After the daemons, which hold connections to it.
	pg_server_stop
	# What the daemons mounted under $T (an agent started as root mounts a tmpfs on its
	# secure dir, and leaves it for its next start), deepest first, so $T can go.
	for p in $(findmnt -rn -o TARGET 2>/dev/null | grep "^$T/" | sort -r); do
		umount -l "$p" 2>/dev/null
	done
	if [ "$CHECK_FAILED" -ne 0 ]; then
		echo "# a check failed: logs kept in $T"
	elif [ -z "${KEEP_TMP:-}" ]; then
		rm -rf "$T"
	fi
}
trap cleanup EXIT

# A PostgreSQL server of this test's own, when one is needed (pg_server.sh):
# VIGIL_TEST_DB=pg puts every verifier started with verifier_start on it, each verifier
# name in a database of its own (kept across restarts of that name).
. "$TOP/test/integration/pg_server.sh"
PG_DIR=

# verifier_db NAME: the store URL of verifier NAME's database (with VIGIL_TEST_DB=pg, once
# verifier_start made it).
verifier_db() {
	if [ "${VIGIL_TEST_DB:-sqlite}" = pg ]; then
		echo "postgresql://vigil@/v_${1//[^a-zA-Z0-9]/_}?host=$PG_DIR&port=5432"
	else
		echo "sqlite:$T/$1/verifier.db"
	fi
}

# vdb_query NAME SQL: the rows SQL yields from verifier NAME's database, one line each, the
# columns separated by "|" (read-only for SQLite: this process never checkpoints or removes
# the verifier's WAL).
vdb_query() {
	local url
	url=$(verifier_db "$1")
	case $url in
	sqlite:*)
		/usr/bin/python3 -c 'import sqlite3, sys
for r in sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True).execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in r))' "${url#sqlite:}" "$2" ;;
	*) "$PG_BIN/psql" -qAtX -v ON_ERROR_STOP=1 "$url" -c "$2" ;;
	esac
}

# vdb_exec NAME SQL: run SQL (a write) on verifier NAME's database and commit it; for a
# verifier that is stopped (SQLite: this opens the file read-write, as the verifier does).
vdb_exec() {
	local url
	url=$(verifier_db "$1")
	case $url in
	sqlite:*)
		/usr/bin/python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute(sys.argv[2])
c.commit()' "${url#sqlite:}" "$2" ;;
	*) "$PG_BIN/psql" -qAtX -v ON_ERROR_STOP=1 "$url" -c "$2" >/dev/null ;;
	esac
}

# _verifier_db_ready NAME: with VIGIL_TEST_DB=pg, the server running and NAME's database
# made (once).
_verifier_db_ready() {
	[ "${VIGIL_TEST_DB:-sqlite}" = pg ] || return 0
	if [ -z "$PG_DIR" ]; then
		pg_server_start || return 1
	fi
	local db=v_${1//[^a-zA-Z0-9]/_}
	[ "$("$PG_BIN/psql" -qAtX "$PG_ADMIN_URL" -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" = 1 ] ||
		"$PG_BIN/psql" -qAtX "$PG_ADMIN_URL" -c "CREATE DATABASE $db" >/dev/null
}

# check NAME STATUS: report one test result in the runner's format; returns STATUS != 0.
# On failure, the last lines of each daemon's log follow, as "#   " lines (test/run.sh
# prints them under the failed test).
check() {
	if [ "$2" -eq 0 ]; then
		echo "ok $1"
		return 0
	fi
	echo "not ok $1"
	CHECK_FAILED=1
	check_logs
	return 1
}

# check_logs: the last 25 lines of every log of a process started with spawn, each line
# prefixed with "# " (non-printable bytes shown as "?").
check_logs() {
	local log seen=" "
	for log in "${SPAWN_LOGS[@]}"; do
		case $seen in *" $log "*) continue ;; esac
		seen+="$log "
		[ -s "$log" ] || continue
		echo "#   --- ${log#"$T"/} (last 25 lines) ---"
		tail -n 25 "$log" | LC_ALL=C sed 's/[^[:print:][:blank:]]/?/g; s/^/#   /'
	done
}

# spawn LOGFILE CMD...: start CMD in the background, remember its PID in SPAWNED and $!.
spawn() {
	local log=$1
	shift
	"$@" >"$log" 2>&1 &
	SPAWNED+=($!)
	SPAWN_LOGS+=("$log")
}

# ---------------------------------------------------------------------------------------
# Ports and the swtpm harness. Every integration test that needs a TPM uses these:
#
#   swtpm_ca_init        once per run (swtpm_start calls it): a local EK CA under $T,
#                        EK_CA_DIR = directory of its CA certificates (registrar.ek_ca_dir)
#   swtpm_start NAME     provision $T/tpm-NAME on first use, run `swtpm socket` on free
#                        loopback ports, set TCTI_NAME; prints nothing
#   swtpm_stop NAME      stop it (state kept); swtpm_restart NAME: same state, same port,
#                        a fresh boot (PCRs reset, persistent keys and NV kept)
#
# Call them directly, never inside $(...): they set variables and own the processes.
# What swtpm_setup provisions in each TPM (swtpm 0.7.1; t_harness.sh checks all of it):
#   RSA-2048 EK, TCG EK profile template L-1 (what tpm2_createek -G rsa makes: SHA-256,
#     0x000300b2 restricted|decrypt|adminWithPolicy|fixed*, AES-128-CFB, PolicySecret
#     (endorsement) policy), persistent at 0x81010001; its DER certificate in NV 0x01c00002
#   ECC NIST P-384 EK, profile template H-3 (what tpm2_createek -G ecc384 makes: SHA-384,
#     0x000300f2 = the above + userWithAuth, AES-256-CFB), persistent at 0x81010016; its
#     certificate in NV 0x01c00016. There is no P-256 EK and nothing at 0x01c0000a.
#   a platform certificate in NV 0x01c08000; no EK template/nonce indices; NV not locked
#   PCR bank sha256 only (SWTPM_PCR_BANKS="sha1,sha256" before NAME's first start: both)
#   EK certificate chain: CN=swtpm-localca-rootca (self-signed root) -> CN=swtpm-localca
#     (intermediate; signs EK and platform certificates) -> EK certificate, CN=NAME
# ---------------------------------------------------------------------------------------

# free_port: print a TCP port on 127.0.0.1 that is free now, with port+1 free too (swtpm
# takes P for commands and P+1 for control). The port is drawn below the kernel's
# ephemeral range (ip_local_port_range), so no outgoing connection of this machine can be
# given it as a source port while its server is down: a daemon or swtpm restarted on the
# same port finds it free again (ports from bind(port 0) are ephemeral ones, and the many
# connections of a test run could take one between a stop and a restart). Ports handed
# out earlier in this run are never handed out again, so two calls before anything binds
# cannot collide.
free_port() {
	local p
	p=$(/usr/bin/python3 - "$T/.ports" <<'PY'
import random, socket, sys
used = set()
try:
    used = {int(l) for l in open(sys.argv[1]) if l.strip()}
except OSError:
    pass
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    low = 32768
lo, hi = 10000, max(low - 2, 10002)
def free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()
rng = random.SystemRandom()
for _ in range(2000):
    p = rng.randrange(lo, hi)
    if {p, p + 1} & used or not free(p) or not free(p + 1):
        continue
    with open(sys.argv[1], "a") as f:
        f.write("%d\n%d\n" % (p, p + 1))
    print(p)
    sys.exit(0)
sys.exit("free_port: no free pair of ports found")
PY
	) || return 1
	echo "$p"
}

# free_port_range N: print the first of N consecutive TCP ports on 127.0.0.1 that are free
# now, drawn and remembered as free_port does (below the ephemeral range, never handed out
# twice in a run): for vigil-loadgen, whose simulated agents take one port each.
free_port_range() {
	/usr/bin/python3 - "$T/.ports" "$1" <<'PY'
import random, socket, sys
used = set()
try:
    used = {int(l) for l in open(sys.argv[1]) if l.strip()}
except OSError:
    pass
n = int(sys.argv[2])
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    low = 32768
lo, hi = 10000, max(low - n - 1, 10001)
def free(port):
    # As the loadgen binds (libevent's listeners set SO_REUSEADDR): a port whose last
    # connections linger in TIME_WAIT (an earlier run's) is free for it.
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()
rng = random.SystemRandom()
for _ in range(200):
    p = rng.randrange(lo, hi)
    ports = range(p, p + n)
    if used & set(ports) or not all(free(q) for q in ports):
        continue
    with open(sys.argv[1], "a") as f:
        f.write("".join("%d\n" % q for q in ports))
    print(p)
    sys.exit(0)
sys.exit("free_port_range: no %d free consecutive ports found" % n)
PY
}

# free_port_range_wait N: free_port_range, tried up to six times 5 s apart (a bench of
# thousands of ports: other processes' listeners and TIME_WAIT ports come and go).
free_port_range_wait() {
	local try
	for try in 1 2 3 4 5 6; do
		free_port_range "$1" 2>/dev/null && return 0
		[ "$try" = 6 ] || sleep 5
	done
	return 1
}

# swtpm_ca_init: the EK CA for this run, made by swtpm_localca from config files in
# $T/swtpm-ca (never /etc or /var/lib). swtpm_localca makes a root CA and an intermediate
# the first time it runs; we run it once here on a dummy key so both exist before any TPM
# does. Sets SWTPM_CA (its directory), SWTPM_SETUP_CONF and EK_CA_DIR (root.pem and
# intermediate.pem, PEM, for registrar.ek_ca_dir). Idempotent within a run ($T).
swtpm_ca_init() {
	local ca=$T/swtpm-ca dummy
	if [ -f "$ca/ekca/intermediate.pem" ]; then
		SWTPM_CA=$ca SWTPM_SETUP_CONF=$ca/swtpm_setup.conf EK_CA_DIR=$ca/ekca
		return 0
	fi
	mkdir -p "$ca/state" "$ca/dummy" "$ca/ekca" || return 1
	cat >"$ca/swtpm-localca.conf" <<-CONF
	statedir = $ca/state
	signingkey = $ca/state/signkey.pem
	issuercert = $ca/state/issuercert.pem
	certserial = $ca/state/certserial
	CONF
	cat >"$ca/swtpm-localca.options" <<-CONF
	--platform-manufacturer vigil
	--platform-version 2.1
	--platform-model swtpm
	CONF
	cat >"$ca/swtpm_setup.conf" <<-CONF
	create_certs_tool = $(command -v swtpm_localca)
	create_certs_tool_config = $ca/swtpm-localca.conf
	create_certs_tool_options = $ca/swtpm-localca.options
	active_pcr_banks = sha256
	CONF
	# Any 2048-bit modulus will do: only the CA files are kept.
	dummy=$(printf 'c5%.0s' $(seq 256))
	if ! swtpm_localca --type ek --ek "$dummy" --dir "$ca/dummy" --tpm2 \
		--tpm-spec-family 2.0 --tpm-spec-level 0 --tpm-spec-revision 164 \
		--tpm-manufacturer id:00001014 --tpm-model swtpm --tpm-version id:20191023 \
		--configfile "$ca/swtpm-localca.conf" --optsfile "$ca/swtpm-localca.options" \
		--logfile "$ca/localca.log" >/dev/null 2>&1; then
		echo "swtpm_ca_init: swtpm_localca failed, see $ca/localca.log" >&2
		return 1
	fi
	cp "$ca/state/swtpm-localca-rootca-cert.pem" "$ca/ekca/root.pem" &&
		cp "$ca/state/issuercert.pem" "$ca/ekca/intermediate.pem" || return 1
	SWTPM_CA=$ca SWTPM_SETUP_CONF=$ca/swtpm_setup.conf EK_CA_DIR=$ca/ekca
}

# _swtpm_name_ok NAME: NAME becomes part of variable names.
_swtpm_name_ok() {
	[[ $1 =~ ^[A-Za-z0-9_]+$ ]] || { echo "swtpm: bad TPM name '$1' (use [A-Za-z0-9_])" >&2; return 1; }
}

# _swtpm_run NAME PORT: start swtpm on PORT/PORT+1 and wait until the TPM answers.
_swtpm_run() {
	local name=$1 port=$2 dir=$T/tpm-$1 pid tcti
	tcti="swtpm:host=127.0.0.1,port=$port"
	spawn "$dir/swtpm.log" swtpm socket --tpm2 --tpmstate dir="$dir" \
		--server type=tcp,port="$port",bindaddr=127.0.0.1 \
		--ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
		--flags not-need-init,startup-clear
	pid=$!
	# Up to 30 s: the machine may be busy building; a healthy swtpm answers at once.
	for _ in $(seq 300); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" 2>/dev/null
			_swtpm_forget "$pid"
			return 1
		fi
		if tpm2_getcap -T "$tcti" properties-fixed >/dev/null 2>&1; then
			printf -v "SWTPM_PID_$name" '%s' "$pid"
			printf -v "SWTPM_PORT_$name" '%s' "$port"
			printf -v "TCTI_$name" '%s' "$tcti"
			return 0
		fi
		sleep 0.1
	done
	echo "swtpm $name: no answer on port $port after 30 s, see $dir/swtpm.log" >&2
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	_swtpm_forget "$pid"
	return 1
}

# _swtpm_forget PID: drop PID from SPAWNED once it is reaped, so cleanup never signals a
# PID that the system may have reused.
_swtpm_forget() {
	local p keep=()
	for p in "${SPAWNED[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	SPAWNED=("${keep[@]}")
}

# swtpm_start NAME: provision (first time) and start a TPM; sets TCTI_NAME, SWTPM_PID_NAME,
# SWTPM_PORT_NAME. A port taken between free_port and swtpm's bind gets another try.
swtpm_start() {
	local name=$1 dir=$T/tpm-$1 port
	_swtpm_name_ok "$name" || return 1
	swtpm_ca_init || return 1
	if [ ! -e "$dir/tpm2-00.permall" ]; then
		mkdir -p "$dir" || return 1
		if ! swtpm_setup --tpm2 --tpmstate "$dir" --create-ek-cert --create-platform-cert \
			--config "$SWTPM_SETUP_CONF" --vmid "$name" --logfile "$dir/setup.log" \
			--pcr-banks "${SWTPM_PCR_BANKS:-sha256}" \
			>/dev/null 2>&1; then
			echo "swtpm_start $name: swtpm_setup failed, see $dir/setup.log" >&2
			return 1
		fi
	fi
	for _ in 1 2 3; do
		port=$(free_port) || return 1
		_swtpm_run "$name" "$port" && return 0
	done
	echo "swtpm_start $name: swtpm did not start, see $dir/swtpm.log" >&2
	return 1
}

# swtpm_stop NAME: stop the TPM (SIGTERM, then SIGKILL after 5 s) and reap it.
swtpm_stop() {
	local name=$1 pidvar pid
	_swtpm_name_ok "$name" || return 1
	pidvar=SWTPM_PID_$name
	pid=${!pidvar:-}
	[ -n "$pid" ] || { echo "swtpm_stop $name: not running" >&2; return 1; }
	kill "$pid" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	_swtpm_forget "$pid"
	printf -v "$pidvar" '%s' ""
	return 0
}

# swtpm_restart NAME: stop, then start again from the same state on the same port (what
# a reboot looks like to the TPM: PCRs reset, persistent handles and NV indices kept).
swtpm_restart() {
	local name=$1 portvar
	_swtpm_name_ok "$name" || return 1
	portvar=SWTPM_PORT_$name
	[ -n "${!portvar:-}" ] || { echo "swtpm_restart $name: never started" >&2; return 1; }
	swtpm_stop "$name" || return 1
	_swtpm_run "$name" "${!portvar}" && return 0
	echo "swtpm_restart $name: no TPM on port ${!portvar} again, see $T/tpm-$name/swtpm.log" >&2
	return 1
}

# until_true SECONDS CMD...: run CMD every 0.1 s until it succeeds (0), or SECONDS pass (1).
until_true() {
	local end=$(($(date +%s%N) / 1000000 + $1 * 1000))
	shift
	while ! "$@"; do
		[ $(($(date +%s%N) / 1000000)) -lt $end ] || return 1
		sleep 0.1
	done
}

# ---- vigil-loadgen (docs/loadgen.md) ----

# lg_start N [LOADGEN ARGS...]: vigil-loadgen playing N agents on consecutive free loopback
# ports, one thread, with a server certificate from $T/ca; returns once it is ready. Writes
# $T/nodes.jsonl (the nodes, for lg_add) and $T/pcr.json (their PCR policy). Sets LG_PID.
lg_start() {
	local n=$1 base
	shift
	[ -f "$T/ca/ca.crt" ] || "$BIN/vigilctl" ca init "$T/ca" >/dev/null
	"$BIN/vigilctl" ca issue "$T/ca" loadgen --server --san 127.0.0.1 >/dev/null || return 1
	base=$(free_port_range "$n") || return 1
	spawn "$T/loadgen.log" "$BIN/vigil-loadgen" -n "$n" --port "$base" --threads 1 \
		--cert "$T/ca/loadgen.crt" --key "$T/ca/loadgen.key" --client-ca "$T/ca/ca.crt" \
		--nodes-out "$T/nodes.jsonl" --pcr-policy-out "$T/pcr.json" "$@"
	LG_PID=$!
	for _ in $(seq 300); do
		grep -q "^ready:" "$T/loadgen.log" && break
		kill -0 "$LG_PID" 2>/dev/null || break
		sleep 0.1
	done
	grep -q "^ready: $n nodes" "$T/loadgen.log"
}

# lg_add: store the loadgen's PCR policy as lg-pcr at the verifier VERIFIER_ADDR and add
# every node of $T/nodes.jsonl with it.
lg_add() {
	local n
	n=$(wc -l <"$T/nodes.jsonl")
	vctl policy put lg-pcr --kind pcr "$T/pcr.json" >/dev/null &&
		/usr/bin/python3 "$TOP/test/integration/loadgen_nodes.py" "$VERIFIER_ADDR" add \
			"$T/nodes.jsonl" --pcr-policy lg-pcr >"$T/add.log" 2>&1 &&
		grep -q "^added $n" "$T/add.log"
}

# ---- verifier helpers ----

# verifier_start NAME [-o ...]: a vigil-verifier with a fresh state dir $T/NAME, gRPC on a
# free port (VERIFIER_ADDR), fast retry settings, metrics off (never the default port,
# which parallel runs would share) unless VERIFIER_METRICS=HOST:PORT, and a client
# certificate for agents from the fleet CA in $T/ca (made on first use). gRPC is plaintext unless VERIFIER_MTLS=1,
# then mutual TLS with $T/ca/admin.crt as the operator's certificate (vctl and fctl use
# it). Progress is written at every flush (verifier.progress_interval 0: tests read counts
# from the store), unless VERIFIER_PROGRESS_INTERVAL=S. Sets VERIFIER_PID.
verifier_start() {
	local name=$1
	shift
	if [ ! -f "$T/ca/ca.crt" ]; then
		"$BIN/vigilctl" ca init "$T/ca" >/dev/null
		"$BIN/vigilctl" ca issue "$T/ca" verifier --both >/dev/null
	fi
	if [ -n "${VERIFIER_MTLS:-}" ] && [ ! -f "$T/ca/admin.crt" ]; then
		"$BIN/vigilctl" ca issue "$T/ca" admin --client >/dev/null
	fi
	[ -n "${VERIFIER_PORT:-}" ] || VERIFIER_PORT=$(free_port)
	VERIFIER_ADDR=127.0.0.1:$VERIFIER_PORT
	# The database: the test's own choice (-o verifier.database=...), else VIGIL_TEST_DB's.
	local dbopt=()
	case " $* " in
	*" verifier.database="*) ;;
	*) if [ "${VIGIL_TEST_DB:-sqlite}" = pg ]; then
		_verifier_db_ready "$name" || return 1
		dbopt=(-o verifier.database="$(verifier_db "$name")")
	fi ;;
	esac
	local insecure=yes
	[ -z "${VERIFIER_MTLS:-}" ] || insecure=no
	spawn "$T/$name.log" "$BIN/vigil-verifier" -d -o verifier.grpc_insecure=$insecure \
		-o verifier.grpc_listen="$VERIFIER_ADDR" -o verifier.state_dir="$T/$name" \
		-o verifier.tls_cert="$T/ca/verifier.crt" -o verifier.tls_key="$T/ca/verifier.key" \
		-o verifier.trusted_client_ca="$T/ca/ca.crt" -o verifier.quote_interval=0.5 \
		-o verifier.retry_interval=0.2 -o verifier.max_retries=3 "${dbopt[@]}" \
		-o verifier.progress_interval="${VERIFIER_PROGRESS_INTERVAL:-0}" \
		-o verifier.metrics_listen="${VERIFIER_METRICS:-}" "$@"
	VERIFIER_PID=$!
	for _ in $(seq 100); do
		grep -q "gRPC on" "$T/$name.log" && return 0
		kill -0 "$VERIFIER_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "verifier $name did not start:" >&2
	tail -5 "$T/$name.log" >&2
	return 1
}

# vctl ARGS...: vigilctl against the test verifier (plaintext gRPC).
vctl() {
	"$BIN/vigilctl" "$@" --verifier "$VERIFIER_ADDR" $(_vctl_tls)
}

# The connection options for the test verifier: --insecure, or the fleet admin's cert.
_vctl_tls() {
	if [ -n "${VERIFIER_MTLS:-}" ]; then
		echo "--tls-ca $T/ca/ca.crt --tls-cert $T/ca/admin.crt --tls-key $T/ca/admin.key"
	else
		echo "--insecure"
	fi
}

# vgrpc METHOD JSON: a raw call with Python's grpcio, printing the JSON reply or
# "ERROR CODE details".
vgrpc() {
	VIGIL_PB_DIR=$T/pb /usr/bin/python3 "$TOP/test/integration/grpc_client.py" "$VERIFIER_ADDR" "$@"
}

# wait_node_state UUID STATE [SECONDS]: until vigilctl status shows STATE (default 20 s).
wait_node_state() {
	local i
	for i in $(seq $((${3:-20} * 10))); do
		vctl status "$1" 2>/dev/null | grep -q "^state: *$2 " && return 0
		sleep 0.1
	done
	vctl status "$1" >&2
	return 1
}

# stop_pid PID: TERM, wait up to 5 s, then KILL (for processes started with spawn).
stop_pid() {
	kill "$1" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	kill -9 "$1" 2>/dev/null
}

# ---------------------------------------------------------------------------------------
# Simulated nodes: a swtpm whose PCRs hold what a real machine's logs produce, and those
# logs as files for vigil-agent to serve (agent.ima_log, agent.event_log).
#
#   node_tpm_start NAME        swtpm_start with the sha1 and sha256 banks active (set only
#                              for NAME's first start; the banks live in its state)
#   node_logs NAME [UEFI_LOG]  $T/NAME.ima <- the real 826-entry IMA list, extended into
#                              PCR 10 of both banks; $T/NAME.eventlog <- UEFI_LOG (default
#                              NODE_UEFI_LOG: kl_binary_bios_measurements-secureboot, sha256
#                              bank, StartupLocality 0, the log `vigilctl policy create mb`
#                              policies are made from), extended into PCRs 0-9 and 14 of
#                              the sha256 bank (the log has no sha1 digests, so sha1 PCRs
#                              0-9 stay zero). Sets NODE_IMA_NAME and NODE_EVENTLOG_NAME.
#   $NODESIM TCTI ...          the tool itself (build/tools/nodesim), for later changes:
#                              ima-append, ima-extend --from, pcr-extend, pcr-read.
# Call node_logs right after node_tpm_start (or swtpm_restart): it assumes fresh PCRs.
# ---------------------------------------------------------------------------------------
NODESIM=${NODESIM:-$TOP/build/tools/nodesim}
NODE_TESTDATA=${NODE_TESTDATA:-$TOP/test/data}
NODE_IMA_LIST=${NODE_IMA_LIST:-$NODE_TESTDATA/ima/ascii_runtime_measurements-826}
NODE_UEFI_LOG=${NODE_UEFI_LOG:-$NODE_TESTDATA/eventlog/kl_binary_bios_measurements-secureboot}

# node_tpm_start NAME: a TPM with the SHA-1 and SHA-256 banks (IMA's list carries SHA-1
# template hashes; the UEFI log and quotes use SHA-256).
node_tpm_start() {
	SWTPM_PCR_BANKS=sha1,sha256 swtpm_start "$1"
}

# node_logs NAME [UEFI_LOG]: copy the logs to $T and extend them into NAME's TPM.
node_logs() {
	local name=$1 uefi=${2:-$NODE_UEFI_LOG} tctivar
	_swtpm_name_ok "$name" || return 1
	tctivar=TCTI_$name
	[ -n "${!tctivar:-}" ] || { echo "node_logs $name: no TPM (node_tpm_start first)" >&2; return 1; }
	[ -x "$NODESIM" ] || { echo "node_logs: $NODESIM not built" >&2; return 1; }
	cp "$NODE_IMA_LIST" "$T/$name.ima" && chmod u+w "$T/$name.ima" &&
		cp "$uefi" "$T/$name.eventlog" && chmod u+w "$T/$name.eventlog" || return 1
	"$NODESIM" "${!tctivar}" ima-extend "$T/$name.ima" || return 1
	"$NODESIM" "${!tctivar}" eventlog-extend "$T/$name.eventlog" || return 1
	printf -v "NODE_IMA_$name" '%s' "$T/$name.ima"
	printf -v "NODE_EVENTLOG_$name" '%s' "$T/$name.eventlog"
}

# ---- a whole fleet on loopback: CA, registrar, verifier, simulated nodes with agents ----
#
#   fleet_start            fleet CA in $T/ca (verifier --both, admin --client), the swtpm EK
#                          CA, a registrar (REGISTRAR_ADDR, REGISTRAR_TLS_ADDR; metrics
#                          on REGISTRAR_METRICS=HOST:PORT, gRPC on REGISTRAR_GRPC=HOST:PORT,
#                          else off) and a
#                          verifier (verifier_start fleet-verifier)
#   fleet_node NAME [ek] [ak]   a simulated node: node_tpm_start + node_logs, then an agent
#                          (uuid NODE_UUID_NAME, port AGENT_PORT_NAME, pid AGENT_PID_NAME)
#                          registered and activated at the registrar
#   fleet_agent_start NAME  (re)start NAME's agent with the same settings
#   fctl ARGS...           vigilctl with every connection option of the fleet
fleet_start() {
	"$BIN/vigilctl" ca init "$T/ca" >/dev/null &&
		"$BIN/vigilctl" ca issue "$T/ca" verifier --both >/dev/null &&
		"$BIN/vigilctl" ca issue "$T/ca" registrar --server >/dev/null &&
		"$BIN/vigilctl" ca issue "$T/ca" admin --client >/dev/null || return 1
	swtpm_ca_init || return 1
	local rp rtp
	rp=$(free_port)
	rtp=$(free_port)
	REGISTRAR_ADDR=127.0.0.1:$rp
	REGISTRAR_TLS_ADDR=127.0.0.1:$rtp
	spawn "$T/registrar.log" "$BIN/vigil-registrar" -d -o registrar.listen="$REGISTRAR_ADDR" \
		-o registrar.tls_listen="$REGISTRAR_TLS_ADDR" -o registrar.tls_cert="$T/ca/registrar.crt" \
		-o registrar.tls_key="$T/ca/registrar.key" -o registrar.trusted_client_ca="$T/ca/ca.crt" \
		-o registrar.ek_ca_dir="$EK_CA_DIR" -o registrar.state_dir="$T" \
		-o registrar.database="sqlite:$T/registrar.db" \
		-o registrar.metrics_listen="${REGISTRAR_METRICS:-}" \
		-o registrar.grpc_listen="${REGISTRAR_GRPC:-}"
	REGISTRAR_PID=$!
	for _ in $(seq 100); do
		curl -sf "http://$REGISTRAR_ADDR/version" >/dev/null && break
		sleep 0.1
	done
	verifier_start fleet-verifier -o verifier.registrar="$REGISTRAR_TLS_ADDR" \
		-o verifier.registrar_ca="$T/ca/ca.crt" "$@"
}

fctl() {
	"$BIN/vigilctl" "$@" --verifier "$VERIFIER_ADDR" $(_vctl_tls) --registrar "$REGISTRAR_TLS_ADDR" \
		--tls-ca "$T/ca/ca.crt" --tls-cert "$T/ca/admin.crt" --tls-key "$T/ca/admin.key" \
		--ek-ca-dir "$EK_CA_DIR"
}

# fleet_agent_start NAME: start node NAME's agent (more -o options in $FLEET_AGENT_ARGS).
fleet_agent_start() {
	local name=$1 tcti=TCTI_$1 port=AGENT_PORT_$1 uuid=NODE_UUID_$1 ek=NODE_EK_$1 ak=NODE_AK_$1
	local ima=NODE_IMA_$1 ev=NODE_EVENTLOG_$1
	spawn "$T/agent-$name.log" "$BIN/vigil-agent" -d -o agent.uuid="${!uuid}" \
		-o agent.tcti="${!tcti}" -o agent.ek_alg="${!ek}" -o agent.ak_alg="${!ak}" \
		-o agent.state_dir="$T/agent-$name" -o agent.registrar="$REGISTRAR_ADDR" \
		-o agent.listen="127.0.0.1:${!port}" -o agent.contact_port="${!port}" \
		-o agent.trusted_client_ca="$T/ca/ca.crt" -o agent.ima_log="${!ima}" \
		-o agent.event_log="${!ev}" ${FLEET_AGENT_ARGS:-}
	printf -v "AGENT_PID_$name" '%s' "$!"
	local i
	for i in $(seq 300); do
		grep -q "registered and activated" "$T/agent-$name.log" && return 0
		sleep 0.1
	done
	echo "agent $name did not enroll:" >&2
	tail -5 "$T/agent-$name.log" >&2
	return 1
}

fleet_node() {
	local name=$1
	node_tpm_start "$name" && node_logs "$name" || return 1
	printf -v "NODE_UUID_$name" 'a0a0a0a0-0000-4000-8000-%012d' "$(( $(date +%s%N) % 1000000000000 ))"
	printf -v "AGENT_PORT_$name" '%s' "$(free_port)"
	printf -v "NODE_EK_$name" '%s' "${2:-rsa2048}"
	printf -v "NODE_AK_$name" '%s' "${3:-rsa}"
	fleet_agent_start "$name"
}

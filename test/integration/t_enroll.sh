#!/usr/bin/env bash
# Enrollment end to end: vigil-agent and vigil-registrar on real software TPMs.
# Setup: a fleet CA (vigilctl ca) for the registrar's admin port and the agent's client CA;
# swtpms provisioned with EK certificates from a CA made for this run; a registrar on
# loopback with a SQLite file. For each EK (RSA-2048, ECC P-384 from swtpm_setup) and each
# AK (RSA, ECC): the agent registers and activates; the admin GET shows the record; the
# agent restarted reuses its AK and re-registers without 403; the registrar restarted
# still has every record. An ECC P-256 EK (no certificate from swtpm_setup) enrolls when
# the registrar's require_ek_cert = no, and is refused with a clear reason otherwise.
. "$(dirname "$0")/lib.sh"

VIGILCTL=$BIN/vigilctl
"$VIGILCTL" ca init "$T/ca" >/dev/null
"$VIGILCTL" ca issue "$T/ca" registrar --server >/dev/null
"$VIGILCTL" ca issue "$T/ca" admin --client >/dev/null
"$VIGILCTL" ca issue "$T/ca" verifier --both >/dev/null
swtpm_ca_init

RPORT=$(free_port)
RTPORT=$(free_port)
start_registrar() { # start_registrar [extra -o ...]
	spawn "$T/registrar.log" "$BIN/vigil-registrar" -d \
		-o registrar.listen=127.0.0.1:$RPORT -o registrar.tls_listen=127.0.0.1:$RTPORT \
		-o registrar.tls_cert="$T/ca/registrar.crt" -o registrar.tls_key="$T/ca/registrar.key" \
		-o registrar.trusted_client_ca="$T/ca/ca.crt" -o registrar.ek_ca_dir="$EK_CA_DIR" \
		-o registrar.state_dir="$T/registrar" -o registrar.database="sqlite:$T/registrar.db" \
		-o registrar.metrics_listen= -o registrar.grpc_listen= "$@"
	REGISTRAR_PID=$!
	for _ in $(seq 100); do
		curl -sf "http://127.0.0.1:$RPORT/version" >/dev/null && return 0
		sleep 0.1
	done
	echo "registrar did not start" >&2
	return 1
}
admin() { # admin METHOD PATH -> body on stdout, HTTP status in $T/status
	curl -s -o "$T/body" -w '%{http_code}' --cacert "$T/ca/ca.crt" \
		--cert "$T/ca/admin.crt" --key "$T/ca/admin.key" -X "$1" \
		"https://127.0.0.1:$RTPORT$2" >"$T/status"
	cat "$T/body"
}
wait_active() { # wait_active UUID: until the admin GET answers 200 (activated), 30 s
	for _ in $(seq 300); do
		admin GET "/v2.6/agents/$1" >/dev/null
		[ "$(cat "$T/status")" = 200 ] && return 0
		sleep 0.1
	done
	return 1
}
start_agent() { # start_agent NAME UUID EK_ALG AK_ALG TPM
	local tcti=TCTI_$5 port
	port=$(free_port)
	spawn "$T/agent-$1.log" "$BIN/vigil-agent" -d -o agent.uuid="$2" -o agent.tcti="${!tcti}" \
		-o agent.ek_alg="$3" -o agent.ak_alg="$4" -o agent.state_dir="$T/agent-$1" \
		-o agent.registrar=127.0.0.1:$RPORT -o agent.listen=127.0.0.1:$port \
		-o agent.contact_port=$port -o agent.trusted_client_ca="$T/ca/ca.crt"
	AGENT_PID=$!
}

start_registrar
n=0
for ek in rsa2048 ecc384; do
	for ak in rsa ecc; do
		n=$((n + 1))
		name=$ek-$ak
		uuid=$(printf 'e0e0e0e0-0000-4000-8000-%012d' $n)
		swtpm_start "tpm$n"
		start_agent "$name" "$uuid" "$ek" "$ak" "tpm$n"
		wait_active "$uuid"
		check "$name: agent registers and activates" $?
		body=$(admin GET "/v2.6/agents/$uuid")
		/usr/bin/python3 -c '
import json, sys
r = json.loads(sys.argv[1])["results"]
assert r["aik_tpm"] and r["ek_tpm"] and r["ekcert"] and r["mtls_cert"].startswith("-----BEGIN")
assert r["ip"] == "127.0.0.1" and r["regcount"] >= 1' "$body"
		check "$name: admin GET shows EK, EK cert, AK and mTLS cert" $?
		ak1=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])["results"]["aik_tpm"])' "$body")
		stop_pid "$AGENT_PID"
		start_agent "$name" "$uuid" "$ek" "$ak" "tpm$n"
		for _ in $(seq 100); do [ "$(grep -c "registered and activated" "$T/agent-$name.log")" -ge 1 ] && break; sleep 0.1; done
		body=$(admin GET "/v2.6/agents/$uuid")
		ak2=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])["results"]["aik_tpm"])' "$body")
		[ -n "$ak1" ] && [ "$ak1" = "$ak2" ] && ! grep -q " 403" "$T/agent-$name.log" &&
			/usr/bin/python3 -c "import json,sys; assert json.loads(sys.argv[1])[\"results\"][\"regcount\"] == 2" "$body"
		check "$name: restarted agent reuses its AK and re-registers without 403" $?
		stop_pid "$AGENT_PID"
	done
done

stop_pid "$REGISTRAR_PID"
start_registrar
body=$(admin GET "/v2.6/agents")
c=$(/usr/bin/python3 -c 'import json,sys; print(len(json.loads(sys.argv[1])["results"]["uuids"]))' "$body")
[ "$c" = 4 ]
check "restarted registrar still has all four records" $?

# ECC P-256 EK: swtpm_setup gives it no certificate.
swtpm_start tpm9
uuid=e0e0e0e0-0000-4000-8000-000000000009
start_agent p256 "$uuid" ecc256 ecc tpm9
# Wait for the refusal itself (not a fixed sleep), then check nothing was enrolled.
for _ in $(seq 100); do
	grep -q "$uuid.*ekcert is missing" "$T/registrar.log" && break
	sleep 0.1
done
admin GET "/v2.6/agents/$uuid" >/dev/null
[ "$(cat "$T/status")" = 404 ] && grep -q "$uuid.*ekcert is missing" "$T/registrar.log"
check "EK without certificate refused while require_ek_cert = yes" $?
stop_pid "$AGENT_PID"
stop_pid "$REGISTRAR_PID"
start_registrar -o registrar.require_ek_cert=no
start_agent p256 "$uuid" ecc256 ecc tpm9
wait_active "$uuid"
check "ECC P-256 EK without certificate enrolls with require_ek_cert = no" $?

#!/usr/bin/env bash
# Helpers for the registrar integration tests (t_registrar*.sh). Source after lib.sh.
#   reg_free_port                 print a free loopback TCP port
#   reg_swtpm DIR                 manufacture a TPM with RSA and ECC EK certificates (signed
#                                 by a swtpm local CA: root -> intermediate -> EK) in DIR and
#                                 start it; sets TPM2TOOLS_TCTI, and REG_LOCALCA to the
#                                 directory of swtpm-localca-rootca-cert.pem, issuercert.pem
#                                 and signkey.pem.
#   reg_tls DIR                   openssl CA + server cert for 127.0.0.1 + client cert, and a
#                                 second CA with its own client cert (other-*)
#   reg_start NAME CONF           start vigil-registrar, wait for /version
#   reg_req OUT METHOD URL [BODY-FILE] [curl args...]  status code on stdout, body in OUT
#   reg_dbsum DB                  sha256 of `sqlite3 DB .dump`

PY=/usr/bin/python3

# Ports come from lib.sh's free_port (below the ephemeral range, never handed out twice).
reg_free_port() {
	free_port
}

# reg_free_port_pair: a free port P with P+1 free too (the swtpm TCTI expects its control
# channel on the next port): free_port gives pairs.
reg_free_port_pair() {
	free_port
}

reg_swtpm() {
	local d=$1 port ctrl
	REG_LOCALCA=$d/localca
	# The shared harness of lib.sh when it is there: same layout (root -> intermediate ->
	# EK), its CA files in $SWTPM_CA/state.
	if declare -F swtpm_start >/dev/null; then
		swtpm_start reg || return 1
		export TPM2TOOLS_TCTI=$TCTI_reg
		REG_LOCALCA=$SWTPM_CA/state
		return 0
	fi
	mkdir -p "$d/state" "$d/localca"
	cat >"$d/localca.conf" <<EOF
statedir = $d/localca
signingkey = $d/localca/signkey.pem
issuercert = $d/localca/issuercert.pem
certserial = $d/localca/certserial
EOF
	cat >"$d/setup.conf" <<EOF
create_certs_tool = /usr/bin/swtpm_localca
create_certs_tool_config = $d/localca.conf
create_certs_tool_options = /etc/swtpm-localca.options
active_pcr_banks = sha256
EOF
	swtpm_setup --tpm2 --tpm-state "$d/state" --createek --create-ek-cert --config "$d/setup.conf" \
		--overwrite >"$d/setup.log" 2>&1 || { cat "$d/setup.log"; return 1; }
	port=$(reg_free_port_pair)
	ctrl=$((port + 1))
	spawn "$d/swtpm.log" swtpm socket --tpm2 --tpmstate dir="$d/state" \
		--server type=tcp,bindaddr=127.0.0.1,port="$port" \
		--ctrl type=tcp,bindaddr=127.0.0.1,port="$ctrl" --flags not-need-init,startup-clear
	export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$port"
	for _ in $(seq 50); do
		tpm2_getcap properties-fixed >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "swtpm did not start"; cat "$d/swtpm.log"
	return 1
}

reg_tls() {
	local d=$1 n
	mkdir -p "$d"
	for n in ca other; do
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
			-subj "/CN=test $n CA" -keyout "$d/$n-ca.key" -out "$d/$n-ca.crt" \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
			2>/dev/null || return 1
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$n admin" \
			-keyout "$d/$n-client.key" -out "$d/$n-client.csr" 2>/dev/null || return 1
		printf 'extendedKeyUsage=clientAuth\n' >"$d/client.ext"
		openssl x509 -req -in "$d/$n-client.csr" -CA "$d/$n-ca.crt" -CAkey "$d/$n-ca.key" \
			-CAcreateserial -days 2 -extfile "$d/client.ext" -out "$d/$n-client.crt" \
			2>/dev/null || return 1
	done
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=registrar" \
		-keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null || return 1
	printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$d/server.ext"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca-ca.crt" -CAkey "$d/ca-ca.key" \
		-CAcreateserial -days 2 -extfile "$d/server.ext" -out "$d/server.crt" 2>/dev/null
}

# reg_start LOG CONF: start the registrar, wait until it answers /version on HTTP.
REG_PID=
reg_start() {
	local log=$1 conf=$2 port
	port=$(sed -n 's/^listen = 127.0.0.1:\([0-9]*\)$/\1/p' "$conf")
	spawn "$log" "$BIN/vigil-registrar" -d -c "$conf" -o registrar.metrics_listen= -o registrar.grpc_listen="${REG_GRPC:-}"
	REG_PID=$!
	for _ in $(seq 100); do
		curl -s -o /dev/null "http://127.0.0.1:$port/version" && return 0
		kill -0 "$REG_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "registrar did not start"; cat "$log"
	return 1
}

# reg_stop: stop the registrar started last, and wait for it.
reg_stop() {
	kill "$REG_PID" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$REG_PID" 2>/dev/null || return 0; sleep 0.1; done
	return 1
}

# reg_req OUT METHOD URL [BODY-FILE|-] [extra curl args...]
reg_req() {
	local out=$1 m=$2 url=$3 body=${4:--}
	shift 3
	[ $# -gt 0 ] && shift
	if [ "$body" = - ]; then
		curl -s -m 10 -o "$out" -w '%{http_code}' -X "$m" "$@" "$url"
	else
		curl -s -m 10 -o "$out" -w '%{http_code}' -X "$m" -H 'Content-Type: application/json' \
			--data-binary "@$body" "$@" "$url"
	fi
}

reg_dbsum() {
	sqlite3 "$1" .dump | sha256sum | cut -d' ' -f1
}

# reg_json FILE EXPR: evaluate a Python expression on the parsed JSON document j.
reg_json() {
	$PY -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

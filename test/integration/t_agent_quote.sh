#!/usr/bin/env bash
# vigil-agent's quote endpoints (docs/wire.md §2.1-2.4) against independent checkers.
# Setup: a simulated node from lib.sh (swtpm with the real 826-entry IMA list in PCR 10 and
# a real UEFI log in PCRs 0-9/14), vigil-agent serving it over mTLS (no registrar), a
# client certificate from `vigilctl ca`.
# Actions: integrity and identity quotes over curl, with good and bad queries, under API
# 2.4/2.5/2.6, with an RSA and then an ECC AK, and with the logs unreadable.
# Expected: every quote verifies with build/tools/quote_check and with tpm2_checkquote
# against the AK public key (read from the agent's ak.pub by tpm2_print); PCR 16 =
# sha256(0^32 || sha256(pubkey)); PCR 10 = `vigilctl ima replay` of the list; the logs and
# their entry offsets as the wire reference says; bad queries 400.
. "$(dirname "$0")/lib.sh"

QC=$TOP/build/tools/quote_check
for tool in swtpm swtpm_setup tpm2_checkquote tpm2_print curl openssl; do
	if ! command -v $tool >/dev/null; then
		echo "skip agent_quote: $tool not installed"
		exit 0
	fi
done
for f in "$QC" "$NODESIM" "$BIN/vigil-agent" "$BIN/vigilctl"; do
	[ -x "$f" ] || { echo "not ok agent_quote: $f not built"; exit 1; }
done

node_tpm_start Q && node_logs Q
check node_tpm_with_logs $?
IMA=$NODE_IMA_Q
EVLOG=$NODE_EVENTLOG_Q
"$BIN/vigilctl" ca init "$T/ca" >/dev/null && "$BIN/vigilctl" ca issue "$T/ca" verifier --both >/dev/null
check client_cert $?

PORT=$(free_port)
STATE=$T/state
mkdir -p "$STATE"
URL=https://127.0.0.1:$PORT
NONCE=aBcDeFgHiJ0123456789 # what a Keylime verifier sends: 20 alphanumerics
NONCE_HEX=$(printf %s "$NONCE" | od -An -tx1 | tr -d ' \n')

# agent_start LOG [-o ...]: vigil-agent on the node TPM; waits until it serves (AGENT_V=-v
# in the environment: debug logs).
agent_start() {
	local log=$1 i
	shift
	spawn "$log" "$BIN/vigil-agent" -d -o agent.tcti="$TCTI_Q" -o agent.state_dir="$STATE" \
		-o agent.registrar= -o agent.trusted_client_ca="$T/ca/ca.crt" \
		-o agent.listen=127.0.0.1:$PORT -o agent.ima_log="$IMA" -o agent.event_log="$EVLOG" ${AGENT_V:-} "$@"
	AGENT_PID=$!
	for i in $(seq 150); do
		grep -q "serving the agent API" "$log" && return 0
		kill -0 "$AGENT_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$log" >&2
	return 1
}

# get NAME PATH_QUERY: GET over mTLS; body in $T/NAME.json, HTTP code in $T/NAME.code.
get() {
	curl -s --max-time 30 --cacert "$STATE/server-cert.pem" --cert "$T/ca/verifier.crt" \
		--key "$T/ca/verifier.key" -o "$T/$1.json" -w '%{http_code}' "$URL$2" >"$T/$1.code"
}

# split NAME: unpack $T/NAME.json into $T/NAME/: keys (sorted key names), quote.txt, the
# three quote parts attest/sig/pcrs (base64 -d), pubkey.pem, ima.txt, entry, mb.bin,
# pcr.N (hex value of each PCR in the blob) and alg.* (hash/enc/sign names).
split() {
	local d=$T/$1
	rm -rf "$d" && mkdir -p "$d" || return 1
	/usr/bin/python3 - "$T/$1.json" "$d" <<'PY' || return 1
import base64, json, struct, sys
doc = json.load(open(sys.argv[1]))
d = sys.argv[2]
assert doc["code"] == 200 and doc["status"] == "Success", doc
r = doc["results"]
open(d + "/keys", "w").write(" ".join(sorted(r)) + "\n")
open(d + "/quote.txt", "w").write(r["quote"])
for k in ("hash_alg", "enc_alg", "sign_alg"):
    open(d + "/alg." + k, "w").write(r[k] + "\n")
if "pubkey" in r:
    open(d + "/pubkey.pem", "w").write(r["pubkey"])
if "ima_measurement_list" in r:
    open(d + "/ima.txt", "w").write(r["ima_measurement_list"])
    open(d + "/entry", "w").write("%d\n" % r["ima_measurement_list_entry"])
if "mb_measurement_list" in r:
    open(d + "/mb.bin", "wb").write(base64.b64decode(r["mb_measurement_list"], validate=True))
# The PCR blob (tpm2-tools layout): selection of one sha256 bank, then groups of 8 values.
blob = base64.b64decode(r["quote"][1:].split(":")[2], validate=True)
count, = struct.unpack_from("<I", blob, 0)
alg, sz = struct.unpack_from("<HB", blob, 4)
assert count == 1 and alg == 0x000B and sz == 3
sel = int.from_bytes(blob[7:10], "little")
pcrs = [i for i in range(24) if sel >> i & 1]
ngroups, = struct.unpack_from("<I", blob, 132)
vals, off = [], 136
for _ in range(ngroups):
    n, = struct.unpack_from("<I", blob, off)
    for j in range(8):
        size, = struct.unpack_from("<H", blob, off + 4 + j * 66)
        if j < n:
            vals.append(blob[off + 6 + j * 66: off + 6 + j * 66 + size])
    off += 532
assert off == len(blob) and len(vals) == len(pcrs)
for p, v in zip(pcrs, vals):
    open("%s/pcr.%d" % (d, p), "w").write(v.hex() + "\n")
PY
	local parts
	IFS=: read -r -a parts <<<"$(cut -c2- "$d/quote.txt")"
	printf %s "${parts[0]}" | base64 -d >"$d/attest" &&
		printf %s "${parts[1]}" | base64 -d >"$d/sig" &&
		printf %s "${parts[2]}" | base64 -d >"$d/pcrs"
}

# verify NAME [PUBKEY]: quote_check (with -R: our encoder reproduces the bytes; with the
# PCR 16 binding of PUBKEY) and tpm2_checkquote both accept quote NAME for NONCE.
verify() {
	local d=$T/$1 pk=${2:-$T/$1/pubkey.pem}
	"$QC" -k "$T/ak.pem" -n "$NONCE" -p "$pk" -R -q "$d/quote.txt" >"$d/qc.out" 2>&1 &&
		grep -qx OK "$d/qc.out" &&
		tpm2_checkquote -u "$T/ak.pem" -m "$d/attest" -s "$d/sig" -f "$d/pcrs" -g sha256 \
			-q "$NONCE_HEX" >"$d/checkquote.out" 2>&1
}

# pcr16_ok NAME PUBKEY: PCR 16 in the blob = sha256(0^32 || sha256(PUBKEY bytes)).
pcr16_ok() {
	local want
	want=$(/usr/bin/python3 -c '
import hashlib, sys
pem = open(sys.argv[1], "rb").read()
print(hashlib.sha256(bytes(32) + hashlib.sha256(pem).digest()).hexdigest())' "$2")
	[ -n "$want" ] && [ "$(cat "$T/$1/pcr.16" 2>/dev/null)" = "$want" ]
}

# keys_are NAME "k1 k2 ...": the results object has exactly these keys.
keys_are() {
	[ "$(cat "$T/$1/keys")" = "$(printf '%s\n' $2 | sort | tr '\n' ' ' | sed 's/ $//')" ]
}

# status_is NAME CODE TEXT: the answer is HTTP CODE with envelope code CODE and a status
# containing TEXT.
status_is() {
	[ "$(cat "$T/$1.code")" = "$2" ] && /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["code"] == int(sys.argv[2]) and sys.argv[3] in d["status"], d' "$T/$1.json" "$2" "$3" 2>/dev/null
}

agent_start "$T/agent1.log"
check agent_serves $?
tpm2_print -t TPM2B_PUBLIC -f pem "$STATE/ak.pub" >"$T/ak.pem" 2>/dev/null &&
	openssl pkey -pubin -in "$T/ak.pem" -noout 2>/dev/null
check ak_pem_from_tpm2_print $?

# --- the payload key: RSA-2048 in the state dir, mode 0600; the pubkey sent is exactly
# its SubjectPublicKeyInfo PEM.
[ "$(stat -c %a "$STATE/payload-private.pem")" = 600 ] &&
	openssl pkey -in "$STATE/payload-private.pem" -pubout -out "$T/payload.pem" 2>/dev/null &&
	openssl pkey -in "$STATE/payload-private.pem" -noout -text 2>/dev/null | grep -q '(2048 bit'
check payload_key_rsa2048_mode_0600 $?

# --- the full integrity quote, as a verifier's first round asks for it.
MASK=0x408401 # PCRs 0, 10, 15, 22 (+ 16 added by the agent)
get full "/v2.6/quotes/integrity?nonce=$NONCE&mask=$MASK&partial=0&ima_ml_entry=0"
split full
check integrity_200 $?
keys_are full "quote hash_alg enc_alg sign_alg pubkey ima_measurement_list ima_measurement_list_entry mb_measurement_list"
check integrity_result_keys $?
[ "$(cat "$T/full/alg.hash_alg" "$T/full/alg.enc_alg" "$T/full/alg.sign_alg" | tr '\n' ' ')" = "sha256 rsa2048 rsassa " ]
check integrity_algs_v2_6 $?
cmp -s "$T/full/pubkey.pem" "$T/payload.pem"
check pubkey_is_payload_key_pem $?
verify full
check integrity_verifies_quote_check_and_tpm2_checkquote $?
[ "$(ls "$T/full" | sed -n 's/^pcr\.//p' | sort -n | tr '\n' ' ')" = "0 10 15 16 22 " ]
check integrity_selection_is_mask_plus_16 $?
pcr16_ok full "$T/full/pubkey.pem"
check pcr16_binds_pubkey $?
[ "$(cat "$T/full/pcr.10")" = "$("$BIN/vigilctl" ima replay --bank sha256 --quiet "$T/full/ima.txt")" ]
check pcr10_equals_ima_replay_of_list $?
cmp -s "$T/full/ima.txt" "$IMA" && [ "$(cat "$T/full/entry")" = 0 ]
check ima_entry_0_is_whole_list $?
cmp -s "$T/full/mb.bin" "$EVLOG"
check mb_list_is_event_log $?
# A quote_check and tpm2_checkquote that accept anything would prove nothing.
! "$QC" -k "$T/ak.pem" -n "x${NONCE:1}" -q "$T/full/quote.txt" >/dev/null 2>&1 &&
	! tpm2_checkquote -u "$T/ak.pem" -m "$T/full/attest" -s "$T/full/sig" -f "$T/full/pcrs" \
		-g sha256 -q "78${NONCE_HEX:2}" >/dev/null 2>&1
check checkers_reject_other_nonce $?

# --- IMA entry offsets (docs/wire.md §2.2).
get e826 "/v2.6/quotes/integrity?nonce=$NONCE&mask=0x400&partial=1&ima_ml_entry=826"
split e826 && [ ! -s "$T/e826/ima.txt" ] && [ "$(cat "$T/e826/entry")" = 826 ]
check ima_entry_826_empty_list $?
get e900 "/v2.6/quotes/integrity?nonce=$NONCE&mask=0x400&partial=1&ima_ml_entry=900"
split e900 && cmp -s "$T/e900/ima.txt" "$IMA" && [ "$(cat "$T/e900/entry")" = 0 ]
check ima_entry_past_end_restarts_at_0 $?
get e10 "/v2.6/quotes/integrity?nonce=$NONCE&mask=0x400&partial=1&ima_ml_entry=10"
split e10 && tail -n +11 "$IMA" | cmp -s - "$T/e10/ima.txt" && [ "$(cat "$T/e10/entry")" = 10 ]
check ima_entry_10_is_tail $?
get enone "/v2.6/quotes/integrity?nonce=$NONCE&mask=0x400&partial=1"
split enone && cmp -s "$T/enone/ima.txt" "$IMA" && [ "$(cat "$T/enone/entry")" = 0 ]
check ima_entry_absent_is_0 $?
# The agent reads only the tail past the last line it sent when it can: lines appended to
# the same file show up; a file rewritten shorter in place is read afresh.
cp "$IMA" "$T/ima.orig"
head -n 3 "$T/ima.orig" >>"$IMA"
get t826 "/v2.6/quotes/integrity?nonce=$NONCE&mask=0x400&partial=1&ima_ml_entry=826"
split t826 && head -n 3 "$T/ima.orig" | cmp -s - "$T/t826/ima.txt" && [ "$(cat "$T/t826/entry")" = 826 ]
check ima_appended_lines_from_826 $?
get t828 "/v2.6/quotes/integrity?nonce=$NONCE&mask=0x400&partial=1&ima_ml_entry=828"
split t828 && sed -n 3p "$T/ima.orig" | cmp -s - "$T/t828/ima.txt" && [ "$(cat "$T/t828/entry")" = 828 ]
get t829 "/v2.6/quotes/integrity?nonce=$NONCE&mask=0x400&partial=1&ima_ml_entry=829"
split t829 && [ ! -s "$T/t829/ima.txt" ] && [ "$(cat "$T/t829/entry")" = 829 ]
check ima_appended_lines_tail_and_end $?
head -n 100 "$T/ima.orig" >"$IMA" # same inode, shorter
get r829 "/v2.6/quotes/integrity?nonce=$NONCE&mask=0x400&partial=1&ima_ml_entry=829"
split r829 && head -n 100 "$T/ima.orig" | cmp -s - "$T/r829/ima.txt" && [ "$(cat "$T/r829/entry")" = 0 ]
get r50 "/v2.6/quotes/integrity?nonce=$NONCE&mask=0x400&partial=1&ima_ml_entry=50"
split r50 && sed -n '51,100p' "$T/ima.orig" | cmp -s - "$T/r50/ima.txt" && [ "$(cat "$T/r50/entry")" = 50 ]
check ima_rewritten_shorter_read_afresh $?
# Same length, other content from the cached line on: the cache notices.
{ head -n 99 "$T/ima.orig"; sed -n 101p "$T/ima.orig"; sed -n 102p "$T/ima.orig"; } >"$IMA"
get s100 "/v2.6/quotes/integrity?nonce=$NONCE&mask=0x400&partial=1&ima_ml_entry=100"
split s100 && sed -n 102p "$T/ima.orig" | cmp -s - "$T/s100/ima.txt" && [ "$(cat "$T/s100/entry")" = 100 ]
check ima_rewritten_in_place_read_afresh $?
cp "$T/ima.orig" "$IMA"

# Appended measurements show up in the next answer and in the next quote's PCR 10 (the
# agent holds the swtpm's only connection, so it steps aside while nodesim measures).
stop_pid "$AGENT_PID"
for i in 1 2 3; do
	"$NODESIM" "$TCTI_Q" ima-append "$IMA" "/usr/bin/new$i" "$(printf %064x $i)" >/dev/null || break
done
agent_start "$T/agent1b.log"
get grown "/v2.6/quotes/integrity?nonce=$NONCE&mask=0x400&partial=1&ima_ml_entry=826"
split grown && [ "$(wc -l <"$T/grown/ima.txt")" = 3 ] && [ "$(cat "$T/grown/entry")" = 826 ] &&
	grep -q /usr/bin/new3 "$T/grown/ima.txt" &&
	[ "$(cat "$T/grown/pcr.10")" = "$("$BIN/vigilctl" ima replay --bank sha256 --quiet "$IMA")" ]
check ima_growth_seen_in_list_and_pcr10 $?

# --- partial=1 omits pubkey; no PCR 0 in the mask, no event log; PCR 16 still quoted.
get part "/v2.6/quotes/integrity?nonce=$NONCE&mask=0x408400&partial=1&ima_ml_entry=0"
split part && keys_are part "quote hash_alg enc_alg sign_alg ima_measurement_list ima_measurement_list_entry"
check partial_1_omits_pubkey_and_mb_without_pcr0 $?
verify part "$T/payload.pem" && pcr16_ok part "$T/payload.pem"
check partial_quote_verifies_with_cached_pubkey $?
# mask 0: only PCR 16; hex without 0x and in upper case is a mask too.
get m0 "/v2.6/quotes/integrity?nonce=$NONCE&mask=0&partial=0"
split m0 && [ "$(ls "$T/m0" | grep -c '^pcr\.')" = 1 ] && verify m0
check mask_0_quotes_pcr16_only $?
get mup "/v2.6/quotes/integrity?nonce=$NONCE&mask=40840F&partial=1"
split mup && [ "$(ls "$T/mup" | sed -n 's/^pcr\.//p' | sort -n | tr '\n' ' ')" = "0 1 2 3 10 15 16 22 " ] &&
	verify mup "$T/payload.pem"
check mask_without_0x_uppercase $?
get all "/v2.6/quotes/integrity?nonce=$NONCE&mask=0xffffff&partial=1"
split all && [ "$(ls "$T/all" | grep -c '^pcr\.')" = 24 ] && verify all "$T/payload.pem"
check mask_all_24_pcrs $?
N64=$(printf 'Z%.0s' $(seq 64))
get n64 "/v2.6/quotes/integrity?nonce=$N64&mask=0x1&partial=1"
split n64 && "$QC" -k "$T/ak.pem" -n "$N64" -q "$T/n64/quote.txt" | grep -qx OK
check nonce_64_chars $?

# --- bad queries: 400 (with the reason, or the HTTP layer's "malformed query").
bad=0
for qs in "nonce=&mask=0x1&partial=0" "nonce=$N64"Z"&mask=0x1&partial=0" \
	"nonce=abc-def&mask=0x1&partial=0" "nonce=abc%41&mask=0x1&partial=0" \
	"nonce=abc+d&mask=0x1&partial=0" "nonce=%C3%A9t%C3%A9&mask=0x1&partial=0" \
	"mask=0x1&partial=0" "nonce=abc&nonce=abd&mask=0x1&partial=0" "nonce&mask=0x1&partial=0" \
	"nonce=abc&mask=0x1000000&partial=0" "nonce=abc&mask=0x&partial=0" \
	"nonce=abc&mask=zz&partial=0" "nonce=abc&mask=-1&partial=0" "nonce=abc&mask=0x1 &partial=0" \
	"nonce=abc&partial=0" "nonce=abc&mask=0x1" "nonce=abc&mask=0x1&partial=2" \
	"nonce=abc&mask=0x1&partial=" "nonce=abc&mask=0x1&partial=00" \
	"nonce=abc&mask=0x1&partial=0&ima_ml_entry=-1" "nonce=abc&mask=0x1&partial=0&ima_ml_entry=x" \
	"nonce=abc&mask=0x1&partial=0&ima_ml_entry="; do
	get bad "/v2.6/quotes/integrity?${qs// /%20}"
	status_is bad 400 "" || { echo "# not 400: $qs -> $(cat "$T/bad.json")"; bad=1; }
done
[ $bad = 0 ]
check bad_queries_400 $?
get badid "/v2.6/quotes/identity?nonce=no_underscore"
status_is badid 400 "nonce"
check identity_bad_nonce_400 $?

# --- versions: 2.7 is not served; enc_alg per version.
get v27 "/v2.7/quotes/integrity?nonce=$NONCE&mask=0x1&partial=0"
status_is v27 400 "API version not supported: v2.7" &&
	[ "$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"])' "$T/v27.json")" = "API version not supported: v2.7" ]
check v2_7_not_supported $?
get v24 "/v2.4/quotes/integrity?nonce=$NONCE&mask=0x400&partial=1"
split v24 && [ "$(cat "$T/v24/alg.enc_alg")" = rsa ]
check enc_alg_rsa_under_v2_4 $?
get v25 "/v2.5/quotes/integrity?nonce=$NONCE&mask=0x400&partial=1"
split v25 && [ "$(cat "$T/v25/alg.enc_alg")" = rsa2048 ]
check enc_alg_rsa2048_under_v2_5 $?
get v21 "/v2.1/quotes/integrity?nonce=$NONCE&mask=0x400&partial=1"
split v21 && verify v21 "$T/payload.pem"
check integrity_under_v2_1 $?
curl -s --max-time 10 --cacert "$STATE/server-cert.pem" --cert "$T/ca/verifier.crt" \
	--key "$T/ca/verifier.key" -X POST -o /dev/null -w '%{http_code}' \
	"$URL/v2.6/quotes/integrity?nonce=$NONCE&mask=0x1&partial=0" | grep -qx 405
check integrity_post_405 $?

# --- identity quote: nonce only, PCR 16 only, pubkey always, no logs.
get ident "/v2.6/quotes/identity?nonce=$NONCE"
split ident && keys_are ident "quote hash_alg enc_alg sign_alg pubkey" &&
	[ "$(ls "$T/ident" | grep '^pcr\.')" = pcr.16 ]
check identity_shape $?
verify ident && pcr16_ok ident "$T/payload.pem" && cmp -s "$T/ident/pubkey.pem" "$T/payload.pem"
check identity_verifies $?
get ident2 "/v2.6/quotes/identity?nonce=$NONCE&mask=0x1&partial=1&ima_ml_entry=zz"
split ident2 && keys_are ident2 "quote hash_alg enc_alg sign_alg pubkey" && verify ident2
check identity_ignores_integrity_params $?

# --- a client without a certificate from the trusted CA gets nothing.
code=$(curl -s --max-time 10 --cacert "$STATE/server-cert.pem" -o /dev/null -w '%{http_code}' \
	"$URL/v2.6/quotes/identity?nonce=$NONCE")
[ "$code" != 200 ]
check identity_needs_client_cert $?

# --- restart: same payload key; with unreadable logs both log fields are left out; with
# an ECC AK the quote is ECDSA and verifies the same way.
stop_pid "$AGENT_PID"
agent_start "$T/agent2.log" -o agent.ima_log="$T/no-such-ima" -o agent.event_log="$T/no-such-log"
check agent_restarts $?
get nologs "/v2.6/quotes/integrity?nonce=$NONCE&mask=0x408401&partial=0&ima_ml_entry=0"
split nologs && keys_are nologs "quote hash_alg enc_alg sign_alg pubkey" &&
	cmp -s "$T/nologs/pubkey.pem" "$T/payload.pem" && verify nologs
check unreadable_logs_omitted_payload_key_kept $?
stop_pid "$AGENT_PID"
agent_start "$T/agent3.log" -o agent.ak_alg=ecc -o agent.ima_log_max_mb=1 \
	-o agent.event_log_max_mb=1
check agent_restarts_ecc_ak $?
tpm2_print -t TPM2B_PUBLIC -f pem "$STATE/ak.pub" >"$T/ak.pem" 2>/dev/null
get ecc "/v2.6/quotes/integrity?nonce=$NONCE&mask=0x408401&partial=0&ima_ml_entry=0"
split ecc && [ "$(cat "$T/ecc/alg.enc_alg" "$T/ecc/alg.sign_alg" | tr '\n' ' ')" = "ecc256 ecdsa " ] &&
	verify ecc && pcr16_ok ecc "$T/payload.pem"
check ecc_ak_quote_verifies $?
get ecc24 "/v2.4/quotes/identity?nonce=$NONCE"
split ecc24 && [ "$(cat "$T/ecc24/alg.enc_alg")" = ecc ] && verify ecc24
check ecc_enc_alg_under_v2_4 $?
# Logs over their limit are left out (and logged), the quote is still served.
head -c $((1024 * 1024 + 1)) /dev/zero >"$T/big.log"
stop_pid "$AGENT_PID"
agent_start "$T/agent4.log" -o agent.ak_alg=ecc -o agent.event_log="$T/big.log" \
	-o agent.event_log_max_mb=1
get big "/v2.6/quotes/integrity?nonce=$NONCE&mask=0x1&partial=1"
split big && keys_are big "quote hash_alg enc_alg sign_alg ima_measurement_list ima_measurement_list_entry" &&
	grep -q "larger than its limit" "$T/agent4.log"
check event_log_over_limit_left_out $?

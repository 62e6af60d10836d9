#!/usr/bin/env bash
# Simulated nodes (lib.sh node_tpm_start / node_logs, build/tools/nodesim).
# Setup: a swtpm with the sha1 and sha256 banks; node_logs copies the real 826-entry IMA
#   list and the real kl_binary_bios_measurements-secureboot UEFI log to $T and extends
#   both into it with nodesim.
# Actions and expected outcome, each read back with tpm2_pcrread (not nodesim):
#   - PCR 10 of both banks equals `vigilctl ima replay` of the list; PCRs 0-9 and 14 of
#     sha256 equal what `vigilctl eventlog show --json` replays; sha1 PCRs 0-9 stay zero
#     (the log carries no sha1 digests);
#   - ima-append adds one well-formed ima-ng line and PCR 10 follows the longer list;
#     ima-append --no-extend adds a line but PCR 10 stays at the shorter list's replay;
#   - pcr-extend changes exactly the one PCR, to H(old || value);
#   - after a reboot, ima-extend --count then --from rebuilds PCR 10 in two steps;
#   - a log needing StartupLocality 3 is refused with a clear reason, PCRs untouched;
#   - usage errors exit 2, a TPM that is not there exits 1.
. "$(dirname "$0")/lib.sh"

VC=$BIN/vigilctl
PY=/usr/bin/python3
for tool in swtpm swtpm_setup swtpm_localca tpm2_pcrread tpm2_getcap; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "skip nodesim: $tool not installed (deploy/deps.sh installs it)"
		exit 0
	fi
done
if [ ! -f "$NODE_IMA_LIST" ] || [ ! -f "$NODE_UEFI_LOG" ]; then
	echo "skip nodesim: testdata missing ($NODE_TESTDATA)"
	exit 0
fi

node_tpm_start n1
check node_tpm_start $?
[ -n "${TCTI_n1:-}" ] || exit 1
node_logs n1
check node_logs $?
[ -f "${NODE_IMA_n1:-}" ] && [ -f "${NODE_EVENTLOG_n1:-}" ] &&
	cmp -s "$NODE_IMA_n1" "$NODE_IMA_LIST" && cmp -s "$NODE_EVENTLOG_n1" "$NODE_UEFI_LOG"
check node_logs_files $?
export TPM2TOOLS_TCTI=$TCTI_n1

# pcr BANK N: that PCR from the TPM through tpm2-tools, lowercase hex.
pcr() {
	# Lines read "  4 : 0xAB..." or "  10: 0xAB...".
	tpm2_pcrread "$1:$2" | awk -v n="$2" '{ k = $1; sub(":", "", k) }
		k == n && $NF ~ /^0x/ { v = $NF; sub("0x", "", v); print tolower(v) }'
}
# replay LIST BANK: vigilctl's PCR 10 for the list.
replay() {
	"$VC" ima replay "$1" --bank "$2" --quiet
}
# pcr10_is LIST: PCR 10 of both banks equals the replay of LIST.
pcr10_is() {
	local b tpm ours
	for b in sha1 sha256; do
		tpm=$(pcr "$b" 10)
		ours=$(replay "$1" "$b")
		[ -n "$tpm" ] && [ "$tpm" = "$ours" ] || { echo "# PCR 10 $b: tpm $tpm, replay $ours"; return 1; }
	done
}

# The banks are the ones asked for.
tpm2_getcap pcrs | tr -d ' ' >"$T/banks"
grep -q '^-sha1:\[0,1,2' "$T/banks" && grep -q '^-sha256:\[0,1,2' "$T/banks"
check banks_sha1_sha256 $?

pcr10_is "$NODE_IMA_n1"
check ima_pcr10_sha1_sha256 $?
[ "$("$VC" ima replay "$NODE_IMA_n1" | tail -1)" = "entries 826" ]
check ima_826_entries $?

# Every PCR the UEFI log extends, against vigilctl's replay of it; the rest are zero.
"$VC" eventlog show --json "$NODE_EVENTLOG_n1" >"$T/el.json"
tpm2_pcrread sha256:0,1,2,3,4,5,6,7,8,9,14+sha1:0,1,2,3,4,5,6,7,8,9 >"$T/pcrs.yaml"
$PY - "$T/el.json" "$T/pcrs.yaml" <<'EOF'
import json, re, sys
want = json.load(open(sys.argv[1]))["pcrs"]["sha256"]
got, bank = {}, None
for line in open(sys.argv[2]):
    m = re.match(r"\s*(sha\d+):\s*$", line)
    if m:
        bank = m.group(1)
        continue
    m = re.match(r"\s*(\d+)\s*:\s*0x([0-9A-Fa-f]+)", line)
    if m:
        got[(bank, m.group(1))] = m.group(2).lower()
bad = [p for p in [str(i) for i in range(10)] + ["14"] if got.get(("sha256", p)) != want.get(p)]
bad += ["sha1:%d" % i for i in range(10) if got.get(("sha1", str(i))) != "0" * 40]
if bad:
    sys.exit("differ: %s" % bad)
EOF
check eventlog_pcrs_0_9_14 $?

# nodesim's own reader agrees with tpm2-tools.
[ "$("$NODESIM" "$TCTI_n1" pcr-read sha256 4 10 | tr '\n' ' ')" = "$(pcr sha256 4) $(pcr sha256 10) " ]
check pcr_read_agrees $?

# One new measurement, logged and extended.
digest=$(printf 'nodesim' | sha256sum | cut -d' ' -f1)
line=$("$NODESIM" "$TCTI_n1" ima-append "$NODE_IMA_n1" /usr/local/bin/intruder "$digest")
check ima_append $?
[ "$(tail -1 "$NODE_IMA_n1")" = "$line" ] &&
	[[ $line =~ ^10\ [0-9a-f]{40}\ ima-ng\ sha256:$digest\ /usr/local/bin/intruder$ ]] &&
	[ "$("$VC" ima replay "$NODE_IMA_n1" | tail -1)" = "entries 827" ]
check ima_append_line_wellformed $?
pcr10_is "$NODE_IMA_n1"
check ima_append_pcr10_follows $?

# A line the TPM never saw: PCR 10 stays at the 827-entry replay.
cp "$NODE_IMA_n1" "$T/827.ima"
"$NODESIM" "$TCTI_n1" ima-append "$NODE_IMA_n1" /tmp/hidden "$digest" --template ima-ng \
	--no-extend >/dev/null &&
	[ "$("$VC" ima replay "$NODE_IMA_n1" | tail -1)" = "entries 828" ] &&
	pcr10_is "$T/827.ima" && [ "$(pcr sha256 10)" != "$(replay "$NODE_IMA_n1" sha256)" ]
check ima_append_no_extend $?

# A raw extend changes that PCR, to H(old || value), and nothing else.
before9=$(pcr sha256 9) before8=$(pcr sha256 8) before9_1=$(pcr sha1 9)
val=$(printf '%064d' 7)
"$NODESIM" "$TCTI_n1" pcr-extend 9 sha256 "$val"
check pcr_extend $?
want=$($PY -c 'import hashlib,sys; print(hashlib.sha256(bytes.fromhex(sys.argv[1] + sys.argv[2])).hexdigest())' \
	"$before9" "$val")
[ "$(pcr sha256 9)" = "$want" ] && [ "$(pcr sha256 8)" = "$before8" ] &&
	[ "$(pcr sha1 9)" = "$before9_1" ]
check pcr_extend_one_pcr $?

# Refusals, and PCRs left alone by them.
p0=$(pcr sha256 0)
out=$("$NODESIM" "$TCTI_n1" eventlog-extend "$NODE_TESTDATA/eventlog/kl_binary_bios_measurements" 2>&1)
[ $? -eq 1 ] && grep -q "locality 3" <<<"$out" && [ "$(pcr sha256 0)" = "$p0" ]
check eventlog_locality3_refused $?
"$NODESIM" "$TCTI_n1" pcr-extend 9 sha256 abcd 2>/dev/null
[ $? -eq 1 ]
check pcr_extend_bad_length $?
"$NODESIM" "$TCTI_n1" pcr-read sha384 10 >/dev/null 2>&1
[ $? -eq 1 ]
check pcr_read_inactive_bank $?
"$NODESIM" "$TCTI_n1" ima-append "$T/827.ima" "/a b" "$digest" >/dev/null 2>&1
[ $? -eq 1 ] && cmp -s "$T/827.ima" <(head -827 "$NODE_IMA_n1")
check ima_append_bad_path $?
"$NODESIM" "$TCTI_n1" frobnicate >/dev/null 2>&1
[ $? -eq 2 ]
check usage_error $?
"$NODESIM" "swtpm:host=127.0.0.1,port=1" pcr-read sha256 0 >/dev/null 2>&1
[ $? -eq 1 ]
check no_tpm $?

# Reboot: PCRs reset; the list goes back in two steps.
swtpm_restart n1
check restart $?
export TPM2TOOLS_TCTI=$TCTI_n1
head -400 "$NODE_IMA_n1" >"$T/400.ima"
"$NODESIM" "$TCTI_n1" ima-extend "$NODE_IMA_n1" --count 400 && pcr10_is "$T/400.ima"
check ima_extend_count $?
"$NODESIM" "$TCTI_n1" ima-extend "$NODE_IMA_n1" --from 400 && pcr10_is "$NODE_IMA_n1"
check ima_extend_from $?
"$NODESIM" "$TCTI_n1" ima-extend "$NODE_IMA_n1" --from 900 2>/dev/null
[ $? -eq 1 ]
check ima_extend_past_end $?
exit 0

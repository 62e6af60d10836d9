#!/usr/bin/env bash
# IMA replay, second opinion from a real TPM implementation.
# Setup: a swtpm (lib.sh harness) with the SHA-1, SHA-256 and SHA-384 banks active.
# Actions: every entry of the real 826-entry list is extended into PCR 10 with
#   tpm2_pcrextend, the values computed by ima_ref.py (an independent Python reading of
#   the kernel's template rules, which also checks every SHA-1 template hash); then
#   PCR 10 is read back with tpm2_pcrread.
# Expected: `vigilctl ima replay --bank B` prints exactly the TPM's PCR 10 for each bank;
#   after extending one more entry, vigilctl's replay of the original list no longer does.
. "$(dirname "$0")/lib.sh"

LIST=$TOP/test/data/ima/ascii_runtime_measurements-826
for tool in swtpm swtpm_setup swtpm_localca tpm2_pcrextend tpm2_pcrread tpm2_getcap python3; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "skip swtpm: $tool not installed (deploy/deps.sh installs it)"
		exit 0
	fi
done
if [ ! -f "$LIST" ]; then
	echo "not ok testdata: $LIST missing"
	exit 1
fi

# The shared harness (lib.sh) provisions and starts the TPM on free loopback ports.
SWTPM_PCR_BANKS=sha1,sha256,sha384
swtpm_start ima
check started $?
[ -n "${TCTI_ima:-}" ] || exit 1
export TPM2TOOLS_TCTI=$TCTI_ima

python3 "$TOP/test/integration/ima_ref.py" "$LIST" >"$T/extends"
check reference_template_hashes $?
[ "$(wc -l <"$T/extends")" -eq 826 ]
check reference_826_entries $?

# Batches of 100 entries per tpm2_pcrextend call keep this quick.
awk '{ printf "10:sha1=%s,sha256=%s,sha384=%s\n", $1, $2, $3 }' "$T/extends" |
	xargs -n 100 tpm2_pcrextend
check extend $?

# pcr10 BANK: PCR 10 of that bank from the TPM, lowercase hex.
pcr10() {
	tpm2_pcrread "$1:10" | awk '/10:/ { sub("0x", "", $2); print tolower($2) }'
}

for bank in sha1 sha256 sha384; do
	tpm=$(pcr10 $bank)
	ours=$("$BIN/vigilctl" ima replay "$LIST" --bank $bank --quiet)
	if [ -n "$tpm" ] && [ "$tpm" = "$ours" ]; then
		echo "ok pcr10_$bank"
	else
		echo "not ok pcr10_$bank: tpm $tpm, vigilctl $ours"
	fi
done

# The entry count is reported too.
"$BIN/vigilctl" ima replay "$LIST" | grep -qx 'entries 826'
check entry_count $?

# One extend the list does not show: the replay no longer matches the TPM.
tpm2_pcrextend "10:sha256=$(printf '%064d' 7)"
[ "$(pcr10 sha256)" != "$("$BIN/vigilctl" ima replay "$LIST" --bank sha256 --quiet)" ]
check unlogged_extend_detected $?

#!/usr/bin/env bash
# Setup: the built binaries. Actions: the shared daemon command line (-h, -n, -p, -o, bad
# keys); every vigilctl command with its options before and after its operands.
# Expected: help exits 0, "configuration OK" for a good config, a clear error and
# exit 1 for a bad key or value; vigilctl parses both orders the same, with or without
# POSIXLY_CORRECT.
. "$(dirname "$0")/lib.sh"

for d in agent registrar verifier; do
	bin=$BIN/vigil-$d
	out=$("$bin" -h) && grep -q "Usage: vigil-$d" <<<"$out"
	check "$d -h prints usage" $?
	out=$("$bin" -n -c "$TOP/deploy/config/$d.conf" 2>&1) && grep -qx "configuration OK" <<<"$out"
	check "$d -n accepts the sample config" $?
	out=$("$bin" -n -o "$d.no_such_key=1" 2>&1); rc=$?
	[ $rc -eq 1 ] && grep -q "unknown key $d.no_such_key" <<<"$out"
	check "$d -n rejects an unknown key with a clear error" $?
done
out=$("$BIN/vigilctl" help) && grep -q "Usage: vigilctl" <<<"$out"
check "vigilctl help" $?

# vigilctl: options before and after operands, in every command (glibc's getopt stops at the
# first operand with a '+' option string or POSIXLY_CORRECT; vigilctl must not). Offline
# commands must give the same output both ways; networked ones, pointed at a closed port,
# must get as far as connecting (exit 1, "unavailable" or a registrar error), never a usage
# error (exit 2).
V=$BIN/vigilctl
LOG=$TOP/test/data/eventlog/kl_binary_bios_measurements
IMA=$TOP/test/data/ima/keylime-ima-log-sha256
NET=(--verifier 127.0.0.1:1 --registrar 127.0.0.1:1 --insecure)
U=d432fbb3-d2f1-4a97-9ef7-75bd81c00001
for env in "" "POSIXLY_CORRECT=1"; do
	tag=${env:+ ($env)}
	a=$(env $env "$V" eventlog show "$LOG" --json) && b=$(env $env "$V" eventlog show --json "$LOG") &&
		[ "$a" = "$b" ] && grep -q '"format": "crypto-agile"' <<<"$a"
	check "vigilctl eventlog show FILE --json equals --json FILE$tag" $?
	a=$(env $env "$V" ima replay "$IMA" --bank sha256 -q) &&
		b=$(env $env "$V" ima replay --bank sha256 -q "$IMA") && [ "$a" = "$b" ] && [ ${#a} -eq 64 ]
	check "vigilctl ima replay FILE --bank ALG equals --bank ALG FILE$tag" $?
	rm -rf "$T/args-ca"
	env $env "$V" ca init "$T/args-ca" --cn "args CA" >/dev/null &&
		env $env "$V" ca issue "$T/args-ca" one --client --days 2 >/dev/null &&
		env $env "$V" ca issue --client "$T/args-ca" two >/dev/null &&
		env $env "$V" ca issue "$T/args-ca" --server three --san localhost >/dev/null &&
		openssl x509 -in "$T/args-ca/ca.crt" -noout -subject | grep -q "args CA" &&
		[ -f "$T/args-ca/one.crt" ] && [ -f "$T/args-ca/two.crt" ] && [ -f "$T/args-ca/three.crt" ]
	check "vigilctl ca init DIR --cn, ca issue with options before, between and after operands$tag" $?
	# COMMAND WORDS|OPERANDS AND OPTIONS
	for cmd in "add|$U --runtime-policy rp" "status|$U" "stop|$U" "reactivate|$U" \
		"remove|$U" "list|" "policy get|P" "policy delete|P" "policy list|--kind mb" \
		"policy put|P $LOG --kind mb"; do
		read -r -a w <<<"${cmd%%|*}"
		read -r -a o <<<"${cmd#*|}"
		out1=$(env $env "$V" "${w[@]}" "${o[@]}" "${NET[@]}" 2>&1); rc1=$?
		out2=$(env $env "$V" "${w[@]}" "${NET[@]}" "${o[@]}" 2>&1); rc2=$?
		[ $rc1 -eq 1 ] && [ $rc2 -eq 1 ] && ! grep -q "Usage" <<<"$out1$out2"
		check "vigilctl ${w[*]} ${o[*]}: connection options after and before the operands$tag" $?
	done
done
out=$("$V" eventlog show -- --json 2>&1)
[ $? -eq 1 ] && grep -q -- "--json: No such file" <<<"$out"
check "vigilctl eventlog show -- --json: after --, an option-like word is the FILE" $?
"$V" eventlog show "$LOG" --no-such-option >/dev/null 2>&1
[ $? -eq 2 ]
check "vigilctl eventlog show FILE --no-such-option is a usage error (exit 2)" $?

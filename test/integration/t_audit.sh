#!/usr/bin/env bash
# The verifiable audit trail: the event log's hash chain and its seals, exported and
# verified offline.
# Setup: a fleet on loopback with one simulated node under a runtime policy made from its
# own IMA list; the verifier seals every 3 records (audit_seal_records = 3) and, in this
# first run, practically never by time (audit_seal_interval = 3600).
# Actions: the node is tampered with (an unknown file runs) and reactivated twice, each
# time failing again (a reactivation and a revocation record each, beside the node's
# other records: added, attested); the log is exported; copies of the
# export are tampered with; the verifier restarts with audit_seal_interval = 1 and the
# node is reactivated once more.
# Expected: a seal appears at record 3 by count; `events key` is the key in the state
# dir; the export verifies with that key, and each tampered copy fails naming the record
# or seal (edited, removed, reordered, inserted, bad seal, other key); the clean shutdown
# seals what was unsealed; after the restart the key is reused, a seal appears by time,
# and the chain continues and verifies; restarted with another audit.key (a pool instance
# not given the pool's key), the verifier says at start that the log's seals are not its.
. "$(dirname "$0")/lib.sh"

# wait_for SECONDS CMD...: until CMD succeeds, polling every 0.1 s.
wait_for() {
	local n=$(($1 * 10))
	shift
	for _ in $(seq "$n"); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
# records: how many records the log holds (every type of the catalogue).
records() {
	fctl events list --json 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}
# revocations N: the log holds N revocation records.
revocations() {
	[ "$(fctl events list --type revocation --json 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = "$1" ]
}

fleet_start -o verifier.audit_seal_records=3 -o verifier.audit_seal_interval=3600 || exit 1
VLOG=$T/fleet-verifier.log
grep -q "audit key $T/fleet-verifier/audit.key created" "$VLOG" &&
	[ "$(stat -c %a "$T/fleet-verifier/audit.key")" = 600 ]
check "the audit key is created at first start, mode 0600" $?

"$BIN/vigilctl" policy create runtime --ima-log "$NODE_IMA_LIST" --output "$T/rt.json" >/dev/null &&
	fctl policy put rt --kind runtime "$T/rt.json" >/dev/null
fleet_node u || exit 1
fctl add "$NODE_UUID_u" --runtime-policy rt >/dev/null &&
	wait_node_state "$NODE_UUID_u" GET_QUOTE 20 >/dev/null
check "the node attests" $?

"$NODESIM" "$TCTI_u" ima-append "$NODE_IMA_u" /usr/bin/evil \
	"$(printf evil | sha256sum | cut -d' ' -f1)" >/dev/null &&
	wait_node_state "$NODE_UUID_u" INVALID_QUOTE 10 >/dev/null && wait_for 10 revocations 1
check "the tampered node fails: one revocation record" $?

for n in 2 3; do
	fctl reactivate "$NODE_UUID_u" >/dev/null && wait_for 20 revocations $n || break
done
check "reactivated twice, it fails twice more: three revocation records" $?

wait_for 10 grep -q "audit log sealed at record 3 (id 3-[0-9a-f]*, 3 records since the last seal)" "$VLOG"
NREC=$(records)
check "a seal by count (audit_seal_records = 3) at record 3" $?

fctl events key >"$T/key.pem" &&
	openssl pkey -in "$T/fleet-verifier/audit.key" -pubout | cmp -s - "$T/key.pem"
check "events key prints the public half of the key in the state dir" $?

id3=$(fctl events list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[2]["id"])')
idlast=$(fctl events list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
fctl events show "$id3" | grep -q "^seq:       3$" &&
	fctl events show "$id3" --json | grep -q "\"agent_id\": \"$NODE_UUID_u\"" &&
	[ "$(fctl events list --since "$id3" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = $((NREC - 3)) ] &&
	[ "$(fctl events list --since "$idlast" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 0 ] &&
	[ "$(fctl events list --node "$NODE_UUID_u" | tail -n +2 | wc -l)" = "$(fctl events list --json | python3 -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin) if e.get("node_uuid") == sys.argv[1]))' "$NODE_UUID_u")" ]
check "events list (with --node, --since, --json) and events show" $?

out=$(fctl events show 3-0000000000000000 2>&1)
[ $? = 2 ] && grep -q "event 3-0000000000000000 not found (NOT_FOUND)" <<<"$out"
check "events show of an unknown id: NOT_FOUND names it, exit 2" $?

fctl events export --out "$T/export.jsonl" >/dev/null &&
	"$BIN/vigilctl" events verify --export "$T/export.jsonl" --key "$T/key.pem" >"$T/v.out" &&
	grep -q "^intact: $NREC records, [0-9]* seals, last seal at record [0-9]*" "$T/v.out"
check "the export verifies offline with the key" $?
fctl events verify | grep -q "^intact: $NREC records, [0-9]* seals"
check "events verify online (fetched over gRPC) is intact" $?

# tamper KIND: a copy of the export, tampered with as KIND says, in $T/bad-KIND.jsonl.
tamper() {
	python3 - "$T/export.jsonl" "$T/bad-$1.jsonl" "$1" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
recs = [i for i, l in enumerate(lines) if json.loads(l)["kind"] == "record"]
seal = [i for i, l in enumerate(lines) if json.loads(l)["kind"] == "seal"][0]
kind = sys.argv[3]
if kind == "edited":
    i = [i for i in recs if "evil" in json.loads(lines[i])["body"]][0]
    r = json.loads(lines[i]); r["body"] = r["body"].replace("evil", "good")
    lines[i] = json.dumps(r, separators=(",", ":"))
elif kind == "removed":
    del lines[recs[0]]
elif kind == "reordered":
    lines[recs[0]], lines[recs[1]] = lines[recs[1]], lines[recs[0]]
elif kind == "inserted":
    lines.insert(recs[1] + 1, lines[recs[1]])
elif kind == "seal":
    s = json.loads(lines[seal]); sig = s["sig"]
    s["sig"] = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    lines[seal] = json.dumps(s, separators=(",", ":"))
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
PY
}
# broken KIND PATTERN [KEY]: verifying the KIND copy exits 1 and says PATTERN.
broken() {
	local out rc
	tamper "$1" || return 1
	out=$("$BIN/vigilctl" events verify --export "$T/bad-$1.jsonl" --key "${3:-$T/key.pem}")
	rc=$?
	echo "$out" >&2
	[ $rc = 1 ] && grep -q "^BROKEN .*$2" <<<"$out"
}
broken edited "record [0-9]* (id [0-9]*-[0-9a-f]*): content does not match its hash: edited"
check "a record edited: verify names it (exit 1)" $?
broken removed "record 2 (id 2-[0-9a-f]*): record 1 before it is missing: removed"
check "a record removed: verify names the gap (exit 1)" $?
broken reordered "record 2 (id 2-[0-9a-f]*) comes before record 1 (id 1-[0-9a-f]*): reordered"
check "two records reordered: verify names them (exit 1)" $?
broken inserted "record 2 (id 2-[0-9a-f]*): a second record 2 after the one with id 2-[0-9a-f]*: inserted"
check "a record inserted: verify names it (exit 1)" $?
broken seal "seal at seq 3 (line [0-9]*): bad signature: bad seal"
check "a seal's signature flipped: verify names the seal (exit 1)" $?
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null | openssl pkey -pubout >"$T/other.pem"
cp "$T/export.jsonl" "$T/bad-other.jsonl"
out=$("$BIN/vigilctl" events verify --export "$T/bad-other.jsonl" --key "$T/other.pem")
[ $? = 1 ] && grep -q "seal at seq 3 (line [0-9]*) is signed by key .*, not by the key given .*: bad key" <<<"$out"
check "verified with another key: the seal is refused (exit 1)" $?
"$BIN/vigilctl" events verify --export "$T/nonexistent.jsonl" 2>/dev/null
[ $? = 2 ]
check "an export that cannot be read: exit 2" $?

# A fourth record, then a clean shutdown seals it.
fctl reactivate "$NODE_UUID_u" >/dev/null && wait_for 20 revocations 4
check "a fourth revocation record" $?
NREC=$(records)
stop_pid "$VERIFIER_PID"
grep -q "audit log sealed at record $NREC (id $NREC-[0-9a-f]*, [0-9]* records since the last seal)" "$VLOG"
check "a clean shutdown seals what was unsealed" $?

verifier_start fleet-verifier -o verifier.registrar="$REGISTRAR_TLS_ADDR" \
	-o verifier.registrar_ca="$T/ca/ca.crt" -o verifier.audit_seal_records=100 \
	-o verifier.audit_seal_interval=1 &&
	grep -q "audit key $T/fleet-verifier/audit.key loaded" "$VLOG" &&
	fctl events key | cmp -s - "$T/key.pem"
check "after a restart the same audit key is loaded" $?

fctl reactivate "$NODE_UUID_u" >/dev/null && wait_for 20 revocations 5 && NREC=$(records) &&
	wait_for 10 grep -q "audit log sealed at record $NREC (id $NREC-[0-9a-f]*, [0-9]* records since the last seal)" "$VLOG"
check "a seal by time (audit_seal_interval = 1) for the new records" $?

fctl events export --out "$T/export2.jsonl" >/dev/null &&
	"$BIN/vigilctl" events verify --export "$T/export2.jsonl" --key "$T/key.pem" >"$T/v2.out" &&
	grep -q "^intact: $NREC records, [0-9]* seals, last seal at record $NREC$" "$T/v2.out" &&
	tail -n +2 "$T/export2.jsonl" | head -n "$(($(wc -l <"$T/export.jsonl") - 1))" |
	cmp -s - <(tail -n +2 "$T/export.jsonl")
check "after the restart the chain continues from the same records and verifies" $?

# Another key in the same state (a pool instance that was not given the pool's audit.key):
# it starts, and says at once that its seals will not verify with the log's key.
stop_pid "$VERIFIER_PID"
mv "$T/fleet-verifier/audit.key" "$T/audit.key.orig" &&
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/fleet-verifier/audit.key" 2>/dev/null &&
	chmod 600 "$T/fleet-verifier/audit.key" &&
	verifier_start fleet-verifier -o verifier.registrar="$REGISTRAR_TLS_ADDR" \
		-o verifier.registrar_ca="$T/ca/ca.crt" &&
	grep -q "audit: the log's last seal (record $NREC) was made with key .*every verifier sharing this database must hold the same audit.key" "$VLOG"
check "a verifier whose audit.key did not make the log's seals says so at start" $?

#!/usr/bin/env bash
# make demo: a whole attested fleet of one node on loopback, then a tamper and its
# detection. Everything runs as your user in a temporary directory and is stopped at the
# end (Ctrl-C stops it early). Nothing binds beyond 127.0.0.1.
set -u
cd "$(dirname "$0")/.."
. test/integration/lib.sh
# The real set-up: gRPC with mutual TLS, vigilctl with the operator certificate.
VERIFIER_MTLS=1
KEEP=${KEEP_TMP:-}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
die() { echo "demo: $*" >&2; exit 1; }

say "1. A fleet CA for vigil's own TLS (vigilctl ca), a registrar and a verifier"
fleet_start -o verifier.quote_interval=1 || die "could not start the registrar or the verifier"
echo "registrar: agents on http://$REGISTRAR_ADDR, admin on https://$REGISTRAR_TLS_ADDR (mTLS)"
echo "verifier:  gRPC on $VERIFIER_ADDR, store $T/fleet-verifier/verifier.db"

say "2. A node: a software TPM with an EK certificate from a TPM CA, and a real machine's logs"
echo "   (the 826-entry IMA list and a Secure Boot UEFI log are extended into its PCRs)"
fleet_node node1 rsa2048 rsa || die "the node's agent did not enroll (see $T/agent-node1.log)"
grep -E "registered and activated|EK" "$T/agent-node1.log" | sed 's/^/   agent: /' | head -4
grep -E "registered|activated" "$T/registrar.log" | sed 's/^/   registrar: /' | head -3

say "3. Policies from the golden machine's logs, stored on the verifier"
run "$BIN/vigilctl" policy create runtime --ima-log "$NODE_IMA_LIST" --output "$T/runtime.json" >/dev/null
run "$BIN/vigilctl" policy create mb --event-log "$NODE_UEFI_LOG" --output "$T/mb.json" >/dev/null
fctl policy put runtime-golden --kind runtime "$T/runtime.json" >/dev/null
fctl policy put mb-golden --kind mb "$T/mb.json" >/dev/null
fctl policy list

say "4. vigilctl add: the node's record from the registrar, its EK certificate checked"
fctl add "$NODE_UUID_node1" --runtime-policy runtime-golden --mb-policy mb-golden ||
	die "vigilctl add failed"
sleep 4
say "   ... a few rounds later"
fctl status "$NODE_UUID_node1"

say "5. Tamper: an unknown binary runs on the node (IMA measures it into PCR 10)"
digest=$(printf 'cryptominer' | sha256sum | cut -d' ' -f1)
run "$NODESIM" "$TCTI_node1" ima-append "$NODE_IMA_node1" /usr/bin/cryptominer "$digest"
for _ in $(seq 50); do
	fctl status "$NODE_UUID_node1" | grep -q "INVALID_QUOTE" && break
	sleep 0.2
done

say "6. The verifier caught it"
fctl status "$NODE_UUID_node1"
grep "attestation FAILED" "$T/fleet-verifier.log" | sed 's/^/   verifier: /'
if fctl status "$NODE_UUID_node1" | grep -q "INVALID_QUOTE"; then
	say "7. The trust events, in the hash-chained audit log (docs/revocation.md)"
	fctl events list
	fctl events verify
	say "8. The node's trust report, and its verdict as a signed EAR token (docs/ear.md)"
	fctl report "$NODE_UUID_node1" --events 3 --ear jwt --out "$T/node1.jwt"
	fctl report key --out "$T/report.pub.pem" 2>/dev/null
	echo "   a relying party checks the token offline, with the verifier's public key:"
	run "$BIN/vigilctl" report verify "$T/node1.jwt" --key "$T/report.pub.pem" >/dev/null
	say "Demo done: enrolled, attested, tamper caught and reported. Logs: $T (kept only with KEEP_TMP=1)"
	exit 0
fi
die "the tamper was not caught; see $T/fleet-verifier.log"

#!/usr/bin/env bash
# GET /metrics, /healthz and /readyz of the verifier and the registrar.
# Setup: a fleet on loopback with metrics on free ports (verifier.metrics_listen,
# registrar.metrics_listen), two simulated nodes enrolled at the registrar, both under a
# runtime policy made from their own IMA list.
# Action: add both, tamper with one (an unknown file runs); scrape both daemons while the
# other keeps attesting; send bad requests; move each database away and back.
# Expected: the text parses with a real Prometheus parser (python3-prometheus-client);
# rounds grow; exactly one failure, reason "ima"; nodes by state 1 get_quote and 1
# invalid_quote; the round histogram's buckets are cumulative and its _count equals the
# rounds; the registrar counts 2 registrations, 2 activations, 2 active enrollments;
# /healthz and /readyz are 200; POST, an unknown path and huge headers get 4xx and change
# no counter; /readyz is 503 naming the store while a database is moved away, 200 again
# once it is back.
. "$(dirname "$0")/lib.sh"

VERIFIER_METRICS=127.0.0.1:$(free_port)
REGISTRAR_METRICS=127.0.0.1:$(free_port)
fleet_start || exit 1
VM=http://$VERIFIER_METRICS
RM=http://$REGISTRAR_METRICS

# prom FILE EXPR: parse FILE with prometheus_client's parser and evaluate the Python
# expression EXPR over it: v(name, **labels) is a sample's value (None when absent),
# names() the sample names, hist_ok(name) checks a histogram. Exit 0 when true; prints
# the parse error or "# false: EXPR" otherwise.
cat >"$T/prom.py" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
samples = {}
try:
    fams = list(text_string_to_metric_families(text))
except Exception as e:
    print("# does not parse:", e)
    sys.exit(1)
for f in fams:
    for s in f.samples:
        samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
def v(name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))
def names():
    return {k[0] for k in samples}
def with_label(name, label):
    return {dict(k[1])[label]: val for k, val in samples.items() if k[0] == name}
def hist_ok(name):
    b = sorted((float(dict(k[1])["le"]), val) for k, val in samples.items()
               if k[0] == name + "_bucket")
    counts = [c for _, c in b]
    return (len(b) > 2 and b[-1][0] == float("inf") and counts == sorted(counts)
            and counts[-1] == v(name + "_count") and v(name + "_sum") is not None)
ok = eval(sys.argv[2])
if not ok:
    print("# false:", sys.argv[2])
sys.exit(0 if ok else 1)
PY

# scrape URL FILE: GET URL/metrics into FILE; 0 on a 200.
scrape() {
	[ "$(curl -s -o "$2" -w '%{http_code}' "$1/metrics")" = 200 ]
}
# wait_prom URL EXPR SECONDS: scrape until EXPR holds, up to SECONDS.
wait_prom() {
	local i
	for i in $(seq $(($3 * 10))); do
		scrape "$1" "$T/wait.prom" && /usr/bin/python3 "$T/prom.py" "$T/wait.prom" "$2" >/dev/null &&
			return 0
		sleep 0.1
	done
	/usr/bin/python3 "$T/prom.py" "$T/wait.prom" "$2"
	return 1
}
# status URL [CURL ARGS...]: the HTTP status of one request.
status() {
	local u=$1
	shift
	curl -s -o /dev/null -w '%{http_code}' "$@" "$u"
}

for u in "$VM" "$RM"; do
	for i in $(seq 100); do [ "$(status "$u/readyz")" = 200 ] && break; sleep 0.1; done
done
[ "$(status "$VM/healthz")" = 200 ] && [ "$(status "$VM/readyz")" = 200 ] &&
	[ "$(status "$RM/healthz")" = 200 ] && [ "$(status "$RM/readyz")" = 200 ]
check "/healthz and /readyz of both daemons: 200" $?

"$BIN/vigilctl" policy create runtime --ima-log "$NODE_IMA_LIST" --output "$T/rt.json" >/dev/null &&
	fctl policy put rt --kind runtime "$T/rt.json" >/dev/null
check "a runtime policy from the golden IMA list" $?
fleet_node good || exit 1
fleet_node bad || exit 1
fctl add "$NODE_UUID_good" --runtime-policy rt >/dev/null &&
	fctl add "$NODE_UUID_bad" --runtime-policy rt >/dev/null &&
	wait_node_state "$NODE_UUID_good" GET_QUOTE 20 >/dev/null &&
	wait_node_state "$NODE_UUID_bad" GET_QUOTE 20 >/dev/null
check "both nodes attest" $?

"$NODESIM" "$TCTI_bad" ima-append "$NODE_IMA_bad" /usr/bin/evil \
	"$(printf evil | sha256sum | cut -d' ' -f1)" >/dev/null &&
	wait_node_state "$NODE_UUID_bad" INVALID_QUOTE 10 >/dev/null
check "the tampered node fails" $?

scrape "$VM" "$T/v1.prom" && /usr/bin/python3 "$T/prom.py" "$T/v1.prom" 'all(n.startswith("vigil_") for n in names())'
check "the verifier's /metrics parses with a Prometheus parser, every name prefixed vigil_" $?

wait_prom "$VM" 'v("vigil_verifier_nodes", state="get_quote") == 1 and v("vigil_verifier_nodes", state="invalid_quote") == 1 and sum(with_label("vigil_verifier_nodes", "state").values()) == 2' 10
check "nodes by state: 1 get_quote, 1 invalid_quote" $?

r1=$(/usr/bin/python3 - "$T/v1.prom" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in f.samples:
        if s.name == "vigil_verifier_rounds_total":
            print(int(s.value))
PY
)
wait_prom "$VM" "v('vigil_verifier_rounds_total') > ${r1:-0} + 2" 10
check "rounds grow while the good node attests (from ${r1:-?})" $?

scrape "$VM" "$T/v2.prom" && /usr/bin/python3 "$T/prom.py" "$T/v2.prom" \
	'{k: c for k, c in with_label("vigil_verifier_round_failures_total", "reason").items() if k != "comm_error"} == {"ima": 1}'
check "exactly one failure, reason=\"ima\"" $?
/usr/bin/python3 "$T/prom.py" "$T/v2.prom" 'hist_ok("vigil_verifier_round_duration_seconds") and v("vigil_verifier_round_duration_seconds_count") == v("vigil_verifier_rounds_total") and v("vigil_verifier_round_duration_seconds_bucket", le="30") is not None'
check "round latency histogram: cumulative buckets, _count == rounds" $?
/usr/bin/python3 "$T/prom.py" "$T/v2.prom" 'hist_ok("vigil_verifier_store_batch_duration_seconds") and v("vigil_verifier_store_batch_duration_seconds_count") > 0 and v("vigil_verifier_store_batch_rows_total") > 0'
check "store batch latency histogram: the progress flushes are counted" $?
/usr/bin/python3 "$T/prom.py" "$T/v2.prom" 'v("vigil_verifier_store_up") == 1 and v("vigil_verifier_outbox_pending") == 0 and v("vigil_verifier_outbox_dead") == 0 and v("vigil_verifier_outbox_oldest_age_seconds") == 0'
check "store up; outbox depth and age 0 (no webhooks)" $?

wait_prom "$RM" 'v("vigil_registrar_registrations_total") == 2 and v("vigil_registrar_activations_total") == 2 and v("vigil_registrar_enrollments", state="active") == 2 and v("vigil_registrar_enrollments", state="pending") == 0 and sum(with_label("vigil_registrar_activations_refused_total", "reason").values()) == 0 and all(n.startswith("vigil_") for n in names())' 5
check "registrar: 2 registrations, 2 activations, 2 active enrollments, nothing refused" $?

# An activation of an id that never registered: refused, with its reason.
curl -s -o /dev/null -X PUT -d "{\"auth_tag\": \"$(printf '%096d' 0)\"}" \
	"http://$REGISTRAR_ADDR/v2.1/agents/nosuch/activate"
wait_prom "$RM" 'v("vigil_registrar_activations_refused_total", reason="not_registered") == 1 and v("vigil_registrar_activations_total") == 2' 5
check "registrar: an activation of an unknown id counts as refused, not_registered" $?

# Bad requests to both listeners: 4xx, and no counter moves.
scrape "$RM" "$T/r1.prom"
big=$(head -c 20000 /dev/zero | tr '\0' a)
ok=0
for u in "$VM" "$RM"; do
	s1=$(status "$u/metrics" -X POST -d x)
	s2=$(status "$u/nope")
	s3=$(status "$u/metrics" -H "X-Big: $big")
	s4=$(status "$u/readyz" -X DELETE)
	echo "# $u: POST $s1, unknown path $s2, huge headers $s3, DELETE $s4"
	case "$s1$s2$s3$s4" in 4??4??4??4??) ;; *) ok=1 ;; esac
done
scrape "$RM" "$T/r2.prom" && diff "$T/r1.prom" "$T/r2.prom" >/dev/null || ok=1
[ $ok -eq 0 ]
check "POST, DELETE, an unknown path and huge headers get 4xx and change nothing" $?
[ "$(status "$VM/healthz")" = 200 ] && [ "$(status "$RM/readyz")" = 200 ]
check "both listeners still serve after the bad requests" $?

# The store unreachable: the database file moved away (the open connections still read
# the old file, which nobody else would see).
mv "$T/fleet-verifier/verifier.db" "$T/fleet-verifier/verifier.db.away"
body=$(curl -s "$VM/readyz")
code=$(status "$VM/readyz")
mv "$T/fleet-verifier/verifier.db.away" "$T/fleet-verifier/verifier.db"
echo "# verifier /readyz with its database moved: $code $body"
[ "$code" = 503 ] && grep -q "store:.*moved" <<<"$body"
check "verifier /readyz: 503 naming the store while its database is moved away" $?
for i in $(seq 50); do [ "$(status "$VM/readyz")" = 200 ] && break; sleep 0.1; done
[ "$(status "$VM/readyz")" = 200 ]
check "verifier /readyz: 200 again once it is back" $?

mv "$T/registrar.db" "$T/registrar.db.away"
body=$(curl -s "$RM/readyz")
code=$(status "$RM/readyz")
mscrape=$(curl -s "$RM/metrics" | grep '^vigil_registrar_store_up ')
mv "$T/registrar.db.away" "$T/registrar.db"
echo "# registrar /readyz with its database moved: $code $body; $mscrape"
[ "$code" = 503 ] && grep -q "store:.*moved" <<<"$body" && [ "$mscrape" = "vigil_registrar_store_up 0" ]
check "registrar /readyz: 503 naming the store while its database is moved; store_up 0" $?
[ "$(status "$RM/readyz")" = 200 ]
check "registrar /readyz: 200 again once it is back" $?

wait_prom "$VM" "v('vigil_verifier_rounds_total') > $(grep '^vigil_verifier_rounds_total ' "$T/v2.prom" | cut -d' ' -f2) and v('vigil_verifier_nodes', state='get_quote') == 1" 10
check "the good node goes on attesting" $?

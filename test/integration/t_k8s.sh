#!/usr/bin/env bash
# Setup: deploy/k8s, vigilctl, a fleet CA with the four certificates the manifests mount.
# Actions: vigilctl ca k8s (twice, into a file and to stdout; with a foreign key; with a
# bad namespace); the manifests and the Secrets validated together against the
# Kubernetes API's types (test/k8s/validate.py, from Debian's python3-kubernetes), and
# the validator given broken manifests; each daemon's configuration from its ConfigMap
# checked by the daemon itself (-n); the remediation receiver from its ConfigMap run
# against a fake API server; the enrollment CronJob's script run with a stand-in
# vigilctl.
# Expected: every object valid and every reference resolved; each kind of mistake caught;
# the Secrets have the names, namespaces, types and keys the manifests mount, with the
# files' bytes, never the CA key, in a 0600 file, the same on a second run; a key that is
# not the certificate's writes nothing (exit 1); every ConfigMap configuration is OK; the
# receiver cordons exactly the failed node; the script adds only the nodes not attested.
. "$(dirname "$0")/lib.sh"

V=$BIN/vigilctl
CA=$T/ca
K8S=$TOP/deploy/k8s
PY=/usr/bin/python3

if ! $PY -c 'import kubernetes.client, yaml' 2>/dev/null; then
	echo "skip k8s: python3-kubernetes and python3-yaml are not installed (deploy/deps.sh)"
	exit 0
fi

"$V" ca init "$CA" >/dev/null &&
	"$V" ca issue "$CA" registrar --server --san vigil-registrar.vigil.svc >/dev/null &&
	"$V" ca issue "$CA" verifier --both --san vigil-verifier.vigil.svc >/dev/null &&
	"$V" ca issue "$CA" vigilctl --client >/dev/null &&
	"$V" ca issue "$CA" receiver --server --san vigil-receiver.vigil.svc >/dev/null
check "a fleet CA with the four certificates deploy/k8s mounts" $?

"$V" ca k8s "$CA" --out "$T/secrets.yaml" 2>"$T/k8s.err"
check "ca k8s --out writes the Secrets" $?
[ "$(stat -c %a "$T/secrets.yaml")" = 600 ] && [ "$(stat -c %a "$CA/audit.key")" = 600 ] &&
	[ "$(stat -c %a "$CA/report.key")" = 600 ] && [ "$(stat -c %a "$CA/webhook.secret")" = 600 ]
check "the Secrets file, the audit and report keys and the webhook secret are mode 0600" $?
$PY "$TOP/test/k8s/secrets_check.py" "$T/secrets.yaml" "$CA" vigil vigil-agent
check "the Secrets: names, namespaces, types, keys, the files' bytes, no CA key" $?
"$V" ca k8s "$CA" >"$T/again.yaml" 2>/dev/null && cmp -s "$T/secrets.yaml" "$T/again.yaml"
check "a second run (to stdout) gives the same Secrets: keys and secret reused" $?
"$V" ca k8s "$CA" --out "$T/secrets.yaml" 2>/dev/null
[ $? -eq 1 ]
check "an existing --out file is not replaced without --force (exit 1)" $?
"$V" ca k8s "$CA" --namespace ops --agent-namespace ops-agents >"$T/ns.yaml" 2>/dev/null &&
	$PY "$TOP/test/k8s/secrets_check.py" "$T/ns.yaml" "$CA" ops ops-agents
check "--namespace and --agent-namespace place the Secrets" $?
"$V" ca k8s "$CA" --namespace Bad_NS >/dev/null 2>&1
[ $? -eq 2 ]
check "a namespace that is not a DNS label is a usage error (exit 2)" $?

cp -r "$CA" "$T/ca2" && rm "$T/ca2/vigilctl.key" "$T/ca2/vigilctl.crt" &&
	"$V" ca init "$T/other" >/dev/null && "$V" ca issue "$T/other" x --client >/dev/null &&
	cp "$T/other/x.key" "$T/ca2/receiver.key"
out=$("$V" ca k8s "$T/ca2" --out "$T/bad.yaml" 2>&1)
[ $? -eq 1 ] && [ ! -e "$T/bad.yaml" ] && grep -q "is not the key of" <<<"$out" &&
	grep -q 'no certificate "vigilctl"' <<<"$out"
check "a key that is not its certificate's: exit 1, nothing written; a missing one named" $?
cp "$T/other/x.key" "$T/ca2/receiver.key" && cp "$T/other/x.crt" "$T/ca2/receiver.crt" &&
	cp "$T/other/x.key" "$T/ca2/receiver.key"
out=$("$V" ca k8s "$T/ca2" 2>&1 >/dev/null)
[ $? -eq 1 ] && grep -q "not issued by this directory's CA" <<<"$out"
check "a certificate from another CA: exit 1" $?

# The manifests with the Secrets; the PostgreSQL password is the operator's (step 2).
$PY "$TOP/test/k8s/validate.py" --external Secret/vigil/vigil-postgres \
	"$T/secrets.yaml" "$K8S"/*.yaml >"$T/validate.log" 2>&1
rc=$?
[ $rc -eq 0 ] || cat "$T/validate.log"
check "deploy/k8s and the Secrets are valid against the Kubernetes 1.22 API types ($(grep -c '^ok' "$T/validate.log") objects)" $rc

# The validator is not a rubber stamp: each mistake alone is refused.
cat >"$T/bad-base.yaml" <<'YAML'
apiVersion: v1
kind: Namespace
metadata:
  name: t
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: c
  namespace: t
data:
  k: v
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
  namespace: t
spec:
  selector:
    matchLabels: {app: d}
  template:
    metadata:
      labels: {app: d}
    spec:
      containers:
        - name: c
          image: x
          args: ["$(E)"]
          env:
            - name: E
              value: "1"
          volumeMounts:
            - name: v
              mountPath: /v
      volumes:
        - name: v
          configMap: {name: c}
YAML
$PY "$TOP/test/k8s/validate.py" "$T/bad-base.yaml" >/dev/null 2>&1
check "validator: the correct base manifest passes" $?
n=0 caught=0
while IFS='|' read -r what from to; do
	n=$((n + 1))
	sed "s/$from/$to/" "$T/bad-base.yaml" >"$T/bad-$n.yaml"
	if ! $PY "$TOP/test/k8s/validate.py" "$T/bad-$n.yaml" >"$T/bad-$n.log" 2>&1; then
		caught=$((caught + 1))
	else
		echo "# validator missed: $what"
	fi
done <<'CASES'
a misspelt field|volumeMounts:|volumeMount:
a wrong type|value: "1"|value: 1
a missing required field|mountPath: \/v|readOnly: true
a kind its group does not serve|apiVersion: apps\/v1|apiVersion: v1
a ConfigMap that does not exist|{name: c}|{name: nope}
a selector that misses the template|matchLabels: {app: d}|matchLabels: {app: e}
a $(VAR) not in env|name: E|name: F
a namespace that does not exist|namespace: t|namespace: u
CASES
[ $caught -eq $n ]
check "validator: each of $n kinds of mistake is refused ($caught)" $?

# Each daemon's configuration, as its ConfigMap gives it, checked by the daemon.
$PY - "$K8S" "$T" <<'PYEOF'
import sys, yaml, glob
for f in glob.glob(sys.argv[1] + "/*.yaml"):
    for d in yaml.safe_load_all(open(f)):
        if d and d["kind"] == "ConfigMap":
            for k, v in (d.get("data") or {}).items():
                if k.endswith(".conf"):
                    open(f"{sys.argv[2]}/{k}", "w").write(v)
PYEOF
ok=0
for d in agent registrar verifier; do
	# The user vigil exists in the image (make check-image checks with it there).
	sed -i '/^user = /d' "$T/$d.conf"
	"$BIN/vigil-$d" -n -c "$T/$d.conf" >"$T/n-$d.log" 2>&1 &&
		grep -q "configuration OK" "$T/n-$d.log" || { ok=1; cat "$T/n-$d.log"; }
done
check "the agent, registrar and verifier ConfigMaps pass the daemons' -n check" $ok
VIGILCTL_CONF=$T/vigilctl.conf "$V" status 00000000-0000-0000-0000-000000000000 >"$T/ctl.log" 2>&1
grep -q "/etc/vigil/tls/tls.key" "$T/ctl.log" && ! grep -qi "unknown key" "$T/ctl.log"
check "vigilctl takes its TLS files from the vigilctl ConfigMap's configuration" $?

mkdir -p "$T/rc"
$PY "$TOP/test/k8s/receiver_check.py" "$K8S/receiver.yaml" "$T/rc" >"$T/receiver.out" 2>&1
rc=$?
sed -e 's/^ok /ok receiver: /' -e 's/^not ok /not ok receiver: /' "$T/receiver.out"
[ $rc -eq 0 ] || cat "$T/rc/receiver.log"
check "the remediation receiver from its ConfigMap" $rc

# The enrollment script with a stand-in vigilctl: u1 and u3 active, u2 only registered,
# u3 already attested.
mkdir -p "$T/stub"
$PY - "$K8S/enroll.yaml" "$T/enroll.sh" <<'PYEOF'
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "ConfigMap":
        open(sys.argv[2], "w").write(d["data"]["enroll.sh"])
PYEOF
cat >"$T/stub/vigilctl" <<STUB
#!/bin/sh
echo "\$*" >>"$T/stub/calls"
case "\$1" in
enrollment) printf 'UUID STATE EK\\nu1 active yes\\nu2 registered yes\\nu3 active yes\\n' ;;
status) [ "\$2" = u3 ] ;;
add) exit 0 ;;
esac
STUB
chmod +x "$T/stub/vigilctl"
out=$(PATH=$T/stub:$PATH ADD_ARGS="--pcr-policy default" sh "$T/enroll.sh" 2>&1)
[ $? -eq 0 ] && [ "$(grep '^add' "$T/stub/calls")" = "add u1 --pcr-policy default" ] &&
	grep -q "1 added, 0 failed" <<<"$out"
check "the enrollment script adds the active nodes not attested, with ADD_ARGS" $?

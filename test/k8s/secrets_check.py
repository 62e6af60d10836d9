#!/usr/bin/python3
"""secrets_check.py FILE CADIR NS AGENT_NS: the Secrets `vigilctl ca k8s` wrote, read
back as YAML: every name, namespace, type and key the manifests mount, each value the
base64 of the file it came from, and no CA key anywhere. Prints the problems; exit 1."""
import base64, os, sys

import yaml

path, cadir, ns, agent_ns = sys.argv[1:5]
docs = [d for d in yaml.safe_load_all(open(path)) if d]
got = {d["metadata"]["name"]: d for d in docs}
errs = []


def want(name, namespace, typ, files):
    d = got.get(name)
    if d is None:
        errs.append(f"no Secret {name}")
        return
    if d.get("apiVersion") != "v1" or d.get("kind") != "Secret":
        errs.append(f"{name}: not a v1 Secret")
    if d["metadata"].get("namespace") != namespace:
        errs.append(f"{name}: namespace {d['metadata'].get('namespace')}, want {namespace}")
    if d.get("type") != typ:
        errs.append(f"{name}: type {d.get('type')}, want {typ}")
    data = d.get("data") or {}
    if sorted(data) != sorted(files):
        errs.append(f"{name}: keys {sorted(data)}, want {sorted(files)}")
    for k, f in files.items():
        if k in data and base64.b64decode(data[k], validate=True) != open(os.path.join(cadir, f), "rb").read():
            errs.append(f"{name}: {k} is not {f}")


want("vigil-ca", agent_ns, "Opaque", {"ca.crt": "ca.crt"})
for n in ("registrar", "verifier", "vigilctl", "receiver"):
    want(f"vigil-tls-{n}", ns, "kubernetes.io/tls",
         {"tls.crt": f"{n}.crt", "tls.key": f"{n}.key", "ca.crt": "ca.crt"})
want("vigil-verifier-keys", ns, "Opaque", {"audit.key": "audit.key", "report.key": "report.key"})
want("vigil-webhook", ns, "Opaque", {"webhook.secret": "webhook.secret"})
if len(got) != 7:
    errs.append(f"{len(got)} Secrets, want 7: {sorted(got)}")
cakey = open(os.path.join(cadir, "ca.key"), "rb").read()
for d in docs:
    for v in (d.get("data") or {}).values():
        if base64.b64decode(v) == cakey:
            errs.append(f"{d['metadata']['name']} holds the CA key")
secret = open(os.path.join(cadir, "webhook.secret")).read().strip()
if not secret.startswith("whsec_") or len(base64.b64decode(secret[6:])) != 32:
    errs.append("webhook.secret is not whsec_ and 32 bytes in base64")
for e in errs:
    print(e)
sys.exit(1 if errs else 0)

#!/usr/bin/python3
"""Validate Kubernetes manifests offline against the API's types.

usage: validate.py [--external KIND/NAMESPACE/NAME]... FILE.yaml...

The schema is the one Debian 12 ships: python3-kubernetes (22.6.0) carries a model class
for every type of the Kubernetes API (release 1.22), generated from the API's OpenAPI
document, each with its fields' JSON names and types, and its required fields (the
setters refuse None). Every object is checked the way the API server's strict field
validation would check it:

  - apiVersion/kind is a kind that group/version serves (the client has a create call
    for it), so a Deployment under apiVersion v1 is refused;
  - every field is a field of its type (a misspelt or misplaced key is an error), with
    the JSON type the schema gives (string, integer, boolean, list, map, object);
  - every required field is there.

And a few cross-object checks that apply would only fail on later, at run time:

  - a workload's selector matches its pod template's labels;
  - every volumeMount names a volume of the pod, every container port name is unique;
  - every Namespace, ConfigMap (and key), Secret, ServiceAccount, Role and ClusterRole
    an object refers to is defined in the files given, in the right namespace (or is
    named with --external);
  - every $(VAR) in a container's command or args is in its env (else the kubelet
    passes it on unexpanded);
  - every Service's selector selects some pod template;
  - names are DNS-1123 labels or subdomains.

What it does not check: fields added after Kubernetes 1.22, the formats of quantities and
durations, and enumerated values (the 1.22 client does not carry them).

Prints one line per object ("ok FILE KIND/NAME") and each problem; exits 1 on any.
Files whose objects are not Kubernetes API objects (a kustomization.yaml) are checked for
the files they list instead.
"""
import inspect
import os
import re
import sys

import yaml
import kubernetes.client as kc

PRIM = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,)}
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_required_cache = {}


def snake(name):
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def api_class(api_version):
    """AppsV1Api for apps/v1, CoreV1Api for v1, RbacAuthorizationV1Api for rbac..."""
    if "/" in api_version:
        group, ver = api_version.split("/", 1)
        group = group.replace(".k8s.io", "").replace(".authorization", "_authorization")
        parts = re.split(r"[._]", group)
        name = "".join(p.capitalize() for p in parts) + ver.capitalize() + "Api"
    else:
        name = "Core" + api_version.capitalize() + "Api"
    return getattr(kc, name, None)


def model_class(api_version, kind):
    ver = api_version.split("/")[-1]
    return getattr(kc, ver.capitalize() + kind, None)


def required(cls):
    if cls not in _required_cache:
        req = set()
        for attr in cls.openapi_types:
            prop = getattr(cls, attr, None)
            if isinstance(prop, property) and prop.fset is not None:
                if "must not be `None`" in inspect.getsource(prop.fset):
                    req.add(cls.attribute_map[attr])
        _required_cache[cls] = req
    return _required_cache[cls]


def check_value(typ, value, path, errs):
    if value is None:
        return
    if typ == "object":
        return
    if typ == "datetime" or typ == "date":
        if not isinstance(value, str):
            errs.append(f"{path}: expected a date-time string, got {type(value).__name__}")
        return
    if typ in PRIM:
        ok = isinstance(value, PRIM[typ]) and not (typ != "bool" and isinstance(value, bool))
        if not ok:
            errs.append(f"{path}: expected {typ}, got {type(value).__name__} ({value!r})")
        return
    m = re.match(r"^list\[(.*)\]$", typ)
    if m:
        if not isinstance(value, list):
            errs.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        for i, v in enumerate(value):
            check_value(m.group(1), v, f"{path}[{i}]", errs)
        return
    m = re.match(r"^dict\(str, (.*)\)$", typ)
    if m:
        if not isinstance(value, dict):
            errs.append(f"{path}: expected a map, got {type(value).__name__}")
            return
        for k, v in value.items():
            if not isinstance(k, str):
                errs.append(f"{path}: map key {k!r} is not a string")
            check_value(m.group(1), v, f"{path}.{k}", errs)
        return
    cls = getattr(kc, typ, None)
    if cls is None:
        errs.append(f"{path}: schema type {typ} unknown to the validator")
        return
    check_object(cls, value, path, errs)


def check_object(cls, obj, path, errs):
    if not isinstance(obj, dict):
        errs.append(f"{path}: expected an object ({cls.__name__}), got {type(obj).__name__}")
        return
    by_json = {j: a for a, j in cls.attribute_map.items()}
    for k, v in obj.items():
        if k not in by_json:
            errs.append(f"{path}: unknown field \"{k}\" in {cls.__name__}")
            continue
        check_value(cls.openapi_types[by_json[k]], v, f"{path}.{k}", errs)
    for r in sorted(required(cls)):
        if obj.get(r) is None:
            errs.append(f"{path}: missing required field \"{r}\" of {cls.__name__}")


def pod_spec(obj):
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind in ("Deployment", "DaemonSet", "StatefulSet", "ReplicaSet"):
        return (spec.get("template") or {}).get("spec"), (spec.get("template") or {})
    if kind == "Job":
        return (spec.get("template") or {}).get("spec"), (spec.get("template") or {})
    if kind == "CronJob":
        t = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
        return t.get("spec"), t
    if kind == "Pod":
        return spec, obj
    return None, None


CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume",
                  "StorageClass"}
VAR_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def cross_checks(objs, external, errs):
    have = set()
    for _, o in objs:
        md = o.get("metadata") or {}
        ns = None if o.get("kind") in CLUSTER_SCOPED else md.get("namespace")
        have.add((o.get("kind"), ns, md.get("name")))
    have |= set(external)

    def need(kind, name, ns, where):
        if kind in CLUSTER_SCOPED:
            ns = None
        if (kind, ns, name) not in have:
            errs.append(f"{where}: refers to {kind} \"{name}\" in namespace {ns}, "
                        "defined in none of the files")

    templates = []
    for f, o in objs:
        md = o.get("metadata") or {}
        where = f"{f} {o.get('kind')}/{md.get('name')}"
        ns = md.get("namespace")
        name = md.get("name") or ""
        if not (DNS_SUBDOMAIN.match(name) and len(name) <= 253):
            errs.append(f"{where}: name \"{name}\" is not a DNS-1123 subdomain")
        if o.get("kind") in ("Service", "Namespace") and not DNS_LABEL.match(name):
            errs.append(f"{where}: a {o.get('kind')} name must be a DNS-1123 label")
        if o.get("kind") not in CLUSTER_SCOPED:
            if not ns:
                errs.append(f"{where}: no metadata.namespace")
            else:
                need("Namespace", ns, None, where)
        spec, tmpl = pod_spec(o)
        if spec is None:
            continue
        labels = ((tmpl or {}).get("metadata") or {}).get("labels") or {}
        templates.append((ns, labels))
        sel = ((o.get("spec") or {}).get("selector") or {}).get("matchLabels")
        if o.get("kind") in ("Deployment", "DaemonSet", "StatefulSet") and sel is not None:
            for k, v in sel.items():
                if labels.get(k) != v:
                    errs.append(f"{where}: selector {k}={v} does not match the pod template")
        vols = {v.get("name") for v in spec.get("volumes") or []}
        for v in spec.get("volumes") or []:
            if "configMap" in v:
                need("ConfigMap", v["configMap"].get("name"), ns, where)
            if "secret" in v:
                need("Secret", v["secret"].get("secretName"), ns, where)
            if "persistentVolumeClaim" in v:
                need("PersistentVolumeClaim", v["persistentVolumeClaim"].get("claimName"), ns, where)
            for src in (v.get("projected") or {}).get("sources") or []:
                if "secret" in src:
                    need("Secret", src["secret"].get("name"), ns, where)
                if "configMap" in src:
                    need("ConfigMap", src["configMap"].get("name"), ns, where)
        for t in (o.get("spec") or {}).get("volumeClaimTemplates") or []:
            vols.add((t.get("metadata") or {}).get("name"))
        if spec.get("serviceAccountName"):
            need("ServiceAccount", spec["serviceAccountName"], ns, where)
        for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
            cw = f"{where} container {c.get('name')}"
            mounts = [m.get("mountPath") for m in c.get("volumeMounts") or []]
            if len(mounts) != len(set(mounts)):
                errs.append(f"{cw}: two volumeMounts at one path")
            for m in c.get("volumeMounts") or []:
                if m.get("name") not in vols:
                    errs.append(f"{cw}: volumeMount \"{m.get('name')}\" names no volume of the pod")
            pn = [p.get("name") for p in c.get("ports") or [] if p.get("name")]
            if len(pn) != len(set(pn)):
                errs.append(f"{cw}: two ports with one name")
            env = {e.get("name") for e in c.get("env") or []}
            for a in (c.get("command") or []) + (c.get("args") or []):
                for var in VAR_REF.findall(str(a)):
                    if var not in env:  # the kubelet would pass "$(VAR)" on unexpanded
                        errs.append(f"{cw}: $({var}) in its arguments is not in its env")
            for e in c.get("env") or []:
                vf = e.get("valueFrom") or {}
                if "secretKeyRef" in vf:
                    need("Secret", vf["secretKeyRef"].get("name"), ns, cw)
                if "configMapKeyRef" in vf:
                    ref = vf["configMapKeyRef"]
                    need("ConfigMap", ref.get("name"), ns, cw)
                    for f2, o2 in objs:
                        m2 = o2.get("metadata") or {}
                        if (o2.get("kind"), m2.get("namespace"), m2.get("name")) == (
                                "ConfigMap", ns, ref.get("name")):
                            if ref.get("key") not in (o2.get("data") or {}):
                                errs.append(f"{cw}: ConfigMap {ref.get('name')} has no key "
                                            f"\"{ref.get('key')}\"")
    for f, o in objs:
        md = o.get("metadata") or {}
        where = f"{f} {o.get('kind')}/{md.get('name')}"
        if o.get("kind") == "Service":
            sel = (o.get("spec") or {}).get("selector")
            if sel and not any(
                ns == md.get("namespace") and all(lb.get(k) == v for k, v in sel.items())
                for ns, lb in templates
            ):
                errs.append(f"{where}: selector {sel} selects no pod template in the files")
        if o.get("kind") in ("RoleBinding", "ClusterRoleBinding"):
            ref = o.get("roleRef") or {}
            need(ref.get("kind"), ref.get("name"), md.get("namespace"), where)
            for s in o.get("subjects") or []:
                if s.get("kind") == "ServiceAccount":
                    need("ServiceAccount", s.get("name"), s.get("namespace"), where)


def main(argv):
    external = []
    files = []
    args = iter(argv)
    for a in args:
        if a == "--external":  # KIND/NAMESPACE/NAME made outside the files (by the operator)
            k, ns, n = next(args).split("/", 2)
            external.append((k, ns, n))
        else:
            files.append(a)
    if not files:
        print(__doc__, file=sys.stderr)
        return 2
    errs, objs, nbad = [], [], 0
    for f in files:
        try:
            with open(f, encoding="utf-8") as fh:
                docs = [d for d in yaml.safe_load_all(fh) if d is not None]
        except (OSError, yaml.YAMLError) as e:
            errs.append(f"{f}: {e}")
            continue
        for d in docs:
            if not isinstance(d, dict):
                errs.append(f"{f}: a document that is not a mapping")
                continue
            av, kind = d.get("apiVersion", ""), d.get("kind", "")
            if av.startswith("kustomize.config.k8s.io/"):
                base = os.path.dirname(f)
                for r in d.get("resources") or []:
                    if not os.path.exists(os.path.join(base, r)):
                        errs.append(f"{f}: lists {r}, which does not exist")
                print(f"ok {f} {kind} (its resources exist)")
                continue
            cls, api = model_class(av, kind), api_class(av)
            served = api is not None and (
                hasattr(api, "create_namespaced_" + snake(kind)) or hasattr(api, "create_" + snake(kind))
            )
            name = (d.get("metadata") or {}).get("name")
            if cls is None or not served:
                errs.append(f"{f}: {av} does not serve kind {kind} (object {name})")
                continue
            before = len(errs)
            check_object(cls, d, f"{f} {kind}/{name}", errs)
            if len(errs) == before:
                print(f"ok {f} {kind}/{name}")
            objs.append((f, d))
    cross_checks(objs, external, errs)
    for e in errs:
        print(f"error: {e}")
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

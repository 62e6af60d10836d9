#!/usr/bin/env bash
# make check-image: the container images, built and looked into without running them
# (containers cannot be started on machines without cgroup delegation, but an image's
# files can be mounted). For each of vigil-agent, vigil-registrar, vigil-verifier and
# vigilctl: build it (deploy/image/build.sh), mount it (podman image mount), and inside
# it with chroot run the daemon's -n check with its defaults and with the configuration
# its deploy/k8s ConfigMap gives (vigilctl: --help, and the ConfigMap's configuration
# read), check that the entrypoint's user is not root and exists in the image, that every
# library the program needs resolves in the image (ldd), that the agent has its TCTI
# modules, and report each image's size. Prints "ok"/"not ok"/"skip" lines and the
# closing "N passed, N failed" line; exit 1 on any failure.
# Without podman (or as a user who cannot use it) every check is skipped with the reason.
set -u
cd "$(dirname "$0")/../.."
TOP=$(pwd)
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); echo "ok $1"; }
notok() { fail=$((fail + 1)); echo "not ok $1"; }
t0=$(date +%s)

finish() {
	echo "# check-image took $(($(date +%s) - t0)) s"
	echo
	if [ $skip -gt 0 ]; then
		echo "$pass passed, $fail failed, $skip skipped"
	else
		echo "$pass passed, $fail failed"
	fi
	[ $fail -eq 0 ]
	exit
}

if ! command -v podman >/dev/null 2>&1; then
	echo "skip image: podman is not installed (deploy/deps.sh --image installs it)"
	skip=1
	finish
fi
if [ -z "${BASE:-}" ] && ! podman image exists localhost/vigil-base:bookworm &&
	! command -v mmdebstrap >/dev/null 2>&1; then
	echo "skip image: no base image and no mmdebstrap to make one (deploy/deps.sh --image)"
	skip=1
	finish
fi
if [ "$(id -u)" != 0 ]; then
	echo "skip image: podman image mount and chroot need root"
	skip=1
	finish
fi

T=$(mktemp -d /tmp/vigil-image.XXXXXX)
mounted=() binds=()
cleanup() {
	local i
	for i in "${binds[@]}"; do umount "$i" >/dev/null 2>&1; done
	for i in "${mounted[@]}"; do podman image unmount "$i" >/dev/null 2>&1; done
	# Images left untagged by this build or earlier ones (about 800 MB each time).
	podman image prune -f >/dev/null 2>&1
	rm -rf "$T"
}
trap cleanup EXIT

VERSION=check TARGETS="agent registrar verifier vigilctl" \
	./deploy/image/build.sh >"$T/build.log" 2>&1
rc=$?
tb=$(date +%s)
if [ $rc -ne 0 ]; then
	tail -40 "$T/build.log"
	notok "image: build (exit $rc)"
	finish
fi
ok "image: the four images build ($((tb - t0)) s, base made or reused included)"

# The ConfigMaps' configurations, as files.
/usr/bin/python3 - "$TOP/deploy/k8s" "$T" <<'PY' || notok "image: reading the ConfigMaps"
import glob, sys, yaml
for f in glob.glob(sys.argv[1] + "/*.yaml"):
    for d in yaml.safe_load_all(open(f)):
        if d and d["kind"] == "ConfigMap":
            for k, v in (d.get("data") or {}).items():
                if k.endswith(".conf"):
                    open(f"{sys.argv[2]}/{k}", "w").write(v)
PY

base_size=$(podman image inspect --format '{{.Size}}' localhost/vigil-base:bookworm 2>/dev/null || echo 0)
for prog in vigil-agent vigil-registrar vigil-verifier vigilctl; do
	img=localhost/$prog:check
	mnt=$(podman image mount "$img" 2>"$T/mount.err")
	if [ -z "$mnt" ]; then
		notok "$prog: podman image mount: $(cat "$T/mount.err")"
		continue
	fi
	mounted+=("$img")
	bin=/usr/local/bin/$prog
	# The image's files are read-only: the configurations come in on a bind mount at /tmp.
	mkdir -p "$T/cfg" && cp "$T"/*.conf "$T/cfg/" && mount --bind "$T/cfg" "$mnt/tmp" ||
		notok "$prog: cannot bind the configurations into the image at /tmp"
	binds+=("$mnt/tmp")

	user=$(podman image inspect --format '{{.Config.User}}' "$img")
	uid=${user%%:*}
	name=$(awk -F: -v u="$uid" '$3 == u || $1 == u { print $1 }' "$mnt/etc/passwd")
	if [ -n "$uid" ] && [ "$uid" != 0 ] && [ "$uid" != root ] && [ -n "$name" ]; then
		ok "$prog: the entrypoint runs as $user ($name), not root"
	else
		notok "$prog: the entrypoint user is \"$user\" (want a non-root user of the image)"
	fi

	if podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$img" |
		grep -q '^PATH=.*/usr/local/bin'
	then ok "$prog: PATH in the image names /usr/local/bin (commands run by name)"
	else notok "$prog: no PATH with /usr/local/bin in the image's environment"; fi

	missing=$(chroot "$mnt" /usr/bin/ldd "$bin" 2>&1 | grep -E 'not found|No such')
	if [ -z "$missing" ]; then ok "$prog: every shared library resolves in the image"
	else notok "$prog: missing libraries: $missing"; fi

	if [ "$prog" = vigilctl ]; then
		if chroot "$mnt" "$bin" --help >"$T/out" 2>&1 && grep -q "^Usage: vigilctl" "$T/out"
		then ok "$prog: vigilctl --help in the image"
		else notok "$prog: vigilctl --help: $(head -3 "$T/out")"; fi
		chroot "$mnt" env VIGILCTL_CONF=/tmp/vigilctl.conf "$bin" status \
			00000000-0000-0000-0000-000000000000 >"$T/out" 2>&1
		if grep -q "/etc/vigil/tls/tls.key" "$T/out" && ! grep -qi 'unknown key' "$T/out"
		then ok "$prog: reads the deploy/k8s ConfigMap's vigilctl.conf"
		else notok "$prog: vigilctl.conf from the ConfigMap: $(head -3 "$T/out")"; fi
	else
		d=${prog#vigil-}
		if chroot "$mnt" "$bin" -n >"$T/out" 2>&1 && grep -q "configuration OK" "$T/out"
		then ok "$prog: $prog -n (defaults) in the image"
		else notok "$prog: $prog -n: $(head -3 "$T/out")"; fi
		chroot "$mnt" "$bin" -n -c "/tmp/$d.conf" >"$T/out" 2>&1
		rc=$?
		if [ $rc -eq 0 ] && grep -q "configuration OK" "$T/out"
		then ok "$prog: $prog -n with the deploy/k8s ConfigMap's $d.conf (its user exists)"
		else notok "$prog: -n with the ConfigMap's $d.conf: $(head -3 "$T/out")"; fi
	fi
	if [ "$prog" = vigil-agent ]; then
		if ls "$mnt"/usr/lib/*/libtss2-tcti-device.so.0 >/dev/null 2>&1
		then ok "$prog: the TPM device TCTI module is in the image"
		else notok "$prog: no libtss2-tcti-device.so.0 in the image"; fi
		if chroot "$mnt" /usr/bin/ldd "$bin" | grep -qE 'libgrpc|libpq'
		then notok "$prog: links gRPC or libpq, which the agent never uses"
		else ok "$prog: no gRPC and no libpq in the agent"; fi
	fi
	umount "$mnt/tmp"
	size=$(podman image inspect --format '{{.Size}}' "$img")
	echo "# $prog: $(awk -v s="$size" -v b="$base_size" \
		'BEGIN { printf "%.1f MB, of which %.1f MB over the Debian base", s/1e6, (s-b)/1e6 }')"
	ok "$prog: size reported"
done
finish

#!/usr/bin/env bash
# deploy/image/build.sh: `make image`. Builds the four runtime images of the Containerfile
# (vigil-agent, vigil-registrar, vigil-verifier, vigilctl), tagged :latest and :$VERSION.
#
# BASE: the image both stages start from. Unset, this machine's own Debian 12 base is used,
# made once from Debian packages (mmdebstrap, minbase with the docs and man pages left
# out, as debian:bookworm-slim does) and imported as localhost/vigil-base:bookworm, so no
# image registry is needed. BASE=debian:bookworm-slim builds as anywhere else.
# Needs podman (deploy/deps.sh --image). Builds with --isolation=chroot, which needs no
# cgroup delegation; ISOLATION=oci uses the default runtime instead.
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
ISOLATION=${ISOLATION:-chroot}
LOCAL_BASE=localhost/vigil-base:bookworm
TARGETS=${TARGETS:-agent registrar verifier vigilctl}

if ! command -v podman >/dev/null 2>&1; then
	echo "image: podman is not installed; deploy/deps.sh --image installs it" >&2
	exit 1
fi

# image_name TARGET: the image a Containerfile target is tagged as.
image_name() {
	case $1 in
	vigilctl) echo vigilctl ;;
	*) echo "vigil-$1" ;;
	esac
}

if [ -z "${BASE:-}" ]; then
	BASE=$LOCAL_BASE
	if ! podman image exists "$BASE"; then
		command -v mmdebstrap >/dev/null 2>&1 || {
			echo "image: mmdebstrap is not installed; deploy/deps.sh --image installs it" >&2
			exit 1
		}
		tmp=$(mktemp -d)
		trap 'rm -rf "$tmp"' EXIT
		echo "image: making $BASE from Debian packages (mmdebstrap, apt's sources)"
		# No mirror given: mmdebstrap uses this machine's apt sources.
		# merged-usr hook: /usr merged by symlinks, as in debian:bookworm-slim, instead of
		# the usrmerge package, which would pull in the whole of perl (about 50 MB).
		hook=()
		[ -d /usr/share/mmdebstrap/hooks/merged-usr ] &&
			hook=(--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr)
		mmdebstrap --quiet --variant=minbase --format=tar "${hook[@]}" \
			--dpkgopt='path-exclude=/usr/share/man/*' \
			--dpkgopt='path-exclude=/usr/share/doc/*' \
			--dpkgopt='path-include=/usr/share/doc/*/copyright' \
			--dpkgopt='path-exclude=/usr/share/locale/*' \
			--dpkgopt='path-exclude=/usr/share/info/*' \
			bookworm "$tmp/base.tar"
		podman import --quiet --change 'CMD ["/bin/bash"]' "$tmp/base.tar" "$BASE" >/dev/null
		rm -rf "$tmp"
		trap - EXIT
	fi
fi

for t in $TARGETS; do
	name=$(image_name "$t")
	echo "image: building $name:$VERSION (target $t, FROM $BASE)"
	podman build --quiet --isolation="$ISOLATION" --build-arg BASE="$BASE" --target "$t" \
		-f Containerfile -t "$name:$VERSION" -t "$name:latest" . >/dev/null
done
for t in $TARGETS; do
	name=$(image_name "$t")
	echo "image: localhost/$name:$VERSION $(podman image inspect --format '{{.Size}}' "$name:$VERSION" | awk '{printf "%.1f MB", $1/1e6}')"
done

#!/bin/sh
# Installs every Debian 12 package vigil needs to build, test and run its demo.
# Idempotent: packages already present are skipped, and `apt-get update` runs at most
# once, only when something is missing. Must run as root (or with sudo available).
#   deploy/deps.sh           what `make check` needs (never the image tools)
#   deploy/deps.sh --build   only what compiling the programs needs (the Containerfile's
#                            build stage runs this)
#   deploy/deps.sh --image   what `make image` needs: podman, buildah, mmdebstrap
set -eu

PKGS="build-essential pkg-config clang llvm libclang-rt-14-dev clang-format
libtss2-dev libssl-dev openssl libevent-dev libprotobuf-c-dev protobuf-c-compiler
libgrpc-dev libcbor-dev libjansson-dev libinih-dev libsqlite3-dev sqlite3 libpq-dev
libcmocka-dev swtpm swtpm-tools tpm2-tools python3 python3-grpcio python3-grpc-tools
python3-protobuf python3-prometheus-client python3-cryptography python3-jwt python3-cbor2
protobuf-compiler postgresql curl iproute2 gnutls-bin
libpcre2-dev zlib1g-dev python3-kubernetes python3-yaml"

BUILD_PKGS="build-essential pkg-config libtss2-dev libssl-dev libevent-dev
libprotobuf-c-dev protobuf-c-compiler libgrpc-dev libcbor-dev libjansson-dev libinih-dev
libsqlite3-dev libpq-dev libpcre2-dev zlib1g-dev"

# Container image tools only: rootful podman with chroot isolation needs no more.
IMAGE_PKGS="podman buildah mmdebstrap uidmap"

case "${1:-}" in
"") ;;
--build) PKGS=$BUILD_PKGS ;;
--image) PKGS=$IMAGE_PKGS ;;
*)
	echo "usage: deploy/deps.sh [--build | --image]" >&2
	exit 2
	;;
esac

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "deps.sh: missing packages:$missing" >&2
		echo "deps.sh: run as root (or install sudo) to install them" >&2
		exit 1
	fi
fi

echo "deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing

#!/bin/sh
# collect.sh OUT: run in the Containerfile's build stage, after the build. For each
# program, OUT/<program>/ gets the binary (usr/local/bin) and every shared library it
# loads that the base image lacks (the base's packages are listed in /base-packages), so
# that a runtime stage is a single COPY. The agent also gets the tss2 TCTI modules, which
# libtss2-tctildr opens with dlopen and ldd cannot see.
set -eu
OUT=$1
BIN=build/bin
MULTIARCH=$(gcc -print-multiarch)

# lib_of FILE: the resolved paths of the libraries FILE needs (ldd), one a line.
lib_of() {
	ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
}

# put_lib DEST LIB: copy LIB under DEST at its real directory (/lib is a link to /usr/lib),
# under its soname, unless a base package owns it.
put_lib() {
	dir=$(readlink -f "$(dirname "$2")")
	name=$(basename "$2")
	pkg=$(dpkg-query -S "$dir/$name" 2>/dev/null || dpkg-query -S "$2" 2>/dev/null || true)
	pkg=${pkg%%:*}
	if [ -n "$pkg" ] && grep -qx "$pkg" /base-packages; then
		return 0
	fi
	mkdir -p "$1$dir"
	cp -L "$2" "$1$dir/$name"
}

for prog in vigil-agent vigil-registrar vigil-verifier vigilctl; do
	dest=$OUT/$prog
	mkdir -p "$dest/usr/local/bin"
	install -m 0755 "$BIN/$prog" "$dest/usr/local/bin/$prog"
	extra=""
	if [ "$prog" = vigil-agent ]; then
		for t in device swtpm mssim; do
			f=/usr/lib/$MULTIARCH/libtss2-tcti-$t.so.0
			[ -e "$f" ] && extra="$extra $f"
		done
	fi
	for f in "$BIN/$prog" $extra; do
		[ "$f" = "$BIN/$prog" ] || put_lib "$dest" "$f"
		for l in $(lib_of "$f"); do
			put_lib "$dest" "$l"
		done
	done
	echo "collect: $prog: $(find "$dest" -type f | wc -l) files, $(du -sk "$dest" | cut -f1) KiB"
done

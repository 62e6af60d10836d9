#!/bin/sh
# Layering rules (docs/hacking.md): common/ is layers, one folder each, and each folder's
# .may_include names the layers its files may include; common/ includes no daemon header;
# daemons do not include each other; generated protobuf-c code is included only by its
# wrapper module (common/net/pb.c). The test first checks itself: a tree with a deliberate
# bad include (evidence including net) must fail.
#   test/layering.sh          check this tree
#   test/layering.sh DIR      check the tree at DIR (used by the self-check)
if [ $# -eq 0 ]; then
	top=$(cd "$(dirname "$0")/.." && pwd) || exit 1
	# Self-check: copy common/ into a temp tree, add one bad include, expect a failure
	# that names it.
	tmp=$(mktemp -d /tmp/vigil-layering.XXXXXX) || exit 1
	trap 'rm -rf "$tmp"' EXIT
	cp -r "$top/common" "$tmp/common" && mkdir -p "$tmp/test" || exit 1
	printf '#include "common/net/http.h"\n' >>"$tmp/common/evidence/quote.c"
	if out=$("$0" "$tmp" 2>&1) || ! printf '%s\n' "$out" | grep -q "common/evidence/quote.c.*net"; then
		echo "layering: the self-check failed: a bad include in common/evidence went unnoticed"
		printf '%s\n' "$out"
		exit 1
	fi
	echo "layering: self-check OK (a deliberate include of net from evidence is caught)"
	cd "$top" || exit 1
else
	cd "$1" || exit 1
fi
bad=0

# Nothing but module.mk directly in common/: every module sits in a layer.
for f in common/*; do
	[ -d "$f" ] && continue
	[ "$f" = common/module.mk ] && continue
	echo "layering: $f is not in a layer folder (common/<layer>/)"
	bad=1
done
for d in common/*/; do
	layer=$(basename "$d")
	if [ ! -f "$d.may_include" ]; then
		echo "layering: common/$layer has no .may_include"
		bad=1
		continue
	fi
	allowed=$(grep -v '^#' "$d.may_include" | tr -s ' \n' ' ')
	for f in "$d"*.[ch]; do
		[ -f "$f" ] || continue
		for inc in $(sed -n 's|^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*|\1|p' "$f"); do
			case $inc in
			common/*/*)
				l=${inc#common/}
				l=${l%%/*}
				case " $allowed " in
				*" $l "*) ;;
				*)
					echo "layering: ${f#./} (common/$layer) includes $inc: $layer may include only: $allowed"
					bad=1
					;;
				esac
				;;
			common/*)
				echo "layering: ${f#./} includes $inc, which is not in a layer folder"
				bad=1
				;;
			agent/* | registrar/* | verifier/* | ctl/*)
				echo "layering: ${f#./} (common/) includes a daemon header $inc"
				bad=1
				;;
			esac
		done
	done
done
for d in agent registrar verifier ctl; do
	for f in $(find $d -name '*.[ch]' 2>/dev/null); do
		for o in agent registrar verifier ctl; do
			[ "$o" = "$d" ] && continue
			if grep -nE "#include \"$o/" "$f"; then
				echo "layering: $f ($d/) includes a header of $o/"
				bad=1
			fi
		done
	done
done
for f in $(find common agent registrar verifier ctl test -name '*.[ch]' 2>/dev/null); do
	case $f in common/net/pb.[ch]) continue ;; esac
	if grep -nE '#include "[^"]*\.pb-c\.h"' "$f"; then
		echo "layering: $f includes generated protobuf-c code; use common/net/pb.h"
		bad=1
	fi
done
[ $bad -eq 0 ] && echo "layering OK"
exit $bad

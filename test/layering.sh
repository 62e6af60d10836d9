#!/bin/sh
# Layering rules (docs/design.md section 9): common/ includes no daemon header; daemons do
# not include each other; generated protobuf-c code is included only by its wrapper module
# (common/pb.c).
cd "$(dirname "$0")/.." || exit 1
bad=0
for f in $(find common -name '*.[ch]'); do
	if grep -nE '#include "(agent|registrar|verifier|ctl)/' "$f"; then
		echo "layering: $f (common/) includes a daemon header"; bad=1
	fi
done
for d in agent registrar verifier ctl; do
	for f in $(find $d -name '*.[ch]' 2>/dev/null); do
		for o in agent registrar verifier ctl; do
			[ "$o" = "$d" ] && continue
			if grep -nE "#include \"$o/" "$f"; then
				echo "layering: $f ($d/) includes a header of $o/"; bad=1
			fi
		done
	done
done
for f in $(find common agent registrar verifier ctl test -name '*.[ch]' 2>/dev/null); do
	case $f in common/pb.[ch]) continue ;; esac
	if grep -nE '#include "[^"]*\.pb-c\.h"' "$f"; then
		echo "layering: $f includes generated protobuf-c code; use common/pb.h"; bad=1
	fi
done
[ $bad -eq 0 ] && echo "layering OK"
exit $bad

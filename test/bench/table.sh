# table.sh: the table of make bench, sourced by test/bench/run.sh and test/bench/scale.sh
# (after test/integration/lib.sh). Rows go to $ROWS, one tab-separated line each: metric,
# value, unit, how measured; print_table lays them out.

# row METRIC VALUE UNIT HOW: one line of the table.
row() {
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$ROWS"
}
# na METRIC UNIT REASON...: a row for a measurement that could not be made.
na() {
	local m=$1 u=$2
	shift 2
	row "$m" "n/a" "$u" "not measured: $*"
}
# kv FILE KEY: the value of "KEY VALUE" in FILE (a tool's output).
kv() {
	awk -v k="$2" '$1 == k { print $2; exit }' "$1"
}
# sub A B: A - B with two decimals.
sub() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'
}
# cpu_ticks PID: user + system clock ticks of the whole process (all threads).
cpu_ticks() {
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
# rss_kib PID: resident set size (VmRSS) in KiB.
rss_kib() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}
now_s() {
	date +%s.%N
}

print_table() {
	awk -F '\t' '
	{ for (i = 1; i <= 4; i++) c[NR, i] = $i; n = NR }
	END {
		c[0, 1] = "metric"; c[0, 2] = "value"; c[0, 3] = "unit"; c[0, 4] = "how measured"
		for (r = 0; r <= n; r++)
			for (i = 1; i <= 3; i++)
				if (length(c[r, i]) > w[i]) w[i] = length(c[r, i])
		for (r = 0; r <= n; r++) {
			printf "%-*s  %*s  %-*s  %s\n", w[1], c[r, 1], w[2], c[r, 2], w[3], c[r, 3], c[r, 4]
			if (r == 0) {
				line = ""
				for (k = 0; k < w[1] + w[2] + w[3] + 6 + 12; k++) line = line "-"
				print line
			}
		}
	}' "$ROWS"
}

# round_hist M0 M1: the window's vigil_verifier_round_duration_seconds histogram from two
# /metrics scrapes, "LE COUNT" a line (cumulative bucket deltas, series summed), in the
# order M1 lists them.
round_hist() {
	awk '/^vigil_verifier_round_duration_seconds_bucket/ {
		match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5)
		if (FILENAME == ARGV[1]) a[le] += $2; else { if (!(le in b)) order[++n] = le; b[le] += $2 }
	}
	END { for (i = 1; i <= n; i++) print order[i], b[order[i]] - a[order[i]] }' "$1" "$2"
}

# hist_quantile Q FILE: quantile Q of a round_hist file, in milliseconds, interpolated
# linearly inside its bucket as Prometheus's histogram_quantile does (so only as fine as
# the buckets: 1, 2.5, 5, 10, 25, 50, 100, 250 ms ...).
hist_quantile() {
	awk -v q="$1" '{ le[NR] = $1; c[NR] = $2; n = NR }
	END {
		total = c[n]; rank = q * total; lo = 0; prev = 0
		for (i = 1; i <= n; i++) {
			if (c[i] >= rank) {
				if (le[i] == "+Inf") { printf "%.2f", lo * 1000; exit }
				printf "%.2f", (lo + (le[i] - lo) * (rank - prev) / (c[i] - prev > 0 ? c[i] - prev : 1)) * 1000
				exit
			}
			if (le[i] != "+Inf") lo = le[i]
			prev = c[i]
		}
	}' "$2"
}

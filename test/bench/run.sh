#!/usr/bin/env bash
# make bench: prints one table of measurements. Filled in by the attestation work.
echo "benchmark | value"
echo "(no benchmarks yet)"

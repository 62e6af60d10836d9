#!/usr/bin/env bash
# make demo: a whole attested node on loopback. Grows with each component.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "vigil demo: the enrollment demo is being built; see README.md for the state of each part."
./build/bin/vigil-agent -h | head -3

#!/usr/bin/env bash
# t_store_stall.sh with the verifier on PostgreSQL (lib.sh: VIGIL_TEST_DB=pg starts a
# server of the test's own): another session holds LOCK TABLE nodes IN EXCLUSIVE MODE
# inside an open transaction while the rounds go on; the same expected outcomes.
VIGIL_TEST_DB=pg exec bash "$(dirname "$0")/t_store_stall.sh"

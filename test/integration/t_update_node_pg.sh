#!/usr/bin/env bash
# t_update_node.sh with the verifier on PostgreSQL (lib.sh: VIGIL_TEST_DB=pg): UpdateNode's
# fenced one-statement write, its event and every error code, as on SQLite.
VIGIL_TEST_DB=pg exec bash "$(dirname "$0")/t_update_node.sh"

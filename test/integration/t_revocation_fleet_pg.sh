#!/usr/bin/env bash
# t_revocation_fleet.sh with the verifier on PostgreSQL (lib.sh: VIGIL_TEST_DB=pg starts a server of
# the test's own and gives the verifier a database on it): the same setup, actions and
# expected outcomes as on SQLite.
VIGIL_TEST_DB=pg exec bash "$(dirname "$0")/t_revocation_fleet.sh"

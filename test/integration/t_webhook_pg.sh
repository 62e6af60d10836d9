#!/usr/bin/env bash
# t_webhook.sh with the verifier on PostgreSQL (lib.sh: VIGIL_TEST_DB=pg): every event
# reaches the receiver across an outage and a SIGKILL of the verifier, as on SQLite.
VIGIL_TEST_DB=pg exec bash "$(dirname "$0")/t_webhook.sh"

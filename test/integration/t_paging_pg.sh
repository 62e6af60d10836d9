#!/usr/bin/env bash
# t_paging.sh with the verifier on PostgreSQL (lib.sh: VIGIL_TEST_DB=pg): policies paged by
# name in byte order (COLLATE "C", whatever the database's collation), and every other list.
VIGIL_TEST_DB=pg exec bash "$(dirname "$0")/t_paging.sh"

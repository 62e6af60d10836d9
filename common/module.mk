# common/: libvigil.a, everything the daemons share. Never includes a daemon header.
# One module per line, so that branches adding modules merge cleanly.
COMMON_SRCS += common/log.c
COMMON_SRCS += common/xmalloc.c
COMMON_SRCS += common/buf.c
COMMON_SRCS += common/nonce.c
COMMON_SRCS += common/config.c
COMMON_SRCS += common/daemon.c
# statefile: atomic, no-follow writes of keys and other state files.
COMMON_SRCS += common/statefile.c
COMMON_SRCS += common/err.c
COMMON_SRCS += common/pki.c
COMMON_SRCS += common/pb.c
COMMON_SRCS += common/grpcsrv.c
COMMON_SRCS += common/grpccli.c
COMMON_SRCS += common/pcr_policy.c
# store: the storage interface and its SQLite backend.
COMMON_SRCS += common/store.c
COMMON_SRCS += common/store_sqlite.c
COMMON_SRCS += common/quote.c
# ima: IMA list replay; runtime_policy: Keylime runtime (IMA) policies.
COMMON_SRCS += common/ima.c
COMMON_SRCS += common/runtime_policy.c
COMMON_SRCS += common/tpm2.c
COMMON_SRCS += common/makecred.c
# authtag: the Keylime activation HMAC, for the agent and the registrar.
COMMON_SRCS += common/authtag.c
COMMON_SRCS += common/ekcert.c
# eventlog: UEFI event log parse and replay; mb_policy: Keylime measured-boot policies.
COMMON_SRCS += common/eventlog.c
COMMON_SRCS += common/mb_policy.c
# http: the HTTP server and client of http.h; http_common: what both share (http_priv.h).
COMMON_SRCS += common/http_common.c
COMMON_SRCS += common/http_server.c
COMMON_SRCS += common/http_client.c

# common/evidence: decode and replay what a node sends: quotes, UEFI event logs, IMA lists.
COMMON_SRCS += common/evidence/quote.c
COMMON_SRCS += common/evidence/eventlog.c
COMMON_SRCS += common/evidence/ima.c
COMMON_SRCS += common/evidence/devpath.c
COMMON_SRCS += common/evidence/quotes_query.c

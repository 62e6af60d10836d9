# common/base: logging, errors, buffers, allocation, configuration, daemon start, nonces, state files, thread names, rates.
COMMON_SRCS += common/base/log.c
COMMON_SRCS += common/base/clock.c
COMMON_SRCS += common/base/rate.c
COMMON_SRCS += common/base/thread.c
COMMON_SRCS += common/base/err.c
COMMON_SRCS += common/base/xmalloc.c
COMMON_SRCS += common/base/buf.c
COMMON_SRCS += common/base/config.c
COMMON_SRCS += common/base/daemon.c
COMMON_SRCS += common/base/nonce.c
COMMON_SRCS += common/base/statefile.c
COMMON_SRCS += common/base/api_version.c
COMMON_SRCS += common/base/prom.c

# common/net: HTTP/TLS server and client, gRPC server and client, protobuf glue.
COMMON_SRCS += common/net/http_common.c
COMMON_SRCS += common/net/http_server.c
COMMON_SRCS += common/net/http_client.c
COMMON_SRCS += common/net/grpcsrv.c
COMMON_SRCS += common/net/grpccli.c
COMMON_SRCS += common/net/pb.c
COMMON_SRCS += common/net/webhook.c
COMMON_SRCS += common/net/metricsrv.c
COMMON_SRCS += common/net/paging.c

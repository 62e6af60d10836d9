# common/: libvigil.a, everything the daemons share, in layers, lowest first. Each layer is
# a folder with its own module.mk (its sources, one module per line, so that branches
# adding modules merge cleanly) and a .may_include file naming the layers its files may
# include; test/layering.sh enforces it. common/ never includes a daemon header.
#   base      logging, errors, buffers, allocation, configuration, daemon start, nonces,
#             safe state-file writes
#   crypto    TPM 2.0 structures and algorithms, MakeCredential, EK certificates, PKI,
#             the Keylime auth_tag
#   evidence  what a node sends: quotes, UEFI event logs, IMA lists (decode and replay)
#   policy    what the evidence is judged by: PCR, runtime (IMA) and measured-boot policies
#   net       HTTP/TLS server and client, gRPC server and client, protobuf glue
#   store     the storage interface and its backends
include $(sort $(wildcard common/*/module.mk))

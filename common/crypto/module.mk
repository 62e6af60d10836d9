# common/crypto: TPM 2.0 structures and algorithms, MakeCredential, EK certificates, PKI, auth_tag,
# the secure payload's key shares and AES-GCM (bootkey).
COMMON_SRCS += common/crypto/tpm2.c
COMMON_SRCS += common/crypto/makecred.c
COMMON_SRCS += common/crypto/ekcert.c
COMMON_SRCS += common/crypto/pki.c
COMMON_SRCS += common/crypto/authtag.c
COMMON_SRCS += common/crypto/revnotice.c
COMMON_SRCS += common/crypto/ear.c
COMMON_SRCS += common/crypto/ear_check.c
COMMON_SRCS += common/crypto/bootkey.c

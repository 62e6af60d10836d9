/* makecred: TPM2_MakeCredential in software (RSA and ECC endorsement keys) and the
 * credential blob in tpm2-tools' tpm2_makecredential file format, as Keylime sends it. */
#ifndef VIGIL_MAKECRED_H
#define VIGIL_MAKECRED_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "common/base/buf.h"
#include "common/base/err.h"
#include "common/crypto/tpm2.h"

/* Protect cred for the TPM holding ek, bound to the object named name (the AK Name, as
 * tpm2_pub_name gives it). ek must be a restricted decryption key (RSA or ECC
 * P-256/384/521) with AES-CFB symmetric parameters; cred is 1 to digest-size-of-nameAlg
 * bytes (the TPM's own limit). Appends the whole blob (magic 0xBADCC0DE, version 1,
 * TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET) to blob; on error blob is unchanged. Fresh
 * randomness every call; the seed and derived keys are wiped. 0 or -1. */
int makecred_blob(const tpm2_pub_t *ek, const uint8_t *name, size_t name_len, const uint8_t *cred,
                  size_t cred_len, buf_t *blob, err_t *e);

/* Split a blob into its marshalled TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET (each with
 * its 2-byte size, ready for Tss2_MU_*_Unmarshal), checking magic, version, sizes (the ID
 * object must hold a digest-sized integrity HMAC and a credential), and that nothing
 * trails. Replaces id_object and secret; both untouched on error. 0 or -1. */
int makecred_blob_decode(const uint8_t *blob, size_t len, buf_t *id_object, buf_t *secret,
                         err_t *e);

/* TPM2_ActivateCredential in software, the inverse of makecred_blob: open blob with the
 * EK's private key ek_priv (its public area ek), checking that it was made for the object
 * named name; the credential replaces cred. For tests and the load generator's simulated
 * TPMs: a real agent's TPM does this itself and never lets the EK's private key out.
 * 0, or -1 (e: a malformed blob, or one made for another EK or Name). */
int makecred_activate(const tpm2_pub_t *ek, EVP_PKEY *ek_priv, const uint8_t *name, size_t name_len,
                      const uint8_t *blob, size_t blob_len, buf_t *cred, err_t *e);

#endif

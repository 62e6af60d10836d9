/* ear_priv: what the two halves of ear (ear.c signs, ear_check.c checks) share. */
#ifndef VIGIL_EAR_PRIV_H
#define VIGIL_EAR_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "common/base/buf.h"
#include "common/crypto/ear.h"

#define EAR_ES256_SIG_LEN 64 /* r||s, 32 bytes each */

/* CBOR keys the draft assigns (draft-fv-rats-ear-05 §3, §3.1; RFC 8392 §4 for iat;
 * RFC 9711 for eat_profile, submods, eat_nonce). */
#define EAR_KEY_IAT           6
#define EAR_KEY_NONCE         10
#define EAR_KEY_PROFILE       265
#define EAR_KEY_SUBMODS       266
#define EAR_KEY_STATUS        1000
#define EAR_KEY_TV            1001
#define EAR_KEY_RAW_EVIDENCE  1002
#define EAR_KEY_POLICY_ID     1003
#define EAR_KEY_VERIFIER_ID   1004
#define EAR_VID_KEY_DEVELOPER 0 /* ar4si §3.3 */
#define EAR_VID_KEY_BUILD     1
#define COSE_HEADER_ALG       1
#define COSE_HEADER_CRIT      2
#define COSE_ALG_ES256        (-7)
#define COSE_SIGN1_TAG        18
#define EAR_PROTECTED_MAX     256 /* bytes of a protected header we read */
#define EAR_JWT_HEADER_MAX    1024

/* 1 when pk is an EC key on P-256. */
int ear_key_is_p256(EVP_PKEY *pk);
/* The COSE Sig_structure ["Signature1", protected, h'', payload] (RFC 9052 §4.4), in
 * deterministic CBOR, replacing out. */
void ear_sig_structure(const uint8_t *prot, size_t prot_len, const uint8_t *payload,
                       size_t payload_len, buf_t *out);
/* Read and check an unsigned claims set (a JWT payload's JSON, or a CWT payload's CBOR
 * map) as ear_verify does once a signature has verified: for the fuzz target, which can
 * sign nothing. Same contract as ear_verify. */
ear_rc_t ear_claims_decode(const uint8_t *p, size_t len, ear_format_t f, const ear_window_t *w,
                           json_t **claims, err_t *e);
/* The tier named s, or -1. */
int ear_tier_from_name(const char *s);
/* The claim named s, or -1. */
int ear_tv_from_name(const char *s);

#endif

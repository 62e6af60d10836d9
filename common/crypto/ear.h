/* ear: a node's verdict as an EAR token (EAT Attestation Results), signed by the
 * verifier's attestation-result key, and the offline check of such a token. docs/ear.md
 * describes every claim for the people who consume them.
 *
 * The claims set is the one of draft-fv-rats-ear-05 (§3, §3.1), which Veraison's ear
 * libraries and CoCo Trustee emit: eat_profile "tag:github.com,2023:veraison/ear", iat,
 * ear.verifier-id {developer, build}, optional ear.raw-evidence, and submods with one
 * EAR-appraisal per node, labelled with the node's UUID: ear.status, the AR4SI
 * trustworthiness vector (draft-ietf-rats-ar4si §2.3), optional ear.appraisal-policy-id,
 * and vigil's own claims under EAR_VIGIL_CLAIM (an unregistered extension, draft §4.1).
 *
 * Two encodings, both ES256 (ECDSA P-256, SHA-256, signature r||s):
 *  - JWT (RFC 7519): header {"alg":"ES256","typ":"JWT"}, the claims as JSON with the
 *    names above (sorted keys, compact), byte strings as unpadded base64url;
 *  - CWT (RFC 8392): a COSE_Sign1 (RFC 9052 §4.2), tag 18, protected header {1: -7} as a
 *    bstr, empty unprotected map, the claims map as the payload bstr, integer keys where
 *    the draft assigns them (eat_profile 265, iat 6, submods 266, ear.status 1000,
 *    ear.trustworthiness-vector 1001, ear.raw-evidence 1002, ear.appraisal-policy-id 1003,
 *    ear.verifier-id 1004 with developer 0 and build 1, trustworthiness claims 0..7,
 *    EAR_VIGIL_CLAIM_KEY), ear.status as its tier's integer. All of it in RFC 8949 §4.2.1
 *    deterministic encoding: shortest integer and length forms, definite lengths, map keys
 *    in the bytewise order of their encodings.
 *
 * The checker takes either, checks the signature before reading any claim, then the
 * profile, iat against a window, and every claim it knows by type, and hands back the
 * claims as JSON in the JWT form whatever the encoding (so a CWT prints as its JWT twin). */
#ifndef VIGIL_EAR_H
#define VIGIL_EAR_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "common/base/buf.h"
#include "common/base/err.h"

#define EAR_PROFILE         "tag:github.com,2023:veraison/ear" /* draft-fv-rats-ear-05 §3 */
#define EAR_VIGIL_CLAIM     "ear.vigil.node" /* vigil's claims in an appraisal (JWT name) */
#define EAR_VIGIL_CLAIM_KEY (-70400)         /* ... and its CWT key (private space, < -65536) */

#define EAR_TOKEN_MAX      (4u << 20) /* largest token accepted, bytes */
#define EAR_CBOR_DEPTH_MAX 16         /* deepest CBOR nesting accepted */
#define EAR_NODES_MAX      1024       /* submodules per token, both ways */
#define EAR_POLICIES_MAX   16         /* policies named per node */

/* The four trustworthiness tiers (ar4si §2.3.1), with their CBOR values. */
typedef enum {
	EAR_NONE = 0,
	EAR_AFFIRMING = 2,
	EAR_WARNING = 32,
	EAR_CONTRAINDICATED = 96,
} ear_tier_t;

/* The trustworthiness claims of the vector (ar4si §2.3.3), by CBOR key. */
typedef enum {
	EAR_TV_INSTANCE_IDENTITY = 0,
	EAR_TV_CONFIGURATION = 1,
	EAR_TV_EXECUTABLES = 2,
	EAR_TV_FILE_SYSTEM = 3,
	EAR_TV_HARDWARE = 4,
	EAR_TV_RUNTIME_OPAQUE = 5,
	EAR_TV_STORAGE_OPAQUE = 6,
	EAR_TV_SOURCED_DATA = 7,
	EAR_TV_N = 8,
} ear_tv_claim_t;

/* Claim values (ar4si §2.3.2-§2.3.3). What vigil says with them is in docs/ear.md:
 * instance-identity from the AK (certified by the EK through MakeCredential) that signed
 * the quote, hardware from the EK certificate chain, configuration from the PCR and
 * measured-boot policies, executables and file-system from the IMA runtime policy. */
#define EAR_VERIFIER_MALFUNCTION (-1) /* any claim: the verifier failed */
#define EAR_NO_CLAIM             0    /* any claim: nothing to say */
#define EAR_UNEXPECTED_EVIDENCE  1    /* any claim: evidence it cannot parse */
#define EAR_CRYPTO_FAILED        99   /* any claim: a signature did not verify */
#define EAR_II_RECOGNIZED        2    /* instance-identity: known, not compromised */
#define EAR_II_UNTRUSTWORTHY     96   /* ... recognized, but not trustworthy */
#define EAR_II_UNRECOGNIZED      97   /* ... not recognized */
#define EAR_CFG_APPROVED         2    /* configuration: known and approved */
#define EAR_CFG_UNSAFE           32   /* ... known vulnerabilities */
#define EAR_CFG_UNAVAILABLE      36   /* ... elements unavailable to the verifier */
#define EAR_CFG_UNSUPPORTABLE    96   /* ... unacceptable */
#define EAR_EXE_APPROVED_RT      2    /* executables: approved boot- and run-time */
#define EAR_EXE_APPROVED_BOOT    3    /* ... approved boot-time only */
#define EAR_EXE_UNSAFE_RT        32   /* ... recognized, known vulnerabilities */
#define EAR_EXE_UNRECOGNIZED_RT  33   /* ... unrecognized run-time */
#define EAR_EXE_CONTRAINDICATED  96   /* ... contraindicated run-time */
#define EAR_FS_APPROVED          2    /* file-system: only approved files */
#define EAR_FS_UNRECOGNIZED      32   /* ... unrecognized files */
#define EAR_FS_CONTRAINDICATED   96   /* ... contraindicated files */
#define EAR_HW_GENUINE           2    /* hardware: genuine */
#define EAR_HW_UNSAFE            32   /* ... genuine, known vulnerabilities */
#define EAR_HW_CONTRAINDICATED   96   /* ... genuine but contraindicated */
#define EAR_HW_UNRECOGNIZED      97   /* ... not recognized */

/* One policy a verdict was judged by. Strings borrowed. */
typedef struct ear_policy_ref {
	const char *kind;   /* "pcr", "runtime" or "mb" */
	const char *name;   /* its name on the verifier */
	const char *digest; /* lowercase hex SHA-256 of its content */
} ear_policy_ref_t;

/* One node's verdict: one submodule. Strings and arrays borrowed. Set trustworthiness
 * claims with ear_node_tv_set; a claim not set is left out of the vector. */
typedef struct ear_node {
	const char *uuid;                 /* the node's UUID: the submodule's label */
	ear_tier_t status;                /* ear.status; no better than the worst claim */
	int8_t tv[EAR_TV_N];              /* the claims' values, by ear_tv_claim_t */
	uint8_t tv_set;                   /* bit i set: tv[i] is in the vector */
	const char *policy_id;            /* ear.appraisal-policy-id, or NULL */
	int64_t quote_time;               /* unix time of the quote judged; -1: none */
	int64_t reset_count;              /* the quote's TPM resetCount; -1: unknown */
	const ear_policy_ref_t *policies; /* the policies it was judged by */
	size_t n_policies;                /* ... how many (at most EAR_POLICIES_MAX) */
} ear_node_t;

/* The whole claims set. */
typedef struct ear_claims {
	int64_t iat;                 /* issued at, unix time */
	const char *developer;       /* ear.verifier-id developer, e.g. "https://vigil.dev" */
	const char *build;           /* ear.verifier-id build, e.g. "vigil-verifier 1.2" */
	const uint8_t *raw_evidence; /* ear.raw-evidence, or NULL */
	size_t raw_evidence_len;     /* its length */
	const ear_node_t *nodes;     /* the submodules (1..EAR_NODES_MAX) */
	size_t n_nodes;              /* how many */
} ear_claims_t;

typedef enum {
	EAR_FORMAT_JWT, /* compact JWS text */
	EAR_FORMAT_CWT, /* COSE_Sign1 bytes */
} ear_format_t;

/* Set claim c of n's vector to v. */
void ear_node_tv_set(ear_node_t *n, ear_tv_claim_t c, int v);
/* The tier of one claim value (ar4si §2.3.2): -1..1 none, then affirming, warning and
 * contraindicated by magnitude. */
ear_tier_t ear_tier_of(int v);
/* The worst tier among n's claims (EAR_NONE when none is above none): the best status n
 * may carry. */
ear_tier_t ear_node_worst(const ear_node_t *n);
/* "affirming", "warning", "contraindicated", "none"; static. */
const char *ear_tier_name(ear_tier_t t);
/* Name of a trustworthiness claim ("instance-identity", ...); static. */
const char *ear_tv_name(ear_tv_claim_t c);

/* Sign c as a token of format f with key (an ECDSA P-256 private key, borrowed), replacing
 * out: JWT text (NUL-terminated) or CWT bytes. 0, or -1 with e (the claims break a rule
 * above: no node, a status better than its worst claim, a missing string, ...). */
int ear_sign(const ear_claims_t *c, ear_format_t f, EVP_PKEY *key, buf_t *out, err_t *e);
/* The claims set alone, unsigned, replacing out: the JWT payload (JSON text) or the CWT
 * payload (CBOR map). For tests and for docs. 0 or -1 with e. */
int ear_claims_encode(const ear_claims_t *c, ear_format_t f, buf_t *out, err_t *e);

/* What a check returns, most basic first. */
typedef enum {
	EAR_OK = 0,
	EAR_ERR_MALFORMED, /* neither a JWT nor a COSE_Sign1, or one that does not decode */
	EAR_ERR_ALG,       /* not ES256 (or a header it does not understand) */
	EAR_ERR_SIGNATURE, /* the signature does not verify with the key given */
	EAR_ERR_PROFILE,   /* eat_profile missing or not EAR_PROFILE */
	EAR_ERR_EXPIRED,   /* iat older than the window allows */
	EAR_ERR_FUTURE,    /* iat later than now plus the skew */
	EAR_ERR_CLAIMS,    /* signed, but a claim is missing or of the wrong type */
} ear_rc_t;

/* When a token is acceptable. */
typedef struct ear_window {
	int64_t now;     /* unix time to judge iat against */
	int64_t max_age; /* seconds iat may lie before now; 0: any age */
	int64_t skew;    /* seconds iat may lie after now (clock skew) */
} ear_window_t;

/* Check a token from outside (len bytes, any content, at most EAR_TOKEN_MAX; a JWT may end
 * in a newline) with the public key pub (borrowed). On EAR_OK, *claims is the claims set
 * in its JWT (JSON) form (caller frees with json_decref) and *format (may be NULL) says
 * which encoding it came in; otherwise *claims is NULL and e names what is wrong. */
ear_rc_t ear_verify(const uint8_t *tok, size_t len, EVP_PKEY *pub, const ear_window_t *w,
                    json_t **claims, ear_format_t *format, err_t *e);
/* A short name for rc ("bad signature"); static. */
const char *ear_rc_str(ear_rc_t rc);

/* The attestation-result key (STATE_DIR/report.key): load the ECDSA P-256 private key at
 * path, or, when there is no file, make one and write it there (PEM, mode 0600, through
 * statefile_write). *created says which. NULL with e on error. */
EVP_PKEY *ear_key_load_or_create(const char *path, int *created, err_t *e);
/* The public half of key as PEM, appended to out. 0 or -1. */
int ear_key_public_pem(EVP_PKEY *key, buf_t *out);
/* A public key from PEM text (SubjectPublicKeyInfo; a private key PEM is accepted too,
 * and only its public half used); it must be P-256. NULL with e otherwise. */
EVP_PKEY *ear_key_from_pem(const char *pem, size_t len, err_t *e);

#endif

/* runtime_policy_priv: what the runtime-policy modules share and nobody else sees. The
 * compiled policy's layout (runtime_policy.c builds it, runtime_policy_eval.c reads it), its
 * digest map, and the reader of IMA signing keys that compilation, evaluation (keys learned
 * from keyring measurements) and generation (verification key files) all use. */
#ifndef VIGIL_RUNTIME_POLICY_PRIV_H
#define VIGIL_RUNTIME_POLICY_PRIV_H

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <pcre2.h>

#include "common/base/buf.h"
#include "common/evidence/ima.h"
#include "common/policy/runtime_policy.h"

#define RP_MAX_LEN_CAP (1u << 30) /* no max_len above 1 GiB: arena offsets are 32-bit */
#define RP_KEYRING_MAX 64         /* bytes of a keyring name we keep */
#define RP_KEYFILE_MAX (1u << 20) /* a verification key file */

/* Digest map: path -> list of raw digests, open addressing. Built once per policy. */
typedef struct dmap_slot {
	uint64_t h;       /* FNV-1a of the key */
	uint32_t key_off; /* key in the arena (NUL-terminated) */
	uint32_t key_len; /* bytes */
	uint32_t dig_off; /* first digest in the arena: [len u8][bytes]... */
	uint32_t ndig;    /* digests; 0 marks an empty slot */
} dmap_slot_t;

typedef struct dmap {
	dmap_slot_t *slots; /* cap entries */
	size_t cap;         /* power of two, at least twice count */
	size_t count;       /* keys */
	buf_t arena;        /* keys and digests */
} dmap_t;

/* The slot of key, or NULL. */
const dmap_slot_t *rp_dmap_find(const dmap_t *m, const char *key, size_t len);
/* Whether the slot holds digest d. */
int rp_dmap_slot_has(const dmap_t *m, const dmap_slot_t *s, const uint8_t *d, size_t len);
/* "a, b, c (and N more)" of a slot's digests, for failure reasons. */
void rp_dmap_slot_list(const dmap_t *m, const dmap_slot_t *s, char *out, size_t outsz);

typedef struct rp_key {
	uint32_t keyid;               /* keyidv2: last 4 bytes of SHA-1 of the public key */
	EVP_PKEY *pk;                 /* RSA or EC; owned */
	char keyring[RP_KEYRING_MAX]; /* where it came from ("verification-keys", ".ima") */
} rp_key_t;

int rp_key_type_ok(EVP_PKEY *pk); /* RSA or EC */
/* A key buffer as IMA measures it into a keyring (or as an operator hands it to vigilctl):
 * DER or PEM X.509 certificate, or DER or PEM SubjectPublicKeyInfo. Returns 1 with *pk and
 * *id set, 0 when the bytes are no key, -1 when they are a key of an unsupported type. */
int rp_key_from_bytes(const uint8_t *p, size_t n, EVP_PKEY **pk, uint32_t *id);

/* The compiled policy: immutable once runtime_policy_parse returns it. */
struct runtime_policy {
	atomic_int refs;         /* references; freed at zero */
	char sha256[65];         /* hex of the JSON bytes as given */
	int version;             /* meta.version */
	int generator;           /* meta.generator */
	uint16_t log_alg;        /* ima.log_hash_alg */
	dmap_t digests;          /* "digests" */
	dmap_t keyrings;         /* "keyrings" */
	dmap_t imabuf;           /* "ima-buf" */
	char **ignored;          /* ima.ignored_keyrings */
	size_t n_ignored;        /* count */
	int ignore_all_keyrings; /* "*" among them */
	pcre2_code *excl;        /* combined excludes, anchored; NULL when none */
	size_t n_excludes;       /* count */
	rp_key_t *keys;          /* verification-keys */
	size_t n_keys;           /* count */
};

#endif

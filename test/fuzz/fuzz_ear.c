/* Fuzz target: an EAR token from outside, as 'vigilctl report verify' reads it (a JWT or a
 * COSE_Sign1), checked against a fixed key (test/unit/data/ear/key.pub.pem); and the same
 * bytes as an unsigned claims set, CBOR and JSON, so that the claims decoder is reached
 * without a signature. Whatever the bytes, no crash, and claims exactly on EAR_OK. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto/ear.h"
#include "common/crypto/ear_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char pub_pem[] = "-----BEGIN PUBLIC KEY-----\n"
                              "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEWx4ilOneAYl0pDtAW0DJgFCIXSJw\n"
                              "rMk/thIDbWDap3ZUPTiTQMXwU+/G4O0NHxS7eyMSClsOOalmEpdPOVTxXg==\n"
                              "-----END PUBLIC KEY-----\n";

static void check(ear_rc_t rc, json_t *claims)
{
	if ((rc == EAR_OK) != (claims != NULL) || (claims != NULL && !json_is_object(claims)))
		abort();
	json_decref(claims);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static EVP_PKEY *pub;
	const ear_window_t w = {1700000000, 0, 60};
	json_t *claims = NULL;
	err_t e = {""};

	if (pub == NULL && (pub = ear_key_from_pem(pub_pem, strlen(pub_pem), &e)) == NULL)
		abort();
	ear_rc_t rc;

	rc = ear_verify(data, size, pub, &w, &claims, NULL, &e);
	check(rc, claims);
	rc = ear_claims_decode(data, size, EAR_FORMAT_CWT, &w, &claims, &e);
	check(rc, claims);
	rc = ear_claims_decode(data, size, EAR_FORMAT_JWT, &w, &claims, &e);
	check(rc, claims);
	return 0;
}

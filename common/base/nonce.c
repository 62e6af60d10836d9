/* nonce: uniform [A-Za-z0-9] text from the CSPRNG. */
#include "common/base/nonce.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/base/log.h"

void nonce_alnum(char *out, size_t len)
{
	static const char alnum[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char rnd[64];
	size_t n = 0;

	/* Rejection sampling: bytes of 248 (4 * 62) and above are dropped, so that each
	 * character is equally likely. */
	while (n < len) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			fatalx("the CSPRNG failed");
		for (size_t i = 0; i < sizeof(rnd) && n < len; i++)
			if (rnd[i] < 248)
				out[n++] = alnum[rnd[i] % 62];
	}
	out[len] = '\0';
	OPENSSL_cleanse(rnd, sizeof(rnd));
}

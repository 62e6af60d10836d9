/* Fuzz target: a revocation notice from outside (what vigil-agent's
 * /v{ver}/notifications/revocation receives) checked against a fixed RevocationNotifier
 * certificate (test/unit/data/revnotice/notifier.crt). Whatever the bytes, no crash, and a
 * notice said to verify yields a JSON object. */
#include <stdint.h>
#include <stdlib.h>

#include "common/crypto/revnotice.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char cert_pem[] = "-----BEGIN CERTIFICATE-----\n"
                               "MIIDHTCCAgWgAwIBAgIUb7gp/b5i0gm0iB4wSSsDhW7Qn4EwDQYJKoZIhvcNAQEL\n"
                               "BQAwHTEbMBkGA1UEAwwSUmV2b2NhdGlvbk5vdGlmaWVyMCAXDTI2MTIwNDA5MjU1\n"
                               "NloYDzIxMjYxMTEwMDkyNTU2WjAdMRswGQYDVQQDDBJSZXZvY2F0aW9uTm90aWZp\n"
                               "ZXIwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQDPgVbWRxpWXSN70FuN\n"
                               "2TyoSwvULUGTlc/WHDtbUG/icRt8icngLNO4QFqKLIsY+aYJa7tM6l6bd+sE07CV\n"
                               "jJpk3ytB9RGDUP5jkKDF4bbW6hycJs+CBMyvXWaMsAkLwfubbS4KJ+OlC5IYXf9n\n"
                               "IPHuLNhqBV2e0t83ph8PTVETyjNSoqgbodq3ppViedo974bF3DtsGkfKzLZWhz55\n"
                               "wD3md8gjcZakBm89B4+Vu8sOuCB5owEcbUj4l12vGKbomKjgBN7WNVRVDbunkCdo\n"
                               "Y5T/6n/JALxP+0hUM3nnofeFMFZucTIux0QKsxd1eGpXgyZonOrretW+rXf3xGdF\n"
                               "qwbdAgMBAAGjUzBRMB0GA1UdDgQWBBTvQQbv6LLI4QrLMd/Ats+bgd/X9zAfBgNV\n"
                               "HSMEGDAWgBTvQQbv6LLI4QrLMd/Ats+bgd/X9zAPBgNVHRMBAf8EBTADAQH/MA0G\n"
                               "CSqGSIb3DQEBCwUAA4IBAQCvHp1OKlDCJqBqSCsEY6zu+F1Q7zY5DcnHenB5cWbQ\n"
                               "yP3L1mBd6tPOpgsWLKKYZ4J/xSy0fanuYhhVYcWDgFeK9s7ZLd1Z1ykyyZ5ruV2X\n"
                               "1jWT4l3TmF0XkJCg5philDWY0bo0qmCf/wp7ABAk9Xog53mNCsj8EZCcu1EXJP0A\n"
                               "nl9Iii1n8bAbJVPeu5JubaGLAYRSyI9At+QX9+fg3CEVtEv2r1bcp2QJBmLr20jG\n"
                               "YAd4ufr3XqknDQsSLMchwmuNLa0S8uDdEnTuTe8P6NhHIM+s14maDxH3zNNcXxVH\n"
                               "A+LKPPpNGM2G7NbjDrNp33x0m56Kt5yNSTt44JBB2Gi/\n"
                               "-----END CERTIFICATE-----\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *msg = NULL;
	err_t e = {""};
	revnotice_rc_t rc = revnotice_verify(data, size, cert_pem, &msg, &e);

	if ((rc == REVNOTICE_OK) != (msg != NULL) || (msg != NULL && !json_is_object(msg)))
		abort();
	json_decref(msg);
	return 0;
}

/* ear_sign: an EAR token made by vigil's own code (common/crypto/ear), for the tests that
 * check it with libraries no one here wrote (test/integration/t_ear.sh).
 *   ear_sign KEY.pem jwt|cwt IAT OUT [STATUS]
 *       one node's verdict (the node and its claims below; STATUS affirming by default,
 *       or warning / contraindicated / none, with the vector to match) issued at unix time
 *       IAT ("now": the current time), signed with KEY (made when missing, as the
 *       verifier's report.key is), written to OUT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/base/buf.h"
#include "common/base/log.h"
#include "common/crypto/ear.h"

int main(int argc, char **argv);

int main(int argc, char **argv)
{
	static const uint8_t raw[] = "quote r/AAAA:BBBB:CCCC";
	static const ear_policy_ref_t pol[] = {
	    {"pcr", "fleet-pcrs",
	     "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
	    {"runtime", "golden",
	     "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"},
	};
	const char *status = argc > 5 ? argv[5] : "affirming";
	ear_node_t n = {0};
	ear_claims_t c = {0};
	buf_t out = BUF_INIT;
	EVP_PKEY *key;
	err_t e = {""};
	int created;

	log_init("ear_sign", 1, 0);
	if (argc < 5 || (strcmp(argv[2], "jwt") != 0 && strcmp(argv[2], "cwt") != 0)) {
		fprintf(stderr, "usage: ear_sign KEY.pem jwt|cwt IAT|now OUT [STATUS]\n");
		return 2;
	}
	if ((key = ear_key_load_or_create(argv[1], &created, &e)) == NULL) {
		fprintf(stderr, "ear_sign: %s\n", e.msg);
		return 1;
	}
	n.uuid = "d432fbb3-d2f1-4a97-9ef7-75bd81c00000";
	n.status = EAR_AFFIRMING;
	ear_node_tv_set(&n, EAR_TV_INSTANCE_IDENTITY, EAR_II_RECOGNIZED);
	ear_node_tv_set(&n, EAR_TV_HARDWARE, EAR_HW_GENUINE);
	ear_node_tv_set(&n, EAR_TV_CONFIGURATION, EAR_CFG_APPROVED);
	ear_node_tv_set(&n, EAR_TV_EXECUTABLES, EAR_EXE_APPROVED_RT);
	ear_node_tv_set(&n, EAR_TV_FILE_SYSTEM, EAR_FS_APPROVED);
	if (strcmp(status, "warning") == 0) {
		n.status = EAR_WARNING;
		ear_node_tv_set(&n, EAR_TV_EXECUTABLES, EAR_EXE_UNRECOGNIZED_RT);
		ear_node_tv_set(&n, EAR_TV_FILE_SYSTEM, EAR_FS_UNRECOGNIZED);
	} else if (strcmp(status, "contraindicated") == 0) {
		n.status = EAR_CONTRAINDICATED;
		ear_node_tv_set(&n, EAR_TV_CONFIGURATION, EAR_CFG_UNSUPPORTABLE);
	} else if (strcmp(status, "none") == 0) {
		n.status = EAR_NONE;
		n.tv_set = 0;
	}
	n.policy_id = "vigil:runtime/golden";
	n.quote_time = time(NULL) - 2;
	n.reset_count = 3;
	n.policies = pol;
	n.n_policies = 2;
	c.iat = strcmp(argv[3], "now") == 0 ? (int64_t)time(NULL) : strtoll(argv[3], NULL, 10);
	c.developer = "https://github.com/vigil";
	c.build = "vigil-verifier test";
	c.raw_evidence = raw;
	c.raw_evidence_len = sizeof(raw) - 1;
	c.nodes = &n;
	c.n_nodes = 1;
	if (ear_sign(&c, strcmp(argv[2], "jwt") == 0 ? EAR_FORMAT_JWT : EAR_FORMAT_CWT, key, &out,
	             &e) < 0 ||
	    buf_write_file(argv[4], out.data, out.len, 0644) < 0) {
		fprintf(stderr, "ear_sign: %s\n", e.msg[0] ? e.msg : "cannot write the token");
		return 1;
	}
	buf_free(&out);
	EVP_PKEY_free(key);
	return 0;
}

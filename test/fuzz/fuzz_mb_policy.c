/* Fuzz target: the measured-boot policy loader (JSON refstate, Python regex translation)
 * and its evaluation against a fixed small log that reaches every rule. */
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/buf.h"
#include "common/evidence/eventlog.h"
#include "common/policy/mb_policy.h"
#include "common/policy/pyregex.h"
#include "test/fuzz/mb_policy_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static eventlog_t *log;
	mb_failure_t f;
	buf_t re = BUF_INIT;

	if (log == NULL &&
	    (log = eventlog_parse(mb_policy_log, sizeof(mb_policy_log), NULL)) == NULL)
		abort();
	mb_policy_t *p = mb_policy_load((const char *)data, size, NULL);
	if (p != NULL) {
		int r = mb_policy_evaluate(p, log, &f);
		if (r != 0 && (f.reason[0] == 0 || strlen(f.reason) >= sizeof(f.reason)))
			abort();
		mb_policy_free(p);
	}
	/* The input as a Python regex: translation must give a POSIX regex or an error. */
	if (size < 4096) {
		char *s = malloc(size + 1);
		regex_t rx;
		memcpy(s, data, size);
		s[size] = 0;
		if (pyregex_translate(s, &re, NULL) == 0 &&
		    regcomp(&rx, (char *)re.data, REG_EXTENDED | REG_NOSUB) == 0) {
			(void)regexec(&rx, s, 0, NULL, 0);
			regfree(&rx);
		}
		free(s);
	}
	buf_free(&re);
	return 0;
}

/* vigil-agent: one per node; owns the TPM, enrolls at the registrar, answers quotes. */
#include <stdlib.h>

#include "common/config.h"
#include "common/daemon.h"
#include "common/log.h"

int main(int argc, char **argv);

static const config_key_t agent_keys[] = {
    {"agent", "uuid", CFG_STR, "d432fbb3-d2f1-4a97-9ef7-75bd81c00000", 0, 0,
     "The node's identity at the registrar and verifier: a literal UUID, \"generate\" (a new "
     "random UUID at every start) or \"hash_ek\" (the SHA-256 of the EK public key PEM, as "
     "Keylime does).",
     NULL},
    {NULL, NULL, CFG_STR, NULL, 0, 0, NULL, NULL},
};

static const daemon_info_t agent_info = {
    .name = "vigil-agent",
    .summary = "vigil-agent: the per-node attestation agent (Keylime agent API v2.1-2.6).",
    .description = "Not yet implemented beyond configuration checking.",
    .default_conf = "/etc/vigil/agent.conf",
    .keys = agent_keys,
};

int main(int argc, char **argv)
{
	config_t *cfg = daemon_start(&agent_info, argc, argv);

	log_warnx("vigil-agent is not implemented yet");
	config_free(cfg);
	return 1;
}

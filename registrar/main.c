/* vigil-registrar: enrolls TPM identities: EK chain, AK attributes, MakeCredential. */
#include <stdlib.h>

#include "common/config.h"
#include "common/daemon.h"
#include "common/log.h"

int main(int argc, char **argv);

static const config_key_t registrar_keys[] = {
    {"registrar", "listen", CFG_STR, "127.0.0.1:8890", 0, 0,
     "Address for the agent-facing HTTP routes (register, activate, version).", NULL},
    {NULL, NULL, CFG_STR, NULL, 0, 0, NULL, NULL},
};

static const daemon_info_t registrar_info = {
    .name = "vigil-registrar",
    .summary = "vigil-registrar: enrolls TPM identities (Keylime registrar API v2.1-2.6).",
    .description = "Not yet implemented beyond configuration checking.",
    .default_conf = "/etc/vigil/registrar.conf",
    .keys = registrar_keys,
};

int main(int argc, char **argv)
{
	config_t *cfg = daemon_start(&registrar_info, argc, argv);

	log_warnx("vigil-registrar is not implemented yet");
	config_free(cfg);
	return 1;
}

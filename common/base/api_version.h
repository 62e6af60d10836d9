/* api_version: the Keylime agent API versions an agent serves (vigil-agent, the load
 * generator's simulated agents), and the version negotiation with the registrar
 * (docs/wire.md §1.3). */
#ifndef VIGIL_API_VERSION_H
#define VIGIL_API_VERSION_H

#include <stddef.h>

#include "common/base/err.h"

#define API_VERSIONS_MAX 8

/* A set of versions "2.1" .. "2.6", kept in ascending order. */
typedef struct api_versions {
	int n;                       /* versions in v */
	int minor[API_VERSIONS_MAX]; /* minor numbers, major is always 2; ascending */
} api_versions_t;

/* Parse the agent.api_versions setting: "default" (every supported version), "latest"
 * (the newest only) or a comma-separated list such as "2.4, 2.5". Unknown versions are
 * an error (e says which). 0 or -1. */
int api_versions_parse(const char *s, api_versions_t *out, err_t *e);
/* Config check for agent.api_versions: NULL when fine, else a static reason. */
const char *api_versions_check(const char *s);

/* Parse "MAJOR.MINOR" (no leading "v"). 0 or -1. */
int api_version_parse(const char *s, int *major, int *minor);
/* 1 when major.minor is in the set. */
int api_versions_has(const api_versions_t *v, int major, int minor);
/* The newest version in the set as text ("2.6"), into buf of at least 8 bytes. */
void api_versions_latest(const api_versions_t *v, char *buf, size_t len);

/* Choose the version to talk to a registrar that reported current and supported
 * (NULL-terminated array of strings): current when we have it, else the highest common
 * version. Writes "2.x" into buf. 0, or -1 when there is none in common. */
int api_versions_negotiate(const api_versions_t *ours, const char *current,
                           const char *const *supported, char *buf, size_t len);

/* Split a request path "/vMAJ.MIN/rest" into the version and rest ("/..." or ""). 1 when
 * the path has that form, 0 when it does not start with a version. */
int api_path_split(const char *path, int *major, int *minor, const char **rest);

#endif

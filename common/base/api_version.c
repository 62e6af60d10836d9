/* api_version: which Keylime agent API versions we serve and how we pick one. */
#include "common/base/api_version.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every version this agent implements (all of major 2). 2.1 is the oldest the Rust agent
 * serves; 2.6 only changed IAK semantics, so the agent endpoints are those of 2.5. */
static const int supported_minor[] = {1, 2, 3, 4, 5, 6};
#define NSUPPORTED ((int)(sizeof(supported_minor) / sizeof(supported_minor[0])))

/* A decimal number of at most 4 digits without sign or leading zeros (except "0"). */
static const char *parse_num(const char *s, int *v)
{
	int n = 0, d = 0;

	if (!isdigit((unsigned char)*s) || (s[0] == '0' && isdigit((unsigned char)s[1])))
		return NULL;
	while (isdigit((unsigned char)*s) && d < 4) {
		n = n * 10 + (*s - '0');
		s++;
		d++;
	}
	if (isdigit((unsigned char)*s))
		return NULL;
	*v = n;
	return s;
}

int api_version_parse(const char *s, int *major, int *minor)
{
	const char *p = parse_num(s, major);

	if (p == NULL || *p != '.')
		return -1;
	p = parse_num(p + 1, minor);
	if (p == NULL || *p != '\0')
		return -1;
	return 0;
}

static int is_supported(int major, int minor)
{
	if (major != 2)
		return 0;
	for (int i = 0; i < NSUPPORTED; i++)
		if (supported_minor[i] == minor)
			return 1;
	return 0;
}

static void add_sorted(api_versions_t *v, int minor)
{
	int i;

	for (i = 0; i < v->n; i++)
		if (v->minor[i] == minor)
			return;
	for (i = v->n; i > 0 && v->minor[i - 1] > minor; i--)
		v->minor[i] = v->minor[i - 1];
	v->minor[i] = minor;
	v->n++;
}

int api_versions_parse(const char *s, api_versions_t *out, err_t *e)
{
	char tok[32];

	memset(out, 0, sizeof(*out));
	if (strcmp(s, "default") == 0 || strcmp(s, "") == 0) {
		for (int i = 0; i < NSUPPORTED; i++)
			add_sorted(out, supported_minor[i]);
		return 0;
	}
	if (strcmp(s, "latest") == 0) {
		add_sorted(out, supported_minor[NSUPPORTED - 1]);
		return 0;
	}
	while (*s) {
		size_t n = strcspn(s, ",");
		const char *a = s, *b = s + n;
		int major, minor;

		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		if ((size_t)(b - a) >= sizeof(tok)) {
			err_set(e, "API version too long");
			return -1;
		}
		memcpy(tok, a, (size_t)(b - a));
		tok[b - a] = '\0';
		if (api_version_parse(tok, &major, &minor) < 0) {
			err_set(e, "\"%s\" is not an API version (like 2.5)", tok);
			return -1;
		}
		if (!is_supported(major, minor)) {
			err_set(e, "API version %s is not supported (2.1 to 2.6 are)", tok);
			return -1;
		}
		add_sorted(out, minor);
		s += n;
		if (*s == ',')
			s++;
	}
	if (out->n == 0) {
		err_set(e, "no API version given");
		return -1;
	}
	return 0;
}

const char *api_versions_check(const char *s)
{
	static char msg[sizeof(((err_t *)0)->msg)];
	api_versions_t v;
	err_t e = {""};

	if (api_versions_parse(s, &v, &e) == 0)
		return NULL;
	snprintf(msg, sizeof(msg), "%s", e.msg);
	return msg;
}

int api_versions_has(const api_versions_t *v, int major, int minor)
{
	if (major != 2)
		return 0;
	for (int i = 0; i < v->n; i++)
		if (v->minor[i] == minor)
			return 1;
	return 0;
}

void api_versions_latest(const api_versions_t *v, char *buf, size_t len)
{
	snprintf(buf, len, "2.%d", v->n ? v->minor[v->n - 1] : 0);
}

int api_versions_negotiate(const api_versions_t *ours, const char *current,
                           const char *const *supported, char *buf, size_t len)
{
	int major, minor, best = -1;

	if (current && api_version_parse(current, &major, &minor) == 0 &&
	    api_versions_has(ours, major, minor)) {
		snprintf(buf, len, "%d.%d", major, minor);
		return 0;
	}
	for (size_t i = 0; supported && supported[i]; i++)
		if (api_version_parse(supported[i], &major, &minor) == 0 &&
		    api_versions_has(ours, major, minor) && minor > best)
			best = minor;
	if (best < 0)
		return -1;
	snprintf(buf, len, "2.%d", best);
	return 0;
}

int api_path_split(const char *path, int *major, int *minor, const char **rest)
{
	const char *p;

	if (path[0] != '/' || path[1] != 'v')
		return 0;
	p = parse_num(path + 2, major);
	if (p == NULL || *p != '.')
		return 0;
	p = parse_num(p + 1, minor);
	if (p == NULL || (*p != '/' && *p != '\0'))
		return 0;
	*rest = p;
	return 1;
}

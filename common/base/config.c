/* config: INI configuration driven by a key table. */
#include "common/base/config.h"

#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"

struct config {
	const config_key_t *table; /* borrowed key table */
	size_t n;                  /* number of keys */
	char **values;             /* owned; one per key, NULL = unset */
	const char *file;          /* borrowed: file being parsed, for messages */
	int errors;                /* errors seen while parsing a file */
};

config_t *config_new(const config_key_t *table)
{
	config_t *c = xcalloc(1, sizeof(*c));

	c->table = table;
	while (table[c->n].section)
		c->n++;
	c->values = xcalloc(c->n, sizeof(char *));
	for (size_t i = 0; i < c->n; i++)
		if (table[i].def)
			c->values[i] = xstrdup(table[i].def);
	return c;
}

void config_free(config_t *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->values[i]);
	free(c->values);
	free(c);
}

int config_parse_bool(const char *v)
{
	static const char *yes[] = {"yes", "true", "on", "1"}, *no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return 1;
		if (strcasecmp(v, no[i]) == 0)
			return 0;
	}
	return -1;
}

static ssize_t config_find(const config_t *c, const char *section, const char *key)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->table[i].section, section) == 0 && strcmp(c->table[i].name, key) == 0)
			return (ssize_t)i;
	return -1;
}

static const char *config_validate(const config_key_t *k, const char *value)
{
	if (k->type == CFG_INT) {
		char *end;
		long v;

		errno = 0;
		v = strtol(value, &end, 10);
		if (errno || end == value || *end)
			return "not an integer";
		if (v < k->min || v > k->max)
			return "out of range";
	} else if (k->type == CFG_BOOL) {
		if (config_parse_bool(value) < 0)
			return "not a boolean (yes/no)";
	}
	return k->check ? k->check(value) : NULL;
}

int config_set(config_t *c, const char *section, const char *key, const char *value)
{
	ssize_t i = config_find(c, section, key);
	const char *err;

	if (i < 0) {
		log_warnx("config: unknown key %s.%s", section, key);
		return -1;
	}
	if ((err = config_validate(&c->table[i], value)) != NULL) {
		if (c->table[i].type == CFG_INT)
			log_warnx("config: %s.%s = \"%s\": %s (allowed %ld..%ld)", section, key,
			          value, err, c->table[i].min, c->table[i].max);
		else
			log_warnx("config: %s.%s = \"%s\": %s", section, key, value, err);
		return -1;
	}
	free(c->values[i]);
	c->values[i] = xstrdup(value);
	return 0;
}

static int config_ini_cb(void *arg, const char *section, const char *key, const char *value)
{
	config_t *c = arg;

	/* Debian's libinih is built without line numbers in callbacks. */
	if (config_set(c, section, key, value) < 0) {
		log_warnx("config: %s: [%s] %s: entry rejected", c->file, section, key);
		c->errors++;
	}
	return 1;
}

int config_load_file(config_t *c, const char *path)
{
	FILE *f = fopen(path, "r");
	int r;

	if (f == NULL) {
		log_warn("config: cannot open %s", path);
		return -1;
	}
	r = config_load_stream(c, f, path);
	fclose(f);
	return r;
}

int config_load_stream(config_t *c, FILE *f, const char *path)
{
	int r;

	c->file = path;
	c->errors = 0;
	r = ini_parse_file(f, config_ini_cb, c);
	if (r > 0) {
		log_warnx("config: %s:%d: syntax error", path, r);
		return -1;
	}
	if (r < 0) {
		log_warnx("config: %s: cannot parse", path);
		return -1;
	}
	return c->errors ? -1 : 0;
}

int config_set_override(config_t *c, const char *assignment)
{
	const char *dot = strchr(assignment, '.'), *eq = strchr(assignment, '=');
	int rv;

	if (dot == NULL || eq == NULL || dot > eq || dot == assignment || eq == dot + 1) {
		log_warnx("config: -o %s: expected section.key=value", assignment);
		return -1;
	}
	char *section = xstrndup(assignment, (size_t)(dot - assignment));
	char *key = xstrndup(dot + 1, (size_t)(eq - dot - 1));
	rv = config_set(c, section, key, eq + 1);
	free(section);
	free(key);
	return rv;
}

static size_t config_must_find(const config_t *c, const char *section, const char *key)
{
	ssize_t i = config_find(c, section, key);

	if (i < 0)
		fatalx("config: bug: key %s.%s is not in the table", section, key);
	return (size_t)i;
}

const char *config_str(const config_t *c, const char *section, const char *key)
{
	return c->values[config_must_find(c, section, key)];
}

long config_int(const config_t *c, const char *section, const char *key)
{
	const char *v = c->values[config_must_find(c, section, key)];

	return v ? strtol(v, NULL, 10) : 0;
}

int config_bool(const config_t *c, const char *section, const char *key)
{
	const char *v = c->values[config_must_find(c, section, key)];

	return v ? config_parse_bool(v) == 1 : 0;
}

static void config_write_comment(const char *text, FILE *out)
{
	/* Wrap help text at about 88 columns as "# " lines. */
	const char *p = text;

	while (*p) {
		size_t n = strlen(p), cut = n;

		if (n > 86) {
			cut = 86;
			while (cut > 0 && p[cut] != ' ')
				cut--;
			if (cut == 0)
				cut = 86;
		}
		fprintf(out, "# %.*s\n", (int)cut, p);
		p += cut;
		while (*p == ' ')
			p++;
	}
}

void config_write_sample(const config_key_t *table, const char *title, FILE *out)
{
	const char *section = NULL;

	/* title: the first comment lines, e.g. the program and how to override keys. */
	fprintf(out, "# %s\n# Every key with its default.\n", title);
	for (const config_key_t *k = table; k->section; k++) {
		if (section == NULL || strcmp(section, k->section) != 0) {
			section = k->section;
			fprintf(out, "\n[%s]\n", section);
		}
		fprintf(out, "\n");
		config_write_comment(k->help, out);
		if (k->type == CFG_INT)
			fprintf(out, "# Integer, %ld..%ld.\n", k->min, k->max);
		else if (k->type == CFG_BOOL)
			fprintf(out, "# yes or no.\n");
		if (k->def)
			fprintf(out, "%s = %s\n", k->name, k->def);
		else
			fprintf(out, "# %s =\n", k->name);
	}
}

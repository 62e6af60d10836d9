/* config: table-driven INI configuration (libinih). One table per daemon drives the
 * parser, `-n`, the sample config in deploy/config/ and the config tests. */
#ifndef VIGIL_CONFIG_H
#define VIGIL_CONFIG_H

#include <stdio.h>

typedef enum {
	CFG_STR,  /* any string (may be empty) */
	CFG_INT,  /* integer within [min, max] */
	CFG_BOOL, /* yes/no, true/false, on/off, 1/0 */
} cfg_type_t;

typedef struct config_key {
	const char *section; /* INI section, e.g. "agent" */
	const char *name;    /* key inside the section */
	cfg_type_t type;     /* value type */
	const char *def;     /* default as text (NULL: no default, may stay unset) */
	long min, max;       /* bounds for CFG_INT */
	const char *help;    /* one or more sentences for the sample config */
	/* Optional extra check: returns NULL when fine, else a static error text. */
	const char *(*check)(const char *value);
} config_key_t;

typedef struct config config_t;

/* A config holding the table's defaults. table is borrowed (static) and ends with
 * an entry whose section is NULL. */
config_t *config_new(const config_key_t *table);
void config_free(config_t *c);
/* Read an INI file; every unknown section/key or bad value is an error (logged with
 * file and line). 0 or -1. */
int config_load_file(config_t *c, const char *path);
/* The same from an open stream; path names it in messages (borrowed for the call). */
int config_load_stream(config_t *c, FILE *f, const char *path);
/* Apply "section.key=value" (the -o option). 0 or -1 (logged). */
int config_set_override(config_t *c, const char *assignment);
/* Set one key by name. 0 or -1 (logged). */
int config_set(config_t *c, const char *section, const char *key, const char *value);

/* Accessors; the key must be in the table (a bug otherwise: fatalx). Strings are
 * borrowed from the config; NULL when unset without a default. */
const char *config_str(const config_t *c, const char *section, const char *key);
long config_int(const config_t *c, const char *section, const char *key);
int config_bool(const config_t *c, const char *section, const char *key);

/* Write the sample config: every key with its help and its default. */
void config_write_sample(const config_key_t *table, const char *title, FILE *out);
/* Parse a boolean word; -1 when it is not one. */
int config_parse_bool(const char *v);

#endif

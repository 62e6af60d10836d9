/* Fuzz target: configuration files and -o overrides (common/config). The input is an INI
 * file for a table with every key type and a check function; each of its lines is also
 * tried as a -o override. Every value read back must be one the table allows. */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *check_word(const char *v)
{
	return strlen(v) > 16 ? "longer than 16" : NULL;
}

static const config_key_t keys[] = {
    {"s", "str", CFG_STR, "x", 0, 0, "a string", NULL},
    {"s", "word", CFG_STR, "w", 0, 0, "a checked string", check_word},
    {"s", "int", CFG_INT, "5", -3, 1000, "an integer", NULL},
    {"t", "bool", CFG_BOOL, "no", 0, 0, "a boolean", NULL},
    {"t", "unset", CFG_STR, NULL, 0, 0, "no default", NULL},
    {NULL, NULL, CFG_STR, NULL, 0, 0, NULL, NULL},
};

static void check_values(const config_t *c)
{
	long v = config_int(c, "s", "int");
	int b = config_bool(c, "t", "bool");

	if (v < -3 || v > 1000 || (b != 0 && b != 1) || strlen(config_str(c, "s", "word")) > 16)
		abort();
	(void)config_str(c, "s", "str");
	(void)config_str(c, "t", "unset");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	config_t *c = config_new(keys);
	FILE *f = size ? fmemopen((void *)(uintptr_t)data, size, "r") : NULL;
	char *copy = malloc(size + 1), *line, *save = NULL;

	if (f != NULL) {
		config_load_stream(c, f, "fuzz.conf");
		fclose(f);
	}
	check_values(c);
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		config_set_override(c, line);
	check_values(c);
	free(copy);
	config_free(c);
	return 0;
}

/* Fuzz target: the ZIP reader the agent runs on a decrypted secure payload (agent/unzip.c).
 * Any input must end in a clean accept or refusal within the limits; an accepted archive
 * hands out only names that are safe to create under a fresh folder, and a refused one
 * hands out nothing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/unzip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct tally {
	size_t n, bytes; /* entries and content bytes handed out */
	unsigned sum;    /* touches every byte, so a bad pointer shows under ASan */
} tally_t;

/* 1 when a component of name (split at '/', a folder's trailing '/' aside) is "", "."
 * or "..". */
static int bad_component(const char *name, int is_dir)
{
	size_t len = strlen(name) - (is_dir ? 1 : 0), start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && name[i] != '/')
			continue;
		if (i == start || (i - start == 1 && name[start] == '.') ||
		    (i - start == 2 && name[start] == '.' && name[start + 1] == '.'))
			return 1;
		start = i + 1;
	}
	return 0;
}

static int seen(void *arg, const unzip_entry_t *ent, err_t *e)
{
	tally_t *t = arg;

	(void)e;
	if (ent->name[0] == '\0' || ent->name[0] == '/' || strchr(ent->name, '\\') ||
	    bad_component(ent->name, ent->is_dir) || (ent->is_dir && ent->len != 0))
		abort();
	t->n++;
	t->bytes += ent->len;
	for (size_t i = 0; i < ent->len; i++)
		t->sum += ent->data[i];
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unzip_limits_t lim = {
	    .max_entries = 256, .max_entry = 1u << 20, .max_total = 4u << 20};
	tally_t t = {0, 0, 0};
	err_t e;

	(void)unzip_is_zip(data, size);
	if (unzip_read(data, size, &lim, seen, &t, &e) < 0) {
		if (t.n != 0)
			abort();
	} else if (t.n > lim.max_entries || t.bytes > lim.max_total) {
		abort();
	}
	return 0;
}

/* Fuzz target: 'vigilctl eventlog show' on whatever the event log parser accepts: the JSON
 * document with every event's decoder (UEFI variables and their signature lists, boot load
 * options, GPT headers, device paths, tagged events, no-action events) and its text
 * rendering. Nothing may crash, leak or read out of bounds; the JSON must serialise; the
 * text must hold nothing but printable ASCII and newlines, whatever bytes the log had. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "common/evidence/eventlog.h"
#include "ctl/eventlog_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	eventlog_t *log = eventlog_parse(data, size, NULL);
	json_t *doc;
	char *js, *text = NULL;
	size_t len = 0;
	FILE *m;

	if (log == NULL)
		return 0;
	doc = eventlog_json_doc(log);
	if (doc == NULL || (js = json_dumps(doc, JSON_COMPACT)) == NULL)
		abort();
	free(js);
	if ((m = open_memstream(&text, &len)) == NULL)
		abort();
	eventlog_json_print_text(m, log, doc);
	fclose(m);
	for (size_t i = 0; i < len; i++)
		if ((text[i] < 0x20 && text[i] != '\n') || (unsigned char)text[i] >= 0x7f)
			abort();
	free(text);
	json_decref(doc);
	eventlog_free(log);
	return 0;
}

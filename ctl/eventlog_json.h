/* eventlog_json: a parsed UEFI event log as 'vigilctl eventlog show' prints it: the JSON
 * document of --json, a stable interface documented in docs/policies.md ("Event log JSON";
 * keep it backward compatible), and the text rendering of that document, with every byte
 * from the log escaped. The per-event decoders read hostile bytes (UEFI variables and their
 * signature lists, boot load options, GPT headers, device paths, tagged events); they have
 * their own fuzz targets (test/fuzz/fuzz_ctl_*.c), which is why they live apart from the
 * command. */
#ifndef VIGIL_CTL_EVENTLOG_JSON_H
#define VIGIL_CTL_EVENTLOG_JSON_H

#include <stdio.h>

#include <jansson.h>

#include "common/base/err.h"
#include "common/evidence/eventlog.h"

#define EVENTLOG_JSON_VERSION 1 /* "version" of the document */

/* The whole document (caller json_decrefs it): format, spec_id, banks, startup locality,
 * every event with its digests, raw data and "decoded" object, and the replayed PCRs. */
json_t *eventlog_json_doc(const eventlog_t *log);
/* The "decoded" object of one event (caller json_decrefs it), or NULL: nothing to decode,
 * or malformed data with the reason in why. log may be NULL unless ev is its Spec ID
 * header. */
json_t *eventlog_json_event(const eventlog_t *log, const eventlog_event_t *ev, err_t *why);
/* The document as text on out: a summary, every event, the PCRs of each bank. */
void eventlog_json_print_text(FILE *out, const eventlog_t *log, json_t *doc);

#endif

/* Fuzz target: vigilctl's event-data decoders fed directly, so that every input reaches one
 * instead of first having to be a well-formed log. The first byte picks the event: its type
 * and, for UEFI variables, the variable (PK, db, dbx: signature lists; Boot####: a load
 * option with its device path; ...), whose contents are the rest of the input, wrapped here
 * in a UEFI_VARIABLE_DATA; or a GPT event, an image load event (its device path is the
 * rest), a firmware blob, tagged or no-action events, whose data is the rest as it is. The
 * rest also goes to the device path formatter and the signature-list walker on its own.
 * Nothing may crash, leak or read out of bounds, and every decoded object serialises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/base/buf.h"
#include "common/evidence/devpath.h"
#include "common/evidence/eventlog.h"
#include "ctl/eventlog_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define WRAP_NONE  0 /* the rest is the event data */
#define WRAP_VAR   1 /* the rest is a variable's contents */
#define WRAP_IMAGE 2 /* the rest is an image load event's device path */

static const struct {
	uint32_t type;    /* EV_* */
	const char *name; /* variable name (WRAP_VAR) */
	int wrap;         /* WRAP_* */
} kinds[] = {
    {EV_EFI_VARIABLE_DRIVER_CONFIG, "PK", WRAP_VAR},
    {EV_EFI_VARIABLE_DRIVER_CONFIG, "KEK", WRAP_VAR},
    {EV_EFI_VARIABLE_DRIVER_CONFIG, "db", WRAP_VAR},
    {EV_EFI_VARIABLE_DRIVER_CONFIG, "dbx", WRAP_VAR},
    {EV_EFI_VARIABLE_DRIVER_CONFIG, "SecureBoot", WRAP_VAR},
    {EV_EFI_VARIABLE_BOOT, "Boot0001", WRAP_VAR},
    {EV_EFI_VARIABLE_BOOT2, "Boot000A", WRAP_VAR},
    {EV_EFI_VARIABLE_BOOT, "BootOrder", WRAP_VAR},
    {EV_EFI_VARIABLE_AUTHORITY, "db", WRAP_VAR},
    {EV_EFI_VARIABLE_AUTHORITY, "SbatLevel", WRAP_VAR},
    {EV_EFI_VARIABLE_DRIVER_CONFIG, NULL, WRAP_NONE}, /* a whole UEFI_VARIABLE_DATA */
    {EV_EFI_GPT_EVENT, NULL, WRAP_NONE},
    {EV_EFI_BOOT_SERVICES_APPLICATION, NULL, WRAP_IMAGE},
    {EV_EFI_RUNTIME_SERVICES_DRIVER, NULL, WRAP_NONE}, /* a whole UEFI_IMAGE_LOAD_EVENT */
    {EV_EFI_PLATFORM_FIRMWARE_BLOB2, NULL, WRAP_NONE},
    {EV_EVENT_TAG, NULL, WRAP_NONE},
    {EV_NO_ACTION, NULL, WRAP_NONE},
    {EV_S_CRTM_VERSION, NULL, WRAP_NONE},
    {EV_POST_CODE, NULL, WRAP_NONE},
    {EV_IPL, NULL, WRAP_NONE},
    {EV_SEPARATOR, NULL, WRAP_NONE},
};

static void put64(buf_t *b, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		uint8_t c = (uint8_t)(v >> (8 * i));
		buf_append(b, &c, 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	buf_t ev_data = BUF_INIT, t = BUF_INIT;
	eventlog_event_t ev;
	eventlog_siglist_t l;
	err_t why = {""};
	const uint8_t *rest, *p;
	size_t n, left;
	json_t *o;

	if (size < 1)
		return 0;
	size_t k = data[0] % (sizeof(kinds) / sizeof(kinds[0]));
	rest = data + 1;
	n = size - 1;
	if (kinds[k].wrap == WRAP_VAR) {
		size_t nl = strlen(kinds[k].name);
		buf_append(&ev_data, EVENTLOG_GUID_EFI_GLOBAL, 16);
		put64(&ev_data, nl);
		put64(&ev_data, n);
		for (size_t i = 0; i < nl; i++) {
			uint8_t u[2] = {(uint8_t)kinds[k].name[i], 0};
			buf_append(&ev_data, u, 2);
		}
		buf_append(&ev_data, rest, n);
	} else if (kinds[k].wrap == WRAP_IMAGE) {
		put64(&ev_data, 0x1000);
		put64(&ev_data, 0x2000);
		put64(&ev_data, 0);
		put64(&ev_data, n);
		buf_append(&ev_data, rest, n);
	} else {
		buf_append(&ev_data, rest, n);
	}
	memset(&ev, 0, sizeof(ev));
	ev.type = kinds[k].type;
	ev.data = ev_data.len ? ev_data.data : NULL;
	ev.data_len = (uint32_t)ev_data.len;
	if ((o = eventlog_json_event(NULL, &ev, &why)) != NULL) {
		char *s = json_dumps(o, JSON_COMPACT);
		if (s == NULL)
			abort();
		free(s);
		json_decref(o);
	}
	/* The same bytes to the two walkers on their own. */
	(void)eventlog_devpath_format(rest, n, &t, NULL);
	p = rest;
	left = n;
	while (eventlog_siglist_next(&p, &left, &l, NULL) == 1)
		if (l.count) {
			/* The last byte of the list's last signature must be inside the input. */
			volatile uint8_t last =
			    l.sigs[(size_t)(l.count - 1) * l.sig_size + l.sig_size - 1];
			(void)last;
		}
	buf_free(&t);
	buf_free(&ev_data);
	return 0;
}

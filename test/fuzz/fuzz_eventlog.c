/* Fuzz target: the UEFI event log parser, its replay and every event-data decoder, and
 * refstate creation from whatever parsed. Nothing may crash, leak or read out of bounds,
 * and what parses must be self-consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/buf.h"
#include "common/evidence/devpath.h"
#include "common/evidence/eventlog.h"
#include "common/policy/mb_policy_gen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode_all(const eventlog_event_t *ev)
{
	eventlog_efi_var_t v;
	eventlog_image_load_t im;
	eventlog_siglist_t l;
	buf_t t = BUF_INIT;
	uint64_t base, len;
	const uint8_t *s;
	size_t n;
	uint8_t loc;

	if (eventlog_efi_var_decode(ev, &v, NULL) == 0) {
		const uint8_t *p = v.data;
		size_t left = v.data_len;
		if (strlen(v.name) > EVENTLOG_VAR_NAME_MAX * 3)
			abort();
		while (eventlog_siglist_next(&p, &left, &l, NULL) == 1)
			for (uint32_t i = 0; i < l.count; i++)
				(void)l.sigs[(size_t)i * l.sig_size + l.sig_size - 1];
	}
	if (eventlog_image_load_decode(ev, &im, NULL) == 0)
		(void)eventlog_devpath_format(im.devpath, im.devpath_len, &t, NULL);
	/* Every event's data as a device path and as UCS-2, too: any bytes are input. */
	(void)eventlog_devpath_format(ev->data, ev->data_len, &t, NULL);
	(void)eventlog_ucs2_to_utf8(ev->data, ev->data_len & ~(size_t)1, &t);
	(void)eventlog_fw_blob_decode(ev, &base, &len, &t, NULL);
	if (eventlog_event_string(ev, &s, &n) == 0 && n > ev->data_len)
		abort();
	(void)eventlog_startup_locality_event(ev, &loc);
	buf_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	eventlog_t *log = eventlog_parse(data, size, NULL);
	buf_t out = BUF_INIT;
	uint8_t agg[EVENTLOG_MAX_DIGEST];
	size_t alen;

	if (log == NULL)
		return 0;
	for (size_t i = 0; i < eventlog_count(log); i++) {
		const eventlog_event_t *ev = eventlog_event(log, i);
		if (ev->index != i)
			abort();
		decode_all(ev);
	}
	for (size_t b = 0; b < eventlog_bank_count(log); b++) {
		const eventlog_bank_t *bk = eventlog_bank(log, b);
		for (unsigned p = 0; p < EVENTLOG_NUM_PCRS; p++) {
			const uint8_t *v;
			size_t vl;
			if (eventlog_pcr_value(log, bk->alg, p, &v, &vl) == 0 &&
			    eventlog_check_pcr(log, bk->alg, p, v, vl, NULL) != 0)
				abort();
		}
		(void)eventlog_boot_aggregate(log, bk->alg, 10, agg, &alen);
	}
	(void)mb_policy_create(log, 1, &out, NULL);
	buf_free(&out);
	eventlog_free(log);
	return 0;
}

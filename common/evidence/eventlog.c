/* eventlog: parse, replay and decode a TCG PC Client UEFI event log. See eventlog.h. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/evidence/eventlog.h"
#include "common/base/bytes.h"
#include "common/base/xmalloc.h"
#include "common/crypto/tpm2.h"

struct eventlog {
	uint8_t *raw;                              /* our copy of the log */
	size_t raw_len;                            /* its length */
	eventlog_format_t format;                  /* SHA-1 or crypto-agile */
	eventlog_event_t *events;                  /* parsed events */
	size_t nevents;                            /* used entries in events */
	size_t events_cap;                         /* allocated entries in events */
	eventlog_digest_t *digests;                /* every event's digests, in order */
	size_t ndigests;                           /* used entries in digests */
	size_t digests_cap;                        /* allocated entries in digests */
	size_t *first_digest;                      /* per event: index into digests */
	eventlog_bank_t banks[EVENTLOG_MAX_BANKS]; /* declared banks */
	size_t nbanks;                             /* used entries in banks */
	int has_spec_id;                           /* crypto-agile header present */
	eventlog_spec_id_t spec_id;                /* its fields (vendor borrowed from raw) */
	unsigned locality;                         /* PCR 0's starting locality, 0 when none */
	int locality_seen;                         /* a StartupLocality event was replayed */
	int hcrtm;                                 /* an H-CRTM sequence started PCR 0 at 4 */
	uint8_t pcrs[EVENTLOG_MAX_BANKS][EVENTLOG_NUM_PCRS][EVENTLOG_MAX_DIGEST]; /* replayed */
	uint32_t extended[EVENTLOG_MAX_BANKS]; /* bit i: PCR i was extended */
};

const uint8_t EVENTLOG_GUID_EFI_GLOBAL[16] = {0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
                                              0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c};
const uint8_t EVENTLOG_GUID_IMAGE_SECURITY[16] = {0xcb, 0xb2, 0x19, 0xd7, 0x3a, 0x3d, 0x96, 0x45,
                                                  0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f};
const uint8_t EVENTLOG_GUID_SHIM_LOCK[16] = {0x50, 0xab, 0x5d, 0x60, 0x46, 0xe0, 0x00, 0x43,
                                             0xab, 0xb6, 0x3d, 0xd8, 0x10, 0xdd, 0x8b, 0x23};
const uint8_t EVENTLOG_GUID_CERT_X509[16] = {0xa1, 0x59, 0xc0, 0xa5, 0xe4, 0x94, 0xa7, 0x4a,
                                             0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72};
const uint8_t EVENTLOG_GUID_CERT_SHA256[16] = {0x26, 0x16, 0xc4, 0xc1, 0x4c, 0x50, 0x92, 0x40,
                                               0xac, 0xa9, 0x41, 0xf9, 0x36, 0x93, 0x43, 0x28};

static const uint8_t spec_id_03[16] = "Spec ID Event03";
static const uint8_t spec_id_02[16] = "Spec ID Event02";
static const uint8_t spec_id_00[16] = "Spec ID Event00";
static const uint8_t startup_locality_sig[16] = "StartupLocality";

/* ---- names ---- */

static const struct {
	uint32_t type;    /* EV_* value */
	const char *name; /* its spec name */
} event_types[] = {
    {EV_PREBOOT_CERT, "EV_PREBOOT_CERT"},
    {EV_POST_CODE, "EV_POST_CODE"},
    {EV_UNUSED, "EV_UNUSED"},
    {EV_NO_ACTION, "EV_NO_ACTION"},
    {EV_SEPARATOR, "EV_SEPARATOR"},
    {EV_ACTION, "EV_ACTION"},
    {EV_EVENT_TAG, "EV_EVENT_TAG"},
    {EV_S_CRTM_CONTENTS, "EV_S_CRTM_CONTENTS"},
    {EV_S_CRTM_VERSION, "EV_S_CRTM_VERSION"},
    {EV_CPU_MICROCODE, "EV_CPU_MICROCODE"},
    {EV_PLATFORM_CONFIG_FLAGS, "EV_PLATFORM_CONFIG_FLAGS"},
    {EV_TABLE_OF_DEVICES, "EV_TABLE_OF_DEVICES"},
    {EV_COMPACT_HASH, "EV_COMPACT_HASH"},
    {EV_IPL, "EV_IPL"},
    {EV_IPL_PARTITION_DATA, "EV_IPL_PARTITION_DATA"},
    {EV_NONHOST_CODE, "EV_NONHOST_CODE"},
    {EV_NONHOST_CONFIG, "EV_NONHOST_CONFIG"},
    {EV_NONHOST_INFO, "EV_NONHOST_INFO"},
    {EV_OMIT_BOOT_DEVICE_EVENTS, "EV_OMIT_BOOT_DEVICE_EVENTS"},
    {EV_POST_CODE2, "EV_POST_CODE2"},
    {EV_EFI_EVENT_BASE, "EV_EFI_EVENT_BASE"},
    {EV_EFI_VARIABLE_DRIVER_CONFIG, "EV_EFI_VARIABLE_DRIVER_CONFIG"},
    {EV_EFI_VARIABLE_BOOT, "EV_EFI_VARIABLE_BOOT"},
    {EV_EFI_BOOT_SERVICES_APPLICATION, "EV_EFI_BOOT_SERVICES_APPLICATION"},
    {EV_EFI_BOOT_SERVICES_DRIVER, "EV_EFI_BOOT_SERVICES_DRIVER"},
    {EV_EFI_RUNTIME_SERVICES_DRIVER, "EV_EFI_RUNTIME_SERVICES_DRIVER"},
    {EV_EFI_GPT_EVENT, "EV_EFI_GPT_EVENT"},
    {EV_EFI_ACTION, "EV_EFI_ACTION"},
    {EV_EFI_PLATFORM_FIRMWARE_BLOB, "EV_EFI_PLATFORM_FIRMWARE_BLOB"},
    {EV_EFI_HANDOFF_TABLES, "EV_EFI_HANDOFF_TABLES"},
    {EV_EFI_PLATFORM_FIRMWARE_BLOB2, "EV_EFI_PLATFORM_FIRMWARE_BLOB2"},
    {EV_EFI_HANDOFF_TABLES2, "EV_EFI_HANDOFF_TABLES2"},
    {EV_EFI_VARIABLE_BOOT2, "EV_EFI_VARIABLE_BOOT2"},
    {EV_EFI_GPT_EVENT2, "EV_EFI_GPT_EVENT2"},
    {EV_EFI_HCRTM_EVENT, "EV_EFI_HCRTM_EVENT"},
    {EV_EFI_VARIABLE_AUTHORITY, "EV_EFI_VARIABLE_AUTHORITY"},
    {EV_EFI_SPDM_FIRMWARE_BLOB, "EV_EFI_SPDM_FIRMWARE_BLOB"},
    {EV_EFI_SPDM_FIRMWARE_CONFIG, "EV_EFI_SPDM_FIRMWARE_CONFIG"},
    {EV_EFI_SPDM_DEVICE_POLICY, "EV_EFI_SPDM_DEVICE_POLICY"},
    {EV_EFI_SPDM_DEVICE_AUTHORITY, "EV_EFI_SPDM_DEVICE_AUTHORITY"},
};

const char *eventlog_type_name(uint32_t type)
{
	for (size_t i = 0; i < sizeof(event_types) / sizeof(event_types[0]); i++)
		if (event_types[i].type == type)
			return event_types[i].name;
	return NULL;
}

/* Algorithms come from common/tpm2's table, all of it: a log may carry SM3 or SHA-3 banks,
 * which we name and replay though no quote check uses them. */
const char *eventlog_alg_name(uint16_t alg)
{
	const tpm2_hash_alg_t *h = tpm2_hash_alg(alg);
	return h == NULL ? NULL : h->name;
}

int eventlog_alg_from_name(const char *name, uint16_t *alg)
{
	const tpm2_hash_alg_t *h = tpm2_hash_alg_by_name(name);

	if (h == NULL)
		return -1;
	*alg = h->alg;
	return 0;
}

/* ---- little-endian readers over a bounded buffer ---- */

/* ---- parsing ---- */

/* Context for one parse: where we are, for error messages. */
typedef struct parse {
	eventlog_t *log; /* being filled */
	size_t off;      /* current offset in log->raw */
	uint32_t index;  /* index of the event being read */
	size_t start;    /* offset of that event's header */
	err_t *e;        /* caller's error */
} parse_t;

#define PERR(ps, ...)                                                                              \
	do {                                                                                       \
		char why_[200];                                                                    \
		snprintf(why_, sizeof(why_), __VA_ARGS__);                                         \
		err_set((ps)->e, "event %u at offset %zu: %s", (ps)->index, (ps)->start, why_);    \
	} while (0)

static size_t left(const parse_t *ps)
{
	return ps->log->raw_len - ps->off;
}

/* Take n bytes or fail naming what was being read. */
static const uint8_t *take(parse_t *ps, size_t n, const char *what)
{
	const uint8_t *p;
	if (n > left(ps)) {
		PERR(ps, "log truncated in %s (%zu bytes needed, %zu left)", what, n, left(ps));
		return NULL;
	}
	p = ps->log->raw + ps->off;
	ps->off += n;
	return p;
}

static eventlog_event_t *event_add(parse_t *ps)
{
	eventlog_t *log = ps->log;
	if (log->nevents >= EVENTLOG_MAX_EVENTS) {
		PERR(ps, "more than %u events", EVENTLOG_MAX_EVENTS);
		return NULL;
	}
	if (log->nevents == log->events_cap) {
		log->events_cap = log->events_cap ? log->events_cap * 2 : 64;
		log->events = xrealloc(log->events, log->events_cap * sizeof(*log->events));
		log->first_digest =
		    xrealloc(log->first_digest, log->events_cap * sizeof(*log->first_digest));
	}
	eventlog_event_t *ev = &log->events[log->nevents];
	memset(ev, 0, sizeof(*ev));
	ev->index = ps->index;
	ev->offset = ps->start;
	log->first_digest[log->nevents] = log->ndigests;
	log->nevents++;
	return ev;
}

static void digest_add(eventlog_t *log, uint16_t alg, uint16_t len, const uint8_t *bytes)
{
	if (log->ndigests == log->digests_cap) {
		log->digests_cap = log->digests_cap ? log->digests_cap * 2 : 128;
		log->digests = xrealloc(log->digests, log->digests_cap * sizeof(*log->digests));
	}
	log->digests[log->ndigests].alg = alg;
	log->digests[log->ndigests].len = len;
	log->digests[log->ndigests].bytes = bytes;
	log->ndigests++;
}

/* Event data: u32 size then the bytes. */
static int read_data(parse_t *ps, eventlog_event_t *ev)
{
	const uint8_t *p = take(ps, 4, "the event data size");
	if (p == NULL)
		return -1;
	uint32_t n = bytes_le32(p);
	if (n > left(ps)) {
		PERR(ps, "event data size %u exceeds the %zu bytes left", n, left(ps));
		return -1;
	}
	ev->data_len = n;
	ev->data = n ? ps->log->raw + ps->off : NULL;
	ps->off += n;
	return 0;
}

/* EV_NO_ACTION events are never extended, and Windows logs them with PCR index
 * 0xffffffff; every other event must name a real PCR. */
static int check_pcr_index(parse_t *ps, uint32_t pcr, uint32_t type)
{
	if (pcr >= EVENTLOG_NUM_PCRS && !(type == EV_NO_ACTION && pcr == 0xffffffffu)) {
		PERR(ps, "PCR index %u out of range (0-%u)", pcr, EVENTLOG_NUM_PCRS - 1);
		return -1;
	}
	return 0;
}

/* TCG_PCR_EVENT: pcr, type, SHA-1 digest, data. */
static int read_legacy_event(parse_t *ps, eventlog_event_t **out)
{
	const uint8_t *h = take(ps, 28, "the event header");
	if (h == NULL)
		return -1;
	uint32_t pcr = bytes_le32(h), type = bytes_le32(h + 4);
	if (check_pcr_index(ps, pcr, type) < 0)
		return -1;
	eventlog_event_t *ev = event_add(ps);
	if (ev == NULL)
		return -1;
	ev->pcr = pcr;
	ev->type = type;
	ev->ndigests = 1;
	digest_add(ps->log, EVENTLOG_ALG_SHA1, 20, h + 8);
	if (read_data(ps, ev) < 0)
		return -1;
	*out = ev;
	return 0;
}

/* TCG_PCR_EVENT2: pcr, type, TPML_DIGEST_VALUES (one per declared bank), data. */
static int read_agile_event(parse_t *ps)
{
	eventlog_t *log = ps->log;
	const uint8_t *h = take(ps, 12, "the event header");
	if (h == NULL)
		return -1;
	uint32_t pcr = bytes_le32(h), type = bytes_le32(h + 4), count = bytes_le32(h + 8);
	if (check_pcr_index(ps, pcr, type) < 0)
		return -1;
	if (count != log->nbanks) {
		PERR(ps, "%u digests, but the Spec ID event declares %zu banks", count,
		     log->nbanks);
		return -1;
	}
	eventlog_event_t *ev = event_add(ps);
	if (ev == NULL)
		return -1;
	ev->pcr = pcr;
	ev->type = type;
	ev->ndigests = count;
	uint32_t seen = 0;
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *a = take(ps, 2, "a digest algorithm");
		if (a == NULL)
			return -1;
		uint16_t alg = bytes_le16(a);
		size_t b;
		for (b = 0; b < log->nbanks; b++)
			if (log->banks[b].alg == alg)
				break;
		if (b == log->nbanks) {
			PERR(ps, "digest algorithm 0x%04x is not declared in the Spec ID event",
			     alg);
			return -1;
		}
		if (seen & (1u << b)) {
			PERR(ps, "two digests for algorithm 0x%04x", alg);
			return -1;
		}
		seen |= 1u << b;
		const uint8_t *d = take(ps, log->banks[b].size, "a digest");
		if (d == NULL)
			return -1;
		digest_add(log, alg, log->banks[b].size, d);
	}
	return read_data(ps, ev);
}

/* The Spec ID Event03 structure in the first event's data: declares the banks. */
static int read_spec_id(parse_t *ps, const eventlog_event_t *ev)
{
	eventlog_t *log = ps->log;
	const uint8_t *p = ev->data;
	size_t n = ev->data_len, off = 16;

	if (ev->pcr != 0) {
		PERR(ps, "the Spec ID event must be for PCR 0, not %u", ev->pcr);
		return -1;
	}
	for (size_t i = 0; i < 20; i++)
		if (log->digests[0].bytes[i] != 0) {
			PERR(ps, "the Spec ID event's digest must be zero");
			return -1;
		}
	if (n < 16 + 8 + 4) {
		PERR(ps, "Spec ID event too short (%zu bytes)", n);
		return -1;
	}
	log->spec_id.platform_class = bytes_le32(p + off);
	log->spec_id.version_minor = p[off + 4];
	log->spec_id.version_major = p[off + 5];
	log->spec_id.errata = p[off + 6];
	log->spec_id.uintn_size = p[off + 7];
	uint32_t nalgs = bytes_le32(p + off + 8);
	off += 12;
	if (nalgs == 0 || nalgs > EVENTLOG_MAX_BANKS) {
		PERR(ps, "Spec ID event declares %u algorithms (1-%u allowed)", nalgs,
		     EVENTLOG_MAX_BANKS);
		return -1;
	}
	if ((size_t)nalgs * 4 + 1 > n - off) {
		PERR(ps, "Spec ID event too short for its %u algorithms", nalgs);
		return -1;
	}
	for (uint32_t i = 0; i < nalgs; i++, off += 4) {
		uint16_t alg = bytes_le16(p + off), size = bytes_le16(p + off + 2);
		const tpm2_hash_alg_t *k = tpm2_hash_alg(alg);
		if (size == 0 || size > EVENTLOG_MAX_DIGEST) {
			PERR(ps, "Spec ID event: digest size %u for algorithm 0x%04x", size, alg);
			return -1;
		}
		if (k != NULL && k->size != size) {
			PERR(ps, "Spec ID event: %s digests are %zu bytes, not %u", k->name,
			     k->size, size);
			return -1;
		}
		for (size_t b = 0; b < log->nbanks; b++)
			if (log->banks[b].alg == alg) {
				PERR(ps, "Spec ID event lists algorithm 0x%04x twice", alg);
				return -1;
			}
		log->banks[log->nbanks].alg = alg;
		log->banks[log->nbanks].size = size;
		log->nbanks++;
	}
	uint8_t vlen = p[off++];
	if ((size_t)vlen != n - off) {
		PERR(ps, "Spec ID event: vendor info of %u bytes, but %zu bytes remain", vlen,
		     n - off);
		return -1;
	}
	log->spec_id.vendor = vlen ? p + off : NULL;
	log->spec_id.vendor_len = vlen;
	log->has_spec_id = 1;
	return 0;
}

int eventlog_startup_locality_event(const eventlog_event_t *ev, uint8_t *locality)
{
	if (ev->type != EV_NO_ACTION || ev->data_len != 17 ||
	    memcmp(ev->data, startup_locality_sig, 16) != 0)
		return 0;
	*locality = ev->data[16];
	return 1;
}

/* ---- replay ---- */

/* An H-CRTM measures itself with _TPM_Hash_Start/_TPM_Hash_End before any software runs,
 * and the TPM sets PCR 0 to 4 (locality 4) before extending that measurement (TPM 2.0
 * library spec, Part 1, section 34.3); the log shows it as an EV_EFI_HCRTM_EVENT, which
 * must therefore be the first measurement into PCR 0. A StartupLocality event says where
 * PCR 0 started in its own words: one saying 4 agrees, any other contradicts the H-CRTM
 * and the log is refused rather than replayed to a value no TPM can hold. */
static int start_hcrtm(eventlog_t *log, const eventlog_event_t *ev, err_t *e)
{
	if (ev->pcr != 0) {
		err_set(e, "event %u at offset %zu: EV_EFI_HCRTM_EVENT must be for PCR 0, not %u",
		        ev->index, ev->offset, ev->pcr);
		return -1;
	}
	if (log->hcrtm || (log->extended[0] & 1)) {
		err_set(e,
		        "event %u at offset %zu: EV_EFI_HCRTM_EVENT must come once, before any "
		        "other measurement into PCR 0",
		        ev->index, ev->offset);
		return -1;
	}
	if (log->locality_seen && log->locality != 4) {
		err_set(e,
		        "event %u at offset %zu: EV_EFI_HCRTM_EVENT after a StartupLocality of %u "
		        "(an H-CRTM starts PCR 0 at locality 4)",
		        ev->index, ev->offset, log->locality);
		return -1;
	}
	log->hcrtm = 1;
	log->locality = 4;
	for (size_t b = 0; b < log->nbanks; b++) {
		memset(log->pcrs[b][0], 0, EVENTLOG_MAX_DIGEST);
		log->pcrs[b][0][log->banks[b].size - 1] = 4;
	}
	return 0;
}

static int replay(eventlog_t *log, err_t *e)
{
	const EVP_MD *md[EVENTLOG_MAX_BANKS] = {0};
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rv = -1;

	if (ctx == NULL) {
		err_set_ssl(e, "EVP_MD_CTX_new");
		return -1;
	}
	for (size_t b = 0; b < log->nbanks; b++) {
		md[b] = tpm2_hash_alg_fetched(log->banks[b].alg);
		log->banks[b].replayable = md[b] != NULL;
		for (unsigned i = 0; i < EVENTLOG_NUM_PCRS; i++)
			memset(log->pcrs[b][i], (i >= 17 && i <= 22) ? 0xff : 0x00,
			       EVENTLOG_MAX_DIGEST);
	}
	for (size_t i = 0; i < log->nevents; i++) {
		const eventlog_event_t *ev = &log->events[i];
		uint8_t loc;
		if (ev->type == EV_NO_ACTION) {
			if (!eventlog_startup_locality_event(ev, &loc))
				continue;
			if (ev->pcr != 0 || log->locality_seen || (log->extended[0] & 1)) {
				err_set(e,
				        "event %u at offset %zu: StartupLocality must come once, "
				        "for PCR 0, before any measurement into PCR 0",
				        ev->index, ev->offset);
				goto out;
			}
			if (loc > 4) {
				err_set(e, "event %u at offset %zu: StartupLocality %u is not 0-4",
				        ev->index, ev->offset, loc);
				goto out;
			}
			log->locality = loc;
			log->locality_seen = 1;
			for (size_t b = 0; b < log->nbanks; b++)
				log->pcrs[b][0][log->banks[b].size - 1] = loc;
			continue;
		}
		if (ev->type == EV_EFI_HCRTM_EVENT && start_hcrtm(log, ev, e) < 0)
			goto out;
		for (uint32_t d = 0; d < ev->ndigests; d++) {
			const eventlog_digest_t *dg = &ev->digests[d];
			size_t b;
			for (b = 0; b < log->nbanks; b++)
				if (log->banks[b].alg == dg->alg)
					break;
			log->extended[b] |= 1u << ev->pcr;
			if (md[b] == NULL)
				continue;
			uint8_t *pcr = log->pcrs[b][ev->pcr];
			unsigned outlen = 0;
			if (!EVP_DigestInit_ex(ctx, md[b], NULL) ||
			    !EVP_DigestUpdate(ctx, pcr, log->banks[b].size) ||
			    !EVP_DigestUpdate(ctx, dg->bytes, dg->len) ||
			    !EVP_DigestFinal_ex(ctx, pcr, &outlen) ||
			    outlen != log->banks[b].size) {
				err_set_ssl(e, "replay: extending PCR %u", ev->pcr);
				goto out;
			}
		}
	}
	rv = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rv;
}

eventlog_t *eventlog_parse(const void *data, size_t len, err_t *e)
{
	eventlog_t *log = NULL;
	parse_t ps;
	eventlog_event_t *first;

	if (len == 0) {
		err_set(e, "the event log is empty");
		return NULL;
	}
	if (len > EVENTLOG_MAX_SIZE) {
		err_set(e, "the event log is %zu bytes, more than the %u allowed", len,
		        EVENTLOG_MAX_SIZE);
		return NULL;
	}
	log = xcalloc(1, sizeof(*log));
	log->raw = xmemdup(data, len);
	log->raw_len = len;
	memset(&ps, 0, sizeof(ps));
	ps.log = log;
	ps.e = e;

	/* The first event is always a TCG_PCR_EVENT; its contents say which layout follows. */
	if (read_legacy_event(&ps, &first) < 0)
		goto fail;
	if (first->type == EV_NO_ACTION) {
		if (first->data_len >= 16 && memcmp(first->data, spec_id_03, 16) == 0) {
			log->format = EVENTLOG_FORMAT_CRYPTO_AGILE;
			first->is_header = 1;
			if (read_spec_id(&ps, first) < 0)
				goto fail;
		} else if (first->data_len >= 16 && (memcmp(first->data, spec_id_02, 16) == 0 ||
		                                     memcmp(first->data, spec_id_00, 16) == 0)) {
			first->is_header = 1; /* TPM 1.2 EFI header: the log stays SHA-1 */
		} else {
			PERR(&ps, "the log starts with an EV_NO_ACTION event that is not a Spec ID "
			          "event (truncated log, or not a TCG event log)");
			goto fail;
		}
	}
	if (log->format != EVENTLOG_FORMAT_CRYPTO_AGILE) {
		log->format = EVENTLOG_FORMAT_SHA1;
		log->banks[0].alg = EVENTLOG_ALG_SHA1;
		log->banks[0].size = 20;
		log->nbanks = 1;
	}
	while (ps.off < len) {
		ps.index++;
		ps.start = ps.off;
		eventlog_event_t *ev;
		if (log->format == EVENTLOG_FORMAT_CRYPTO_AGILE) {
			if (read_agile_event(&ps) < 0)
				goto fail;
		} else if (read_legacy_event(&ps, &ev) < 0) {
			goto fail;
		}
	}
	/* The digest array has stopped moving: point every event at its digests. */
	for (size_t i = 0; i < log->nevents; i++)
		log->events[i].digests = log->digests + log->first_digest[i];
	if (replay(log, e) < 0)
		goto fail;
	return log;
fail:
	eventlog_free(log);
	return NULL;
}

void eventlog_free(eventlog_t *log)
{
	if (log == NULL)
		return;
	free(log->raw);
	free(log->events);
	free(log->digests);
	free(log->first_digest);
	free(log);
}

eventlog_format_t eventlog_format(const eventlog_t *log)
{
	return log->format;
}

size_t eventlog_count(const eventlog_t *log)
{
	return log->nevents;
}

const eventlog_event_t *eventlog_event(const eventlog_t *log, size_t i)
{
	return i < log->nevents ? &log->events[i] : NULL;
}

size_t eventlog_bank_count(const eventlog_t *log)
{
	return log->nbanks;
}

const eventlog_bank_t *eventlog_bank(const eventlog_t *log, size_t i)
{
	return i < log->nbanks ? &log->banks[i] : NULL;
}

unsigned eventlog_startup_locality(const eventlog_t *log)
{
	return log->locality;
}

int eventlog_is_hcrtm(const eventlog_t *log)
{
	return log->hcrtm;
}

const uint8_t *eventlog_raw(const eventlog_t *log, size_t *len)
{
	*len = log->raw_len;
	return log->raw;
}

int eventlog_spec_id(const eventlog_t *log, eventlog_spec_id_t *out)
{
	if (!log->has_spec_id)
		return -1;
	*out = log->spec_id;
	return 0;
}

static int bank_index(const eventlog_t *log, uint16_t alg)
{
	for (size_t b = 0; b < log->nbanks; b++)
		if (log->banks[b].alg == alg)
			return (int)b;
	return -1;
}

int eventlog_pcr_value(const eventlog_t *log, uint16_t alg, unsigned pcr, const uint8_t **value,
                       size_t *len)
{
	int b = bank_index(log, alg);
	if (b < 0 || !log->banks[b].replayable || pcr >= EVENTLOG_NUM_PCRS)
		return -1;
	*value = log->pcrs[b][pcr];
	*len = log->banks[b].size;
	return 0;
}

uint32_t eventlog_pcrs_extended(const eventlog_t *log, uint16_t alg)
{
	int b = bank_index(log, alg);
	return b < 0 ? 0 : log->extended[b];
}

int eventlog_check_pcr(const eventlog_t *log, uint16_t alg, unsigned pcr, const uint8_t *quoted,
                       size_t len, err_t *e)
{
	const uint8_t *v;
	size_t vlen;
	const char *name = eventlog_alg_name(alg);
	char algbuf[16];

	if (name == NULL) {
		snprintf(algbuf, sizeof(algbuf), "0x%04x", alg);
		name = algbuf;
	}
	if (eventlog_pcr_value(log, alg, pcr, &v, &vlen) < 0) {
		err_set(e, "PCR %u (%s): the event log has no replayable %s bank", pcr, name, name);
		return -1;
	}
	if (len != vlen) {
		err_set(e, "PCR %u (%s): the quote has %zu bytes, a %s PCR has %zu", pcr, name, len,
		        name, vlen);
		return -1;
	}
	if (memcmp(v, quoted, len) != 0) {
		buf_t a = BUF_INIT, q = BUF_INIT;
		hex_encode(&a, v, vlen);
		hex_encode(&q, quoted, len);
		err_set(e, "PCR %u (%s): the event log replays to %.64s, the quote has %.64s", pcr,
		        name, (char *)a.data, (char *)q.data);
		buf_free(&a);
		buf_free(&q);
		return -1;
	}
	return 0;
}

int eventlog_boot_aggregate(const eventlog_t *log, uint16_t alg, unsigned npcrs, uint8_t *out,
                            size_t *outlen)
{
	int b = bank_index(log, alg), rv = -1;
	unsigned n = 0;
	const EVP_MD *md = tpm2_hash_alg_fetched(alg);
	EVP_MD_CTX *ctx = NULL;

	if (b < 0 || md == NULL || !log->banks[b].replayable || npcrs > EVENTLOG_NUM_PCRS)
		return -1;
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || !EVP_DigestInit_ex(ctx, md, NULL))
		goto out;
	for (unsigned i = 0; i < npcrs; i++)
		if (!EVP_DigestUpdate(ctx, log->pcrs[b][i], log->banks[b].size))
			goto out;
	if (!EVP_DigestFinal_ex(ctx, out, &n))
		goto out;
	*outlen = n;
	rv = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rv;
}

const eventlog_digest_t *eventlog_event_digest(const eventlog_event_t *ev, uint16_t alg)
{
	for (uint32_t i = 0; i < ev->ndigests; i++)
		if (ev->digests[i].alg == alg)
			return &ev->digests[i];
	return NULL;
}

/* ---- decoders ---- */

void eventlog_guid_format(const uint8_t g[16], char out[37])
{
	snprintf(out, 37, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", bytes_le32(g),
	         bytes_le16(g + 4), bytes_le16(g + 6), g[8], g[9], g[10], g[11], g[12], g[13],
	         g[14], g[15]);
}

int eventlog_guid_parse(const char *s, uint8_t g[16])
{
	uint8_t b[16];
	size_t k = 0;

	if (strlen(s) != 36)
		return -1;
	for (size_t i = 0; i < 36;) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -1;
			i++;
			continue;
		}
		int hi = hex_digit_value(s[i]), lo = hex_digit_value(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		b[k++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	/* Text order is big-endian per field; the first three fields are stored little-endian. */
	g[0] = b[3], g[1] = b[2], g[2] = b[1], g[3] = b[0];
	g[4] = b[5], g[5] = b[4];
	g[6] = b[7], g[7] = b[6];
	memcpy(g + 8, b + 8, 8);
	return 0;
}

static void utf8_put(buf_t *out, uint32_t c)
{
	uint8_t u[4];
	size_t n;
	if (c < 0x80) {
		u[0] = (uint8_t)c;
		n = 1;
	} else if (c < 0x800) {
		u[0] = (uint8_t)(0xc0 | (c >> 6));
		u[1] = (uint8_t)(0x80 | (c & 0x3f));
		n = 2;
	} else if (c < 0x10000) {
		u[0] = (uint8_t)(0xe0 | (c >> 12));
		u[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
		u[2] = (uint8_t)(0x80 | (c & 0x3f));
		n = 3;
	} else {
		u[0] = (uint8_t)(0xf0 | (c >> 18));
		u[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3f));
		u[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
		u[3] = (uint8_t)(0x80 | (c & 0x3f));
		n = 4;
	}
	buf_append(out, u, n);
}

int eventlog_ucs2_to_utf8(const uint8_t *p, size_t n, buf_t *out)
{
	if (n % 2)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		uint32_t c = bytes_le16(p + i);
		if (c == 0)
			break;
		if (c >= 0xd800 && c <= 0xdbff && i + 3 < n) {
			uint32_t lo = bytes_le16(p + i + 2);
			if (lo >= 0xdc00 && lo <= 0xdfff) {
				utf8_put(out, 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00));
				i += 2;
				continue;
			}
		}
		if (c >= 0xd800 && c <= 0xdfff)
			c = 0xfffd;
		utf8_put(out, c);
	}
	if (out->data == NULL)
		buf_append(out, "", 0);
	return 0;
}

int eventlog_efi_var_decode(const eventlog_event_t *ev, eventlog_efi_var_t *out, err_t *e)
{
	const uint8_t *p = ev->data;
	size_t n = ev->data_len;
	buf_t name = BUF_INIT;

	if (n < 32) {
		err_set(e, "UEFI_VARIABLE_DATA too short (%zu bytes)", n);
		return -1;
	}
	uint64_t nlen = bytes_le64(p + 16), dlen = bytes_le64(p + 24);
	if (nlen > EVENTLOG_VAR_NAME_MAX) {
		err_set(e, "UEFI variable name of %llu characters (at most %u)",
		        (unsigned long long)nlen, EVENTLOG_VAR_NAME_MAX);
		return -1;
	}
	/* Extra bytes after the data are tolerated (some shim versions log them); too few are
	 * not. */
	if (2 * nlen > n - 32 || dlen > n - 32 - 2 * nlen) {
		err_set(e,
		        "UEFI_VARIABLE_DATA sizes do not add up: name %llu chars, data %llu bytes, "
		        "event %zu bytes",
		        (unsigned long long)nlen, (unsigned long long)dlen, n);
		return -1;
	}
	for (uint64_t i = 0; i < nlen; i++)
		if (bytes_le16(p + 32 + 2 * i) == 0) {
			err_set(e, "UEFI variable name contains a NUL character");
			return -1;
		}
	memcpy(out->guid, p, 16);
	eventlog_ucs2_to_utf8(p + 32, 2 * nlen, &name);
	/* At most 3 bytes per UCS-2 unit, so the name always fits. */
	memcpy(out->name, name.data, name.len + 1);
	buf_free(&name);
	out->data = dlen ? p + 32 + 2 * nlen : NULL;
	out->data_len = dlen;
	out->trailing = n - 32 - 2 * nlen - dlen;
	return 0;
}

int eventlog_siglist_next(const uint8_t **pp, size_t *leftp, eventlog_siglist_t *out, err_t *e)
{
	const uint8_t *p = *pp;
	size_t n = *leftp;

	if (n == 0)
		return 0;
	if (n < 28) {
		err_set(e, "EFI_SIGNATURE_LIST header truncated (%zu bytes left)", n);
		return -1;
	}
	uint32_t lsize = bytes_le32(p + 16), hsize = bytes_le32(p + 20), ssize = bytes_le32(p + 24);
	if (lsize > n || (uint64_t)lsize < 28 + (uint64_t)hsize) {
		err_set(e, "EFI_SIGNATURE_LIST size %u does not fit (%zu bytes left, header %u)",
		        lsize, n, hsize);
		return -1;
	}
	if (ssize < 16) {
		err_set(e, "EFI_SIGNATURE_LIST signature size %u is below 16", ssize);
		return -1;
	}
	uint32_t body = lsize - 28 - hsize;
	if (body % ssize != 0) {
		err_set(e, "EFI_SIGNATURE_LIST body of %u bytes is not a multiple of %u", body,
		        ssize);
		return -1;
	}
	memcpy(out->type, p, 16);
	out->header_size = hsize;
	out->sig_size = ssize;
	out->count = body / ssize;
	out->sigs = p + 28 + hsize;
	*pp = p + lsize;
	*leftp = n - lsize;
	return 1;
}

int eventlog_image_load_decode(const eventlog_event_t *ev, eventlog_image_load_t *out, err_t *e)
{
	const uint8_t *p = ev->data;
	size_t n = ev->data_len;

	if (n < 32) {
		err_set(e, "UEFI_IMAGE_LOAD_EVENT too short (%zu bytes)", n);
		return -1;
	}
	uint64_t dplen = bytes_le64(p + 24);
	if (dplen > n - 32) {
		err_set(e, "UEFI_IMAGE_LOAD_EVENT device path of %llu bytes exceeds the %zu left",
		        (unsigned long long)dplen, n - 32);
		return -1;
	}
	out->location = bytes_le64(p);
	out->length = bytes_le64(p + 8);
	out->link_time_address = bytes_le64(p + 16);
	out->devpath = dplen ? p + 32 : NULL;
	out->devpath_len = dplen;
	out->trailing = n - 32 - dplen;
	return 0;
}

int eventlog_fw_blob_decode(const eventlog_event_t *ev, uint64_t *base, uint64_t *length,
                            buf_t *desc, err_t *e)
{
	const uint8_t *p = ev->data;
	size_t n = ev->data_len;

	if (ev->type == EV_EFI_PLATFORM_FIRMWARE_BLOB2) {
		if (n < 1 || n != 1 + (size_t)p[0] + 16) {
			err_set(e, "UEFI_PLATFORM_FIRMWARE_BLOB2 of %zu bytes is malformed", n);
			return -1;
		}
		if (desc != NULL)
			buf_append(desc, p + 1, p[0]);
		p += 1 + p[0];
	} else if (n != 16) {
		err_set(e, "UEFI_PLATFORM_FIRMWARE_BLOB of %zu bytes (16 expected)", n);
		return -1;
	}
	*base = bytes_le64(p);
	*length = bytes_le64(p + 8);
	return 0;
}

int eventlog_event_string(const eventlog_event_t *ev, const uint8_t **s, size_t *n)
{
	size_t len = ev->data_len;
	if (len > 0 && ev->data[len - 1] == 0)
		len--;
	if (len > 0 && memchr(ev->data, 0, len) != NULL)
		return -1;
	*s = len ? ev->data : (const uint8_t *)"";
	*n = len;
	return 0;
}

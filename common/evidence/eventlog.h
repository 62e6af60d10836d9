/* eventlog: the UEFI measured-boot event log (TCG PC Client Platform Firmware Profile).
 *
 * Parses both layouts a firmware writes: the legacy SHA-1 log (TCG_PCR_EVENT records only,
 * TPM 1.2 style) and the crypto-agile log (a TCG_PCR_EVENT carrying the "Spec ID Event03"
 * structure that declares the digest algorithms and sizes, then TCG_PCR_EVENT2 records with
 * one digest per declared bank). Every length is checked against what is left; any
 * inconsistency fails the whole parse with an error naming the event index and the byte
 * offset, because a verifier must never judge half a log.
 *
 * Parsing also replays the log: every bank whose hash we can compute (sha1, sha256, sha384,
 * sha512, sm3_256 when OpenSSL offers it) is extended event by event into 24 PCRs, starting
 * from the PC Client reset values (PCR 0 at the StartupLocality when the log carries one,
 * at 4 when an EV_EFI_HCRTM_EVENT shows an H-CRTM started it, PCRs 17-22 all ones).
 * EV_NO_ACTION events are never extended.
 *
 * The event index is the position in the log counting the Spec ID header as event 0, the
 * same numbering tpm2_eventlog prints as EventNum. The decoders below read the event data
 * of the common types; they only ever look inside the event they are given.
 */
#ifndef VIGIL_EVENTLOG_H
#define VIGIL_EVENTLOG_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/buf.h"
#include "common/base/err.h"

typedef struct eventlog eventlog_t;

/* Limits: a real log is tens of kilobytes; these leave ample room and bound hostile input. */
#define EVENTLOG_MAX_SIZE   (8u << 20) /* bytes in a whole log */
#define EVENTLOG_MAX_EVENTS 65536u     /* events in a log */
#define EVENTLOG_MAX_BANKS  16u        /* algorithms in the Spec ID event */
#define EVENTLOG_MAX_DIGEST 64u        /* bytes in one digest (SHA-512, SHA3-512) */
#define EVENTLOG_NUM_PCRS   24u        /* PCRs a PC Client TPM has */

/* TCG algorithm identifiers (TPM_ALG_ID) we know by name. */
#define EVENTLOG_ALG_SHA1    0x0004
#define EVENTLOG_ALG_SHA256  0x000B
#define EVENTLOG_ALG_SHA384  0x000C
#define EVENTLOG_ALG_SHA512  0x000D
#define EVENTLOG_ALG_SM3_256 0x0012

/* Event types (TCG PC Client PFP, "Events"). */
#define EV_PREBOOT_CERT                  0x00000000u
#define EV_POST_CODE                     0x00000001u
#define EV_UNUSED                        0x00000002u
#define EV_NO_ACTION                     0x00000003u
#define EV_SEPARATOR                     0x00000004u
#define EV_ACTION                        0x00000005u
#define EV_EVENT_TAG                     0x00000006u
#define EV_S_CRTM_CONTENTS               0x00000007u
#define EV_S_CRTM_VERSION                0x00000008u
#define EV_CPU_MICROCODE                 0x00000009u
#define EV_PLATFORM_CONFIG_FLAGS         0x0000000Au
#define EV_TABLE_OF_DEVICES              0x0000000Bu
#define EV_COMPACT_HASH                  0x0000000Cu
#define EV_IPL                           0x0000000Du
#define EV_IPL_PARTITION_DATA            0x0000000Eu
#define EV_NONHOST_CODE                  0x0000000Fu
#define EV_NONHOST_CONFIG                0x00000010u
#define EV_NONHOST_INFO                  0x00000011u
#define EV_OMIT_BOOT_DEVICE_EVENTS       0x00000012u
#define EV_POST_CODE2                    0x00000013u
#define EV_EFI_EVENT_BASE                0x80000000u
#define EV_EFI_VARIABLE_DRIVER_CONFIG    0x80000001u
#define EV_EFI_VARIABLE_BOOT             0x80000002u
#define EV_EFI_BOOT_SERVICES_APPLICATION 0x80000003u
#define EV_EFI_BOOT_SERVICES_DRIVER      0x80000004u
#define EV_EFI_RUNTIME_SERVICES_DRIVER   0x80000005u
#define EV_EFI_GPT_EVENT                 0x80000006u
#define EV_EFI_ACTION                    0x80000007u
#define EV_EFI_PLATFORM_FIRMWARE_BLOB    0x80000008u
#define EV_EFI_HANDOFF_TABLES            0x80000009u
#define EV_EFI_PLATFORM_FIRMWARE_BLOB2   0x8000000Au
#define EV_EFI_HANDOFF_TABLES2           0x8000000Bu
#define EV_EFI_VARIABLE_BOOT2            0x8000000Cu
#define EV_EFI_GPT_EVENT2                0x8000000Du
#define EV_EFI_HCRTM_EVENT               0x80000010u
#define EV_EFI_VARIABLE_AUTHORITY        0x800000E0u
#define EV_EFI_SPDM_FIRMWARE_BLOB        0x800000E1u
#define EV_EFI_SPDM_FIRMWARE_CONFIG      0x800000E2u
#define EV_EFI_SPDM_DEVICE_POLICY        0x800000E3u
#define EV_EFI_SPDM_DEVICE_AUTHORITY     0x800000E4u

typedef enum eventlog_format {
	EVENTLOG_FORMAT_SHA1 = 1,    /* legacy: TCG_PCR_EVENT records, one SHA-1 digest each */
	EVENTLOG_FORMAT_CRYPTO_AGILE /* Spec ID Event03 header, then TCG_PCR_EVENT2 records */
} eventlog_format_t;

/* One digest of one event. bytes points into the log (borrowed; lives as long as it). */
typedef struct eventlog_digest {
	uint16_t alg;         /* TPM_ALG_ID */
	uint16_t len;         /* bytes, as the Spec ID event declares for alg (20 in SHA-1 logs) */
	const uint8_t *bytes; /* borrowed from the log */
} eventlog_digest_t;

/* One event, read-only. Every pointer is borrowed from the eventlog_t it came from. */
typedef struct eventlog_event {
	uint32_t index;                   /* 0-based position; the Spec ID header is event 0 */
	size_t offset;                    /* byte offset of the event header in the log */
	uint32_t pcr;                     /* PCRIndex, 0..23 (EV_NO_ACTION: also 0xffffffff) */
	uint32_t type;                    /* EventType (EV_*) */
	uint32_t ndigests;                /* entries in digests */
	const eventlog_digest_t *digests; /* borrowed */
	const uint8_t *data;              /* event data, borrowed (NULL when data_len is 0) */
	uint32_t data_len;                /* EventSize */
	int is_header;                    /* 1 for the Spec ID header event (its one digest is
	                                   * the zero SHA-1 field of a TCG_PCR_EVENT) */
} eventlog_event_t;

/* One declared bank (crypto-agile: from the Spec ID event; SHA-1 logs: sha1 only). */
typedef struct eventlog_bank {
	uint16_t alg;   /* TPM_ALG_ID */
	uint16_t size;  /* digest bytes */
	int replayable; /* 1 when we can compute this hash, so PCR values exist */
} eventlog_bank_t;

/* Parse and replay a whole binary log (len at most EVENTLOG_MAX_SIZE). The data is copied.
 * Returns a new log (caller frees with eventlog_free) or NULL with the reason in e, e.g.
 * "event 12 at offset 2841: event data size 4096 exceeds the 120 bytes left". */
eventlog_t *eventlog_parse(const void *data, size_t len, err_t *e);
void eventlog_free(eventlog_t *log); /* NULL does nothing */

eventlog_format_t eventlog_format(const eventlog_t *log);
size_t eventlog_count(const eventlog_t *log);
/* The i-th event (borrowed), or NULL when i >= eventlog_count(). */
const eventlog_event_t *eventlog_event(const eventlog_t *log, size_t i);
size_t eventlog_bank_count(const eventlog_t *log);
const eventlog_bank_t *eventlog_bank(const eventlog_t *log, size_t i); /* borrowed or NULL */
/* The locality PCR 0 started at (StartupLocality event, 4 after an H-CRTM; 0 when the log
 * has neither). */
unsigned eventlog_startup_locality(const eventlog_t *log);
/* 1 when an EV_EFI_HCRTM_EVENT started PCR 0 at 4 (TPM library spec Part 1, 34.3). */
int eventlog_is_hcrtm(const eventlog_t *log);
/* The raw log bytes (borrowed) and their length. */
const uint8_t *eventlog_raw(const eventlog_t *log, size_t *len);

/* Spec ID Event03 header fields; 0 with *out filled, or -1 for a SHA-1 log. */
typedef struct eventlog_spec_id {
	uint32_t platform_class; /* 0 client, 1 server */
	uint8_t version_minor;   /* specVersionMinor */
	uint8_t version_major;   /* specVersionMajor */
	uint8_t errata;          /* specErrata */
	uint8_t uintn_size;      /* 1: 32-bit UINTN, 2: 64-bit */
	const uint8_t *vendor;   /* vendorInfo, borrowed */
	uint8_t vendor_len;      /* vendorInfoSize */
} eventlog_spec_id_t;
int eventlog_spec_id(const eventlog_t *log, eventlog_spec_id_t *out);

/* Replayed PCR value of one bank: 0 with *value (borrowed) and *len set, or -1 when the
 * bank is not in the log, cannot be replayed (unknown hash) or pcr >= 24. */
int eventlog_pcr_value(const eventlog_t *log, uint16_t alg, unsigned pcr, const uint8_t **value,
                       size_t *len);
/* Bit i set when the log extends PCR i in that bank (0 for an unknown bank). */
uint32_t eventlog_pcrs_extended(const eventlog_t *log, uint16_t alg);
/* Compare a quoted PCR with the replayed one. 0 when equal; -1 with e.g. "PCR 4 (sha256):
 * the event log replays to 3d45..., the quote has 9f1c..." or why it cannot compare. */
int eventlog_check_pcr(const eventlog_t *log, uint16_t alg, unsigned pcr, const uint8_t *quoted,
                       size_t len, err_t *e);
/* H_alg(PCR 0 || ... || PCR npcrs-1) over the replayed values, the IMA boot_aggregate
 * (npcrs 8 or 10). out must hold EVENTLOG_MAX_DIGEST bytes. 0 or -1 (bank not replayable). */
int eventlog_boot_aggregate(const eventlog_t *log, uint16_t alg, unsigned npcrs, uint8_t *out,
                            size_t *outlen);

/* Names. Static strings; NULL when unknown. */
const char *eventlog_type_name(uint32_t type); /* "EV_IPL" */
const char *eventlog_alg_name(uint16_t alg);   /* "sha256" (tpm2-tools spelling) */
/* "sha256" -> EVENTLOG_ALG_SHA256; 0 or -1 when unknown. */
int eventlog_alg_from_name(const char *name, uint16_t *alg);
/* The digest of alg in ev, or NULL when the event has none for that algorithm. */
const eventlog_digest_t *eventlog_event_digest(const eventlog_event_t *ev, uint16_t alg);

/* ---- Event data decoders. Each reads only ev->data / the bytes given; -1 with e set on
 * malformed data. Nothing is allocated unless a buf_t is passed. ---- */

/* EFI GUID in the registry format (first three fields little-endian), lowercase:
 * "8be4df61-93ca-11d2-aa0d-00e098032b8c". out must hold 37 bytes. */
void eventlog_guid_format(const uint8_t guid[16], char out[37]);
/* Parse that format (lowercase or uppercase hex) into the 16 bytes; 0 or -1. */
int eventlog_guid_parse(const char *s, uint8_t guid[16]);

/* Well-known GUIDs, as the 16 bytes found in logs. */
extern const uint8_t EVENTLOG_GUID_EFI_GLOBAL[16];     /* 8be4df61-...: SecureBoot, PK, KEK */
extern const uint8_t EVENTLOG_GUID_IMAGE_SECURITY[16]; /* d719b2cb-...: db, dbx */
extern const uint8_t EVENTLOG_GUID_SHIM_LOCK[16];      /* 605dab50-...: MokList, SbatLevel */
extern const uint8_t EVENTLOG_GUID_CERT_X509[16];      /* a5c059a1-...: EFI_CERT_X509_GUID */
extern const uint8_t EVENTLOG_GUID_CERT_SHA256[16];    /* c1c41626-...: EFI_CERT_SHA256_GUID */

/* UEFI_VARIABLE_DATA (EV_EFI_VARIABLE_*). The name is converted from UCS-2 to UTF-8. */
#define EVENTLOG_VAR_NAME_MAX 256 /* characters in a variable name */
typedef struct eventlog_efi_var {
	uint8_t guid[16];                         /* VariableName (the vendor GUID) */
	char name[EVENTLOG_VAR_NAME_MAX * 3 + 1]; /* UnicodeName as UTF-8, NUL-terminated */
	const uint8_t *data;                      /* VariableData, borrowed */
	size_t data_len;                          /* VariableDataLength */
	size_t trailing;                          /* bytes after the data (firmware bugs) */
} eventlog_efi_var_t;
int eventlog_efi_var_decode(const eventlog_event_t *ev, eventlog_efi_var_t *out, err_t *e);

/* EFI_SIGNATURE_LIST walking over a variable's data (PK, KEK, db, dbx). Start with
 * *p = data, *left = len; each call yields one list. Returns 1 with *out set, 0 at the end,
 * -1 on a malformed list (sizes that do not add up). */
typedef struct eventlog_siglist {
	uint8_t type[16];     /* SignatureType GUID */
	uint32_t header_size; /* SignatureHeaderSize */
	uint32_t sig_size;    /* SignatureSize: 16-byte owner plus data */
	uint32_t count;       /* signatures in the list */
	const uint8_t *sigs;  /* first EFI_SIGNATURE_DATA, borrowed; i-th at sigs + i*sig_size */
} eventlog_siglist_t;
int eventlog_siglist_next(const uint8_t **p, size_t *left, eventlog_siglist_t *out, err_t *e);

/* UEFI_IMAGE_LOAD_EVENT (EV_EFI_BOOT_SERVICES_*, EV_EFI_RUNTIME_SERVICES_DRIVER). */
typedef struct eventlog_image_load {
	uint64_t location;          /* ImageLocationInMemory */
	uint64_t length;            /* ImageLengthInMemory */
	uint64_t link_time_address; /* ImageLinkTimeAddress */
	const uint8_t *devpath;     /* DevicePath, borrowed */
	size_t devpath_len;         /* LengthOfDevicePath */
	size_t trailing;            /* bytes after the device path (firmware bugs) */
} eventlog_image_load_t;
int eventlog_image_load_decode(const eventlog_event_t *ev, eventlog_image_load_t *out, err_t *e);

/* UEFI_PLATFORM_FIRMWARE_BLOB (and BLOB2 with its description, appended to desc if given). */
int eventlog_fw_blob_decode(const eventlog_event_t *ev, uint64_t *base, uint64_t *length,
                            buf_t *desc, err_t *e);

/* StartupLocality EV_NO_ACTION: 1 with *locality set, 0 when ev is not one. */
int eventlog_startup_locality_event(const eventlog_event_t *ev, uint8_t *locality);

/* The event data as a byte string the way boot loaders write it (EV_IPL, EV_EFI_ACTION,
 * EV_POST_CODE text): one trailing NUL removed. Sets *s and *n (borrowed); 0, or -1 when
 * a NUL remains inside (not a string). */
int eventlog_event_string(const eventlog_event_t *ev, const uint8_t **s, size_t *n);

/* Append UCS-2LE text (n bytes; stops at a NUL unit) to out as UTF-8; unpaired
 * surrogates become U+FFFD. 0, or -1 when n is odd. */
int eventlog_ucs2_to_utf8(const uint8_t *p, size_t n, buf_t *out);

#endif

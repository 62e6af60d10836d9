/* eventlog_json: the event log as 'vigilctl eventlog show' prints it. See eventlog_json.h. */
#include "ctl/eventlog_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/buf.h"
#include "common/evidence/devpath.h"

/* ---- JSON helpers ---- */

/* A JSON string from bytes: valid UTF-8 is kept; invalid bytes become U+FFFD (the raw
 * bytes are always in the event's "data" hex). */
static json_t *jstr(const uint8_t *p, size_t n)
{
	json_t *s = json_stringn((const char *)p, n);
	buf_t b = BUF_INIT;

	if (s != NULL)
		return s;
	for (size_t i = 0; i < n;) {
		size_t len = p[i] < 0x80         ? 1
		             : (p[i] >> 5) == 6  ? 2
		             : (p[i] >> 4) == 14 ? 3
		             : (p[i] >> 3) == 30 ? 4
		                                 : 0;
		json_t *t = len && i + len <= n ? json_stringn((const char *)p + i, len) : NULL;
		if (t != NULL) {
			buf_append(&b, p + i, len);
			json_decref(t);
			i += len;
		} else {
			buf_append_str(&b, "\xef\xbf\xbd");
			i++;
		}
	}
	s = json_stringn(b.data ? (char *)b.data : "", b.len);
	buf_free(&b);
	return s;
}

static json_t *jhex(const uint8_t *p, size_t n)
{
	buf_t b = BUF_INIT;
	hex_encode(&b, p, n);
	json_t *s = json_stringn(b.data ? (char *)b.data : "", b.len);
	buf_free(&b);
	return s;
}

static json_t *jguid(const uint8_t *g)
{
	char s[37];
	eventlog_guid_format(g, s);
	return json_string(s);
}

static json_t *jaddr(uint64_t v)
{
	char s[24];
	snprintf(s, sizeof(s), "0x%llx", (unsigned long long)v);
	return json_string(s);
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) | ((uint32_t)rd16(p + 2) << 16);
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32);
}

/* Printable ASCII (plus tab and newline): worth showing as text. */
static int is_text(const uint8_t *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') || s[i] == 0x7f)
			return 0;
	return 1;
}

/* UCS-2 text of ASCII characters (systemd measures some strings this way). */
static int is_ucs2_text(const uint8_t *s, size_t n)
{
	if (n < 4 || n % 2)
		return 0;
	if (s[n - 2] == 0 && s[n - 1] == 0)
		n -= 2;
	for (size_t i = 0; i < n; i += 2)
		if (s[i + 1] != 0 || s[i] < 0x20 || s[i] >= 0x7f)
			return 0;
	return 1;
}

static json_t *ucs2_json(const uint8_t *p, size_t n)
{
	buf_t b = BUF_INIT;
	eventlog_ucs2_to_utf8(p, n & ~(size_t)1, &b);
	json_t *s = jstr(b.data, b.len);
	buf_free(&b);
	return s;
}

/* ---- decoders into JSON; each returns 0 or -1 with why set ---- */

static int decode_siglists(const uint8_t *p, size_t n, json_t *o, err_t *why)
{
	json_t *lists = json_array();
	eventlog_siglist_t l;
	int r;

	json_object_set_new(o, "signature_lists", lists);
	while ((r = eventlog_siglist_next(&p, &n, &l, why)) == 1) {
		json_t *x = json_object(), *sigs = json_array();
		json_object_set_new(x, "signature_type", jguid(l.type));
		if (memcmp(l.type, EVENTLOG_GUID_CERT_X509, 16) == 0)
			json_object_set_new(x, "signature_type_name", json_string("x509"));
		else if (memcmp(l.type, EVENTLOG_GUID_CERT_SHA256, 16) == 0)
			json_object_set_new(x, "signature_type_name", json_string("sha256"));
		json_object_set_new(x, "header_size", json_integer(l.header_size));
		json_object_set_new(x, "signature_size", json_integer(l.sig_size));
		for (uint32_t i = 0; i < l.count; i++) {
			const uint8_t *s = l.sigs + (size_t)i * l.sig_size;
			json_t *sg = json_object();
			json_object_set_new(sg, "owner", jguid(s));
			json_object_set_new(sg, "data", jhex(s + 16, l.sig_size - 16u));
			json_array_append_new(sigs, sg);
		}
		json_object_set_new(x, "signatures", sigs);
		json_array_append_new(lists, x);
	}
	return r < 0 ? -1 : 0;
}

static int decode_load_option(const eventlog_efi_var_t *v, json_t *o, err_t *why)
{
	const uint8_t *p = v->data;
	size_t n = v->data_len, off = 6;
	json_t *x;

	if (n < 6) {
		err_set(why, "EFI_LOAD_OPTION too short");
		return -1;
	}
	uint16_t fplen = rd16(p + 4);
	while (off + 1 < n && rd16(p + off) != 0)
		off += 2;
	if (off + 1 >= n) {
		err_set(why, "EFI_LOAD_OPTION description is not terminated");
		return -1;
	}
	x = json_object();
	json_object_set_new(x, "active", json_boolean(rd32(p) & 1));
	json_object_set_new(x, "attributes", json_integer(rd32(p)));
	json_object_set_new(x, "description", ucs2_json(p + 6, off - 6));
	off += 2;
	if (fplen > n - off) {
		json_decref(x);
		err_set(why, "EFI_LOAD_OPTION file path list exceeds the variable");
		return -1;
	}
	buf_t dp = BUF_INIT;
	err_t dperr = {""};
	if (eventlog_devpath_format(p + off, fplen, &dp, &dperr) == 0)
		json_object_set_new(x, "device_path", jstr(dp.data, dp.len));
	else
		json_object_set_new(x, "device_path_error", json_string(dperr.msg));
	buf_free(&dp);
	json_object_set_new(x, "optional_data_size", json_integer((json_int_t)(n - off - fplen)));
	json_object_set_new(o, "load_option", x);
	return 0;
}

static int decode_variable(const eventlog_event_t *ev, json_t *o, err_t *why)
{
	eventlog_efi_var_t v;

	if (eventlog_efi_var_decode(ev, &v, why) < 0)
		return -1;
	json_object_set_new(o, "variable_guid", jguid(v.guid));
	json_object_set_new(o, "name", json_string(v.name));
	json_object_set_new(o, "data_size", json_integer((json_int_t)v.data_len));
	if (v.trailing)
		json_object_set_new(o, "trailing_bytes", json_integer((json_int_t)v.trailing));
	const char *nm = v.name;
	if (ev->type == EV_EFI_VARIABLE_DRIVER_CONFIG || ev->type == EV_EFI_VARIABLE_AUTHORITY) {
		if ((strcmp(nm, "SecureBoot") == 0 || strcmp(nm, "MokListTrusted") == 0 ||
		     strcmp(nm, "SetupMode") == 0 || strcmp(nm, "AuditMode") == 0 ||
		     strcmp(nm, "DeployedMode") == 0) &&
		    v.data_len <= 1) {
			json_object_set_new(o, "enabled",
			                    json_boolean(v.data_len == 1 && v.data[0] != 0));
			return 0;
		}
	}
	if (ev->type == EV_EFI_VARIABLE_DRIVER_CONFIG &&
	    (strcmp(nm, "PK") == 0 || strcmp(nm, "KEK") == 0 || strcmp(nm, "db") == 0 ||
	     strcmp(nm, "dbx") == 0 || strcmp(nm, "dbt") == 0 || strcmp(nm, "dbr") == 0 ||
	     strcmp(nm, "vendor_db") == 0))
		return decode_siglists(v.data, v.data_len, o, why);
	if (ev->type == EV_EFI_VARIABLE_AUTHORITY &&
	    (strcmp(nm, "db") == 0 || strcmp(nm, "vendor_db") == 0) && v.data_len >= 16) {
		json_t *sg = json_object();
		json_object_set_new(sg, "owner", jguid(v.data));
		json_object_set_new(sg, "data", jhex(v.data + 16, v.data_len - 16));
		json_object_set_new(o, "signature", sg);
		return 0;
	}
	if (ev->type == EV_EFI_VARIABLE_AUTHORITY && strcmp(nm, "SbatLevel") == 0 &&
	    is_text(v.data, v.data_len)) {
		json_object_set_new(o, "string", jstr(v.data, v.data_len));
		return 0;
	}
	if (ev->type == EV_EFI_VARIABLE_BOOT || ev->type == EV_EFI_VARIABLE_BOOT2) {
		if (strcmp(nm, "BootOrder") == 0 && v.data_len % 2 == 0) {
			json_t *a = json_array();
			for (size_t i = 0; i < v.data_len; i += 2) {
				char b[12];
				snprintf(b, sizeof(b), "Boot%04X", rd16(v.data + i));
				json_array_append_new(a, json_string(b));
			}
			json_object_set_new(o, "boot_order", a);
			return 0;
		}
		if (strncmp(nm, "Boot", 4) == 0 && strlen(nm) == 8)
			return decode_load_option(&v, o, why);
	}
	return 0;
}

static int decode_image(const eventlog_event_t *ev, json_t *o, err_t *why)
{
	eventlog_image_load_t im;
	buf_t dp = BUF_INIT;
	err_t dperr = {""};

	if (eventlog_image_load_decode(ev, &im, why) < 0)
		return -1;
	json_object_set_new(o, "image_location", jaddr(im.location));
	json_object_set_new(o, "image_length", jaddr(im.length));
	json_object_set_new(o, "link_time_address", jaddr(im.link_time_address));
	json_object_set_new(o, "device_path_size", json_integer((json_int_t)im.devpath_len));
	if (eventlog_devpath_format(im.devpath, im.devpath_len, &dp, &dperr) == 0)
		json_object_set_new(o, "device_path", jstr(dp.data, dp.len));
	else
		json_object_set_new(o, "device_path_error", json_string(dperr.msg));
	buf_free(&dp);
	if (im.trailing)
		json_object_set_new(o, "trailing_bytes", json_integer((json_int_t)im.trailing));
	return 0;
}

static int decode_blob(const eventlog_event_t *ev, json_t *o, err_t *why)
{
	uint64_t base, len;
	buf_t d = BUF_INIT;

	if (eventlog_fw_blob_decode(ev, &base, &len, &d, why) < 0) {
		buf_free(&d);
		return -1;
	}
	if (ev->type == EV_EFI_PLATFORM_FIRMWARE_BLOB2)
		json_object_set_new(o, "description", jstr(d.data, d.len));
	json_object_set_new(o, "blob_base", jaddr(base));
	json_object_set_new(o, "blob_length", jaddr(len));
	buf_free(&d);
	return 0;
}

static int decode_gpt(const eventlog_event_t *ev, json_t *o, err_t *why)
{
	const uint8_t *p = ev->data;
	size_t n = ev->data_len;

	if (n < 92 + 8 || memcmp(p, "EFI PART", 8) != 0) {
		err_set(why, "not a UEFI_GPT_DATA structure");
		return -1;
	}
	uint32_t esize = rd32(p + 84);
	uint64_t count = rd64(p + 92);
	if (esize < 128 || count > (n - 100) / esize) {
		err_set(why, "UEFI_GPT_DATA partition entries exceed the event");
		return -1;
	}
	json_t *parts = json_array();
	json_object_set_new(o, "disk_guid", jguid(p + 56));
	for (uint64_t i = 0; i < count; i++) {
		const uint8_t *e = p + 100 + i * esize;
		json_t *x = json_object();
		json_object_set_new(x, "type_guid", jguid(e));
		json_object_set_new(x, "unique_guid", jguid(e + 16));
		json_object_set_new(x, "first_lba", jaddr(rd64(e + 32)));
		json_object_set_new(x, "last_lba", jaddr(rd64(e + 40)));
		json_object_set_new(x, "name", ucs2_json(e + 56, 72));
		json_array_append_new(parts, x);
	}
	json_object_set_new(o, "partitions", parts);
	return 0;
}

static int decode_event_tag(const eventlog_event_t *ev, json_t *o, err_t *why)
{
	const uint8_t *p = ev->data;
	size_t n = ev->data_len, off = 0;
	json_t *tags = json_array();

	json_object_set_new(o, "tags", tags);
	while (off < n) {
		if (n - off < 8 || rd32(p + off + 4) > n - off - 8) {
			err_set(why, "TCG_PCClientTaggedEvent truncated at byte %zu", off);
			return -1;
		}
		json_t *x = json_object();
		json_object_set_new(x, "id", json_integer(rd32(p + off)));
		json_object_set_new(x, "size", json_integer(rd32(p + off + 4)));
		json_array_append_new(tags, x);
		off += 8 + (size_t)rd32(p + off + 4);
	}
	return 0;
}

static void decode_no_action(const eventlog_t *log, const eventlog_event_t *ev, json_t *o)
{
	uint8_t loc;
	eventlog_spec_id_t sid;

	if (ev->is_header && eventlog_spec_id(log, &sid) == 0) {
		json_t *s = json_object(), *a = json_array();
		char ver[16];
		snprintf(ver, sizeof(ver), "%u.%u", sid.version_major, sid.version_minor);
		json_object_set_new(s, "signature", json_string("Spec ID Event03"));
		json_object_set_new(s, "platform_class", json_integer(sid.platform_class));
		json_object_set_new(s, "spec_version", json_string(ver));
		json_object_set_new(s, "errata", json_integer(sid.errata));
		json_object_set_new(s, "uintn_size", json_integer(sid.uintn_size));
		for (size_t b = 0; b < eventlog_bank_count(log); b++) {
			const eventlog_bank_t *bk = eventlog_bank(log, b);
			json_t *x = json_object();
			const char *nm = eventlog_alg_name(bk->alg);
			json_object_set_new(x, "alg", nm ? json_string(nm) : json_null());
			json_object_set_new(x, "alg_id", json_integer(bk->alg));
			json_object_set_new(x, "digest_size", json_integer(bk->size));
			json_array_append_new(a, x);
		}
		json_object_set_new(s, "algorithms", a);
		json_object_set_new(s, "vendor_info", jhex(sid.vendor, sid.vendor_len));
		json_object_set_new(o, "spec_id", s);
	} else if (eventlog_startup_locality_event(ev, &loc)) {
		json_object_set_new(o, "startup_locality", json_integer(loc));
	} else if (ev->data_len >= 16) {
		size_t k = 0;
		while (k < 16 && ev->data[k] != 0)
			k++;
		if (is_text(ev->data, k))
			json_object_set_new(o, "signature", jstr(ev->data, k));
	}
}

json_t *eventlog_json_event(const eventlog_t *log, const eventlog_event_t *ev, err_t *why)
{
	json_t *o = json_object();
	const uint8_t *s;
	size_t n;
	int r = 0;

	switch (ev->type) {
	case EV_NO_ACTION:
		decode_no_action(log, ev, o);
		break;
	case EV_EFI_VARIABLE_DRIVER_CONFIG:
	case EV_EFI_VARIABLE_BOOT:
	case EV_EFI_VARIABLE_BOOT2:
	case EV_EFI_VARIABLE_AUTHORITY:
		r = decode_variable(ev, o, why);
		break;
	case EV_EFI_BOOT_SERVICES_APPLICATION:
	case EV_EFI_BOOT_SERVICES_DRIVER:
	case EV_EFI_RUNTIME_SERVICES_DRIVER:
		r = decode_image(ev, o, why);
		break;
	case EV_EFI_PLATFORM_FIRMWARE_BLOB:
	case EV_EFI_PLATFORM_FIRMWARE_BLOB2:
		r = decode_blob(ev, o, why);
		break;
	case EV_EFI_GPT_EVENT:
		r = decode_gpt(ev, o, why);
		break;
	case EV_EVENT_TAG:
		r = decode_event_tag(ev, o, why);
		break;
	case EV_SEPARATOR:
		if (ev->data_len == 4) {
			uint32_t v = rd32(ev->data);
			json_object_set_new(o, "value", jhex(ev->data, 4));
			json_object_set_new(o, "error", json_boolean(v == 1 || v == 0xffffffffu));
		}
		break;
	case EV_S_CRTM_VERSION:
		if (is_ucs2_text(ev->data, ev->data_len))
			json_object_set_new(o, "version", ucs2_json(ev->data, ev->data_len));
		else if (ev->data_len == 16)
			json_object_set_new(o, "guid", jguid(ev->data));
		break;
	case EV_POST_CODE:
		if (ev->data_len == 16) {
			json_object_set_new(o, "blob_base", jaddr(rd64(ev->data)));
			json_object_set_new(o, "blob_length", jaddr(rd64(ev->data + 8)));
			break;
		}
		/* a text POST code */
		__attribute__((fallthrough));
	default:
		if (eventlog_event_string(ev, &s, &n) == 0 && is_text(s, n))
			json_object_set_new(o, "string", jstr(s, n));
		else if (ev->type == EV_IPL && is_ucs2_text(ev->data, ev->data_len))
			json_object_set_new(o, "string", ucs2_json(ev->data, ev->data_len));
		break;
	}
	if (r < 0 || json_object_size(o) == 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *eventlog_json_doc(const eventlog_t *log)
{
	json_t *root = json_object(), *events = json_array(), *banks = json_array(),
	       *pcrs = json_object();
	eventlog_spec_id_t sid;

	json_object_set_new(root, "version", json_integer(EVENTLOG_JSON_VERSION));
	json_object_set_new(root, "format",
	                    json_string(eventlog_format(log) == EVENTLOG_FORMAT_CRYPTO_AGILE
	                                    ? "crypto-agile"
	                                    : "sha1"));
	if (eventlog_spec_id(log, &sid) == 0) {
		char ver[16];
		json_t *s = json_object();
		snprintf(ver, sizeof(ver), "%u.%u", sid.version_major, sid.version_minor);
		json_object_set_new(s, "platform_class", json_integer(sid.platform_class));
		json_object_set_new(s, "spec_version", json_string(ver));
		json_object_set_new(s, "errata", json_integer(sid.errata));
		json_object_set_new(s, "uintn_size", json_integer(sid.uintn_size));
		json_object_set_new(root, "spec_id", s);
	}
	for (size_t b = 0; b < eventlog_bank_count(log); b++) {
		const eventlog_bank_t *bk = eventlog_bank(log, b);
		const char *nm = eventlog_alg_name(bk->alg);
		json_t *x = json_object();
		json_object_set_new(x, "alg", nm ? json_string(nm) : json_null());
		json_object_set_new(x, "alg_id", json_integer(bk->alg));
		json_object_set_new(x, "digest_size", json_integer(bk->size));
		json_object_set_new(x, "replayed", json_boolean(bk->replayable));
		json_array_append_new(banks, x);
	}
	json_object_set_new(root, "banks", banks);
	json_object_set_new(root, "startup_locality", json_integer(eventlog_startup_locality(log)));
	json_object_set_new(root, "h_crtm", json_boolean(eventlog_is_hcrtm(log)));
	for (size_t i = 0; i < eventlog_count(log); i++) {
		const eventlog_event_t *ev = eventlog_event(log, i);
		const char *tn = eventlog_type_name(ev->type);
		json_t *x = json_object(), *dg = json_array(), *dec;
		err_t why = {""};
		json_object_set_new(x, "index", json_integer(ev->index));
		json_object_set_new(x, "offset", json_integer((json_int_t)ev->offset));
		json_object_set_new(x, "pcr", json_integer(ev->pcr));
		json_object_set_new(x, "type", json_integer(ev->type));
		json_object_set_new(x, "type_name", tn ? json_string(tn) : json_null());
		for (uint32_t d = 0; d < ev->ndigests; d++) {
			const char *an = eventlog_alg_name(ev->digests[d].alg);
			json_t *y = json_object();
			json_object_set_new(y, "alg", an ? json_string(an) : json_null());
			json_object_set_new(y, "alg_id", json_integer(ev->digests[d].alg));
			json_object_set_new(y, "digest",
			                    jhex(ev->digests[d].bytes, ev->digests[d].len));
			json_array_append_new(dg, y);
		}
		json_object_set_new(x, "digests", dg);
		json_object_set_new(x, "data_size", json_integer(ev->data_len));
		json_object_set_new(x, "data", jhex(ev->data, ev->data_len));
		if ((dec = eventlog_json_event(log, ev, &why)) != NULL)
			json_object_set_new(x, "decoded", dec);
		else if (why.msg[0])
			json_object_set_new(x, "decode_error", json_string(why.msg));
		json_array_append_new(events, x);
	}
	json_object_set_new(root, "events", events);
	for (size_t b = 0; b < eventlog_bank_count(log); b++) {
		const eventlog_bank_t *bk = eventlog_bank(log, b);
		const char *nm = eventlog_alg_name(bk->alg);
		uint32_t mask = eventlog_pcrs_extended(log, bk->alg);
		if (!bk->replayable || nm == NULL)
			continue;
		json_t *bank = json_object();
		for (unsigned p = 0; p < EVENTLOG_NUM_PCRS; p++) {
			const uint8_t *v;
			size_t vl;
			char idx[4];
			if (!(mask & (1u << p)) || eventlog_pcr_value(log, bk->alg, p, &v, &vl) < 0)
				continue;
			snprintf(idx, sizeof(idx), "%u", p);
			json_object_set_new(bank, idx, jhex(v, vl));
		}
		json_object_set_new(pcrs, nm, bank);
	}
	json_object_set_new(root, "pcrs", pcrs);
	return root;
}

/* ---- text output ---- */

static void print_value(FILE *out, json_t *v, int indent);

/* Text from the log (names, paths, strings) as printable ASCII: a log may carry escape
 * sequences for the operator's terminal. */
static void print_escaped(FILE *out, const char *s, size_t n)
{
	buf_t b = BUF_INIT;
	buf_append_escaped(&b, s, n);
	fprintf(out, "%s\n", (char *)b.data);
	buf_free(&b);
}

static void print_scalar(FILE *out, json_t *v)
{
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		/* Long hex (certificates, raw data) is cut; text is shown whole. */
		if (n > 100 && strspn(s, "0123456789abcdef") == n)
			fprintf(out, "%.64s... (%zu hex digits)\n", s, n);
		else
			print_escaped(out, s, n);
	} else if (json_is_integer(v)) {
		fprintf(out, "%lld\n", (long long)json_integer_value(v));
	} else if (json_is_boolean(v)) {
		fprintf(out, "%s\n", json_is_true(v) ? "yes" : "no");
	} else {
		fprintf(out, "-\n");
	}
}

static void print_value(FILE *out, json_t *v, int indent)
{
	const char *k;
	json_t *x;

	if (json_is_object(v)) {
		json_object_foreach(v, k, x)
		{
			fprintf(out, "%*s%s:", indent, "", k);
			if (json_is_object(x) || json_is_array(x)) {
				fputc('\n', out);
				print_value(out, x, indent + 2);
			} else {
				fputc(' ', out);
				print_scalar(out, x);
			}
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_array_foreach(v, i, x)
		{
			if (json_is_object(x)) {
				fprintf(out, "%*s- [%zu]\n", indent, "", i);
				print_value(out, x, indent + 2);
			} else {
				fprintf(out, "%*s- ", indent, "");
				print_scalar(out, x);
			}
		}
	}
}

void eventlog_json_print_text(FILE *out, const eventlog_t *log, json_t *doc)
{
	json_t *events = json_object_get(doc, "events"), *ev;
	size_t i;

	fprintf(out, "Event log: %s, %zu events, banks:",
	        json_string_value(json_object_get(doc, "format")), eventlog_count(log));
	for (size_t b = 0; b < eventlog_bank_count(log); b++) {
		const char *nm = eventlog_alg_name(eventlog_bank(log, b)->alg);
		if (nm != NULL)
			fprintf(out, " %s", nm);
		else
			fprintf(out, " 0x%04x", eventlog_bank(log, b)->alg);
	}
	fprintf(out, "\nStartup locality: %u%s\n", eventlog_startup_locality(log),
	        eventlog_is_hcrtm(log) ? " (H-CRTM)" : "");
	json_array_foreach(events, i, ev)
	{
		const eventlog_event_t *e = eventlog_event(log, i);
		const char *tn = eventlog_type_name(e->type);
		json_t *dec = json_object_get(ev, "decoded"),
		       *err = json_object_get(ev, "decode_error");
		fprintf(out, "\n#%u PCR %u ", e->index, e->pcr);
		if (tn != NULL)
			fprintf(out, "%s", tn);
		else
			fprintf(out, "type 0x%08x", e->type);
		fprintf(out, " (offset %zu, %u bytes of data)\n", e->offset, e->data_len);
		for (uint32_t d = 0; d < e->ndigests; d++) {
			const char *an = eventlog_alg_name(e->digests[d].alg);
			buf_t h = BUF_INIT;
			hex_encode(&h, e->digests[d].bytes, e->digests[d].len);
			if (an != NULL)
				fprintf(out, "  %s: %s\n", an, (char *)h.data);
			else
				fprintf(out, "  0x%04x: %s\n", e->digests[d].alg, (char *)h.data);
			buf_free(&h);
		}
		if (dec != NULL)
			print_value(out, dec, 2);
		else if (err != NULL) {
			buf_t m = BUF_INIT;
			buf_append_escaped(&m, json_string_value(err), json_string_length(err));
			fprintf(out, "  (cannot decode: %s)\n", (char *)m.data);
			buf_free(&m);
		} else if (e->data_len)
			fprintf(out, "  data: %s\n",
			        json_string_value(json_object_get(ev, "data")));
	}
	json_t *pcrs = json_object_get(doc, "pcrs"), *bank;
	const char *alg;
	json_object_foreach(pcrs, alg, bank)
	{
		const char *idx;
		json_t *val;
		fprintf(out, "\nPCRs (%s):\n", alg);
		json_object_foreach(bank, idx, val)
		    fprintf(out, "  %2s: %s\n", idx, json_string_value(val));
	}
}

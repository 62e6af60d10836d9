/* devpath: UEFI device paths (UEFI spec, "Device Path Protocol") rendered as text, the
 * way firmware setup screens and efibootmgr show them, for event-log displays and for
 * matching boot entries in measured-boot policies. */
#include "common/evidence/devpath.h"

#include <stdio.h>
#include <string.h>

#include "common/base/bytes.h"
#include "common/evidence/eventlog.h"

#define DEVPATH_MAX_TEXT  8192 /* characters of rendered text */
#define DEVPATH_MAX_NODES 512  /* nodes in one path */

static void devpath_guid(buf_t *out, const uint8_t *g)
{
	char s[37];
	eventlog_guid_format(g, s);
	buf_append_str(out, s);
}

static void devpath_generic(buf_t *out, const uint8_t *node, uint16_t nlen)
{
	buf_appendf(out, "Path(%u,%u,", node[0], node[1]);
	hex_encode(out, node + 4, nlen - 4u);
	buf_append_str(out, ")");
}

/* One node as text. Nodes shorter than their type's layout are shown generically. */
static void devpath_node(buf_t *out, const uint8_t *d, uint16_t len)
{
	uint8_t type = d[0], sub = d[1];

	if (type == 1 && sub == 1 && len == 6) {
		buf_appendf(out, "Pci(0x%x,0x%x)", d[5], d[4]);
	} else if (type == 1 && sub == 4 && len >= 20) {
		buf_append_str(out, "VenHw(");
		devpath_guid(out, d + 4);
		if (len > 20) {
			buf_append_str(out, ",");
			hex_encode(out, d + 20, len - 20u);
		}
		buf_append_str(out, ")");
	} else if (type == 2 && sub == 1 && len == 12) {
		uint32_t hid = bytes_le32(d + 4), uid = bytes_le32(d + 8);
		if ((hid & 0xffff) == 0x41d0 && (hid >> 16) == 0x0a03)
			buf_appendf(out, "PciRoot(0x%x)", uid);
		else if ((hid & 0xffff) == 0x41d0 && (hid >> 16) == 0x0a08)
			buf_appendf(out, "PcieRoot(0x%x)", uid);
		else if ((hid & 0xffff) == 0x41d0)
			buf_appendf(out, "Acpi(PNP%04X,0x%x)", hid >> 16, uid);
		else
			buf_appendf(out, "Acpi(0x%08x,0x%x)", hid, uid);
	} else if (type == 3 && sub == 2 && len == 8) {
		buf_appendf(out, "Scsi(0x%x,0x%x)", bytes_le16(d + 4), bytes_le16(d + 6));
	} else if (type == 3 && sub == 5 && len == 6) {
		buf_appendf(out, "USB(0x%x,0x%x)", d[4], d[5]);
	} else if (type == 3 && sub == 0x12 && len == 10) {
		buf_appendf(out, "Sata(0x%x,0x%x,0x%x)", bytes_le16(d + 4), bytes_le16(d + 6),
		            bytes_le16(d + 8));
	} else if (type == 3 && sub == 0x17 && len == 16) {
		buf_appendf(out, "NVMe(0x%x,%02X-%02X-%02X-%02X-%02X-%02X-%02X-%02X)",
		            bytes_le32(d + 4), d[8], d[9], d[10], d[11], d[12], d[13], d[14],
		            d[15]);
	} else if (type == 3 && sub == 10 && len >= 20) {
		buf_append_str(out, "VenMsg(");
		devpath_guid(out, d + 4);
		buf_append_str(out, ")");
	} else if (type == 4 && sub == 1 && len == 42) {
		uint8_t sigtype = d[41];
		buf_appendf(out, "HD(%u,", bytes_le32(d + 4));
		if (sigtype == 2) {
			buf_append_str(out, "GPT,");
			devpath_guid(out, d + 24);
		} else if (sigtype == 1) {
			buf_appendf(out, "MBR,0x%08x", bytes_le32(d + 24));
		} else {
			buf_appendf(out, "%u,0", sigtype);
		}
		buf_appendf(out, ",0x%llx,0x%llx)", (unsigned long long)bytes_le64(d + 8),
		            (unsigned long long)bytes_le64(d + 16));
	} else if (type == 4 && sub == 2 && len == 24) {
		buf_appendf(out, "CDROM(0x%x,0x%llx,0x%llx)", bytes_le32(d + 4),
		            (unsigned long long)bytes_le64(d + 8),
		            (unsigned long long)bytes_le64(d + 16));
	} else if (type == 4 && sub == 3 && len >= 20) {
		buf_append_str(out, "VenMedia(");
		devpath_guid(out, d + 4);
		buf_append_str(out, ")");
	} else if (type == 4 && sub == 4 && len % 2 == 0) {
		eventlog_ucs2_to_utf8(d + 4, len - 4u, out);
	} else if (type == 4 && sub == 6 && len == 20) {
		buf_append_str(out, "FvFile(");
		devpath_guid(out, d + 4);
		buf_append_str(out, ")");
	} else if (type == 4 && sub == 7 && len == 20) {
		buf_append_str(out, "FvVol(");
		devpath_guid(out, d + 4);
		buf_append_str(out, ")");
	} else if (type == 4 && sub == 8 && len == 24) {
		buf_appendf(out, "Offset(0x%llx,0x%llx)", (unsigned long long)bytes_le64(d + 8),
		            (unsigned long long)bytes_le64(d + 16));
	} else {
		devpath_generic(out, d, len);
	}
}

int eventlog_devpath_format(const uint8_t *dp, size_t len, buf_t *out, err_t *e)
{
	size_t off = 0, nodes = 0, start = out->len;
	int need_sep = 0;

	while (off < len) {
		if (len - off < 4) {
			err_set(e, "device path node truncated at byte %zu", off);
			return -1;
		}
		const uint8_t *d = dp + off;
		uint16_t nlen = bytes_le16(d + 2);
		if (nlen < 4 || nlen > len - off) {
			err_set(e, "device path node at byte %zu has length %u (%zu bytes left)",
			        off, nlen, len - off);
			return -1;
		}
		if (++nodes > DEVPATH_MAX_NODES) {
			err_set(e, "device path has more than %u nodes", DEVPATH_MAX_NODES);
			return -1;
		}
		off += nlen;
		if (d[0] == 0x7f && d[1] == 0xff)
			break;
		if (d[0] == 0x7f && d[1] == 0x01) {
			buf_append_str(out, ",");
			need_sep = 0;
			continue;
		}
		if (need_sep)
			buf_append_str(out, "/");
		devpath_node(out, d, nlen);
		need_sep = 1;
		if (out->len - start > DEVPATH_MAX_TEXT) {
			err_set(e, "device path text longer than %u characters", DEVPATH_MAX_TEXT);
			return -1;
		}
	}
	if (out->data == NULL)
		buf_append(out, "", 0);
	return 0;
}

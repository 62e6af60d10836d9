/* mb_policy_gen: a measured-boot refstate made from a golden machine's event log, the way
 * keylime-policy create measured-boot does (vigilctl policy create mb). See mb_policy_gen.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/base/log.h"
#include "common/evidence/devpath.h"
#include "common/policy/mb_policy.h"
#include "common/policy/mb_policy_gen.h"
#include "common/policy/mb_policy_priv.h"
#include "common/policy/pyregex.h"

static json_t *sha256_obj(const eventlog_event_t *ev)
{
	char hex[65], v[68];
	if (mb_policy_ev_hex(ev, "sha256", hex, sizeof(hex)) < 0)
		return NULL;
	snprintf(v, sizeof(v), "0x%s", hex);
	json_t *o = json_object();
	json_object_set_new(o, "sha256", json_string(v));
	return o;
}

static json_t *sha256_str(const eventlog_event_t *ev)
{
	char hex[65], v[68];
	if (mb_policy_ev_hex(ev, "sha256", hex, sizeof(hex)) < 0)
		return NULL;
	snprintf(v, sizeof(v), "0x%s", hex);
	return json_string(v);
}

static json_t *sig_json(const uint8_t *owner, const uint8_t *data, size_t len)
{
	char g[37];
	buf_t h = BUF_INIT;
	json_t *o = json_object();

	eventlog_guid_format(owner, g);
	buf_append_str(&h, "0x");
	hex_encode(&h, data, len);
	json_object_set_new(o, "SignatureOwner", json_string(g));
	json_object_set_new(o, "SignatureData", json_string((char *)h.data));
	buf_free(&h);
	return o;
}

static int is_fw_app(const eventlog_event_t *ev)
{
	eventlog_image_load_t im;
	buf_t t = BUF_INIT;
	int r = 0;

	if (eventlog_image_load_decode(ev, &im, NULL) == 0 &&
	    eventlog_devpath_format(im.devpath, im.devpath_len, &t, NULL) == 0) {
		/* FvVol(<guid>)/FvFile(<guid>): firmware's own UEFI applications (boot menu). */
		const char *s = (const char *)t.data;
		uint8_t g[16];
		char a[37], b[37];
		if (t.len >= 6 + 36 + 9 + 36 + 1 && strncmp(s, "FvVol(", 6) == 0 &&
		    strncmp(s + 42, ")/FvFile(", 9) == 0 && s[87] == ')') {
			memcpy(a, s + 6, 36);
			a[36] = 0;
			memcpy(b, s + 51, 36);
			b[36] = 0;
			r = eventlog_guid_parse(a, g) == 0 && eventlog_guid_parse(b, g) == 0;
		}
	}
	buf_free(&t);
	return r;
}

int mb_policy_create(const eventlog_t *log, int without_secureboot, buf_t *out, err_t *e)
{
	json_t *root = json_object(), *keys[4], *vendor = json_array(), *mok = json_array(),
	       *mokx = json_array(), *fw = json_array(), *kernel = json_object();
	const char *const keynames[4] = {"PK", "KEK", "db", "dbx"};
	const eventlog_event_t *scrtm = NULL, *bsa[4];
	size_t nbsa = 0, n = eventlog_count(log);
	int has_sb = -1, rv = -1;
	char *text = NULL;
	mb_policy_t *self = NULL;
	mb_failure_t f;
	const uint8_t *s;
	size_t sl;

	for (int i = 0; i < 4; i++)
		keys[i] = json_array();
	int found = 0;
	for (size_t b = 0; b < eventlog_bank_count(log); b++)
		found |= eventlog_bank(log, b)->alg == EVENTLOG_ALG_SHA256;
	if (!found) {
		err_set(e, "the event log has no sha256 bank; a measured-boot policy needs sha256 "
		           "digests");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const eventlog_event_t *ev = eventlog_event(log, i);
		eventlog_efi_var_t v;
		if (ev->type == EV_EFI_VARIABLE_DRIVER_CONFIG &&
		    eventlog_efi_var_decode(ev, &v, NULL) == 0) {
			if (strcmp(v.name, "SecureBoot") == 0 && has_sb < 0)
				has_sb = mb_policy_var_enabled(&v) == 1;
			for (int k = 0; k < 4; k++) {
				if (strcmp(v.name, keynames[k]) != 0)
					continue;
				/* The last measurement of a variable wins, as in Keylime. */
				json_array_clear(keys[k]);
				const uint8_t *p = v.data;
				size_t left = v.data_len;
				eventlog_siglist_t l;
				while (eventlog_siglist_next(&p, &left, &l, NULL) == 1)
					for (uint32_t j = 0; j < l.count; j++) {
						const uint8_t *sg = l.sigs + (size_t)j * l.sig_size;
						json_array_append_new(
						    keys[k],
						    sig_json(sg, sg + 16, l.sig_size - 16u));
					}
			}
		} else if (ev->type == EV_EFI_VARIABLE_AUTHORITY &&
		           eventlog_efi_var_decode(ev, &v, NULL) == 0 &&
		           strcmp(v.name, "vendor_db") == 0 && v.data_len >= 16) {
			json_array_append_new(vendor,
			                      sig_json(v.data, v.data + 16, v.data_len - 16));
		} else if (ev->type == EV_IPL && eventlog_event_string(ev, &s, &sl) == 0) {
			json_t *d = NULL;
			if ((sl == 7 && memcmp(s, "MokList", 7) == 0) ||
			    (sl == 8 && memcmp(s, "MokListX", 8) == 0)) {
				if ((d = sha256_obj(ev)) == NULL) {
					err_set(e, "event %u: no sha256 digest", ev->index);
					goto out;
				}
				json_array_append_new(sl == 7 ? mok : mokx, d);
			}
		} else if (ev->type == EV_S_CRTM_VERSION && scrtm == NULL) {
			scrtm = ev;
		} else if (ev->type == EV_EFI_PLATFORM_FIRMWARE_BLOB ||
		           ev->type == EV_EFI_PLATFORM_FIRMWARE_BLOB2) {
			json_t *d = sha256_obj(ev);
			json_array_append_new(fw, d ? d : json_object());
		} else if (ev->type == EV_EFI_BOOT_SERVICES_APPLICATION && !is_fw_app(ev)) {
			if (nbsa == 4) {
				nbsa = 5;
				continue;
			}
			if (nbsa < 4)
				bsa[nbsa++] = ev;
		}
	}
	if (has_sb < 0) {
		log_warnx("the Secure Boot state is not in the event log; assuming disabled");
		has_sb = 0;
	}
	if (!has_sb && !without_secureboot) {
		err_set(e, "the event log shows Secure Boot disabled; use --without-secureboot to "
		           "make a policy for measured boot only");
		goto out;
	}
	if (has_sb && without_secureboot)
		log_warnx("--without-secureboot ignored: the event log shows Secure Boot enabled");
	if (scrtm == NULL) {
		err_set(e, "the event log has no EV_S_CRTM_VERSION event; the policy requires one");
		goto out;
	}
	if (has_sb ? (nbsa != 3 && nbsa != 4) : nbsa != 2) {
		err_set(
		    e, "expected %s UEFI applications (shim, grub%s) in the event log, found %s%zu",
		    has_sb ? "3" : "2", has_sb ? ", kernel" : "", nbsa > 4 ? "more than " : "",
		    nbsa > 4 ? (size_t)4 : nbsa);
		goto out;
	}
	json_t *sh = sha256_str(bsa[0]), *gr = sha256_str(bsa[1]);
	json_t *kn = has_sb ? sha256_str(bsa[2]) : json_null();
	if (sh == NULL || gr == NULL || kn == NULL) {
		json_decref(sh);
		json_decref(gr);
		json_decref(kn);
		err_set(e, "a UEFI application event has no sha256 digest");
		goto out;
	}
	if (has_sb)
		json_object_set_new(kernel, "kernel_authcode_sha256", kn);
	else
		json_decref(kn);
	json_object_set_new(kernel, "shim_authcode_sha256", sh);
	json_object_set_new(kernel, "grub_authcode_sha256", gr);
	const char *want[] = {"initrd_plain_sha256", "vmlinuz_plain_sha256", "kernel_cmdline"};
	for (int w = 0; w < 3; w++) {
		if (w == 1 && has_sb)
			continue;
		for (size_t i = 0; i < n; i++) {
			const eventlog_event_t *ev = eventlog_event(log, i);
			if (ev->type != EV_IPL || eventlog_event_string(ev, &s, &sl) < 0)
				continue;
			if (w == 0 && ev->pcr == 9 &&
			    (memmem(s, sl, "initrd", 6) || memmem(s, sl, "initramfs", 9))) {
				json_t *d = sha256_str(ev);
				if (d != NULL)
					json_object_set_new(kernel, want[w], d);
				break;
			}
			if (w == 1 && ev->pcr == 9 && memmem(s, sl, "vmlinuz", 7)) {
				json_t *d = sha256_str(ev);
				if (d != NULL)
					json_object_set_new(kernel, want[w], d);
				break;
			}
			if (w == 2 && ev->pcr == 8 &&
			    mb_policy_has_prefix(s, sl, "kernel_cmdline: ")) {
				buf_t re = BUF_INIT;
				pyregex_escape(s + 16, sl - 16, &re);
				json_t *str = json_stringn((char *)re.data, re.len);
				buf_free(&re);
				if (str == NULL) {
					err_set(e, "event %u: the kernel command line is not UTF-8",
					        ev->index);
					goto out;
				}
				json_object_set_new(kernel, want[w], str);
				break;
			}
		}
		if (json_object_get(kernel, want[w]) == NULL) {
			err_set(e, "the event log has no %s event (%s)",
			        w == 0   ? "initrd EV_IPL (PCR 9)"
			        : w == 1 ? "vmlinuz EV_IPL (PCR 9)"
			                 : "kernel_cmdline EV_IPL (PCR 8)",
			        want[w]);
			goto out;
		}
	}
	json_t *sc = sha256_obj(scrtm);
	if (sc == NULL) {
		err_set(e, "the EV_S_CRTM_VERSION event has no sha256 digest");
		goto out;
	}
	json_t *sb = json_object(), *sbl = json_array();
	json_object_set_new(sb, "scrtm", sc);
	json_object_set(sb, "platform_firmware", fw);
	json_array_append_new(sbl, sb);
	json_object_set_new(root, "has_secureboot", json_boolean(has_sb));
	json_object_set_new(root, "scrtm_and_bios", sbl);
	json_object_set(root, "pk", keys[0]);
	json_object_set(root, "kek", keys[1]);
	json_object_set(root, "db", keys[2]);
	json_object_set(root, "dbx", keys[3]);
	json_object_set(root, "vendor_db", vendor);
	json_object_set(root, "mokdig", mok);
	json_object_set(root, "mokxdig", mokx);
	json_t *kl = json_array();
	json_array_append(kl, kernel);
	json_object_set_new(root, "kernels", kl);
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	if (text == NULL) {
		err_set(e, "cannot serialise the policy");
		goto out;
	}
	/* Never hand out a policy that fails the very log it was made from: judge the log with
	 * it, as the verifier will. What fails here is an event the refstate format has no
	 * place for (EV_POST_CODE, EV_S_CRTM_CONTENTS or EV_NONHOST_INFO in PCR 0, for one):
	 * allowing it unchecked would let it change unnoticed, so the log is refused. */
	if ((self = mb_policy_load(text, strlen(text), e)) == NULL)
		goto out;
	if (mb_policy_evaluate(self, log, &f) < 0) {
		err_set(e,
		        "no measured-boot policy can describe this boot; the one made from the log "
		        "fails it at %s",
		        f.reason);
		goto out;
	}
	buf_append_str(out, text);
	buf_append_str(out, "\n");
	rv = 0;
out:
	mb_policy_free(self);
	free(text);
	for (int i = 0; i < 4; i++)
		json_decref(keys[i]);
	json_decref(vendor);
	json_decref(mok);
	json_decref(mokx);
	json_decref(fw);
	json_decref(kernel);
	json_decref(root);
	return rv;
}

/* mb_policy_eval: a UEFI event log judged against a loaded measured-boot policy, with the
 * verdicts of Keylime's "example" policy engine: every event through the (PCR, event type)
 * dispatcher, then the per-kernel and S-CRTM checks over what the walk collected. See
 * mb_policy.h and docs/policies.md. */
#include <ctype.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/policy/mb_policy.h"
#include "common/policy/mb_policy_priv.h"
#include "common/base/xmalloc.h"

#define MAX_PLATFORM_FLAGS 4 /* EV_PLATFORM_CONFIG_FLAGS events edk2 may log */

/* Pointers to events, collected while walking the log for the checks at the end. */
typedef struct evlist {
	const eventlog_event_t **v; /* owned array of borrowed events */
	size_t n;                   /* used entries */
	size_t cap;                 /* allocated entries */
} evlist_t;

static void evlist_add(evlist_t *l, const eventlog_event_t *ev)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = ev;
}

/* The state of one evaluation. */
typedef struct eval {
	const mb_policy_t *p;  /* the policy */
	mb_failure_t *f;       /* where the verdict goes (never NULL here) */
	unsigned once[24];     /* uses of each at-most-once rule, by ONCE_* */
	unsigned config_flags; /* EV_PLATFORM_CONFIG_FLAGS seen */
	evlist_t scrtm;        /* (0, EV_S_CRTM_VERSION) */
	evlist_t fw;           /* (0, EV_EFI_PLATFORM_FIRMWARE_BLOB/BLOB2) */
	evlist_t bsa;          /* (4, EV_EFI_BOOT_SERVICES_APPLICATION) */
	evlist_t initrd;       /* (9, EV_IPL) initrd/initramfs */
	evlist_t vmlinuz;      /* (9, EV_IPL) vmlinuz */
	evlist_t cmdline;      /* (8, EV_IPL) kernel_cmdline */
} eval_t;

enum {
	ONCE_MICROCODE,
	ONCE_HANDOFF,
	ONCE_HANDOFF2,
	ONCE_GPT,
	ONCE_PK,
	ONCE_KEK,
	ONCE_DB,
	ONCE_DBX,
	ONCE_VENDOR_DB,
	ONCE_AUTH_DB,
	ONCE_AUTH_VENDOR_DB,
	ONCE_SBAT,
	ONCE_SHIM,
	ONCE_MOK_TRUSTED_VAR,
	ONCE_MOK_RT,
	ONCE_MOK_TRUSTED_IPL,
};

static void type_str(uint32_t type, char *out, size_t n)
{
	const char *name = eventlog_type_name(type);
	if (name != NULL)
		snprintf(out, n, "%s", name);
	else
		snprintf(out, n, "event type 0x%08x", type);
}

static int fail_ev(eval_t *c, const eventlog_event_t *ev, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_ev(eval_t *c, const eventlog_event_t *ev, const char *fmt, ...)
{
	char why[512], t[48];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	type_str(ev->type, t, sizeof(t));
	c->f->event = ev->index;
	c->f->pcr = (int)ev->pcr;
	c->f->type = ev->type;
	snprintf(c->f->reason, sizeof(c->f->reason), "event %u (PCR %u, %s): %s", ev->index,
	         ev->pcr, t, why);
	return -1;
}

int mb_policy_ev_hex(const eventlog_event_t *ev, const char *alg, char *out, size_t n)
{
	for (uint32_t i = 0; i < ev->ndigests; i++) {
		const char *name = eventlog_alg_name(ev->digests[i].alg);
		if (name == NULL || strcmp(name, alg) != 0 || n < 2u * ev->digests[i].len + 1)
			continue;
		for (size_t k = 0; k < ev->digests[i].len; k++)
			snprintf(out + 2 * k, 3, "%02x", ev->digests[i].bytes[k]);
		out[2 * ev->digests[i].len] = 0;
		return 0;
	}
	return -1;
}

/* Keylime's DigestsTest: one of the event's digests equals one pair of one dict. */
static int ev_in_dicts(const eventlog_event_t *ev, const dd_t *dicts, size_t ndicts)
{
	char hex[2 * EVENTLOG_MAX_DIGEST + 1];
	for (uint32_t i = 0; i < ev->ndigests; i++) {
		const char *name = eventlog_alg_name(ev->digests[i].alg);
		if (name == NULL)
			continue;
		if (mb_policy_ev_hex(ev, name, hex, sizeof(hex)) < 0)
			continue;
		for (size_t d = 0; d < ndicts; d++)
			for (size_t k = 0; k < dicts[d].n; k++)
				if (strcmp(dicts[d].v[k].alg, name) == 0 &&
				    strcmp(dicts[d].v[k].hex, hex) == 0)
					return 1;
	}
	return 0;
}

/* A short description of the event's digest for reasons: "sha256 digest 0abc...". */
static void ev_digest_text(const eventlog_event_t *ev, char *out, size_t n)
{
	char hex[2 * EVENTLOG_MAX_DIGEST + 1];
	if (mb_policy_ev_hex(ev, "sha256", hex, sizeof(hex)) == 0)
		snprintf(out, n, "sha256 digest %s", hex);
	else if (ev->ndigests > 0 && eventlog_alg_name(ev->digests[0].alg) != NULL &&
	         mb_policy_ev_hex(ev, eventlog_alg_name(ev->digests[0].alg), hex, sizeof(hex)) == 0)
		snprintf(out, n, "%s digest %s (no sha256 digest)",
		         eventlog_alg_name(ev->digests[0].alg), hex);
	else
		snprintf(out, n, "no sha256 digest");
}

static int ev_sha256_is(const eventlog_event_t *ev, const char *hex)
{
	char h[65];
	return mb_policy_ev_hex(ev, "sha256", h, sizeof(h)) == 0 && strcmp(h, hex) == 0;
}

/* Every digest of a hash we can compute equals H(bytes), and there is at least one: what a
 * separator or an EFI action string must be measured as. */
static int ev_digests_of(const eventlog_event_t *ev, const void *bytes, size_t n)
{
	static const struct {
		uint16_t alg;     /* TPM_ALG_ID */
		const char *name; /* OpenSSL name */
	} mds[] = {{EVENTLOG_ALG_SHA1, "SHA1"},
	           {EVENTLOG_ALG_SHA256, "SHA256"},
	           {EVENTLOG_ALG_SHA384, "SHA384"},
	           {EVENTLOG_ALG_SHA512, "SHA512"},
	           {EVENTLOG_ALG_SM3_256, "SM3"}};
	int checked = 0;

	for (uint32_t i = 0; i < ev->ndigests; i++)
		for (size_t k = 0; k < sizeof(mds) / sizeof(mds[0]); k++) {
			if (mds[k].alg != ev->digests[i].alg)
				continue;
			EVP_MD *md = EVP_MD_fetch(NULL, mds[k].name, NULL);
			uint8_t h[EVP_MAX_MD_SIZE];
			unsigned hl = 0;
			if (md == NULL)
				continue;
			int ok = EVP_Digest(bytes, n, h, &hl, md, NULL);
			EVP_MD_free(md);
			if (!ok || hl != ev->digests[i].len || memcmp(h, ev->digests[i].bytes, hl))
				return 0;
			checked = 1;
		}
	return checked;
}

static int once(eval_t *c, const eventlog_event_t *ev, int rule, const char *what)
{
	if (c->once[rule]++ > 0)
		return fail_ev(c, ev, "%s may appear only once", what);
	return 0;
}

static int check_separator(eval_t *c, const eventlog_event_t *ev)
{
	static const uint8_t zero[4] = {0, 0, 0, 0}, ones[4] = {0xff, 0xff, 0xff, 0xff};
	if (ev->data_len != 4 || (memcmp(ev->data, zero, 4) && memcmp(ev->data, ones, 4)))
		return fail_ev(c, ev, "separator data must be 00000000 or ffffffff");
	if (!ev_digests_of(ev, ev->data, 4))
		return fail_ev(c, ev, "separator digests are not the hash of its data");
	return 0;
}

static int check_efi_action(eval_t *c, const eventlog_event_t *ev)
{
	static const char *const pcr1[] = {"Entering ROM Based Setup", NULL};
	static const char *const pcr4[] = {"Calling EFI Application from Boot Option",
	                                   "Returning from EFI Application from Boot Option", NULL};
	static const char *const pcr5[] = {"Exit Boot Services Invocation",
	                                   "Exit Boot Services Returned with Failure",
	                                   "Exit Boot Services Returned with Success", NULL};
	const char *const *ok = ev->pcr == 1 ? pcr1 : ev->pcr == 4 ? pcr4 : pcr5;
	const uint8_t *s;
	size_t n;

	if (eventlog_event_string(ev, &s, &n) < 0)
		return fail_ev(c, ev, "the action is not a string");
	for (; *ok != NULL; ok++)
		if (n == strlen(*ok) && memcmp(s, *ok, n) == 0) {
			if (!ev_digests_of(ev, *ok, n))
				return fail_ev(c, ev, "digests are not the hash of \"%s\"", *ok);
			return 0;
		}
	char t[TEXT_MAX];
	return fail_ev(c, ev, "\"%s\" is not an EFI action the TCG spec defines for PCR %u",
	               text_escape(t, sizeof(t), s, n), ev->pcr);
}

/* Signature lists of a DRIVER_CONFIG key variable: every list of an allowed type and every
 * key in the allowed set (Keylime's KeySubset / KeySubsetMulti). */
static int check_keys_subset(eval_t *c, const eventlog_event_t *ev, const eventlog_efi_var_t *v,
                             int allow_sha256, const mb_sigset_t *set, const char *what)
{
	const uint8_t *p = v->data;
	size_t left = v->data_len;
	eventlog_siglist_t l;
	err_t why = {""};
	int r, li = 0;
	char g[37];

	while ((r = eventlog_siglist_next(&p, &left, &l, &why)) == 1) {
		if (memcmp(l.type, EVENTLOG_GUID_CERT_X509, 16) != 0 &&
		    !(allow_sha256 && memcmp(l.type, EVENTLOG_GUID_CERT_SHA256, 16) == 0)) {
			eventlog_guid_format(l.type, g);
			return fail_ev(c, ev, "%s signature list %d has type %s, expected %s", what,
			               li, g, allow_sha256 ? "X509 or SHA256" : "X509");
		}
		for (uint32_t i = 0; i < l.count; i++) {
			const uint8_t *s = l.sigs + (size_t)i * l.sig_size;
			if (!mb_policy_sigset_has(set, s, s + 16, l.sig_size - 16u)) {
				char h[41] = "";
				eventlog_guid_format(s, g);
				for (size_t k = 0; k < 16 && k < l.sig_size - 16u; k++)
					snprintf(h + 2 * k, 3, "%02x", s[16 + k]);
				return fail_ev(
				    c, ev,
				    "%s entry (owner %s, data 0x%s..., %u bytes) is not in "
				    "the policy's %s",
				    what, g, h, l.sig_size - 16u, what);
			}
		}
		li++;
	}
	if (r < 0)
		return fail_ev(c, ev, "%s: %s", what, why.msg);
	return 0;
}

/* dbx: at least every required entry, in whichever of its signature lists (Keylime's
 * KeySuperset). Firmware and dbx updates write several lists (SHA256 hashes, X509
 * certificates, one list per update); every entry of any list only revokes more, so the
 * number and types of the lists do not matter, and an empty dbx passes an empty set. */
static int check_dbx(eval_t *c, const eventlog_event_t *ev, const eventlog_efi_var_t *v)
{
	const uint8_t *p = v->data;
	size_t left = v->data_len, n = 0, cap = 0;
	eventlog_siglist_t l;
	err_t why = {""};
	int r, rv = -1;
	mb_sigset_t have = {NULL, 0};

	while ((r = eventlog_siglist_next(&p, &left, &l, &why)) == 1)
		for (uint32_t i = 0; i < l.count; i++) {
			const uint8_t *s = l.sigs + (size_t)i * l.sig_size;
			if (n == cap) {
				cap = cap ? 2 * cap : 64;
				have.v = xrealloc(have.v, cap * sizeof(*have.v));
			}
			memcpy(have.v[n].owner, s, 16);
			have.v[n].data = (uint8_t *)(uintptr_t)(s + 16); /* borrowed, read only */
			have.v[n].len = l.sig_size - 16u;
			n++;
		}
	if (r < 0) {
		fail_ev(c, ev, "dbx: %s", why.msg);
		goto out;
	}
	have.n = n;
	if (n)
		qsort(have.v, have.n, sizeof(*have.v), mb_policy_sig_cmp);
	for (size_t i = 0; i < c->p->dbx.n; i++) {
		const mb_sig_t *need = &c->p->dbx.v[i];
		if (!mb_policy_sigset_has(&have, need->owner, need->data, need->len)) {
			char g[37], h[41] = "";
			eventlog_guid_format(need->owner, g);
			for (size_t k = 0; k < 16 && k < need->len; k++)
				snprintf(h + 2 * k, 3, "%02x", need->data[k]);
			fail_ev(c, ev, "dbx lacks the required entry (owner %s, data 0x%s...)", g,
			        h);
			goto out;
		}
	}
	rv = 0;
out:
	free(have.v);
	return rv;
}

int mb_policy_var_enabled(const eventlog_efi_var_t *v)
{
	if (v->data_len > 1)
		return -1;
	return v->data_len == 1 && v->data[0] != 0;
}

static int check_driver_config(eval_t *c, const eventlog_event_t *ev)
{
	const mb_policy_t *p = c->p;
	eventlog_efi_var_t v;
	err_t why = {""};
	int global, imgsec, accept = !p->has_secureboot;

	if (eventlog_efi_var_decode(ev, &v, &why) < 0)
		return fail_ev(c, ev, "%s", why.msg);
	/* Keylime judges the variable's contents without checking that they are what was
	 * measured; we do, or an altered log could show keys other than the measured ones. */
	if (!ev_digests_of(ev, ev->data, ev->data_len))
		return fail_ev(c, ev, "the variable data does not match the event's digests");
	global = memcmp(v.guid, EVENTLOG_GUID_EFI_GLOBAL, 16) == 0;
	imgsec = memcmp(v.guid, EVENTLOG_GUID_IMAGE_SECURITY, 16) == 0;
	if (global && strcmp(v.name, "SecureBoot") == 0) {
		int en = mb_policy_var_enabled(&v);
		if (en < 0)
			return fail_ev(c, ev, "SecureBoot variable has %zu bytes", v.data_len);
		if (en != p->has_secureboot)
			return fail_ev(c, ev, "Secure Boot is %s, the policy expects it %s",
			               en ? "enabled" : "disabled",
			               p->has_secureboot ? "enabled" : "disabled");
		return 0;
	}
	if (global && strcmp(v.name, "PK") == 0) {
		if (once(c, ev, ONCE_PK, "PK") < 0)
			return -1;
		return accept && p->pk.n == 0 ? 0 : check_keys_subset(c, ev, &v, 0, &p->pk, "PK");
	}
	if (global && strcmp(v.name, "KEK") == 0) {
		if (once(c, ev, ONCE_KEK, "KEK") < 0)
			return -1;
		return accept && p->kek.n == 0 ? 0
		                               : check_keys_subset(c, ev, &v, 0, &p->kek, "KEK");
	}
	if (imgsec && strcmp(v.name, "db") == 0) {
		if (once(c, ev, ONCE_DB, "db") < 0)
			return -1;
		return accept && p->db.n == 0 ? 0 : check_keys_subset(c, ev, &v, 1, &p->db, "db");
	}
	if (imgsec && strcmp(v.name, "vendor_db") == 0) {
		if (once(c, ev, ONCE_VENDOR_DB, "vendor_db") < 0)
			return -1;
		return accept && p->vendor_db.n == 0
		           ? 0
		           : check_keys_subset(c, ev, &v, 1, &p->vendor_db, "vendor_db");
	}
	if (imgsec && strcmp(v.name, "dbx") == 0) {
		if (once(c, ev, ONCE_DBX, "dbx") < 0)
			return -1;
		return accept && p->dbx.n == 0 ? 0 : check_dbx(c, ev, &v);
	}
	char g[37];
	eventlog_guid_format(v.guid, g);
	char t[TEXT_MAX];
	return fail_ev(c, ev, "variable %s %s is not one the policy allows", g,
	               text_escape(t, sizeof(t), v.name, strlen(v.name)));
}

static int check_authority(eval_t *c, const eventlog_event_t *ev)
{
	const mb_policy_t *p = c->p;
	eventlog_efi_var_t v;
	err_t why = {""};
	int imgsec, shim;

	if (eventlog_efi_var_decode(ev, &v, &why) < 0)
		return fail_ev(c, ev, "%s", why.msg);
	imgsec = memcmp(v.guid, EVENTLOG_GUID_IMAGE_SECURITY, 16) == 0;
	shim = memcmp(v.guid, EVENTLOG_GUID_SHIM_LOCK, 16) == 0;
	/* The certificate that verified shim: trusted because shim's digest is checked. */
	if (imgsec && strcmp(v.name, "db") == 0)
		return once(c, ev, ONCE_AUTH_DB, "the db authority");
	if (imgsec && strcmp(v.name, "vendor_db") == 0) {
		if (once(c, ev, ONCE_AUTH_VENDOR_DB, "the vendor_db authority") < 0)
			return -1;
		if (!p->has_secureboot && p->vendor_db.n == 0)
			return 0;
		if (!ev_digests_of(ev, ev->data, ev->data_len))
			return fail_ev(c, ev,
			               "the variable data does not match the event's digests");
		if (v.data_len < 16 ||
		    !mb_policy_sigset_has(&p->vendor_db, v.data, v.data + 16, v.data_len - 16))
			return fail_ev(c, ev,
			               "the vendor_db certificate is not in the policy's "
			               "vendor_db");
		return 0;
	}
	if (shim && strcmp(v.name, "SbatLevel") == 0)
		return once(c, ev, ONCE_SBAT, "SbatLevel");
	if (shim && strcmp(v.name, "Shim") == 0)
		return once(c, ev, ONCE_SHIM, "the Shim authority");
	if (shim && strcmp(v.name, "MokListTrusted") == 0) {
		if (once(c, ev, ONCE_MOK_TRUSTED_VAR, "MokListTrusted") < 0)
			return -1;
		if (mb_policy_var_enabled(&v) < 0)
			return fail_ev(c, ev, "MokListTrusted variable has %zu bytes", v.data_len);
		return 0;
	}
	if (shim && strcmp(v.name, "MokListRT") == 0)
		return once(c, ev, ONCE_MOK_RT, "MokListRT");
	char g[37];
	eventlog_guid_format(v.guid, g);
	char t[TEXT_MAX];
	return fail_ev(c, ev, "authority variable %s %s is not one the policy allows", g,
	               text_escape(t, sizeof(t), v.name, strlen(v.name)));
}

static int check_variable_boot(eval_t *c, const eventlog_event_t *ev)
{
	eventlog_efi_var_t v;
	err_t why = {""};
	size_t n;

	if (eventlog_efi_var_decode(ev, &v, &why) < 0)
		return fail_ev(c, ev, "%s", why.msg);
	n = strlen(v.name);
	int boot = n > 4 && strncmp(v.name, "Boot", 4) == 0;
	for (size_t i = 4; boot && i < n; i++)
		boot = isxdigit((unsigned char)v.name[i]);
	if (memcmp(v.guid, EVENTLOG_GUID_EFI_GLOBAL, 16) != 0 ||
	    !(strcmp(v.name, "BootOrder") == 0 || boot)) {
		char t[TEXT_MAX];
		return fail_ev(c, ev, "boot variable %s is not BootOrder or Boot####",
		               text_escape(t, sizeof(t), v.name, strlen(v.name)));
	}
	return 0;
}

/* Python fullmatch of ".*NEEDLE.*" without DOTALL: no newline anywhere, needle inside. */
static int dotstar_has(const uint8_t *s, size_t n, const char *needle)
{
	return memchr(s, '\n', n) == NULL && memmem(s, n, needle, strlen(needle)) != NULL;
}

int mb_policy_has_prefix(const uint8_t *s, size_t n, const char *pre)
{
	size_t k = strlen(pre);
	return n >= k && memcmp(s, pre, k) == 0;
}

static int check_ipl(eval_t *c, const eventlog_event_t *ev)
{
	const mb_policy_t *p = c->p;
	const uint8_t *s;
	size_t n;
	char t[TEXT_MAX];

	if (eventlog_event_string(ev, &s, &n) < 0)
		return fail_ev(c, ev, "the event data is not a string");
	if (ev->pcr == 14) {
		if (n == 7 && memcmp(s, "MokList", 7) == 0) {
			if (ev_in_dicts(ev, p->mok, p->nmok))
				return 0;
			char d[160];
			ev_digest_text(ev, d, sizeof(d));
			return fail_ev(c, ev, "MokList %s is not in mokdig", d);
		}
		if (n == 8 && memcmp(s, "MokListX", 8) == 0) {
			if (ev_in_dicts(ev, p->mokx, p->nmokx))
				return 0;
			char d[160];
			ev_digest_text(ev, d, sizeof(d));
			return fail_ev(c, ev, "MokListX %s is not in mokxdig", d);
		}
		if (n == 14 && memcmp(s, "MokListTrusted", 14) == 0)
			return once(c, ev, ONCE_MOK_TRUSTED_IPL, "MokListTrusted");
		return fail_ev(c, ev, "\"%s\" is not MokList, MokListX or MokListTrusted",
		               text_escape(t, sizeof(t), s, n));
	}
	if (ev->pcr == 9) {
		if (dotstar_has(s, n, "/loader/entries") || dotstar_has(s, n, "/grub"))
			return 0;
		if (dotstar_has(s, n, "/vmlinuz")) {
			evlist_add(&c->vmlinuz, ev);
			return 0;
		}
		if (dotstar_has(s, n, "/initrd") || dotstar_has(s, n, "/initramfs")) {
			evlist_add(&c->initrd, ev);
			return 0;
		}
		return fail_ev(c, ev, "\"%s\" is not a grub, loader entry, vmlinuz or initrd file",
		               text_escape(t, sizeof(t), s, n));
	}
	/* PCR 8: grub commands pass; the kernel command line is judged at the end. */
	if (mb_policy_has_prefix(s, n, "grub_cmd: "))
		return 0;
	if (mb_policy_has_prefix(s, n, "kernel_cmdline: ") && memchr(s, '\n', n) == NULL) {
		/* grub measures the command line after the prefix; the regex judges this text,
		 * so it must be what was measured (Keylime does not check this). */
		if (!ev_digests_of(ev, s + 16, n - 16))
			return fail_ev(c, ev,
			               "the kernel command line does not match the event's "
			               "digests");
		evlist_add(&c->cmdline, ev);
		return 0;
	}
	return fail_ev(c, ev, "\"%s\" is neither a grub_cmd nor a kernel_cmdline",
	               text_escape(t, sizeof(t), s, n));
}

/* One event through the (PCR, type) dispatcher. */
static int check_event(eval_t *c, const eventlog_event_t *ev)
{
	uint32_t pcr = ev->pcr, t = ev->type;

	/* EV_NO_ACTION events are extended into no PCR, so the quote vouches for none of them
	 * and there is nothing to judge: firmware writes several (the Spec ID header, the
	 * StartupLocality of locality-3 machines, SP800-155 reference events), and the one that
	 * matters, StartupLocality, already had to replay to the quoted PCR 0. */
	if (t == EV_NO_ACTION)
		return 0;
	if (t == EV_SEPARATOR && pcr <= 7)
		return check_separator(c, ev);
	switch (pcr) {
	case 0:
		if (t == EV_S_CRTM_VERSION) {
			evlist_add(&c->scrtm, ev);
			return 0;
		}
		if (t == EV_EFI_PLATFORM_FIRMWARE_BLOB || t == EV_EFI_PLATFORM_FIRMWARE_BLOB2) {
			evlist_add(&c->fw, ev);
			return 0;
		}
		break;
	case 1:
		if (t == EV_CPU_MICROCODE)
			return once(c, ev, ONCE_MICROCODE, "EV_CPU_MICROCODE");
		if (t == EV_EFI_HANDOFF_TABLES)
			return once(c, ev, ONCE_HANDOFF, "EV_EFI_HANDOFF_TABLES");
		if (t == EV_EFI_HANDOFF_TABLES2)
			return once(c, ev, ONCE_HANDOFF2, "EV_EFI_HANDOFF_TABLES2");
		if (t == EV_EFI_VARIABLE_BOOT)
			return check_variable_boot(c, ev);
		if (t == EV_PLATFORM_CONFIG_FLAGS) {
			if (++c->config_flags > MAX_PLATFORM_FLAGS)
				return fail_ev(c, ev,
				               "more than %d EV_PLATFORM_CONFIG_FLAGS events",
				               MAX_PLATFORM_FLAGS);
			return 0;
		}
		if (t == EV_EFI_ACTION)
			return check_efi_action(c, ev);
		break;
	case 2:
		if (t == EV_EFI_BOOT_SERVICES_DRIVER)
			return 0; /* option ROM drivers: no reference values */
		break;
	case 4:
		if (t == EV_EFI_ACTION)
			return check_efi_action(c, ev);
		if (t == EV_EFI_BOOT_SERVICES_APPLICATION) {
			evlist_add(&c->bsa, ev);
			return 0;
		}
		break;
	case 5:
		if (t == EV_EFI_ACTION)
			return check_efi_action(c, ev);
		if (t == EV_EFI_GPT_EVENT)
			return once(c, ev, ONCE_GPT, "EV_EFI_GPT_EVENT");
		break;
	case 7:
		if (t == EV_EFI_VARIABLE_DRIVER_CONFIG)
			return check_driver_config(c, ev);
		if (t == EV_EFI_VARIABLE_AUTHORITY)
			return check_authority(c, ev);
		break;
	case 8:
	case 9:
	case 14:
		if (t == EV_IPL)
			return check_ipl(c, ev);
		break;
	default:
		break;
	}
	return fail_ev(c, ev,
	               "this PCR and event type combination is not allowed by the "
	               "measured-boot policy");
}

/* One sha256 digest check for the end-of-log tests; appends a reason on mismatch. */
static int want_sha256(const eventlog_event_t *ev, const char *hex, const char *field, size_t kidx,
                       char *why, size_t n)
{
	if (ev_sha256_is(ev, hex))
		return 0;
	char d[160], t[48];
	ev_digest_text(ev, d, sizeof(d));
	type_str(ev->type, t, sizeof(t));
	snprintf(why, n, "event %u (PCR %u, %s): %s is not the %s 0x%s of kernels[%zu]", ev->index,
	         ev->pcr, t, d, field, hex, kidx);
	return -1;
}

/* Keylime's per-kernel FieldsTest: bsas, ipl9s, vmlinuz, kernel_cmdlines. */
static int kernel_why(eval_t *c, size_t ki, char *why, size_t n, int *ev_out, int *pcr_out)
{
	const kernel_t *k = &c->p->kernels[ki];
	const evlist_t *b = &c->bsa;
	int sb = c->p->has_secureboot;

	*ev_out = -1;
	if (sb ? (b->n != 3 && b->n != 4) : b->n != 2) {
		*pcr_out = 4;
		snprintf(why, n,
		         "PCR 4: %zu EV_EFI_BOOT_SERVICES_APPLICATION events, kernels[%zu] expects "
		         "%s",
		         b->n, ki,
		         sb ? "3 (shim, grub, kernel) or 4 (kernel twice)" : "2 (shim, grub)");
		return -1;
	}
	const char *seq[4] = {k->shim, k->grub, k->kernel, k->kernel};
	const char *names[4] = {"shim_authcode_sha256", "grub_authcode_sha256",
	                        "kernel_authcode_sha256", "kernel_authcode_sha256"};
	for (size_t i = 0; i < b->n; i++)
		if (want_sha256(b->v[i], seq[i], names[i], ki, why, n) < 0) {
			*ev_out = (int)b->v[i]->index;
			*pcr_out = 4;
			return -1;
		}
	if (c->initrd.n != 1) {
		*pcr_out = 9;
		snprintf(why, n,
		         "PCR 9: %zu initrd EV_IPL events, kernels[%zu] expects exactly one",
		         c->initrd.n, ki);
		return -1;
	}
	if (want_sha256(c->initrd.v[0], k->initrd, "initrd_plain_sha256", ki, why, n) < 0) {
		*ev_out = (int)c->initrd.v[0]->index;
		*pcr_out = 9;
		return -1;
	}
	if (c->vmlinuz.n != 1) {
		*pcr_out = 9;
		snprintf(why, n,
		         "PCR 9: %zu vmlinuz EV_IPL events, kernels[%zu] expects exactly one",
		         c->vmlinuz.n, ki);
		return -1;
	}
	if (!sb &&
	    want_sha256(c->vmlinuz.v[0], k->vmlinuz, "vmlinuz_plain_sha256", ki, why, n) < 0) {
		*ev_out = (int)c->vmlinuz.v[0]->index;
		*pcr_out = 9;
		return -1;
	}
	if (c->cmdline.n != 1) {
		*pcr_out = 8;
		snprintf(
		    why, n,
		    "PCR 8: %zu kernel_cmdline EV_IPL events, kernels[%zu] expects exactly one",
		    c->cmdline.n, ki);
		return -1;
	}
	const eventlog_event_t *ev = c->cmdline.v[0];
	const uint8_t *s;
	size_t sl;
	if (eventlog_event_string(ev, &s, &sl) < 0) {
		/* Unreachable: check_ipl only collects strings. */
		snprintf(why, n, "event %u: kernel command line is not a string", ev->index);
		return -1;
	}
	char *str = xstrndup((const char *)s, sl);
	int match = regexec(&k->re, str, 0, NULL, 0) == 0;
	free(str);
	if (!match) {
		*ev_out = (int)ev->index;
		*pcr_out = 8;
		char a[176], r[176];
		snprintf(why, n,
		         "event %u (PCR 8, EV_IPL): \"%s\" does not match kernels[%zu]."
		         "kernel_cmdline \"%s\"",
		         ev->index, text_escape(a, sizeof(a), s, sl), ki,
		         text_escape(r, sizeof(r), k->cmdline, strlen(k->cmdline)));
		return -1;
	}
	return 0;
}

static int scrtm_why(eval_t *c, size_t si, char *why, size_t n, int *ev_out)
{
	const scrtm_bios_t *s = &c->p->scrtm[si];
	char d[160];

	*ev_out = -1;
	if (c->scrtm.n != 1) {
		snprintf(why, n, "PCR 0: %zu EV_S_CRTM_VERSION events, exactly one expected",
		         c->scrtm.n);
		return -1;
	}
	if (!ev_in_dicts(c->scrtm.v[0], &s->scrtm, 1)) {
		ev_digest_text(c->scrtm.v[0], d, sizeof(d));
		*ev_out = (int)c->scrtm.v[0]->index;
		snprintf(why, n,
		         "event %u (PCR 0, EV_S_CRTM_VERSION): %s is not scrtm_and_bios[%zu].scrtm",
		         c->scrtm.v[0]->index, d, si);
		return -1;
	}
	if (c->fw.n != s->nfw) {
		snprintf(why, n,
		         "PCR 0: %zu platform firmware blob events, scrtm_and_bios[%zu] lists %zu",
		         c->fw.n, si, s->nfw);
		return -1;
	}
	for (size_t i = 0; i < s->nfw; i++)
		if (!ev_in_dicts(c->fw.v[i], &s->fw[i], 1)) {
			ev_digest_text(c->fw.v[i], d, sizeof(d));
			*ev_out = (int)c->fw.v[i]->index;
			snprintf(why, n,
			         "event %u (PCR 0, firmware blob): %s is not "
			         "scrtm_and_bios[%zu].platform_firmware[%zu]",
			         c->fw.v[i]->index, d, si, i);
			return -1;
		}
	return 0;
}

/* Pass when one alternative passes; else report the only alternative's reason, or all of
 * them in brackets the way Keylime's Or does. */
static int final_checks(eval_t *c, const eventlog_t *log)
{
	char why[512], all[640];
	int evi = -1, pcr = -1, first_ev = -1, first_pcr = -1;
	size_t used;

	all[0] = 0;
	used = 0;
	for (size_t k = 0; k < c->p->nkernels; k++) {
		if (kernel_why(c, k, why, sizeof(why), &evi, &pcr) == 0)
			goto scrtm;
		if (k == 0) {
			first_ev = evi;
			first_pcr = pcr;
		}
		used += (size_t)snprintf(all + used, used < sizeof(all) ? sizeof(all) - used : 0,
		                         "%s%s", k ? "; " : "", why);
		if (used >= sizeof(all))
			used = sizeof(all);
	}
	goto fail;
scrtm:
	all[0] = 0;
	used = 0;
	for (size_t s = 0; s < c->p->nscrtm; s++) {
		if (scrtm_why(c, s, why, sizeof(why), &evi) == 0)
			return 0;
		if (s == 0) {
			first_ev = evi;
			first_pcr = 0;
		}
		used += (size_t)snprintf(all + used, used < sizeof(all) ? sizeof(all) - used : 0,
		                         "%s%s", s ? "; " : "", why);
		if (used >= sizeof(all))
			used = sizeof(all);
	}
fail:
	c->f->event = first_ev;
	c->f->pcr = first_pcr;
	c->f->type = 0;
	if (first_ev >= 0) {
		const eventlog_event_t *ev = NULL;
		for (size_t i = 0; i < eventlog_count(log); i++)
			if (eventlog_event(log, i)->index == (uint32_t)first_ev)
				ev = eventlog_event(log, i);
		if (ev != NULL)
			c->f->type = ev->type;
	}
	snprintf(c->f->reason, sizeof(c->f->reason), "%s", all);
	return -1;
}

int mb_policy_evaluate(const mb_policy_t *p, const eventlog_t *log, mb_failure_t *f)
{
	mb_failure_t local;
	eval_t c;
	int rv = -1;

	if (f == NULL)
		f = &local;
	memset(f, 0, sizeof(*f));
	f->event = -1;
	f->pcr = -1;
	if (p->empty)
		return 0;
	memset(&c, 0, sizeof(c));
	c.p = p;
	c.f = f;
	for (size_t i = 0; i < eventlog_count(log); i++)
		if (check_event(&c, eventlog_event(log, i)) < 0)
			goto out;
	rv = final_checks(&c, log);
out:
	mb_policy_text_clean(f->reason);
	free(c.scrtm.v);
	free(c.fw.v);
	free(c.bsa.v);
	free(c.initrd.v);
	free(c.vmlinuz.v);
	free(c.cmdline.v);
	return rv;
}

/* mb_policy: Keylime-format measured-boot reference state, judged like Keylime's "example"
 * policy engine. This file loads (and frees) a refstate; mb_policy_eval.c judges a log with
 * it. See mb_policy.h and docs/policies.md. */
#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/policy/mb_policy.h"
#include "common/policy/mb_policy_priv.h"
#include "common/policy/pyregex.h"
#include "common/base/xmalloc.h"

#define MAX_LIST      65536 /* entries in one key or digest list */
#define MAX_KERNELS   256   /* entries in kernels */
#define MAX_SCRTM     256   /* entries in scrtm_and_bios */
#define MAX_FIRMWARE  1024  /* entries in one platform_firmware list */
#define MAX_REGEX     4096  /* characters of a kernel_cmdline regex */
#define MAX_DICT_ALGS 16    /* algorithms in one digest dict */

void mb_policy_text_clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

static void dd_free(dd_t *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].hex);
	free(d->v);
	d->v = NULL;
	d->n = 0;
}

static void sigset_free(mb_sigset_t *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].data);
	free(s->v);
}

void mb_policy_free(mb_policy_t *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nscrtm; i++) {
		dd_free(&p->scrtm[i].scrtm);
		for (size_t j = 0; j < p->scrtm[i].nfw; j++)
			dd_free(&p->scrtm[i].fw[j]);
		free(p->scrtm[i].fw);
	}
	free(p->scrtm);
	sigset_free(&p->pk);
	sigset_free(&p->kek);
	sigset_free(&p->db);
	sigset_free(&p->dbx);
	sigset_free(&p->vendor_db);
	for (size_t i = 0; i < p->nmok; i++)
		dd_free(&p->mok[i]);
	free(p->mok);
	for (size_t i = 0; i < p->nmokx; i++)
		dd_free(&p->mokx[i]);
	free(p->mokx);
	for (size_t i = 0; i < p->nkernels; i++) {
		kernel_t *k = &p->kernels[i];
		free(k->shim);
		free(k->grub);
		free(k->kernel);
		free(k->initrd);
		free(k->vmlinuz);
		free(k->cmdline);
		if (k->re_ok)
			regfree(&k->re);
	}
	free(p->kernels);
	free(p);
}

/* Digest size in bytes for the algorithm names tpm2-tools prints; 0 when unknown. */
static size_t alg_name_size(const char *name)
{
	uint16_t alg;
	static const struct {
		uint16_t alg; /* TPM_ALG_ID */
		size_t size;  /* digest bytes */
	} sizes[] = {{EVENTLOG_ALG_SHA1, 20},
	             {EVENTLOG_ALG_SHA256, 32},
	             {EVENTLOG_ALG_SHA384, 48},
	             {EVENTLOG_ALG_SHA512, 64},
	             {EVENTLOG_ALG_SM3_256, 32},
	             {0x0027, 32},
	             {0x0028, 48},
	             {0x0029, 64}};
	if (eventlog_alg_from_name(name, &alg) < 0)
		return 0;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (sizes[i].alg == alg)
			return sizes[i].size;
	return 0;
}

/* "0x" then lowercase hex: returns the digits (caller frees) or NULL with e set. nbytes:
 * exact byte count required (0: any, but at least one digit); even: length must be even. */
static char *get_hex(json_t *v, const char *path, size_t nbytes, int even, err_t *e)
{
	const char *s;
	size_t n;

	if (!json_is_string(v)) {
		err_set(e, "%s: expected a string", path);
		return NULL;
	}
	s = json_string_value(v);
	n = json_string_length(v);
	if (n < 3 || s[0] != '0' || s[1] != 'x') {
		err_set(e, "%s: expected 0x followed by lowercase hex digits", path);
		return NULL;
	}
	for (size_t i = 2; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
			err_set(e, "%s: expected 0x followed by lowercase hex digits", path);
			return NULL;
		}
	if (nbytes && n - 2 != 2 * nbytes) {
		err_set(e, "%s: expected 0x and %zu lowercase hex digits, got %zu", path,
		        2 * nbytes, n - 2);
		return NULL;
	}
	if (even && (n - 2) % 2) {
		err_set(e, "%s: odd number of hex digits", path);
		return NULL;
	}
	return xstrndup(s + 2, n - 2);
}

static int load_dd(json_t *v, const char *path, dd_t *d, err_t *e)
{
	const char *k;
	json_t *x;

	if (!json_is_object(v)) {
		err_set(e, "%s: expected an object {alg: \"0x...\"}", path);
		return -1;
	}
	if (json_object_size(v) > MAX_DICT_ALGS) {
		err_set(e, "%s: more than %u algorithms", path, MAX_DICT_ALGS);
		return -1;
	}
	d->v = xcalloc(json_object_size(v) + 1, sizeof(*d->v));
	json_object_foreach(v, k, x)
	{
		char sub[160];
		size_t kl = strlen(k);
		if (kl == 0 || kl > MAX_ALG_NAME) {
			err_set(e, "%s: bad algorithm name", path);
			return -1;
		}
		for (size_t i = 0; i < kl; i++)
			if (!(islower((unsigned char)k[i]) || isdigit((unsigned char)k[i]) ||
			      k[i] == '_')) {
				err_set(e, "%s: bad algorithm name \"%.16s\"", path, k);
				return -1;
			}
		snprintf(sub, sizeof(sub), "%s.%s", path, k);
		char *hex = get_hex(x, sub, alg_name_size(k), 0, e);
		if (hex == NULL)
			return -1;
		memcpy(d->v[d->n].alg, k, kl + 1);
		d->v[d->n].hex = hex;
		d->n++;
	}
	return 0;
}

static int load_dd_list(json_t *v, const char *path, size_t max, dd_t **out, size_t *nout, err_t *e)
{
	if (!json_is_array(v)) {
		err_set(e, "%s: expected a list", path);
		return -1;
	}
	if (json_array_size(v) > max) {
		err_set(e, "%s: more than %zu entries", path, max);
		return -1;
	}
	*out = xcalloc(json_array_size(v) + 1, sizeof(**out));
	for (size_t i = 0; i < json_array_size(v); i++) {
		char sub[128];
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		(*nout)++;
		if (load_dd(json_array_get(v, i), sub, &(*out)[i], e) < 0)
			return -1;
	}
	return 0;
}

int mb_policy_sig_cmp(const void *a, const void *b)
{
	const mb_sig_t *x = a, *y = b;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	int c = x->len ? memcmp(x->data, y->data, x->len) : 0;
	return c ? c : memcmp(x->owner, y->owner, 16);
}

int mb_policy_sigset_has(const mb_sigset_t *s, const uint8_t owner[16], const uint8_t *data,
                         size_t len)
{
	mb_sig_t key;
	memcpy(key.owner, owner, 16);
	key.data = (uint8_t *)(uintptr_t)data; /* compared only, never written */
	key.len = len;
	return s->n && bsearch(&key, s->v, s->n, sizeof(*s->v), mb_policy_sig_cmp) != NULL;
}

static int load_sigs(json_t *v, const char *path, mb_sigset_t *s, err_t *e)
{
	if (!json_is_array(v)) {
		err_set(e, "%s: expected a list of {SignatureOwner, SignatureData}", path);
		return -1;
	}
	if (json_array_size(v) > MAX_LIST) {
		err_set(e, "%s: more than %u entries", path, MAX_LIST);
		return -1;
	}
	s->v = xcalloc(json_array_size(v) + 1, sizeof(*s->v));
	for (size_t i = 0; i < json_array_size(v); i++) {
		json_t *x = json_array_get(v, i), *o, *d;
		char sub[128];
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (!json_is_object(x) || json_object_size(x) != 2 ||
		    (o = json_object_get(x, "SignatureOwner")) == NULL ||
		    (d = json_object_get(x, "SignatureData")) == NULL) {
			err_set(e, "%s: expected exactly {SignatureOwner, SignatureData}", sub);
			return -1;
		}
		const char *os = json_string_value(o);
		uint8_t g[16];
		int upper = 0;
		for (const char *q = os; q && *q; q++)
			upper |= isupper((unsigned char)*q);
		if (os == NULL || upper || eventlog_guid_parse(os, g) < 0) {
			err_set(e, "%s.SignatureOwner: expected a lowercase GUID", sub);
			return -1;
		}
		snprintf(sub + strlen(sub), sizeof(sub) - strlen(sub), ".SignatureData");
		char *hex = get_hex(d, sub, 0, 1, e);
		if (hex == NULL)
			return -1;
		buf_t raw = BUF_INIT;
		hex_decode(&raw, hex, strlen(hex));
		free(hex);
		memcpy(s->v[s->n].owner, g, 16);
		s->v[s->n].len = raw.len;
		s->v[s->n].data = buf_steal(&raw, &s->v[s->n].len);
		s->n++;
	}
	qsort(s->v, s->n, sizeof(*s->v), mb_policy_sig_cmp);
	return 0;
}

static int load_kernel(json_t *v, const char *path, int has_sb, kernel_t *k, err_t *e)
{
	static const char *const names[] = {"shim_authcode_sha256", "grub_authcode_sha256",
	                                    "kernel_authcode_sha256", "initrd_plain_sha256",
	                                    "vmlinuz_plain_sha256"};
	char **slots[] = {&k->shim, &k->grub, &k->kernel, &k->initrd, &k->vmlinuz};
	const char *key;
	json_t *x;
	char sub[160];

	if (!json_is_object(v)) {
		err_set(e, "%s: expected an object", path);
		return -1;
	}
	json_object_foreach(v, key, x)
	{
		size_t i;
		snprintf(sub, sizeof(sub), "%s.%.40s", path, key);
		if (strcmp(key, "kernel_cmdline") == 0) {
			if (!json_is_string(x) || json_string_length(x) > MAX_REGEX ||
			    strlen(json_string_value(x)) != json_string_length(x)) {
				err_set(e, "%s: expected a regex string of at most %u characters",
				        sub, MAX_REGEX);
				return -1;
			}
			k->cmdline = xstrdup(json_string_value(x));
			continue;
		}
		for (i = 0; i < 5; i++)
			if (strcmp(key, names[i]) == 0)
				break;
		if (i == 5) {
			err_set(e, "%s: unknown key", sub);
			return -1;
		}
		if ((*slots[i] = get_hex(x, sub, 32, 0, e)) == NULL)
			return -1;
	}
	/* What Keylime requires for each mode. */
	const char *need[] = {"shim_authcode_sha256", "grub_authcode_sha256",
	                      has_sb ? "kernel_authcode_sha256" : "vmlinuz_plain_sha256",
	                      "initrd_plain_sha256", "kernel_cmdline"};
	const void *have[] = {k->shim, k->grub, has_sb ? k->kernel : k->vmlinuz, k->initrd,
	                      k->cmdline};
	for (size_t i = 0; i < 5; i++)
		if (have[i] == NULL) {
			err_set(e, "%s: missing %s (required when has_secureboot is %s)", path,
			        need[i], has_sb ? "true" : "false");
			return -1;
		}
	buf_t re = BUF_INIT;
	buf_t full = BUF_INIT;
	buf_append_str(&full, "kernel_cmdline: ");
	buf_append_str(&full, k->cmdline);
	snprintf(sub, sizeof(sub), "%s.kernel_cmdline", path);
	err_t why = {""};
	if (pyregex_translate((char *)full.data, &re, &why) < 0) {
		err_set(e, "%s: %s", sub, why.msg);
		goto bad;
	}
	int rc = regcomp(&k->re, (char *)re.data, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char msg[128];
		regerror(rc, &k->re, msg, sizeof(msg));
		err_set(e, "%s: invalid regex: %s", sub, msg);
		goto bad;
	}
	k->re_ok = 1;
	buf_free(&re);
	buf_free(&full);
	return 0;
bad:
	buf_free(&re);
	buf_free(&full);
	return -1;
}

static int load_scrtm(json_t *v, const char *path, scrtm_bios_t *s, err_t *e)
{
	const char *key;
	json_t *x, *sc = NULL, *fw = NULL;
	char sub[128];

	if (!json_is_object(v)) {
		err_set(e, "%s: expected an object {scrtm, platform_firmware}", path);
		return -1;
	}
	json_object_foreach(v, key, x)
	{
		if (strcmp(key, "scrtm") == 0)
			sc = x;
		else if (strcmp(key, "platform_firmware") == 0)
			fw = x;
		else {
			err_set(e, "%s.%.40s: unknown key", path, key);
			return -1;
		}
	}
	if (sc == NULL || fw == NULL) {
		err_set(e, "%s: needs both scrtm and platform_firmware", path);
		return -1;
	}
	snprintf(sub, sizeof(sub), "%s.scrtm", path);
	if (load_dd(sc, sub, &s->scrtm, e) < 0)
		return -1;
	snprintf(sub, sizeof(sub), "%s.platform_firmware", path);
	return load_dd_list(fw, sub, MAX_FIRMWARE, &s->fw, &s->nfw, e);
}

mb_policy_t *mb_policy_load(const char *text, size_t len, err_t *e)
{
	json_error_t jerr;
	json_t *root = NULL, *x;
	mb_policy_t *p = NULL;
	const char *key;
	static const char *const required[] = {"scrtm_and_bios", "pk",      "kek",    "db", "dbx",
	                                       "mokdig",         "mokxdig", "kernels"};

	if (len > MB_POLICY_MAX_SIZE) {
		err_set(e, "measured-boot policy is %zu bytes, more than the %u allowed", len,
		        MB_POLICY_MAX_SIZE);
		return NULL;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		err_set(e, "measured-boot policy is not valid JSON: %s (line %d)", jerr.text,
		        jerr.line);
		return NULL;
	}
	if (!json_is_object(root)) {
		err_set(e, "measured-boot policy must be a JSON object");
		goto fail;
	}
	p = xcalloc(1, sizeof(*p));
	p->has_secureboot = 1;
	if (json_object_size(root) == 0) {
		p->empty = 1;
		json_decref(root);
		return p;
	}
	json_object_foreach(root, key, x)
	{
		int known = strcmp(key, "has_secureboot") == 0 || strcmp(key, "vendor_db") == 0;
		for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
			known |= strcmp(key, required[i]) == 0;
		if (!known) {
			char t[TEXT_MAX];
			err_set(e, "measured-boot policy: unknown key \"%s\"",
			        text_escape(t, sizeof(t), key, strlen(key)));
			goto fail;
		}
	}
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (json_object_get(root, required[i]) == NULL) {
			err_set(e, "measured-boot policy: missing \"%s\"", required[i]);
			goto fail;
		}
	if ((x = json_object_get(root, "has_secureboot")) != NULL) {
		if (!json_is_boolean(x)) {
			err_set(e, "has_secureboot: expected true or false");
			goto fail;
		}
		p->has_secureboot = json_is_true(x);
	}
	x = json_object_get(root, "scrtm_and_bios");
	if (!json_is_array(x) || json_array_size(x) == 0 || json_array_size(x) > MAX_SCRTM) {
		err_set(e, "scrtm_and_bios: expected a list of 1 to %u entries", MAX_SCRTM);
		goto fail;
	}
	p->scrtm = xcalloc(json_array_size(x), sizeof(*p->scrtm));
	for (size_t i = 0; i < json_array_size(x); i++) {
		char sub[64];
		snprintf(sub, sizeof(sub), "scrtm_and_bios[%zu]", i);
		p->nscrtm++;
		if (load_scrtm(json_array_get(x, i), sub, &p->scrtm[i], e) < 0)
			goto fail;
	}
	if (load_sigs(json_object_get(root, "pk"), "pk", &p->pk, e) < 0 ||
	    load_sigs(json_object_get(root, "kek"), "kek", &p->kek, e) < 0 ||
	    load_sigs(json_object_get(root, "db"), "db", &p->db, e) < 0 ||
	    load_sigs(json_object_get(root, "dbx"), "dbx", &p->dbx, e) < 0)
		goto fail;
	if ((x = json_object_get(root, "vendor_db")) != NULL &&
	    load_sigs(x, "vendor_db", &p->vendor_db, e) < 0)
		goto fail;
	if (load_dd_list(json_object_get(root, "mokdig"), "mokdig", MAX_LIST, &p->mok, &p->nmok,
	                 e) < 0 ||
	    load_dd_list(json_object_get(root, "mokxdig"), "mokxdig", MAX_LIST, &p->mokx, &p->nmokx,
	                 e) < 0)
		goto fail;
	x = json_object_get(root, "kernels");
	if (!json_is_array(x) || json_array_size(x) == 0 || json_array_size(x) > MAX_KERNELS) {
		err_set(e, "kernels: expected a list of 1 to %u entries", MAX_KERNELS);
		goto fail;
	}
	p->kernels = xcalloc(json_array_size(x), sizeof(*p->kernels));
	for (size_t i = 0; i < json_array_size(x); i++) {
		char sub[64];
		snprintf(sub, sizeof(sub), "kernels[%zu]", i);
		p->nkernels++;
		if (load_kernel(json_array_get(x, i), sub, p->has_secureboot, &p->kernels[i], e) <
		    0)
			goto fail;
	}
	json_decref(root);
	return p;
fail:
	if (e != NULL)
		mb_policy_text_clean(e->msg);
	json_decref(root);
	mb_policy_free(p);
	return NULL;
}

int mb_policy_is_empty(const mb_policy_t *p)
{
	return p->empty;
}

int mb_policy_has_secureboot(const mb_policy_t *p)
{
	return p->has_secureboot;
}

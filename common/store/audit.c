/* audit: canonical bytes and hashes of event records, seals, the export format and its
 * offline verification (see audit.h for the formats). */
#include "common/store/audit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "common/base/log.h"
#include "common/base/statefile.h"
#include "common/base/xmalloc.h"

static const char audit_zero_hash[65] =
    "0000000000000000000000000000000000000000000000000000000000000000";

static void audit_hex(const unsigned char *md, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

void audit_record_canonical(const char *prev_hash, int64_t seq, int64_t time, const char *node,
                            const char *type, const char *severity, const char *body, buf_t *out)
{
	/* Lengths before fields, so a boundary cannot move without changing the bytes. */
	const char *f[4] = {node ? node : "", type ? type : "", severity ? severity : "",
	                    body ? body : ""};

	buf_appendf(out, "%s\n%lld\n%lld\n", prev_hash, (long long)seq, (long long)time);
	for (int i = 0; i < 4; i++) {
		buf_appendf(out, "%zu:", strlen(f[i]));
		buf_append_str(out, f[i]);
	}
}

void audit_record_hash(const char *prev_hash, int64_t seq, int64_t time, const char *node,
                       const char *type, const char *severity, const char *body, char out[65])
{
	buf_t b = BUF_INIT;
	unsigned char md[32];

	audit_record_canonical(prev_hash, seq, time, node, type, severity, body, &b);
	SHA256(b.data, b.len, md);
	audit_hex(md, sizeof(md), out);
	buf_free(&b);
}

void audit_event_hash(const store_event_t *ev, char out[65])
{
	audit_record_hash(ev->prev_hash, ev->seq, ev->time, ev->node_uuid, ev->type, ev->severity,
	                  ev->body, out);
}

void audit_event_id(int64_t seq, const char *hash, char out[40])
{
	snprintf(out, 40, "%lld-%.16s", (long long)seq, hash);
}

/* ---- seals and the audit key ---- */

void audit_seal_canonical(const store_seal_t *s, buf_t *out)
{
	buf_appendf(out, "vigil-audit-seal-v1\n%lld\n%s\n%lld\n%s\n", (long long)s->seq, s->hash,
	            (long long)s->time, s->key_id);
}

int audit_key_id(EVP_PKEY *pk, char out[65])
{
	unsigned char *der = NULL, md[32];
	int n = i2d_PUBKEY(pk, &der);

	if (n <= 0)
		return -1;
	SHA256(der, (size_t)n, md);
	OPENSSL_free(der);
	audit_hex(md, sizeof(md), out);
	return 0;
}

int audit_seal_sign(EVP_PKEY *key, store_seal_t *s, err_t *e)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	buf_t msg = BUF_INIT, sig = BUF_INIT, b64 = BUF_INIT;
	size_t n = 0;
	int rv = -1;

	if (c == NULL)
		fatalx("out of memory");
	if (audit_key_id(key, s->key_id) < 0) {
		err_set_ssl(e, "audit key: cannot encode the public key");
		goto out;
	}
	audit_seal_canonical(s, &msg);
	if (EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(c, NULL, &n, msg.data, msg.len) != 1) {
		err_set_ssl(e, "audit key: cannot sign");
		goto out;
	}
	buf_reserve(&sig, n);
	if (EVP_DigestSign(c, sig.data, &n, msg.data, msg.len) != 1) {
		err_set_ssl(e, "audit key: cannot sign");
		goto out;
	}
	base64_encode(&b64, sig.data, n);
	s->sig = xstrdup((const char *)b64.data);
	rv = 0;
out:
	EVP_MD_CTX_free(c);
	buf_free(&msg);
	buf_free(&sig);
	buf_free(&b64);
	return rv;
}

int audit_seal_verify(EVP_PKEY *key, const store_seal_t *s, err_t *e)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	buf_t msg = BUF_INIT, sig = BUF_INIT;
	int rv = -1;

	if (c == NULL)
		fatalx("out of memory");
	if (s->sig == NULL || base64_decode(&sig, s->sig, strlen(s->sig)) < 0 || sig.len == 0) {
		err_set(e, "signature is not base64");
		goto out;
	}
	audit_seal_canonical(s, &msg);
	if (EVP_DigestVerifyInit(c, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestVerify(c, sig.data, sig.len, msg.data, msg.len) != 1) {
		ERR_clear_error();
		err_set(e, "bad signature");
		goto out;
	}
	rv = 0;
out:
	EVP_MD_CTX_free(c);
	buf_free(&msg);
	buf_free(&sig);
	return rv;
}

/* 1 when pk is an EC key on P-256. */
static int audit_key_is_p256(EVP_PKEY *pk)
{
	char group[64];
	size_t n = 0;

	return EVP_PKEY_is_a(pk, "EC") &&
	       EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
	                                      &n) == 1 &&
	       strcmp(group, "prime256v1") == 0;
}

static EVP_PKEY *audit_key_create(const char *path, err_t *e)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	BIO *bio = NULL;
	char *pem;
	long n;

	if (pk == NULL) {
		err_set_ssl(e, "audit key: cannot generate an ECDSA P-256 key");
		return NULL;
	}
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (n = BIO_get_mem_data(bio, &pem)) <= 0) {
		err_set_ssl(e, "audit key: cannot encode the new key");
		goto fail;
	}
	if (statefile_write(path, pem, (size_t)n, 0600, e) < 0)
		goto fail;
	OPENSSL_cleanse(pem, (size_t)n);
	BIO_free(bio);
	return pk;
fail:
	BIO_free(bio);
	EVP_PKEY_free(pk);
	return NULL;
}

EVP_PKEY *audit_key_load_or_create(const char *path, int *created, err_t *e)
{
	buf_t b = BUF_INIT;
	EVP_PKEY *pk = NULL;
	BIO *bio = NULL;
	struct stat sb;

	*created = 0;
	if (lstat(path, &sb) < 0) {
		if (errno != ENOENT) {
			err_set(e, "audit key %s: %s", path, strerror(errno));
			return NULL;
		}
		*created = 1;
		return audit_key_create(path, e);
	}
	if (!S_ISREG(sb.st_mode)) {
		err_set(e, "audit key %s: not a regular file", path);
		return NULL;
	}
	if (sb.st_mode & 077)
		log_warnx("audit key %s: readable by others (mode %03o); it should be 0600", path,
		          (unsigned)(sb.st_mode & 0777));
	if (buf_read_file(&b, path, 64 * 1024) < 0) {
		err_set(e, "audit key %s: %s", path, strerror(errno));
		goto out;
	}
	if ((bio = BIO_new_mem_buf(b.data, (int)b.len)) == NULL ||
	    (pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL) {
		err_set_ssl(e, "audit key %s: not a PEM private key", path);
		goto out;
	}
	if (!audit_key_is_p256(pk)) {
		err_set(e, "audit key %s: not an ECDSA P-256 key", path);
		EVP_PKEY_free(pk);
		pk = NULL;
	}
out:
	BIO_free(bio);
	buf_free_secret(&b);
	return pk;
}

char *audit_key_public_pem(EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p, *out;
	long n;

	if (bio == NULL || PEM_write_bio_PUBKEY(bio, key) != 1 ||
	    (n = BIO_get_mem_data(bio, &p)) <= 0)
		fatalx("audit key: cannot encode the public key");
	out = xmalloc((size_t)n + 1);
	memcpy(out, p, (size_t)n);
	out[n] = '\0';
	BIO_free(bio);
	return out;
}

EVP_PKEY *audit_key_from_pem(const char *pem, size_t len, err_t *e)
{
	BIO *bio = len <= 64 * 1024 ? BIO_new_mem_buf(pem, (int)len) : NULL;
	EVP_PKEY *pk = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;

	BIO_free(bio);
	ERR_clear_error();
	if (pk == NULL) {
		err_set(e, "not a PEM public key");
		return NULL;
	}
	if (!audit_key_is_p256(pk)) {
		err_set(e, "not an ECDSA P-256 public key");
		EVP_PKEY_free(pk);
		return NULL;
	}
	return pk;
}

/* ---- export ---- */

static void audit_export_json(json_t *j, buf_t *out)
{
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

	if (s == NULL)
		fatalx("audit export: cannot encode a line");
	buf_append_str(out, s);
	buf_append(out, "\n", 1);
	free(s);
	json_decref(j);
}

void audit_export_header(const char *key_pem, const char *key_id, int64_t now_ms, buf_t *out)
{
	audit_export_json(json_pack("{s:s, s:s, s:i, s:s?, s:s?, s:I}", "kind", "header", "format",
	                            "vigil-audit-export", "version", 1, "key", key_pem, "key_id",
	                            key_id, "exported", (json_int_t)now_ms),
	                  out);
}

void audit_export_record(const store_event_t *ev, buf_t *out)
{
	audit_export_json(json_pack("{s:s, s:I, s:s, s:I, s:s?, s:s, s:s?, s:s, s:s, s:s}", "kind",
	                            "record", "seq", (json_int_t)ev->seq, "id", ev->id, "time",
	                            (json_int_t)ev->time, "node_uuid", ev->node_uuid, "type",
	                            ev->type, "severity", ev->severity, "body", ev->body,
	                            "prev_hash", ev->prev_hash, "hash", ev->hash),
	                  out);
}

void audit_export_seal(const store_seal_t *s, buf_t *out)
{
	audit_export_json(json_pack("{s:s, s:I, s:s, s:I, s:s, s:s}", "kind", "seal", "seq",
	                            (json_int_t)s->seq, "hash", s->hash, "time",
	                            (json_int_t)s->time, "key_id", s->key_id, "sig", s->sig),
	                  out);
}

/* ---- decoding a line ---- */

static int audit_hash_ok(const char *s)
{
	if (s == NULL || strlen(s) != 64)
		return 0;
	for (int i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* A string member: *out borrowed from o, NULL for null when nullable. -1 when missing,
 * not a string, or holding a NUL. */
static int audit_str(json_t *o, const char *key, int nullable, const char **out)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v && json_is_null(v) && nullable)
		return 0;
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return -1;
	*out = json_string_value(v);
	return 0;
}

static int audit_int(json_t *o, const char *key, int64_t min, int64_t *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < min)
		return -1;
	*out = (int64_t)json_integer_value(v);
	return 0;
}

/* 1 when o has exactly the n keys in keys (each checked separately). */
static int audit_keys_only(json_t *o, size_t n)
{
	return json_object_size(o) == n;
}

static int audit_decode_record(json_t *o, store_event_t *ev, err_t *e)
{
	const char *id, *node, *type, *sev, *body, *prev, *hash;

	if (!audit_keys_only(o, 10) || audit_int(o, "seq", 1, &ev->seq) < 0 ||
	    audit_int(o, "time", 0, &ev->time) < 0 || audit_str(o, "id", 0, &id) < 0 ||
	    audit_str(o, "node_uuid", 1, &node) < 0 || audit_str(o, "type", 0, &type) < 0 ||
	    audit_str(o, "severity", 1, &sev) < 0 || audit_str(o, "body", 0, &body) < 0 ||
	    audit_str(o, "prev_hash", 0, &prev) < 0 || audit_str(o, "hash", 0, &hash) < 0) {
		err_set(e, "a record needs exactly seq, id, time, node_uuid, type, severity, body, "
		           "prev_hash and hash, each of its type");
		return -1;
	}
	if (strlen(id) >= sizeof(ev->id) || !audit_hash_ok(prev) || !audit_hash_ok(hash)) {
		err_set(e, "record %lld: malformed id or hash", (long long)ev->seq);
		return -1;
	}
	snprintf(ev->id, sizeof(ev->id), "%s", id);
	memcpy(ev->prev_hash, prev, 65);
	memcpy(ev->hash, hash, 65);
	ev->node_uuid = node ? xstrdup(node) : NULL;
	ev->type = xstrdup(type);
	ev->severity = sev ? xstrdup(sev) : NULL;
	ev->body = xstrdup(body);
	return 0;
}

static int audit_decode_seal(json_t *o, store_seal_t *s, err_t *e)
{
	const char *hash, *kid, *sig;

	if (!audit_keys_only(o, 6) || audit_int(o, "seq", 1, &s->seq) < 0 ||
	    audit_int(o, "time", 0, &s->time) < 0 || audit_str(o, "hash", 0, &hash) < 0 ||
	    audit_str(o, "key_id", 0, &kid) < 0 || audit_str(o, "sig", 0, &sig) < 0 ||
	    !audit_hash_ok(hash) || !audit_hash_ok(kid) || strlen(sig) > 1024) {
		err_set(e,
		        "a seal needs exactly seq, hash, time, key_id and sig, each of its type");
		return -1;
	}
	memcpy(s->hash, hash, 65);
	memcpy(s->key_id, kid, 65);
	s->sig = xstrdup(sig);
	return 0;
}

int audit_line_decode(const char *line, size_t len, audit_line_t *out, err_t *e)
{
	json_error_t je;
	json_t *o;
	const char *kind = NULL;
	int rv = -1;

	memset(out, 0, sizeof(*out));
	if (len > AUDIT_EXPORT_LINE_MAX) {
		err_set(e, "longer than %u bytes", AUDIT_EXPORT_LINE_MAX);
		return -1;
	}
	if ((o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		err_set(e, "not JSON: %s", je.text);
		return -1;
	}
	if (!json_is_object(o) || audit_str(o, "kind", 0, &kind) < 0) {
		err_set(e, "not an object with a kind");
	} else if (strcmp(kind, "record") == 0) {
		out->kind = AUDIT_LINE_RECORD;
		rv = audit_decode_record(o, &out->ev, e);
	} else if (strcmp(kind, "seal") == 0) {
		out->kind = AUDIT_LINE_SEAL;
		rv = audit_decode_seal(o, &out->seal, e);
	} else if (strcmp(kind, "header") == 0) {
		const char *fmt, *key, *kid;
		int64_t ver, t;
		out->kind = AUDIT_LINE_HEADER;
		if (!audit_keys_only(o, 6) || audit_str(o, "format", 0, &fmt) < 0 ||
		    strcmp(fmt, "vigil-audit-export") != 0 ||
		    audit_int(o, "version", 1, &ver) < 0 || ver != 1 ||
		    audit_str(o, "key", 1, &key) < 0 || audit_str(o, "key_id", 1, &kid) < 0 ||
		    audit_int(o, "exported", 0, &t) < 0) {
			err_set(e, "not a vigil-audit-export version 1 header");
		} else {
			out->key_pem = key ? xstrdup(key) : NULL;
			rv = 0;
		}
	} else {
		err_set(e, "unknown kind \"%.32s\"", kind);
	}
	json_decref(o);
	if (rv < 0)
		audit_line_clear(out);
	return rv;
}

void audit_line_clear(audit_line_t *l)
{
	free(l->key_pem);
	store_event_clear(&l->ev);
	store_seal_clear(&l->seal);
	memset(l, 0, sizeof(*l));
}

/* ---- verification ---- */

typedef struct audit_file {
	audit_line_t *lines; /* decoded lines */
	size_t *lineno;      /* their line numbers in the file */
	size_t n, cap;       /* used, allocated */
} audit_file_t;

static void audit_file_free(audit_file_t *f)
{
	for (size_t i = 0; i < f->n; i++)
		audit_line_clear(&f->lines[i]);
	free(f->lines);
	free(f->lineno);
}

/* Index of the first record after line i with seq, or 0 when none. */
static size_t audit_find_later(const audit_file_t *f, size_t i, int64_t seq)
{
	for (size_t j = i + 1; j < f->n; j++)
		if (f->lines[j].kind == AUDIT_LINE_RECORD && f->lines[j].ev.seq == seq)
			return j;
	return 0;
}

/* Check the record at line i against the chain so far (recs[0..expected-2] are records
 * 1..expected-1). 0 when it extends the chain, else -1 with r->what set. */
static int audit_check_record(const audit_file_t *f, size_t i, store_event_t **recs,
                              int64_t expected, audit_result_t *r)
{
	const store_event_t *ev = &f->lines[i].ev;
	const store_event_t *prev = expected > 1 ? recs[expected - 2] : NULL;
	char hash[65], id[40];

	audit_event_id(ev->seq, ev->hash, id);
	audit_event_hash(ev, hash);
	if (strcmp(hash, ev->hash) != 0 || strcmp(id, ev->id) != 0) {
		snprintf(r->what, sizeof(r->what),
		         "record %lld (id %s): %s does not match its hash: edited",
		         (long long)ev->seq, ev->id,
		         strcmp(hash, ev->hash) != 0 ? "content" : "id");
		return -1;
	}
	if (ev->seq < expected) {
		snprintf(r->what, sizeof(r->what),
		         "record %lld (id %s): a second record %lld after the one with id %s: "
		         "inserted",
		         (long long)ev->seq, ev->id, (long long)ev->seq, recs[ev->seq - 1]->id);
		return -1;
	}
	if (ev->seq > expected) {
		size_t j = audit_find_later(f, i, expected);
		if (j)
			snprintf(r->what, sizeof(r->what),
			         "record %lld (id %s) comes before record %lld (id %s): reordered",
			         (long long)ev->seq, ev->id, (long long)expected,
			         f->lines[j].ev.id);
		else if (ev->seq == expected + 1)
			snprintf(r->what, sizeof(r->what),
			         "record %lld (id %s): record %lld before it is missing: removed",
			         (long long)ev->seq, ev->id, (long long)expected);
		else
			snprintf(r->what, sizeof(r->what),
			         "record %lld (id %s): records %lld-%lld before it are missing: "
			         "removed",
			         (long long)ev->seq, ev->id, (long long)expected,
			         (long long)ev->seq - 1);
		return -1;
	}
	if (strcmp(ev->prev_hash, prev ? prev->hash : audit_zero_hash) != 0) {
		if (prev)
			snprintf(
			    r->what, sizeof(r->what),
			    "record %lld (id %s): its prev_hash does not match record %lld (id "
			    "%s): a record was inserted or replaced",
			    (long long)ev->seq, ev->id, (long long)prev->seq, prev->id);
		else
			snprintf(r->what, sizeof(r->what),
			         "record 1 (id %s): its prev_hash is not the start of a chain: "
			         "records before it were removed",
			         ev->id);
		return -1;
	}
	return 0;
}

/* Check the seal at line i. 0, or -1 with r->what set (*unusable when for want of a
 * key). */
static int audit_check_seal(const audit_file_t *f, size_t i, store_event_t **recs, int64_t expected,
                            EVP_PKEY *key, const char *key_id, audit_result_t *r, int *unusable)
{
	const store_seal_t *s = &f->lines[i].seal;
	err_t e = {""};

	if (s->seq <= r->last_sealed) {
		snprintf(
		    r->what, sizeof(r->what),
		    "seal at seq %lld (line %zu) comes after the seal at seq %lld: reordered or "
		    "inserted",
		    (long long)s->seq, f->lineno[i], (long long)r->last_sealed);
		return -1;
	}
	if (s->seq >= expected) {
		if (audit_find_later(f, i, s->seq))
			snprintf(r->what, sizeof(r->what),
			         "seal at seq %lld (line %zu) comes before record %lld: reordered",
			         (long long)s->seq, f->lineno[i], (long long)s->seq);
		else
			snprintf(r->what, sizeof(r->what),
			         "seal at seq %lld (line %zu): record %lld it covers is not in the "
			         "export: removed",
			         (long long)s->seq, f->lineno[i], (long long)s->seq);
		return -1;
	}
	if (strcmp(s->hash, recs[s->seq - 1]->hash) != 0) {
		snprintf(r->what, sizeof(r->what),
		         "seal at seq %lld (line %zu) does not match record %lld (id %s): the log "
		         "was rewritten",
		         (long long)s->seq, f->lineno[i], (long long)s->seq, recs[s->seq - 1]->id);
		return -1;
	}
	if (key == NULL) {
		snprintf(r->what, sizeof(r->what),
		         "seal at seq %lld cannot be checked: no key (give --key, or an export "
		         "with its key)",
		         (long long)s->seq);
		*unusable = 1;
		return -1;
	}
	if (strcmp(s->key_id, key_id) != 0) {
		snprintf(r->what, sizeof(r->what),
		         "seal at seq %lld (line %zu) is signed by key %.16s..., not by the key "
		         "given (%.16s...): bad key",
		         (long long)s->seq, f->lineno[i], s->key_id, key_id);
		return -1;
	}
	if (audit_seal_verify(key, s, &e) < 0) {
		snprintf(r->what, sizeof(r->what), "seal at seq %lld (line %zu): %s: bad seal",
		         (long long)s->seq, f->lineno[i], e.msg);
		return -1;
	}
	r->last_sealed = s->seq;
	r->seals++;
	return 0;
}

/* Split data into lines and decode them. -1 with r->what naming the line otherwise. */
static int audit_file_read(const uint8_t *data, size_t len, audit_file_t *f, audit_result_t *r)
{
	size_t pos = 0, lineno = 0;
	err_t e = {""};

	while (pos < len) {
		const uint8_t *nl = memchr(data + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (data + pos)) : len - pos;

		lineno++;
		if (f->n == f->cap) {
			f->cap = f->cap ? f->cap * 2 : 64;
			f->lines = xrealloc(f->lines, f->cap * sizeof(*f->lines));
			f->lineno = xrealloc(f->lineno, f->cap * sizeof(*f->lineno));
		}
		if (audit_line_decode((const char *)data + pos, n, &f->lines[f->n], &e) < 0) {
			snprintf(r->what, sizeof(r->what), "line %zu: %s", lineno, e.msg);
			return -1;
		}
		f->lineno[f->n++] = lineno;
		pos += n + 1;
	}
	return 0;
}

audit_verdict_t audit_verify_export(const uint8_t *data, size_t len, const char *key_pem,
                                    audit_result_t *r)
{
	audit_file_t f = {NULL, NULL, 0, 0};
	store_event_t **recs = NULL;
	EVP_PKEY *key = NULL;
	audit_verdict_t v = AUDIT_BROKEN;
	int64_t expected = 1;
	err_t e = {""};
	int unusable = 0;

	memset(r, 0, sizeof(*r));
	if (audit_file_read(data, len, &f, r) < 0)
		goto out;
	if (key_pem == NULL && f.n > 0 && f.lines[0].kind == AUDIT_LINE_HEADER &&
	    f.lines[0].key_pem) {
		key_pem = f.lines[0].key_pem;
		r->key_from_export = 1;
	}
	if (key_pem && ((key = audit_key_from_pem(key_pem, strlen(key_pem), &e)) == NULL ||
	                audit_key_id(key, r->key_id) < 0)) {
		snprintf(r->what, sizeof(r->what), "the %s key: %s",
		         r->key_from_export ? "export's" : "given", e.msg);
		v = AUDIT_UNUSABLE;
		goto out;
	}
	recs = xcalloc(f.n + 1, sizeof(*recs));
	for (size_t i = 0; i < f.n; i++) {
		switch (f.lines[i].kind) {
		case AUDIT_LINE_HEADER:
			if (i != 0) {
				snprintf(r->what, sizeof(r->what),
				         "line %zu: a header in the middle: inserted", f.lineno[i]);
				goto out;
			}
			break;
		case AUDIT_LINE_RECORD:
			if (audit_check_record(&f, i, recs, expected, r) < 0)
				goto out;
			recs[expected - 1] = &f.lines[i].ev;
			expected++;
			r->records++;
			r->last_seq = f.lines[i].ev.seq;
			break;
		case AUDIT_LINE_SEAL:
			if (audit_check_seal(&f, i, recs, expected, key, r->key_id, r, &unusable) <
			    0) {
				if (unusable)
					v = AUDIT_UNUSABLE;
				goto out;
			}
			break;
		}
	}
	if (r->records == 0 && f.n == 0) {
		snprintf(r->what, sizeof(r->what), "empty: not an export");
		v = AUDIT_UNUSABLE;
		goto out;
	}
	v = AUDIT_INTACT;
out:
	EVP_PKEY_free(key);
	free(recs);
	audit_file_free(&f);
	return v;
}

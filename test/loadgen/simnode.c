/* simnode: see simnode.h.
 *
 * The IMA list of a node is a vector of entry ids into the world's table: the entries
 * differ only in which of SIMNODE_GOOD_FILES files they measure, so each line's text and
 * extend value are computed once for all nodes. The list grows lazily: when a request
 * comes, the entries due by then (1 + rate * elapsed) are appended and extended into PCR
 * 10 before the quote, as the kernel would have done in the meantime. */
#include "test/loadgen/simnode.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/base/xmalloc.h"
#include "common/crypto/tpm2.h"
#include "common/evidence/ima.h"
#include "common/evidence/quote.h"

#define ENTRY_BOOT 0                                 /* boot_aggregate, first on every list */
#define ENTRY_GOOD 1                                 /* first of the good files */
#define ENTRY_EVIL (ENTRY_GOOD + SIMNODE_GOOD_FILES) /* the file no policy allows */
#define ENTRIES    (ENTRY_EVIL + 1)
#define FIXED_PCRS 8 /* PCRs 0-7 hold fixed "boot" values */

/* One IMA entry every node may log. */
typedef struct world_entry {
	char *json;                     /* the line, JSON-escaped, with its "\n" */
	size_t json_len;                /* strlen(json) */
	uint8_t extend[SOFTTPM_DIGEST]; /* what it extends into PCR 10 (SHA-256 bank) */
	char path[64];                  /* the measured path */
	char digest_hex[65];            /* its file digest (SHA-256), lowercase hex */
} world_entry_t;

struct simnode_world {
	char *pem;                                 /* payload public key PEM */
	buf_t pem_json;                            /* the same, as a JSON string's body */
	uint8_t pcr16[SOFTTPM_DIGEST];             /* H(0 || H(pem)): PCR 16 after the binding */
	uint8_t fixed[FIXED_PCRS][SOFTTPM_DIGEST]; /* digest extended once into PCR i */
	uint8_t fixed_val[FIXED_PCRS][SOFTTPM_DIGEST]; /* the resulting PCR values */
	world_entry_t ent[ENTRIES];                    /* the IMA entries */
};

struct simnode {
	const simnode_world_t *w; /* shared, read-only */
	simnode_opts_t o;         /* options (o.ip points into ip) */
	char ip[24];              /* contact address */
	char uuid[37];            /* agent UUID */
	softtpm_t *tpm;           /* AK, PCRs, clock */
	double start;             /* run start, monotonic seconds */
	uint8_t *ima;             /* entry ids of the list, in order */
	size_t ima_n;             /* entries logged */
	size_t ima_cap;           /* room in ima */
	size_t good_logged;       /* good entries logged (not counting boot and evil) */
	int bad_done;             /* the fault was injected */
	unsigned long rounds;     /* quotes answered */
	buf_t attest, sig, blob;  /* quote parts, reused */
};

static void sha256(const void *p, size_t n, uint8_t out[SOFTTPM_DIGEST])
{
	softtpm_sha256(p, n, out);
}

static void json_text(buf_t *out, const char *s);

/* Build one ima-ng line as the kernel prints it (SHA-1 template hash, sha256 file
 * digest) with common/evidence/ima rebuilding its template data, as nodesim does. */
static int world_entry_make(world_entry_t *we, const char *path, const uint8_t digest[32], err_t *e)
{
	buf_t hex = BUF_INIT, line = BUF_INIT;
	uint8_t th[IMA_DIGEST_MAX];
	size_t thlen = 0;
	ima_entry_t ent;
	int rv = -1;

	ima_entry_init(&ent);
	hex_encode(&hex, digest, 32);
	snprintf(we->path, sizeof(we->path), "%s", path);
	snprintf(we->digest_hex, sizeof(we->digest_hex), "%.64s", (const char *)hex.data);
	memset(th, 0x01, 20); /* a placeholder (not a violation) gets us the template data */
	for (int pass = 0; pass < 2; pass++) {
		buf_reset(&line);
		buf_append_str(&line, "10 ");
		for (int i = 0; i < 20; i++)
			buf_appendf(&line, "%02x", th[i]);
		buf_appendf(&line, " ima-ng sha256:%s %s", we->digest_hex, path);
		if (ima_entry_parse(&ent, (const char *)line.data, line.len, e) < 0)
			goto out;
		if (pass == 0 && (ima_entry_extend_value(&ent, TPM2_ALG_SHA1_ID, th, &thlen) < 0 ||
		                  thlen != 20)) {
			err_set(e, "SHA-1 of the template data");
			goto out;
		}
	}
	if (ima_entry_check_template_hash(&ent, TPM2_ALG_SHA1_ID, e) < 0 ||
	    ima_entry_extend_value(&ent, TPM2_ALG_SHA256_ID, we->extend, &thlen) < 0)
		goto out;
	buf_append_str(&line, "\\n");
	buf_append(&line, "", 1);
	we->json = xstrdup((const char *)line.data);
	we->json_len = strlen(we->json);
	rv = 0;
out:
	ima_entry_clear(&ent);
	buf_free(&hex);
	buf_free(&line);
	return rv;
}

simnode_world_t *simnode_world_new(err_t *e)
{
	simnode_world_t *w = xcalloc(1, sizeof(*w));
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	BIO *bio = BIO_new(BIO_s_mem());
	uint8_t zero_d[2 * SOFTTPM_DIGEST] = {0}, d[32], pcrs[10 * SOFTTPM_DIGEST];
	char *p, path[64];
	long n;

	if (k == NULL || bio == NULL || PEM_write_bio_PUBKEY(bio, k) != 1 ||
	    (n = BIO_get_mem_data(bio, &p)) <= 0) {
		err_set_ssl(e, "payload key");
		goto fail;
	}
	w->pem = xstrndup(p, (size_t)n);
	json_text(&w->pem_json, w->pem);
	sha256(w->pem, strlen(w->pem), zero_d + SOFTTPM_DIGEST);
	sha256(zero_d, sizeof(zero_d), w->pcr16);
	memset(pcrs, 0, sizeof(pcrs));
	for (int i = 0; i < FIXED_PCRS; i++) {
		char seed[32];
		uint8_t in[2 * SOFTTPM_DIGEST] = {0};
		snprintf(seed, sizeof(seed), "vigil-loadgen pcr %d", i);
		sha256(seed, strlen(seed), w->fixed[i]);
		memcpy(in + SOFTTPM_DIGEST, w->fixed[i], SOFTTPM_DIGEST);
		sha256(in, sizeof(in), w->fixed_val[i]);
		memcpy(pcrs + i * SOFTTPM_DIGEST, w->fixed_val[i], SOFTTPM_DIGEST);
	}
	/* boot_aggregate over PCRs 0-9 of the SHA-256 bank, as a 5.8+ kernel logs it. */
	if (ima_boot_aggregate(TPM2_ALG_SHA256_ID, pcrs, sizeof(pcrs), d) < 0 ||
	    world_entry_make(&w->ent[ENTRY_BOOT], "boot_aggregate", d, e) < 0)
		goto fail;
	for (int i = 0; i < SIMNODE_GOOD_FILES; i++) {
		snprintf(path, sizeof(path), "/usr/lib/vigil-loadgen/file-%02d", i);
		sha256(path, strlen(path), d);
		if (world_entry_make(&w->ent[ENTRY_GOOD + i], path, d, e) < 0)
			goto fail;
	}
	sha256("not in any policy", 17, d);
	if (world_entry_make(&w->ent[ENTRY_EVIL], "/tmp/vigil-loadgen-intruder", d, e) < 0)
		goto fail;
	BIO_free(bio);
	EVP_PKEY_free(k);
	return w;
fail:
	BIO_free(bio);
	EVP_PKEY_free(k);
	simnode_world_free(w);
	return NULL;
}

void simnode_world_free(simnode_world_t *w)
{
	if (w == NULL)
		return;
	for (int i = 0; i < ENTRIES; i++)
		free(w->ent[i].json);
	free(w->pem);
	buf_free(&w->pem_json);
	free(w);
}

const char *simnode_world_pubkey(const simnode_world_t *w)
{
	return w->pem;
}

void simnode_world_runtime_policy(const simnode_world_t *w, buf_t *out)
{
	buf_reset(out);
	buf_append_str(out, "{\"meta\": {\"version\": 1, \"generator\": 0}, \"release\": 0, "
	                    "\"digests\": {");
	for (int i = 0; i < ENTRY_EVIL; i++)
		buf_appendf(out, "%s\"%s\": [\"%s\"]", i ? ", " : "", w->ent[i].path,
		            w->ent[i].digest_hex);
	buf_append_str(out,
	               "}, \"excludes\": [], \"keyrings\": {}, \"ima\": "
	               "{\"ignored_keyrings\": [], \"log_hash_alg\": \"sha1\", "
	               "\"dm_policy\": null}, \"ima-buf\": {}, \"verification-keys\": \"\"}\n");
}

void simnode_world_pcr_policy(const simnode_world_t *w, buf_t *out)
{
	buf_reset(out);
	buf_append_str(out, "{");
	for (int i = 0; i < FIXED_PCRS; i++) {
		buf_appendf(out, "%s\"%d\": [\"", i ? ", " : "", i);
		for (int j = 0; j < SOFTTPM_DIGEST; j++)
			buf_appendf(out, "%02x", w->fixed_val[i][j]);
		buf_append_str(out, "\"]");
	}
	buf_append_str(out, "}\n");
}

static void ima_log(simnode_t *n, uint8_t id)
{
	if (n->ima_n == n->ima_cap) {
		n->ima_cap = n->ima_cap ? 2 * n->ima_cap : 64;
		n->ima = xrealloc(n->ima, n->ima_cap);
	}
	n->ima[n->ima_n++] = id;
	softtpm_pcr_extend(n->tpm, IMA_PCR, n->w->ent[id].extend);
}

simnode_t *simnode_new(const simnode_world_t *w, const simnode_opts_t *o, double start, err_t *e)
{
	simnode_t *n = xcalloc(1, sizeof(*n));

	n->w = w;
	n->o = *o;
	snprintf(n->ip, sizeof(n->ip), "%s", o->ip);
	n->o.ip = n->ip;
	n->start = start;
	snprintf(n->uuid, sizeof(n->uuid), "10ad6e00-0000-4000-8000-%012x", (unsigned)o->index);
	if ((n->tpm = softtpm_new(o->rsa, 1, e)) == NULL) {
		free(n);
		return NULL;
	}
	for (int i = 0; i < FIXED_PCRS; i++)
		softtpm_pcr_extend(n->tpm, (unsigned)i, w->fixed[i]);
	ima_log(n, ENTRY_BOOT);
	return n;
}

void simnode_free(simnode_t *n)
{
	if (n == NULL)
		return;
	softtpm_free(n->tpm);
	free(n->ima);
	buf_free(&n->attest);
	buf_free(&n->sig);
	buf_free(&n->blob);
	free(n);
}

const char *simnode_uuid(const simnode_t *n)
{
	return n->uuid;
}

const char *simnode_ip(const simnode_t *n)
{
	return n->ip;
}

int simnode_port(const simnode_t *n)
{
	return n->o.port;
}

softtpm_t *simnode_tpm(simnode_t *n)
{
	return n->tpm;
}

unsigned long simnode_rounds(const simnode_t *n)
{
	return n->rounds;
}

/* Append s to out as a JSON string body (PEM: only newlines need escaping). */
static void json_text(buf_t *out, const char *s)
{
	for (const char *p = s; *p; p++) {
		if (*p == '\n')
			buf_append_str(out, "\\n");
		else if (*p == '"' || *p == '\\')
			buf_appendf(out, "\\%c", *p);
		else
			buf_append(out, p, 1);
	}
}

void simnode_describe(const simnode_t *n, const char *cert_pem, buf_t *out)
{
	const buf_t *pub = softtpm_ak_public(n->tpm);

	buf_appendf(out, "{\"uuid\": \"%s\", \"ip\": \"%s\", \"port\": %d, \"ak_tpm\": \"", n->uuid,
	            n->ip, n->o.port);
	base64_encode(out, pub->data, pub->len);
	buf_append_str(out, "\", \"mtls_cert\": \"");
	json_text(out, cert_pem);
	buf_append_str(out, "\"}\n");
}

int simnode_is_silent(const simnode_t *n, double now)
{
	return n->o.silent_at >= 0 && now - n->start >= n->o.silent_at;
}

/* Bring the node up to time now: the IMA entries due, and the fault once it is due. */
static void simnode_advance(simnode_t *n, double now)
{
	double t = now - n->start;
	size_t due = n->o.ima_rate > 0 ? (size_t)floor(t * n->o.ima_rate) : 0;

	if (n->o.bad_at >= 0 && t >= n->o.bad_at && !n->bad_done) {
		n->bad_done = 1;
		if (n->o.bad_kind == SIMNODE_BAD_IMA) {
			ima_log(n, ENTRY_EVIL);
		} else {
			uint8_t d[SOFTTPM_DIGEST];
			sha256("tampered", 8, d);
			softtpm_pcr_extend(n->tpm, SIMNODE_BAD_PCR, d);
		}
	}
	while (n->good_logged < due) {
		ima_log(n, (uint8_t)(ENTRY_GOOD + n->good_logged % SIMNODE_GOOD_FILES));
		n->good_logged++;
	}
}

int simnode_answer(simnode_t *n, quotes_kind_t kind, const quotes_query_t *q, int minor, double now,
                   buf_t *out, err_t *e)
{
	uint32_t mask = (kind == QUOTES_INTEGRITY ? q->mask : 0) | (1u << QUOTES_PCR16);
	uint64_t first = q->ima_ml_entry;

	simnode_advance(n, now);
	/* PCR 16 binds the payload key: reset, then extended with H(PEM), as the agent does;
	 * the result is the same every round, so it is computed once (w->pcr16). */
	softtpm_pcr_set(n->tpm, QUOTES_PCR16, n->w->pcr16);
	if (softtpm_quote(n->tpm, (const uint8_t *)q->nonce, q->nonce_len, mask, &n->attest,
	                  &n->sig, &n->blob, e) < 0)
		return -1;
	buf_reset(out);
	buf_append_str(out, "{\"code\": 200, \"status\": \"Success\", \"results\": {\"quote\": \"");
	if (quote_encode(out, n->attest.data, n->attest.len, n->sig.data, n->sig.len, n->blob.data,
	                 n->blob.len, e) < 0)
		return -1;
	buf_append_str(out, "\", \"hash_alg\": \"sha256\", \"enc_alg\": \"");
	buf_append_str(out, softtpm_key_alg(n->tpm, minor < 5));
	buf_append_str(out, "\", \"sign_alg\": \"");
	buf_append_str(out, softtpm_sign_alg(n->tpm));
	buf_append_str(out, "\"");
	if (kind == QUOTES_IDENTITY || !q->partial) {
		buf_append_str(out, ", \"pubkey\": \"");
		buf_append(out, n->w->pem_json.data, n->w->pem_json.len);
		buf_append_str(out, "\"");
	}
	if (kind == QUOTES_INTEGRITY) {
		/* Keylime's agent: past the end restarts at 0; exactly the end is empty. */
		if (first > n->ima_n)
			first = 0;
		buf_append_str(out, ", \"ima_measurement_list\": \"");
		for (size_t i = (size_t)first; i < n->ima_n; i++) {
			const world_entry_t *we = &n->w->ent[n->ima[i]];
			buf_append(out, we->json, we->json_len);
		}
		buf_appendf(out, "\", \"ima_measurement_list_entry\": %" PRIu64, first);
	}
	buf_append_str(out, "}}");
	n->rounds++;
	return 0;
}

/* nodesim: make a (software) TPM hold the PCR values a real machine's logs produce, so that
 * an integration test can run vigil-agent on a "node" that serves those logs with its quotes.
 * One process, one ESAPI context over a TCTI string, one TPM2_PCR_Extend per log entry (all
 * banks at once), so the 826-entry IMA list goes in within a second or two.
 *
 *   nodesim TCTI ima-extend LIST [--from N] [--count K]
 *       extend entries N..N+K-1 (0-based; default all) of an IMA ascii list into their PCR
 *       (10 on every real list) in every active bank: ima_entry_extend_value per bank
 *       (H_bank(template data); ff..ff for a violation), exactly what the kernel extends.
 *   nodesim TCTI ima-append LIST PATH HEXDIGEST [--template ima-ng] [--no-extend]
 *       append one well-formed ima-ng line (PCR 10, template hash SHA-1 of the template
 *       data, d-ng sha256:HEXDIGEST, n-ng PATH) to LIST, and extend it unless --no-extend
 *       (the "log says more than the TPM" tamper). Prints the line.
 *   nodesim TCTI eventlog-extend LOG
 *       extend every event's digests of a binary UEFI event log into its PCR, in every bank
 *       the TPM has active and the log carries; EV_NO_ACTION events are skipped. A log that
 *       needs StartupLocality other than 0 is refused: PCR 0 of a TPM started at locality 0
 *       cannot be made to hold its values through a TCTI.
 *   nodesim TCTI pcr-extend PCR BANK HEX
 *       one raw extend (to tamper a PCR).
 *   nodesim TCTI pcr-read BANK PCR...
 *       print each PCR's value in lowercase hex, one per line.
 *
 * TCTI is a tctildr string such as "swtpm:host=127.0.0.1,port=2321". Exit 0 on success, 1
 * on any failure (with the reason on stderr), 2 on a usage error. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "common/base/buf.h"
#include "common/base/err.h"
#include "common/evidence/eventlog.h"
#include "common/evidence/ima.h"
#include "common/crypto/tpm2.h"

#define NODESIM_MAX_BANKS 8 /* active banks we handle (a TPM has at most a handful) */
#define NODESIM_NUM_PCRS  24

int main(int argc, char **argv);

/* One TPM connection. */
typedef struct node_tpm {
	TSS2_TCTI_CONTEXT *tcti;           /* owned; finalized by tpm_close */
	ESYS_CONTEXT *esys;                /* owned */
	uint16_t banks[NODESIM_MAX_BANKS]; /* active PCR banks (TPM_ALG_ID), TPM order */
	size_t nbanks;                     /* entries in banks */
} node_tpm_t;

static void usage(void)
{
	fprintf(stderr, "usage: nodesim TCTI ima-extend LIST [--from N] [--count K]\n"
	                "       nodesim TCTI ima-append LIST PATH HEXDIGEST [--template ima-ng] "
	                "[--no-extend]\n"
	                "       nodesim TCTI eventlog-extend LOG\n"
	                "       nodesim TCTI pcr-extend PCR BANK HEX\n"
	                "       nodesim TCTI pcr-read BANK PCR...\n");
	exit(2);
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	va_list ap;

	fputs("nodesim: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* A decimal number within [0, max]; -1 when malformed. */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

static unsigned parse_pcr(const char *s)
{
	uint64_t v;

	if (parse_u64(s, NODESIM_NUM_PCRS - 1, &v) < 0)
		fail("bad PCR \"%s\" (0-23)", s);
	return (unsigned)v;
}

static uint16_t parse_bank(const char *s)
{
	uint16_t alg = tpm2_alg_from_name(s);

	if (alg == 0 || tpm2_alg_size(alg) == 0)
		fail("unknown bank \"%s\" (sha1, sha256, sha384, sha512)", s);
	return alg;
}

static void tpm_open(node_tpm_t *t, const char *conf)
{
	TSS2_RC rc;
	TPMI_YES_NO more = 0;
	TPMS_CAPABILITY_DATA *cap = NULL;

	memset(t, 0, sizeof(*t));
	if ((rc = Tss2_TctiLdr_Initialize(conf, &t->tcti)) != TSS2_RC_SUCCESS)
		fail("TCTI \"%s\": %s", conf, Tss2_RC_Decode(rc));
	if ((rc = Esys_Initialize(&t->esys, t->tcti, NULL)) != TSS2_RC_SUCCESS)
		fail("Esys_Initialize: %s", Tss2_RC_Decode(rc));
	/* The banks with at least one PCR allocated are the ones the TPM extends. */
	rc = Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_PCRS, 0,
	                        1, &more, &cap);
	if (rc != TSS2_RC_SUCCESS)
		fail("TPM2_GetCapability(PCRS): %s", Tss2_RC_Decode(rc));
	const TPML_PCR_SELECTION *sel = &cap->data.assignedPCR;
	for (UINT32 i = 0; i < sel->count && i < TPM2_NUM_PCR_BANKS; i++) {
		const TPMS_PCR_SELECTION *s = &sel->pcrSelections[i];
		int active = 0;
		for (UINT8 j = 0; j < s->sizeofSelect && j < sizeof(s->pcrSelect); j++)
			active |= s->pcrSelect[j] != 0;
		if (!active)
			continue;
		if (tpm2_alg_size(s->hash) == 0)
			fail("the TPM has an active bank 0x%04x nodesim cannot compute", s->hash);
		if (t->nbanks == NODESIM_MAX_BANKS)
			fail("the TPM has more than %d active banks", NODESIM_MAX_BANKS);
		t->banks[t->nbanks++] = s->hash;
	}
	Esys_Free(cap);
	if (t->nbanks == 0)
		fail("the TPM has no active PCR bank");
}

static void tpm_close(node_tpm_t *t)
{
	Esys_Finalize(&t->esys);
	Tss2_TctiLdr_Finalize(&t->tcti);
}

static int tpm_has_bank(const node_tpm_t *t, uint16_t alg)
{
	for (size_t i = 0; i < t->nbanks; i++)
		if (t->banks[i] == alg)
			return 1;
	return 0;
}

/* Add one bank's digest to an extend; len must be the bank's size. */
static void values_add(TPML_DIGEST_VALUES *v, uint16_t alg, const uint8_t *d, size_t len)
{
	if (v->count >= TPM2_NUM_PCR_BANKS || len != tpm2_alg_size(alg) ||
	    len > sizeof(v->digests[0].digest))
		fail("internal: bad digest for bank %s", tpm2_alg_name(alg));
	v->digests[v->count].hashAlg = alg;
	memcpy(&v->digests[v->count].digest, d, len);
	v->count++;
}

static void tpm_extend(node_tpm_t *t, unsigned pcr, const TPML_DIGEST_VALUES *v)
{
	TSS2_RC rc;

	if (pcr >= NODESIM_NUM_PCRS)
		fail("PCR %u out of range", pcr);
	rc = Esys_PCR_Extend(t->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	                     ESYS_TR_NONE, v);
	if (rc != TSS2_RC_SUCCESS)
		fail("TPM2_PCR_Extend(PCR %u): %s", pcr, Tss2_RC_Decode(rc));
}

/* PCR value of one bank into out (the bank's size). */
static void tpm_pcr_read(node_tpm_t *t, uint16_t alg, unsigned pcr, uint8_t *out)
{
	TPML_PCR_SELECTION sel;
	TPML_PCR_SELECTION *sel_out = NULL;
	TPML_DIGEST *vals = NULL;
	UINT32 counter;
	TSS2_RC rc;
	size_t sz = tpm2_alg_size(alg);

	memset(&sel, 0, sizeof(sel));
	sel.count = 1;
	sel.pcrSelections[0].hash = alg;
	sel.pcrSelections[0].sizeofSelect = 3;
	sel.pcrSelections[0].pcrSelect[pcr / 8] = (BYTE)(1u << (pcr % 8));
	rc = Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel, &counter,
	                   &sel_out, &vals);
	if (rc != TSS2_RC_SUCCESS)
		fail("TPM2_PCR_Read(%s:%u): %s", tpm2_alg_name(alg), pcr, Tss2_RC_Decode(rc));
	/* A bank the TPM does not have comes back as an empty list, not as an error. */
	if (vals->count != 1 || vals->digests[0].size != sz)
		fail("TPM2_PCR_Read(%s:%u): the TPM returned no value (bank not active?)",
		     tpm2_alg_name(alg), pcr);
	memcpy(out, vals->digests[0].buffer, sz);
	Esys_Free(sel_out);
	Esys_Free(vals);
}

static void read_file(buf_t *b, const char *path, size_t max)
{
	if (buf_read_file(b, path, max) < 0)
		fail("%s: %s", path, errno == EFBIG ? "file too large" : strerror(errno));
}

/* Extend one parsed IMA entry into its PCR in every active bank. */
static void ima_extend_entry(node_tpm_t *t, ima_entry_t *ent, uint64_t idx)
{
	TPML_DIGEST_VALUES v;
	uint8_t d[IMA_DIGEST_MAX];
	size_t len;

	memset(&v, 0, sizeof(v));
	for (size_t i = 0; i < t->nbanks; i++) {
		if (ima_entry_extend_value(ent, t->banks[i], d, &len) < 0)
			fail("entry %" PRIu64 ": cannot compute the %s extend value", idx,
			     tpm2_alg_name(t->banks[i]));
		values_add(&v, t->banks[i], d, len);
	}
	tpm_extend(t, ent->pcr, &v);
}

static int cmd_ima_extend(node_tpm_t *t, int argc, char **argv)
{
	uint64_t from = 0, count = UINT64_MAX, idx = 0, done = 0;
	buf_t list = BUF_INIT;
	ima_entry_t ent;
	err_t e = {""};

	if (argc < 1)
		usage();
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--from") == 0 && i + 1 < argc) {
			if (parse_u64(argv[++i], UINT64_MAX - 1, &from) < 0)
				fail("bad --from \"%s\"", argv[i]);
		} else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
			if (parse_u64(argv[++i], UINT64_MAX - 1, &count) < 0)
				fail("bad --count \"%s\"", argv[i]);
		} else {
			usage();
		}
	}
	read_file(&list, argv[0], IMA_TEXT_MAX);
	ima_entry_init(&ent);
	const char *p = (const char *)list.data, *end = p + list.len;
	while (p < end && done < count) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		if (le == p)
			fail("%s: line %" PRIu64 " is empty", argv[0], idx + 1);
		if (idx >= from) {
			if (ima_entry_parse(&ent, p, (size_t)(le - p), &e) < 0)
				fail("%s: line %" PRIu64 ": %s", argv[0], idx + 1, e.msg);
			ima_extend_entry(t, &ent, idx);
			done++;
		}
		idx++;
		p = nl ? nl + 1 : end;
	}
	ima_entry_clear(&ent);
	buf_free(&list);
	if (count != UINT64_MAX && done < count)
		fail("%s: asked for %" PRIu64 " entries from %" PRIu64
		     ", the list has only %" PRIu64 " there",
		     argv[0], count, from, done);
	if (count == UINT64_MAX && from > idx)
		fail("%s: --from %" PRIu64 " is past the end (%" PRIu64 " entries)", argv[0], from,
		     idx);
	return 0;
}

/* Format an ima-ng line for PCR 10 with the given template hash (20 bytes). */
static void ima_ng_line(buf_t *out, const uint8_t th[20], const char *hexdigest, const char *path)
{
	buf_reset(out);
	buf_append_str(out, "10 ");
	hex_encode(out, th, 20);
	buf_appendf(out, " ima-ng sha256:%s %s", hexdigest, path);
}

static int cmd_ima_append(node_tpm_t *t, int argc, char **argv)
{
	const char *list, *path, *hexin;
	int extend = 1;
	buf_t dig = BUF_INIT, hex = BUF_INIT, line = BUF_INIT, old = BUF_INIT;
	uint8_t th[IMA_DIGEST_MAX];
	size_t thlen;
	ima_entry_t ent;
	err_t e = {""};

	if (argc < 3)
		usage();
	list = argv[0], path = argv[1], hexin = argv[2];
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--no-extend") == 0)
			extend = 0;
		else if (strcmp(argv[i], "--template") == 0 && i + 1 < argc) {
			if (strcmp(argv[++i], "ima-ng") != 0)
				fail("--template %s: only ima-ng is supported", argv[i]);
		} else
			usage();
	}
	if (hex_decode(&dig, hexin, strlen(hexin)) < 0 || dig.len != 32)
		fail("HEXDIGEST must be 64 hex digits (a SHA-256 file digest)");
	hex_encode(&hex, dig.data, dig.len); /* lowercase, as the kernel prints it */
	/* The kernel prints spaces in names as '_' and never a control character; a line with
	 * either would not read back as the entry we mean. */
	if (path[0] == '\0')
		fail("PATH is empty");
	for (const char *c = path; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			fail("PATH must not contain spaces or control characters");

	/* ima.c rebuilds the template data from a line; a placeholder (non-zero, so not a
	 * violation) template hash gets us the data, whose SHA-1 is the real template hash. */
	ima_entry_init(&ent);
	memset(th, 0x01, 20);
	ima_ng_line(&line, th, (const char *)hex.data, path);
	if (ima_entry_parse(&ent, (const char *)line.data, line.len, &e) < 0)
		fail("cannot build the entry: %s", e.msg);
	if (ima_entry_extend_value(&ent, TPM2_ALG_SHA1_ID, th, &thlen) < 0 || thlen != 20)
		fail("internal: SHA-1 of the template data");
	ima_ng_line(&line, th, (const char *)hex.data, path);
	if (ima_entry_parse(&ent, (const char *)line.data, line.len, &e) < 0 ||
	    ima_entry_check_template_hash(&ent, TPM2_ALG_SHA1_ID, &e) < 0)
		fail("internal: the built line does not parse back: %s", e.msg);

	/* Append, after a newline if the list lacks its last one. */
	read_file(&old, list, IMA_TEXT_MAX);
	int fd = open(list, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		fail("%s: %s", list, strerror(errno));
	buf_t out = BUF_INIT;
	if (old.len > 0 && old.data[old.len - 1] != '\n')
		buf_append_str(&out, "\n");
	buf_append(&out, line.data, line.len);
	buf_append_str(&out, "\n");
	ssize_t w = write(fd, out.data, out.len);
	if (w < 0 || (size_t)w != out.len || close(fd) < 0)
		fail("%s: write: %s", list, w < 0 ? strerror(errno) : "short write");
	if (extend)
		ima_extend_entry(t, &ent, 0);
	printf("%s\n", (const char *)line.data);
	ima_entry_clear(&ent);
	buf_free(&out);
	buf_free(&old);
	buf_free(&line);
	buf_free(&hex);
	buf_free(&dig);
	return 0;
}

static int cmd_eventlog_extend(node_tpm_t *t, int argc, char **argv)
{
	buf_t raw = BUF_INIT;
	eventlog_t *log;
	uint16_t banks[NODESIM_MAX_BANKS];
	size_t nbanks = 0, extended = 0;
	err_t e = {""};

	if (argc != 1)
		usage();
	read_file(&raw, argv[0], EVENTLOG_MAX_SIZE);
	if ((log = eventlog_parse(raw.data, raw.len, &e)) == NULL)
		fail("%s: %s", argv[0], e.msg);
	buf_free(&raw);
	if (eventlog_startup_locality(log) != 0)
		fail("%s: the log starts PCR 0 at locality %u (StartupLocality event); a TPM "
		     "started at locality 0 cannot reproduce it through a TCTI",
		     argv[0], eventlog_startup_locality(log));
	for (size_t i = 0; i < eventlog_bank_count(log); i++) {
		const eventlog_bank_t *b = eventlog_bank(log, i);
		if (tpm_has_bank(t, b->alg) && b->size == tpm2_alg_size(b->alg) &&
		    nbanks < NODESIM_MAX_BANKS)
			banks[nbanks++] = b->alg;
	}
	if (nbanks == 0)
		fail("%s: the log carries no bank the TPM has active", argv[0]);
	for (size_t i = 0; i < eventlog_count(log); i++) {
		const eventlog_event_t *ev = eventlog_event(log, i);
		TPML_DIGEST_VALUES v;

		if (ev->is_header || ev->type == EV_NO_ACTION)
			continue;
		memset(&v, 0, sizeof(v));
		for (size_t j = 0; j < nbanks; j++) {
			const eventlog_digest_t *d = eventlog_event_digest(ev, banks[j]);
			if (d == NULL)
				fail("%s: event %" PRIu32 " has no %s digest", argv[0], ev->index,
				     tpm2_alg_name(banks[j]));
			values_add(&v, banks[j], d->bytes, d->len);
		}
		tpm_extend(t, ev->pcr, &v);
		extended++;
	}
	eventlog_free(log);
	if (extended == 0)
		fail("%s: the log has no event to extend", argv[0]);
	return 0;
}

static int cmd_pcr_extend(node_tpm_t *t, int argc, char **argv)
{
	buf_t d = BUF_INIT;
	TPML_DIGEST_VALUES v;

	if (argc != 3)
		usage();
	unsigned pcr = parse_pcr(argv[0]);
	uint16_t alg = parse_bank(argv[1]);
	if (hex_decode(&d, argv[2], strlen(argv[2])) < 0 || d.len != tpm2_alg_size(alg))
		fail("HEX must be %zu hex digits for %s", 2 * tpm2_alg_size(alg), argv[1]);
	if (!tpm_has_bank(t, alg))
		fail("the TPM has no active %s bank", argv[1]);
	memset(&v, 0, sizeof(v));
	values_add(&v, alg, d.data, d.len);
	tpm_extend(t, pcr, &v);
	buf_free(&d);
	return 0;
}

static int cmd_pcr_read(node_tpm_t *t, int argc, char **argv)
{
	uint8_t val[EVENTLOG_MAX_DIGEST];
	buf_t hex = BUF_INIT;

	if (argc < 2)
		usage();
	uint16_t alg = parse_bank(argv[0]);
	for (int i = 1; i < argc; i++) {
		tpm_pcr_read(t, alg, parse_pcr(argv[i]), val);
		buf_reset(&hex);
		hex_encode(&hex, val, tpm2_alg_size(alg));
		printf("%s\n", (const char *)hex.data);
	}
	buf_free(&hex);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;                      /* subcommand */
		int (*fn)(node_tpm_t *, int, char **); /* its handler: args after the name */
	} cmds[] = {
	    {"ima-extend", cmd_ima_extend},
	    {"ima-append", cmd_ima_append},
	    {"eventlog-extend", cmd_eventlog_extend},
	    {"pcr-extend", cmd_pcr_extend},
	    {"pcr-read", cmd_pcr_read},
	};
	node_tpm_t t;
	int rv;

	if (argc < 3)
		usage();
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[2], cmds[i].name) != 0)
			continue;
		/* tpm2-tss logs every failing command at ERROR on its own; ours says it once. */
		setenv("TSS2_LOG", "all+none", 0);
		tpm_open(&t, argv[1]);
		rv = cmds[i].fn(&t, argc - 3, argv + 3);
		if (fflush(stdout) != 0)
			fail("stdout: %s", strerror(errno));
		tpm_close(&t);
		return rv;
	}
	usage();
}

/* report: a node's last judged round, kept small, for GetReport and AttestNow. */
#include "verifier/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/base/buf.h"
#include "common/base/xmalloc.h"
#include "common/crypto/tpm2.h"
#include "common/policy/pcr_policy.h"
#include "common/policy/runtime_policy_eval.h"

/* Failure details: allocated only while the node fails. */
typedef struct report_fail {
	char *mb_fail;      /* what failed in measured boot, or NULL */
	char *ima_path;     /* the failing IMA entry's path, or NULL */
	char *ima_digest;   /* ... its digest "<alg>:<hex>", or NULL */
	char *ima_reason;   /* why IMA failed, or NULL */
	uint64_t ima_entry; /* ... its position (when ima_path is set) */
	int ima_has_entry;  /* an entry is named */
} report_fail_t;

struct report_ev {
	int64_t time_ms;     /* when the round was judged (unix ms) */
	report_fail_t *fail; /* failure details, NULL while the node passes */
	uint32_t quoted;     /* PCRs quoted in the judged bank */
	uint32_t in_policy;  /* PCRs the PCR policy constrains */
	uint32_t bad;        /* PCRs whose value it refuses */
	uint16_t bank;       /* the judged bank */
	uint8_t dlen;        /* its digest size */
	uint8_t clock_safe;  /* safe flag of the last good quote's clock */
	uint8_t mb;          /* report_result_t */
	uint8_t ima;         /* report_result_t */
	uint8_t value[];     /* popcount(quoted) digests of dlen bytes, by PCR */
};

static unsigned report_popcount(uint32_t m)
{
	return (unsigned)__builtin_popcount(m);
}

void report_round_init(report_round_t *r)
{
	/* The value table is written only for quoted PCRs and read only for those: the
	 * header and the strings' first bytes are all that must start clean. */
	r->reached = 0;
	r->bank = 0;
	r->dlen = 0;
	r->quoted = r->in_policy = r->bad = 0;
	r->mb = r->ima = REPORT_NONE;
	r->mb_fail[0] = '\0';
	r->ima_has_entry = 0;
	r->ima_entry = 0;
	r->ima_path[0] = '\0';
	r->ima_digest[0] = '\0';
	r->ima_reason[0] = '\0';
}

void report_round_pcrs(report_round_t *r, const quote_t *q, uint16_t bank,
                       const struct pcr_policy *p)
{
	const quote_pcrsel_t *sel = quote_attest_selection(q);
	uint32_t mask = 0;

	r->reached = 1;
	r->bank = bank;
	r->dlen = 0;
	r->quoted = r->bad = 0;
	r->in_policy = p ? pcr_policy_mask(p) : 0;
	for (unsigned b = 0; sel && b < sel->count; b++)
		if (sel->bank[b].alg == bank)
			mask |= sel->bank[b].mask;
	for (unsigned i = 0; i < REPORT_PCRS; i++) {
		const uint8_t *v;
		size_t vl;

		if (!(mask & (1u << i)) || (v = quote_pcr_value(q, bank, i, &vl)) == NULL ||
		    vl == 0 || vl > sizeof(r->value[i]) || (r->dlen && vl != r->dlen))
			continue;
		r->dlen = (uint8_t)vl;
		memcpy(r->value[i], v, vl);
		r->quoted |= 1u << i;
	}
}

void report_round_pcr_failed(report_round_t *r, const struct pcr_policy *p)
{
	for (unsigned i = 0; i < REPORT_PCRS; i++)
		if ((r->quoted & (1u << i)) && !pcr_policy_allows(p, (int)i, r->value[i], r->dlen))
			r->bad |= 1u << i;
	/* A PCR the policy names but the quote lacks fails the policy too. */
	r->bad |= r->in_policy & ~r->quoted;
}

int report_ima_check_entry(void *arg, const ima_entry_t *ent, ima_failure_t *f)
{
	report_ima_cb_t *c = arg;
	report_round_t *r = c->r;
	size_t o;

	if (runtime_policy_check_entry(c->eval, ent, f) == 0)
		return 0;
	/* ima_replay asks no more after the first failure: this is the one it reports. */
	if (r != NULL && !r->ima_has_entry) {
		r->ima_has_entry = 1;
		r->ima_entry = ent->index;
		snprintf(r->ima_path, sizeof(r->ima_path), "%.*s",
		         (int)(ent->name_len < sizeof(r->ima_path) ? ent->name_len
		                                                   : sizeof(r->ima_path) - 1),
		         ent->name);
		o = (size_t)snprintf(r->ima_digest, sizeof(r->ima_digest), "%s:", ent->digest_alg);
		for (size_t i = 0; i < ent->digest_len && o + 2 < sizeof(r->ima_digest); i++)
			o += (size_t)snprintf(r->ima_digest + o, sizeof(r->ima_digest) - o, "%02x",
			                      ent->digest[i]);
	}
	return -1;
}

static void report_fail_free(report_fail_t *f)
{
	if (f == NULL)
		return;
	free(f->mb_fail);
	free(f->ima_path);
	free(f->ima_digest);
	free(f->ima_reason);
	free(f);
}

void report_ev_free(report_ev_t *ev)
{
	if (ev == NULL)
		return;
	report_fail_free(ev->fail);
	free(ev);
}

static char *report_dup(const char *s)
{
	return s && *s ? xstrdup(s) : NULL;
}

void report_publish(report_ev_t **dst, const report_round_t *r, int clock_safe)
{
	report_ev_t *ev = *dst;
	size_t need = report_popcount(r->quoted) * (size_t)r->dlen, have;
	struct timespec ts;
	uint8_t *p;

	if (!r->reached)
		return;
	have = ev ? report_popcount(ev->quoted) * (size_t)ev->dlen : 0;
	if (ev == NULL)
		*dst = ev = xcalloc(1, sizeof(*ev) + need);
	else if (have != need) /* the header (and its fail pointer) moves with the block */
		*dst = ev = xrealloc(ev, sizeof(*ev) + need);
	clock_gettime(CLOCK_REALTIME, &ts);
	ev->time_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	ev->quoted = r->quoted;
	ev->in_policy = r->in_policy;
	ev->bad = r->bad;
	ev->bank = r->bank;
	ev->dlen = r->dlen;
	ev->clock_safe = clock_safe ? 1 : 0;
	ev->mb = r->mb;
	ev->ima = r->ima;
	p = ev->value;
	for (unsigned i = 0; i < REPORT_PCRS; i++)
		if (r->quoted & (1u << i)) {
			memcpy(p, r->value[i], r->dlen);
			p += r->dlen;
		}
	/* Failure details only while something failed; a pass frees them. */
	report_fail_free(ev->fail);
	ev->fail = NULL;
	if (r->mb_fail[0] || r->ima_reason[0] || r->ima_has_entry) {
		report_fail_t *f = xcalloc(1, sizeof(*f));
		f->mb_fail = report_dup(r->mb_fail);
		f->ima_reason = report_dup(r->ima_reason);
		if (r->ima_has_entry) {
			f->ima_has_entry = 1;
			f->ima_entry = r->ima_entry;
			f->ima_path = xstrdup(r->ima_path);
			f->ima_digest = xstrdup(r->ima_digest);
		}
		ev->fail = f;
	}
}

size_t report_ev_size(const report_ev_t *ev)
{
	size_t n = 0;

	if (ev == NULL)
		return 0;
	n = sizeof(*ev) + report_popcount(ev->quoted) * (size_t)ev->dlen;
	if (ev->fail) {
		const report_fail_t *f = ev->fail;
		n += sizeof(*f);
		n += f->mb_fail ? strlen(f->mb_fail) + 1 : 0;
		n += f->ima_path ? strlen(f->ima_path) + 1 : 0;
		n += f->ima_digest ? strlen(f->ima_digest) + 1 : 0;
		n += f->ima_reason ? strlen(f->ima_reason) + 1 : 0;
	}
	return n;
}

void report_snap_take(const report_ev_t *ev, report_snap_t *out)
{
	const uint8_t *p;
	const char *bank;
	size_t k = 0;

	memset(out, 0, sizeof(*out));
	if (ev == NULL)
		return;
	out->has = 1;
	out->time_ms = ev->time_ms;
	bank = tpm2_alg_name(ev->bank);
	snprintf(out->bank, sizeof(out->bank), "%s", bank ? bank : "unknown");
	out->clock_safe = ev->clock_safe;
	out->mb = (report_result_t)ev->mb;
	out->ima = (report_result_t)ev->ima;
	out->n_pcrs = report_popcount(ev->quoted | ev->in_policy);
	out->pcrs = xcalloc(out->n_pcrs + 1, sizeof(*out->pcrs));
	p = ev->value;
	for (unsigned i = 0; i < REPORT_PCRS; i++) {
		report_pcr_t *rp;
		uint32_t bit = 1u << i;

		if (!((ev->quoted | ev->in_policy) & bit))
			continue;
		rp = &out->pcrs[k++];
		rp->index = (uint8_t)i;
		rp->in_policy = (ev->in_policy & bit) != 0;
		rp->ok = (ev->bad & bit) == 0;
		if (ev->quoted & bit) {
			for (unsigned b = 0; b < ev->dlen; b++)
				snprintf(rp->value + 2 * b, 3, "%02x", p[b]);
			p += ev->dlen;
		}
	}
	if (ev->fail) {
		const report_fail_t *f = ev->fail;
		out->mb_fail = f->mb_fail ? xstrdup(f->mb_fail) : NULL;
		out->ima_reason = f->ima_reason ? xstrdup(f->ima_reason) : NULL;
		out->ima_has_entry = f->ima_has_entry;
		out->ima_entry = f->ima_entry;
		out->ima_path = f->ima_path ? xstrdup(f->ima_path) : NULL;
		out->ima_digest = f->ima_digest ? xstrdup(f->ima_digest) : NULL;
	}
}

void report_snap_clear(report_snap_t *s)
{
	free(s->pcrs);
	free(s->mb_fail);
	free(s->ima_path);
	free(s->ima_digest);
	free(s->ima_reason);
	memset(s, 0, sizeof(*s));
}

const char *report_result_name(report_result_t r)
{
	switch (r) {
	case REPORT_PASS:
		return "pass";
	case REPORT_FAIL:
		return "fail";
	case REPORT_SKIPPED:
		return "skipped";
	default:
		return "none";
	}
}

/* node: lifecycle of an attested node and its round loop on the owning worker. */
#include "verifier/node_priv.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/pem.h>

#include "common/evidence/ima.h"
#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/policy/mb_policy.h"
#include "common/base/nonce.h"
#include "common/policy/pcr_policy.h"
#include "common/policy/runtime_policy.h"
#include "common/crypto/bootkey.h"
#include "common/crypto/tpm2.h"
#include "common/base/xmalloc.h"
#include "common/policy/runtime_policy_eval.h"
#include "verifier/attest.h"
#include "verifier/events.h"
#include "verifier/metrics.h"
#include "verifier/notices.h"
#include "verifier/policies.h"
#include "verifier/registry.h"
#include "verifier/report.h"
#include "verifier/storeq.h"
#include "verifier/utf8.h"
#include "verifier/vctx.h"

/* Agent API versions we speak, oldest first (docs/wire.md §1). */
static const char *const node_api_versions[] = {"2.1", "2.2", "2.3", "2.4", "2.5", "2.6"};
#define NODE_API_COUNT 6

void node_round_start(node_t *n);

/* The quote decoder: one per worker (h->quote), not per node. A round decodes and checks
 * its quote inside one call (attest_check, which gives the decoder's buffers back before it
 * returns), so nothing of it outlives the call and the nodes of a worker can share it:
 * about 1.4 KiB less per node. Freed with the worker's nodes (node_worker_stop). */
static quote_t *node_quote_scratch(node_host_t *h)
{
	if (h->quote == NULL)
		h->quote = quote_new();
	return h->quote;
}

static int64_t node_now(void)
{
	return (int64_t)time(NULL);
}

static vctx_t *node_ctx(node_t *n)
{
	return n->host->ctx;
}

/* ---- the worker's list ---- */

static node_t **node_head(node_host_t *h)
{
	return &h->nodes;
}

struct node_find_arg {
	node_host_t *h; /* the worker asking */
	node_t *n;      /* its node, or NULL */
};

/* Under the registry's lock: the entry's node, if it is the asking worker's. */
static void node_find_cb(void *item, void *arg)
{
	struct node_find_arg *a = arg;
	node_t *n = item;

	if (n->host == a->h)
		a->n = n;
}

/* The live node named uuid, looked up in the registry (O(log n): a takeover adds
 * thousands of nodes to a worker holding thousands, and a scan of its list for each
 * was the most of their load). Every live node is in the registry, and a node leaves it
 * when its removal begins: it stays in the worker's list until its request in flight
 * ends, but it is gone for every command (a new node of the same UUID may be added
 * meanwhile, and stop or reactivate must not write it back). */
node_t *node_find(node_host_t *h, const char *uuid)
{
	struct node_find_arg a = {h, NULL};

	registry_with(h->ctx->registry, uuid, node_find_cb, &a);
	return a.n != NULL && !a.n->removing ? a.n : NULL;
}

static void node_link(node_t *n)
{
	node_t **head = node_head(n->host);

	n->next = *head;
	if (*head)
		(*head)->prev = n;
	*head = n;
}

static void node_unlink(node_t *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		*node_head(n->host) = n->next;
	if (n->next)
		n->next->prev = n->prev;
	n->next = n->prev = NULL;
}

/* ---- creation and release ---- */

static void node_release_policies(node_t *n)
{
	policies_t *pc = node_ctx(n)->policies;

	runtime_policy_eval_free(n->ev.rt_eval);
	n->ev.rt_eval = NULL;
	policies_release(pc, n->pcr);
	policies_release(pc, n->runtime);
	policies_release(pc, n->mb);
	n->pcr = n->runtime = n->mb = NULL;
}

static void node_free(node_t *n)
{
	if (n == NULL)
		return;
	attest_now_gone(n);
	registry_remove(node_ctx(n)->registry, n->rec.uuid, n);
	node_unlink(n);
	if (n->timer)
		event_free(n->timer);
	http_client_free(n->conn);
	http_client_free(n->reg);
	free(n->repin_why);
	node_release_policies(n);
	ima_state_free(n->ev.ima);
	quote_ak_free(n->ev.ak);
	EVP_PKEY_free(n->ak_pkey);
	free(n->ev.pubkey);
	free(n->ev.mb_pcrs);
	report_ev_free(n->report);
	store_node_clear(&n->rec);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

int node_policies_acquire(node_t *n, const char *pcr_name, const char *rt_name, const char *mb_name,
                          node_polset_t *set, err_t *e)
{
	vctx_t *ctx = node_ctx(n);
	struct store *s = n->host->store;

	memset(set, 0, sizeof(*set));
	if ((pcr_name &&
	     (set->pcr = policies_acquire(ctx->policies, s, pcr_name, POLICY_PCR, e)) == NULL) ||
	    (rt_name &&
	     (set->rt = policies_acquire(ctx->policies, s, rt_name, POLICY_RUNTIME, e)) == NULL) ||
	    (mb_name &&
	     (set->mb = policies_acquire(ctx->policies, s, mb_name, POLICY_MB, e)) == NULL)) {
		policies_release(ctx->policies, set->pcr);
		policies_release(ctx->policies, set->rt);
		memset(set, 0, sizeof(*set));
		return -1;
	}
	return 0;
}

/* (Re)load the node's policies and derive the PCR mask. 0 or -1 (e). The new set is
 * acquired before the old one is let go: when a reload fails (a busy store, a document
 * that no longer parses) the node keeps judging with its old policies, never with one
 * missing. */
static int node_load_policies(node_t *n, err_t *e)
{
	node_polset_t set;

	if (node_policies_acquire(n, n->rec.pcr_policy, n->rec.runtime_policy, n->rec.mb_policy,
	                          &set, e) < 0)
		return -1;
	node_policies_install(n, &set);
	return 0;
}

void node_policies_install(node_t *n, node_polset_t *set)
{
	policy_obj_t *pcr = set->pcr, *rt = set->rt, *mb = set->mb;
	struct runtime_policy_eval *ev;
	uint32_t mask = 0;

	memset(set, 0, sizeof(*set));
	if (pcr)
		mask |= pcr_policy_mask(pcr->pcr);
	if (rt)
		mask |= 1u << 10;
	if (mb && !mb_policy_is_empty(mb->mb))
		mask |= 0x03ffu | 0xf800u; /* PCRs 0-9 and 11-15 */
	/* The cache shares one object per content, so a new pointer means new content. A
	 * new measured-boot policy must judge the UEFI log again, even an unchanged one. */
	if (mb != n->mb)
		n->ev.mb_pcrs_mask = 0;
	/* Keys learned from keyring measurements were trusted by the old runtime policy and
	 * live in its evaluator: only a replay of the list under the new policy gets them
	 * back, consistently. Without learned keys nothing is lost: keep the position. */
	if (n->runtime && rt != n->runtime && n->ev.rt_eval &&
	    runtime_policy_eval_learned_count(n->ev.rt_eval) > 0 && n->ev.ima) {
		log_info("node %s: new runtime policy; its IMA list is replayed from the start "
		         "to learn its keyring keys again",
		         n->rec.uuid);
		ima_state_free(n->ev.ima);
		n->ev.ima = NULL;
		pthread_mutex_lock(&n->lock);
		node_set_str(&n->rec.ima_state, NULL);
		pthread_mutex_unlock(&n->lock);
		node_mark_dirty(n);
	}
	/* The evaluator holds what this node's list taught it (keys, boot_aggregate): keep
	 * it while the runtime policy's content is the same. */
	if (rt != n->runtime) {
		ev = rt ? runtime_policy_eval_new(rt->runtime) : NULL;
		runtime_policy_eval_free(n->ev.rt_eval);
	} else {
		ev = n->ev.rt_eval;
	}
	n->ev.rt_eval = NULL;
	node_release_policies(n);
	n->pcr = pcr;
	n->runtime = rt;
	n->mb = mb;
	n->mask = mask;
	n->ev.rt_eval = ev;
}

/* The mutual-TLS connection to the agent, pinned to its certificate pem (the agent's
 * self-signed certificate is its own trust anchor). NULL on error (logged). */
http_client_t *node_conn_new(node_t *n, const char *pem)
{
	return node_conn_to(n, n->rec.ip, n->rec.port, pem);
}

http_client_t *node_conn_to(node_t *n, const char *ip, int port, const char *pem)
{
	vctx_t *ctx = node_ctx(n);
	tls_client_opts_t tls;
	http_client_t *c;

	memset(&tls, 0, sizeof(tls));
	tls.ca_pem = pem;
	tls.cert_pem = ctx->tls_cert_pem;
	tls.key_pem = ctx->tls_key_pem;
	tls.check_hostname = 0;
	tls.shared = n->host->agent_tls;
	tls.pin_pem = pem;
	c = http_client_new(n->host->base, ip, port, &tls, ctx->request_timeout_s);
	if (c == NULL)
		return NULL;
	http_client_set_max_response(c, ctx->max_response);
	http_client_set_phase_timeouts(c, ctx->connect_timeout_ms, ctx->answer_timeout_ms);
	http_client_set_budget(c, n->host->budget);
	return c;
}

/* Rounds start in slots of NODE_SLOT_MS: the nodes of one slot are asked in one turn of
 * the loop, and their answers mostly judged in a few, instead of one wake-up of the
 * worker (and of the agents' side) for each request and each answer. */
#define NODE_SLOT_MS 10

/* A node's phase: a random slot of the quote interval. */
static int node_phase_pick(int64_t iv)
{
	int64_t slots = iv / NODE_SLOT_MS;

	if (slots <= 1)
		return 0;
	return (int)(random() % slots) * NODE_SLOT_MS;
}

static node_t *node_new(node_host_t *h, store_node_t *rec, err_t *e)
{
	node_t *n = xcalloc(1, sizeof(*n));
	tpm2_pub_t *pub = NULL;
	buf_t raw = BUF_INIT;

	n->rec = *rec; /* takes the strings */
	memset(rec, 0, sizeof(*rec));
	n->host = h;
	n->phase_ms = node_phase_pick(h->ctx->quote_interval_ms);
	pthread_mutex_init(&n->lock, NULL);
	node_link(n);
	if (base64_decode(&raw, n->rec.ak_tpm, strlen(n->rec.ak_tpm)) < 0) {
		err_set(e, "stored AK is not base64");
		goto fail;
	}
	if ((pub = tpm2_pub_decode(raw.data, raw.len, e)) == NULL ||
	    (n->ak_pkey = tpm2_pub_to_pkey(pub, e)) == NULL ||
	    (n->ev.ak = quote_ak_new(n->ak_pkey, e)) == NULL)
		goto fail;
	if (node_load_policies(n, e) < 0)
		goto fail;
	/* Keys learned before a restart go with the stored IMA position: without them,
	 * ima-sig entries signed by those keys would fail after the restart. */
	if (n->rec.ima_keys && n->ev.rt_eval &&
	    runtime_policy_eval_keys_import(n->ev.rt_eval, n->rec.ima_keys, strlen(n->rec.ima_keys),
	                                    e) < 0) {
		log_warnx("node %s: stored learned keys unreadable (%s); replaying its IMA list "
		          "from the start",
		          n->rec.uuid, e->msg);
		node_set_str(&n->rec.ima_state, NULL);
	}
	if (n->rec.ima_state && n->runtime) {
		n->ev.ima = ima_state_parse(n->rec.ima_state, strlen(n->rec.ima_state), e);
		if (n->ev.ima == NULL)
			log_warnx(
			    "node %s: stored IMA position unreadable (%s); replaying from the "
			    "start",
			    n->rec.uuid, e->msg);
	}
	if (n->rec.has_clock) {
		n->ev.has_clock = 1;
		n->ev.clock.clock = (uint64_t)n->rec.tpm_clock;
		n->ev.clock.reset_count = (uint32_t)n->rec.tpm_reset_count;
		n->ev.clock.restart_count = (uint32_t)n->rec.tpm_restart_count;
		n->ev.clock.safe = 1;
	}
	/* A host name would be resolved with a blocking call on this worker at every
	 * reconnect, stalling all its nodes; AddNode takes IP literals only, and a record
	 * stored by an older release with a name is refused here, not resolved. */
	{
		struct in6_addr a;
		if (inet_pton(AF_INET, n->rec.ip, &a) != 1 &&
		    inet_pton(AF_INET6, n->rec.ip, &a) != 1) {
			err_set(
			    e,
			    "its contact address %s is not an IP address (the verifier does not "
			    "resolve names): remove it and add it again with its IP",
			    n->rec.ip);
			goto fail;
		}
	}
	if ((n->conn = node_conn_new(n, n->rec.mtls_cert)) == NULL) {
		err_set(e, "cannot set up the TLS client for %s:%d", n->rec.ip, n->rec.port);
		goto fail;
	}
	n->timer = evtimer_new(h->base, NULL, NULL);
	tpm2_pub_free(pub);
	buf_free(&raw);
	return n;
fail:
	tpm2_pub_free(pub);
	buf_free(&raw);
	node_free(n);
	return NULL;
}

/* Freeing from inside an HTTP callback would free the connection under its own feet:
 * release on the next loop turn instead. */
static void node_on_deferred_free(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	node_free(arg);
}

static void node_free_later(node_t *n)
{
	if (n->free_queued)
		return;
	n->free_queued = 1;
	event_base_once(n->host->base, -1, EV_TIMEOUT, node_on_deferred_free, n, NULL);
}

void node_release_if_idle(node_t *n)
{
	if (n->removing && !n->in_flight && n->writes == 0)
		node_free_later(n);
}

/* ---- events and verdicts ---- */

/* Wipe V and have the next write of the node delete the stored copy (node_copy_rec
 * carries payload_v_forget): delivered, or never to be. */
static void node_forget_v(node_t *n)
{
	pthread_mutex_lock(&n->lock);
	if (n->rec.payload_v)
		xfree_secret(n->rec.payload_v, strlen(n->rec.payload_v));
	n->rec.payload_v = NULL;
	n->rec.payload_v_forget = 1;
	pthread_mutex_unlock(&n->lock);
	n->v_due = 0;
	node_mark_dirty(n);
}

/* Tell every agent of the verifier, as Keylime's verifier does after a failure (type
 * "revocation") or an outage ("comm_error"): a signed notice, sent by each worker. */
static void node_announce(node_t *n, const char *type, const char *event_id, const char *reason)
{
	json_t *ctxj = json_pack("{s:s}", "message", reason ? reason : "");
	char *context = ctxj ? json_dumps(ctxj, JSON_COMPACT) : NULL;
	revnotice_fields_t f = {.type = type,
	                        .ip = n->rec.ip,
	                        .agent_id = n->rec.uuid,
	                        .port = n->rec.port,
	                        .tpm_policy = "{}",
	                        .meta_data = "{}",
	                        .event_id = event_id,
	                        .severity_label = events_severity(type),
	                        .context = context};
	buf_t body = BUF_INIT;
	err_t e = {""};

	if (n->host->stopping) {
		log_info("node %s: the verifier is stopping: its %s notice to agents is not sent "
		         "(the event and its webhooks are stored)",
		         n->rec.uuid, type);
		free(context);
		json_decref(ctxj);
		return;
	}
	if (notices_sign(node_ctx(n), &f, &body, &e) < 0)
		log_warnx("node %s: cannot build its revocation notice: %s", n->rec.uuid, e.msg);
	else if (n->host->announce)
		n->host->announce(n->host, (const char *)body.data);
	buf_free(&body);
	free(context);
	json_decref(ctxj);
}

static void node_fail(node_t *n, const attest_out_t *out, const char *event_id, const char *why)
{
	char *reason = utf8_sanitize_dup(why);

	vmetrics_round_end(n->host->metrics, &n->round_t0, event_id);
	if (n->rec.payload_v) {
		/* A node that failed never gets V, not even once reactivated: its payload must
		 * be sent again (vigilctl add --payload) to a node that passes. */
		log_warnx("node %s: its payload key share V is forgotten undelivered (the node "
		          "failed)",
		          n->rec.uuid);
		node_forget_v(n);
	}
	pthread_mutex_lock(&n->lock);
	node_publish_locked(n, out);
	n->rec.operational_state = NODE_INVALID_QUOTE;
	node_set_str(&n->rec.last_event_id, event_id);
	node_set_str(&n->rec.failure_reason, reason);
	pthread_mutex_unlock(&n->lock);
	/* Durable with its event and deliveries first, then logged and announced
	 * (node_verdict_done); a verdict the lease fence refused (another instance holds the
	 * node) is neither. */
	node_commit_verdict(n, EVENT_REVOCATION, event_id, reason);
	free(reason);
	attest_now_judged(n);
}

static void node_pass(node_t *n, const attest_out_t *out)
{
	int was = n->rec.operational_state;
	int recovered = n->unreachable, resumed = n->resumed, changed, counts;

	vmetrics_round_end(n->host->metrics, &n->round_t0, NULL);
	pthread_mutex_lock(&n->lock);
	changed = node_publish_locked(n, out);
	/* With V to deliver, the agent has proved what it runs: V goes now, before the next
	 * quote (Keylime's PROVIDE_V). */
	n->v_due = n->rec.payload_v != NULL;
	n->rec.operational_state = n->v_due ? NODE_PROVIDE_V : NODE_GET_QUOTE;
	n->rec.attestation_count++;
	n->rec.last_successful_attestation = node_now();
	pthread_mutex_unlock(&n->lock);
	/* Only the count and the times moved (the common round): the flush writes them at
	 * most every progress_interval. */
	counts = !changed && was == n->rec.operational_state && (!n->dirty || n->counts_only);
	node_mark_dirty(n);
	n->counts_only = counts;
	n->retries = 0;
	n->renegotiated = 0;
	n->repin_tried = 0;
	n->unreachable = 0;
	n->resumed = 0;
	/* The next round does not wait for the store: a verdict is logged once durable
	 * (node_verdict_done), and a fenced one stops the node there. */
	if (was != NODE_GET_QUOTE) {
		if (recovered)
			node_commit_verdict(n, EVENT_RECOVERED, NULL, "the agent answers again");
		else if (was == NODE_START && !resumed)
			node_commit_verdict(n, EVENT_ATTESTED, NULL, "the first round passed");
		else
			node_save_now(n);
	}
	if (n->v_due)
		node_schedule(n, 0);
	else
		node_schedule_next(n);
	attest_now_judged(n);
}

/* The delay before retry number steps (1..max_retries): each retry waits twice as long
 * as the one before (with exponential_backoff), up to the delay of the last retry, at
 * which a FAILED node is probed. */
static int node_backoff_ms(const vctx_t *ctx, int steps)
{
	int delay = ctx->retry_interval_ms;

	for (int i = 1; ctx->exponential_backoff && i < steps && delay < 3600 * 1000; i++)
		delay *= 2;
	return delay;
}

/* The agent did not answer (or answered with a retryable error). */
void node_comm_error(node_t *n, const char *why)
{
	vctx_t *ctx = node_ctx(n);
	int delay, state, steps;

	vmetrics_round_end(n->host->metrics, &n->round_t0, "comm_error");
	n->repin_tried = 0; /* the next contact may ask the registrar again */
	/* Past max_retries the count only says FAILED: keep it from growing without end. */
	if (n->retries <= ctx->max_retries)
		n->retries++;
	steps = n->retries < ctx->max_retries ? n->retries : ctx->max_retries;
	delay = node_backoff_ms(ctx, steps);
	if (n->retries > ctx->max_retries) {
		state = NODE_FAILED;
		if (n->rec.operational_state != NODE_FAILED) {
			pthread_mutex_lock(&n->lock);
			node_set_str(&n->rec.last_event_id, "comm_error");
			node_set_str(&n->rec.failure_reason, why);
			pthread_mutex_unlock(&n->lock);
			node_set_state(n, state);
			n->unreachable = 1;
			/* Logged and announced once durable (node_verdict_done). */
			node_commit_verdict(n, EVENT_COMM_ERROR, "comm_error", why);
		}
	} else {
		if (n->rec.operational_state != NODE_START)
			node_set_state(n, NODE_GET_QUOTE_RETRY);
		log_info("node %s: no answer (%s); retry %d of %d in %d ms", n->rec.uuid, why,
		         n->retries, ctx->max_retries, delay);
	}
	node_schedule(n, delay);
	attest_now_unreachable(n, why);
}

/* ---- the round ---- */

static void node_on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	node_round_start(arg);
}

void node_schedule(node_t *n, int delay_ms)
{
	struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};

	if (n->removing) /* dropped (a lost lease): no more rounds */
		return;
	event_assign(n->timer, n->host->base, -1, 0, node_on_timer, n);
	evtimer_add(n->timer, &tv);
}

/* The next point of the node's phase at least half an interval from now: its good rounds
 * come a quote interval apart at its own fixed offset within the interval (random, given
 * when it was made), whatever delayed one of them or came between (retries, AttestNow).
 * Scheduled from each verdict instead, the answers that one stall bunched together (a loop
 * turn judging hundreds of them), or the retries of the nodes that one hiccup failed
 * together, would stay bunched round after round, and each stall would add to the bunch:
 * measured at 10,000 nodes, a round p99 of 136-228 ms against 12-19 ms with this. */
void node_schedule_next(node_t *n)
{
	int64_t iv = node_ctx(n)->quote_interval_ms, now = clock_mono_ms();

	node_schedule(n, (int)(rate_next_phase(n->phase_ms, now + iv / 2, iv) - now));
}

void node_round_now(node_t *n)
{
	event_del(n->timer);
	node_round_start(n);
}

int node_polling(const node_t *n)
{
	int s = n->rec.operational_state;

	return !n->removing && s != NODE_INVALID_QUOTE && s != NODE_TENANT_FAILED &&
	       s != NODE_TERMINATED;
}

static void node_on_version(int status, const uint8_t *body, size_t len, const char *err,
                            void *arg);
/* What attest_check judges this node's round against: its nonce, policies and the
 * verifier's accepted algorithms. */
static void node_attest_input(node_t *n, attest_input_t *in)
{
	vctx_t *ctx = node_ctx(n);

	memset(in, 0, sizeof(*in));
	in->uuid = n->rec.uuid;
	in->nonce = n->nonce;
	in->mask = n->mask;
	in->accept_hash = ctx->accept_hash;
	in->accept_sign = ctx->accept_sign;
	in->pcr = n->pcr ? n->pcr->pcr : NULL;
	in->mb = n->mb ? n->mb->mb : NULL;
	in->runtime = n->runtime ? n->runtime->runtime : NULL;
	in->mb_log_digest = n->rec.mb_log_digest;
}

static void node_on_quote(int status, const uint8_t *body, size_t len, const char *err, void *arg);
static void node_post_v(node_t *n);

static void node_request(node_t *n, const char *path, http_response_fn cb)
{
	n->in_flight = 1;
	n->req_gen = n->gen;
	vmetrics_round_start(&n->round_t0);
	if (http_client_request(n->conn, HTTP_M_GET, path, NULL, NULL, 0, cb, n) < 0) {
		n->in_flight = 0;
		node_comm_error(n, http_client_error(n->conn));
	}
}

/* A costly round (a whole IMA list, a UEFI log to judge) takes a token of the worker's
 * bucket; without one the node waits until the next token and asks again. 1 when
 * admitted. */
static int node_first_round_admitted(node_t *n)
{
	node_host_t *h = n->host;
	vctx_t *ctx = node_ctx(n);
	double rate = (double)ctx->first_rounds_per_s / (ctx->nworkers > 0 ? ctx->nworkers : 1);
	double burst = rate < 1 ? 1 : rate; /* one second's worth, at least one */
	int wait;

	if (rate_fill(&h->first_rounds, rate, burst, clock_mono_ms()) >= 1) {
		rate_take(&h->first_rounds, 1);
		return 1;
	}
	/* Until the next token, plus a little so that waiting nodes do not come back together. */
	wait = rate_wait_ms(&h->first_rounds, rate) + (int)(random() % 50);
	if (n->deferred++ == 0)
		log_info("node %s: its first round waits its turn (verifier.first_rounds_per_s = "
		         "%d); next try in %d ms",
		         n->rec.uuid, ctx->first_rounds_per_s, wait);
	node_schedule(n, wait);
	return 0;
}

void node_round_start(node_t *n)
{
	char path[256];
	uint64_t entry = n->ev.ima ? ima_state_next_entry(n->ev.ima) : 0;

	if (!node_polling(n) || n->in_flight)
		return;
	if (n->v_due) {
		node_post_v(n);
		return;
	}
	if (attest_round_is_costly(&n->ev, n->runtime ? n->runtime->runtime : NULL,
	                           n->mb ? n->mb->mb : NULL) &&
	    !node_first_round_admitted(n))
		return;
	if (n->rec.api_version == NULL) {
		node_request(n, "/version", node_on_version);
		return;
	}
	nonce_alnum(n->nonce, 20);
	/* An answer is bounded by what the round asks: the whole IMA list only from entry 0
	 * (or on the retry after a failed contact, in case the agent restarted its list). */
	http_client_set_max_response(n->conn, entry == 0 || n->retries > 0
	                                          ? node_ctx(n)->max_response
	                                          : node_ctx(n)->max_round_response);
	snprintf(path, sizeof(path),
	         "/v%s/quotes/integrity?nonce=%s&mask=0x%x&partial=%d&ima_ml_entry=%llu",
	         n->rec.api_version, n->nonce, n->mask, n->partial ? 1 : 0,
	         (unsigned long long)entry);
	node_request(n, path, node_on_quote);
}

const char *node_pick_version(const uint8_t *body, size_t len)
{
	json_t *root = json_loadb((const char *)body, len, 0, NULL), *r, *list, *v;
	const char *best = NULL;
	size_t i;

	r = json_object_get(root, "results");
	list = json_object_get(r, "supported_versions");
	for (int k = NODE_API_COUNT - 1; k >= 0 && best == NULL; k--) {
		json_array_foreach(list, i, v)
		{
			if (json_is_string(v) &&
			    strcmp(json_string_value(v), node_api_versions[k]) == 0)
				best = node_api_versions[k];
		}
		v = json_object_get(r, "supported_version");
		if (best == NULL && json_is_string(v) &&
		    strcmp(json_string_value(v), node_api_versions[k]) == 0)
			best = node_api_versions[k];
	}
	json_decref(root);
	return best;
}

/* An answer to a request sent before a stop or a reactivation belongs to the node's
 * state before it: drop it (a reactivated node starts its round now). 1 when dropped. */
static int node_answer_is_stale(node_t *n)
{
	if (n->req_gen == n->gen)
		return 0;
	if (node_polling(n))
		node_schedule(n, 0);
	return 1;
}

/* An answer (or its failure) arrived: the request is no longer in flight. 1 when it is to
 * be judged; 0 when the node is being removed (freed on the next loop turn), or the answer
 * belongs to a request made before a stop or reactivate, or the node no longer polls. */
int node_answer_begin(node_t *n)
{
	n->in_flight = 0;
	if (n->removing) {
		node_release_if_idle(n);
		return 0;
	}
	return !node_answer_is_stale(n) && node_polling(n);
}

static void node_on_version(int status, const uint8_t *body, size_t len, const char *err, void *arg)
{
	node_t *n = arg;
	const char *v;

	if (!node_answer_begin(n))
		return;
	if (status == 0 && http_client_cert_rejected(n->conn) && node_repin_start(n, err))
		return;
	if (status == 0 || status == 408 || status >= 500) {
		node_comm_error(n, status ? "GET /version failed" : err);
		return;
	}
	if (status != 200 || (v = node_pick_version(body, len)) == NULL) {
		node_fail(n, NULL, "version_negotiation",
		          "the agent shares no API version with this verifier (2.1-2.6)");
		return;
	}
	pthread_mutex_lock(&n->lock);
	node_set_str(&n->rec.api_version, v);
	pthread_mutex_unlock(&n->lock);
	node_mark_dirty(n);
	log_info("node %s: using agent API v%s", n->rec.uuid, v);
	node_round_start(n);
}

static void node_on_quote(int status, const uint8_t *body, size_t len, const char *err, void *arg)
{
	node_t *n = arg;
	attest_input_t in;
	attest_out_t out;
	report_round_t rep;
	int rv;

	if (!node_answer_begin(n))
		return;
	if (status == 0 && http_client_cert_rejected(n->conn) && node_repin_start(n, err))
		return;
	if (status == 0 || status == 408 || status >= 500) {
		char why[160];
		if (status)
			snprintf(why, sizeof(why), "agent answered HTTP %d", status);
		else
			snprintf(why, sizeof(why), "%s", err);
		node_comm_error(n, why);
		return;
	}
	if (status == 400 && body && memmem(body, len, "API version not supported", 25) &&
	    !n->renegotiated) {
		/* Keylime's renegotiation: ask /version again, then quote. Once per good round:
		 * an agent refusing the version it has just offered would have us loop without
		 * pause; its second refusal fails the node like any other 4xx. */
		n->renegotiated = 1;
		pthread_mutex_lock(&n->lock);
		node_set_str(&n->rec.api_version, NULL);
		pthread_mutex_unlock(&n->lock);
		node_request(n, "/version", node_on_version);
		return;
	}
	n->answered_at = node_now(); /* published with the round's verdict */
	if (status != 200) {
		char why[200];
		snprintf(why, sizeof(why), "the agent refused the quote request with HTTP %d",
		         status);
		node_fail(n, NULL, "quote_request", why);
		return;
	}
	node_attest_input(n, &in);
	report_round_init(&rep);
	in.report = &rep;
	n->ev.q = node_quote_scratch(n->host);
	rv = attest_check(&in, &n->ev, body, len, &out);
	n->ev.q = NULL;
	if (out.rebooted) {
		char why[120];
		snprintf(why, sizeof(why), "TPM reset count %u -> %u", out.reset_from,
		         out.reset_to);
		node_record_event(n, EVENT_REBOOT, NULL, why);
	}
	switch (rv) {
	case 0:
		n->partial = 1; /* the agent's payload key is cached now */
		node_pass(n, &out);
		break;
	case 1:
		node_mark_dirty(n);
		node_round_start(n);
		break;
	default:
		node_fail(n, &out, out.event_id, out.reason);
	}
}

/* ---- the payload key's verifier share (docs/payload.md) ---- */

/* {"encrypted_key": base64(RSA-OAEP(V))} under the payload public key of the quote that
 * just passed (PCR 16 binds it), as Keylime's verifier posts it. 0, or -1 (e). */
static int node_v_body(node_t *n, buf_t *body, err_t *e)
{
	buf_t v = BUF_INIT, wrapped = BUF_INIT, b64 = BUF_INIT;
	EVP_PKEY *pk = NULL;
	BIO *bio = NULL;
	json_t *j = NULL;
	char *text = NULL;
	int rv = -1;

	if (n->ev.pubkey == NULL) {
		err_set(e, "no payload public key from the agent's quote");
		goto out;
	}
	if (hex_decode(&v, n->rec.payload_v, strlen(n->rec.payload_v)) < 0 ||
	    !bootkey_len_ok(v.len)) {
		err_set(e, "the stored share V is not 16 or 32 bytes of hex");
		goto out;
	}
	if ((bio = BIO_new_mem_buf(n->ev.pubkey, -1)) == NULL ||
	    (pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) == NULL) {
		err_set(e, "the agent's payload public key is not a PEM public key");
		goto out;
	}
	if (bootkey_wrap(pk, v.data, v.len, &wrapped, e) < 0)
		goto out;
	base64_encode(&b64, wrapped.data, wrapped.len);
	if ((j = json_pack("{s:s}", "encrypted_key", (const char *)b64.data)) == NULL ||
	    (text = json_dumps(j, JSON_COMPACT)) == NULL) {
		err_set(e, "cannot encode the V request");
		goto out;
	}
	buf_append(body, text, strlen(text));
	rv = 0;
out:
	free(text);
	json_decref(j);
	buf_free(&b64);
	buf_free(&wrapped);
	buf_free_secret(&v);
	BIO_free(bio);
	EVP_PKEY_free(pk);
	return rv;
}

static void node_on_vkey(int status, const uint8_t *body, size_t len, const char *err, void *arg)
{
	node_t *n = arg;
	vctx_t *ctx = node_ctx(n);
	char why[200];

	(void)body;
	(void)len;
	if (!node_answer_begin(n))
		return;
	if (status == 200) {
		node_forget_v(n);
		n->retries = 0;
		node_set_state(n, NODE_GET_QUOTE);
		/* V's deletion from the store goes in this event's transaction. */
		node_commit_verdict(n, EVENT_PAYLOAD_V, NULL,
		                    "V posted to the agent's /keys/vkey after a good quote");
		node_schedule_next(n);
		attest_now_kick(n);
		return;
	}
	if (status == 0 || status == 408 || status >= 500) {
		if (status)
			snprintf(why, sizeof(why), "POST /keys/vkey: agent answered HTTP %d",
			         status);
		else
			snprintf(why, sizeof(why), "POST /keys/vkey: %s", err);
		if (n->retries < ctx->max_retries) {
			int delay = node_backoff_ms(ctx, ++n->retries);
			node_set_state(n, NODE_PROVIDE_V_RETRY);
			log_info("node %s: %s; V retry %d of %d in %d ms", n->rec.uuid, why,
			         n->retries, ctx->max_retries, delay);
			node_schedule(n, delay);
			return;
		}
		/* Out of retries: FAILED as any unreachable node; V goes after its next good
		 * round, never before one. */
		n->v_due = 0;
		node_comm_error(n, why);
		return;
	}
	/* The agent refused V (Keylime's verifier fails the node too). */
	snprintf(why, sizeof(why), "the agent refused the payload key share V with HTTP %d",
	         status);
	node_fail(n, NULL, "payload_v", why);
}

static void node_post_v(node_t *n)
{
	buf_t body = BUF_INIT;
	err_t e = {""};
	char path[64];

	if (node_v_body(n, &body, &e) < 0) {
		char why[300];
		snprintf(why, sizeof(why), "cannot send the payload key share V: %s", e.msg);
		node_fail(n, NULL, "payload_v", why);
		return;
	}
	snprintf(path, sizeof(path), "/v%s/keys/vkey", n->rec.api_version);
	n->v_due = 1;
	n->in_flight = 1;
	n->req_gen = n->gen;
	log_info("node %s: posting its payload key share V", n->rec.uuid);
	if (http_client_request(n->conn, HTTP_M_POST, path, "application/json", body.data, body.len,
	                        node_on_vkey, n) < 0) {
		n->in_flight = 0;
		node_on_vkey(0, NULL, 0, http_client_error(n->conn), n);
	}
	buf_free(&body);
}

/* ---- commands from the API thread ---- */

/* Start the rounds: at once, or (spread) at the next point of the node's phase. */
static void node_start_polling(node_t *n, int spread)
{
	int64_t now = clock_mono_ms(), iv = node_ctx(n)->quote_interval_ms;

	n->retries = 0;
	node_schedule(n, spread ? (int)(rate_next_phase(n->phase_ms, now, iv) - now) : 0);
}

static void node_add(node_host_t *h, store_node_t *rec, int spread);

void node_cmd_add(node_host_t *h, void *arg)
{
	node_add(h, arg, 0);
}

void node_cmd_load(node_host_t *h, void *arg)
{
	node_add(h, arg, 1);
}

static void node_add(node_host_t *h, store_node_t *rec, int spread)
{
	err_t e = {""};
	node_t *n;
	char *uuid = xstrdup(rec->uuid);

	if (node_find(h, uuid)) {
		store_node_clear(rec);
		free(rec);
		free(uuid);
		return;
	}
	if ((n = node_new(h, rec, &e)) == NULL) {
		log_warnx("node %s: cannot be attested: %s", uuid, e.msg);
		store_node_clear(rec);
		free(rec);
		free(uuid);
		return;
	}
	free(rec);
	free(uuid);
	if (registry_add(h->ctx->registry, n->rec.uuid, n) < 0) {
		log_warnx("node %s: already registered", n->rec.uuid);
		node_free(n);
		return;
	}
	switch (n->rec.operational_state) {
	case NODE_INVALID_QUOTE:
	case NODE_TENANT_FAILED:
		log_info("node %s: loaded, stopped (state %d)", n->rec.uuid,
		         n->rec.operational_state);
		break;
	default:
		if (n->ev.ima)
			log_info("node %s: resuming at IMA entry %llu", n->rec.uuid,
			         (unsigned long long)ima_state_next_entry(n->ev.ima));
		/* Its last verdict stands: the first round under this instance writes its
		 * progress with the others' (batched), not an "attested" event of its own; a
		 * takeover of thousands of nodes (or a restart) is then no flood of events,
		 * webhook deliveries and single-row transactions ahead of real verdicts. */
		n->resumed = n->rec.operational_state == NODE_GET_QUOTE ||
		             n->rec.operational_state == NODE_GET_QUOTE_RETRY ||
		             n->rec.operational_state == NODE_PROVIDE_V;
		if (n->rec.operational_state != NODE_FAILED)
			node_set_state(n, NODE_START);
		node_start_polling(n, spread);
		/* A FAILED node's retries are used up: its next miss keeps it FAILED, probed
		 * at the longest delay, and records no second comm_error for one outage. */
		if (n->rec.operational_state == NODE_FAILED) {
			n->retries = h->ctx->max_retries;
			n->unreachable = 1;
		}
	}
}

void node_cmd_remove(node_host_t *h, void *arg)
{
	char *uuid = arg;
	node_t *n = node_find(h, uuid);

	free(uuid);
	if (n == NULL)
		return;
	n->removing = 1;
	node_set_state(n, NODE_TERMINATED);
	event_del(n->timer);
	registry_remove(h->ctx->registry, n->rec.uuid, n);
	log_info("node %s: removed from attestation", n->rec.uuid);
	attest_now_gone(n);
	node_release_if_idle(n);
}

/* An operator's command is answered when it returns (api.c): what it changed must be
 * durable by then, so it waits for the store thread. Operator commands only; a round
 * never waits. Its outcome (logging) still comes through the worker's queue. */
void node_wait_durable(node_t *n)
{
	storeq_lane_sync(n->host->writes);
}

void node_cmd_stop(node_host_t *h, void *arg)
{
	char *uuid = arg;
	node_t *n = node_find(h, uuid);

	free(uuid);
	if (n == NULL)
		return;
	event_del(n->timer);
	n->gen++;     /* an answer still on its way is not acted on */
	n->v_due = 0; /* V (if any) waits for the next good round after a reactivation */
	node_set_state(n, NODE_TENANT_FAILED);
	node_commit_verdict(n, EVENT_NODE_STOPPED, NULL, "stopped by an operator");
	node_wait_durable(n);
	attest_now_stopped(n);
}

void node_cmd_reactivate(node_host_t *h, void *arg)
{
	char *uuid = arg;
	node_t *n = node_find(h, uuid);
	err_t e = {""};

	free(uuid);
	if (n == NULL)
		return;
	event_del(n->timer);
	/* Start over as on first contact: policies reloaded, IMA replayed from the start,
	 * the failure forgotten. An answer still on its way was asked for with the old
	 * state; it is dropped and the first round starts when it arrives. */
	n->gen++;
	n->retries = 0;
	n->renegotiated = 0;
	n->v_due = 0;
	if (node_load_policies(n, &e) < 0)
		log_warnx("node %s: cannot reload its policies (%s); it keeps its previous ones",
		          n->rec.uuid, e.msg);
	ima_state_free(n->ev.ima);
	n->ev.ima = NULL;
	n->ev.mb_pcrs_mask = 0;
	n->partial = 0;
	pthread_mutex_lock(&n->lock);
	node_set_str(&n->rec.last_event_id, NULL);
	node_set_str(&n->rec.failure_reason, NULL);
	node_set_str(&n->rec.ima_state, NULL);
	node_set_str(&n->rec.mb_log_digest, NULL);
	n->rec.operational_state = NODE_START;
	pthread_mutex_unlock(&n->lock);
	n->unreachable = 0;
	node_commit_verdict(n, EVENT_NODE_REACTIVATED, NULL, "reactivated by an operator");
	node_wait_durable(n);
	if (!n->in_flight)
		node_start_polling(n, 0);
}

void node_cmd_policy_changed(node_host_t *h, void *arg)
{
	char *name = arg;
	err_t e = {""};

	for (node_t *n = *node_head(h); n; n = n->next) {
		const char *names[3] = {n->rec.pcr_policy, n->rec.runtime_policy, n->rec.mb_policy};
		if (n->removing) /* waiting for its request to end, then freed */
			continue;
		for (int i = 0; i < 3; i++)
			if (names[i] && strcmp(names[i], name) == 0) {
				if (node_load_policies(n, &e) < 0)
					log_warnx("node %s: cannot load the new policy %s (%s); it "
					          "keeps its previous policies",
					          n->rec.uuid, name, e.msg);
				else
					log_info("node %s: policy %s updated", n->rec.uuid, name);
				break;
			}
	}
	free(name);
}

void node_verdict_done(node_t *n, const char *type, const char *event_id, const char *reason)
{
	vctx_t *ctx = node_ctx(n);

	if (strcmp(type, EVENT_REVOCATION) == 0) {
		node_announce(n, type, event_id, reason);
		log_warnx("node %s: attestation FAILED (%s): %s; polling stopped until reactivated",
		          n->rec.uuid, event_id, reason);
	} else if (strcmp(type, EVENT_COMM_ERROR) == 0) {
		node_announce(n, type, event_id, reason);
		log_warnx("node %s: unreachable after %d retries (%s); still probing every %d ms",
		          n->rec.uuid, ctx->max_retries, reason,
		          node_backoff_ms(ctx, ctx->max_retries));
	} else if (strcmp(type, EVENT_ATTESTED) == 0 || strcmp(type, EVENT_RECOVERED) == 0) {
		log_info("node %s: attested (%s), polling every %d ms", n->rec.uuid,
		         strcmp(type, EVENT_ATTESTED) == 0 ? "first round" : "recovered",
		         ctx->quote_interval_ms);
	} else if (strcmp(type, EVENT_PAYLOAD_V) == 0) {
		log_info("node %s: payload key share V delivered to the agent and forgotten",
		         n->rec.uuid);
	} else if (strcmp(type, EVENT_NODE_STOPPED) == 0) {
		log_info("node %s: stopped by an operator", n->rec.uuid);
	} else if (strcmp(type, EVENT_NODE_REACTIVATED) == 0) {
		log_info("node %s: reactivated", n->rec.uuid);
	}
}

void node_lease_lost(node_t *n, const char *what)
{
	/* Removed by an operator: its row is gone, so a write still on its way was refused;
	 * nothing to report. */
	if (n->lease_lost || (n->removing && n->rec.operational_state == NODE_TERMINATED))
		return;
	n->lease_lost = 1;
	log_warnx("node %s: write of %s refused by the lease fence (epoch %lld moved: another "
	          "verifier holds the node now); dropping it",
	          n->rec.uuid, what, (long long)n->rec.lease_epoch);
	if (n->removing) /* handed back already: released when idle */
		return;
	n->removing = 1;
	if (n->timer)
		event_del(n->timer);
	registry_remove(node_ctx(n)->registry, n->rec.uuid, n);
	attest_now_gone(n);
	node_release_if_idle(n);
}

static int node_cmp_uuid(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void node_cmd_drop(node_host_t *h, void *arg)
{
	char **uuids = arg;
	size_t m = 0, dropped = 0;

	/* One pass over the worker's nodes, each looked up in the sorted list: n log m, not
	 * n times m, when thousands are handed back at once. */
	while (uuids[m])
		m++;
	qsort(uuids, m, sizeof(*uuids), node_cmp_uuid);
	for (node_t *n = *node_head(h), *next; n; n = next) {
		const char *key = n->rec.uuid;
		next = n->next;
		if (n->removing || bsearch(&key, uuids, m, sizeof(*uuids), node_cmp_uuid) == NULL)
			continue;
		/* A last fenced write first: a rebalanced node's next owner resumes where
		 * this one stood; a lost one's write is refused (and logged then). */
		node_put_progress_if_dirty(n);
		n->removing = 1;
		event_del(n->timer);
		registry_remove(h->ctx->registry, n->rec.uuid, n);
		attest_now_gone(n);
		node_release_if_idle(n);
		dropped++;
	}
	for (size_t i = 0; i < m; i++)
		free(uuids[i]);
	free(uuids);
	if (dropped > 0)
		log_info("worker %d: %zu nodes handed back to the pool", h->id, dropped);
}

void node_worker_flush(node_host_t *h)
{
	h->stopping = 1;
	for (node_t *n = *node_head(h); n; n = n->next)
		if (!n->removing)
			node_put_progress_if_dirty(n);
}

void node_worker_stop(node_host_t *h)
{
	node_t *n;

	while ((n = *node_head(h)) != NULL)
		node_free(n);
	quote_free(h->quote);
	h->quote = NULL;
}

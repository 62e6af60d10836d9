/* update: UpdateNode on the owning worker: a node's contact (ip, port, pinned certificate)
 * and policies changed in place, its counters, verdict, IMA position and running PCR 10
 * kept (node.h, node_cmd_update). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "verifier/events.h"
#include "verifier/node_priv.h"
#include "verifier/policies.h"
#include "verifier/vctx.h"

/* "" or NULL: none; else the name. */
static const char *node_upd_name(const char *s)
{
	return s && *s ? s : NULL;
}

static int node_str_differs(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

/* Append "field: old -> new" (none for NULL) to the change list b. */
static void node_upd_note(buf_t *b, const char *field, const char *from, const char *to)
{
	char line[300];

	snprintf(line, sizeof(line), "%s%s: %s -> %s", b->len ? "; " : "", field,
	         from ? from : "(none)", to ? to : "(none)");
	buf_append(b, line, strlen(line));
}

void node_cmd_update(node_host_t *h, void *arg)
{
	node_update_t *u = arg;
	node_t *n = node_find(h, u->uuid);
	const char *pcr, *rt, *mb, *ip, *cert;
	int port, contact, policies;
	store_node_t rec;
	node_polset_t set = {NULL, NULL, NULL};
	http_client_t *conn = NULL;
	buf_t changes = BUF_INIT;
	err_t e = {""};
	char pstr[2][12];

	u->rc = NODE_UPDATE_OK;
	u->why[0] = '\0';
	if (n == NULL || n->rec.operational_state == NODE_TERMINATED) {
		u->rc = NODE_UPDATE_GONE;
		snprintf(u->why, sizeof(u->why),
		         "node %s is being removed or no longer attested by this verifier",
		         u->uuid);
		return;
	}
	/* The record as it will be: the named fields from u, the others as they are. */
	pcr = u->fields & NODE_UPD_PCR ? node_upd_name(u->pcr_policy) : n->rec.pcr_policy;
	rt =
	    u->fields & NODE_UPD_RUNTIME ? node_upd_name(u->runtime_policy) : n->rec.runtime_policy;
	mb = u->fields & NODE_UPD_MB ? node_upd_name(u->mb_policy) : n->rec.mb_policy;
	ip = u->fields & NODE_UPD_IP ? u->ip : n->rec.ip;
	port = u->fields & NODE_UPD_PORT ? u->port : n->rec.port;
	cert = u->fields & NODE_UPD_MTLS_CERT ? u->mtls_cert : n->rec.mtls_cert;
	if (node_str_differs(pcr, n->rec.pcr_policy))
		node_upd_note(&changes, "pcr_policy", n->rec.pcr_policy, pcr);
	if (node_str_differs(rt, n->rec.runtime_policy))
		node_upd_note(&changes, "runtime_policy", n->rec.runtime_policy, rt);
	if (node_str_differs(mb, n->rec.mb_policy))
		node_upd_note(&changes, "mb_policy", n->rec.mb_policy, mb);
	policies = changes.len > 0;
	if (node_str_differs(ip, n->rec.ip))
		node_upd_note(&changes, "ip", n->rec.ip, ip);
	if (port != n->rec.port) {
		snprintf(pstr[0], sizeof(pstr[0]), "%d", n->rec.port);
		snprintf(pstr[1], sizeof(pstr[1]), "%d", port);
		node_upd_note(&changes, "port", pstr[0], pstr[1]);
	}
	if (node_str_differs(cert, n->rec.mtls_cert))
		node_upd_note(&changes, "mtls_cert", "(pinned)", "(new certificate)");
	contact = node_str_differs(ip, n->rec.ip) || port != n->rec.port ||
	          node_str_differs(cert, n->rec.mtls_cert);
	if (changes.len == 0)
		goto out; /* nothing differs: nothing to store, nothing recorded */
	/* Everything that can fail first, the node untouched: its new policies loaded, its
	 * new connection made, its record stored. */
	if (policies && node_policies_acquire(n, pcr, rt, mb, &set, &e) < 0) {
		u->rc = NODE_UPDATE_POLICY;
		snprintf(u->why, sizeof(u->why), "node %s: %s", u->uuid, e.msg);
		goto out;
	}
	if (contact && (conn = node_conn_to(n, ip, port, cert)) == NULL) {
		u->rc = NODE_UPDATE_ERROR;
		snprintf(u->why, sizeof(u->why), "node %s: cannot set up the TLS client for %s:%d",
		         u->uuid, ip, port);
		goto out;
	}
	memset(&rec, 0, sizeof(rec));
	rec.uuid = n->rec.uuid;
	rec.ip = (char *)(uintptr_t)ip;
	rec.port = port;
	rec.mtls_cert = (char *)(uintptr_t)cert;
	rec.pcr_policy = (char *)(uintptr_t)pcr;
	rec.runtime_policy = (char *)(uintptr_t)rt;
	rec.mb_policy = (char *)(uintptr_t)mb;
	switch (store_node_update(h->store, &rec, n->rec.lease_epoch, &e)) {
	case STORE_OK:
		break;
	case STORE_FENCED:
		u->rc = NODE_UPDATE_FENCED;
		snprintf(u->why, sizeof(u->why),
		         "node %s is held by another verifier instance now; ask again", u->uuid);
		node_lease_lost(n, "its update");
		goto out;
	case STORE_NOT_FOUND: {
		/* The row is gone (removed meanwhile), or a policy it names was deleted since
		 * it was loaded above. */
		store_node_t cur;
		err_t ignored = {""};
		memset(&cur, 0, sizeof(cur));
		if (store_node_get(h->store, u->uuid, &cur, &ignored) == STORE_OK) {
			u->rc = NODE_UPDATE_POLICY;
			snprintf(u->why, sizeof(u->why),
			         "node %s: a policy it names was deleted meanwhile; store it again",
			         u->uuid);
			store_node_clear(&cur);
		} else {
			u->rc = NODE_UPDATE_NOT_STORED;
			snprintf(u->why, sizeof(u->why), "node %s not found", u->uuid);
		}
		goto out;
	}
	default:
		u->rc = NODE_UPDATE_ERROR;
		snprintf(u->why, sizeof(u->why), "node %s: cannot store the update: %s", u->uuid,
		         e.msg);
		goto out;
	}
	/* Stored: in force now. Copies first, as they may point into rec's own strings. */
	{
		char *npcr = pcr ? xstrdup(pcr) : NULL, *nrt = rt ? xstrdup(rt) : NULL;
		char *nmb = mb ? xstrdup(mb) : NULL, *nip = xstrdup(ip), *ncert = xstrdup(cert);
		pthread_mutex_lock(&n->lock);
		free(n->rec.pcr_policy);
		free(n->rec.runtime_policy);
		free(n->rec.mb_policy);
		free(n->rec.ip);
		free(n->rec.mtls_cert);
		n->rec.pcr_policy = npcr;
		n->rec.runtime_policy = nrt;
		n->rec.mb_policy = nmb;
		n->rec.ip = nip;
		n->rec.port = port;
		n->rec.mtls_cert = ncert;
		if (contact) /* another agent may speak another version */
			node_set_str(&n->rec.api_version, NULL);
		pthread_mutex_unlock(&n->lock);
	}
	if (policies)
		node_policies_install(n, &set);
	/* A request in flight was asked with the old settings: its answer is dropped when it
	 * comes (and the round asked again), never judged with the new ones. */
	n->gen++;
	if (contact) {
		/* A quote request on the old connection is dropped with it (its callback never
		 * runs); a registrar lookup in flight ends on its own, stale. */
		if (n->in_flight && n->reg == NULL)
			n->in_flight = 0;
		http_client_free(n->conn);
		n->conn = conn;
		conn = NULL;
		n->partial = 0; /* the agent's payload key is asked for again */
		n->renegotiated = 0;
		n->repin_tried = 0;
		if (node_polling(n) && !n->in_flight) {
			event_del(n->timer);
			node_schedule(n, 0);
		}
	}
	node_mark_dirty(n);
	buf_append(&changes, "", 1);
	node_record_event(n, EVENT_NODE_UPDATED, NULL, (const char *)changes.data);
	log_info("node %s: updated by an operator: %s", n->rec.uuid, (const char *)changes.data);
	node_wait_durable(n);
out:
	if (set.pcr || set.rt || set.mb) {
		policies_release(h->ctx->policies, set.pcr);
		policies_release(h->ctx->policies, set.rt);
		policies_release(h->ctx->policies, set.mb);
	}
	http_client_free(conn);
	buf_free(&changes);
}

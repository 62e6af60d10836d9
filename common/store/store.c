/* store: URL dispatch to a backend, argument checks, and record helpers. The backends
 * (store_sqlite*.c, store_pg*.c) hold the SQL. */
#include "common/store/store.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>

#include "common/base/log.h"
#include "common/store/store_backend.h"
#include "common/base/xmalloc.h"

struct store {
	const store_ops_t *ops; /* the backend's functions */
	void *h;                /* the backend's handle */
};

char *store_url_redact(const char *url)
{
	const char *auth, *end, *at, *colon, *q;
	char *out, *pw;
	size_t len;

	if (url == NULL)
		return xstrdup("");
	/* userinfo: scheme://user:PASSWORD@host... (the last '@' before the path). */
	if ((auth = strstr(url, "://")) == NULL)
		return xstrdup(url);
	auth += 3;
	end = auth + strcspn(auth, "/?");
	at = NULL;
	for (const char *c = auth; c < end; c++)
		if (*c == '@')
			at = c;
	colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (colon)
		out = xasprintf("%.*s:***%s", (int)(colon - url), url, at);
	else
		out = xstrdup(url);
	/* A password=... query parameter: its value up to the next '&'. */
	q = strchr(out, '?');
	while (q && (pw = strstr(q, "password=")) != NULL) {
		char *v = pw + 9, *rest;

		if (pw[-1] != '?' && pw[-1] != '&') {
			q = v;
			continue;
		}
		len = strcspn(v, "&");
		rest = xstrdup(v + len);
		*v = '\0';
		pw = xasprintf("%s***%s", out, rest);
		q = pw + (v - out) + 3;
		free(rest);
		free(out);
		out = pw;
	}
	return out;
}

store_t *store_open(const char *url, err_t *e)
{
	const store_ops_t *ops = NULL;
	const char *where = NULL;
	store_t *s;
	void *h;

	if (url == NULL || *url == '\0') {
		err_set(e, "no database URL given (expected sqlite:PATH or postgresql://...)");
		return NULL;
	}
	if (strncmp(url, "sqlite:", 7) == 0) {
		ops = &store_sqlite_ops;
		where = url + 7;
		/* Accept sqlite:///abs/path too, as other tools spell it. */
		if (strncmp(where, "//", 2) == 0)
			where += 2;
		if (*where == '\0') {
			err_set(e, "database \"%s\": empty path", url);
			return NULL;
		}
	} else if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
		/* libpq takes the whole URI as given (host, port, dbname, query parameters). */
		ops = &store_pg_ops;
		where = url;
	} else {
		char *shown = store_url_redact(url);

		err_set(e,
		        "database \"%s\": unknown scheme (expected sqlite:PATH or "
		        "postgresql://...)",
		        shown);
		free(shown);
		return NULL;
	}
	if ((h = ops->open(where, e)) == NULL)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->ops = ops;
	s->h = h;
	return s;
}

void store_close(store_t *s)
{
	if (s == NULL)
		return;
	s->ops->close(s->h);
	free(s);
}

void store_relax_durability(store_t *s)
{
	if (s->ops->relax_durability != NULL)
		s->ops->relax_durability(s->h);
}

store_rc_t store_stats(store_t *s, store_stats_t *out, err_t *e)
{
	memset(out, 0, sizeof(*out));
	return s->ops->stats(s->h, out, e);
}

int store_schema_version(store_t *s)
{
	return s->ops->schema_version(s->h);
}

int store_schema_latest(void)
{
	return STORE_SCHEMA_LATEST;
}

store_rc_t store_agent_put(store_t *s, const store_agent_t *a, err_t *e)
{
	if (a->agent_id == NULL || a->ek_tpm == NULL || a->aik_tpm == NULL) {
		err_set(e, "store: agent record lacks agent_id, ek_tpm or aik_tpm");
		return STORE_ERROR;
	}
	return s->ops->agent_put(s->h, a, e);
}

store_rc_t store_agent_get(store_t *s, const char *agent_id, store_agent_t *out, err_t *e)
{
	memset(out, 0, sizeof(*out));
	return s->ops->agent_get(s->h, agent_id, out, e);
}

store_rc_t store_agent_list(store_t *s, char ***ids, size_t *n, err_t *e)
{
	*ids = NULL;
	*n = 0;
	return s->ops->agent_list(s->h, ids, n, e);
}

store_rc_t store_agent_list_page(store_t *s, const char *after_id, size_t limit,
                                 store_agent_t **out, size_t *n, err_t *e)
{
	*out = NULL;
	*n = 0;
	if (limit < 1 || limit > 10000) {
		err_set(e, "store: agent page size %zu out of range", limit);
		return STORE_ERROR;
	}
	return s->ops->agent_list_page(s->h, after_id ? after_id : "", limit, out, n, e);
}

void store_agents_free(store_agent_t *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		store_agent_clear(&v[i]);
	free(v);
}

store_rc_t store_agent_delete(store_t *s, const char *agent_id, err_t *e)
{
	return s->ops->agent_delete(s->h, agent_id, e);
}

store_rc_t store_agent_delete_pending(store_t *s, const char *agent_id, err_t *e)
{
	return s->ops->agent_delete_pending(s->h, agent_id, e);
}

store_rc_t store_agent_activate(store_t *s, const char *agent_id, err_t *e)
{
	return s->ops->agent_activate(s->h, agent_id, e);
}

store_rc_t store_agent_stage(store_t *s, const store_agent_t *a, err_t *e)
{
	if (a->agent_id == NULL || a->ek_tpm == NULL || a->aik_tpm == NULL ||
	    a->pending_key == NULL) {
		err_set(e, "store: staged attempt lacks agent_id, ek_tpm, aik_tpm or pending_key");
		return STORE_ERROR;
	}
	return s->ops->agent_stage(s->h, a, e);
}

store_rc_t store_agent_get_staged(store_t *s, const char *agent_id, store_agent_t *out, err_t *e)
{
	memset(out, 0, sizeof(*out));
	return s->ops->agent_get_staged(s->h, agent_id, out, e);
}

store_rc_t store_agent_unstage(store_t *s, const char *agent_id, err_t *e)
{
	return s->ops->agent_unstage(s->h, agent_id, e);
}

store_rc_t store_agent_promote(store_t *s, const char *agent_id, err_t *e)
{
	return s->ops->agent_promote(s->h, agent_id, e);
}

store_rc_t store_agent_find_ek(store_t *s, const char *ek_key, const char *exclude_id,
                               int active_only, char **other, err_t *e)
{
	*other = NULL;
	if (ek_key == NULL)
		return STORE_NOT_FOUND;
	return s->ops->agent_find_ek(s->h, ek_key, exclude_id ? exclude_id : "", active_only, other,
	                             e);
}

void store_agent_clear(store_agent_t *a)
{
	if (a == NULL)
		return;
	free(a->agent_id);
	free(a->ek_tpm);
	free(a->ek_key);
	free(a->ekcert);
	free(a->aik_tpm);
	free(a->mtls_cert);
	free(a->ip);
	if (a->pending_key)
		xfree_secret(a->pending_key, strlen(a->pending_key));
	memset(a, 0, sizeof(*a));
}

void store_ids_free(char **ids)
{
	if (ids == NULL)
		return;
	for (char **p = ids; *p; p++)
		free(*p);
	free(ids);
}

/* ---- verifier ---- */

store_rc_t store_node_add(store_t *s, const store_node_t *n, err_t *e)
{
	if (n->uuid == NULL || n->ak_tpm == NULL || n->ip == NULL) {
		err_set(e, "store: node record lacks uuid, ak_tpm or ip");
		return STORE_ERROR;
	}
	return s->ops->node_add(s->h, n, e);
}

/* The fallback of a backend without node_add_many: each node, then its event; a node whose
 * event cannot be recorded is deleted again, so that it changes nothing. */
static store_rc_t store_node_add_each(store_t *s, store_node_add_item_t *it,
                                      const char *const *urls, size_t nurls)
{
	err_t ignored = {""};

	if ((it->rc = s->ops->node_add(s->h, it->node, &it->err)) != STORE_OK)
		return it->rc;
	it->rc = s->ops->event_commit(s->h, NULL, it->node->uuid, it->type, it->severity,
	                              it->body_json, urls, nurls, it->event_id, NULL, &it->err);
	if (it->rc != STORE_OK) {
		it->rc = STORE_ERROR;
		if (s->ops->node_delete(s->h, it->node->uuid, &ignored) != STORE_OK)
			log_warnx(
			    "store: node %s stored without its event, and cannot be deleted: %s",
			    it->node->uuid, ignored.msg);
	}
	return it->rc;
}

store_rc_t store_node_add_many(store_t *s, store_node_add_item_t *items, size_t n,
                               const char *const *urls, size_t nurls, err_t *e)
{
	size_t todo = 0;

	for (size_t i = 0; i < nurls; i++)
		if (urls[i] == NULL || *urls[i] == '\0') {
			err_set(e, "store: an empty webhook URL");
			return STORE_ERROR;
		}
	/* The backend adds the items whose rc is STORE_OK on entry, and sets every rc. */
	for (size_t i = 0; i < n; i++) {
		store_node_add_item_t *it = &items[i];
		const store_node_t *nd = it->node;
		it->err.msg[0] = '\0';
		it->event_id[0] = '\0';
		it->rc = STORE_ERROR;
		if (nd == NULL || nd->uuid == NULL || nd->ak_tpm == NULL || nd->ip == NULL)
			err_set(&it->err, "store: node record lacks uuid, ak_tpm or ip");
		else if (it->type == NULL || it->body_json == NULL)
			err_set(&it->err, "store: an event needs a type and a body");
		else {
			it->rc = STORE_OK;
			todo++;
		}
	}
	if (todo == 0)
		return STORE_OK;
	if (s->ops->node_add_many != NULL)
		return s->ops->node_add_many(s->h, items, n, urls, nurls, e);
	for (size_t i = 0; i < n; i++)
		if (items[i].rc == STORE_OK)
			store_node_add_each(s, &items[i], urls, nurls);
	return STORE_OK;
}

store_rc_t store_node_get(store_t *s, const char *uuid, store_node_t *out, err_t *e)
{
	memset(out, 0, sizeof(*out));
	return s->ops->node_get(s->h, uuid, out, e);
}

store_rc_t store_node_list(store_t *s, store_node_t **nodes, size_t *n, err_t *e)
{
	*nodes = NULL;
	*n = 0;
	return s->ops->node_list(s->h, nodes, n, e);
}

store_rc_t store_node_delete(store_t *s, const char *uuid, err_t *e)
{
	return s->ops->node_delete(s->h, uuid, e);
}

store_rc_t store_node_save(store_t *s, const store_node_t *const *nodes, size_t n, int *fenced,
                           err_t *e)
{
	if (n == 0)
		return STORE_OK;
	if (fenced)
		memset(fenced, 0, n * sizeof(*fenced));
	return s->ops->node_save(s->h, nodes, n, fenced, e);
}

store_rc_t store_node_update(store_t *s, const store_node_t *u, int64_t epoch, err_t *e)
{
	return s->ops->node_update(s->h, u, epoch, e);
}

store_rc_t store_node_set_mtls_cert(store_t *s, const char *uuid, const char *pem, int64_t epoch,
                                    err_t *e)
{
	if (uuid == NULL || pem == NULL) {
		err_set(e, "store: a certificate change needs a uuid and a PEM");
		return STORE_ERROR;
	}
	return s->ops->node_set_mtls_cert(s->h, uuid, pem, epoch, e);
}

store_rc_t store_pool_heartbeat(store_t *s, const char *id, const char *address, int64_t now,
                                int64_t stalled, err_t *e)
{
	return s->ops->pool_heartbeat(s->h, id, address, now, stalled, e);
}

store_rc_t store_pool_leave(store_t *s, const char *id, err_t *e)
{
	return s->ops->pool_leave(s->h, id, e);
}

store_rc_t store_pool_reap(store_t *s, const char *id, int64_t now, int64_t *gone, char **desc,
                           err_t *e)
{
	*gone = 0;
	*desc = NULL;
	if (s->ops->pool_reap == NULL)
		return STORE_OK;
	return s->ops->pool_reap(s->h, id, now, gone, desc, e);
}

store_rc_t store_pool_counts(store_t *s, const char *id, int64_t live_since, int64_t now,
                             store_pool_counts_t *out, err_t *e)
{
	memset(out, 0, sizeof(*out));
	return s->ops->pool_counts(s->h, id, live_since, now, out, e);
}

store_rc_t store_lease_renew(store_t *s, const char *id, int64_t expiry, store_lease_t **out,
                             size_t *n, err_t *e)
{
	*out = NULL;
	*n = 0;
	return s->ops->lease_renew(s->h, id, expiry, out, n, e);
}

store_rc_t store_lease_claim(store_t *s, const char *id, int64_t now, int64_t expiry, size_t limit,
                             store_node_t **out, size_t *n, err_t *e)
{
	*out = NULL;
	*n = 0;
	if (limit == 0)
		return STORE_OK;
	return s->ops->lease_claim(s->h, id, now, expiry, limit, out, n, e);
}

store_rc_t store_lease_release(store_t *s, const char *id, const char *uuid, err_t *e)
{
	return s->ops->lease_release(s->h, id, uuid, e);
}

int store_url_is_pool(const char *url)
{
	return url && (strncmp(url, "postgresql:", 11) == 0 || strncmp(url, "postgres:", 9) == 0);
}

void store_leases_free(store_lease_t *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].uuid);
	free(v);
}

store_rc_t store_pool_list(store_t *s, store_pool_member_t **out, size_t *n, err_t *e)
{
	*out = NULL;
	*n = 0;
	return s->ops->pool_list(s->h, out, n, e);
}

void store_pool_members_free(store_pool_member_t *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].id);
		free(v[i].address);
	}
	free(v);
}

void store_node_clear(store_node_t *n)
{
	if (n == NULL)
		return;
	free(n->uuid);
	free(n->ak_tpm);
	free(n->ip);
	free(n->mtls_cert);
	free(n->api_version);
	free(n->pcr_policy);
	free(n->runtime_policy);
	free(n->mb_policy);
	free(n->last_event_id);
	free(n->failure_reason);
	free(n->ima_state);
	free(n->ima_keys);
	free(n->mb_log_digest);
	free(n->lease_owner);
	if (n->payload_v)
		xfree_secret(n->payload_v, strlen(n->payload_v));
	memset(n, 0, sizeof(*n));
}

void store_nodes_free(store_node_t *nodes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_node_clear(&nodes[i]);
	free(nodes);
}

static int store_kind_ok(const char *kind)
{
	return kind && (strcmp(kind, "tpm_pcr") == 0 || strcmp(kind, "runtime") == 0 ||
	                strcmp(kind, "measured_boot") == 0);
}

store_rc_t store_policy_put(store_t *s, const char *name, const char *kind, const uint8_t *body,
                            size_t len, int replace, store_policy_t *out, err_t *e)
{
	unsigned char md[32];
	char hex[65];
	store_rc_t rc;

	if (name == NULL || *name == '\0' || !store_kind_ok(kind)) {
		err_set(e, "store: policy needs a name and a known kind");
		return STORE_ERROR;
	}
	SHA256(body, len, md);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	rc = s->ops->policy_put(s->h, name, kind, body, len, hex, replace, e);
	if (rc == STORE_OK && out) {
		memset(out, 0, sizeof(*out));
		rc = s->ops->policy_get(s->h, name, 0, out, e);
	}
	return rc;
}

store_rc_t store_policy_get(store_t *s, const char *name, store_policy_t *out, err_t *e)
{
	memset(out, 0, sizeof(*out));
	return s->ops->policy_get(s->h, name, 1, out, e);
}

store_rc_t store_policy_list(store_t *s, const char *kind, const char *after, size_t limit,
                             store_policy_t **out, size_t *n, err_t *e)
{
	*out = NULL;
	*n = 0;
	return s->ops->policy_list(s->h, kind, after ? after : "", limit, out, n, e);
}

store_rc_t store_policy_delete(store_t *s, const char *name, err_t *e)
{
	return s->ops->policy_delete(s->h, name, e);
}

void store_policy_clear(store_policy_t *p)
{
	if (p == NULL)
		return;
	free(p->name);
	free(p->kind);
	free(p->body);
	memset(p, 0, sizeof(*p));
}

void store_policies_free(store_policy_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_policy_clear(&p[i]);
	free(p);
}

store_rc_t store_event_append(store_t *s, const char *node_uuid, const char *type,
                              const char *severity, const char *body_json, char id_out[40],
                              err_t *e)
{
	/* The backends hash these as strings: refuse NULL here rather than crash there. */
	if (type == NULL || body_json == NULL) {
		err_set(e, "store: an event needs a type and a body");
		return STORE_ERROR;
	}
	return s->ops->event_append(s->h, node_uuid, type, severity, body_json, id_out, e);
}

store_rc_t store_event_verify_chain(store_t *s, err_t *e)
{
	return s->ops->event_verify_chain(s->h, e);
}

store_rc_t store_event_list(store_t *s, const store_event_filter_t *f, store_event_t **out,
                            size_t *n, err_t *e)
{
	static const store_event_filter_t all = {NULL, NULL, 0, 0, 0};

	*out = NULL;
	*n = 0;
	return s->ops->event_list(s->h, f ? f : &all, out, n, e);
}

store_rc_t store_event_get(store_t *s, const char *id, store_event_t *out, err_t *e)
{
	memset(out, 0, sizeof(*out));
	if (id == NULL) {
		err_set(e, "store: an event lookup needs an id");
		return STORE_ERROR;
	}
	return s->ops->event_get(s->h, id, out, e);
}

store_rc_t store_event_last(store_t *s, store_event_t *out, err_t *e)
{
	memset(out, 0, sizeof(*out));
	return s->ops->event_last(s->h, out, e);
}

void store_event_clear(store_event_t *ev)
{
	if (ev == NULL)
		return;
	free(ev->node_uuid);
	free(ev->type);
	free(ev->severity);
	free(ev->body);
	memset(ev, 0, sizeof(*ev));
}

void store_events_free(store_event_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_event_clear(&v[i]);
	free(v);
}

store_rc_t store_seal_append(store_t *s, const store_seal_t *seal, err_t *e)
{
	if (seal->seq < 1 || seal->sig == NULL || strlen(seal->hash) != 64 ||
	    strlen(seal->key_id) != 64) {
		err_set(e,
		        "store: a seal needs a seq, the record's hash, a key id and a signature");
		return STORE_ERROR;
	}
	return s->ops->seal_append(s->h, seal, e);
}

store_rc_t store_seal_list(store_t *s, int64_t after_seq, int64_t upto_seq, store_seal_t **out,
                           size_t *n, err_t *e)
{
	*out = NULL;
	*n = 0;
	return s->ops->seal_list(s->h, after_seq, upto_seq, out, n, e);
}

store_rc_t store_seal_last(store_t *s, store_seal_t *out, err_t *e)
{
	memset(out, 0, sizeof(*out));
	return s->ops->seal_last(s->h, out, e);
}

void store_seal_clear(store_seal_t *seal)
{
	if (seal == NULL)
		return;
	free(seal->sig);
	memset(seal, 0, sizeof(*seal));
}

void store_seals_free(store_seal_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_seal_clear(&v[i]);
	free(v);
}

store_rc_t store_event_commit(store_t *s, const store_node_t *node, const char *node_uuid,
                              const char *type, const char *severity, const char *body_json,
                              const char *const *urls, size_t nurls, char id_out[40],
                              int64_t *seq_out, err_t *e)
{
	if (type == NULL || body_json == NULL || (nurls > 0 && urls == NULL)) {
		err_set(e, "store: an event needs a type and a body");
		return STORE_ERROR;
	}
	for (size_t i = 0; i < nurls; i++)
		if (urls[i] == NULL || *urls[i] == '\0') {
			err_set(e, "store: an empty webhook URL");
			return STORE_ERROR;
		}
	if (node != NULL &&
	    (node->uuid == NULL || node_uuid == NULL || strcmp(node->uuid, node_uuid) != 0)) {
		err_set(e, "store: the event's node is not the node record given");
		return STORE_ERROR;
	}
	return s->ops->event_commit(s->h, node, node_uuid, type, severity, body_json, urls, nurls,
	                            id_out, seq_out, e);
}

store_rc_t store_outbox_due(store_t *s, const char *url, int64_t now, size_t limit,
                            store_outbox_t **rows, size_t *n, err_t *e)
{
	*rows = NULL;
	*n = 0;
	return s->ops->outbox_due(s->h, url, now, limit, rows, n, e);
}

store_rc_t store_outbox_next_due(store_t *s, int64_t *when, err_t *e)
{
	return s->ops->outbox_next_due(s->h, when, e);
}

store_rc_t store_outbox_delivered(store_t *s, int64_t id, err_t *e)
{
	return s->ops->outbox_delivered(s->h, id, e);
}

store_rc_t store_outbox_failed(store_t *s, int64_t id, int64_t next_attempt, const char *err_text,
                               err_t *e)
{
	return s->ops->outbox_failed(s->h, id, next_attempt, err_text, e);
}

store_rc_t store_outbox_dead(store_t *s, int64_t id, const char *err_text, err_t *e)
{
	return s->ops->outbox_dead(s->h, id, err_text, e);
}

store_rc_t store_outbox_list(store_t *s, store_outbox_kind_t kind, int64_t after, size_t limit,
                             store_outbox_t **rows, size_t *n, err_t *e)
{
	*rows = NULL;
	*n = 0;
	if (kind != STORE_OUTBOX_PENDING && kind != STORE_OUTBOX_DEAD) {
		err_set(e, "store: unknown outbox list kind");
		return STORE_ERROR;
	}
	return s->ops->outbox_list(s->h, kind, after, limit, rows, n, e);
}

store_rc_t store_outbox_retry(store_t *s, int64_t id, int64_t *count, err_t *e)
{
	if (id < 0) {
		err_set(e, "store: outbox row ids are positive");
		return STORE_ERROR;
	}
	return s->ops->outbox_retry(s->h, id, count, e);
}

store_rc_t store_outbox_prune(store_t *s, int64_t before_ms, size_t limit, int64_t *count, err_t *e)
{
	if (limit == 0) {
		if (count)
			*count = 0;
		return STORE_OK;
	}
	return s->ops->outbox_prune(s->h, before_ms, limit, count, e);
}

void store_outbox_free(store_outbox_t *rows, size_t n)
{
	if (rows == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(rows[i].url);
		free(rows[i].node_uuid);
		free(rows[i].last_error);
		free(rows[i].event_type);
		free(rows[i].event_severity);
		free(rows[i].event_body);
	}
	free(rows);
}

/* store: URL dispatch to a backend, argument checks, and record helpers. The backends
 * (store_sqlite.c, later store_pg.c) hold the SQL. */
#include "common/store.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/log.h"
#include "common/store_backend.h"
#include "common/xmalloc.h"

struct store {
	const store_ops_t *ops; /* the backend's functions */
	void *h;                /* the backend's handle */
};

store_t *store_open(const char *url, err_t *e)
{
	const store_ops_t *ops = NULL;
	const char *where = NULL;
	store_t *s;
	void *h;

	if (url == NULL || *url == '\0') {
		err_set(e, "no database URL given (expected sqlite:PATH)");
		return NULL;
	}
	if (strncmp(url, "sqlite:", 7) == 0) {
		ops = &store_sqlite_ops;
		where = url + 7;
		/* Accept sqlite:///abs/path too, as other tools spell it. */
		if (strncmp(where, "//", 2) == 0)
			where += 2;
	} else if (strncmp(url, "postgresql:", 11) == 0 || strncmp(url, "postgres:", 9) == 0) {
		err_set(e, "database \"%s\": the PostgreSQL backend is not built yet", url);
		return NULL;
	} else {
		err_set(e, "database \"%s\": unknown scheme (expected sqlite:PATH)", url);
		return NULL;
	}
	if (*where == '\0') {
		err_set(e, "database \"%s\": empty path", url);
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

store_rc_t store_agent_delete(store_t *s, const char *agent_id, err_t *e)
{
	return s->ops->agent_delete(s->h, agent_id, e);
}

store_rc_t store_agent_activate(store_t *s, const char *agent_id, err_t *e)
{
	return s->ops->agent_activate(s->h, agent_id, e);
}

void store_agent_clear(store_agent_t *a)
{
	if (a == NULL)
		return;
	free(a->agent_id);
	free(a->ek_tpm);
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

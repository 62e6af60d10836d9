/* policies: parsed policies shared by content hash. */
#include "verifier/policies.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/policy/mb_policy.h"
#include "common/policy/pcr_policy.h"
#include "common/policy/runtime_policy.h"
#include "common/store/store.h"
#include "common/base/xmalloc.h"

struct policies {
	pthread_mutex_t lock; /* guards objs and every object's refs */
	policy_obj_t **objs;  /* live objects */
	size_t n, cap;        /* used and allocated */
};

policies_t *policies_new(void)
{
	policies_t *c = xcalloc(1, sizeof(*c));

	pthread_mutex_init(&c->lock, NULL);
	return c;
}

void policies_free(policies_t *c)
{
	if (c == NULL)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c->objs);
	free(c);
}

const char *policy_kind_store_name(policy_kind_t k)
{
	switch (k) {
	case POLICY_PCR:
		return "tpm_pcr";
	case POLICY_RUNTIME:
		return "runtime";
	case POLICY_MB:
		return "measured_boot";
	}
	return "?";
}

static policy_obj_t *policy_parse(policy_kind_t k, const uint8_t *body, size_t len, err_t *e)
{
	policy_obj_t *p = xcalloc(1, sizeof(*p));

	p->kind = k;
	switch (k) {
	case POLICY_PCR:
		p->pcr = pcr_policy_parse((const char *)body, len, e);
		if (p->pcr)
			return p;
		break;
	case POLICY_RUNTIME:
		p->runtime = runtime_policy_parse((const char *)body, len, 0, e);
		if (p->runtime)
			return p;
		break;
	case POLICY_MB:
		p->mb = mb_policy_load((const char *)body, len, e);
		if (p->mb)
			return p;
		break;
	}
	free(p);
	return NULL;
}

static void policy_obj_free(policy_obj_t *p)
{
	pcr_policy_free(p->pcr);
	runtime_policy_unref(p->runtime);
	mb_policy_free(p->mb);
	free(p);
}

int policy_validate(policy_kind_t k, const uint8_t *body, size_t len, err_t *e)
{
	policy_obj_t *p = policy_parse(k, body, len, e);

	if (p == NULL)
		return -1;
	policy_obj_free(p);
	return 0;
}

policy_obj_t *policies_acquire(policies_t *c, struct store *s, const char *name, policy_kind_t k,
                               err_t *e)
{
	store_policy_t sp;
	policy_obj_t *p = NULL;

	if (store_policy_get(s, name, &sp, e) != STORE_OK)
		return NULL;
	if (strcmp(sp.kind, policy_kind_store_name(k)) != 0) {
		err_set(e, "policy %s is a %s policy, not %s", name, sp.kind,
		        policy_kind_store_name(k));
		goto out;
	}
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n; i++)
		if (c->objs[i]->kind == k && strcmp(c->objs[i]->sha256, sp.sha256) == 0) {
			p = c->objs[i];
			p->refs++;
			break;
		}
	pthread_mutex_unlock(&c->lock);
	if (p)
		goto out;
	/* Parse outside the lock: a big runtime policy takes a while. */
	if ((p = policy_parse(k, sp.body, sp.body_len, e)) == NULL)
		goto out;
	memcpy(p->sha256, sp.sha256, sizeof(p->sha256));
	p->refs = 1;
	pthread_mutex_lock(&c->lock);
	/* Another thread may have parsed the same content meanwhile: keep one. */
	for (size_t i = 0; i < c->n; i++)
		if (c->objs[i]->kind == k && strcmp(c->objs[i]->sha256, sp.sha256) == 0) {
			c->objs[i]->refs++;
			policy_obj_free(p);
			p = c->objs[i];
			goto unlock;
		}
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 8;
		c->objs = xrealloc(c->objs, c->cap * sizeof(*c->objs));
	}
	c->objs[c->n++] = p;
unlock:
	pthread_mutex_unlock(&c->lock);
out:
	store_policy_clear(&sp);
	return p;
}

void policies_release(policies_t *c, policy_obj_t *p)
{
	int last = 0;

	if (p == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	if (--p->refs == 0) {
		for (size_t i = 0; i < c->n; i++)
			if (c->objs[i] == p) {
				c->objs[i] = c->objs[--c->n];
				break;
			}
		last = 1;
	}
	pthread_mutex_unlock(&c->lock);
	if (last)
		policy_obj_free(p);
}

size_t policies_count(policies_t *c)
{
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = c->n;
	pthread_mutex_unlock(&c->lock);
	return n;
}

/* sealer: periodic seals of the event log. */
#include "verifier/sealer.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/store/audit.h"
#include "common/store/store.h"

struct sealer {
	store_t *store;      /* this thread's store connection */
	EVP_PKEY *key;       /* the audit key (owned) */
	int records;         /* seal once this many records are unsealed */
	int interval_ms;     /* ... or this long after the last seal, when any is */
	int64_t last_sealed; /* seq of the newest seal, 0 when none */
	int64_t last_mono;   /* monotonic ms of the newest seal (or of the start) */
};

static int64_t sealer_real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A log sealed by another key cannot be verified with this one: in a pool every instance
 * must hold the same audit.key (docs/verifier.md). Said at start, where an operator looks. */
static void sealer_check_key(const sealer_t *s, const store_seal_t *last)
{
	char id[65];

	if (audit_key_id(s->key, id) < 0 || strcmp(id, last->key_id) == 0)
		return;
	log_warnx("audit: the log's last seal (record %lld) was made with key %.16s..., this "
	          "verifier's audit.key is %.16s...: 'vigilctl events verify' checks every seal "
	          "with one key, so every verifier sharing this database must hold the same "
	          "audit.key (copy it from the instance that made the seals)",
	          (long long)last->seq, last->key_id, id);
}

sealer_t *sealer_new(const char *database, EVP_PKEY *key, int records, int interval_ms, err_t *e)
{
	sealer_t *s = xcalloc(1, sizeof(*s));
	store_seal_t last;

	s->key = key;
	s->records = records;
	s->interval_ms = interval_ms;
	s->last_mono = clock_mono_ms();
	if ((s->store = store_open(database, e)) == NULL)
		goto fail;
	switch (store_seal_last(s->store, &last, e)) {
	case STORE_OK:
		s->last_sealed = last.seq;
		sealer_check_key(s, &last);
		store_seal_clear(&last);
		break;
	case STORE_NOT_FOUND:
		break;
	default:
		goto fail;
	}
	return s;
fail:
	sealer_free(s);
	return NULL;
}

int sealer_tick_ms(const sealer_t *s)
{
	return s->interval_ms < 250 ? s->interval_ms : 250;
}

/* Seal the newest record when force, or when a seal is due. */
static void sealer_run(sealer_t *s, int force)
{
	store_event_t ev;
	store_seal_t seal;
	err_t e = {""};
	int64_t now = clock_mono_ms();

	memset(&seal, 0, sizeof(seal));
	switch (store_event_last(s->store, &ev, &e)) {
	case STORE_OK:
		break;
	case STORE_NOT_FOUND:
		return;
	default:
		log_warnx("audit seal: cannot read the event log: %s", e.msg);
		return;
	}
	if (ev.seq <= s->last_sealed ||
	    (!force && ev.seq - s->last_sealed < s->records && now - s->last_mono < s->interval_ms))
		goto out;
	seal.seq = ev.seq;
	memcpy(seal.hash, ev.hash, sizeof(seal.hash));
	seal.time = sealer_real_ms();
	if (audit_seal_sign(s->key, &seal, &e) < 0) {
		log_warnx("audit seal of record %lld: %s", (long long)ev.seq, e.msg);
		goto out;
	}
	switch (store_seal_append(s->store, &seal, &e)) {
	case STORE_OK:
		break;
	case STORE_EXISTS:
		/* Another instance of the pool sealed it first: nothing left to do until
		 * newer records come (trying again would sign and fail every tick). */
		s->last_sealed = ev.seq;
		s->last_mono = now;
		goto out;
	default:
		log_warnx("audit seal of record %lld: %s", (long long)ev.seq, e.msg);
		goto out;
	}
	log_info("audit log sealed at record %lld (id %s, %lld records since the last seal)",
	         (long long)ev.seq, ev.id, (long long)(ev.seq - s->last_sealed));
	s->last_sealed = ev.seq;
	s->last_mono = now;
out:
	store_seal_clear(&seal);
	store_event_clear(&ev);
}

void sealer_tick(sealer_t *s)
{
	sealer_run(s, 0);
}

void sealer_flush(sealer_t *s)
{
	sealer_run(s, 1);
}

void sealer_free(sealer_t *s)
{
	if (s == NULL)
		return;
	store_close(s->store);
	EVP_PKEY_free(s->key);
	free(s);
}

/* events: what happened to a node, recorded in the store for the operator's history, the
 * events API and the webhooks: a failed attestation ("revocation", Keylime's name), the
 * node becoming unreachable ("comm_error"), a renewed agent certificate pinned
 * ("agent_cert_repinned"). The body is Keylime's revocation event JSON.
 *
 * An event is committed in one transaction with its node's progress record and one
 * webhook outbox row per configured URL (store_event_commit), so a verdict, its event and
 * its deliveries are durable together or not at all; then the delivery thread is woken
 * (verifier/outbox.c), which never holds the caller up. */
#ifndef VIGIL_VERIFIER_EVENTS_H
#define VIGIL_VERIFIER_EVENTS_H

#include "common/store/store.h"

/* Set once at start, before any worker runs (read without locks afterwards): the webhook
 * URLs (borrowed for the life of the process) and kick, called with arg from the
 * recording thread after an event with deliveries was committed (it must be cheap and
 * thread-safe). n = 0: events are recorded without deliveries. */
void events_set_webhooks(const char *const *urls, size_t n, void (*kick)(void *), void *arg);

/* Wake the delivery thread (after an operator queued dead deliveries again); nothing
 * when there are no webhooks. */
void events_kick(void);

/* Commit the node's record rec (its progress fields, as store_node_save writes them) with
 * an event of type with event_id and reason (valid UTF-8) and its webhook deliveries, in
 * the store st (the calling worker's connection). A failure is logged and returned
 * (-1): then neither the record, nor the event, nor a delivery was written. */
int events_record(struct store *st, const store_node_t *rec, const char *type, const char *event_id,
                  const char *reason);

/* The signer of Keylime's revocation "msg" (RSA-PSS with the revocation key, as
 * keylime-wire.md 6.1 says; common/crypto/revnotice provides it): returns the base64
 * signature of the msg text (caller frees), or NULL when it cannot sign (the webhook then
 * carries "signature": ""). Set once at start, like the webhooks. Without one, signature
 * is "" (what Keylime sends without a revocation key). */
typedef char *(*events_msg_signer_fn)(const char *msg, void *arg);
void events_set_msg_signer(events_msg_signer_fn fn, void *arg);

/* The webhook body (JSON text, caller frees) for the event of an outbox row: Keylime's
 * revocation message fields (type, agent_id, event_id, severity, context, ip, port, the
 * serialised "msg" and its "signature") and vigil's event record under "event" (id, seq,
 * time in unix milliseconds, node, type, severity, body). The same row always gives the
 * same bytes when no signer is set, so a retry repeats the first attempt. NULL when the
 * stored body is not a JSON object (logged). */
char *events_webhook_body(const store_outbox_t *row);

#endif

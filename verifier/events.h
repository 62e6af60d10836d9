/* events: the verifier's trust events, each one record in the store's append-only,
 * hash-chained event log, which the audit trail, WatchEvents and the webhooks carry.
 *
 * The catalogue (type: when):
 *   node_added           AddNode stored a node
 *   node_removed         RemoveNode deleted it
 *   node_stopped         StopNode: polling stopped by an operator
 *   node_reactivated     ReactivateNode: polling starts over
 *   node_updated         UpdateNode changed a node's contact or policies (context:
 *                        "field: old -> new; ...")
 *   attested             the first round that passed since added or reactivated
 *   revocation           a check failed (Keylime's name): event_id names the check,
 *                        context the PCR, file or event that failed
 *   comm_error           the agent stayed unreachable past max_retries
 *   recovered            a round passed again after comm_error
 *   reboot               the TPM's reset count moved: the node rebooted
 *   policy_put           PutPolicy stored a new name
 *   policy_replaced      PutPolicy with replace moved a name to new content
 *   policy_deleted       DeletePolicy removed a name
 *   agent_cert_repinned  a renewed agent certificate was pinned from the registrar
 * A node event's body is Keylime's revocation message fields (type, agent_id, event_id,
 * context, ip, port, severity_label); a policy event's names the policy, its kind and
 * the SHA-256 of its content.
 *
 * An event is committed in one transaction with one webhook outbox row per configured
 * URL, and, for a verdict, with its node's progress record (store_event_commit): the
 * verdict, its event and its deliveries are durable together or not at all, before
 * anything is logged or announced. Then the delivery thread (verifier/outbox.c) and the
 * WatchEvents hub are woken; neither ever holds the caller up. */
#ifndef VIGIL_VERIFIER_EVENTS_H
#define VIGIL_VERIFIER_EVENTS_H

#include "common/store/store.h"

#define EVENT_NODE_ADDED       "node_added"
#define EVENT_NODE_REMOVED     "node_removed"
#define EVENT_NODE_STOPPED     "node_stopped"
#define EVENT_NODE_REACTIVATED "node_reactivated"
#define EVENT_NODE_UPDATED     "node_updated"
#define EVENT_ATTESTED         "attested"
#define EVENT_REVOCATION       "revocation"
#define EVENT_COMM_ERROR       "comm_error"
#define EVENT_RECOVERED        "recovered"
#define EVENT_REBOOT           "reboot"
#define EVENT_POLICY_PUT       "policy_put"
#define EVENT_POLICY_REPLACED  "policy_replaced"
#define EVENT_POLICY_DELETED   "policy_deleted"
#define EVENT_CERT_REPINNED    "agent_cert_repinned"
#define EVENT_PAYLOAD_V        "payload_delivered" /* V reached the agent */

/* Set once at start, before any thread records (read without locks afterwards): the
 * webhook URLs (borrowed for the life of the process) and kick, called with arg after an
 * event with deliveries was committed (cheap and thread-safe). n = 0: no deliveries. */
void events_set_webhooks(const char *const *urls, size_t n, void (*kick)(void *), void *arg);
/* Call fn(arg) after each event committed (from the committing thread, so fn must not
 * block): how WatchEvents learns of new events. Set once at start. */
void events_set_listener(void (*fn)(void *arg), void *arg);
/* The RevocationNotifier private key (PEM, borrowed for the life of the process) that
 * signs the Keylime "msg" of webhook bodies, or NULL: signature "". Set once at start. */
void events_set_revocation_key(const char *key_pem);

/* Wake the delivery thread (after an operator queued dead deliveries again); nothing
 * when there are no webhooks. */
void events_kick(void);

/* The severity label of an event type ("info" for one not in the catalogue). */
const char *events_severity(const char *type);

/* Commit an event of type about the node of rec, with event_id (NULL: the type) and
 * reason (valid UTF-8, NULL: none), to the store st (the calling thread's connection),
 * with its deliveries. With save, rec's progress fields are written in the same
 * transaction (a verdict change), fenced by rec's lease epoch. 0; 1 (not logged) when the
 * fence refused it: another verifier instance holds the node now; or -1 (logged). Nothing
 * was written unless 0. */
int events_record(struct store *st, const store_node_t *rec, int save, const char *type,
                  const char *event_id, const char *reason);
/* For a caller that commits many node events in one transaction itself (AddNodes, with
 * store_node_add_many): the body events_record would commit (JSON text, caller frees; NULL,
 * logged, when it cannot be encoded), the webhook URLs to deliver them to (*n of them;
 * borrowed), and the wake-up of the channels once they were committed. */
char *events_node_body(const store_node_t *rec, const char *type, const char *event_id,
                       const char *reason);
const char *const *events_urls(size_t *n);
void events_committed(void);
/* Commit a policy event (policy_put, policy_replaced, policy_deleted). 0 or -1 (logged). */
int events_record_policy(struct store *st, const char *type, const char *name, const char *kind,
                         const char *sha256);

/* The webhook body (JSON text, caller frees) for the event of an outbox row: Keylime's
 * revocation message fields (type, agent_id, event_id, severity, context, ip, port, the
 * serialised "msg" and its "signature", as a Keylime verifier's notice) and vigil's event
 * record under "event" (id, seq, time in unix milliseconds, node, type, severity, body).
 * NULL when the stored body is not a JSON object (logged). */
char *events_webhook_body(const store_outbox_t *row);

#endif

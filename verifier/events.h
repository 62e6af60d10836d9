/* events: the verifier's trust events, each one record in the store's append-only,
 * hash-chained event log (what the audit trail, WatchEvents and webhooks carry).
 *
 * The catalogue (type: when):
 *   node_added           AddNode stored a node
 *   node_removed         RemoveNode deleted it
 *   node_stopped         StopNode: polling stopped by an operator
 *   node_reactivated     ReactivateNode: polling starts over
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
 * the SHA-256 of its content. */
#ifndef VIGIL_VERIFIER_EVENTS_H
#define VIGIL_VERIFIER_EVENTS_H

#include "common/store/store.h"

#define EVENT_NODE_ADDED       "node_added"
#define EVENT_NODE_REMOVED     "node_removed"
#define EVENT_NODE_STOPPED     "node_stopped"
#define EVENT_NODE_REACTIVATED "node_reactivated"
#define EVENT_ATTESTED         "attested"
#define EVENT_REVOCATION       "revocation"
#define EVENT_COMM_ERROR       "comm_error"
#define EVENT_RECOVERED        "recovered"
#define EVENT_REBOOT           "reboot"
#define EVENT_POLICY_PUT       "policy_put"
#define EVENT_POLICY_REPLACED  "policy_replaced"
#define EVENT_POLICY_DELETED   "policy_deleted"
#define EVENT_CERT_REPINNED    "agent_cert_repinned"

/* Call fn(arg) after each event appended (from the appending thread, so fn must not
 * block): how WatchEvents learns of new events. Set once before any thread appends. */
void events_set_listener(void (*fn)(void *arg), void *arg);

/* The severity label of an event type ("info" for one not in the catalogue). */
const char *events_severity(const char *type);

/* Append an event of type about the node of rec, with event_id (NULL: the type) and
 * reason (valid UTF-8, NULL: none), to the store st (the calling thread's connection).
 * A failure is logged, not returned: what the event records has already been saved. */
void events_record(struct store *st, const store_node_t *rec, const char *type,
                   const char *event_id, const char *reason);
/* Append a policy event (policy_put, policy_replaced, policy_deleted). */
void events_record_policy(struct store *st, const char *type, const char *name, const char *kind,
                          const char *sha256);

#endif

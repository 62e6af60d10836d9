/* events: what happened to a node, recorded in the store for the operator's history and
 * the events API: a failed attestation ("revocation", Keylime's name), the node becoming
 * unreachable ("comm_error"), a renewed agent certificate pinned ("agent_cert_repinned").
 * The body is Keylime's revocation event JSON. */
#ifndef VIGIL_VERIFIER_EVENTS_H
#define VIGIL_VERIFIER_EVENTS_H

#include "common/store/store.h"

/* Append an event of type with event_id and reason (valid UTF-8) for the node of rec to
 * the store st (the calling worker's connection). A failure is logged, not returned: the
 * verdict it records has already been saved. */
void events_record(struct store *st, const store_node_t *rec, const char *type,
                   const char *event_id, const char *reason);

#endif

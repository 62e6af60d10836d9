/* apireq: the checks every vigil.v1.Verifier request passes before a handler acts on it
 * (names, addresses, ports, keys, certificates, policy kinds and bodies). They read only
 * the decoded request: no store, no node, no running verifier, so the fuzz target
 * (test/fuzz/fuzz_grpc_requests.c) drives exactly what the handlers run. Each returns
 * GRPCSRV_OK, or the status to answer with and the reason in e. */
#ifndef VIGIL_VERIFIER_APIREQ_H
#define VIGIL_VERIFIER_APIREQ_H

#include "common/base/err.h"
#include "common/net/pb.h"
#include "common/store/store.h"
#include "verifier/policies.h"

#define APIREQ_NAME_MAX 80 /* node UUIDs and policy names */

/* 1 when s is 1-APIREQ_NAME_MAX of [A-Za-z0-9._-] (Keylime's verifier accepts [\w.-]+). */
int apireq_name_ok(const char *s);
/* 1 when s is an agent contact address: an IPv4 or IPv6 literal. Host names are refused:
 * resolving one would block the worker thread (and every node on it) on the resolver at
 * each reconnect, and the registrar records agents by IP (agent.contact_ip) anyway. */
int apireq_host_ok(const char *s);
/* The policy kind of k; -1 when unspecified or unknown. */
int apireq_kind(Vigil__V1__PolicyKind k, policy_kind_t *out);

/* AddNode: uuid, contact ip and port, an AK that is a signing key, a PEM agent
 * certificate, and well-formed policy names (empty: none). r may be NULL. */
int apireq_add_node(const Vigil__V1__AddNodeRequest *r, err_t *e);
#define APIREQ_ADD_NODES_MAX 1000 /* nodes in one AddNodes call */
/* AddNodes: decodable, 1-APIREQ_ADD_NODES_MAX requests (each is checked on its own with
 * apireq_add_node). */
int apireq_add_nodes(const Vigil__V1__AddNodesRequest *r, err_t *e);
/* UpdateNode's update_mask names, as bits (1 << index): ip, port, mtls_cert, pcr_policy,
 * runtime_policy, mb_policy (verifier/node.h's NODE_UPD_* in this order). */
#define APIREQ_UPDATE_FIELDS "ip, port, mtls_cert, pcr_policy, runtime_policy, mb_policy"
/* UpdateNode: a valid uuid, a non-empty update_mask of known names, and each named field
 * of node valid as AddNode checks it (a policy may be "": none). *fields: the names as
 * bits. INVALID_ARGUMENT names the field. */
int apireq_update_node(const Vigil__V1__UpdateNodeRequest *r, unsigned *fields, err_t *e);
/* GetNode, RemoveNode, StopNode, ReactivateNode: a valid uuid. */
int apireq_node(const Vigil__V1__NodeRequest *r, err_t *e);
/* PutPolicy: a valid name and kind, and a body that parses as that kind (*k set). */
int apireq_put_policy(const Vigil__V1__PutPolicyRequest *r, policy_kind_t *k, err_t *e);
/* GetPolicy, DeletePolicy: a valid name. */
int apireq_policy(const Vigil__V1__PolicyRequest *r, err_t *e);

/* page_size and page_token of a list call whose sort key is a decimal number (an event's
 * seq, an outbox delivery's id), by the one paging rule (common/net/paging.h): *limit the
 * page size, *after the key to start after (0: from the first). */
int apireq_page_decimal(uint32_t page_size, const char *page_token, const char *msg, size_t *limit,
                        int64_t *after, err_t *e);
#define APIREQ_EXPORT_PAGE     1000 /* ExportEvents max_records when none is asked */
#define APIREQ_EXPORT_PAGE_MAX 5000 /* ... and the most it answers */

/* 1 when s is an event id: decimal seq, '-', 16 lowercase hex digits. */
int apireq_event_id_ok(const char *s);
/* ListEvents: node and type empty or names, since_id empty or an event id, page_size and
 * page_token by the paging rule. Sets f (strings borrowed from r; "" as NULL) with
 * after_seq the greater of after_seq and page_token's, and limit the page size. */
int apireq_list_events(const Vigil__V1__ListEventsRequest *r, store_event_filter_t *f, err_t *e);
/* WatchEventsRequest: node_uuid and type empty or names, since_id empty or an event id,
 * after_seq in range. */
int apireq_watch_events(const Vigil__V1__WatchEventsRequest *r, err_t *e);
/* GetEvent: a valid event id. */
int apireq_event(const Vigil__V1__EventRequest *r, err_t *e);
/* ExportEvents: decodable; *limit the page size. */
int apireq_export_events(const Vigil__V1__ExportEventsRequest *r, size_t *limit, err_t *e);
/* ListOutbox: after_id >= 0, page_size and page_token by the paging rule. *limit the page
 * size, *after the id to start after: page_token's, else after_id (older clients). */
int apireq_list_outbox(const Vigil__V1__ListOutboxRequest *r, size_t *limit, int64_t *after,
                       err_t *e);
/* RetryOutbox: exactly one of a positive id or all_dead. */
int apireq_retry_outbox(const Vigil__V1__RetryOutboxRequest *r, err_t *e);
#define APIREQ_REPORT_EVENTS     10  /* GetReport's events when 0 */
#define APIREQ_REPORT_EVENTS_MAX 100 /* its largest */
/* GetReport: a valid uuid, a known ear format, events <= APIREQ_REPORT_EVENTS_MAX; *events
 * how many to return. */
int apireq_get_report(const Vigil__V1__GetReportRequest *r, size_t *events, err_t *e);
/* AttestNow: a valid uuid, a known ear format. */
int apireq_attest_now(const Vigil__V1__AttestNowRequest *r, err_t *e);

#endif

/* worker: one thread per core, each with its own libevent base and its own set of nodes
 * (docs/design.md section 5). Other threads talk to a worker only through worker_post(); the
 * worker runs the command on its own thread, so a node is only ever touched by the
 * thread that owns it. The worker drives its nodes through node.h and lends them a
 * node_host_t; nodes never call back into the worker. */
#ifndef VIGIL_VERIFIER_WORKER_H
#define VIGIL_VERIFIER_WORKER_H

struct event_base;
struct node_host;
struct vctx;

typedef struct worker worker_t;
struct http_budget;

/* A command run on the worker's thread. arg is the command's own; fn frees it. */
typedef void (*worker_fn)(worker_t *w, void *arg);

worker_t *worker_new(int id, struct vctx *ctx);
/* Start the thread. 0 or -1. */
int worker_start(worker_t *w);
/* Ask the loop to finish (nodes are released by the stop hook), join, free. */
void worker_free(worker_t *w);
/* Queue fn(w, arg) to run on the worker's thread. Thread-safe. */
void worker_post(worker_t *w, worker_fn fn, void *arg);

int worker_id(const worker_t *w);
struct event_base *worker_base(worker_t *w);
struct vctx *worker_ctx(worker_t *w);
/* The store connection owned by this worker (opened on its thread). */
struct store *worker_store(worker_t *w);
/* Run fn(w, arg) on the worker's thread and wait until it has run. Never call it from a
 * worker thread. */
void worker_call(worker_t *w, worker_fn fn, void *arg);
/* What this worker lends its nodes (node.h): its loop, store, budget and node list. Node
 * commands take it; use it on the worker's thread only. */
struct node_host *worker_host(worker_t *w);
/* Queue the node command fn(worker_host(w), arg) to run on the worker's thread. The
 * signature is node_cmd_fn's; fn takes arg. Thread-safe. */
void worker_post_node(worker_t *w, void (*fn)(struct node_host *h, void *arg), void *arg);
/* The memory budget of the agents' answers arriving on this worker (its nodes' clients
 * share it: verifier.answer_budget). */
struct http_budget *worker_budget(worker_t *w);

#endif

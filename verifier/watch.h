/* watch: the WatchEvents stream. One thread (the hub) serves every watcher from its own
 * store connection: it wakes when an event is appended (watch_hub_notify) and every
 * 200 ms, and queues to each watcher the events after the last one it queued that match
 * its filter, in seq order, as many as the call's send queue takes. It never blocks on a
 * client: a watcher whose queue stays full while events wait, for max_stall ms, is ended
 * with RESOURCE_EXHAUSTED and the id to resume after; verdicts, event records and other
 * watchers never wait for it. Reading the events from the store (not from memory) is
 * what makes a resumed watcher see exactly what it missed. An event that announces a verdict
 * (event_ear.h) goes with that verdict's EAR JWT in Event.ear, signed as it is sent. */
#ifndef VIGIL_VERIFIER_WATCH_H
#define VIGIL_VERIFIER_WATCH_H

#include "common/base/err.h"
#include "common/net/grpcsrv.h"

typedef struct watch_hub watch_hub_t;

/* Start the hub's thread with its own connection to store_url. NULL on error (e). */
watch_hub_t *watch_hub_new(const char *store_url, int max_watchers, int max_stall_ms, err_t *e);
/* An event was appended: serve the watchers now (any thread; never blocks long). */
void watch_hub_notify(watch_hub_t *h);
/* Stop the thread, ending open streams with UNAVAILABLE. Call after grpcsrv_free. */
void watch_hub_free(watch_hub_t *h);

/* The WatchEvents handler (grpcsrv_handler_fn; arg is the vctx_t, whose watch is set). */
int watch_events(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                 err_t *e);

#endif

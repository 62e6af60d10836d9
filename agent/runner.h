/* runner: child processes the agent runs for others (revocation actions, the payload's
 * autorun.sh), watched from the event loop so the agent goes on answering meanwhile:
 * stdin from /dev/null, stdout and stderr captured (up to RUNNER_MAX_OUTPUT bytes each)
 * and logged line by line once the child ends, its exit status logged, and its whole
 * process group killed when it runs past its time limit. Nothing of the agent's open
 * files (the TPM, the listener, keys) reaches the child. */
#ifndef VIGIL_AGENT_RUNNER_H
#define VIGIL_AGENT_RUNNER_H

struct event_base;

#define RUNNER_MAX_OUTPUT 8192 /* bytes of each stream of a child that are logged */

typedef struct runner runner_t;
typedef struct run run_t;

/* Called from the loop once the child ended (or was killed at its time limit) and its
 * output and status were logged. status is waitpid's. */
typedef void (*run_done_fn)(void *arg, int status, int timed_out);

/* One SIGCHLD watch on base, shared by every child. NULL when it cannot be added. */
runner_t *runner_new(struct event_base *base);
/* Kills and reaps every child still running (their callbacks are not called). NULL is
 * fine. */
void runner_free(runner_t *r);

/* Run argv[0] (a path; argv NULL-terminated) in cwd (NULL: the agent's), for at most
 * timeout_s seconds. label names the child in log lines ("revocation action /x/10-a");
 * why, if not NULL, is added to the start line (" for ..."). Both are copied. done may be
 * NULL. The handle stays valid until done is called or run_cancel. NULL (logged) when it
 * could not start. */
run_t *runner_start(runner_t *r, const char *label, const char *why, char *const argv[],
                    const char *cwd, int timeout_s, run_done_fn done, void *arg);
/* Kill the child's process group, reap it, free the handle; done is not called. NULL is
 * fine. */
void run_cancel(run_t *run);

/* Children running now. */
int runner_running(const runner_t *r);

#endif

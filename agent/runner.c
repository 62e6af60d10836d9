/* runner: see runner.h. Each child is a run_t on the runner's list:
 *
 *   started --(exit, or SIGKILL to its group at the time limit)--> reaped: output and
 *   status logged, done called, run freed
 *
 * A SIGCHLD event reaps children by pid (only ours: a blind waitpid(-1) would steal the
 * status of any other child the agent ever gets); their pipes are read as data arrives;
 * a timer per child kills its whole process group, so a script's own children (a sleep)
 * go with it. */
#include "agent/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/base/buf.h"
#include "common/base/log.h"
#include "common/base/xmalloc.h"

/* One output stream of a child. */
typedef struct run_pipe {
	int fd;            /* read end, -1 when closed */
	struct event *ev;  /* read watch, or NULL */
	buf_t b;           /* what came, up to RUNNER_MAX_OUTPUT */
	int truncated;     /* 1 when more came than is kept */
	const char *label; /* "stdout" or "stderr" */
} run_pipe_t;

struct run {
	struct run *next;    /* the runner's list */
	runner_t *r;         /* owner */
	char *label;         /* names it in log lines */
	pid_t pid;           /* its process (and group) id */
	int timeout_s;       /* its time limit */
	int timed_out;       /* 1 once the timer killed it */
	struct event *timer; /* its time limit */
	run_pipe_t out, err; /* its output */
	run_done_fn done;    /* called when it ended, or NULL */
	void *arg;           /* for done */
};

struct runner {
	struct event_base *base; /* the agent's loop; borrowed */
	struct event *sigchld;   /* reaps our children */
	run_t *head;             /* children running */
	int n;                   /* how many */
};

int runner_running(const runner_t *r)
{
	return r->n;
}

/* ---- output ---- */

static void pipe_close(run_pipe_t *p)
{
	if (p->ev) {
		event_free(p->ev);
		p->ev = NULL;
	}
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
}

static void pipe_read(run_pipe_t *p)
{
	char chunk[4096];
	ssize_t n;

	while (p->fd >= 0) {
		n = read(p->fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			pipe_close(p);
			return;
		}
		if (p->b.len < RUNNER_MAX_OUTPUT) {
			size_t keep = RUNNER_MAX_OUTPUT - p->b.len;
			buf_append(&p->b, chunk, (size_t)n < keep ? (size_t)n : keep);
			if ((size_t)n > keep)
				p->truncated = 1;
		} else {
			p->truncated = 1;
		}
	}
}

static void on_pipe(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pipe_read(arg);
}

/* Log what a child wrote, line by line, made safe for the log. */
static void pipe_log(const run_t *run, run_pipe_t *p)
{
	const uint8_t *s = p->b.data, *end = p->b.data + p->b.len;
	buf_t line = BUF_INIT;

	while (s && s < end) {
		const uint8_t *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
		buf_reset(&line);
		buf_append_escaped(&line, s, n);
		log_info("%s %s: %s", run->label, p->label,
		         line.data ? (const char *)line.data : "");
		s += n + (nl ? 1 : 0);
	}
	if (p->truncated)
		log_info("%s %s: (more output not logged: over %d bytes)", run->label, p->label,
		         RUNNER_MAX_OUTPUT);
	buf_free(&line);
	buf_free(&p->b);
	p->truncated = 0;
}

/* ---- one child ---- */

static void run_unlink(run_t *run)
{
	for (run_t **pp = &run->r->head; *pp; pp = &(*pp)->next) {
		if (*pp == run) {
			*pp = run->next;
			run->r->n--;
			return;
		}
	}
}

static void run_free(run_t *run)
{
	pipe_close(&run->out);
	pipe_close(&run->err);
	buf_free(&run->out.b);
	buf_free(&run->err.b);
	if (run->timer)
		event_free(run->timer);
	free(run->label);
	free(run);
}

/* The child's end: its output logged, its status said, done called. */
static void run_ended(run_t *run, int status)
{
	run_done_fn done = run->done;
	void *arg = run->arg;
	int timed_out = run->timed_out;

	evtimer_del(run->timer);
	pipe_read(&run->out);
	pipe_read(&run->err);
	pipe_close(&run->out);
	pipe_close(&run->err);
	pipe_log(run, &run->out);
	pipe_log(run, &run->err);
	if (timed_out)
		; /* said when it was killed */
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_info("%s succeeded", run->label);
	else if (WIFEXITED(status))
		log_warnx("%s failed: exit status %d", run->label, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		log_warnx("%s failed: killed by signal %d", run->label, WTERMSIG(status));
	run_unlink(run);
	run_free(run);
	/* Last: done may start the next child, or free what arg points to. */
	if (done)
		done(arg, status, timed_out);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	run_t *run = arg;

	(void)fd;
	(void)what;
	run->timed_out = 1;
	kill(-run->pid, SIGKILL);
	log_warnx("%s timed out after %d s: killed", run->label, run->timeout_s);
}

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	runner_t *r = arg;
	int status;

	(void)sig;
	(void)what;
	/* One SIGCHLD may stand for several children: look at each of ours, and start over
	 * after each end, as its done callback may have changed the list. */
again:
	for (run_t *run = r->head; run; run = run->next) {
		if (waitpid(run->pid, &status, WNOHANG) == run->pid) {
			run_ended(run, status);
			goto again;
		}
	}
}

/* In the child, between fork and exec: only async-signal-safe calls. */
__attribute__((noreturn)) static void child_exec(char *const argv[], const char *cwd, int out_w,
                                                 int err_w)
{
	sigset_t none;
	int null_fd;

	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if ((null_fd = open("/dev/null", O_RDONLY)) < 0 || dup2(null_fd, 0) < 0 ||
	    dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0)
		_exit(126);
	if (cwd && chdir(cwd) < 0)
		_exit(126);
	if (close_range(3, ~0u, 0) < 0) {
		long max = sysconf(_SC_OPEN_MAX);
		for (int fd = 3; fd < (max > 0 ? max : 1024); fd++)
			close(fd);
	}
	execv(argv[0], argv);
	_exit(127);
}

run_t *runner_start(runner_t *r, const char *label, const char *why, char *const argv[],
                    const char *cwd, int timeout_s, run_done_fn done, void *arg)
{
	int out[2] = {-1, -1}, err[2] = {-1, -1};
	struct timeval tv = {timeout_s > 0 ? timeout_s : 30, 0};
	run_t *run;
	pid_t pid;

	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
		log_warn("%s not run: pipe", label);
		goto fail;
	}
	if ((pid = fork()) < 0) {
		log_warn("%s not run: fork", label);
		goto fail;
	}
	if (pid == 0)
		child_exec(argv, cwd, out[1], err[1]);
	setpgid(pid, pid); /* also here, so the group exists before any kill */
	close(out[1]);
	close(err[1]);
	run = xcalloc(1, sizeof(*run));
	run->r = r;
	run->label = xstrdup(label);
	run->pid = pid;
	run->timeout_s = (int)tv.tv_sec;
	run->done = done;
	run->arg = arg;
	run->timer = evtimer_new(r->base, on_timeout, run);
	run->out = (run_pipe_t){.fd = out[0], .label = "stdout"};
	run->err = (run_pipe_t){.fd = err[0], .label = "stderr"};
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(err[0], F_SETFL, O_NONBLOCK);
	run->out.ev = event_new(r->base, out[0], EV_READ | EV_PERSIST, on_pipe, &run->out);
	run->err.ev = event_new(r->base, err[0], EV_READ | EV_PERSIST, on_pipe, &run->err);
	event_add(run->out.ev, NULL);
	event_add(run->err.ev, NULL);
	evtimer_add(run->timer, &tv);
	run->next = r->head;
	r->head = run;
	r->n++;
	log_info("%s started (pid %d)%s%s", label, (int)pid, why ? " for " : "", why ? why : "");
	return run;
fail:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	return NULL;
}

void run_cancel(run_t *run)
{
	if (run == NULL)
		return;
	kill(-run->pid, SIGKILL);
	waitpid(run->pid, NULL, 0);
	run_unlink(run);
	run_free(run);
}

runner_t *runner_new(struct event_base *base)
{
	runner_t *r = xcalloc(1, sizeof(*r));

	r->base = base;
	r->sigchld = evsignal_new(base, SIGCHLD, on_sigchld, r);
	if (r->sigchld == NULL || evsignal_add(r->sigchld, NULL) < 0) {
		log_warnx("cannot watch SIGCHLD on the event loop");
		runner_free(r);
		return NULL;
	}
	return r;
}

void runner_free(runner_t *r)
{
	if (r == NULL)
		return;
	while (r->head) {
		log_warnx("%s killed: the agent is stopping", r->head->label);
		run_cancel(r->head);
	}
	if (r->sigchld)
		event_free(r->sigchld);
	free(r);
}

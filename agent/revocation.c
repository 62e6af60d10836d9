/* revocation: verify revocation notices and run the actions directory for each (see
 * revocation.h). One job per accepted notice; jobs wait in a FIFO and only its head runs,
 * one action at a time:
 *
 *   queued --(head)--> running action i --(exit, or killed at its timeout)--> action i+1
 *                                                ... --> after the last: temp file removed
 *
 * Child processes are watched from the loop: a SIGCHLD event reaps them (by pid, only
 * ours), their stdout and stderr pipes are read as data arrives, and a timer per action
 * kills the action's whole process group when it runs too long. */
#include "agent/revocation.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "common/base/buf.h"
#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/crypto/revnotice.h"

/* One output stream of the running action. */
typedef struct rev_pipe {
	int fd;            /* read end, -1 when closed */
	struct event *ev;  /* read watch, or NULL */
	buf_t b;           /* what came, up to REVOCATION_MAX_OUTPUT */
	int truncated;     /* 1 when more came than is kept */
	const char *label; /* "stdout" or "stderr" */
} rev_pipe_t;

typedef struct rev_job {
	struct rev_job *next; /* FIFO link */
	struct revocation *r; /* owner */
	char *tmpfile;        /* the message for the actions; removed when the job ends */
	char *what;           /* "type ... for agent ..., event ..." for log lines */
	char **names;         /* entries of the actions directory, sorted */
	size_t n, i;          /* how many; the next to look at */
	char *cur;            /* path of the running action, or NULL */
	pid_t pid;            /* its process (and group) id, or 0 */
	int timed_out;        /* 1 once the timer killed it */
	struct event *timer;  /* its time limit */
	rev_pipe_t out, err;  /* its output */
} rev_job_t;

struct revocation {
	struct event_base *base; /* the agent's loop; borrowed */
	char *cert_pem;          /* RevocationNotifier certificate, or NULL */
	char *actions_dir;       /* "" for none */
	char *work_dir;          /* temp files go here */
	int timeout_s;           /* per action */
	struct event *sigchld;   /* reaps our children */
	rev_job_t *head, *tail;  /* queued jobs; head runs */
	int queued;              /* jobs in the queue */
	unsigned long ran;       /* actions finished */
};

static void job_next(rev_job_t *j);

unsigned long revocation_actions_run(const revocation_t *r)
{
	return r->ran;
}

/* ---- output ---- */

static void pipe_close(rev_pipe_t *p)
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

static void pipe_read(rev_pipe_t *p)
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
		if (p->b.len < REVOCATION_MAX_OUTPUT) {
			size_t keep = REVOCATION_MAX_OUTPUT - p->b.len;
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

/* Log what an action wrote, line by line, made safe for the log. */
static void pipe_log(const rev_job_t *j, rev_pipe_t *p)
{
	const uint8_t *s = p->b.data, *end = p->b.data + p->b.len;
	buf_t line = BUF_INIT;

	while (s && s < end) {
		const uint8_t *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
		buf_reset(&line);
		buf_append_escaped(&line, s, n);
		log_info("revocation action %s %s: %s", j->cur, p->label,
		         line.data ? (const char *)line.data : "");
		s += n + (nl ? 1 : 0);
	}
	if (p->truncated)
		log_info("revocation action %s %s: (more output not logged: over %d bytes)", j->cur,
		         p->label, REVOCATION_MAX_OUTPUT);
	buf_free(&line);
	buf_free(&p->b);
	p->truncated = 0;
}

/* ---- one action ---- */

/* The action's end: its output logged, its status said. From the SIGCHLD event. */
static void action_done(rev_job_t *j, int status)
{
	evtimer_del(j->timer);
	pipe_read(&j->out);
	pipe_read(&j->err);
	pipe_close(&j->out);
	pipe_close(&j->err);
	pipe_log(j, &j->out);
	pipe_log(j, &j->err);
	if (j->timed_out)
		; /* said when it was killed */
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_info("revocation action %s succeeded", j->cur);
	else if (WIFEXITED(status))
		log_warnx("revocation action %s failed: exit status %d", j->cur,
		          WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		log_warnx("revocation action %s failed: killed by signal %d", j->cur,
		          WTERMSIG(status));
	j->r->ran++;
	j->pid = 0;
	free(j->cur);
	j->cur = NULL;
	job_next(j);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	rev_job_t *j = arg;

	(void)fd;
	(void)what;
	if (j->pid <= 0)
		return;
	j->timed_out = 1;
	/* The whole group: a shell script's own children (a sleep) go with it. */
	kill(-j->pid, SIGKILL);
	log_warnx("revocation action %s timed out after %d s: killed", j->cur, j->r->timeout_s);
}

/* In the child, between fork and exec: only async-signal-safe calls. */
__attribute__((noreturn)) static void action_exec(const char *path, char *const argv[], int out_w,
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
	/* Nothing of the agent's (the TPM, the listener, keys) reaches the action. */
	if (close_range(3, ~0u, 0) < 0) {
		long max = sysconf(_SC_OPEN_MAX);
		for (int fd = 3; fd < (max > 0 ? max : 1024); fd++)
			close(fd);
	}
	execv(path, argv);
	_exit(127);
}

/* Start j->cur. 0, or -1 (logged; the job goes on with the next). */
static int action_start(rev_job_t *j)
{
	int out[2] = {-1, -1}, err[2] = {-1, -1};
	char *argv[3];
	struct timeval tv = {j->r->timeout_s, 0};
	pid_t pid;

	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
		log_warn("revocation action %s not run: pipe", j->cur);
		goto fail;
	}
	argv[0] = j->cur;
	argv[1] = j->tmpfile;
	argv[2] = NULL;
	if ((pid = fork()) < 0) {
		log_warn("revocation action %s not run: fork", j->cur);
		goto fail;
	}
	if (pid == 0)
		action_exec(j->cur, argv, out[1], err[1]);
	setpgid(pid, pid); /* also here, so the group exists before any kill */
	close(out[1]);
	close(err[1]);
	j->pid = pid;
	j->timed_out = 0;
	j->out = (rev_pipe_t){.fd = out[0], .label = "stdout"};
	j->err = (rev_pipe_t){.fd = err[0], .label = "stderr"};
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(err[0], F_SETFL, O_NONBLOCK);
	j->out.ev = event_new(j->r->base, out[0], EV_READ | EV_PERSIST, on_pipe, &j->out);
	j->err.ev = event_new(j->r->base, err[0], EV_READ | EV_PERSIST, on_pipe, &j->err);
	event_add(j->out.ev, NULL);
	event_add(j->err.ev, NULL);
	evtimer_add(j->timer, &tv);
	log_info("revocation action %s started (pid %d) for %s", j->cur, (int)pid, j->what);
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	return -1;
}

/* The path to run for directory entry name, or NULL (logged) when it is not a regular
 * executable file inside the directory. A symbolic link is followed only to a file that
 * is itself inside the directory. Caller frees. */
static char *action_path(const revocation_t *r, const char *name)
{
	char *path = xasprintf("%s/%s", r->actions_dir, name), dir[PATH_MAX], real[PATH_MAX];
	struct stat st;
	size_t dl;

	if (lstat(path, &st) < 0) {
		log_warn("revocation action %s skipped", path);
		goto skip;
	}
	if (S_ISLNK(st.st_mode)) {
		if (realpath(r->actions_dir, dir) == NULL || realpath(path, real) == NULL) {
			log_info("revocation action %s skipped: a link that does not resolve",
			         path);
			goto skip;
		}
		dl = strlen(dir);
		if (strncmp(real, dir, dl) != 0 || real[dl] != '/' || strchr(real + dl + 1, '/')) {
			log_warnx("revocation action %s skipped: a link to %s, outside %s", path,
			          real, r->actions_dir);
			goto skip;
		}
		free(path);
		path = xstrdup(real);
		if (stat(path, &st) < 0) {
			log_warn("revocation action %s skipped", path);
			goto skip;
		}
	}
	if (!S_ISREG(st.st_mode) || access(path, X_OK) < 0) {
		log_info("revocation action %s skipped: not an executable regular file", path);
		goto skip;
	}
	if (st.st_mode & S_IWOTH) {
		log_warnx("revocation action %s skipped: anyone may write it", path);
		goto skip;
	}
	return path;
skip:
	free(path);
	return NULL;
}

/* ---- jobs ---- */

static void job_free(rev_job_t *j)
{
	if (j == NULL)
		return;
	if (j->pid > 0) {
		kill(-j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0);
	}
	pipe_close(&j->out);
	pipe_close(&j->err);
	buf_free(&j->out.b);
	buf_free(&j->err.b);
	if (j->timer)
		event_free(j->timer);
	if (j->tmpfile) {
		unlink(j->tmpfile);
		free(j->tmpfile);
	}
	for (size_t i = 0; i < j->n; i++)
		free(j->names[i]);
	free(j->names);
	free(j->cur);
	free(j->what);
	free(j);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The directory's entries, sorted by name. */
static void job_list(rev_job_t *j)
{
	revocation_t *r = j->r;
	struct dirent *d;
	size_t cap = 0;
	DIR *dir;

	if (*r->actions_dir == '\0') {
		log_info("no agent.revocation_actions_dir: nothing to run for %s", j->what);
		return;
	}
	if ((dir = opendir(r->actions_dir)) == NULL) {
		log_warn("agent.revocation_actions_dir %s: nothing run for %s", r->actions_dir,
		         j->what);
		return;
	}
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		if (j->n == REVOCATION_MAX_ACTIONS) {
			log_warnx(
			    "agent.revocation_actions_dir %s holds more than %d entries: only "
			    "the first %d read are run",
			    r->actions_dir, REVOCATION_MAX_ACTIONS, REVOCATION_MAX_ACTIONS);
			break;
		}
		if (j->n == cap) {
			cap = cap ? cap * 2 : 16;
			j->names = xrealloc(j->names, cap * sizeof(*j->names));
		}
		j->names[j->n++] = xstrdup(d->d_name);
	}
	closedir(dir);
	if (j->n)
		qsort(j->names, j->n, sizeof(*j->names), name_cmp);
	else
		log_info("agent.revocation_actions_dir %s is empty: nothing to run for %s",
		         r->actions_dir, j->what);
}

/* Run the next action of the head job, or end it and start the next job. */
static void job_next(rev_job_t *j)
{
	revocation_t *r = j->r;

	while (j->i < j->n) {
		char *path = action_path(r, j->names[j->i++]);
		if (path == NULL)
			continue;
		j->cur = path;
		if (action_start(j) == 0)
			return;
		free(j->cur);
		j->cur = NULL;
	}
	log_info("revocation notice (%s) handled", j->what);
	r->head = j->next;
	if (r->head == NULL)
		r->tail = NULL;
	r->queued--;
	job_free(j);
	if (r->head) {
		job_list(r->head);
		job_next(r->head);
	}
}

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	revocation_t *r = arg;
	int status;

	(void)sig;
	(void)what;
	/* Only our own child, by pid: the agent has no others, but a blind waitpid(-1)
	 * would steal the status of any it ever gets. */
	if (r->head && r->head->pid > 0 && waitpid(r->head->pid, &status, WNOHANG) == r->head->pid)
		action_done(r->head, status);
}

/* "revocation for agent X, event Y" from the message's fields, made safe for logs. */
static char *job_describe(json_t *msg)
{
	const char *type = json_string_value(json_object_get(msg, "type"));
	const char *agent = json_string_value(json_object_get(msg, "agent_id"));
	const char *event = json_string_value(json_object_get(msg, "event_id"));
	char t[64], a[128], ev[160];

	text_escape(t, sizeof(t), type ? type : "?", strlen(type ? type : "?"));
	text_escape(a, sizeof(a), agent ? agent : "?", strlen(agent ? agent : "?"));
	text_escape(ev, sizeof(ev), event ? event : "-", strlen(event ? event : "-"));
	return xasprintf("%s for agent %s, event %s", t, a, ev);
}

static rev_job_t *job_new(revocation_t *r, json_t *msg, err_t *e)
{
	rev_job_t *j = xcalloc(1, sizeof(*j));
	char *text = json_dumps(msg, JSON_COMPACT);
	size_t len = text ? strlen(text) : 0, off = 0;
	int fd;

	j->r = r;
	j->out.fd = j->err.fd = -1;
	j->what = job_describe(msg);
	j->timer = evtimer_new(r->base, on_timeout, j);
	j->tmpfile = xasprintf("%s/revocation-XXXXXX.json", r->work_dir);
	if (text == NULL || (fd = mkostemps(j->tmpfile, 5, O_CLOEXEC)) < 0) {
		err_set(e, "cannot write the message for the actions in %s: %s", r->work_dir,
		        text ? strerror(errno) : "out of memory");
		free(j->tmpfile);
		j->tmpfile = NULL;
		goto fail;
	}
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err_set(e, "cannot write %s: %s", j->tmpfile, strerror(errno));
			close(fd);
			goto fail;
		}
		off += (size_t)n;
	}
	if (close(fd) < 0) {
		err_set(e, "cannot write %s: %s", j->tmpfile, strerror(errno));
		goto fail;
	}
	free(text);
	return j;
fail:
	free(text);
	job_free(j);
	return NULL;
}

/* ---- the module ---- */

revocation_t *revocation_new(struct event_base *base, const revocation_opts_t *o, err_t *e)
{
	revocation_t *r;

	if (o->cert_pem && revnotice_cert_check(o->cert_pem, e) < 0)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	r->base = base;
	r->cert_pem = o->cert_pem ? xstrdup(o->cert_pem) : NULL;
	r->actions_dir = xstrdup(o->actions_dir ? o->actions_dir : "");
	r->work_dir = xstrdup(o->work_dir ? o->work_dir : "/tmp");
	r->timeout_s = o->timeout_s > 0 ? o->timeout_s : 30;
	r->sigchld = evsignal_new(base, SIGCHLD, on_sigchld, r);
	if (r->sigchld == NULL || evsignal_add(r->sigchld, NULL) < 0) {
		err_set(e, "cannot watch SIGCHLD on the event loop");
		revocation_free(r);
		return NULL;
	}
	return r;
}

void revocation_free(revocation_t *r)
{
	rev_job_t *j;

	if (r == NULL)
		return;
	while ((j = r->head) != NULL) {
		r->head = j->next;
		if (j->pid > 0)
			log_warnx("revocation action %s killed: the agent is stopping", j->cur);
		job_free(j);
	}
	if (r->sigchld)
		event_free(r->sigchld);
	free(r->cert_pem);
	free(r->actions_dir);
	free(r->work_dir);
	free(r);
}

static int rc_status(revnotice_rc_t rc)
{
	switch (rc) {
	case REVNOTICE_OK:
		return 200;
	case REVNOTICE_TOO_LARGE:
		return 413;
	case REVNOTICE_UNSIGNED:
	case REVNOTICE_BAD_SIGNATURE:
		return 403;
	case REVNOTICE_BAD_CERT:
		return 500;
	case REVNOTICE_MALFORMED:
	case REVNOTICE_BAD_BASE64:
	case REVNOTICE_BAD_MSG:
		break;
	}
	return 400;
}

int revocation_receive(revocation_t *r, const uint8_t *body, size_t len, const char *peer, err_t *e)
{
	revnotice_rc_t rc;
	json_t *msg = NULL;
	rev_job_t *j;

	if (r->cert_pem == NULL) {
		err_set(e, "no revocation certificate configured");
		log_warnx("revocation notice from %s refused: no revocation certificate configured "
		          "(agent.revocation_cert)",
		          peer);
		return 403;
	}
	if ((rc = revnotice_verify(body, len, r->cert_pem, &msg, e)) != REVNOTICE_OK) {
		log_warnx("revocation notice from %s refused (%s): %s; nothing run", peer,
		          revnotice_rc_str(rc), e->msg);
		return rc_status(rc);
	}
	if (r->queued >= REVOCATION_MAX_QUEUED) {
		err_set(e, "%d revocation notices are already queued", r->queued);
		log_warnx("revocation notice from %s refused: %s", peer, e->msg);
		json_decref(msg);
		return 503;
	}
	if ((j = job_new(r, msg, e)) == NULL) {
		log_warnx("revocation notice from %s not handled: %s", peer, e->msg);
		json_decref(msg);
		return 500;
	}
	json_decref(msg);
	log_info("revocation notice from %s verified: %s", peer, j->what);
	r->queued++;
	if (r->tail)
		r->tail->next = j;
	else
		r->head = j;
	r->tail = j;
	if (r->head == j) {
		job_list(j);
		job_next(j);
	}
	return 200;
}

/* revocation: verify revocation notices and run the actions directory for each (see
 * revocation.h). One job per accepted notice; jobs wait in a FIFO and only its head runs,
 * one action at a time:
 *
 *   queued --(head)--> running action i --(exit, or killed at its timeout)--> action i+1
 *                                                ... --> after the last: temp file removed
 *
 * The actions run through agent/runner.h, which watches them from the loop, logs their
 * output and status and kills an action's process group at its time limit. */
#include "agent/revocation.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <jansson.h>

#include "common/base/buf.h"
#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/crypto/revnotice.h"

typedef struct rev_job {
	struct rev_job *next; /* FIFO link */
	struct revocation *r; /* owner */
	char *tmpfile;        /* the message for the actions; removed when the job ends */
	char *what;           /* "type ... for agent ..., event ..." for log lines */
	char **names;         /* entries of the actions directory, sorted */
	size_t n, i;          /* how many; the next to look at */
	char *cur;            /* path of the running action, or NULL */
	run_t *run;           /* the running action, or NULL */
} rev_job_t;

struct revocation {
	runner_t *runner;       /* runs the actions; borrowed */
	char *cert_pem;         /* RevocationNotifier certificate, or NULL */
	char *actions_dir;      /* "" for none */
	char *work_dir;         /* temp files go here */
	int timeout_s;          /* per action */
	rev_job_t *head, *tail; /* queued jobs; head runs */
	int queued;             /* jobs in the queue */
	unsigned long ran;      /* actions finished */
};

static void job_next(rev_job_t *j);

unsigned long revocation_actions_run(const revocation_t *r)
{
	return r->ran;
}

/* ---- one action ---- */

/* The action's end (its output and status are logged by the runner). */
static void action_done(void *arg, int status, int timed_out)
{
	rev_job_t *j = arg;

	(void)status;
	(void)timed_out;
	j->r->ran++;
	j->run = NULL;
	free(j->cur);
	j->cur = NULL;
	job_next(j);
}

/* Start j->cur as `<action> <tempfile.json>`. 0, or -1 (logged; the job goes on with the
 * next). */
static int action_start(rev_job_t *j)
{
	char *argv[3] = {j->cur, j->tmpfile, NULL};
	char *label = xasprintf("revocation action %s", j->cur);

	j->run =
	    runner_start(j->r->runner, label, j->what, argv, NULL, j->r->timeout_s, action_done, j);
	free(label);
	return j->run ? 0 : -1;
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
	run_cancel(j->run);
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
	j->what = job_describe(msg);
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

revocation_t *revocation_new(const revocation_opts_t *o, err_t *e)
{
	revocation_t *r;

	if (o->cert_pem && revnotice_cert_check(o->cert_pem, e) < 0)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	r->runner = o->runner;
	r->cert_pem = o->cert_pem ? xstrdup(o->cert_pem) : NULL;
	r->actions_dir = xstrdup(o->actions_dir ? o->actions_dir : "");
	r->work_dir = xstrdup(o->work_dir ? o->work_dir : "/tmp");
	r->timeout_s = o->timeout_s > 0 ? o->timeout_s : 30;
	return r;
}

void revocation_free(revocation_t *r)
{
	rev_job_t *j;

	if (r == NULL)
		return;
	while ((j = r->head) != NULL) {
		r->head = j->next;
		if (j->run)
			log_warnx("revocation action %s killed: the agent is stopping", j->cur);
		job_free(j);
	}
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

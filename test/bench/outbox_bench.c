/* outbox_bench: the cost of recording one event as a verdict does: the node's progress
 * record, the hash-chained event and one webhook outbox row per URL, in one transaction
 * (store_event_commit) on a SQLite store in a temp dir (WAL, synchronous=FULL, so every
 * commit is an fsync). Prints "KEY VALUE" lines, which test/bench/run.sh reads.
 * Usage: outbox_bench [-n COUNT] [-u URLS] [-d DIR] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/base/log.h"
#include "common/store/store.h"

int main(int argc, char **argv);

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	const char *dir = "/tmp";
	const char *urls[8] = {"https://a.example/hook", "https://b.example/hook"};
	char path[256], url[300], id[40];
	int n = 500, nurls = 2, opt;
	store_node_t node;
	err_t e = {""};
	store_t *s;
	double t0, t1;

	while ((opt = getopt(argc, argv, "n:u:d:")) != -1) {
		if (opt == 'n')
			n = atoi(optarg);
		else if (opt == 'u')
			nurls = atoi(optarg);
		else if (opt == 'd')
			dir = optarg;
	}
	if (n < 1 || nurls < 0 || nurls > 2)
		return 2;
	log_init("outbox_bench", 0, 0);
	snprintf(path, sizeof(path), "%s/outbox-bench-%d.db", dir, (int)getpid());
	snprintf(url, sizeof(url), "sqlite:%s", path);
	if ((s = store_open(url, &e)) == NULL) {
		fprintf(stderr, "outbox_bench: %s\n", e.msg);
		return 1;
	}
	memset(&node, 0, sizeof(node));
	node.uuid = (char *)"bench-node";
	node.ak_tpm = (char *)"AAAA";
	node.ip = (char *)"127.0.0.1";
	node.port = 9002;
	node.operational_state = 9;
	node.failure_reason = (char *)"ima-ng entry 826: /usr/bin/evil is not in the policy";
	if (store_node_add(s, &node, &e) != STORE_OK)
		return 1;
	t0 = now_us();
	for (int i = 0; i < n; i++)
		if (store_event_commit(
		        s, &node, node.uuid, "revocation", "emergency",
		        "{\"agent_id\":\"bench-node\",\"context\":\"ima-ng entry 826\","
		        "\"event_id\":\"ima.validation.ima-ng.not_in_allowlist\","
		        "\"ip\":\"127.0.0.1\",\"port\":9002,"
		        "\"severity_label\":\"emergency\",\"type\":\"revocation\"}",
		        urls, (size_t)nurls, id, NULL, &e) != STORE_OK) {
			fprintf(stderr, "outbox_bench: %s\n", e.msg);
			return 1;
		}
	t1 = now_us();
	printf("event_commit_us %.1f\n", (t1 - t0) / n);
	store_close(s);
	unlink(path);
	snprintf(url, sizeof(url), "%s-wal", path);
	unlink(url);
	snprintf(url, sizeof(url), "%s-shm", path);
	unlink(url);
	return 0;
}

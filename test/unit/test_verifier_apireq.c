/* test_verifier_apireq: UpdateNode's request check (every field named when refused, the
 * update_mask as bits) and the paging rule of the list calls whose key is a number
 * (ListEvents' seq, ListOutbox's id). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/net/grpcsrv.h"
#include "common/net/paging.h"
#include "verifier/apireq.h"

int main(void);

static int upd(const char *uuid, char **mask, size_t n, Vigil__V1__Node *node, unsigned *fields,
               err_t *e)
{
	Vigil__V1__UpdateNodeRequest r = VIGIL__V1__UPDATE_NODE_REQUEST__INIT;

	r.uuid = (char *)(uintptr_t)uuid;
	r.update_mask = mask;
	r.n_update_mask = n;
	r.node = node;
	return apireq_update_node(&r, fields, e);
}

static void test_update_mask(void **state)
{
	Vigil__V1__Node node = VIGIL__V1__NODE__INIT;
	char *m1[] = {"port", "runtime_policy", "port"};
	char *m2[] = {"ip", "ak_tpm"};
	char *m3[] = {"pcr_policy", "mb_policy"};
	unsigned f;
	err_t e = {""};

	(void)state;
	assert_int_equal(apireq_update_node(NULL, &f, &e), GRPCSRV_INVALID_ARGUMENT);
	assert_int_equal(upd("bad uuid!", m1, 1, &node, &f, &e), GRPCSRV_INVALID_ARGUMENT);
	assert_non_null(strstr(e.msg, "UpdateNodeRequest.uuid"));
	assert_int_equal(upd("n1", NULL, 0, &node, &f, &e), GRPCSRV_INVALID_ARGUMENT);
	assert_non_null(strstr(e.msg, "update_mask is empty"));
	assert_int_equal(upd("n1", m2, 2, &node, &f, &e), GRPCSRV_INVALID_ARGUMENT);
	assert_non_null(strstr(e.msg, "\"ak_tpm\""));
	/* Named fields only are checked: a policy may be "" (none). */
	node.port = 9002;
	node.runtime_policy = "";
	assert_int_equal(upd("n1", m1, 3, &node, &f, &e), GRPCSRV_OK);
	assert_int_equal(f, (1u << 1) | (1u << 4));
	node.pcr_policy = "pcr.v2";
	node.mb_policy = "";
	assert_int_equal(upd("n1", m3, 2, &node, &f, &e), GRPCSRV_OK);
	assert_int_equal(f, (1u << 3) | (1u << 5));
	assert_int_equal(upd("n1", m3, 2, NULL, &f, &e), GRPCSRV_INVALID_ARGUMENT);
	assert_non_null(strstr(e.msg, "UpdateNodeRequest.node"));
}

static void test_update_values(void **state)
{
	Vigil__V1__Node node = VIGIL__V1__NODE__INIT;
	char *ip[] = {"ip"}, *port[] = {"port"}, *cert[] = {"mtls_cert"},
	     *rt[] = {"runtime_policy"};
	unsigned f;
	err_t e = {""};

	(void)state;
	node.ip = "agent.example";
	assert_int_equal(upd("n1", ip, 1, &node, &f, &e), GRPCSRV_INVALID_ARGUMENT);
	assert_non_null(strstr(e.msg, "node.ip"));
	node.ip = "::1";
	assert_int_equal(upd("n1", ip, 1, &node, &f, &e), GRPCSRV_OK);
	node.port = 0;
	assert_int_equal(upd("n1", port, 1, &node, &f, &e), GRPCSRV_INVALID_ARGUMENT);
	assert_non_null(strstr(e.msg, "node.port"));
	node.port = 65536;
	assert_int_equal(upd("n1", port, 1, &node, &f, &e), GRPCSRV_INVALID_ARGUMENT);
	node.mtls_cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
	assert_int_equal(upd("n1", cert, 1, &node, &f, &e), GRPCSRV_INVALID_ARGUMENT);
	assert_non_null(strstr(e.msg, "node.mtls_cert"));
	node.runtime_policy = "a b";
	assert_int_equal(upd("n1", rt, 1, &node, &f, &e), GRPCSRV_INVALID_ARGUMENT);
	assert_non_null(strstr(e.msg, "node.runtime_policy"));
}

static void test_page_decimal(void **state)
{
	size_t limit;
	int64_t after;
	char *t;
	err_t e = {""};

	(void)state;
	assert_int_equal(apireq_page_decimal(0, "", "ListEventsRequest", &limit, &after, &e),
	                 GRPCSRV_OK);
	assert_int_equal(limit, PAGING_DEFAULT);
	assert_int_equal(after, 0);
	assert_int_equal(apireq_page_decimal(1001, "", "ListEventsRequest", &limit, &after, &e),
	                 GRPCSRV_INVALID_ARGUMENT);
	assert_non_null(strstr(e.msg, "ListEventsRequest.page_size"));
	t = paging_token("4711");
	assert_int_equal(apireq_page_decimal(1000, t, "ListOutboxRequest", &limit, &after, &e),
	                 GRPCSRV_OK);
	assert_int_equal(limit, 1000);
	assert_int_equal(after, 4711);
	free(t);
	/* A token of this server's format whose key is not a number: refused as any other. */
	t = paging_token("node-1");
	assert_int_equal(apireq_page_decimal(10, t, "ListOutboxRequest", &limit, &after, &e),
	                 GRPCSRV_INVALID_ARGUMENT);
	assert_non_null(strstr(e.msg, "ListOutboxRequest.page_token"));
	free(t);
	assert_int_equal(apireq_page_decimal(10, "4711", "ListEventsRequest", &limit, &after, &e),
	                 GRPCSRV_INVALID_ARGUMENT);
	assert_non_null(strstr(e.msg, "page_token"));
}

static void test_list_outbox(void **state)
{
	Vigil__V1__ListOutboxRequest r = VIGIL__V1__LIST_OUTBOX_REQUEST__INIT;
	size_t limit;
	int64_t after;
	char *t;
	err_t e = {""};

	(void)state;
	r.after_id = 17; /* an older client's paging */
	assert_int_equal(apireq_list_outbox(&r, &limit, &after, &e), GRPCSRV_OK);
	assert_int_equal(after, 17);
	t = paging_token("40");
	r.page_token = t; /* page_token wins */
	assert_int_equal(apireq_list_outbox(&r, &limit, &after, &e), GRPCSRV_OK);
	assert_int_equal(after, 40);
	free(t);
	r.page_token = "";
	r.after_id = -1;
	assert_int_equal(apireq_list_outbox(&r, &limit, &after, &e), GRPCSRV_INVALID_ARGUMENT);
	assert_non_null(strstr(e.msg, "after_id"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_update_mask),
	    cmocka_unit_test(test_update_values),
	    cmocka_unit_test(test_page_decimal),
	    cmocka_unit_test(test_list_outbox),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* api: vigil.v1.Registrar over gRPC. Every handler answers at once on the gRPC thread: a
 * store read or one delete on the API's own connection (SQLite: WAL, so it reads beside
 * the registrar's writer). Request checks live in apireq.c. */
#include "registrar/api.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "common/base/buf.h"
#include "common/base/log.h"
#include "common/base/xmalloc.h"
#include "common/crypto/ekcert.h"
#include "common/net/grpcsrv.h"
#include "common/net/paging.h"
#include "common/net/pb.h"
#include "common/store/store.h"
#include "registrar/apireq.h"

struct regapi {
	store_t *store; /* the API thread's own connection */
	grpcsrv_t *srv; /* the gRPC server and its thread */
};

/* An Enrollment message and the decoded blobs it points into. */
typedef struct api_enr {
	Vigil__V1__Enrollment m; /* the message (strings borrowed from the store record) */
	buf_t ek;                /* ek_tpm, decoded */
	buf_t ak;                /* aik_tpm, decoded */
	uint8_t *cert;           /* ekcert leaf DER (OPENSSL_free), NULL when none */
} api_enr_t;

static char *api_str(const char *s)
{
	return (char *)(uintptr_t)(s ? s : "");
}

/* Decode a stored base64 TPM2B_PUBLIC into b; a record that does not decode (never
 * written by this registrar) is shown without it, and said so in the log. */
static void api_blob(buf_t *b, const char *text, const char *id, const char *what)
{
	if (text && base64_decode(b, text, strlen(text)) < 0)
		log_warnx("agent %s: stored %s is not base64; shown empty", id, what);
}

/* Fill x from the record a (borrowed until x is cleared); full adds the key material. */
static void api_enr_fill(api_enr_t *x, const store_agent_t *a, int full)
{
	memset(x, 0, sizeof(*x));
	vigil__v1__enrollment__init(&x->m);
	x->m.uuid = api_str(a->agent_id);
	x->m.active = a->active != 0;
	x->m.ek_key = api_str(a->ek_key);
	x->m.has_ekcert = a->ekcert != NULL && *a->ekcert != '\0';
	x->m.ip = api_str(a->ip);
	x->m.port = a->port > 0 ? (uint32_t)a->port : 0;
	x->m.regcount = a->regcount > 0 ? (uint32_t)a->regcount : 0;
	x->m.created = a->created;
	x->m.updated = a->updated;
	if (!full)
		return;
	api_blob(&x->ek, a->ek_tpm, a->agent_id, "ek_tpm");
	api_blob(&x->ak, a->aik_tpm, a->agent_id, "aik_tpm");
	x->m.ek_tpm.data = x->ek.data;
	x->m.ek_tpm.len = x->ek.len;
	x->m.aik_tpm.data = x->ak.data;
	x->m.aik_tpm.len = x->ak.len;
	/* As the REST GET: the DER of the EK certificate itself, the first one received. */
	if (x->m.has_ekcert) {
		X509 *leaf = NULL;
		STACK_OF(X509) *chain = NULL;
		err_t e = {""};
		int n;
		if (ekcert_parse(a->ekcert, strlen(a->ekcert), &leaf, &chain, &e) == 0 &&
		    (n = i2d_X509(leaf, &x->cert)) > 0) {
			x->m.ekcert.data = x->cert;
			x->m.ekcert.len = (size_t)n;
		} else {
			log_warnx("agent %s: stored ekcert does not parse: %s", a->agent_id, e.msg);
		}
		X509_free(leaf);
		sk_X509_pop_free(chain, X509_free);
	}
	x->m.mtls_cert = api_str(a->mtls_cert);
}

static void api_enr_clear(api_enr_t *x)
{
	buf_free(&x->ek);
	buf_free(&x->ak);
	OPENSSL_free(x->cert);
}

/* The store failed: INTERNAL, with the backend's reason in the registrar's log (the store
 * logged it) and a generic one for the client. */
static int api_store_error(err_t *e, const char *what)
{
	log_warnx("gRPC %s: registrar storage error: %s", what, e->msg);
	err_set(e, "registrar storage error during %s (see the registrar's log)", what);
	return GRPCSRV_INTERNAL;
}

/* A store call about one agent: GRPCSRV_OK, NOT_FOUND naming it, or INTERNAL. */
static int api_agent_rc(store_rc_t rc, const char *uuid, const char *what, err_t *e)
{
	switch (rc) {
	case STORE_OK:
		return GRPCSRV_OK;
	case STORE_NOT_FOUND:
		err_set(e, "no enrollment of agent %s at this registrar", uuid);
		return GRPCSRV_NOT_FOUND;
	default:
		return api_store_error(e, what);
	}
}

static int api_list(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                    err_t *e)
{
	regapi_t *a = arg;
	Vigil__V1__ListEnrollmentsRequest *r =
	    vigil__v1__list_enrollments_request__unpack(NULL, len, req);
	Vigil__V1__ListEnrollmentsResponse out = VIGIL__V1__LIST_ENROLLMENTS_RESPONSE__INIT;
	char after[PAGING_KEY_MAX + 1], *token = NULL;
	store_agent_t *v = NULL;
	api_enr_t *x = NULL;
	Vigil__V1__Enrollment **ms = NULL;
	size_t limit = 0, n = 0, shown;
	int code;

	(void)c;
	if ((code = apireq_list_enrollments(r, &limit, after, e)) != GRPCSRV_OK)
		goto out;
	/* One more than the page: when it exists, this page is not the last. */
	if (store_agent_list_page(a->store, after, limit + 1, &v, &n, e) != STORE_OK) {
		code = api_store_error(e, "ListEnrollments");
		goto out;
	}
	shown = n > limit ? limit : n;
	x = xcalloc(shown + 1, sizeof(*x));
	ms = xcalloc(shown + 1, sizeof(*ms));
	for (size_t i = 0; i < shown; i++) {
		api_enr_fill(&x[i], &v[i], r->full);
		ms[i] = &x[i].m;
	}
	out.n_enrollments = shown;
	out.enrollments = ms;
	if (n > limit)
		token = paging_token(v[shown - 1].agent_id);
	out.next_page_token = api_str(token);
	pb_pack(&out.base, resp);
	code = GRPCSRV_OK;
out:
	for (size_t i = 0; x && i < (n > limit ? limit : n); i++)
		api_enr_clear(&x[i]);
	free(x);
	free(ms);
	free(token);
	store_agents_free(v, n);
	if (r)
		vigil__v1__list_enrollments_request__free_unpacked(r, NULL);
	return code;
}

static int api_get(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                   err_t *e)
{
	regapi_t *a = arg;
	Vigil__V1__GetEnrollmentRequest *r =
	    vigil__v1__get_enrollment_request__unpack(NULL, len, req);
	Vigil__V1__GetEnrollmentResponse out = VIGIL__V1__GET_ENROLLMENT_RESPONSE__INIT;
	store_agent_t rec;
	api_enr_t x;
	int code, filled = 0;

	(void)c;
	memset(&rec, 0, sizeof(rec));
	if ((code = apireq_get_enrollment(r, e)) != GRPCSRV_OK)
		goto out;
	if ((code = api_agent_rc(store_agent_get(a->store, r->uuid, &rec, e), r->uuid,
	                         "GetEnrollment", e)) != GRPCSRV_OK)
		goto out;
	api_enr_fill(&x, &rec, 1);
	filled = 1;
	out.enrollment = &x.m;
	pb_pack(&out.base, resp);
	code = GRPCSRV_OK;
out:
	if (filled)
		api_enr_clear(&x);
	store_agent_clear(&rec); /* wipes the pending key, which never left the store */
	if (r)
		vigil__v1__get_enrollment_request__free_unpacked(r, NULL);
	return code;
}

static int api_delete(void *arg, grpcsrv_call_t *c, const uint8_t *req, size_t len, buf_t *resp,
                      err_t *e)
{
	regapi_t *a = arg;
	Vigil__V1__DeleteEnrollmentRequest *r =
	    vigil__v1__delete_enrollment_request__unpack(NULL, len, req);
	Vigil__V1__DeleteEnrollmentResponse out = VIGIL__V1__DELETE_ENROLLMENT_RESPONSE__INIT;
	int code;

	if ((code = apireq_delete_enrollment(r, e)) != GRPCSRV_OK)
		goto out;
	if ((code = api_agent_rc(store_agent_delete(a->store, r->uuid, e), r->uuid,
	                         "DeleteEnrollment", e)) != GRPCSRV_OK)
		goto out;
	/* As the REST delete says it, so one grep finds both. */
	log_info("agent %s deleted by an administrator from %s (gRPC)", r->uuid,
	         grpcsrv_call_peer(c));
	pb_pack(&out.base, resp);
	code = GRPCSRV_OK;
out:
	if (r)
		vigil__v1__delete_enrollment_request__free_unpacked(r, NULL);
	return code;
}

static const grpcsrv_method_t api_methods[] = {
    {"/vigil.v1.Registrar/ListEnrollments", api_list},
    {"/vigil.v1.Registrar/GetEnrollment", api_get},
    {"/vigil.v1.Registrar/DeleteEnrollment", api_delete},
    {NULL, NULL},
};

regapi_t *regapi_new(const config_t *cfg, const char *database, err_t *e)
{
	regapi_t *a = xcalloc(1, sizeof(*a));
	const char *listen = config_str(cfg, "registrar", "grpc_listen");
	int insecure = config_bool(cfg, "registrar", "grpc_insecure");
	grpcsrv_tls_t tls = {
	    .cert_file = config_str(cfg, "registrar", "tls_cert"),
	    .key_file = config_str(cfg, "registrar", "tls_key"),
	    .client_ca_file = config_str(cfg, "registrar", "trusted_client_ca"),
	};
	grpcsrv_limits_t lim;

	if ((a->store = store_open(database, e)) == NULL)
		goto fail;
	if (insecure)
		log_warnx("gRPC API on %s is PLAINTEXT without client certificates "
		          "(registrar.grpc_insecure = yes): for tests only",
		          listen);
	grpcsrv_limits_default(&lim);
	lim.max_msg = 64u << 10; /* requests are a uuid or a page token */
	lim.recv_timeout_ms = (int)config_int(cfg, "registrar", "grpc_recv_timeout") * 1000;
	lim.send_timeout_ms = (int)config_int(cfg, "registrar", "grpc_send_timeout") * 1000;
	lim.max_calls = (int)config_int(cfg, "registrar", "grpc_max_calls");
	lim.max_calls_per_peer = (int)config_int(cfg, "registrar", "grpc_max_calls_per_peer");
	a->srv = grpcsrv_new(listen, insecure ? NULL : &tls, api_methods, a, &lim, e);
	if (a->srv == NULL || grpcsrv_start(a->srv) < 0) {
		if (a->srv)
			err_set(e, "cannot start the gRPC thread");
		goto fail;
	}
	return a;
fail:
	regapi_free(a);
	return NULL;
}

void regapi_free(regapi_t *a)
{
	if (a == NULL)
		return;
	grpcsrv_free(a->srv); /* first: its handlers use the store */
	store_close(a->store);
	free(a);
}

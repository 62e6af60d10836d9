/* apireq: checks of the vigil.v1.Registrar requests. */
#include "registrar/apireq.h"

#include "common/net/grpcsrv.h"
#include "registrar/enroll.h"

int apireq_list_enrollments(const Vigil__V1__ListEnrollmentsRequest *r, size_t *limit,
                            char after[PAGING_KEY_MAX + 1], err_t *e)
{
	int code;

	after[0] = '\0';
	if (r == NULL) {
		err_set(e, "cannot decode ListEnrollmentsRequest");
		return GRPCSRV_INVALID_ARGUMENT;
	}
	code =
	    paging_request(r->page_size, r->page_token, "ListEnrollmentsRequest", limit, after, e);
	if (code != GRPCSRV_OK)
		return code;
	/* Tokens carry the last agent id of a page: anything else was not made here. */
	if (after[0] && !enroll_id_is_valid(after)) {
		after[0] = '\0';
		err_set(e, "ListEnrollmentsRequest.page_token is not a token this server issued: "
		           "pass the previous reply's next_page_token unchanged, or \"\" for the "
		           "first page");
		return GRPCSRV_INVALID_ARGUMENT;
	}
	return GRPCSRV_OK;
}

static int apireq_uuid(const char *msg, const char *uuid, err_t *e)
{
	if (uuid == NULL || *uuid == '\0') {
		err_set(e, "%s.uuid is empty: name the agent id to act on", msg);
		return GRPCSRV_INVALID_ARGUMENT;
	}
	if (!enroll_id_is_valid(uuid)) {
		err_set(e, "%s.uuid is not an agent id: 1 to %d characters of A-Z a-z 0-9 . _ -",
		        msg, ENROLL_MAX_ID);
		return GRPCSRV_INVALID_ARGUMENT;
	}
	return GRPCSRV_OK;
}

int apireq_get_enrollment(const Vigil__V1__GetEnrollmentRequest *r, err_t *e)
{
	if (r == NULL) {
		err_set(e, "cannot decode GetEnrollmentRequest");
		return GRPCSRV_INVALID_ARGUMENT;
	}
	return apireq_uuid("GetEnrollmentRequest", r->uuid, e);
}

int apireq_delete_enrollment(const Vigil__V1__DeleteEnrollmentRequest *r, err_t *e)
{
	if (r == NULL) {
		err_set(e, "cannot decode DeleteEnrollmentRequest");
		return GRPCSRV_INVALID_ARGUMENT;
	}
	return apireq_uuid("DeleteEnrollmentRequest", r->uuid, e);
}

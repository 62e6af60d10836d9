/* cmd_enrollment: vigilctl enrollment list | show | delete: the registrar's enrollments over
 * its gRPC API (vigil.v1.Registrar at --registrar-grpc). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/base/buf.h"
#include "ctl/args.h"
#include "ctl/commands.h"
#include "ctl/ctlconf.h"
#include "ctl/show.h"

static const char enr_usage[] =
    "Usage: vigilctl enrollment list [--page-size N] [--page-token T | --all] [--full]\n"
    "                                [--json] [connection options]\n"
    "       vigilctl enrollment show UUID [--json] [connection options]\n"
    "       vigilctl enrollment delete UUID [connection options]\n"
    "\n"
    "The registrar's enrollments, over its gRPC API (registrar.grpc_listen, mutual TLS;\n"
    "--registrar-grpc HOST:PORT, default 127.0.0.1:8892). An enrollment binds an agent id to\n"
    "one TPM: its EK (and EK certificate) and its AK. It is 'active' once the agent\n"
    "answered the registrar's credential challenge, which only that TPM can do; until then\n"
    "it is only 'registered': shown here (Keylime's REST GET answers 404 for it) so that an\n"
    "operator sees agents stuck half-way, but nothing should trust its keys yet.\n"
    "\n"
    "'list' prints one page of enrollments in agent id order (UUID, STATE, EK CERT,\n"
    "REGCOUNT, UPDATED, CONTACT): --page-size N per page (default 100, at most 1000).\n"
    "When more follow, the last line on stderr gives the --page-token that continues\n"
    "after this page; --all follows the pages to the end. Enrollments added or deleted\n"
    "meanwhile never make others appear twice or go missing. --full also fetches the key\n"
    "material (with --json). --json prints {\"enrollments\": [...], \"next_page_token\": T}.\n"
    "\n"
    "'show UUID' prints every field of one enrollment: state, registrations, times,\n"
    "contact, the EK identity (SHA-256 of its public key), the EK certificate's subject\n"
    "and issuer and the certificate itself (PEM), the EK and AK (base64 TPM2B_PUBLIC, as\n"
    "Keylime shows them) and the agent's mTLS certificate. --json prints an object with\n"
    "the same fields; binary ones in base64 (ekcert: base64 DER, as Keylime's REST GET).\n"
    "\n"
    "'delete UUID' removes the enrollment (and a re-registration staged beside it) at\n"
    "once; the registrar logs who did it. The agent must register again, and a verifier\n"
    "that attests the node keeps doing so until 'vigilctl remove UUID'.\n"
    "\n"
    "  --page-size N    enrollments per page (list)\n"
    "  --page-token T   start after the page that gave T (list)\n"
    "  --all            every page, to the end (list)\n"
    "  --full           include the EK, AK, EK certificate and mTLS certificate (list)\n"
    "\n"
    "Examples:\n"
    "  vigilctl enrollment list --all --registrar-grpc registrar.example.com:8892\n"
    "  # the agents that registered but never activated:\n"
    "  vigilctl enrollment list --all --json |\n"
    "      jq -r '.enrollments[] | select(.active | not).uuid'\n"
    "  vigilctl enrollment show d432fbb3-d2f1-4a97-9ef7-75bd81c00000\n"
    "  vigilctl enrollment delete d432fbb3-d2f1-4a97-9ef7-75bd81c00000\n"
    "\n"
    "Exit status: 0 done, 1 the registrar refused (e.g. NOT_FOUND: no such enrollment) or\n"
    "could not be reached, 2 usage. See docs/api.md and docs/registrar.md.\n";

static json_t *enr_b64(const ProtobufCBinaryData *b)
{
	buf_t t = BUF_INIT;
	json_t *j;

	if (b->len == 0)
		return json_null();
	base64_encode(&t, b->data, b->len);
	j = json_stringn((const char *)t.data, t.len);
	buf_free(&t);
	return j;
}

static json_t *enr_json(const Vigil__V1__Enrollment *m, int full)
{
	json_t *o = json_pack("{s:s, s:b, s:s, s:b, s:s, s:i, s:i, s:I, s:I}", "uuid", m->uuid,
	                      "active", m->active, "ek_key", m->ek_key, "has_ekcert", m->has_ekcert,
	                      "ip", m->ip, "port", (int)m->port, "regcount", (int)m->regcount,
	                      "created", (json_int_t)m->created, "updated", (json_int_t)m->updated);
	if (full) {
		json_object_set_new(o, "ek_tpm", enr_b64(&m->ek_tpm));
		json_object_set_new(o, "aik_tpm", enr_b64(&m->aik_tpm));
		json_object_set_new(o, "ekcert", enr_b64(&m->ekcert));
		json_object_set_new(o, "mtls_cert",
		                    *m->mtls_cert ? json_string(m->mtls_cert) : json_null());
	}
	return o;
}

static void enr_row(const Vigil__V1__Enrollment *m)
{
	char t[32], contact[80];

	ctl_time(t, sizeof(t), m->updated * 1000, 0, "-");
	if (*m->ip)
		snprintf(contact, sizeof(contact), "%s:%u", m->ip, m->port);
	else
		snprintf(contact, sizeof(contact), "-");
	printf("%-38s %-10s %-7s %8u  %-20s  %s\n", m->uuid, m->active ? "active" : "registered",
	       m->has_ekcert ? "yes" : "no", m->regcount, t, contact);
}

static int enr_list(ctl_conf_t *c, uint32_t page_size, const char *token, int all, int full)
{
	Vigil__V1__ListEnrollmentsRequest req = VIGIL__V1__LIST_ENROLLMENTS_REQUEST__INIT;
	json_t *list = c->json ? json_array() : NULL;
	char *next = NULL;
	size_t total = 0;
	int rv = 1;

	req.page_size = page_size;
	req.full = full;
	req.page_token = (char *)(uintptr_t)(token ? token : "");
	if (!c->json)
		printf("%-38s %-10s %-7s %8s  %-20s  %s\n", "UUID", "STATE", "EK CERT", "REGCOUNT",
		       "UPDATED", "CONTACT");
	for (;;) {
		ProtobufCMessage *resp = NULL;
		Vigil__V1__ListEnrollmentsResponse *l;

		if (ctl_call_service(c, CTL_REGISTRAR, "ListEnrollments", &req.base,
		                     &vigil__v1__list_enrollments_response__descriptor, &resp) != 0)
			goto out;
		l = (Vigil__V1__ListEnrollmentsResponse *)resp;
		for (size_t i = 0; i < l->n_enrollments; i++) {
			if (list)
				json_array_append_new(list, enr_json(l->enrollments[i], full));
			else
				enr_row(l->enrollments[i]);
		}
		total += l->n_enrollments;
		free(next);
		next = strdup(l->next_page_token);
		protobuf_c_message_free_unpacked(resp, NULL);
		if (next == NULL || !all || *next == '\0')
			break;
		req.page_token = next;
	}
	if (list) {
		json_t *o = json_pack("{s:o, s:s}", "enrollments", list, "next_page_token",
		                      next ? next : "");
		char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		list = NULL;
		printf("%s\n", s ? s : "{}");
		free(s);
		json_decref(o);
	} else if (next && *next) {
		fprintf(stderr, "%zu shown; more follow: --page-token %s (or --all)\n", total,
		        next);
	}
	rv = 0;
out:
	free(next);
	json_decref(list);
	return rv;
}

/* The EK certificate as PEM, with its subject and issuer, for the text of 'show'. */
static void enr_print_cert(const ProtobufCBinaryData *der)
{
	const unsigned char *p = der->data;
	X509 *x = d2i_X509(NULL, &p, (long)der->len);
	char name[512];

	if (x == NULL) {
		printf("ekcert:       (%zu bytes that do not decode as a certificate)\n", der->len);
		return;
	}
	X509_NAME_oneline(X509_get_subject_name(x), name, sizeof(name));
	printf("ekcert subject: %s\n", name);
	X509_NAME_oneline(X509_get_issuer_name(x), name, sizeof(name));
	printf("ekcert issuer:  %s\n", name);
	PEM_write_X509(stdout, x);
	X509_free(x);
}

static void enr_print_b64(const char *label, const ProtobufCBinaryData *b)
{
	buf_t t = BUF_INIT;

	base64_encode(&t, b->data, b->len);
	printf("%s%.*s\n", label, (int)t.len, t.len ? (const char *)t.data : "-");
	buf_free(&t);
}

static void enr_show_text(const Vigil__V1__Enrollment *m)
{
	char t[32];

	printf("uuid:         %s\n", m->uuid);
	printf("state:        %s\n",
	       m->active ? "active (the agent proved its AK)"
	                 : "registered, not activated (its keys are not proven: do not trust them "
	                   "yet)");
	printf("regcount:     %u\n", m->regcount);
	ctl_time(t, sizeof(t), m->created * 1000, 0, "-");
	printf("created:      %s\n", t);
	ctl_time(t, sizeof(t), m->updated * 1000, 0, "-");
	printf("updated:      %s\n", t);
	if (*m->ip)
		printf("contact:      %s:%u\n", m->ip, m->port);
	else
		printf("contact:      -\n");
	printf("ek_key:       %s\n", *m->ek_key ? m->ek_key : "-");
	enr_print_b64("ek_tpm:       ", &m->ek_tpm);
	enr_print_b64("aik_tpm:      ", &m->aik_tpm);
	if (m->ekcert.len)
		enr_print_cert(&m->ekcert);
	else
		printf("ekcert:       none\n");
	if (*m->mtls_cert)
		printf("mtls_cert:\n%s%s", m->mtls_cert,
		       m->mtls_cert[strlen(m->mtls_cert) - 1] == '\n' ? "" : "\n");
	else
		printf("mtls_cert:    none\n");
}

int cmd_enrollment(int argc, char **argv)
{
	static const struct option extra[] = {
	    {"page-size", required_argument, NULL, 's'},
	    {"page-token", required_argument, NULL, 't'},
	    {"all", no_argument, NULL, 'a'},
	    {"full", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	};
	struct option all[CTL_COMMON_OPTION_COUNT + 6];
	const char *sub = argc >= 2 ? argv[1] : "", *token = NULL;
	int every = 0, full = 0, opt, rv = 1;
	long page_size = 0;
	ctl_conf_t c;
	ProtobufCMessage *resp = NULL;
	char *end;

	if (argc >= 2 && (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)) {
		printf("%s\n%s", enr_usage, ctl_common_help);
		return 0;
	}
	if (strcmp(sub, "list") != 0 && strcmp(sub, "show") != 0 && strcmp(sub, "delete") != 0) {
		fprintf(stderr, "%s", enr_usage);
		return 2;
	}
	memset(all, 0, sizeof(all));
	memcpy(all, ctl_common_options, CTL_COMMON_OPTION_COUNT * sizeof(*all));
	memcpy(all + CTL_COMMON_OPTION_COUNT, extra, sizeof(extra));
	if (ctl_conf_init(&c, NULL) < 0)
		return 1;
	argc--;
	argv++;
	optind = 0;
	while ((opt = ctl_getopt(argc, argv, "hc:", all)) != -1) {
		if (opt == 'h') {
			printf("%s\n%s", enr_usage, ctl_common_help);
			ctl_conf_free(&c);
			return 0;
		}
		if (opt == 's') {
			page_size = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || page_size < 1 || page_size > 1000) {
				fprintf(stderr, "vigilctl: --page-size must be 1 to 1000\n");
				goto usage;
			}
		} else if (opt == 't') {
			token = optarg;
		} else if (opt == 'a') {
			every = 1;
		} else if (opt == 'f') {
			full = 1;
		} else if (opt == '?' || ctl_conf_option(&c, opt, optarg) < 0) {
			goto usage;
		}
	}
	if (strcmp(sub, "list") == 0) {
		if (argc != optind || (every && token))
			goto usage;
		rv = enr_list(&c, (uint32_t)page_size, token, every, full);
		goto out;
	}
	if (argc - optind != 1 || every || full || token || page_size)
		goto usage;
	if (strcmp(sub, "show") == 0) {
		Vigil__V1__GetEnrollmentRequest req = VIGIL__V1__GET_ENROLLMENT_REQUEST__INIT;
		const Vigil__V1__Enrollment *m;

		req.uuid = argv[optind];
		if (ctl_call_service(&c, CTL_REGISTRAR, "GetEnrollment", &req.base,
		                     &vigil__v1__get_enrollment_response__descriptor, &resp) != 0)
			goto out;
		if ((m = ((Vigil__V1__GetEnrollmentResponse *)resp)->enrollment) == NULL) {
			fprintf(stderr, "vigilctl: the registrar's GetEnrollment reply is empty\n");
			goto out;
		}
		if (c.json) {
			json_t *o = enr_json(m, 1);
			char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
			printf("%s\n", s ? s : "{}");
			free(s);
			json_decref(o);
		} else {
			enr_show_text(m);
		}
		rv = 0;
	} else {
		Vigil__V1__DeleteEnrollmentRequest req = VIGIL__V1__DELETE_ENROLLMENT_REQUEST__INIT;

		req.uuid = argv[optind];
		if (ctl_call_service(&c, CTL_REGISTRAR, "DeleteEnrollment", &req.base,
		                     &vigil__v1__delete_enrollment_response__descriptor,
		                     &resp) != 0)
			goto out;
		printf("enrollment %s deleted\n", argv[optind]);
		rv = 0;
	}
	goto out;
usage:
	fprintf(stderr, "%s", enr_usage);
	rv = 2;
out:
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	ctl_conf_free(&c);
	return rv;
}

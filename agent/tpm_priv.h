/* tpm_priv: what the agent's TPM files share (tpm.c: the TPM, its EK and AK; tpm_nv.c: EK
 * certificates from NV). Only agent/tpm*.c include it. */
#ifndef VIGIL_AGENT_TPM_PRIV_H
#define VIGIL_AGENT_TPM_PRIV_H

#include <stdint.h>

#include <tss2/tss2_esys.h>

#include "common/base/err.h"

/* How the EK's authPolicy is satisfied. */
typedef enum {
	EK_POLICY_UNKNOWN, /* not a TCG EK policy we know: activation is refused */
	EK_POLICY_A,       /* PolicySecret(TPM_RH_ENDORSEMENT) (low-range templates) */
	EK_POLICY_B,       /* PolicyOR(PolicyA, PolicyC) (high-range templates) */
} ek_policy_t;

struct tpm {
	TSS2_TCTI_CONTEXT *tcti; /* owned transport */
	ESYS_CONTEXT *esys;      /* owned ESAPI context */
	ESYS_TR ek;              /* EK object, ESYS_TR_NONE until tpm_ek_load */
	int ek_persistent;       /* 1: ek is a persistent key (close, never flush) */
	TPM2B_PUBLIC ek_pub;     /* EK public area */
	ek_policy_t ek_policy;   /* how to authorise the EK */
	uint32_t ek_cert_nv;     /* NV index of the EK certificate for this EK kind */
	ESYS_TR ak;              /* AK object, ESYS_TR_NONE until loaded */
	TPM2B_PUBLIC ak_pub;     /* AK public area */
	uint32_t ak_handle;      /* AK's TPM handle */
};

/* Put our text and tss2's decoding of rc into e, and a debug line in the log. */
void tpm_tss_err(err_t *e, TSS2_RC rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* 1 when a persistent or NV handle exists, 0 when not, -1 on error (e). */
int tpm_handle_exists(tpm_t *t, uint32_t handle, err_t *e);

#endif

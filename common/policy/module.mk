# common/policy: judge evidence: PCR, runtime (IMA) and measured-boot policies.
COMMON_SRCS += common/policy/pcr_policy.c
COMMON_SRCS += common/policy/runtime_policy.c
COMMON_SRCS += common/policy/mb_policy.c
COMMON_SRCS += common/policy/mb_policy_eval.c
COMMON_SRCS += common/policy/mb_policy_gen.c
COMMON_SRCS += common/policy/pyregex.c
COMMON_SRCS += common/policy/runtime_policy_eval.c
COMMON_SRCS += common/policy/runtime_policy_gen.c

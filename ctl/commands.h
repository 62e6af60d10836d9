/* commands: the vigilctl command groups; each lives in its own ctl/cmd_*.c. Every function
 * gets argv from the group name on (argv[0] = "ca", ...) and returns the exit status:
 * 0 success, 1 failure (message printed), 2 usage error. */
#ifndef VIGIL_CTL_COMMANDS_H
#define VIGIL_CTL_COMMANDS_H

int cmd_ca(int argc, char **argv);       /* ctl/cmd_ca.c: ca init | ca issue */
int cmd_eventlog(int argc, char **argv); /* ctl/cmd_eventlog.c: eventlog show */
int cmd_ima(int argc, char **argv);      /* ctl/cmd_ima.c: ima replay */
int cmd_policy(int argc, char **argv);   /* ctl/cmd_policy.c: policy create|put|get|list|delete */
/* ctl/cmd_node.c: add | remove | status | list | stop | reactivate | update (argv[0] says
 * which) */
int cmd_node(int argc, char **argv);
int cmd_config(int argc, char **argv); /* ctl/ctlconf.c: config (print the sample) */
/* ctl/cmd_events.c: events list | show | key | verify | export */
int cmd_events(int argc, char **argv);
int cmd_outbox(int argc, char **argv); /* ctl/cmd_outbox.c: outbox list | retry */
int cmd_pool(int argc, char **argv);   /* ctl/cmd_pool.c: pool (the verifier instances) */
int cmd_report(int argc, char **argv); /* ctl/cmd_report.c: report UUID | key | verify */
int cmd_attest(int argc, char **argv); /* ctl/cmd_report.c: attest UUID (AttestNow) */
/* ctl/cmd_enrollment.c: enrollment list | show | delete (the registrar's gRPC API) */
int cmd_enrollment(int argc, char **argv);

/* policy create runtime --ima-log FILE ... (ctl/cmd_ima.c); argv[0] = "runtime" */
int cmd_policy_create_runtime(int argc, char **argv);
/* policy create mb --event-log FILE ... (ctl/cmd_eventlog.c); argv[0] = "mb" */
int cmd_policy_create_mb(int argc, char **argv);

#endif

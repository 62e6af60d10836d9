/* thread: small helpers for the daemons' threads. */
#ifndef VIGIL_THREAD_H
#define VIGIL_THREAD_H

/* Name the calling thread (printf-style; cut to the kernel's 15 bytes), so that top -H,
 * perf, gdb and /proc/PID/task/TID/comm tell the threads apart: "vigil-worker0",
 * "vigil-lease". Best effort: a failure changes nothing else. */
void thread_name_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

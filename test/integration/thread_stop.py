#!/usr/bin/python3
"""thread_stop.py PID COMM: stop the threads of process PID named COMM (their
/proc/PID/task/TID/comm, e.g. "vigil-worker0") from outside, and only those: every other
thread of the process runs on. This is how a test makes a stuck instance that is still
alive (a wedged event loop), which SIGSTOP cannot: SIGSTOP stops the whole process.

Each matching thread is attached with PTRACE_SEIZE (which, unlike PTRACE_ATTACH, sends
no SIGSTOP, so the process's other threads see nothing) and stopped with
PTRACE_INTERRUPT. Prints "stopped TID" per thread once it is stopped (waitpid saw the
stop), then holds them until SIGTERM or SIGINT, which detaches them (PTRACE_DETACH: they
resume where they were) and exits 0. Exit 1 with a message when no thread has that name
or ptrace is refused (Yama ptrace_scope, no CAP_SYS_PTRACE, a container's seccomp).
"""
import ctypes
import os
import signal
import sys

PTRACE_DETACH = 17
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
WALL = 0x40000000  # __WALL: wait for a thread of another process too

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]


def ptrace(req, tid):
    if libc.ptrace(req, tid, None, None) == -1:
        err = ctypes.get_errno()
        raise OSError(err, "ptrace(%#x, %d): %s" % (req, tid, os.strerror(err)))


def main():
    pid, comm = int(sys.argv[1]), sys.argv[2]
    tids = []
    for t in sorted(os.listdir("/proc/%d/task" % pid), key=int):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, t)) as f:
                if f.read().strip() == comm:
                    tids.append(int(t))
        except OSError:
            pass
    if not tids:
        sys.exit("thread_stop: process %d has no thread named %r" % (pid, comm))
    done = []

    def release(code=0):
        for tid in done:
            try:
                ptrace(PTRACE_DETACH, tid)
            except OSError as e:
                print("thread_stop: %s" % e, file=sys.stderr)
        print("resumed %s" % " ".join(map(str, done)), flush=True)
        os._exit(code)

    signal.signal(signal.SIGTERM, lambda *_: release())
    signal.signal(signal.SIGINT, lambda *_: release())
    try:
        for tid in tids:
            ptrace(PTRACE_SEIZE, tid)
            done.append(tid)
            ptrace(PTRACE_INTERRUPT, tid)
            os.waitpid(tid, WALL)
            print("stopped %d" % tid, flush=True)
    except OSError as e:
        print("thread_stop: %s" % e, file=sys.stderr)
        release(1)
    while True:
        signal.pause()


if __name__ == "__main__":
    main()

/* thread: see thread.h. */
#include "common/base/thread.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

void thread_name_set(const char *fmt, ...)
{
	char name[16]; /* the kernel's TASK_COMM_LEN, its NUL included */
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	(void)pthread_setname_np(pthread_self(), name);
}

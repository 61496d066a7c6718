/* watchdog.c — ends the process when Lua ignores an interrupt: plan code
 * outside any step's deadline (a plan's own module loading at validate
 * time), or anything else that never returns to the task loop. */
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "luacore.h"
#include "tasks.h"
#include "watchdog.h"

#define WATCHDOG_SECONDS 3.0

static void *watch(void *arg)
{
	(void)arg;
	double since = 0;
	for (;;) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		if (!rt_cancel) {
			since = 0;
			continue;
		}
		double now = rt_mono();
		if (!since)
			since = now;
		double busy_from = rt_tasks_last_wait() > since ? rt_tasks_last_wait() : since;
		if (now - busy_from < WATCHDOG_SECONDS)
			continue;
		rt_exec_kill_all();
		static const char msg[] = "lifeboat: interrupted, and the plan's code did not stop: exiting\n";
		ssize_t w = write(2, msg, sizeof(msg) - 1);
		(void)w;
		_exit(EXIT_INTERRUPTED);
	}
	return NULL;
}

void rt_watchdog_start(void)
{
	pthread_t th;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	if (pthread_create(&th, &attr, watch, NULL) != 0)
		fprintf(stderr, "lifeboat: cannot start the interrupt watchdog\n");
	pthread_attr_destroy(&attr);
}

/* watchdog.c — ends the process when Lua ignores an interrupt: plan code
 * outside any step's deadline (a plan's own module loading at validate
 * time), or anything else that never returns to the task loop. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "luacore.h"
#include "tasks.h"
#include "watchdog.h"

#define WATCHDOG_SECONDS 3.0

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake;
static bool stopping, started;
static pthread_t thread;

static void *watch(void *arg)
{
	(void)arg;
	double since = 0;
	pthread_mutex_lock(&lock);
	while (!stopping) {
		/* rt_cancel is set by a signal handler, which cannot signal a
		 * condition: look every 100 ms */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 100 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&wake, &lock, &ts);
		if (stopping || !rt_cancel) {
			since = 0;
			continue;
		}
		double now = rt_mono();
		if (!since)
			since = now;
		double last_wait = rt_tasks_last_wait();
		if (now - (last_wait > since ? last_wait : since) < WATCHDOG_SECONDS)
			continue;
		rt_exec_kill_all();
		static const char msg[] = "lifeboat: interrupted, and the plan's code did not stop: exiting\n";
		ssize_t w = write(2, msg, sizeof(msg) - 1);
		(void)w;
		_exit(EXIT_INTERRUPTED);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

void rt_watchdog_start(void)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	started = pthread_create(&thread, &attr, watch, NULL) == 0;
	if (!started)
		fprintf(stderr, "lifeboat: cannot start the interrupt watchdog\n");
	pthread_attr_destroy(&attr);
}

void rt_watchdog_stop(void)
{
	if (!started)
		return;
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	pthread_cond_destroy(&wake);
	started = false;
}

/* tasks.c — the worker pool behind rt_task_submit. Threads are started on
 * demand up to MAX_WORKERS and stay for the life of the process; a pipe
 * wakes the main thread when a task finishes. */
#include "tasks.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_ready = PTHREAD_COND_INITIALIZER;
static rt_task *queue_head, *queue_tail, *done_head;
static rt_task *running[MAX_WORKERS * 2];
static int workers, idle, pending;
static uint64_t next_ticket = 1;
static int wake_pipe[2] = { -1, -1 };

double rt_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void rt_tasks_wake(void)
{
	if (wake_pipe[1] >= 0) {
		ssize_t r = write(wake_pipe[1], "x", 1);
		(void)r;
	}
}

static void track(rt_task *t, bool on)
{
	for (int i = 0; i < MAX_WORKERS * 2; i++)
		if (on ? running[i] == NULL : running[i] == t) {
			running[i] = on ? t : NULL;
			return;
		}
}

static void *worker_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	for (;;) {
		while (!queue_head) {
			idle++;
			pthread_cond_wait(&work_ready, &lock);
			idle--;
		}
		rt_task *t = queue_head;
		queue_head = t->next;
		if (!queue_head)
			queue_tail = NULL;
		track(t, true);
		pthread_mutex_unlock(&lock);
		t->run(t);
		pthread_mutex_lock(&lock);
		track(t, false);
		t->next = done_head;
		done_head = t;
		rt_tasks_wake();
	}
	return NULL;
}

void rt_tasks_init(void)
{
	pthread_mutex_lock(&lock);
	if (wake_pipe[0] < 0 && pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		wake_pipe[0] = wake_pipe[1] = -1;
	pthread_mutex_unlock(&lock);
}

uint64_t rt_task_submit(rt_task *t)
{
	pthread_mutex_lock(&lock);
	t->ticket = next_ticket++;
	t->next = NULL;
	if (queue_tail)
		queue_tail->next = t;
	else
		queue_head = t;
	queue_tail = t;
	pending++;
	if (idle == 0 && workers < MAX_WORKERS) {
		pthread_t th;
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&attr, 256 * 1024);
		if (pthread_create(&th, &attr, worker_main, NULL) == 0)
			workers++;
		pthread_attr_destroy(&attr);
	}
	pthread_cond_signal(&work_ready);
	uint64_t ticket = t->ticket;
	pthread_mutex_unlock(&lock);
	return ticket;
}

void rt_task_cancel(uint64_t ticket)
{
	pthread_mutex_lock(&lock);
	for (rt_task *t = queue_head; t; t = t->next)
		if (t->ticket == ticket)
			atomic_store(&t->cancel, 1);
	for (int i = 0; i < MAX_WORKERS * 2; i++)
		if (running[i] && running[i]->ticket == ticket)
			atomic_store(&running[i]->cancel, 1);
	pthread_mutex_unlock(&lock);
}

int rt_tasks_pending(void)
{
	pthread_mutex_lock(&lock);
	int n = pending;
	pthread_mutex_unlock(&lock);
	return n;
}

static _Atomic double last_wait;
static atomic_int in_wait;

double rt_tasks_last_wait(void)
{
	return atomic_load(&in_wait) ? rt_mono() : atomic_load(&last_wait);
}

rt_task *rt_tasks_wait(int timeout_ms)
{
	atomic_store(&in_wait, 1);
	pthread_mutex_lock(&lock);
	bool have = done_head != NULL;
	pthread_mutex_unlock(&lock);
	if (!have && timeout_ms != 0 && wake_pipe[0] >= 0) {
		struct pollfd p = { .fd = wake_pipe[0], .events = POLLIN };
		poll(&p, 1, timeout_ms);
	} else if (!have && timeout_ms != 0) {
		struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
	if (wake_pipe[0] >= 0) {
		char buf[256];
		while (read(wake_pipe[0], buf, sizeof(buf)) > 0)
			;
	}
	pthread_mutex_lock(&lock);
	rt_task *list = done_head;
	done_head = NULL;
	for (rt_task *t = list; t; t = t->next)
		pending--;
	pthread_mutex_unlock(&lock);
	atomic_store(&last_wait, rt_mono());
	atomic_store(&in_wait, 0);
	return list;
}

/* tasks.h — blocking work (processes, HTTP, prompts) runs on a pool of C
 * threads while Lua, on the main thread, goes on with other steps. The main
 * thread submits a task, gets a ticket, and later collects the finished
 * tasks in rt_tasks_wait(). A task's fields are written by its worker until
 * it is done and read by the main thread only after. */
#ifndef RT_TASKS_H
#define RT_TASKS_H

#include <stdatomic.h>
#include <stdint.h>

struct lua_State;
typedef struct rt_task rt_task;
struct rt_task {
	uint64_t ticket;
	void (*run)(rt_task *t);     /* on a worker thread */
	int (*push)(struct lua_State *L, rt_task *t); /* pushes the result table */
	void (*destroy)(rt_task *t); /* on the main thread, after collection */
	atomic_int cancel;           /* set by rt_task_cancel; run() polls it */
	void *data;                  /* the kind's request and result */
	rt_task *next;
};

/* Creates the wake-up pipe; call once before signals are installed. */
void rt_tasks_init(void);
/* Queues t (t->run and t->destroy set) and returns its ticket. */
uint64_t rt_task_submit(rt_task *t);
void rt_task_cancel(uint64_t ticket);
/* Waits up to timeout_ms (-1: forever) for finished tasks and returns them
 * as a list (NULL when none finished or on interruption). */
rt_task *rt_tasks_wait(int timeout_ms);
/* Wakes rt_tasks_wait (async-signal-safe, used by the SIGINT handler). */
void rt_tasks_wake(void);
/* How many tasks are queued or running. */
int rt_tasks_pending(void);
/* Monotonic seconds when the main thread last was in rt_tasks_wait (now,
 * while it is): the watchdog's sign that Lua still runs its loop. */
double rt_tasks_last_wait(void);

/* Monotonic seconds. */
double rt_mono(void);

#endif

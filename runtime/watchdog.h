/* watchdog.h — the last resort after Ctrl-C or SIGTERM. */
#ifndef RT_WATCHDOG_H
#define RT_WATCHDOG_H

/* Starts a thread that, once an interrupt arrived, waits for the Lua host
 * to wind down: while it keeps coming back to its task loop it may take
 * its time (stopping steps, writing the journal); once it has run for
 * WATCHDOG_SECONDS without doing so, the processes of running exec tasks
 * are killed and the process exits 130. */
void rt_watchdog_start(void);
/* Stops and joins it (before the host exits normally). */
void rt_watchdog_stop(void);

#endif

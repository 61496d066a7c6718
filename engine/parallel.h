/* parallel.h — running numbered work items on a set of threads while the
 * calling thread reports progress and watches the cancel flag. Each thread
 * owns a context made by make_tls (codecs, buffers). The first failure
 * stops the other threads and is what eng_par_run returns. */
#ifndef ENG_PARALLEL_H
#define ENG_PARALLEL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lifeboat_engine.h"

typedef struct eng_par {
	size_t items;
	uint64_t total_bytes;           /* for progress */
	_Atomic uint64_t done_bytes;    /* workers add to it */
	void *ctx;
	void *(*make_tls)(void *ctx);   /* NULL result: out of memory */
	/* Ends a thread's context; failed tells whether the run failed. */
	int (*end_tls)(void *ctx, void *tls, bool failed, eng_err *err);
	int (*work)(void *ctx, void *tls, size_t item, eng_err *err);
	/* internal */
	_Atomic size_t next;
	_Atomic int stop;
	_Atomic int running;
	int status;
	eng_err err;
	void *mu, *cv;
	const eng_run_opts *run;
} eng_par;

int eng_threads(const eng_run_opts *run);
int eng_par_run(eng_par *par, const eng_run_opts *run, eng_err *err);
/* True when workers should give up early (another failed, or cancelled). */
static inline int eng_par_stopping(eng_par *par)
{
	return atomic_load_explicit(&par->stop, memory_order_relaxed) ||
	       (par->run && par->run->cancel && *par->run->cancel);
}

#endif

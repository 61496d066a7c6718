/* parallel.c — a fixed set of threads pulling item numbers from a counter. */
#include "parallel.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"

int eng_threads(const eng_run_opts *run)
{
	if (run && run->threads > 0)
		return run->threads > 64 ? 64 : run->threads;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

static void record(eng_par *par, int rc, const eng_err *e)
{
	pthread_mutex_lock(par->mu);
	if (par->status == ENG_OK) {
		par->status = rc;
		par->err = *e;
	}
	pthread_mutex_unlock(par->mu);
	atomic_store(&par->stop, 1);
}

static void *thread_main(void *arg)
{
	eng_par *par = arg;
	eng_err e = { 0 };
	void *tls = par->make_tls ? par->make_tls(par->ctx) : NULL;
	if (par->make_tls && !tls) {
		eng_fail(&e, ENG_ENOMEM, "out of memory starting a worker");
		record(par, ENG_ENOMEM, &e);
	}
	while (!eng_par_stopping(par)) {
		size_t item = atomic_fetch_add(&par->next, 1);
		if (item >= par->items)
			break;
		int rc = par->work(par->ctx, tls, item, &e);
		if (rc) {
			record(par, rc, &e);
			break;
		}
	}
	if (tls && par->end_tls) {
		pthread_mutex_lock(par->mu);
		bool failed = par->status != ENG_OK;
		pthread_mutex_unlock(par->mu);
		int rc = par->end_tls(par->ctx, tls, failed, &e);
		if (rc)
			record(par, rc, &e);
	}
	pthread_mutex_lock(par->mu);
	if (atomic_fetch_sub(&par->running, 1) == 1)
		pthread_cond_signal(par->cv);
	pthread_mutex_unlock(par->mu);
	return NULL;
}

int eng_par_run(eng_par *par, const eng_run_opts *run, eng_err *err)
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
	int n = eng_threads(run);
	if ((size_t)n > par->items)
		n = par->items ? (int)par->items : 1;
	pthread_t *tids = calloc((size_t)n, sizeof(*tids));
	if (!tids)
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	par->mu = &mu;
	par->cv = &cv;
	par->run = run;
	par->status = ENG_OK;
	atomic_store(&par->next, 0);
	atomic_store(&par->stop, 0);
	atomic_store(&par->running, n);
	int started = 0;
	for (; started < n; started++) {
		if (pthread_create(&tids[started], NULL, thread_main, par) != 0) {
			atomic_fetch_sub(&par->running, n - started);
			eng_err e;
			eng_fail(&e, ENG_EIO, "cannot start worker threads");
			record(par, ENG_EIO, &e);
			break;
		}
	}
	pthread_mutex_lock(&mu);
	while (atomic_load(&par->running) > 0) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 200 * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&cv, &mu, &until);
		if (run && run->progress && atomic_load(&par->running) > 0) {
			pthread_mutex_unlock(&mu);
			run->progress(run->progress_ctx, atomic_load(&par->done_bytes), par->total_bytes);
			pthread_mutex_lock(&mu);
		}
	}
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	free(tids);
	if (run && run->progress)
		run->progress(run->progress_ctx, atomic_load(&par->done_bytes), par->total_bytes);
	int rc = par->status;
	if (rc == ENG_OK && run && run->cancel && *run->cancel)
		rc = eng_fail(&par->err, ENG_ECANCEL, "cancelled");
	if (rc && err)
		*err = par->err;
	par->mu = NULL;
	par->cv = NULL;
	return rc;
}

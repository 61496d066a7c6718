/* backend.c — the call layer over a backend's ops: retries of passing
 * faults, spools, whole-object reads, listings and the store lock. */
#include "backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend_remote.h"
#include "err.h"
#include "lease.h"
#include "spool.h"
#include "store.h"

#define RETRY_DEFAULT 8
#define RETRY_FIRST_MS 100
#define RETRY_CAP_MS 8000

static int retry_limit(void)
{
	const char *v = getenv("LIFEBOAT_RETRIES");
	int n = v ? atoi(v) : 0;
	return n > 0 && n <= 100 ? n : RETRY_DEFAULT;
}

/* Sleeps before attempt number `attempt` (1 = the first retry), with
 * jitter; false when the operation was cancelled meanwhile. */
static bool backoff(eng_backend *b, int attempt, unsigned *seed)
{
	long ms = RETRY_FIRST_MS;
	for (int i = 1; i < attempt && ms < RETRY_CAP_MS; i++)
		ms *= 2;
	if (ms > RETRY_CAP_MS)
		ms = RETRY_CAP_MS;
	ms = ms / 2 + (long)(rand_r(seed) % (unsigned)(ms / 2 + 1));
	for (long slept = 0; slept < ms; slept += 20) {
		if (b->cancel && *b->cancel)
			return false;
		struct timespec ts = { 0, 20 * 1000000L };
		nanosleep(&ts, NULL);
	}
	return true;
}

/* The error after the last attempt, keeping the last failure's words. */
static int gave_up(eng_backend *b, const char *what, int attempts, eng_err *err)
{
	char last[sizeof(err->msg)] = "";
	if (err)
		snprintf(last, sizeof(last), "%s", err->msg);
	return eng_fail(err, ENG_EIO, "store %s: gave up on %s after %d attempts: %s", b->where, what, attempts, last);
}

/* Runs one op until it succeeds, fails for good, or the attempts run out. */
#define WITH_RETRIES(b, err, what, call)                                                                  \
	do {                                                                                              \
		unsigned seed_ = (unsigned)eng_now_us() ^ (unsigned)(uintptr_t)&seed_;                    \
		int limit_ = retry_limit(), rc_;                                                          \
		for (int attempt_ = 1;; attempt_++) {                                                     \
			rc_ = (call);                                                                     \
			if (rc_ != ENG_EAGAIN)                                                            \
				return rc_;                                                               \
			if (attempt_ >= limit_)                                                           \
				return gave_up((b), (what), attempt_, (err));                             \
			if (!backoff((b), attempt_, &seed_))                                               \
				return eng_fail(err, ENG_ECANCEL, "interrupted");                         \
		}                                                                                         \
	} while (0)

/* Writes stop once the store's lease is lost (not renewed in time: another
 * host may have taken the store over); a write that failed meanwhile says so. */
static int lease_lost(eng_backend *b, const char *name, eng_err *err)
{
	return eng_fail(err, ENG_EIO, "store %s: this command's lock lease expired or was taken over (it was stopped or "
			"cut off longer than the lease lasts): stopping before writing %s", b->where, name);
}

static int put_retried(eng_backend *b, const char *name, const void *data, size_t len, eng_err *err)
{
	WITH_RETRIES(b, err, name, b->ops->put(b, name, data, len, err));
}

int eng_be_put(eng_backend *b, const char *name, const void *data, size_t len, eng_err *err)
{
	bool lease_name = !strncmp(name, "locks/", 6);
	if (!lease_name && eng_lease_lost(b))
		return lease_lost(b, name, err);
	int rc = put_retried(b, name, data, len, err);
	return rc && !lease_name && eng_lease_lost(b) ? lease_lost(b, name, err) : rc;
}

int eng_be_get(eng_backend *b, const char *name, uint64_t off, void *buf, size_t len, eng_err *err)
{
	WITH_RETRIES(b, err, name, b->ops->get(b, name, off, buf, len, err));
}

int eng_be_stat(eng_backend *b, const char *name, uint64_t *size, eng_err *err)
{
	WITH_RETRIES(b, err, name, b->ops->stat(b, name, size, err));
}

int eng_be_remove(eng_backend *b, const char *name, eng_err *err)
{
	WITH_RETRIES(b, err, name, b->ops->remove(b, name, err));
}

/* A listing is gathered whole before the caller sees it, so a retried
 * listing never shows an object twice. */
struct listed {
	char **names;
	uint64_t *sizes;
	size_t n, cap;
};

static int gather(void *ctx, const char *name, uint64_t size)
{
	struct listed *l = ctx;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		char **nv = realloc(l->names, cap * sizeof(*nv));
		if (nv)
			l->names = nv;
		uint64_t *sv = nv ? realloc(l->sizes, cap * sizeof(*sv)) : NULL;
		if (!sv)
			return ENG_ENOMEM;
		l->sizes = sv;
		l->cap = cap;
	}
	if (!(l->names[l->n] = strdup(name)))
		return ENG_ENOMEM;
	l->sizes[l->n++] = size;
	return 0;
}

static void listed_free(struct listed *l)
{
	eng_names_free(l->names, l->n);
	free(l->sizes);
	memset(l, 0, sizeof(*l));
}

static int list_once(eng_backend *b, const char *prefix, struct listed *l, eng_err *err)
{
	listed_free(l);
	int rc = b->ops->list(b, prefix, gather, l, err);
	if (rc == ENG_ENOMEM)
		rc = eng_fail(err, ENG_ENOMEM, "out of memory listing %s", prefix);
	return rc;
}

static int list_retried(eng_backend *b, const char *prefix, struct listed *l, eng_err *err)
{
	WITH_RETRIES(b, err, prefix, list_once(b, prefix, l, err));
}

int eng_be_list(eng_backend *b, const char *prefix, eng_list_fn fn, void *ctx, eng_err *err)
{
	struct listed l = { 0 };
	int rc = list_retried(b, prefix, &l, err);
	for (size_t i = 0; !rc && i < l.n; i++)
		rc = fn(ctx, l.names[i], l.sizes[i]);
	listed_free(&l);
	return rc;
}

int eng_be_names_sizes(eng_backend *b, const char *prefix, char ***names, uint64_t **sizes, size_t *n, eng_err *err)
{
	struct listed l = { 0 };
	int rc = list_retried(b, prefix, &l, err);
	if (rc) {
		listed_free(&l);
		return rc;
	}
	if (sizes)
		*sizes = l.sizes;
	else
		free(l.sizes);
	*names = l.names;
	*n = l.n;
	return ENG_OK;
}

int eng_be_names(eng_backend *b, const char *prefix, char ***names, size_t *n, eng_err *err)
{
	return eng_be_names_sizes(b, prefix, names, NULL, n, err);
}

void eng_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int eng_be_get_sized(eng_backend *b, const char *name, uint64_t size, size_t max, uint8_t **data, eng_err *err)
{
	if (size > max)
		return eng_fail(err, ENG_ECORRUPT, "%s in store %s is too large (%llu bytes)", name, b->where,
				(unsigned long long)size);
	uint8_t *p = malloc(size ? size : 1);
	if (!p)
		return eng_fail(err, ENG_ENOMEM, "out of memory reading %s", name);
	int rc = eng_be_get(b, name, 0, p, size, err);
	if (rc) {
		free(p);
		return rc;
	}
	*data = p;
	return ENG_OK;
}

int eng_be_get_all(eng_backend *b, const char *name, size_t max, uint8_t **data, size_t *len, eng_err *err)
{
	uint64_t size;
	int rc = eng_be_stat(b, name, &size, err);
	if (!rc)
		rc = eng_be_get_sized(b, name, size, max, data, err);
	if (!rc)
		*len = (size_t)size;
	return rc;
}

int eng_be_spool_open(eng_backend *b, eng_spool *sp, eng_err *err)
{
	sp->fd = -1;
	if (b->ops->spool_open)
		return b->ops->spool_open(b, sp, err);
	return eng_spool_create(b, sp, err);
}

static int put_spool_file(eng_backend *b, eng_spool *sp, const char *name, uint64_t len, eng_err *err)
{
	WITH_RETRIES(b, err, name, b->ops->put_file(b, name, sp->fd, len, err));
}

int eng_be_spool_publish(eng_backend *b, eng_spool *sp, const char *name, eng_err *err)
{
	if (eng_lease_lost(b)) {
		eng_be_spool_abort(b, sp);
		return lease_lost(b, name, err);
	}
	if (b->ops->spool_publish)
		return b->ops->spool_publish(b, sp, name, err);
	off_t len = lseek(sp->fd, 0, SEEK_END);
	int rc = len < 0 ? eng_fail_errno(err, "cannot read spool %s", sp->path)
			 : put_spool_file(b, sp, name, (uint64_t)len, err);
	eng_be_spool_abort(b, sp);
	return rc && eng_lease_lost(b) ? lease_lost(b, name, err) : rc;
}

void eng_be_spool_abort(eng_backend *b, eng_spool *sp)
{
	(void)b;
	if (sp->fd >= 0)
		close(sp->fd);
	if (sp->path[0])
		unlink(sp->path);
	sp->fd = -1;
	sp->path[0] = 0;
}

int eng_be_lock(eng_backend *b, bool exclusive, const char *op, eng_err *err)
{
	if (b->ops->lock)
		return b->ops->lock(b, exclusive, err);
	return eng_lease_take(b, exclusive, op, err);
}

int eng_be_clean(eng_backend *b, uint64_t *removed, eng_err *err)
{
	*removed = 0;
	int rc = eng_spool_clean(b, removed, err);
	if (!rc && b->ops->clean)
		rc = b->ops->clean(b, removed, err);
	return rc;
}

void eng_backend_close(eng_backend *b)
{
	if (!b)
		return;
	eng_lease_release(b);
	free(b->spool_dir);
	b->spool_dir = NULL;
	pthread_mutex_destroy(&b->spool_mu);
	b->ops->close(b);
}

int eng_backend_open(const char *url, bool create, eng_backend **out, eng_err *err)
{
	eng_url u;
	eng_backend *b = NULL;
	int rc = eng_url_parse(url, &u, err);
	if (rc)
		return rc;
	if (!strcmp(u.scheme, "file"))
		rc = eng_local_open(&u, create, &b, err);
	else if (!strcmp(u.scheme, "s3"))
		rc = eng_s3_open(&u, &b, err);
	else if (!strcmp(u.scheme, "az"))
		rc = eng_az_open(&u, &b, err);
	else
		rc = eng_sftp_open(&u, &b, err);
	if (!rc)
		pthread_mutex_init(&b->spool_mu, NULL);
	if (!rc && create) {
		rc = b->ops->create(b, err);
		if (rc) {
			eng_backend_close(b);
			b = NULL;
		}
	}
	if (!rc)
		*out = b;
	return rc;
}

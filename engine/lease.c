/* lease.c — store locks as lease objects. See lease.h. */
#include "lease.h"

#include <cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bytes.h"
#include "crypto.h"
#include "err.h"

#define LEASE_DEFAULT_SECONDS 120

struct eng_lease {
	eng_backend *b;
	char base[160];   /* locks/x-HOST-PID-RANDOM: the holder */
	int64_t expires;  /* of the lease as last written */
	char name[180];   /* base-GENERATION: the object now */
	unsigned gen;
	char op[32];
	bool exclusive;
	long ttl;
	int64_t since;
	pthread_t refresher;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping, started, lost;
};

static long lease_ttl(void)
{
	const char *v = getenv("LIFEBOAT_LEASE_SECONDS");
	long n = v ? atol(v) : 0;
	return n >= 3 && n <= 86400 ? n : LEASE_DEFAULT_SECONDS;
}

static int put_lease(struct eng_lease *l, eng_err *err)
{
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "mode", l->exclusive ? "exclusive" : "shared");
	cJSON_AddStringToObject(o, "host", host);
	cJSON_AddNumberToObject(o, "pid", (double)getpid());
	cJSON_AddStringToObject(o, "op", l->op);
	cJSON_AddNumberToObject(o, "since", (double)l->since);
	int64_t expires = time(NULL) + l->ttl;
	cJSON_AddNumberToObject(o, "expires", (double)expires);
	char *text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!text)
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	/* each renewal is a new object, and the old one goes after it: no
	 * backend has to overwrite an object (SFTP cannot), and at every moment
	 * one of them is there */
	char old[sizeof(l->name)];
	snprintf(old, sizeof(old), "%s", l->name);
	snprintf(l->name, sizeof(l->name), "%s-%06u", l->base, ++l->gen % 1000000);
	int rc = eng_be_put(l->b, l->name, text, strlen(text), err);
	free(text);
	if (rc) {
		snprintf(l->name, sizeof(l->name), "%s", old);
		return rc;
	}
	pthread_mutex_lock(&l->mu); /* eng_lease_lost reads it from the writers' threads */
	l->expires = expires;
	pthread_mutex_unlock(&l->mu);
	eng_err e;
	if (old[0])
		eng_be_remove(l->b, old, &e);
	return ENG_OK;
}

static void *refresh_main(void *arg)
{
	struct eng_lease *l = arg;
	pthread_mutex_lock(&l->mu);
	while (!l->stopping) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += l->ttl / 3;
		pthread_cond_timedwait(&l->cv, &l->mu, &until);
		if (l->stopping)
			break;
		pthread_mutex_unlock(&l->mu);
		/* a holder that was stopped past its lease's expiry (a suspended
		 * machine, a stopped process) may have been taken over meanwhile:
		 * it must not go on as if it held the store */
		eng_err e;
		uint64_t size;
		int rc = time(NULL) >= l->expires ? ENG_EBUSY : ENG_OK;
		if (!rc && eng_be_stat(l->b, l->name, &size, &e) == ENG_ENOTFOUND)
			rc = ENG_EBUSY; /* removed by a taker */
		if (!rc)
			rc = put_lease(l, &e);
		pthread_mutex_lock(&l->mu);
		if (rc)
			l->lost = true;
		if (l->lost)
			break;
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* Who holds another lease, read from its object; false when it is gone. */
struct holder {
	bool exclusive;
	char host[128], op[32];
	long pid;
	int64_t since, expires;
};

static bool read_holder(eng_backend *b, const char *name, struct holder *h, eng_err *err)
{
	uint8_t *text = NULL;
	size_t len;
	memset(h, 0, sizeof(*h));
	const char *base = strrchr(name, '/');
	h->exclusive = base && base[1] == 'x';
	if (eng_be_get_all(b, name, 4096, &text, &len, err) != ENG_OK)
		return false;
	cJSON *o = cJSON_ParseWithLength((const char *)text, len);
	free(text);
	const cJSON *v;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "host")) && cJSON_IsString(v))
		snprintf(h->host, sizeof(h->host), "%s", v->valuestring);
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "op")) && cJSON_IsString(v))
		snprintf(h->op, sizeof(h->op), "%s", v->valuestring);
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "pid")) && cJSON_IsNumber(v) && v->valuedouble > 0 &&
	    v->valuedouble < 1e9)
		h->pid = (long)v->valuedouble;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "since")) && cJSON_IsNumber(v) && v->valuedouble > 0 &&
	    v->valuedouble < 1e12)
		h->since = (int64_t)v->valuedouble;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "expires")) && cJSON_IsNumber(v) && v->valuedouble > 0 &&
	    v->valuedouble < 1e12)
		h->expires = (int64_t)v->valuedouble;
	cJSON_Delete(o);
	return true; /* a lease we cannot read expires at 0: stale */
}

static void note(eng_backend *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(eng_backend *b, const char *fmt, ...)
{
	if (!b->note)
		return;
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	b->note(b->note_ctx, line);
}

/* Checks every other lease against ours (own: the prefix of our lease's
 * names); own is NULL for a reader without one. */
static int check_once(eng_backend *b, bool exclusive, const char *own, int *vanished, eng_err *err)
{
	char self[256] = "";
	gethostname(self, sizeof(self) - 1);
	char **names = NULL;
	size_t n = 0;
	int rc = eng_be_names(b, "locks", &names, &n, err);
	for (size_t i = 0; !rc && i < n; i++) {
		const char *base = strrchr(names[i], '/');
		base = base ? base + 1 : names[i];
		if ((own && !strncmp(names[i], own, strlen(own))) || (base[0] != 'x' && base[0] != 's') || base[1] != '-')
			continue; /* ours, or not a lease (the local store.lock) */
		if (!exclusive && base[0] != 'x')
			continue; /* readers and writers share */
		struct holder h;
		eng_err e;
		if (!read_holder(b, names[i], &h, &e)) {
			(*vanished)++; /* released, or renewed under its next name: look again */
			continue;
		}
		int64_t now = time(NULL);
		bool dead = !strcmp(h.host, self) && h.pid > 0 && kill((pid_t)h.pid, 0) != 0 && errno == ESRCH;
		if (h.expires < now || dead) {
			if (exclusive) {
				if (dead)
					note(b, "took over the lease of %s (pid %ld on this host), whose process is gone",
					     h.op[0] ? h.op : "a command", h.pid);
				else
					note(b, "took over the stale lease of %s on %s (pid %ld), expired %llds ago",
					     h.op[0] ? h.op : "a command", h.host[0] ? h.host : "an unknown host", h.pid,
					     (long long)(now - h.expires));
				rc = eng_be_remove(b, names[i], err);
			}
			continue;
		}
		rc = eng_fail(err, ENG_EBUSY, "store %s is locked by %s on %s (pid %ld, %s lease, renewed until %llds from now)%s",
			      b->where, h.op[0] ? h.op : "a command", h.host[0] ? h.host : "an unknown host", h.pid,
			      h.exclusive ? "an exclusive" : "a shared", (long long)(h.expires - now),
			      exclusive ? ": it needs the store alone; try again" : "");
	}
	eng_names_free(names, n);
	return rc;
}

static int check_others(eng_backend *b, bool exclusive, const char *own, eng_err *err)
{
	int rc, vanished = 0;
	for (int round = 0; round < 5; round++) {
		vanished = 0;
		rc = check_once(b, exclusive, own, &vanished, err);
		if (rc || !vanished)
			break;
	}
	return rc;
}

int eng_lease_take(eng_backend *b, bool exclusive, const char *op, eng_err *err)
{
	if (b->lease)
		return ENG_OK;
	struct eng_lease *l = calloc(1, sizeof(*l));
	if (!l)
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	char hex[13], host[64] = "";
	gethostname(host, sizeof(host) - 1);
	for (char *p = host; *p; p++)
		if (*p == '/' || *p < 0x21 || *p > 0x7e)
			*p = '_';
	int rc = eng_random_hex(hex, 6, err);
	if (rc) {
		free(l);
		return rc;
	}
	snprintf(l->base, sizeof(l->base), "locks/%c-%s-%ld-%s", exclusive ? 'x' : 's', host, (long)getpid(), hex);
	snprintf(l->op, sizeof(l->op), "%s", op ? op : "a command");
	l->b = b;
	l->exclusive = exclusive;
	l->ttl = lease_ttl();
	l->since = time(NULL);
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	eng_err put_err;
	rc = put_lease(l, &put_err);
	if (rc && !exclusive && (rc == ENG_EKEY || rc == ENG_EIO)) {
		/* a store we may not write: read it, unless a prune holds it */
		free(l);
		return check_others(b, false, NULL, err);
	}
	if (rc) {
		if (err)
			*err = put_err;
		free(l);
		return rc;
	}
	b->lease = l;
	rc = check_others(b, exclusive, l->base, err);
	if (!rc) {
		l->started = pthread_create(&l->refresher, NULL, refresh_main, l) == 0;
		if (!l->started)
			rc = eng_fail(err, ENG_ENOMEM, "cannot start the lease refresher");
	}
	if (rc)
		eng_lease_release(b);
	return rc;
}

bool eng_lease_lost(const eng_backend *b)
{
	if (!b->lease)
		return false;
	pthread_mutex_lock(&b->lease->mu);
	bool lost = b->lease->lost || (b->lease->expires && time(NULL) >= b->lease->expires);
	pthread_mutex_unlock(&b->lease->mu);
	return lost;
}

void eng_lease_release(eng_backend *b)
{
	struct eng_lease *l = b->lease;
	if (!l)
		return;
	if (l->started) {
		pthread_mutex_lock(&l->mu);
		l->stopping = true;
		pthread_cond_signal(&l->cv);
		pthread_mutex_unlock(&l->mu);
		pthread_join(l->refresher, NULL);
	}
	b->lease = NULL;
	eng_err e;
	const volatile int *cancel = b->cancel;
	b->cancel = NULL; /* the lease goes even after Ctrl-C */
	eng_be_remove(b, l->name, &e);
	b->cancel = cancel;
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	free(l);
}

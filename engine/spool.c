/* spool.c — private local spool files for remote stores. See spool.h. */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytes.h"
#include "crypto.h"
#include "err.h"

/* The user's spool folder: created 0700, and refused when it is not a
 * folder of ours (another user could have put a link there in /tmp). */
static int make_spool_dir(eng_backend *b, eng_err *err);

static int spool_dir(eng_backend *b, eng_err *err)
{
	pthread_mutex_lock(&b->spool_mu);
	int rc = b->spool_dir ? ENG_OK : make_spool_dir(b, err);
	pthread_mutex_unlock(&b->spool_mu);
	return rc;
}

static int make_spool_dir(eng_backend *b, eng_err *err)
{
	const char *base = getenv("LIFEBOAT_SPOOL_DIR");
	char path[PATH_MAX];
	if (base && *base)
		snprintf(path, sizeof(path), "%s", base);
	else
		snprintf(path, sizeof(path), "%s/lifeboat-spool-%u", getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
			 (unsigned)getuid());
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return eng_fail_errno(err, "cannot create the spool folder %s", path);
	struct stat st;
	if (lstat(path, &st) != 0)
		return eng_fail_errno(err, "cannot use the spool folder %s", path);
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077))
		return eng_fail(err, ENG_EINPUT, "spool folder %s is not a private folder of this user (mode 0700)", path);
	if (!(b->spool_dir = strdup(path)))
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	return ENG_OK;
}

int eng_spool_create(eng_backend *b, eng_spool *sp, eng_err *err)
{
	char hex[17];
	sp->fd = -1;
	sp->path[0] = 0;
	int rc = spool_dir(b, err);
	if (!rc)
		rc = eng_random_hex(hex, 8, err);
	if (rc)
		return rc;
	if (snprintf(sp->path, sizeof(sp->path), "%s/%ld-%s.spool", b->spool_dir, (long)getpid(), hex) >=
	    (int)sizeof(sp->path))
		return eng_fail(err, ENG_EINPUT, "spool path too long");
	sp->fd = open(sp->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (sp->fd < 0) {
		rc = eng_fail_errno(err, "cannot create spool file %s", sp->path);
		sp->path[0] = 0;
		return rc;
	}
	return ENG_OK;
}

int eng_spool_clean(eng_backend *b, uint64_t *removed, eng_err *err)
{
	if (b->ops->spool_open)
		return ENG_OK; /* the backend spools in the store itself */
	int rc = spool_dir(b, err);
	if (rc)
		return rc;
	DIR *d = opendir(b->spool_dir);
	if (!d)
		return eng_fail_errno(err, "cannot read the spool folder %s", b->spool_dir);
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (end == e->d_name || *end != '-' || !strstr(e->d_name, ".spool"))
			continue;
		if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM))
			continue; /* its process still runs */
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			(*removed)++;
	}
	closedir(d);
	return ENG_OK;
}

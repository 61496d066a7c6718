/* backend_local.c — a store in a local directory. Objects are files under
 * the root; puts go through root/tmp/ and rename(2) with fsyncs so a crash
 * leaves either the old state or the new object, never a torn one. Reads
 * keep a small cache of open descriptors because restore reads many small
 * ranges of the same pack files. */
#include "backend_remote.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytes.h"
#include "crypto.h"
#include "err.h"
#include "fsutil.h"

#define FD_SLOTS 256

struct fd_slot {
	char *name;
	int fd;
};

typedef struct local_backend {
	eng_backend base;
	char *root;
	int lock_fd;
	bool lock_writable;
	pthread_mutex_t mu;
	struct fd_slot fds[FD_SLOTS];
	int *retired;
	size_t n_retired, cap_retired;
} local_backend;

static int local_path(local_backend *b, const char *name, char *out, eng_err *err)
{
	if (snprintf(out, PATH_MAX, "%s/%s", b->root, name) >= PATH_MAX)
		return eng_fail(err, ENG_EINPUT, "path too long in store %s: %s", b->root, name);
	return ENG_OK;
}

static int tmp_name(local_backend *b, const char *tag, char *out, eng_err *err)
{
	char hex[25];
	int rc = eng_random_hex(hex, 12, err);
	if (rc)
		return rc;
	snprintf(out, PATH_MAX, "%s/tmp/%s-%s.tmp", b->root, tag, hex);
	return ENG_OK;
}

static int publish(local_backend *b, const char *tmp, const char *name, eng_err *err)
{
	char path[PATH_MAX];
	int rc = local_path(b, name, path, err);
	if (rc)
		return rc;
	if (rename(tmp, path) != 0) {
		char *slash = strrchr(path, '/');
		*slash = 0;
		if (errno != ENOENT || eng_mkdirs(path, 0755) != 0)
			return eng_fail_errno(err, "store %s: cannot create %s", b->root, name);
		*slash = '/';
		if (rename(tmp, path) != 0)
			return eng_fail_errno(err, "store %s: cannot publish %s", b->root, name);
	}
	if (eng_fsync_dir_of(path) != 0)
		return eng_fail_errno(err, "store %s: cannot sync the folder of %s", b->root, name);
	return ENG_OK;
}

static int local_put(eng_backend *base, const char *name, const void *data, size_t len, eng_err *err)
{
	local_backend *b = (local_backend *)base;
	char tmp[PATH_MAX];
	int rc = tmp_name(b, "obj", tmp, err);
	if (rc)
		return rc;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return eng_fail_errno(err, "store %s: cannot write %s", b->root, name);
	if (eng_write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		rc = eng_fail_errno(err, "store %s: cannot write %s", b->root, name);
		close(fd);
		unlink(tmp);
		return rc;
	}
	close(fd);
	rc = publish(b, tmp, name, err);
	if (rc)
		unlink(tmp);
	return rc;
}

/* A spool file in the store's tmp/, published by renaming it. */
static int local_spool_open(eng_backend *base, eng_spool *sp, eng_err *err)
{
	local_backend *b = (local_backend *)base;
	int rc = tmp_name(b, "pack", sp->path, err);
	if (rc)
		return rc;
	sp->fd = open(sp->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (sp->fd < 0) {
		rc = eng_fail_errno(err, "store %s: cannot create %s", b->root, sp->path);
		sp->path[0] = 0;
	}
	return rc;
}

static int local_spool_publish(eng_backend *base, eng_spool *sp, const char *name, eng_err *err)
{
	close(sp->fd);
	sp->fd = -1;
	int rc = publish((local_backend *)base, sp->path, name, err);
	if (rc)
		unlink(sp->path);
	sp->path[0] = 0;
	return rc;
}

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/* Returns a cached descriptor for name (opening it if needed), or -1. */
static int cached_fd(local_backend *b, const char *name, eng_err *err)
{
	struct fd_slot *slot = &b->fds[name_hash(name) % FD_SLOTS];
	pthread_mutex_lock(&b->mu);
	if (slot->name && strcmp(slot->name, name) == 0) {
		int fd = slot->fd;
		pthread_mutex_unlock(&b->mu);
		return fd;
	}
	char path[PATH_MAX];
	int fd = -1;
	if (local_path(b, name, path, err) == ENG_OK) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT)
				eng_fail(err, ENG_ENOTFOUND, "%s is missing from store %s", name, b->root);
			else
				eng_fail_errno(err, "store %s: cannot open %s", b->root, name);
		} else if (slot->name) {
			/* Another thread may still read through the old descriptor:
			 * retire it, closing it only when the store closes. */
			if (b->n_retired == b->cap_retired) {
				size_t cap = b->cap_retired ? 2 * b->cap_retired : 64;
				int *p = realloc(b->retired, cap * sizeof(*p));
				if (p) {
					b->retired = p;
					b->cap_retired = cap;
				}
			}
			if (b->n_retired < b->cap_retired)
				b->retired[b->n_retired++] = slot->fd;
			else
				close(slot->fd);
			free(slot->name);
			slot->name = NULL;
		}
		if (fd >= 0) {
			slot->name = strdup(name);
			slot->fd = fd;
		}
	}
	pthread_mutex_unlock(&b->mu);
	return fd;
}

static int local_get(eng_backend *base, const char *name, uint64_t off, void *buf, size_t len, eng_err *err)
{
	local_backend *b = (local_backend *)base;
	int fd = cached_fd(b, name, err);
	if (fd < 0)
		return err ? err->status : ENG_EIO;
	ssize_t n = eng_pread_full(fd, buf, len, (off_t)off);
	if (n < 0)
		return eng_fail_errno(err, "store %s: cannot read %s", b->root, name);
	if ((size_t)n != len)
		return eng_fail(err, ENG_ECORRUPT, "%s in store %s is truncated (wanted %zu bytes at %llu)",
				name, b->root, len, (unsigned long long)off);
	return ENG_OK;
}

static int local_stat(eng_backend *base, const char *name, uint64_t *size, eng_err *err)
{
	local_backend *b = (local_backend *)base;
	char path[PATH_MAX];
	struct stat st;
	int rc = local_path(b, name, path, err);
	if (rc)
		return rc;
	if (stat(path, &st) != 0) {
		if (errno == ENOENT)
			return eng_fail(err, ENG_ENOTFOUND, "%s is missing from store %s", name, b->root);
		return eng_fail_errno(err, "store %s: cannot stat %s", b->root, name);
	}
	*size = (uint64_t)st.st_size;
	return ENG_OK;
}

static int list_dir(local_backend *b, char *rel, size_t rel_len, eng_list_fn fn, void *ctx, eng_err *err)
{
	char path[PATH_MAX];
	int rc = local_path(b, rel, path, err);
	if (rc)
		return rc;
	DIR *d = opendir(path);
	if (!d) {
		if (errno == ENOENT)
			return ENG_OK;
		return eng_fail_errno(err, "store %s: cannot list %s", b->root, rel);
	}
	struct dirent *e;
	rc = ENG_OK;
	while (rc == ENG_OK && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		size_t n = strlen(e->d_name);
		if (rel_len + 1 + n + 1 >= PATH_MAX)
			continue;
		rel[rel_len] = '/';
		memcpy(rel + rel_len + 1, e->d_name, n + 1);
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno != ENOENT)
				rc = eng_fail_errno(err, "store %s: cannot stat %s", b->root, rel);
		} else if (S_ISDIR(st.st_mode)) {
			rc = list_dir(b, rel, rel_len + 1 + n, fn, ctx, err);
		} else if (S_ISREG(st.st_mode)) {
			rc = fn(ctx, rel, (uint64_t)st.st_size);
		}
		rel[rel_len] = 0;
	}
	closedir(d);
	return rc;
}

static int local_list(eng_backend *base, const char *prefix, eng_list_fn fn, void *ctx, eng_err *err)
{
	char rel[PATH_MAX];
	size_t n = strlen(prefix);
	if (n >= PATH_MAX)
		return eng_fail(err, ENG_EINPUT, "prefix too long");
	memcpy(rel, prefix, n + 1);
	while (n && rel[n - 1] == '/')
		rel[--n] = 0;
	return list_dir((local_backend *)base, rel, n, fn, ctx, err);
}

static int local_remove(eng_backend *base, const char *name, eng_err *err)
{
	local_backend *b = (local_backend *)base;
	char path[PATH_MAX];
	int rc = local_path(b, name, path, err);
	if (rc)
		return rc;
	if (unlink(path) != 0 && errno != ENOENT)
		return eng_fail_errno(err, "store %s: cannot remove %s", b->root, name);
	return ENG_OK;
}

/* Opens locks/store.lock (making it, and its folder, when missing); -1 with errno. */
static int open_lock(local_backend *b, bool writable)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/locks/store.lock", b->root);
	int fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	char *slash = strrchr(path, '/');
	*slash = 0;
	int made = eng_mkdirs(path, 0755);
	*slash = '/';
	return made == 0 ? open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644) : -1;
}

static int local_lock(eng_backend *base, bool exclusive, eng_err *err)
{
	local_backend *b = (local_backend *)base;
	/* A shared lock needs no write access, so a read-only store (a
	 * write-protected mount, a snapshot) is read under its lock as it is.
	 * The exclusive lock is taken through a writable descriptor, as flock
	 * emulated over NFS requires. */
	if (b->lock_fd >= 0 && exclusive && !b->lock_writable) {
		close(b->lock_fd);
		b->lock_fd = -1;
	}
	if (b->lock_fd < 0) {
		b->lock_fd = open_lock(b, exclusive);
		b->lock_writable = exclusive;
		/* No lock file, and none can be made on a read-only file system:
		 * nobody can change the store, so readers need no lock. */
		if (b->lock_fd < 0 && errno == EROFS && !exclusive)
			return ENG_OK;
		if (b->lock_fd < 0)
			return eng_fail_errno(err, "store %s: cannot open its lock", b->root);
	}
	int op = exclusive ? LOCK_EX : LOCK_SH;
	if (flock(b->lock_fd, op | LOCK_NB) == 0)
		return ENG_OK;
	if (errno != EWOULDBLOCK)
		return eng_fail_errno(err, "store %s: cannot lock", b->root);
	if (exclusive)
		return eng_fail(err, ENG_EBUSY, "store %s is in use (a sync, restore or verify runs): this needs it alone; "
				"try again", b->root);
	return eng_fail(err, ENG_EBUSY, "store %s is locked by a prune or repair; try again", b->root);
}

static void local_close(eng_backend *base)
{
	local_backend *b = (local_backend *)base;
	for (int i = 0; i < FD_SLOTS; i++) {
		if (b->fds[i].name) {
			close(b->fds[i].fd);
			free(b->fds[i].name);
		}
	}
	for (size_t i = 0; i < b->n_retired; i++)
		close(b->retired[i]);
	free(b->retired);
	if (b->lock_fd >= 0)
		close(b->lock_fd);
	pthread_mutex_destroy(&b->mu);
	free(b->root);
	free(b);
}

static int local_create(eng_backend *base, eng_err *err)
{
	local_backend *b = (local_backend *)base;
	static const char *dirs[] = { "", "/packs", "/index", "/points", "/locks", "/tmp" };
	char p[PATH_MAX];
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", b->root, dirs[i]);
		if (eng_mkdirs(p, 0755) != 0)
			return eng_fail_errno(err, "cannot create %s", p);
	}
	return ENG_OK;
}

/* Removes what interrupted writes left in tmp/ (under the exclusive lock,
 * so nothing in it belongs to a running command). */
static int local_clean(eng_backend *base, uint64_t *removed, eng_err *err)
{
	local_backend *b = (local_backend *)base;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/tmp", b->root);
	DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT ? ENG_OK : eng_fail_errno(err, "store %s: cannot read tmp/", b->root);
	struct dirent *e;
	int rc = ENG_OK;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			(*removed)++;
		else if (errno != ENOENT)
			rc = eng_fail_errno(err, "store %s: cannot remove tmp/%s", b->root, e->d_name);
	}
	closedir(d);
	return rc;
}

static const struct eng_backend_ops local_ops = {
	.kind = "local",
	.create = local_create,
	.put = local_put,
	.get = local_get,
	.stat = local_stat,
	.list = local_list,
	.remove = local_remove,
	.close = local_close,
	.spool_open = local_spool_open,
	.spool_publish = local_spool_publish,
	.lock = local_lock,
	.clean = local_clean,
};

int eng_local_open(const eng_url *u, bool create, eng_backend **out, eng_err *err)
{
	local_backend *b = calloc(1, sizeof(*b));
	if (!b || !(b->root = strdup(u->path))) {
		free(b);
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	}
	b->base.ops = &local_ops;
	b->base.where = b->root;
	b->lock_fd = -1;
	pthread_mutex_init(&b->mu, NULL);
	if (!create) {
		struct stat st;
		int rc = ENG_OK;
		if (stat(b->root, &st) != 0)
			rc = errno == ENOENT ? eng_fail(err, ENG_EFORMAT, "%s is not a store (no such folder)", b->root)
					     : eng_fail_errno(err, "cannot open store %s", b->root);
		else if (!S_ISDIR(st.st_mode))
			rc = eng_fail(err, ENG_EFORMAT, "%s is not a store (not a folder)", b->root);
		if (rc) {
			local_close(&b->base);
			return rc;
		}
	}
	*out = &b->base;
	return ENG_OK;
}

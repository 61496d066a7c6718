/* beneath.c — opening paths beneath a folder without ever leaving it. */
#include "beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

/* fchmodat2 (Linux 6.6) changes a mode through an O_PATH fd; C library
 * headers may not name it yet. 452 on these architectures. */
#if !defined(SYS_fchmodat2) && (defined(__x86_64__) || defined(__aarch64__) || defined(__riscv))
#define SYS_fchmodat2 452
#endif

#ifdef ENG_BENEATH_FALLBACK
#undef SYS_openat2
#undef SYS_fchmodat2
#endif

/* Set once the kernel says it lacks a call; then only the fallback runs. */
#ifdef SYS_openat2
static atomic_int no_openat2;
#endif
#ifdef SYS_fchmodat2
static atomic_int no_fchmodat2;
#endif

/* The fallback: one component at a time, each opened O_PATH | O_DIRECTORY
 * | O_NOFOLLOW from the last, so a symlink anywhere stops the walk. */
static int open_walk(int rootfd, const char *path, int flags, mode_t mode)
{
	if (path[0] == '/') {
		errno = EXDEV;
		return -1;
	}
	int fd = rootfd;
	const char *p = path;
	const char *slash;
	char comp[NAME_MAX + 1];
	while ((slash = strchr(p, '/'))) {
		size_t n = (size_t)(slash - p);
		int e = 0;
		if (n > NAME_MAX)
			e = ENAMETOOLONG;
		else if (n == 2 && p[0] == '.' && p[1] == '.')
			e = EXDEV; /* what RESOLVE_BENEATH says; the restore never asks for it */
		int next = -1;
		if (!e) {
			memcpy(comp, p, n);
			comp[n] = 0;
			next = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			e = errno;
		}
		if (fd != rootfd)
			close(fd);
		if (next < 0) {
			errno = e;
			return -1;
		}
		fd = next;
		p = slash + 1;
	}
	if (!strcmp(p, "..")) {
		if (fd != rootfd)
			close(fd);
		errno = EXDEV;
		return -1;
	}
	int r = openat(fd, *p ? p : ".", flags | O_NOFOLLOW | O_CLOEXEC, mode);
	int e = errno;
	if (fd != rootfd)
		close(fd);
	errno = e;
	return r;
}

int eng_open_beneath(int rootfd, const char *path, int flags, mode_t mode)
{
#ifdef SYS_openat2
	if (!atomic_load_explicit(&no_openat2, memory_order_relaxed)) {
		struct open_how how = {
			.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
			.mode = flags & (O_CREAT | O_TMPFILE) ? mode : 0,
			.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
		};
		/* EAGAIN: a rename somewhere on the system raced the lookup, and the
		 * kernel could not prove it stayed beneath; ask again, then walk. */
		for (int tries = 0; tries < 8; tries++) {
			long fd = syscall(SYS_openat2, rootfd, *path ? path : ".", &how, sizeof(how));
			if (fd >= 0)
				return (int)fd;
			if (errno == ENOSYS)
				atomic_store(&no_openat2, 1);
			if (errno != EAGAIN)
				break;
		}
		/* Only a kernel without openat2 (or a filter refusing it) falls
		 * through; any other answer is the answer. */
		if (errno != ENOSYS && errno != EPERM && errno != EAGAIN)
			return -1;
	}
#endif
	return open_walk(rootfd, path, flags, mode);
}

void eng_parent_init(eng_parent *p)
{
	p->fd = -1;
	p->len = 0;
}

int eng_parent_open(eng_parent *p, int rootfd, const char *path, const char **name)
{
	const char *slash = strrchr(path, '/');
	*name = slash ? slash + 1 : path;
	if (!slash)
		return rootfd;
	size_t len = (size_t)(slash - path);
	if (p->fd >= 0 && p->len == len && !memcmp(p->dir, path, len))
		return p->fd;
	eng_parent_close(p);
	if (len >= sizeof(p->dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(p->dir, path, len);
	p->dir[len] = 0;
	int fd = eng_open_beneath(rootfd, p->dir, O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		return -1;
	p->fd = fd;
	p->len = len;
	return fd;
}

void eng_parent_close(eng_parent *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->len = 0;
}

int eng_fd_chown(int fd, uid_t uid, gid_t gid)
{
	return fchownat(fd, "", uid, gid, AT_EMPTY_PATH);
}

/* /proc/self/fd/N names the very file fd refers to (for a symlink, the
 * link itself): how a file open only by fd is changed on older kernels. */
static void proc_fd_path(int fd, char *buf, size_t size)
{
	snprintf(buf, size, "/proc/self/fd/%d", fd);
}

int eng_fd_chmod(int fd, mode_t mode)
{
#ifdef SYS_fchmodat2
	if (!atomic_load_explicit(&no_fchmodat2, memory_order_relaxed)) {
		if (syscall(SYS_fchmodat2, fd, "", mode, AT_EMPTY_PATH) == 0)
			return 0;
		if (errno == ENOSYS)
			atomic_store(&no_fchmodat2, 1);
		else if (errno != EPERM) /* EPERM: maybe a filter; /proc/self/fd answers */
			return -1;
	}
#endif
	char p[64];
	proc_fd_path(fd, p, sizeof(p));
	return chmod(p, mode);
}

int eng_fd_utimens(int fd, const struct timespec ts[2])
{
#ifndef ENG_BENEATH_FALLBACK
	if (utimensat(fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	/* older kernels refuse AT_EMPTY_PATH here */
	if (errno != EINVAL && errno != ENOENT)
		return -1;
#endif
	char p[64];
	proc_fd_path(fd, p, sizeof(p));
	return utimensat(AT_FDCWD, p, ts, 0);
}

/* fsutil.c — durable file system helpers. */
#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int eng_mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || *p == 0) {
			char c = *p;
			*p = 0;
			if (mkdir(buf, mode) == 0) {
				/* the new folder's name lives in its parent */
				if (eng_fsync_dir_of(buf) != 0)
					return -1;
			} else if (errno != EEXIST) {
				return -1;
			}
			*p = c;
			if (!c)
				break;
		}
	}
	return 0;
}

int eng_fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	size_t n = strlen(path);
	if (n >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, path, n + 1);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = 0;
	else if (slash)
		*slash = 0;
	else
		strcpy(dir, ".");
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

int eng_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int eng_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;
	while (len) {
		ssize_t n = pwrite(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t eng_pread_full(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, p + got, len - got, off + (off_t)got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Whether the entry name of dirfd is a work file or folder that no restore
 * holds (a restore locks it as soon as it is made) and that has not changed
 * for a minute (it is not one being made at this very moment). */
static bool abandoned(int dirfd, const char *name, bool *is_dir)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	bool stale = false;
	if (fd < 0)
		return false;
	if (fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) && time(NULL) - st.st_mtime > 60 &&
	    flock(fd, LOCK_EX | LOCK_NB) == 0) {
		stale = true;
		*is_dir = S_ISDIR(st.st_mode);
	}
	close(fd);
	return stale;
}

void eng_stale_restores(int dirfd, const char *base, void (*drop)(int dirfd, const char *name, bool is_dir))
{
	char prefix[NAME_MAX + 16];
	if (snprintf(prefix, sizeof(prefix), ".%s.lifeboat-", base) >= (int)sizeof(prefix))
		return;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct dirent *e;
	size_t n = strlen(prefix);
	while ((e = readdir(d))) {
		bool is_dir;
		if (!strncmp(e->d_name, prefix, n) && strlen(e->d_name) == n + 12 && abandoned(dirfd, e->d_name, &is_dir))
			drop(dirfd, e->d_name, is_dir);
	}
	closedir(d);
}

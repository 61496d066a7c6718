/* beneath.h — opening paths beneath a folder without ever leaving it.
 *
 * A tree restore works in a folder that other users may write to while it
 * runs (an app's data folder, on failback). Every path it opens there is
 * resolved from the folder's fd without following a symlink at any
 * component: openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), or, on a
 * kernel without openat2, a walk of O_NOFOLLOW | O_DIRECTORY opens. A
 * folder swapped for a symlink then makes the open fail (ELOOP, ENOTDIR)
 * instead of leading out. Metadata is set through fds, never by path; the
 * eng_fd_* calls also take O_PATH fds, for symlinks and special files,
 * which cannot be opened for writing.
 *
 * Built with -DENG_BENEATH_FALLBACK, only the calls of kernels before 5.6
 * are used (to test that path on a newer kernel). */
#ifndef ENG_BENEATH_H
#define ENG_BENEATH_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* Opens path (relative, names separated by '/') beneath rootfd, following
 * no symlink; O_NOFOLLOW and O_CLOEXEC are added to flags, "" is rootfd's
 * folder itself. Returns the fd, or -1 with errno (EXDEV for a path that
 * would leave rootfd's folder). */
int eng_open_beneath(int rootfd, const char *path, int flags, mode_t mode);

/* The folder of the last path asked for, kept open while the next paths
 * are in the same folder (one open per folder, not per file). */
typedef struct eng_parent {
	int fd; /* -1: none */
	size_t len;
	char dir[PATH_MAX];
} eng_parent;

void eng_parent_init(eng_parent *p);
/* The folder holding path, opened O_PATH beneath rootfd (always the same
 * rootfd for one eng_parent); *name is path's last component. Returns a
 * dirfd that p owns (rootfd itself for a name at the top), or -1 with errno. */
int eng_parent_open(eng_parent *p, int rootfd, const char *path, const char **name);
void eng_parent_close(eng_parent *p);

/* Owner, mode (not of a symlink) and times of what fd refers to; 0 or -1
 * with errno. */
int eng_fd_chown(int fd, uid_t uid, gid_t gid);
int eng_fd_chmod(int fd, mode_t mode);
int eng_fd_utimens(int fd, const struct timespec ts[2]);

#endif

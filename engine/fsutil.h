/* fsutil.h — small POSIX helpers with durable semantics. */
#ifndef ENG_FSUTIL_H
#define ENG_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* mkdir -p, durably: the parent of each folder it makes is fsynced. 0 or -1 with errno. */
int eng_mkdirs(const char *path, mode_t mode);
/* fsync the directory holding path (or path itself when is_dir). */
int eng_fsync_dir_of(const char *path);
/* write(2) all of buf; 0 or -1 with errno. */
int eng_write_all(int fd, const void *buf, size_t len);
int eng_pwrite_all(int fd, const void *buf, size_t len, off_t off);
/* pread(2) exactly len bytes; returns bytes read (short only at EOF) or -1. */
ssize_t eng_pread_full(int fd, void *buf, size_t len, off_t off);

/* A restore builds DEST under a work name ".BASE.lifeboat-RANDOM" beside
 * it, locked (flock) while the restore runs. Calls drop for each such entry
 * of dirfd that a killed restore left: not locked, unchanged for a minute. */
void eng_stale_restores(int dirfd, const char *base, void (*drop)(int dirfd, const char *name, bool is_dir));

#endif

/* tree_restore.c — writing a tree point back to a folder.
 *
 * The tree is rebuilt in a fresh private folder beside DEST and renamed to
 * DEST when complete. Directories are created first (walking the point),
 * then file contents are written on all cores, then hard links, symlinks
 * and special files, and last the directories' own metadata, deepest
 * first. Nothing the point says can write outside the new folder: names
 * are checked (no "", ".", "..", '/' or NUL; names in a folder strictly
 * increasing, so no duplicates), every file is created with O_EXCL and
 * O_NOFOLLOW, and symlinks are created only after everything that could
 * have been written through them.
 *
 * Nor can anyone changing the folder while the restore runs (an app user
 * writing in its data folder, swapping a folder for a symlink or a file for
 * a hard link) make it touch anything outside: the walk goes down through
 * dirfds, the later phases open every path beneath the root with no symlink
 * followed (beneath.h), check that what they opened is what they made (a
 * lone file, the expected type) and set metadata through that fd. Such a
 * race makes the restore fail, naming the path. A folder opened this way
 * can only end up elsewhere if someone with write access to it moved it,
 * who could change what it holds anyway. The final rename never replaces a
 * DEST created meanwhile. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "beneath.h"
#include "bytes.h"
#include "err.h"
#include "fetch.h"
#include "fsutil.h"
#include "parallel.h"
#include "stream.h"
#include "sync.h"


/* Something to create or finish after the walk; path is relative to the root. */
struct later {
	char *path;
	uint8_t type;
	uint32_t mode, uid, gid;
	int64_t mtime_ns;
	uint64_t size, rdev;
	uint8_t *refs;
	uint32_t nrefs;
	char *target;
	bool in_place; /* --delta: the file exists; write only what differs */
};

struct tree_restore {
	eng_store *s;
	const char *dest;
	eng_codec *codec;
	int rootfd;
	bool as_root, delta;
	struct later *files, *links, *dirs;
	size_t nfiles, nlinks, ndirs, cap_files, cap_links, cap_dirs;
	_Atomic uint64_t written, read;
	size_t *groups;   /* the write phase's work items: groups[i]..groups[i+1] are files */
	size_t ngroups;
	eng_par par;
};

/* Files are written in groups of neighbours (they were stored side by
 * side), so their chunks are read with few requests. */
#define GROUP_FILES 64
#define GROUP_BYTES_LOCAL (4u << 20)
#define GROUP_BYTES_REMOTE (16u << 20)

static int push(struct later **v, size_t *n, size_t *cap, struct later *item, eng_err *err)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 256;
		struct later *p = realloc(*v, c * sizeof(*p));
		if (!p)
			return eng_fail(err, ENG_ENOMEM, "out of memory");
		*v = p;
		*cap = c;
	}
	(*v)[(*n)++] = *item;
	return ENG_OK;
}

static void later_free(struct later *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].path);
		free(v[i].refs);
		free(v[i].target);
	}
	free(v);
}

static struct later make_later(const eng_entry *e, const char *path)
{
	struct later l = { .type = e->type, .mode = e->mode, .uid = e->uid, .gid = e->gid,
			   .mtime_ns = e->mtime_ns, .size = e->size, .rdev = e->rdev, .nrefs = e->nrefs };
	l.path = strdup(path);
	if (e->nrefs) {
		l.refs = malloc((size_t)e->nrefs * ENG_REF_LEN);
		if (l.refs)
			memcpy(l.refs, e->refs, (size_t)e->nrefs * ENG_REF_LEN);
	}
	if (e->target_len || e->type == ENG_T_SYMLINK)
		l.target = strndup(e->target, e->target_len);
	return l;
}

static bool later_ok(const struct later *l)
{
	return l->path && (!l->nrefs || l->refs) && (l->target || (l->type != ENG_T_SYMLINK && l->type != ENG_T_HARDLINK));
}

/* A hard link's target: a relative path of checked names. */
static bool relpath_ok(const char *p, size_t len)
{
	if (!len || p[0] == '/')
		return false;
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || p[i] == '/') {
			if (!eng_entry_name_ok(p + start, i - start))
				return false;
			start = i + 1;
		}
	}
	return true;
}

static void remove_tree(int atfd, const char *name);

/* --delta: makes room for an entry of the point, keeping what can be
 * updated in place (a folder for a folder, a lone regular file for a file).
 * Returns whether something was kept. */
static bool clear_place(int dirfd, const char *name, uint8_t type)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return false;
	if ((type == ENG_T_DIR && S_ISDIR(st.st_mode)) || (type == ENG_T_FILE && S_ISREG(st.st_mode) && st.st_nlink == 1))
		return true;
	if (S_ISDIR(st.st_mode))
		remove_tree(dirfd, name);
	else
		unlinkat(dirfd, name, 0);
	return false;
}

/* --delta: whether the point's folder (its encoded entries, sorted by
 * name) has an entry called name. */
static bool point_has(const uint8_t *bytes, size_t len, const char *name)
{
	size_t n = strlen(name), pos = 0;
	while (pos < len) {
		eng_entry e;
		size_t used = eng_entry_decode(bytes + pos, len - pos, &e);
		if (!used)
			return true; /* malformed: keep rather than delete */
		if (e.name_len == n && !memcmp(e.name, name, n))
			return true;
		pos += used;
	}
	return false;
}

/* --delta: removes what a folder holds that the point's folder does not. */
static int remove_extras(struct tree_restore *t, int dirfd, const uint8_t *bytes, size_t len, const char *path,
			 eng_err *err)
{
	int fd2 = dup(dirfd);
	DIR *d = fd2 >= 0 ? fdopendir(fd2) : NULL;
	if (!d) {
		if (fd2 >= 0)
			close(fd2);
		return eng_fail_errno(err, "cannot read %s/%s", t->dest, path);
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || point_has(bytes, len, de->d_name))
			continue;
		if (unlinkat(dirfd, de->d_name, 0) != 0 && (errno == EISDIR || errno == EPERM))
			remove_tree(dirfd, de->d_name);
	}
	closedir(d);
	return ENG_OK;
}

static int walk(struct tree_restore *t, int dirfd, const char *path, const uint8_t *refs, uint32_t nrefs, int depth,
		eng_err *err)
{
	if (depth > 256)
		return eng_fail(err, ENG_ECORRUPT, "point nests folders deeper than 256 levels");
	uint8_t *bytes;
	size_t len;
	int rc = eng_stream_get(t->s, t->codec, refs, nrefs, ENG_DIR_STREAM_MAX, &bytes, &len, err);
	if (rc)
		return rc;
	size_t pos = 0;
	const char *prev = NULL;
	size_t prev_len = 0;
	while (pos < len && !rc) {
		eng_entry e;
		size_t used = eng_entry_decode(bytes + pos, len - pos, &e);
		if (!used) {
			rc = eng_fail(err, ENG_ECORRUPT, "folder '%s' of the point is malformed", *path ? path : ".");
			break;
		}
		pos += used;
		if (!eng_entry_name_ok(e.name, e.name_len)) {
			rc = eng_fail(err, ENG_ECORRUPT, "folder '%s' of the point holds a forbidden name (\"%.*s\")", *path ? path : ".",
				      (int)(e.name_len > 64 ? 64 : e.name_len), e.name);
			break;
		}
		if (prev) {
			size_t m = prev_len < e.name_len ? prev_len : e.name_len;
			int c = memcmp(prev, e.name, m);
			if (c > 0 || (c == 0 && prev_len >= e.name_len)) {
				rc = eng_fail(err, ENG_ECORRUPT, "folder '%s' of the point has names out of order or twice", *path ? path : ".");
				break;
			}
		}
		prev = e.name;
		prev_len = e.name_len;
		char child[PATH_MAX];
		if ((size_t)snprintf(child, sizeof(child), "%s%s%.*s", path, *path ? "/" : "", (int)e.name_len, e.name) >=
		    sizeof(child)) {
			rc = eng_fail(err, ENG_EINPUT, "a path in the point is longer than %d bytes", PATH_MAX);
			break;
		}
		const char *name = child + strlen(child) - e.name_len;
		if (e.target_len && memchr(e.target, 0, e.target_len)) {
			rc = eng_fail(err, ENG_ECORRUPT, "%s of the point has a link target holding a NUL byte", child);
			break;
		}
		struct later l = make_later(&e, child);
		if (!later_ok(&l)) {
			free(l.path); free(l.refs); free(l.target);
			rc = eng_fail(err, ENG_ENOMEM, "out of memory");
			break;
		}
		bool kept = t->delta && clear_place(dirfd, name, e.type);
		switch (e.type) {
		case ENG_T_DIR: {
			if (!kept && mkdirat(dirfd, name, 0700) != 0) {
				rc = eng_fail_errno(err, "cannot create %s/%s", t->dest, child);
				free(l.path); free(l.refs); free(l.target);
				break;
			}
			int cfd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (cfd < 0) {
				rc = eng_fail_errno(err, "cannot open %s/%s", t->dest, child);
				free(l.path); free(l.refs); free(l.target);
				break;
			}
			rc = walk(t, cfd, child, e.refs, e.nrefs, depth + 1, err);
			close(cfd);
			free(l.refs);
			l.refs = NULL;
			l.nrefs = 0;
			free(l.target); /* only a malformed folder entry has one */
			l.target = NULL;
			if (!rc)
				rc = push(&t->dirs, &t->ndirs, &t->cap_dirs, &l, err);
			else
				free(l.path);
			break;
		}
		case ENG_T_FILE: {
			l.in_place = kept;
			if (kept) {
				rc = push(&t->files, &t->nfiles, &t->cap_files, &l, err);
				break;
			}
			int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (fd < 0) {
				rc = eng_fail_errno(err, "cannot create %s/%s", t->dest, child);
				free(l.path); free(l.refs); free(l.target);
				break;
			}
			close(fd);
			rc = push(&t->files, &t->nfiles, &t->cap_files, &l, err);
			break;
		}
		case ENG_T_HARDLINK:
			if (!relpath_ok(l.target, e.target_len)) {
				rc = eng_fail(err, ENG_ECORRUPT, "hard link %s of the point names a forbidden path", child);
				free(l.path); free(l.refs); free(l.target);
				break;
			}
			/* fall through */
		default:
			rc = push(&t->links, &t->nlinks, &t->cap_links, &l, err);
			break;
		}
	}
	if (!rc && t->delta)
		rc = remove_extras(t, dirfd, bytes, len, path, err);
	free(bytes);
	return rc;
}

static void mtime_ts(int64_t mtime_ns, struct timespec ts[2])
{
	ts[0] = (struct timespec){ .tv_nsec = UTIME_OMIT };
	ts[1] = (struct timespec){ .tv_sec = mtime_ns / 1000000000, .tv_nsec = mtime_ns % 1000000000 };
}

/* Sets the modification time of fd (opened for reading or writing). */
static void set_times(int fd, int64_t mtime_ns)
{
	struct timespec ts[2];
	mtime_ts(mtime_ns, ts);
	futimens(fd, ts);
}

struct file_tls {
	eng_codec *codec;
	uint8_t *buf;
	eng_parent parent; /* the folder of this thread's last file */
	eng_fetcher fetcher;
	int fds[GROUP_FILES];
	eng_fetch *want;   /* the chunks a group needs from the store */
	size_t cap_want;
	struct slot { uint32_t file; uint32_t len; uint64_t off; } *slots; /* where each goes (tag = index) */
	struct tree_restore *t;
	size_t first;      /* the group's first file */
};

static int file_tls_end(void *ctx, void *p, bool failed, eng_err *err)
{
	(void)ctx; (void)failed; (void)err;
	struct file_tls *f = p;
	eng_parent_close(&f->parent);
	eng_codec_free(f->codec);
	eng_fetcher_free(&f->fetcher);
	free(f->buf);
	free(f->want);
	free(f->slots);
	free(f);
	return ENG_OK;
}

static void *file_tls_new(void *ctx)
{
	struct tree_restore *t = ctx;
	struct file_tls *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->t = t;
	f->codec = eng_codec_new(&t->s->keys, t->s->zstd_level);
	f->buf = malloc(ENG_CDC_MAX);
	eng_parent_init(&f->parent);
	if (!f->codec || !f->buf || !eng_fetcher_init(&f->fetcher, t->s, ENG_CDC_MAX)) {
		file_tls_end(ctx, f, true, NULL);
		return NULL;
	}
	return f;
}

/* --delta: whether the file already holds the chunk at off. */
static int same_chunk(struct tree_restore *t, struct file_tls *f, int fd, uint64_t off, const eng_ref *r)
{
	ssize_t got = eng_pread_full(fd, f->buf, r->len, (off_t)off);
	if (got <= 0)
		return 0;
	atomic_fetch_add(&t->read, (uint64_t)got);
	if ((size_t)got != r->len)
		return 0;
	uint8_t id[ENG_ID_LEN];
	eng_codec_id(f->codec, f->buf, r->len, id);
	return !memcmp(id, r->id, ENG_ID_LEN);
}

/* --delta: makes [off, off+len) a hole if it holds any data. */
static int clear_hole(struct tree_restore *t, struct file_tls *f, int fd, uint64_t off, uint64_t len, const char *path,
		      eng_err *err)
{
	for (uint64_t pos = 0; pos < len;) {
		size_t n = len - pos < ENG_CDC_MAX ? (size_t)(len - pos) : ENG_CDC_MAX;
		ssize_t got = eng_pread_full(fd, f->buf, n, (off_t)(off + pos));
		if (got <= 0)
			return ENG_OK; /* past the end: truncation makes the rest a hole */
		atomic_fetch_add(&t->read, (uint64_t)got);
		if (!eng_all_zero(f->buf, (size_t)got)) {
			if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) != 0)
				return eng_fail_errno(err, "cannot clear part of %s/%s", t->dest, path);
			return ENG_OK;
		}
		pos += (uint64_t)got;
	}
	return ENG_OK;
}

/* Opens a file the walk made or found, checking it is still that file. */
static int open_file(struct tree_restore *t, struct file_tls *f, const struct later *l, eng_err *err)
{
	const char *name;
	int pfd = eng_parent_open(&f->parent, t->rootfd, l->path, &name);
	/* O_NONBLOCK: a fifo swapped in must not hang the open (regular files ignore it) */
	int fd = pfd < 0 ? -1 : openat(pfd, name, (l->in_place ? O_RDWR : O_WRONLY) | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return eng_fail_errno(err, "cannot open %s/%s", t->dest, l->path);
	/* The walk made or found a lone regular file here; a hard link swapped
	 * in since could lead to a file outside the tree. */
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
		close(fd);
		return eng_fail(err, ENG_EIO, "%s/%s changed while the restore ran: not the lone file it %s", t->dest,
				l->path, l->in_place ? "found" : "made");
	}
	return fd;
}

/* Notes what a file needs from the store (with --delta, only chunks it
 * does not hold already) in f->want. */
static int plan_file(struct tree_restore *t, struct file_tls *f, uint32_t fi, size_t *nwant, eng_err *err)
{
	const struct later *l = &t->files[f->first + fi];
	int fd = f->fds[fi];
	uint64_t off = 0;
	static const uint8_t zero[ENG_ID_LEN];
	if (*nwant + l->nrefs > f->cap_want) {
		size_t cap = (*nwant + l->nrefs) * 2;
		eng_fetch *w = realloc(f->want, cap * sizeof(*w));
		struct slot *s = w ? realloc(f->slots, cap * sizeof(*s)) : NULL;
		if (w)
			f->want = w;
		if (!s)
			return eng_fail(err, ENG_ENOMEM, "out of memory");
		f->slots = s;
		f->cap_want = cap;
	}
	for (uint32_t i = 0; i < l->nrefs; i++) {
		eng_ref r;
		eng_ref_get(l->refs + (size_t)i * ENG_REF_LEN, &r);
		if (!memcmp(r.id, zero, ENG_ID_LEN)) {
			int rc = l->in_place ? clear_hole(t, f, fd, off, r.len, l->path, err) : ENG_OK;
			if (rc)
				return rc;
			off += r.len; /* a hole */
			continue;
		}
		if (r.len > ENG_CDC_MAX)
			return eng_fail(err, ENG_ECORRUPT, "file %s of the point has an oversized chunk ref", l->path);
		if (l->in_place && same_chunk(t, f, fd, off, &r)) {
			off += r.len;
			atomic_fetch_add(&t->par.done_bytes, r.len);
			continue;
		}
		memcpy(f->want[*nwant].id, r.id, ENG_ID_LEN);
		f->want[*nwant].tag = *nwant;
		f->slots[*nwant] = (struct slot){ .file = fi, .len = r.len, .off = off };
		(*nwant)++;
		off += r.len;
	}
	if (off != l->size)
		return eng_fail(err, ENG_ECORRUPT, "file %s of the point: its chunks hold %llu bytes, its size is %llu", l->path,
				(unsigned long long)off, (unsigned long long)l->size);
	return ENG_OK;
}

static int place_chunk(void *ctx, const eng_fetch *w, const uint8_t *plain, size_t len, eng_err *err)
{
	struct file_tls *f = ctx;
	struct tree_restore *t = f->t;
	const struct slot *s = &f->slots[w->tag];
	const struct later *l = &t->files[f->first + s->file];
	if (len != s->len)
		return eng_fail(err, ENG_ECORRUPT, "file %s of the point: a chunk has %zu bytes, its ref %u", l->path, len,
				s->len);
	if (eng_pwrite_all(f->fds[s->file], plain, len, (off_t)s->off) != 0)
		return eng_fail_errno(err, "cannot write %s/%s", t->dest, l->path);
	atomic_fetch_add(&t->written, len);
	atomic_fetch_add(&t->par.done_bytes, len);
	return ENG_OK;
}

/* Sizes a written file and gives it its owner, mode and time. */
static int finish_file(struct tree_restore *t, const struct later *l, int fd, eng_err *err)
{
	if (ftruncate(fd, (off_t)l->size) != 0)
		return eng_fail_errno(err, "cannot size %s/%s", t->dest, l->path);
	if (t->as_root && fchown(fd, l->uid, l->gid) != 0)
		return eng_fail_errno(err, "cannot set the owner of %s/%s", t->dest, l->path);
	if (fchmod(fd, l->mode) != 0)
		return eng_fail_errno(err, "cannot set the mode of %s/%s", t->dest, l->path);
	set_times(fd, l->mtime_ns);
	return ENG_OK;
}

/* Writes one group of neighbouring files: opens them, reads what they
 * need from the store in pack order, writes each chunk where it goes. */
static int write_group(void *ctx, void *tlsp, size_t item, eng_err *err)
{
	struct tree_restore *t = ctx;
	struct file_tls *f = tlsp;
	f->first = t->groups[item];
	uint32_t n = (uint32_t)(t->groups[item + 1] - f->first), opened = 0;
	size_t nwant = 0;
	int rc = ENG_OK;
	for (; opened < n && !rc; opened++) {
		f->fds[opened] = open_file(t, f, &t->files[f->first + opened], err);
		if (f->fds[opened] < 0)
			rc = err ? err->status : ENG_EIO;
		else
			rc = plan_file(t, f, opened, &nwant, err);
		if (f->fds[opened] < 0)
			break;
	}
	if (!rc && !eng_par_stopping(&t->par))
		rc = eng_fetch_run(t->s, f->codec, &f->fetcher, f->want, nwant, place_chunk, f, err);
	for (uint32_t i = 0; i < opened; i++) {
		if (!rc)
			rc = finish_file(t, &t->files[f->first + i], f->fds[i], err);
		close(f->fds[i]);
	}
	return rc;
}

/* Cuts the files (in walk order) into groups of neighbours. */
static int make_groups(struct tree_restore *t, eng_err *err)
{
	uint64_t limit = t->s->be->remote ? GROUP_BYTES_REMOTE : GROUP_BYTES_LOCAL, bytes = 0;
	t->groups = malloc((t->nfiles + 1) * sizeof(*t->groups));
	if (!t->groups)
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	t->ngroups = 0;
	for (size_t i = 0; i < t->nfiles; i++) {
		size_t start = t->ngroups ? t->groups[t->ngroups - 1] : 0;
		if (!t->ngroups || i - start >= GROUP_FILES || bytes + t->files[i].size > limit) {
			t->groups[t->ngroups++] = i;
			bytes = 0;
		}
		bytes += t->files[i].size;
	}
	t->groups[t->ngroups] = t->nfiles;
	return ENG_OK;
}

/* The file type a symlink, fifo or device entry is made as. */
static mode_t node_format(uint8_t type)
{
	switch (type) {
	case ENG_T_SYMLINK: return S_IFLNK;
	case ENG_T_FIFO: return S_IFIFO;
	case ENG_T_CHR: return S_IFCHR;
	default: return S_IFBLK;
	}
}

/* Owner, mode and time of the symlink, fifo or device node just made as
 * name in pfd: through an O_PATH fd of it (such nodes cannot be opened for
 * writing), once that fd is shown to be the lone node of the right type. */
static int set_node_meta(struct tree_restore *t, int pfd, const char *name, const struct later *l, eng_err *err)
{
	int fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return eng_fail_errno(err, "cannot open %s/%s", t->dest, l->path);
	struct stat st;
	int rc = ENG_OK;
	if (fstat(fd, &st) != 0 || (st.st_mode & S_IFMT) != node_format(l->type) || st.st_nlink != 1)
		rc = eng_fail(err, ENG_EIO, "%s/%s changed while the restore ran: not the node it made", t->dest, l->path);
	else if (t->as_root && eng_fd_chown(fd, l->uid, l->gid) != 0)
		rc = eng_fail_errno(err, "cannot set the owner of %s/%s", t->dest, l->path);
	else if (l->type != ENG_T_SYMLINK && eng_fd_chmod(fd, l->mode) != 0)
		rc = eng_fail_errno(err, "cannot set the mode of %s/%s", t->dest, l->path);
	if (!rc) {
		struct timespec ts[2];
		mtime_ts(l->mtime_ns, ts);
		eng_fd_utimens(fd, ts);
	}
	close(fd);
	return rc;
}

static int make_links(struct tree_restore *t, eng_err *err)
{
	eng_parent at, from; /* the folders of the last link and of the last hard link's target */
	eng_parent_init(&at);
	eng_parent_init(&from);
	int rc = ENG_OK;
	/* hard links first: their targets are files, reached through real folders only */
	for (int pass = 0; pass < 2 && !rc; pass++) {
		for (size_t i = 0; i < t->nlinks && !rc; i++) {
			const struct later *l = &t->links[i];
			if ((pass == 0) != (l->type == ENG_T_HARDLINK))
				continue;
			if ((l->type == ENG_T_CHR || l->type == ENG_T_BLK) && !t->as_root)
				continue; /* only root can make device nodes */
			const char *name, *tname;
			int pfd = eng_parent_open(&at, t->rootfd, l->path, &name), tfd, r = -1;
			if (pfd >= 0) {
				switch (l->type) {
				case ENG_T_HARDLINK:
					/* no AT_SYMLINK_FOLLOW: a symlink swapped in is linked, not followed */
					tfd = eng_parent_open(&from, t->rootfd, l->target, &tname);
					r = tfd < 0 ? -1 : linkat(tfd, tname, pfd, name, 0);
					break;
				case ENG_T_SYMLINK: r = symlinkat(l->target, pfd, name); break;
				case ENG_T_FIFO: r = mkfifoat(pfd, name, 0600); break;
				case ENG_T_CHR:
				case ENG_T_BLK:
					r = mknodat(pfd, name, node_format(l->type) | 0600, (dev_t)l->rdev);
					break;
				}
			}
			if (r != 0)
				rc = eng_fail_errno(err, "cannot create %s/%s", t->dest, l->path);
			else if (l->type != ENG_T_HARDLINK)
				rc = set_node_meta(t, pfd, name, l, err);
		}
	}
	eng_parent_close(&at);
	eng_parent_close(&from);
	return rc;
}

static int finish_dirs(struct tree_restore *t, const eng_point *pt, eng_err *err)
{
	eng_parent at;
	eng_parent_init(&at);
	int rc = ENG_OK;
	/* deepest first (the walk lists a folder after the folders in it), so a
	 * folder's mode cannot lock us out of the folders in it before they are done */
	for (size_t i = 0; i < t->ndirs && !rc; i++) {
		const struct later *l = &t->dirs[i];
		const char *name;
		int pfd = eng_parent_open(&at, t->rootfd, l->path, &name);
		int fd = pfd < 0 ? -1 : openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || (t->as_root && fchown(fd, l->uid, l->gid) != 0) || fchmod(fd, l->mode) != 0)
			rc = eng_fail_errno(err, "cannot set the metadata of %s/%s", t->dest, l->path);
		else
			set_times(fd, l->mtime_ns);
		if (fd >= 0)
			close(fd);
	}
	eng_parent_close(&at);
	if (rc)
		return rc;
	if ((t->as_root && fchown(t->rootfd, pt->root_uid, pt->root_gid) != 0) || fchmod(t->rootfd, pt->root_mode) != 0)
		return eng_fail_errno(err, "cannot set the metadata of %s", t->dest);
	set_times(t->rootfd, pt->root_mtime_ns);
	return ENG_OK;
}

/* Removes a folder tree we created (after a failure), never following links. */
static void remove_tree(int atfd, const char *name)
{
	int fd = openat(atfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		DIR *d = fdopendir(fd);
		struct dirent *de;
		while (d && (de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (unlinkat(dirfd(d), de->d_name, 0) != 0 && errno == EISDIR)
				remove_tree(dirfd(d), de->d_name);
		}
		if (d)
			closedir(d);
		else
			close(fd);
	}
	unlinkat(atfd, name, AT_REMOVEDIR);
}

/* Puts the finished tree at base, never replacing what is there: someone
 * may have made DEST while the restore ran. */
static int put_in_place(int pfd, const char *tmpname, const char *base)
{
	if (renameat2(pfd, tmpname, pfd, base, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL)
		return -1;
	/* The file system cannot refuse to replace (NFS, some FUSE): check
	 * first; a folder renamed could then only replace an empty folder made
	 * in between. */
	struct stat st;
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		errno = EEXIST;
		return -1;
	}
	return renameat(pfd, tmpname, pfd, base);
}

static void drop_work_folder(int dirfd, const char *name, bool is_dir)
{
	if (is_dir)
		remove_tree(dirfd, name);
}

int eng_tree_restore(eng_store *s, const eng_point *pt, const char *dest, const eng_restore_opts *opts,
		     eng_restore_result *res, eng_err *err)
{
	struct tree_restore t = { .s = s, .dest = dest, .rootfd = -1, .as_root = geteuid() == 0, .delta = opts->delta };
	struct stat st;
	char parent[PATH_MAX], base[PATH_MAX], tmpname[PATH_MAX];
	int rc = ENG_OK, pfd = -1; /* pfd: the folder DEST is made in */
	if (t.delta) {
		if (stat(dest, &st) != 0 || !S_ISDIR(st.st_mode))
			return eng_fail(err, ENG_EINPUT, "%s is not a folder (--delta updates an existing tree)", dest);
		t.rootfd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (t.rootfd < 0)
			return eng_fail_errno(err, "cannot open %s", dest);
		goto restore;
	}
	if (lstat(dest, &st) == 0)
		return eng_fail(err, ENG_EEXIST, "%s exists: restore a tree to a new path (or use --delta)", dest);
	snprintf(parent, sizeof(parent), "%s", dest);
	char *slash = strrchr(parent, '/');
	if (slash == parent)
		slash[1] = 0;
	snprintf(base, sizeof(base), "%s", slash ? slash + 1 : dest);
	if (!slash)
		strcpy(parent, ".");
	else if (slash != parent)
		*slash = 0;
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return eng_fail(err, ENG_EINPUT, "%s: give the path of a new folder", dest);
	char hex[13];
	if ((rc = eng_random_hex(hex, 6, err)))
		return rc;
	/* the work folder beside DEST */
	int len = snprintf(tmpname, sizeof(tmpname), ".%s.lifeboat-%s", base, hex);
	if (len > NAME_MAX)
		return eng_fail(err, ENG_EINPUT, "%s: the name is too long (at most %d bytes)", dest,
				NAME_MAX - (len - (int)strlen(base)));
	pfd = open(parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0 && errno == ENOENT)
		return eng_fail(err, ENG_EINPUT, "%s: the folder %s does not exist", dest, parent);
	if (pfd >= 0) /* what restores that were killed left here */
		eng_stale_restores(pfd, base, drop_work_folder);
	if (pfd < 0 || mkdirat(pfd, tmpname, 0700) != 0) {
		rc = eng_fail_errno(err, "cannot create a folder beside %s", dest);
		if (pfd >= 0)
			close(pfd);
		return rc;
	}
	t.rootfd = openat(pfd, tmpname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (t.rootfd < 0)
		rc = eng_fail_errno(err, "cannot open a folder beside %s", dest);
	else
		flock(t.rootfd, LOCK_EX); /* ours while we run: see eng_stale_restores */
restore:
	t.codec = eng_codec_new(&s->keys, s->zstd_level);
	if (!rc && !t.codec)
		rc = eng_fail(err, ENG_ENOMEM, "out of memory");
	if (!rc)
		rc = walk(&t, t.rootfd, "", pt->root_refs.v, (uint32_t)pt->root_refs.n, 0, err);
	if (!rc)
		rc = make_groups(&t, err);
	if (!rc) {
		t.par = (eng_par){ .items = t.ngroups, .total_bytes = pt->info.size, .ctx = &t,
				   .make_tls = file_tls_new, .end_tls = file_tls_end, .work = write_group };
		eng_run_opts run = opts->run;
		if (!run.threads && s->be->remote) /* more requests in flight hide the round trips */
			run.threads = 8;
		rc = eng_par_run(&t.par, &run, err);
	}
	if (!rc)
		rc = make_links(&t, err);
	if (!rc)
		rc = finish_dirs(&t, pt, err);
	if (!rc && syncfs(t.rootfd) != 0)
		rc = eng_fail_errno(err, "cannot flush %s", dest);
	if (!rc && !t.delta && put_in_place(pfd, tmpname, base) != 0) {
		if (errno == EEXIST || errno == ENOTEMPTY)
			rc = eng_fail(err, ENG_EEXIST, "%s was made while the restore ran: left as it is, not replaced",
				      dest);
		else
			rc = eng_fail_errno(err, "cannot put the restored tree at %s", dest);
	}
	if (!rc)
		eng_fsync_dir_of(dest);
	if (rc && !t.delta)
		remove_tree(pfd, tmpname);
	res->bytes_written = atomic_load(&t.written);
	res->bytes_read = atomic_load(&t.read);
	if (t.rootfd >= 0)
		close(t.rootfd);
	if (pfd >= 0)
		close(pfd);
	eng_codec_free(t.codec);
	free(t.groups);
	later_free(t.files, t.nfiles);
	later_free(t.links, t.nlinks);
	later_free(t.dirs, t.ndirs);
	return rc;
}

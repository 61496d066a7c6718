/* tree_sync.c — a recovery point of a directory tree.
 *
 * Three phases. The walk (calling thread) reads every directory, sorted by
 * name, into a flat array of nodes where each directory's children are
 * contiguous; a file whose size, mtime, ctime and inode match the parent
 * point's entry keeps that entry's content refs without being read. The
 * content phase reads, chunks and stores the other files on all cores. The
 * last phase serializes directories bottom-up (children always sit after
 * their parent in the array) and stores each as a stream. Memory grows
 * with the number of entries, not with the bytes in them.
 *
 * Told which folders changed since the parent point (a watcher saw them),
 * the walk lists only those and the folders on the way to them; any other
 * folder that is the same folder as the parent's (inode, mtime and ctime:
 * nothing added, removed or renamed in it) keeps the parent's stream
 * without a readdir or a stat inside it.
 * The point's counts then come from the parent's, less what the listed
 * folders held and plus what they hold now. Hard links need the whole
 * tree in view, so a parent with any, or a listed file with more than one
 * link, makes it a full walk. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "fsutil.h"
#include "parallel.h"
#include "store.h"
#include "stream.h"
#include "sync.h"
#include "tree_changed.h"

/* visit() found what only a full walk handles (a hard link) */
#define WALK_NEEDS_ALL 1

#define READ_BUF (1u << 20)

struct tnode {
	eng_entry e;        /* name, refs and target point at the owned copies below */
	char *name;
	eng_refs refs;
	char *target;
	uint32_t parent;
	uint32_t child_start, nchild;
	uint64_t dev, blocks;
	bool read_content;
	bool reused; /* a folder whose refs are the parent point's */
};

struct hardlink {
	uint64_t dev, ino;
	uint32_t node;
};

struct tree_job {
	eng_store *s;
	eng_packer *pk;
	const char *root;
	int rootfd;
	eng_codec *codec; /* the calling thread's */
	eng_cdc cdc;
	struct tnode *nodes;
	size_t n, cap;
	struct hardlink *links;
	size_t nlinks, cap_links;
	uint32_t *todo;
	size_t ntodo;
	size_t *runs;  /* the content phase's work items: todo[runs[i]..runs[i+1]) */
	size_t nruns;
	_Atomic uint64_t bytes_read, added, chunks;
	uint64_t files, dirs, skipped;
	const eng_changed_dirs *changed; /* NULL: every folder is listed */
	uint64_t listed;                 /* folders listed */
	uint64_t old_files, old_dirs, old_size; /* what the listed folders held in the parent point */
	eng_par par;
};

/* Relative path of node i from the root, into buf. */
static int node_path(struct tree_job *j, uint32_t i, char *buf, size_t cap)
{
	uint32_t chain[512];
	int depth = 0;
	for (uint32_t k = i; k != 0; k = j->nodes[k].parent) {
		if (depth == 512)
			return -1;
		chain[depth++] = k;
	}
	size_t pos = 0;
	buf[0] = 0;
	for (int d = depth - 1; d >= 0; d--) {
		const struct tnode *nd = &j->nodes[chain[d]];
		size_t len = nd->e.name_len;
		if (pos + len + 2 > cap)
			return -1;
		if (pos)
			buf[pos++] = '/';
		memcpy(buf + pos, nd->name, len);
		pos += len;
		buf[pos] = 0;
	}
	return 0;
}

static int add_node(struct tree_job *j, eng_err *err)
{
	if (j->n == j->cap) {
		size_t cap = j->cap ? 2 * j->cap : 1024;
		struct tnode *v = realloc(j->nodes, cap * sizeof(*v));
		if (!v)
			return eng_fail(err, ENG_ENOMEM, "out of memory walking %s", j->root);
		j->nodes = v;
		j->cap = cap;
	}
	memset(&j->nodes[j->n++], 0, sizeof(struct tnode));
	return ENG_OK;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The parent point's entries of one directory, sorted by name. */
struct old_dir {
	uint8_t *bytes;
	eng_entry *v;
	size_t n;
};

static void old_dir_free(struct old_dir *d)
{
	free(d->bytes);
	free(d->v);
	memset(d, 0, sizeof(*d));
}

static int old_dir_load(struct tree_job *j, const uint8_t *refs, uint32_t nrefs, struct old_dir *d, eng_err *err)
{
	size_t len;
	memset(d, 0, sizeof(*d));
	int rc = eng_stream_get(j->s, j->codec, refs, nrefs, ENG_DIR_STREAM_MAX, &d->bytes, &len, err);
	if (rc)
		return rc;
	size_t pos = 0, cap = 0;
	while (pos < len) {
		eng_entry e;
		size_t used = eng_entry_decode(d->bytes + pos, len - pos, &e);
		if (!used) {
			old_dir_free(d);
			return eng_fail(err, ENG_ECORRUPT, "a directory of the parent point is malformed");
		}
		if (d->n == cap) {
			cap = cap ? 2 * cap : 64;
			eng_entry *v = realloc(d->v, cap * sizeof(*v));
			if (!v) {
				old_dir_free(d);
				return eng_fail(err, ENG_ENOMEM, "out of memory");
			}
			d->v = v;
		}
		d->v[d->n++] = e;
		pos += used;
	}
	return ENG_OK;
}

static const eng_entry *old_find(const struct old_dir *d, const char *name, size_t len)
{
	size_t lo = 0, hi = d->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const eng_entry *e = &d->v[mid];
		size_t m = e->name_len < len ? e->name_len : len;
		int c = memcmp(e->name, name, m);
		if (!c)
			c = e->name_len < len ? -1 : e->name_len > len;
		if (!c)
			return e;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int64_t ns(struct timespec t)
{
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void fill_stat(struct tnode *nd, const struct stat *st)
{
	nd->e.mode = st->st_mode & 07777;
	nd->e.uid = st->st_uid;
	nd->e.gid = st->st_gid;
	nd->e.mtime_ns = ns(st->st_mtim);
	nd->e.ctime_ns = ns(st->st_ctim);
	nd->e.ino = st->st_ino;
	nd->dev = st->st_dev;
	nd->blocks = (uint64_t)st->st_blocks;
}

/* Classifies child node i of a directory read from dirfd. */
static int visit(struct tree_job *j, int dirfd, uint32_t i, const struct old_dir *old, eng_err *err)
{
	struct tnode *nd = &j->nodes[i];
	struct stat st;
	if (fstatat(dirfd, nd->name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT) { /* vanished while we walked: as if it never was */
			nd->e.type = 0;
			return ENG_OK;
		}
		return eng_fail_errno(err, "cannot stat %s/%s", j->root, nd->name);
	}
	fill_stat(nd, &st);
	const eng_entry *prev = old ? old_find(old, nd->name, nd->e.name_len) : NULL;
	if (S_ISREG(st.st_mode)) {
		nd->e.type = ENG_T_FILE;
		nd->e.size = (uint64_t)st.st_size;
		if (st.st_nlink > 1 && j->changed)
			return WALK_NEEDS_ALL;
		if (st.st_nlink > 1) {
			for (size_t k = 0; k < j->nlinks; k++) {
				if (j->links[k].dev == (uint64_t)st.st_dev && j->links[k].ino == st.st_ino) {
					char path[PATH_MAX];
					if (node_path(j, j->links[k].node, path, sizeof(path)) || strlen(path) > 65535)
						return eng_fail(err, ENG_EINPUT, "path too long under %s", j->root);
					nd->e.type = ENG_T_HARDLINK;
					nd->target = strdup(path);
					nd->e.target_len = (uint16_t)strlen(path);
					return nd->target ? ENG_OK : eng_fail(err, ENG_ENOMEM, "out of memory");
				}
			}
			if (j->nlinks == j->cap_links) {
				size_t cap = j->cap_links ? 2 * j->cap_links : 64;
				struct hardlink *v = realloc(j->links, cap * sizeof(*v));
				if (!v)
					return eng_fail(err, ENG_ENOMEM, "out of memory");
				j->links = v;
				j->cap_links = cap;
			}
			j->links[j->nlinks++] = (struct hardlink){ (uint64_t)st.st_dev, st.st_ino, i };
		}
		j->files++;
		if (prev && prev->type == ENG_T_FILE && prev->size == nd->e.size && prev->mtime_ns == nd->e.mtime_ns &&
		    prev->ctime_ns == nd->e.ctime_ns && prev->ino == nd->e.ino) {
			for (uint32_t r = 0; r < prev->nrefs; r++) {
				eng_ref ref;
				eng_ref_get(prev->refs + (size_t)r * ENG_REF_LEN, &ref);
				if (eng_refs_add(&nd->refs, ref.id, ref.len))
					return eng_fail(err, ENG_ENOMEM, "out of memory");
			}
			j->skipped++;
		} else {
			nd->read_content = true;
		}
	} else if (S_ISDIR(st.st_mode)) {
		nd->e.type = ENG_T_DIR;
		j->dirs++;
	} else if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(dirfd, nd->name, target, sizeof(target));
		if (n < 0)
			return eng_fail_errno(err, "cannot read the link %s/%s", j->root, nd->name);
		nd->e.type = ENG_T_SYMLINK;
		nd->target = strndup(target, (size_t)n);
		nd->e.target_len = (uint16_t)n;
		if (!nd->target)
			return eng_fail(err, ENG_ENOMEM, "out of memory");
	} else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		nd->e.type = S_ISFIFO(st.st_mode) ? ENG_T_FIFO : S_ISCHR(st.st_mode) ? ENG_T_CHR : ENG_T_BLK;
		nd->e.rdev = st.st_rdev;
	} else {
		nd->e.type = 0; /* sockets: nothing to keep */
	}
	return ENG_OK;
}

/* Adds what a folder of the parent point held, all the way down, to the
 * old counts: a folder that is gone or is no longer a folder. */
static int count_old_subtree(struct tree_job *j, const uint8_t *refs, uint32_t nrefs, int depth, eng_err *err)
{
	if (depth > 256)
		return eng_fail(err, ENG_ECORRUPT, "the parent point's folders nest deeper than 256 levels");
	struct old_dir d;
	int rc = old_dir_load(j, refs, nrefs, &d, err);
	for (size_t k = 0; !rc && k < d.n; k++) {
		const eng_entry *e = &d.v[k];
		if (e->type == ENG_T_FILE) {
			j->old_files++;
			j->old_size += e->size;
		} else if (e->type == ENG_T_DIR) {
			j->old_dirs++;
			rc = count_old_subtree(j, e->refs, e->nrefs, depth + 1, err);
		}
	}
	old_dir_free(&d);
	return rc;
}

/* Child of self named like e, or NULL (children are sorted by name). */
static const struct tnode *new_child(const struct tree_job *j, uint32_t self, const eng_entry *e)
{
	uint32_t lo = j->nodes[self].child_start, hi = lo + j->nodes[self].nchild;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct tnode *c = &j->nodes[mid];
		size_t m = c->e.name_len < e->name_len ? c->e.name_len : e->name_len;
		int cmp = memcmp(c->name, e->name, m);
		if (!cmp)
			cmp = c->e.name_len < e->name_len ? -1 : c->e.name_len > e->name_len;
		if (!cmp)
			return c;
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* A listed folder: what its entries were in the parent point. */
static int count_old_entries(struct tree_job *j, uint32_t self, const struct old_dir *old, eng_err *err)
{
	int rc = ENG_OK;
	for (size_t k = 0; !rc && k < old->n; k++) {
		const eng_entry *e = &old->v[k];
		if (e->type == ENG_T_FILE) {
			j->old_files++;
			j->old_size += e->size;
		} else if (e->type == ENG_T_DIR) {
			j->old_dirs++;
			const struct tnode *c = new_child(j, self, e);
			if (!c || c->e.type != ENG_T_DIR) /* still a folder: walked or reused, counted there */
				rc = count_old_subtree(j, e->refs, e->nrefs, 1, err);
		}
	}
	return rc;
}

/* The folder of node i keeps the parent point's stream. */
static int reuse_dir(struct tree_job *j, uint32_t i, const eng_entry *prev, eng_err *err)
{
	for (uint32_t r = 0; r < prev->nrefs; r++) {
		eng_ref ref;
		eng_ref_get(prev->refs + (size_t)r * ENG_REF_LEN, &ref);
		if (eng_refs_add(&j->nodes[i].refs, ref.id, ref.len))
			return eng_fail(err, ENG_ENOMEM, "out of memory");
	}
	j->nodes[i].reused = true;
	return ENG_OK;
}

static int walk(struct tree_job *j, int dirfd, uint32_t self, const struct old_dir *old, int depth, eng_err *err)
{
	if (depth > 256)
		return eng_fail(err, ENG_EINPUT, "%s: folders nested deeper than 256 levels", j->root);
	int fd2 = dup(dirfd);
	DIR *d = fd2 >= 0 ? fdopendir(fd2) : NULL;
	if (!d) {
		if (fd2 >= 0)
			close(fd2);
		return eng_fail_errno(err, "cannot read a folder under %s", j->root);
	}
	rewinddir(d); /* a dup shares the offset: the root is read twice when a full walk follows a partial one */
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = ENG_OK;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			char **v = realloc(names, cap * sizeof(*v));
			if (!v) {
				rc = eng_fail(err, ENG_ENOMEM, "out of memory");
				break;
			}
			names = v;
		}
		if (!(names[n] = strdup(de->d_name))) {
			rc = eng_fail(err, ENG_ENOMEM, "out of memory");
			break;
		}
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	uint32_t start = (uint32_t)j->n;
	for (size_t k = 0; k < n && !rc; k++) {
		if (strlen(names[k]) > 65535) {
			rc = eng_fail(err, ENG_EINPUT, "a name under %s is too long", j->root);
			break;
		}
		if ((rc = add_node(j, err)))
			break;
		struct tnode *nd = &j->nodes[j->n - 1];
		nd->name = names[k];
		names[k] = NULL;
		nd->e.name_len = (uint16_t)strlen(nd->name);
		nd->parent = self;
		rc = visit(j, dirfd, (uint32_t)(j->n - 1), old, err);
	}
	for (size_t k = 0; k < n; k++)
		free(names[k]);
	free(names);
	j->nodes[self].child_start = start;
	j->nodes[self].nchild = (uint32_t)(j->n - start);
	j->listed++;
	if (!rc && j->changed && old)
		rc = count_old_entries(j, self, old, err);
	for (uint32_t i = start; i < start + j->nodes[self].nchild && !rc; i++) {
		if (j->nodes[i].e.type != ENG_T_DIR)
			continue;
		const eng_entry *prev = old ? old_find(old, j->nodes[i].name, j->nodes[i].e.name_len) : NULL;
		/* the same folder, its entries unchanged by its own stat, and no word of a change below */
		if (j->changed && prev && prev->type == ENG_T_DIR && prev->ino == j->nodes[i].e.ino &&
		    prev->mtime_ns == j->nodes[i].e.mtime_ns && prev->ctime_ns == j->nodes[i].e.ctime_ns) {
			char path[PATH_MAX];
			if (node_path(j, i, path, sizeof(path)))
				return eng_fail(err, ENG_EINPUT, "a path under %s is too long", j->root);
			if (!eng_changed_dirs_reach(j->changed, path)) {
				rc = reuse_dir(j, i, prev, err);
				continue;
			}
		}
		int cfd = openat(dirfd, j->nodes[i].name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0) {
			if (errno == ENOENT || errno == ENOTDIR) { /* gone while we walked: as if it never was */
				j->nodes[i].e.type = 0;
				if (j->changed && prev && prev->type == ENG_T_DIR)
					rc = count_old_subtree(j, prev->refs, prev->nrefs, 1, err);
				continue;
			}
			char path[PATH_MAX];
			node_path(j, i, path, sizeof(path));
			return eng_fail_errno(err, "cannot open %s/%s", j->root, path);
		}
		struct old_dir sub = { 0 };
		if (prev && prev->type == ENG_T_DIR)
			rc = old_dir_load(j, prev->refs, prev->nrefs, &sub, err);
		if (!rc)
			rc = walk(j, cfd, i, prev && prev->type == ENG_T_DIR ? &sub : NULL, depth + 1, err);
		old_dir_free(&sub);
		close(cfd);
	}
	return rc;
}

struct content_tls {
	eng_codec *codec;
	eng_pack_writer *writer;
	uint8_t *buf, *seal;
};

static void *content_tls_new(void *ctx)
{
	struct tree_job *j = ctx;
	struct content_tls *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->codec = eng_codec_new(&j->s->keys, j->s->zstd_level);
	t->writer = eng_pack_writer_new(j->pk);
	t->buf = malloc(READ_BUF + ENG_CDC_MAX);
	t->seal = malloc(eng_codec_bound(ENG_CDC_MAX));
	if (!t->codec || !t->writer || !t->buf || !t->seal) {
		eng_codec_free(t->codec);
		eng_pack_writer_close(t->writer, true, NULL, NULL);
		free(t->buf);
		free(t->seal);
		free(t);
		return NULL;
	}
	return t;
}

static int content_tls_end(void *ctx, void *p, bool failed, eng_err *err)
{
	struct tree_job *j = ctx;
	struct content_tls *t = p;
	eng_put_stats last = { 0 };
	int rc = eng_pack_writer_close(t->writer, failed, &last, err);
	atomic_fetch_add(&j->added, last.bytes);
	eng_codec_free(t->codec);
	free(t->buf);
	free(t->seal);
	free(t);
	return rc;
}

/* Chunks [off, end) of fd into the node's refs. */
static int chunk_range(struct tree_job *j, struct content_tls *t, struct tnode *nd, int fd, uint64_t off,
		       uint64_t end, const char *path, eng_err *err)
{
	size_t have = 0;
	eng_put_stats added = { 0 };
	int rc = ENG_OK;
	while (!rc) {
		size_t want = READ_BUF + ENG_CDC_MAX - have;
		if (want > end - off)
			want = (size_t)(end - off);
		ssize_t got = want ? eng_pread_full(fd, t->buf + have, want, (off_t)off) : 0;
		if (got < 0)
			return eng_fail_errno(err, "cannot read %s/%s", j->root, path);
		off += (uint64_t)got;
		have += (size_t)got;
		bool final = off >= end || (size_t)got < want;
		size_t used;
		rc = eng_stream_put(t->writer, t->codec, &j->cdc, ENG_CHUNK_DATA, t->buf, have, final, t->seal,
				    &nd->refs, &used, &added, err);
		memmove(t->buf, t->buf + used, have - used);
		have -= used;
		atomic_fetch_add(&j->bytes_read, (uint64_t)got);
		atomic_fetch_add(&j->par.done_bytes, (uint64_t)got);
		if (final)
			break;
	}
	atomic_fetch_add(&j->added, added.bytes);
	atomic_fetch_add(&j->chunks, added.chunks);
	return rc;
}

static int read_file(void *ctx, void *tlsp, size_t item, eng_err *err)
{
	struct tree_job *j = ctx;
	struct content_tls *t = tlsp;
	struct tnode *nd = &j->nodes[j->todo[item]];
	char path[PATH_MAX];
	if (node_path(j, j->todo[item], path, sizeof(path)))
		return eng_fail(err, ENG_EINPUT, "a path under %s is too long", j->root);
	int fd = openat(j->rootfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) { /* deleted while we worked */
			nd->e.type = 0;
			return ENG_OK;
		}
		return eng_fail_errno(err, "cannot open %s/%s", j->root, path);
	}
	struct stat st;
	int rc = ENG_OK;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		nd->e.type = 0;
		return ENG_OK;
	}
	uint64_t size = (uint64_t)st.st_size;
	fill_stat(nd, &st);
	nd->e.size = size;
	bool sparse = (uint64_t)st.st_blocks * 512 < size;
	uint64_t off = 0;
	while (off < size && !rc) {
		uint64_t data = off, hole = size;
		if (sparse) {
			off_t d = lseek(fd, (off_t)off, SEEK_DATA);
			data = d < 0 ? size : (uint64_t)d;
			off_t h = data < size ? lseek(fd, (off_t)data, SEEK_HOLE) : (off_t)size;
			hole = h < 0 || (uint64_t)h > size ? size : (uint64_t)h;
		}
		if (data > off) { /* a hole: a ref with a zero id, in pieces a ref can describe */
			static const uint8_t zero[ENG_ID_LEN];
			for (uint64_t left = data - off; left && !rc;) {
				uint32_t piece = left > (1u << 30) ? (1u << 30) : (uint32_t)left;
				if (eng_refs_add(&nd->refs, zero, piece))
					rc = eng_fail(err, ENG_ENOMEM, "out of memory");
				left -= piece;
			}
			atomic_fetch_add(&j->par.done_bytes, data - off);
		}
		if (!rc && data < hole)
			rc = chunk_range(j, t, nd, fd, data, hole, path, err);
		off = hole;
	}
	close(fd);
	return rc;
}

/* Reads a run of neighbouring files. A thread's small files share groups
 * (codec.h), and a restore reads the files of one folder together, so a
 * run is one thread's and starts a group of its own. */
static int read_run(void *ctx, void *tlsp, size_t item, eng_err *err)
{
	struct tree_job *j = ctx;
	struct content_tls *t = tlsp;
	eng_put_stats sealed = { 0 };
	int rc = eng_pack_writer_break(t->writer, &sealed, err);
	atomic_fetch_add(&j->added, sealed.bytes);
	for (size_t k = j->runs[item]; k < j->runs[item + 1] && !rc && !eng_par_stopping(&j->par); k++)
		rc = read_file(j, t, k, err);
	return rc;
}

/* The files to read, in the order a restore meets them: each folder's
 * entries by name, a subfolder's files where the subfolder is. A restore
 * writes files in batches of such neighbours, and reads a group once per
 * batch that needs it. */
static int order_todo(struct tree_job *j, uint64_t *total, eng_err *err)
{
	uint32_t node[258], next[258]; /* the walk refused deeper nesting */
	int depth = 0;
	if (!(j->todo = malloc((j->n ? j->n : 1) * sizeof(*j->todo))))
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	node[0] = 0;
	next[0] = j->nodes[0].child_start;
	while (depth >= 0) {
		const struct tnode *dir = &j->nodes[node[depth]];
		if (next[depth] >= dir->child_start + dir->nchild) {
			depth--;
			continue;
		}
		uint32_t c = next[depth]++;
		if (j->nodes[c].read_content) {
			j->todo[j->ntodo++] = c;
			*total += j->nodes[c].e.size;
		} else if (j->nodes[c].e.type == ENG_T_DIR && j->nodes[c].nchild && depth + 1 < 258) {
			depth++;
			node[depth] = c;
			next[depth] = j->nodes[c].child_start;
		}
	}
	return ENG_OK;
}

/* Cuts the files to read into runs of about a group's size. */
static int make_runs(struct tree_job *j, eng_err *err)
{
	if (!(j->runs = malloc((j->ntodo + 1) * sizeof(*j->runs))))
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	uint64_t bytes = 0;
	for (size_t k = 0; k < j->ntodo; k++) {
		if (!j->nruns || k - j->runs[j->nruns - 1] >= ENG_GROUP_MEMBERS || bytes >= ENG_GROUP_BYTES) {
			j->runs[j->nruns++] = k;
			bytes = 0;
		}
		bytes += j->nodes[j->todo[k]].e.size;
	}
	j->runs[j->nruns] = j->ntodo;
	return ENG_OK;
}

/* Serializes directory i's children and stores them as a stream. */
static int store_dir(struct tree_job *j, eng_pack_writer *w, uint8_t *seal, uint32_t i, eng_err *err)
{
	struct tnode *dir = &j->nodes[i];
	size_t len = 0;
	for (uint32_t k = dir->child_start; k < dir->child_start + dir->nchild; k++) {
		struct tnode *c = &j->nodes[k];
		if (!c->e.type)
			continue;
		c->e.name = c->name;
		c->e.nrefs = (uint32_t)c->refs.n;
		c->e.refs = c->refs.v;
		c->e.target = c->target;
		len += eng_entry_size(&c->e);
	}
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	size_t pos = 0;
	for (uint32_t k = dir->child_start; k < dir->child_start + dir->nchild; k++) {
		struct tnode *c = &j->nodes[k];
		if (!c->e.type)
			continue;
		eng_entry_encode(&c->e, buf + pos);
		pos += eng_entry_size(&c->e);
	}
	size_t used;
	eng_put_stats added = { 0 };
	int rc = eng_stream_put(w, j->codec, &j->cdc, ENG_CHUNK_META, buf, len, true, seal, &dir->refs, &used, &added, err);
	free(buf);
	atomic_fetch_add(&j->added, added.bytes);
	atomic_fetch_add(&j->chunks, added.chunks);
	return rc;
}

static void free_nodes(struct tree_job *j)
{
	for (size_t i = 0; i < j->n; i++) {
		free(j->nodes[i].name);
		free(j->nodes[i].target);
		eng_refs_free(&j->nodes[i].refs);
	}
	j->n = j->nlinks = 0;
	j->files = j->dirs = j->skipped = j->listed = 0;
	j->old_files = j->old_dirs = j->old_size = 0;
}

/* The walk phase, from the root's stat st. */
static int walk_root(struct tree_job *j, const struct stat *st, const eng_point *parent, eng_err *err)
{
	struct old_dir old = { 0 };
	int rc = parent && parent->root_refs.n
			 ? old_dir_load(j, parent->root_refs.v, (uint32_t)parent->root_refs.n, &old, err)
			 : ENG_OK;
	if (!rc && !(rc = add_node(j, err))) {
		fill_stat(&j->nodes[0], st);
		j->nodes[0].e.type = ENG_T_DIR;
		if (j->changed && !eng_changed_dirs_reach(j->changed, "") && j->nodes[0].e.mtime_ns == parent->root_mtime_ns) {
			eng_entry prev = { .refs = parent->root_refs.v, .nrefs = (uint32_t)parent->root_refs.n };
			rc = reuse_dir(j, 0, &prev, err);
		} else {
			rc = walk(j, j->rootfd, 0, parent ? &old : NULL, 0, err);
		}
	}
	old_dir_free(&old);
	return rc;
}

static uint64_t less(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

int eng_tree_sync(eng_store *s, const char *root, const eng_point *parent, const eng_changed_dirs *changed,
		  const eng_run_opts *run, eng_point *pt, eng_err *err)
{
	struct tree_job j = { .s = s, .root = root, .rootfd = -1 };
	/* a watcher's word is taken only against the parent it watched from, with no hard links in it */
	j.changed = changed && parent && parent->links == 0 ? changed : NULL;
	eng_pack_writer *w = NULL;
	uint8_t *seal = malloc(eng_codec_bound(ENG_CDC_MAX));
	eng_cdc_init(&j.cdc);
	j.codec = eng_codec_new(&s->keys, s->zstd_level);
	j.pk = eng_packer_new(s);
	int rc = !seal || !j.codec || !j.pk ? eng_fail(err, ENG_ENOMEM, "out of memory") : ENG_OK;
	struct stat st;
	if (!rc) {
		j.rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (j.rootfd < 0 || fstat(j.rootfd, &st) != 0)
			rc = eng_fail(err, ENG_EINPUT, "cannot open the folder %s: %s", root, strerror(errno));
	}
	if (!rc)
		rc = walk_root(&j, &st, parent, err);
	if (rc == WALK_NEEDS_ALL) {
		free_nodes(&j);
		j.changed = NULL;
		rc = walk_root(&j, &st, parent, err);
	}
	uint64_t total = 0;
	if (!rc)
		rc = order_todo(&j, &total, err);
	if (!rc)
		rc = make_runs(&j, err);
	if (!rc) {
		j.par = (eng_par){ .items = j.nruns, .total_bytes = total, .ctx = &j,
				   .make_tls = content_tls_new, .end_tls = content_tls_end, .work = read_run };
		rc = eng_par_run(&j.par, run, err);
	}
	if (!rc && !(w = eng_pack_writer_new(j.pk)))
		rc = eng_fail(err, ENG_ENOMEM, "out of memory");
	for (size_t i = j.n; !rc && i-- > 0;)
		if (j.nodes[i].e.type == ENG_T_DIR && !j.nodes[i].reused)
			rc = store_dir(&j, w, seal, (uint32_t)i, err);
	eng_err ferr;
	int wrc = eng_pack_writer_close(w, rc != ENG_OK && rc != ENG_ECANCEL, NULL, rc ? &ferr : err);
	int frc = eng_packer_finish(j.pk, rc || wrc ? &ferr : err);
	if (!rc)
		rc = wrc ? wrc : frc;
	if (!rc) {
		pt->root_refs = j.nodes[0].refs;
		memset(&j.nodes[0].refs, 0, sizeof(j.nodes[0].refs));
		pt->root_mode = j.nodes[0].e.mode;
		pt->root_uid = j.nodes[0].e.uid;
		pt->root_gid = j.nodes[0].e.gid;
		pt->root_mtime_ns = j.nodes[0].e.mtime_ns;
		strcpy(pt->info.kind, "tree");
		uint64_t size = 0, files = 0, dirs = 0;
		for (size_t i = 0; i < j.n; i++) {
			if (j.nodes[i].e.type == ENG_T_FILE) {
				size += j.nodes[i].e.size;
				files++;
			}
			dirs += i > 0 && j.nodes[i].e.type == ENG_T_DIR;
		}
		if (j.changed) {
			pt->files = less(parent->files, j.old_files) + files;
			pt->dirs = less(parent->dirs, j.old_dirs) + dirs;
			pt->info.size = less(parent->info.size, j.old_size) + size;
			pt->skipped = less(pt->files, j.ntodo);
		} else {
			pt->files = j.files;
			pt->dirs = j.dirs;
			pt->skipped = j.skipped;
			pt->info.size = size;
		}
		pt->links = j.nlinks;
		pt->listed = j.listed;
		pt->walked_changed = j.changed != NULL;
		pt->info.added_bytes = atomic_load(&j.added);
		pt->chunks_added = atomic_load(&j.chunks);
		pt->bytes_read = atomic_load(&j.bytes_read);
	}
	free_nodes(&j);
	free(j.nodes);
	free(j.links);
	free(j.todo);
	free(j.runs);
	free(seal);
	if (j.rootfd >= 0)
		close(j.rootfd);
	eng_packer_free(j.pk);
	eng_codec_free(j.codec);
	return rc;
}

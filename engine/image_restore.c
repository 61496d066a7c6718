/* image_restore.c — writing an image point back to a file or block device.
 *
 * A file is restored under a temporary name beside DEST, sized first with
 * ftruncate so holes cost nothing, then fsynced and renamed to DEST: no
 * half-written file ever carries DEST's name, and without force a DEST
 * made by someone else meanwhile is never replaced. --delta writes DEST in
 * place, never through a symlink. A block device is written in
 * place (holes as zeros) and only with force. Worker threads take
 * segments; runs of adjacent blocks are gathered and written in one call.
 * The image has to reach the disk before it is reported restored, so each
 * run's writeback is started as soon as it is written (sync_file_range):
 * the disk works while the cores decode, and the final fsync finds little
 * left to do. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytes.h"
#include "err.h"
#include "fetch.h"
#include "fsutil.h"
#include "parallel.h"
#include "store.h"
#include "sync.h"

#define GATHER (1u << 20)

struct restore_job {
	eng_store *s;
	const eng_point *pt;
	const char *dest;
	int fd;
	pthread_mutex_t write_mu; /* see flush() */
	bool device, delta;
	_Atomic uint64_t read;
	uint32_t gather;
	_Atomic uint64_t written;
	eng_par par;
};

struct restore_tls {
	eng_codec *codec;
	uint8_t *list, *blob, *out, *have;
	uint64_t out_off;
	size_t out_len;
	eng_fetcher fetcher;
	eng_fetch *want; /* the blocks of a segment to read from the store */
	uint64_t first;  /* the segment's first block */
	struct restore_job *j;
};

static int restore_tls_end(void *ctx, void *p, bool failed, eng_err *err)
{
	(void)ctx;
	(void)failed;
	(void)err;
	struct restore_tls *t = p;
	eng_codec_free(t->codec);
	eng_fetcher_free(&t->fetcher);
	free(t->list); free(t->blob); free(t->out); free(t->have); free(t->want);
	free(t);
	return ENG_OK;
}

static void *restore_tls_new(void *ctx)
{
	struct restore_job *j = ctx;
	struct restore_tls *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	uint32_t bs = j->pt->info.block_size;
	t->codec = eng_codec_new(&j->s->keys, j->s->zstd_level);
	t->list = malloc(ENG_LIST_BYTES);
	t->blob = malloc(eng_codec_bound(bs > ENG_LIST_BYTES ? bs : ENG_LIST_BYTES));
	t->out = malloc(j->gather);
	t->have = malloc(bs);
	t->want = malloc(ENG_SEGMENT_BLOCKS * sizeof(*t->want));
	t->j = j;
	if (!t->codec || !t->list || !t->blob || !t->out || !t->have || !t->want ||
	    !eng_fetcher_init(&t->fetcher, j->s, bs)) {
		restore_tls_end(ctx, t, true, NULL);
		return NULL;
	}
	return t;
}



static int flush(struct restore_job *j, struct restore_tls *t, eng_err *err)
{
	if (!t->out_len)
		return ENG_OK;
	/* The kernel writes one file under its inode lock, and a second writer
	 * spins on that lock burning a core; waiting here sleeps instead and
	 * leaves the core to a thread that is decoding. */
	pthread_mutex_lock(&j->write_mu);
	int rc = eng_pwrite_all(j->fd, t->out, t->out_len, (off_t)t->out_off);
	pthread_mutex_unlock(&j->write_mu);
	if (rc != 0)
		return eng_fail_errno(err, "cannot write %s at offset %llu", j->dest, (unsigned long long)t->out_off);
	sync_file_range(j->fd, (off_t)t->out_off, (off_t)t->out_len, SYNC_FILE_RANGE_WRITE);
	atomic_fetch_add(&j->written, t->out_len);
	t->out_len = 0;
	return ENG_OK;
}

/* In-place restore: 1 when DEST already holds the block (or, for a hole,
 * zeros), 0 when it must be written, -1 on failure. A hole whose place
 * holds data is punched out here. */
static int delta_same(struct restore_job *j, struct restore_tls *t, const uint8_t *id, bool is_hole, uint64_t off,
		      size_t blen, eng_err *err)
{
	ssize_t got = eng_pread_full(j->fd, t->have, blen, (off_t)off);
	if (got < 0)
		return eng_fail_errno(err, "cannot read %s at offset %llu", j->dest, (unsigned long long)off), -1;
	atomic_fetch_add(&j->read, (uint64_t)got);
	memset(t->have + got, 0, blen - (size_t)got);
	if (is_hole) {
		if (eng_all_zero(t->have, blen))
			return 1;
		if (j->device)
			return 0; /* written as zeros */
		if (fallocate(j->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)blen) != 0)
			return eng_fail_errno(err, "cannot clear %s at offset %llu", j->dest, (unsigned long long)off), -1;
		atomic_fetch_add(&j->written, blen);
		return 1;
	}
	if ((size_t)got < blen)
		return 0;
	uint8_t have_id[ENG_ID_LEN];
	eng_codec_id(t->codec, t->have, blen, have_id);
	return memcmp(have_id, id, ENG_ID_LEN) == 0;
}

/* A block read from the store: gathered with its neighbours in the image
 * and written in runs. */
static int place_block(void *ctx, const eng_fetch *f, const uint8_t *plain, size_t len, eng_err *err)
{
	struct restore_tls *t = ctx;
	struct restore_job *j = t->j;
	const eng_point *pt = j->pt;
	uint32_t bs = pt->info.block_size;
	uint64_t off = (t->first + f->tag) * bs;
	size_t blen = pt->info.size - off < bs ? (size_t)(pt->info.size - off) : bs;
	if (len != blen)
		return eng_fail(err, ENG_ECORRUPT, "a block of point %s has %zu bytes, expected %zu", pt->info.id, len, blen);
	if (eng_par_stopping(&j->par))
		return ENG_ECANCEL;
	int rc = ENG_OK;
	if (t->out_len && (t->out_off + t->out_len != off || t->out_len + blen > j->gather))
		rc = flush(j, t, err);
	if (rc)
		return rc;
	if (!t->out_len)
		t->out_off = off;
	memcpy(t->out + t->out_len, plain, blen);
	t->out_len += blen;
	atomic_fetch_add(&j->par.done_bytes, blen);
	return ENG_OK;
}

/* Restores one segment: reads its block list, decides which blocks need
 * data from the store (not holes; with --delta, not already in DEST), then
 * reads those in pack order with few large requests. */
static int restore_segment(void *ctx, void *tlsp, size_t k, eng_err *err)
{
	struct restore_job *j = ctx;
	struct restore_tls *t = tlsp;
	const eng_point *pt = j->pt;
	uint32_t bs = pt->info.block_size;
	uint64_t first = (uint64_t)k * ENG_SEGMENT_BLOCKS;
	uint64_t nb = pt->blocks - first < ENG_SEGMENT_BLOCKS ? pt->blocks - first : ENG_SEGMENT_BLOCKS;
	size_t len;
	int rc = eng_chunk_read(j->s, t->codec, pt->lists[k], t->blob, t->list, ENG_LIST_BYTES, &len, err);
	if (rc)
		return rc;
	if (len != nb * ENG_ID_LEN) {
		char hex[2 * ENG_ID_LEN + 1];
		eng_hex(pt->lists[k], ENG_ID_LEN, hex);
		return eng_fail(err, ENG_ECORRUPT, "block list %s of point %s has %zu entries, expected %llu", hex,
				pt->info.id, len / ENG_ID_LEN, (unsigned long long)nb);
	}
	static const uint8_t hole[ENG_ID_LEN];
	size_t nwant = 0;
	t->first = first;
	t->out_len = 0;
	for (uint64_t i = 0; i < nb && rc == ENG_OK; i++) {
		if (eng_par_stopping(&j->par))
			return ENG_OK;
		uint64_t off = (first + i) * bs;
		size_t blen = pt->info.size - off < bs ? (size_t)(pt->info.size - off) : bs;
		const uint8_t *id = t->list + i * ENG_ID_LEN;
		bool is_hole = memcmp(id, hole, ENG_ID_LEN) == 0;
		if (j->delta) {
			int same = delta_same(j, t, id, is_hole, off, blen, err);
			if (same < 0)
				return err->status;
			if (same) {
				atomic_fetch_add(&j->par.done_bytes, blen);
				continue;
			}
		}
		if (is_hole && j->device) { /* a device keeps no holes: write zeros */
			if (t->out_len && (t->out_off + t->out_len != off || t->out_len + blen > j->gather))
				rc = flush(j, t, err);
			if (!t->out_len)
				t->out_off = off;
			memset(t->out + t->out_len, 0, blen);
			t->out_len += blen;
		}
		if (is_hole) {
			atomic_fetch_add(&j->par.done_bytes, blen);
			continue;
		}
		memcpy(t->want[nwant].id, id, ENG_ID_LEN);
		t->want[nwant++].tag = i;
	}
	if (!rc)
		rc = eng_fetch_run(j->s, t->codec, &t->fetcher, t->want, nwant, place_block, t, err);
	if (rc == ENG_ECANCEL && eng_par_stopping(&j->par))
		return ENG_OK;
	if (rc == ENG_OK)
		rc = flush(j, t, err);
	return rc;
}

static void drop_file(int dirfd, const char *name, bool is_dir)
{
	if (!is_dir)
		unlinkat(dirfd, name, 0);
}

/* Opens where the point goes: a temporary file beside DEST, or DEST itself for a device. */
static int open_dest(struct restore_job *j, const eng_restore_opts *o, char *tmp, mode_t *mode, eng_err *err)
{
	struct stat st;
	*mode = 0600;
	if (o->delta) {
		/* In place, so never through a symlink: what it points to may be
		 * anything, and may change between a check and the writes. */
		if (lstat(j->dest, &st) != 0)
			return eng_fail(err, ENG_EINPUT, "%s: %s (--delta updates an existing image)", j->dest, strerror(errno));
		if (S_ISLNK(st.st_mode))
			return eng_fail(err, ENG_EINPUT,
					"%s is a symlink: --delta writes only to the image file or block device itself; "
					"give its own path", j->dest);
		if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
			return eng_fail(err, ENG_EINPUT, "%s is not an image file or block device", j->dest);
		j->device = S_ISBLK(st.st_mode);
		j->fd = open(j->dest, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (j->fd < 0)
			return eng_fail_errno(err, "cannot open %s", j->dest);
		struct stat now;
		if (fstat(j->fd, &now) != 0 || now.st_dev != st.st_dev || now.st_ino != st.st_ino)
			return eng_fail(err, ENG_EINPUT, "%s was replaced while it was opened", j->dest);
		if (j->device && (uint64_t)lseek(j->fd, 0, SEEK_END) < j->pt->info.size)
			return eng_fail(err, ENG_EINPUT, "%s is smaller than the point", j->dest);
		return ENG_OK;
	}
	if (lstat(j->dest, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return eng_fail(err, ENG_EINPUT, "%s is a folder: give the path of the image file to write", j->dest);
		if (!o->force)
			return eng_fail(err, ENG_EEXIST, "%s exists: give --force to replace it", j->dest);
		if (S_ISBLK(st.st_mode)) {
			j->device = true;
			j->fd = open(j->dest, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
			if (j->fd < 0)
				return eng_fail_errno(err, "cannot open %s", j->dest);
			uint64_t devsize = (uint64_t)lseek(j->fd, 0, SEEK_END);
			if (devsize < j->pt->info.size)
				return eng_fail(err, ENG_EINPUT, "%s holds %llu bytes, the point needs %llu", j->dest,
						(unsigned long long)devsize, (unsigned long long)j->pt->info.size);
			return ENG_OK;
		}
		if (!S_ISREG(st.st_mode))
			return eng_fail(err, ENG_EINPUT, "%s is not a regular file or block device", j->dest);
		*mode = st.st_mode & 07777;
	} else if (errno != ENOENT) {
		return eng_fail_errno(err, "cannot check %s", j->dest);
	}
	char copy[PATH_MAX];
	snprintf(copy, sizeof(copy), "%s", j->dest);
	char *base = basename(copy);
	char dcopy[PATH_MAX];
	snprintf(dcopy, sizeof(dcopy), "%s", j->dest);
	char *dir = dirname(dcopy);
	char hex[13];
	int rc = eng_random_hex(hex, 6, err);
	if (rc)
		return rc;
	if (snprintf(tmp, PATH_MAX, "%s/.%s.lifeboat-%s", dir, base, hex) >= PATH_MAX)
		return eng_fail(err, ENG_EINPUT, "%s: path too long", j->dest);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) { /* what restores that were killed left here */
		eng_stale_restores(dfd, base, drop_file);
		close(dfd);
	}
	j->fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (j->fd < 0) {
		if (errno == ENOENT)
			return eng_fail(err, ENG_EINPUT, "%s: the folder %s does not exist", j->dest, dir);
		return eng_fail_errno(err, "cannot create a file beside %s", j->dest);
	}
	flock(j->fd, LOCK_EX); /* ours while we run: see eng_stale_restores */
	if (ftruncate(j->fd, (off_t)j->pt->info.size) != 0)
		return eng_fail_errno(err, "cannot size %s to %llu bytes", j->dest, (unsigned long long)j->pt->info.size);
	return ENG_OK;
}

/* Renames the finished image to dest. Without force, a dest that appeared
 * while restoring is not replaced (RENAME_NOREPLACE, or link(2) where the
 * file system lacks it). */
static int put_in_place(const char *tmp, const char *dest, bool force, eng_err *err)
{
	if (force) {
		if (rename(tmp, dest) != 0)
			return eng_fail_errno(err, "cannot put the restored image at %s", dest);
		return ENG_OK;
	}
	int r = renameat2(AT_FDCWD, tmp, AT_FDCWD, dest, RENAME_NOREPLACE);
	if (r != 0 && (errno == EINVAL || errno == ENOSYS)) {
		r = link(tmp, dest);
		if (r == 0)
			unlink(tmp);
	}
	if (r != 0 && errno == EEXIST)
		return eng_fail(err, ENG_EEXIST, "%s appeared while restoring and was not replaced (give --force to replace it)",
				dest);
	if (r != 0)
		return eng_fail_errno(err, "cannot put the restored image at %s", dest);
	return ENG_OK;
}

int eng_image_restore(eng_store *s, const eng_point *pt, const char *dest, const eng_restore_opts *opts,
		      eng_restore_result *res, eng_err *err)
{
	struct restore_job j = { .s = s, .dest = dest, .fd = -1, .pt = pt, .gather = GATHER, .delta = opts->delta,
				 .write_mu = PTHREAD_MUTEX_INITIALIZER };
	char tmp[PATH_MAX] = "";
	mode_t mode;
	if (j.gather < pt->info.block_size)
		j.gather = pt->info.block_size;
	int rc = open_dest(&j, opts, tmp, &mode, err);
	if (rc)
		goto out;
	j.par = (eng_par){ .items = pt->n_lists, .total_bytes = pt->info.size, .ctx = &j,
			   .make_tls = restore_tls_new, .end_tls = restore_tls_end, .work = restore_segment };
	/* Threads block on the disk now and then: twice as many keep the cores busy. */
	eng_run_opts run = opts->run;
	if (!run.threads) /* a remote store: more requests in flight hide the round trips */
		run.threads = s->be->remote ? 8 : 2 * eng_threads(NULL);
	rc = eng_par_run(&j.par, &run, err);
	if (rc)
		goto out;
	if (j.delta && !j.device && ftruncate(j.fd, (off_t)pt->info.size) != 0) {
		rc = eng_fail_errno(err, "cannot size %s", dest);
		goto out;
	}
	if (fsync(j.fd) != 0) {
		rc = eng_fail_errno(err, "cannot flush %s", dest);
		goto out;
	}
	if (!j.device && !j.delta) {
		if (fchmod(j.fd, mode) != 0) {
			rc = eng_fail_errno(err, "cannot set the mode of %s", dest);
			goto out;
		}
		if ((rc = put_in_place(tmp, dest, opts->force, err)))
			goto out;
		tmp[0] = 0;
		eng_fsync_dir_of(dest);
	}
	res->bytes_written = atomic_load(&j.written);
	res->bytes_read = atomic_load(&j.read);
out:
	if (j.fd >= 0)
		close(j.fd);
	if (tmp[0])
		unlink(tmp);
	return rc;
}

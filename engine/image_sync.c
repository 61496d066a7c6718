/* image_sync.c — a recovery point of a disk image or block device.
 *
 * The image is cut into fixed blocks; every ENG_SEGMENT_BLOCKS blocks form
 * a segment, the unit a worker thread takes. Per block: all zeros is a
 * hole (id of 32 zero bytes, nothing stored); otherwise the block is
 * hashed, and only when its id differs from the parent point's block at the
 * same place and is not already in the store is it sealed and packed. The
 * segment's list of ids is itself stored as a chunk, so an unchanged
 * segment costs nothing new. Holes of a sparse source are skipped with
 * SEEK_DATA without reading them. With changed-block tracking only the
 * listed ranges are read; every other block keeps the parent's id. Memory:
 * one read window per thread. */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytes.h"
#include "err.h"
#include "fsutil.h"
#include "packer.h"
#include "parallel.h"
#include "store.h"
#include "sync.h"

#define WINDOW (1u << 20)

struct sync_job {
	eng_store *s;
	eng_packer *pk;
	const char *source;
	int fd;
	bool regular;
	uint64_t size, nblocks;
	uint32_t bs, window;
	const eng_point *parent; /* same block size, or NULL */
	uint8_t *changed;        /* changed-block tracking: a bit per block, or NULL */
	uint8_t (*lists)[ENG_ID_LEN];
	_Atomic uint64_t bytes_read, added, chunks_added, holes;
	eng_par par;
};

struct sync_tls {
	eng_codec *codec;
	eng_pack_writer *writer;
	uint8_t *buf, *seal, *list, *plist, *blob;
	bool apart; /* blocks were skipped since the last one stored: start a new group */
};

static void *sync_tls_new(void *ctx)
{
	struct sync_job *j = ctx;
	struct sync_tls *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	size_t seal = eng_codec_bound(j->bs > ENG_LIST_BYTES ? j->bs : ENG_LIST_BYTES);
	t->codec = eng_codec_new(&j->s->keys, j->s->zstd_level);
	t->writer = eng_pack_writer_new(j->pk);
	t->buf = malloc(j->window);
	t->seal = malloc(seal);
	t->blob = malloc(seal);
	t->list = malloc(ENG_LIST_BYTES);
	t->plist = malloc(ENG_LIST_BYTES);
	if (!t->codec || !t->writer || !t->buf || !t->seal || !t->blob || !t->list || !t->plist) {
		eng_codec_free(t->codec);
		eng_pack_writer_close(t->writer, true, NULL, NULL);
		free(t->buf); free(t->seal); free(t->blob); free(t->list); free(t->plist);
		free(t);
		return NULL;
	}
	return t;
}

/* Finishes the thread's open pack, or drops it when the run failed. */
static int sync_tls_end(void *ctx, void *p, bool failed, eng_err *err)
{
	struct sync_job *j = ctx;
	struct sync_tls *t = p;
	eng_put_stats last = { 0 };
	int rc = eng_pack_writer_close(t->writer, failed, &last, err);
	atomic_fetch_add(&j->added, last.bytes);
	eng_codec_free(t->codec);
	free(t->buf); free(t->seal); free(t->blob); free(t->list); free(t->plist);
	free(t);
	return rc;
}

/* True when [off, off+len) of a regular file holds no data (a hole). */
static bool window_is_hole(struct sync_job *j, uint64_t off, uint64_t len)
{
	if (!j->regular)
		return false;
	off_t data = lseek(j->fd, (off_t)off, SEEK_DATA);
	if (data < 0)
		return errno == ENXIO;
	return (uint64_t)data >= off + len;
}

/* Loads the parent's block list for segment k into t->plist; false if none. */
static bool parent_list(struct sync_job *j, struct sync_tls *t, size_t k, size_t *n_ids)
{
	if (!j->parent || k >= j->parent->n_lists)
		return false;
	eng_loc loc;
	char obj[128];
	size_t len;
	if (!eng_packer_lookup(j->pk, j->parent->lists[k], &loc, obj) ||
	    eng_chunk_read_at(j->s, t->codec, j->parent->lists[k], &loc, obj, t->blob, t->plist, ENG_LIST_BYTES, &len,
			      NULL) != ENG_OK)
		return false; /* unreadable parent: just no shortcut */
	*n_ids = len / ENG_ID_LEN;
	return true;
}

struct seg_stats {
	uint64_t holes, read_bytes;
	eng_put_stats put;
};

/* Ids of the n blocks of buf (len bytes) that start at block b0 of the
 * segment: zeros are holes, a block like the parent's costs nothing, the
 * rest is stored. */
static int store_blocks(struct sync_job *j, struct sync_tls *t, const uint8_t *buf, size_t b0, size_t n, uint64_t len,
			bool have_parent, size_t n_parent, struct seg_stats *st, eng_err *err)
{
	int rc = ENG_OK;
	for (size_t i = 0; i < n && rc == ENG_OK; i++) {
		const uint8_t *blk = buf + i * j->bs;
		size_t blen = len - i * j->bs < j->bs ? len - i * j->bs : j->bs;
		uint8_t *id = t->list + (b0 + i) * ENG_ID_LEN;
		if (eng_all_zero(blk, blen)) {
			memset(id, 0, ENG_ID_LEN);
			st->holes++;
			continue;
		}
		eng_codec_id(t->codec, blk, blen, id);
		if (have_parent && b0 + i < n_parent && memcmp(id, t->plist + (b0 + i) * ENG_ID_LEN, ENG_ID_LEN) == 0) {
			t->apart = true;
			continue;
		}
		if (t->apart && (rc = eng_pack_writer_break(t->writer, &st->put, err)))
			break;
		t->apart = false;
		rc = eng_packer_store(t->writer, t->codec, id, ENG_CHUNK_DATA, blk, blen, t->seal, &st->put, err);
	}
	return rc;
}

static int read_range(struct sync_job *j, uint8_t *buf, uint64_t off, uint64_t len, eng_err *err)
{
	ssize_t got = eng_pread_full(j->fd, buf, len, (off_t)off);
	if (got < 0)
		return eng_fail_errno(err, "cannot read %s at offset %llu", j->source, (unsigned long long)off);
	if ((uint64_t)got != len)
		return eng_fail(err, ENG_EIO, "%s shrank while it was read (short read at offset %llu)", j->source,
				(unsigned long long)off);
	return ENG_OK;
}

static bool block_changed(const struct sync_job *j, uint64_t b) { return j->changed[b >> 3] & (1u << (b & 7)); }

/* Changed-block tracking: in the window of blocks [b0, b0+n) of the
 * segment that starts at block first, reads only the runs of changed
 * blocks; every other block keeps the parent's id. */
static int sync_changed(struct sync_job *j, struct sync_tls *t, uint64_t first, size_t b0, size_t n, size_t n_parent,
			struct seg_stats *st, eng_err *err)
{
	int rc = ENG_OK;
	for (size_t i = 0; i < n && rc == ENG_OK;) {
		if (!block_changed(j, first + b0 + i)) {
			memcpy(t->list + (b0 + i) * ENG_ID_LEN, t->plist + (b0 + i) * ENG_ID_LEN, ENG_ID_LEN);
			t->apart = true;
			i++;
			continue;
		}
		size_t run = 1;
		while (i + run < n && block_changed(j, first + b0 + i + run))
			run++;
		uint64_t off = (first + b0 + i) * j->bs;
		uint64_t len = off + run * j->bs <= j->size ? run * j->bs : j->size - off;
		rc = read_range(j, t->buf, off, len, err);
		if (rc == ENG_OK) {
			st->read_bytes += len;
			rc = store_blocks(j, t, t->buf, b0 + i, run, len, true, n_parent, st, err);
		}
		i += run;
	}
	return rc;
}

static int sync_segment(void *ctx, void *tlsp, size_t k, eng_err *err)
{
	struct sync_job *j = ctx;
	struct sync_tls *t = tlsp;
	uint64_t first = (uint64_t)k * ENG_SEGMENT_BLOCKS;
	uint64_t nb = j->nblocks - first < ENG_SEGMENT_BLOCKS ? j->nblocks - first : ENG_SEGMENT_BLOCKS;
	uint64_t start = first * j->bs;
	uint64_t end = start + nb * j->bs < j->size ? start + nb * j->bs : j->size;
	size_t n_parent = 0;
	bool have_parent = parent_list(j, t, k, &n_parent);
	t->apart = true; /* a restore reads a segment's blocks together, not its neighbour's */
	if (j->changed && (!have_parent || n_parent != nb))
		return eng_fail(err, ENG_EINPUT, "the parent point's block list of segment %zu cannot be read: "
				"changed-block tracking needs it", k);
	struct seg_stats st = { 0 };
	int rc = ENG_OK;
	for (uint64_t off = start; off < end && rc == ENG_OK; off += j->window) {
		if (eng_par_stopping(&j->par))
			return ENG_OK; /* the failure or cancel is reported by the runner */
		uint64_t len = end - off < j->window ? end - off : j->window;
		size_t b0 = (size_t)((off - start) / j->bs);
		size_t nwin = (size_t)((len + j->bs - 1) / j->bs);
		if (j->changed) {
			rc = sync_changed(j, t, first, b0, nwin, n_parent, &st, err);
		} else if (window_is_hole(j, off, len)) {
			memset(t->list + b0 * ENG_ID_LEN, 0, nwin * ENG_ID_LEN);
			st.holes += nwin;
		} else {
			rc = read_range(j, t->buf, off, len, err);
			if (rc == ENG_OK) {
				st.read_bytes += len;
				rc = store_blocks(j, t, t->buf, b0, nwin, len, have_parent, n_parent, &st, err);
			}
		}
		atomic_fetch_add(&j->par.done_bytes, len);
	}
	if (rc == ENG_OK) {
		size_t list_len = (size_t)nb * ENG_ID_LEN;
		eng_codec_id(t->codec, t->list, list_len, j->lists[k]);
		rc = eng_packer_store(t->writer, t->codec, j->lists[k], ENG_CHUNK_META, t->list, list_len, t->seal, &st.put,
				      err);
	}
	atomic_fetch_add(&j->bytes_read, st.read_bytes);
	atomic_fetch_add(&j->holes, st.holes);
	atomic_fetch_add(&j->added, st.put.bytes);
	atomic_fetch_add(&j->chunks_added, st.put.chunks);
	return rc;
}

/* Sets the bits of blocks first..last, whole bytes at a time in between. */
static void mark_blocks(uint8_t *bits, uint64_t first, uint64_t last)
{
	for (; first <= last && (first & 7); first++)
		bits[first >> 3] |= (uint8_t)(1u << (first & 7));
	if (first + 8 <= last + 1) {
		uint64_t whole = (last + 1 - first) >> 3;
		memset(bits + (first >> 3), 0xff, (size_t)whole);
		first += whole << 3;
	}
	for (; first <= last; first++)
		bits[first >> 3] |= (uint8_t)(1u << (first & 7));
}

/* Reads the changed ranges ("OFFSET LENGTH" per line, bytes) into a bit per
 * block. */
static int load_changed(struct sync_job *j, const char *path, eng_err *err)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return eng_fail(err, ENG_EINPUT, "cannot read the changed ranges %s: %s", path, strerror(errno));
	j->changed = calloc((size_t)(j->nblocks / 8 + 1), 1);
	if (!j->changed) {
		fclose(f);
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	}
	char line[128];
	int rc = ENG_OK;
	for (unsigned n = 1; rc == ENG_OK && fgets(line, sizeof(line), f); n++) {
		unsigned long long off, len;
		char extra;
		if (sscanf(line, "%llu %llu %c", &off, &len, &extra) != 2 || !strchr(line, '\n'))
			rc = eng_fail(err, ENG_EINPUT, "%s:%u: not a line OFFSET LENGTH", path, n);
		else if (len == 0 || off > j->size || len > j->size - off)
			rc = eng_fail(err, ENG_EINPUT, "%s:%u: the range %llu+%llu is not inside the image's %llu bytes",
				      path, n, off, len, (unsigned long long)j->size);
		else
			mark_blocks(j->changed, off / j->bs, (off + len - 1) / j->bs);
	}
	if (rc == ENG_OK && ferror(f))
		rc = eng_fail(err, ENG_EIO, "cannot read %s", path);
	fclose(f);
	return rc;
}

static int open_source(const char *source, int *fd_out, uint64_t *size, bool *regular, eng_err *err)
{
	int fd = open(source, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0) {
		if (errno == ENOENT)
			return eng_fail(err, ENG_EINPUT, "%s: no such file", source);
		return eng_fail(err, errno == EACCES ? ENG_EINPUT : ENG_EIO, "cannot open %s: %s", source, strerror(errno));
	}
	if (fstat(fd, &st) != 0) {
		close(fd);
		return eng_fail_errno(err, "cannot stat %s", source);
	}
	*regular = S_ISREG(st.st_mode);
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, size) != 0) {
			close(fd);
			return eng_fail_errno(err, "cannot get the size of %s", source);
		}
	} else {
		close(fd);
		return eng_fail(err, ENG_EINPUT, "%s is not a regular file, block device or folder", source);
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	*fd_out = fd;
	return ENG_OK;
}

static bool valid_block_size(uint32_t bs)
{
	return bs >= ENG_MIN_BLOCK && bs <= ENG_MAX_BLOCK && (bs & (bs - 1)) == 0;
}

int eng_image_sync(eng_store *s, const char *source, const eng_sync_opts *opts, const eng_point *parent,
		   eng_point *pt, eng_err *err)
{
	if (opts->block_size && !valid_block_size(opts->block_size))
		return eng_fail(err, ENG_EINPUT, "block size %u is not a power of two from 4 KiB to 4 MiB", opts->block_size);
	struct sync_job j = { .s = s, .source = source, .fd = -1 };
	int rc = open_source(source, &j.fd, &j.size, &j.regular, err);
	if (rc)
		return rc;
	bool image_parent = parent && !strcmp(parent->info.kind, "image");
	j.bs = opts->block_size ? opts->block_size : image_parent ? parent->info.block_size : ENG_DEFAULT_BLOCK;
	if (image_parent && parent->info.block_size == j.bs)
		j.parent = parent;
	j.window = j.bs > WINDOW ? j.bs : WINDOW;
	j.nblocks = (j.size + j.bs - 1) / j.bs;
	if (opts->changed) {
		if (!j.parent || j.parent->info.size != j.size) {
			rc = eng_fail(err, ENG_EINPUT, "changed-block tracking needs a parent point of the same size "
				      "and block size (the image was resized or --block-size changed)");
			goto out;
		}
		rc = load_changed(&j, opts->changed, err);
		if (rc)
			goto out;
	}
	size_t nseg = (size_t)((j.nblocks + ENG_SEGMENT_BLOCKS - 1) / ENG_SEGMENT_BLOCKS);
	j.lists = nseg ? calloc(nseg, ENG_ID_LEN) : NULL;
	j.pk = eng_packer_new(s);
	if ((nseg && !j.lists) || !j.pk) {
		rc = eng_fail(err, ENG_ENOMEM, "out of memory");
		goto out;
	}
	j.par = (eng_par){ .items = nseg, .total_bytes = j.size, .ctx = &j,
			   .make_tls = sync_tls_new, .end_tls = sync_tls_end, .work = sync_segment };
	rc = eng_par_run(&j.par, &opts->run, err);
	/* Even when stopped, index what reached finished packs: the next sync reuses it. */
	eng_err ferr;
	int frc = eng_packer_finish(j.pk, rc ? &ferr : err);
	if (rc == ENG_OK)
		rc = frc;
	if (rc)
		goto out;
	strcpy(pt->info.kind, "image");
	pt->info.size = j.size;
	pt->info.block_size = j.bs;
	pt->info.added_bytes = atomic_load(&j.added);
	pt->blocks = j.nblocks;
	pt->lists = j.lists;
	j.lists = NULL;
	pt->n_lists = nseg;
	pt->bytes_read = atomic_load(&j.bytes_read);
	pt->chunks_added = atomic_load(&j.chunks_added);
	pt->holes = atomic_load(&j.holes);
out:
	eng_packer_free(j.pk);
	free(j.lists);
	free(j.changed);
	close(j.fd);
	return rc;
}

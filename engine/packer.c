/* packer.c — pack files and the index files that name them.
 * Pack layout:  "LBPACK01" blob* header-envelope u32(envelope length) "LBPKEND1"
 * The header envelope ("LBPKHDR1") lists the pack's entries, so a pack
 * describes itself and the index could be rebuilt from the packs alone. */
#include "packer.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bytes.h"
#include "envelope.h"
#include "err.h"
#include "fsutil.h"

#define PACK_MAGIC "LBPACK01"
#define INDEX_EVERY 32

#define WRITE_BUF (1u << 20)

struct open_pack {
	uint32_t no;
	uint8_t name[ENG_ID_LEN];
	eng_spool sp;
	uint64_t size;    /* bytes of the pack so far, buffered ones included */
	uint8_t *entries; /* ENG_ENTRY_LEN bytes each */
	size_t n, cap;
};

/* One per worker thread: its own open pack and write buffer, so appending
 * takes no lock and reaches the file in large aligned writes. */
struct eng_pack_writer {
	eng_packer *p;
	struct open_pack *cur;
	uint8_t *buf;
	size_t buffered;
	/* the group being gathered: members' ids, sizes and bytes */
	eng_codec *gcodec;
	uint8_t *gplain; /* ENG_GROUP_PLAIN_MAX: room for the header, then the bytes */
	uint8_t *gseal;
	uint8_t gids[ENG_GROUP_MEMBERS][ENG_ID_LEN];
	uint32_t glens[ENG_GROUP_MEMBERS];
	size_t gn, gbytes;
};

#define QUEUE_MAX 4 /* full packs waiting to be published */
#define PUBLISHERS_REMOTE 4 /* uploads in flight to a remote store */

struct eng_packer {
	eng_store *s;
	pthread_mutex_t mu; /* guards the chunk index and done */
	struct open_pack **done;
	size_t ndone, cap_done;
	eng_codec *index_codec; /* for the final index, after the publishers stopped */
	/* Publishing (header, fsync, rename or upload) runs on threads of its
	 * own so that workers never wait for the disk or the network: one for
	 * a local store, several for a remote one (each upload waits on round
	 * trips). Spools are files, so memory stays bounded. */
	pthread_t publishers[PUBLISHERS_REMOTE];
	int started;
	bool closing;
	pthread_mutex_t qmu;
	pthread_cond_t work, space;
	struct open_pack *queue[QUEUE_MAX];
	size_t qhead, qlen;
	int status; /* first publishing failure */
	eng_err err;
};

static int pack_done(eng_packer *p, eng_codec *c, struct open_pack *op, bool force_index, eng_err *err);

/* Frees a pack, dropping its spool file if it was not published. */
static void pack_free(eng_packer *p, struct open_pack *op)
{
	if (!op)
		return;
	eng_be_spool_abort(p->s->be, &op->sp);
	free(op->entries);
	free(op);
}

static void *publisher_main(void *arg)
{
	eng_packer *p = arg;
	eng_codec *c = eng_codec_new(&p->s->keys, p->s->zstd_level);
	pthread_mutex_lock(&p->qmu);
	if (!c && !p->status) {
		p->status = eng_fail(&p->err, ENG_ENOMEM, "out of memory");
		pthread_cond_broadcast(&p->space);
	}
	for (;;) {
		while (!p->qlen && !p->closing)
			pthread_cond_wait(&p->work, &p->qmu);
		if (!p->qlen)
			break;
		struct open_pack *op = p->queue[p->qhead];
		p->qhead = (p->qhead + 1) % QUEUE_MAX;
		p->qlen--;
		pthread_cond_broadcast(&p->space);
		int failed = p->status;
		pthread_mutex_unlock(&p->qmu);
		eng_err e;
		int rc = failed ? (pack_free(p, op), ENG_OK) : pack_done(p, c, op, false, &e);
		pthread_mutex_lock(&p->qmu);
		if (rc && !p->status) {
			p->status = rc;
			p->err = e;
			pthread_cond_broadcast(&p->space);
		}
	}
	pthread_mutex_unlock(&p->qmu);
	eng_codec_free(c);
	return NULL;
}

eng_packer *eng_packer_new(eng_store *s)
{
	eng_packer *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->s = s;
	p->index_codec = eng_codec_new(&s->keys, s->zstd_level);
	if (!p->index_codec) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_mutex_init(&p->qmu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->space, NULL);
	int want = s->be->remote ? PUBLISHERS_REMOTE : 1;
	while (p->started < want && pthread_create(&p->publishers[p->started], NULL, publisher_main, p) == 0)
		p->started++;
	if (!p->started) {
		eng_packer_free(p);
		return NULL;
	}
	return p;
}

/* Stops the publishers after they have published what is queued. */
static void stop_publisher(eng_packer *p)
{
	if (!p->started)
		return;
	pthread_mutex_lock(&p->qmu);
	p->closing = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->qmu);
	for (int i = 0; i < p->started; i++)
		pthread_join(p->publishers[i], NULL);
	p->started = 0;
}

/* Hands a full pack to the publisher; fails when publishing already failed. */
static int enqueue(eng_packer *p, struct open_pack *op, eng_err *err)
{
	pthread_mutex_lock(&p->qmu);
	while (p->qlen == QUEUE_MAX && !p->status)
		pthread_cond_wait(&p->space, &p->qmu);
	int rc = p->status;
	if (rc) {
		if (err)
			*err = p->err;
	} else {
		p->queue[(p->qhead + p->qlen) % QUEUE_MAX] = op;
		p->qlen++;
		pthread_cond_signal(&p->work);
	}
	pthread_mutex_unlock(&p->qmu);
	if (rc)
		pack_free(p, op);
	return rc;
}

void eng_packer_free(eng_packer *p)
{
	if (!p)
		return;
	stop_publisher(p);
	for (size_t i = 0; i < p->ndone; i++)
		pack_free(p, p->done[i]);
	free(p->done);
	eng_codec_free(p->index_codec);
	pthread_mutex_destroy(&p->mu);
	pthread_mutex_destroy(&p->qmu);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->space);
	free(p);
}

bool eng_packer_lookup(eng_packer *p, const uint8_t id[ENG_ID_LEN], eng_loc *loc, char obj[128])
{
	pthread_mutex_lock(&p->mu);
	bool found = eng_cindex_get(p->s->ci, id, loc) && loc->pack != ENG_PACK_PENDING;
	if (found)
		eng_pack_object(eng_cindex_pack(p->s->ci, loc->pack)->name, obj);
	pthread_mutex_unlock(&p->mu);
	return found;
}

static int pack_open(eng_pack_writer *w, eng_err *err)
{
	eng_packer *p = w->p;
	struct open_pack *op = calloc(1, sizeof(*op));
	if (!op)
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	op->sp.fd = -1;
	int rc = eng_random(op->name, ENG_ID_LEN, err);
	if (!rc)
		rc = eng_be_spool_open(p->s->be, &op->sp, err);
	if (!rc) {
		pthread_mutex_lock(&p->mu);
		op->no = eng_cindex_add_pack(p->s->ci, op->name, 0);
		pthread_mutex_unlock(&p->mu);
		if (op->no == UINT32_MAX)
			rc = eng_fail(err, ENG_ENOMEM, "out of memory");
	}
	if (rc) {
		pack_free(p, op);
		return rc;
	}
	memcpy(w->buf, PACK_MAGIC, 8);
	w->buffered = 8;
	op->size = 8;
	w->cur = op;
	return ENG_OK;
}

static int writer_flush(eng_pack_writer *w, eng_err *err)
{
	if (w->buffered && eng_write_all(w->cur->sp.fd, w->buf, w->buffered) != 0)
		return eng_fail_errno(err, "cannot write pack %s", w->cur->sp.path);
	w->buffered = 0;
	return ENG_OK;
}

static int pack_seal(eng_packer *p, eng_codec *c, struct open_pack *op, eng_err *err)
{
	uint8_t *hdr = malloc(4 + op->n * ENG_ENTRY_LEN), *env = NULL, tail[12];
	size_t env_len;
	char obj[128];
	if (!hdr)
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	put_u32(hdr, (uint32_t)op->n);
	memcpy(hdr + 4, op->entries, op->n * ENG_ENTRY_LEN);
	int rc = eng_envelope_seal(c, "LBPKHDR1", hdr, 4 + op->n * ENG_ENTRY_LEN, &env, &env_len, NULL, err);
	free(hdr);
	if (rc)
		return rc;
	put_u32(tail, (uint32_t)env_len);
	memcpy(tail + 4, "LBPKEND1", 8);
	if (eng_write_all(op->sp.fd, env, env_len) != 0 || eng_write_all(op->sp.fd, tail, sizeof(tail)) != 0 ||
	    fsync(op->sp.fd) != 0)
		rc = eng_fail_errno(err, "cannot write pack %s", op->sp.path);
	free(env);
	if (rc)
		return rc;
	op->size += env_len + sizeof(tail);
	eng_pack_object(op->name, obj);
	return eng_be_spool_publish(p->s->be, &op->sp, obj, err);
}

int eng_index_write(eng_store *s, eng_codec *c, const eng_index_pack *packs, size_t n, char name_out[80],
		    eng_err *err)
{
	size_t len = 4;
	for (size_t i = 0; i < n; i++)
		len += ENG_ID_LEN + 12 + packs[i].count * ENG_ENTRY_LEN;
	uint8_t *body = malloc(len), *env = NULL, id[ENG_ID_LEN];
	if (!body)
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	size_t pos = 4, env_len;
	put_u32(body, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		memcpy(body + pos, packs[i].name, ENG_ID_LEN);
		put_u64(body + pos + ENG_ID_LEN, packs[i].size);
		put_u32(body + pos + ENG_ID_LEN + 8, (uint32_t)packs[i].count);
		pos += ENG_ID_LEN + 12;
		memcpy(body + pos, packs[i].entries, packs[i].count * ENG_ENTRY_LEN);
		pos += packs[i].count * ENG_ENTRY_LEN;
	}
	int rc = eng_envelope_seal(c, "LBINDEX1", body, len, &env, &env_len, id, err);
	free(body);
	if (!rc) {
		char hex[2 * ENG_ID_LEN + 1], name[80];
		eng_hex(id, ENG_ID_LEN, hex);
		snprintf(name, sizeof(name), "index/%s", hex);
		rc = eng_be_put(s->be, name, env, env_len, err);
		if (name_out)
			memcpy(name_out, name, sizeof(name));
	}
	free(env);
	return rc;
}

static int write_index(eng_packer *p, eng_codec *c, struct open_pack **packs, size_t n, eng_err *err)
{
	eng_index_pack *v = malloc((n ? n : 1) * sizeof(*v));
	if (!v)
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		v[i] = (eng_index_pack){ .name = packs[i]->name, .size = packs[i]->size, .entries = packs[i]->entries,
					 .count = packs[i]->n };
	int rc = eng_index_write(p->s, c, v, n, NULL, err);
	free(v);
	return rc;
}

/* With mu held: a published pack's entries enter the index, and the pack
 * waits in done for the next index file. Frees op on failure. */
static int adopt_pack(eng_packer *p, struct open_pack *op, eng_err *err)
{
	eng_cindex_set_pack_size(p->s->ci, op->no, op->size);
	for (size_t i = 0; i < op->n; i++) {
		uint8_t id[ENG_ID_LEN];
		eng_loc loc;
		eng_entry_get(op->entries + i * ENG_ENTRY_LEN, id, &loc);
		loc.pack = op->no;
		if (eng_cindex_put(p->s->ci, id, &loc) != 0)
			goto oom;
	}
	if (p->ndone == p->cap_done) {
		size_t cap = p->cap_done ? 2 * p->cap_done : INDEX_EVERY;
		struct open_pack **d = realloc(p->done, cap * sizeof(*d));
		if (!d)
			goto oom;
		p->done = d;
		p->cap_done = cap;
	}
	p->done[p->ndone++] = op;
	return ENG_OK;
oom:
	pack_free(p, op);
	return eng_fail(err, ENG_ENOMEM, "out of memory");
}

/* Publishes a full pack (op may be NULL) and, every INDEX_EVERY packs or
 * when forced, writes an index file for the published ones. */
static int pack_done(eng_packer *p, eng_codec *c, struct open_pack *op, bool force_index, eng_err *err)
{
	int rc = op ? pack_seal(p, c, op, err) : ENG_OK;
	if (rc) {
		pack_free(p, op);
		return rc;
	}
	struct open_pack **take = NULL;
	size_t ntake = 0;
	pthread_mutex_lock(&p->mu);
	if (op)
		rc = adopt_pack(p, op, err);
	if (!rc && p->ndone && (force_index || p->ndone >= INDEX_EVERY)) {
		take = p->done;
		ntake = p->ndone;
		p->done = NULL;
		p->ndone = p->cap_done = 0;
	}
	pthread_mutex_unlock(&p->mu);
	if (ntake)
		rc = write_index(p, c, take, ntake, err);
	for (size_t i = 0; i < ntake; i++)
		pack_free(p, take[i]);
	free(take);
	return rc;
}

eng_pack_writer *eng_pack_writer_new(eng_packer *p)
{
	eng_pack_writer *w = calloc(1, sizeof(*w));
	if (!w || !(w->buf = malloc(WRITE_BUF))) {
		free(w);
		return NULL;
	}
	w->p = p;
	return w;
}

static int group_seal(eng_pack_writer *w, eng_put_stats *added, eng_err *err);

int eng_pack_writer_close(eng_pack_writer *w, bool discard, eng_put_stats *added, eng_err *err)
{
	if (!w)
		return ENG_OK;
	int rc = discard ? ENG_OK : group_seal(w, added, err);
	struct open_pack *op = w->cur;
	if (op && (discard || rc || op->n == 0)) {
		pack_free(w->p, op);
	} else if (op) {
		rc = writer_flush(w, err);
		if (rc)
			pack_free(w->p, op);
		else
			rc = enqueue(w->p, op, err);
	}
	eng_codec_free(w->gcodec);
	free(w->gplain);
	free(w->gseal);
	free(w->buf);
	free(w);
	return rc;
}

/* Appends a sealed blob holding the n chunks ids to the writer's open pack,
 * publishing the pack when full. */
static int append_blob(eng_pack_writer *w, const uint8_t (*ids)[ENG_ID_LEN], const eng_loc *locs, size_t n,
		       const uint8_t *blob, size_t blob_len, eng_err *err)
{
	eng_packer *p = w->p;
	int rc;
	if (!w->cur && (rc = pack_open(w, err)))
		return rc;
	struct open_pack *op = w->cur;
	if (op->n + n > op->cap) {
		size_t cap = op->cap ? 2 * op->cap : 1024;
		while (cap < op->n + n)
			cap *= 2;
		uint8_t *e = realloc(op->entries, cap * ENG_ENTRY_LEN);
		if (!e)
			return eng_fail(err, ENG_ENOMEM, "out of memory");
		op->entries = e;
		op->cap = cap;
	}
	if (w->buffered + blob_len > WRITE_BUF && (rc = writer_flush(w, err)))
		return rc;
	if (blob_len > WRITE_BUF) {
		if (eng_write_all(op->sp.fd, blob, blob_len) != 0)
			return eng_fail_errno(err, "cannot write pack %s", op->sp.path);
	} else {
		memcpy(w->buf + w->buffered, blob, blob_len);
		w->buffered += blob_len;
	}
	for (size_t i = 0; i < n; i++) {
		eng_loc loc = locs[i];
		loc.offset = (uint32_t)op->size;
		loc.length = (uint32_t)blob_len;
		eng_entry_put(op->entries + op->n * ENG_ENTRY_LEN, ids[i], &loc);
		op->n++;
	}
	op->size += blob_len;
	if (op->size < p->s->pack_target)
		return ENG_OK;
	if ((rc = writer_flush(w, err)))
		return rc;
	w->cur = NULL;
	return enqueue(p, op, err);
}

/* Seals the gathered group, if any, and appends it; a group of one is
 * sealed as the chunk itself. */
static int group_seal(eng_pack_writer *w, eng_put_stats *added, eng_err *err)
{
	size_t n = w->gn, blob_len;
	if (!n)
		return ENG_OK;
	eng_loc locs[ENG_GROUP_MEMBERS];
	for (size_t i = 0; i < n; i++)
		locs[i] = (eng_loc){ .raw_length = w->glens[i], .type = ENG_CHUNK_DATA, .grouped = n > 1 };
	uint8_t *data = w->gplain + ENG_GROUP_HEAD(ENG_GROUP_MEMBERS), *plain = data - ENG_GROUP_HEAD(n);
	int rc;
	if (n == 1) {
		rc = eng_codec_seal(w->gcodec, w->gids[0], data, w->gbytes, w->gseal, &blob_len, err);
	} else {
		put_u32(plain, (uint32_t)n);
		for (size_t i = 0; i < n; i++) {
			memcpy(plain + ENG_GROUP_HEAD(i), w->gids[i], ENG_ID_LEN);
			put_u32(plain + ENG_GROUP_HEAD(i) + ENG_ID_LEN, w->glens[i]);
		}
		rc = eng_codec_seal_group(w->gcodec, plain, ENG_GROUP_HEAD(n) + w->gbytes, w->gseal, &blob_len, err);
	}
	w->gn = w->gbytes = 0;
	if (!rc)
		rc = append_blob(w, w->gids, locs, n, w->gseal, blob_len, err);
	if (!rc && added)
		added->bytes += blob_len;
	return rc;
}

/* Adds a claimed chunk to the writer's group, sealing the group first when
 * the chunk would not fit. */
static int group_add(eng_pack_writer *w, const uint8_t id[ENG_ID_LEN], const void *data, size_t len,
		     eng_put_stats *added, eng_err *err)
{
	if (!w->gplain) {
		eng_store *s = w->p->s;
		w->gcodec = eng_codec_new(&s->keys, s->zstd_level);
		w->gplain = malloc(ENG_GROUP_PLAIN_MAX);
		w->gseal = malloc(eng_codec_bound(ENG_GROUP_PLAIN_MAX));
		if (!w->gcodec || !w->gplain || !w->gseal)
			return eng_fail(err, ENG_ENOMEM, "out of memory");
	}
	int rc;
	if ((w->gn == ENG_GROUP_MEMBERS || w->gbytes + len > ENG_GROUP_BYTES) && (rc = group_seal(w, added, err)))
		return rc;
	memcpy(w->gids[w->gn], id, ENG_ID_LEN);
	w->glens[w->gn] = (uint32_t)len;
	memcpy(w->gplain + ENG_GROUP_HEAD(ENG_GROUP_MEMBERS) + w->gbytes, data, len);
	w->gn++;
	w->gbytes += len;
	return ENG_OK;
}

int eng_packer_store(eng_pack_writer *w, eng_codec *c, const uint8_t id[ENG_ID_LEN], uint8_t type,
		     const void *data, size_t len, uint8_t *sealbuf, eng_put_stats *added, eng_err *err)
{
	eng_packer *p = w->p;
	eng_loc loc = { .pack = ENG_PACK_PENDING, .raw_length = (uint32_t)len, .type = type };
	pthread_mutex_lock(&p->mu);
	bool known = eng_cindex_get(p->s->ci, id, NULL);
	int rc = known ? ENG_OK : eng_cindex_put(p->s->ci, id, &loc) ? ENG_ENOMEM : ENG_OK;
	pthread_mutex_unlock(&p->mu);
	if (rc)
		return eng_fail(err, rc, "out of memory");
	if (known)
		return ENG_OK;
	added->chunks++;
	/* random-looking chunks are sealed alone: they gain nothing in a
	 * group but would cost its compression time */
	if (p->s->group_chunks && type == ENG_CHUNK_DATA && len <= ENG_GROUP_MEMBER_MAX &&
	    eng_codec_compressible(data, len))
		return group_add(w, id, data, len, added, err);
	size_t blob_len;
	rc = eng_codec_seal(c, id, data, len, sealbuf, &blob_len, err);
	if (rc)
		return rc;
	added->bytes += blob_len;
	return append_blob(w, (const uint8_t(*)[ENG_ID_LEN])id, &loc, 1, sealbuf, blob_len, err);
}

int eng_pack_writer_break(eng_pack_writer *w, eng_put_stats *added, eng_err *err)
{
	return group_seal(w, added, err);
}

int eng_packer_copy(eng_pack_writer *w, const uint8_t (*ids)[ENG_ID_LEN], const eng_loc *locs, size_t n,
		    const uint8_t *blob, size_t blob_len, eng_err *err)
{
	return append_blob(w, ids, locs, n, blob, blob_len, err);
}

int eng_packer_finish(eng_packer *p, eng_err *err)
{
	stop_publisher(p);
	if (p->status) {
		if (err)
			*err = p->err;
		return p->status;
	}
	return pack_done(p, p->index_codec, NULL, true, err);
}

/* The largest plain chunk a writer makes: a 4 MiB image block. */
#define CHUNK_MAX (4u << 20)

int eng_pack_read_header(eng_store *s, eng_codec *c, const char *obj, uint64_t size, uint8_t **entries,
			 uint32_t *count, eng_err *err)
{
	uint8_t head[8], tail[12], *env = NULL, *hdr = NULL;
	size_t hdr_len;
	const char *where = s->be->where;
	if (size < 8 + ENG_ENVELOPE_HEAD + sizeof(tail))
		return eng_fail(err, ENG_ECORRUPT, "%s/%s: too short to be a pack (%llu bytes)", where, obj,
				(unsigned long long)size);
	int rc = eng_be_get(s->be, obj, 0, head, sizeof(head), err);
	if (!rc)
		rc = eng_be_get(s->be, obj, size - sizeof(tail), tail, sizeof(tail), err);
	if (rc)
		return rc;
	uint32_t env_len = get_u32(tail);
	if (memcmp(head, PACK_MAGIC, 8) || memcmp(tail + 4, "LBPKEND1", 8))
		return eng_fail(err, ENG_ECORRUPT, "%s/%s: not a pack (bad magic)", where, obj);
	if (env_len < ENG_ENVELOPE_HEAD || env_len > size - 8 - sizeof(tail) || env_len > ENG_OBJECT_MAX)
		return eng_fail(err, ENG_ECORRUPT, "%s/%s: header length %u out of range", where, obj, env_len);
	uint64_t end = size - sizeof(tail) - env_len; /* where the blobs end */
	if (!(env = malloc(env_len)))
		return eng_fail(err, ENG_ENOMEM, "out of memory reading %s", obj);
	char name[200];
	snprintf(name, sizeof(name), "%s/%s header", where, obj);
	rc = eng_be_get(s->be, obj, end, env, env_len, err);
	if (!rc)
		rc = eng_envelope_open(c, "LBPKHDR1", env, env_len, name, &hdr, &hdr_len, NULL, err);
	free(env);
	if (rc)
		return rc;
	uint32_t n = hdr_len >= 4 ? get_u32(hdr) : 0;
	if (hdr_len < 4 || (hdr_len - 4) % ENG_ENTRY_LEN || (hdr_len - 4) / ENG_ENTRY_LEN != n) {
		free(hdr);
		return eng_fail(err, ENG_ECORRUPT, "%s: malformed", name);
	}
	for (uint32_t i = 0; i < n; i++) {
		uint8_t id[ENG_ID_LEN];
		eng_loc loc;
		eng_entry_get(hdr + 4 + (size_t)i * ENG_ENTRY_LEN, id, &loc);
		if (loc.offset < 8 || (uint64_t)loc.offset + loc.length > end || loc.type > ENG_CHUNK_META ||
		    loc.raw_length > CHUNK_MAX ||
		    loc.length > eng_codec_bound(loc.grouped ? ENG_GROUP_PLAIN_MAX : loc.raw_length)) {
			free(hdr);
			return eng_fail(err, ENG_ECORRUPT, "%s: entry %u out of range", name, i);
		}
	}
	memmove(hdr, hdr + 4, (size_t)n * ENG_ENTRY_LEN);
	*entries = hdr;
	*count = n;
	return ENG_OK;
}

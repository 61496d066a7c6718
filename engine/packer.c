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

struct open_pack {
	uint32_t no;
	uint8_t name[ENG_ID_LEN];
	int fd;
	char path[PATH_MAX];
	uint64_t size;
	uint8_t *entries; /* ENG_ENTRY_LEN bytes each */
	size_t n, cap;
};

struct eng_packer {
	eng_store *s;
	pthread_mutex_t mu;
	struct open_pack *cur;
	struct open_pack **done;
	size_t ndone, cap_done;
	pthread_mutex_t index_mu; /* one index file written at a time */
	eng_codec *index_codec;
};

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
	pthread_mutex_init(&p->index_mu, NULL);
	return p;
}

static void pack_free(struct open_pack *op, bool unlink_spool)
{
	if (!op)
		return;
	if (op->fd >= 0) {
		close(op->fd);
		if (unlink_spool)
			unlink(op->path);
	}
	free(op->entries);
	free(op);
}

void eng_packer_free(eng_packer *p)
{
	if (!p)
		return;
	pack_free(p->cur, true);
	for (size_t i = 0; i < p->ndone; i++)
		pack_free(p->done[i], false);
	free(p->done);
	eng_codec_free(p->index_codec);
	pthread_mutex_destroy(&p->mu);
	pthread_mutex_destroy(&p->index_mu);
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

/* Called with mu held. */
static int pack_open(eng_packer *p, eng_err *err)
{
	struct open_pack *op = calloc(1, sizeof(*op));
	if (!op)
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	op->fd = -1;
	int rc = eng_random(op->name, ENG_ID_LEN, err);
	if (!rc) {
		op->fd = p->s->be->ops->spool(p->s->be, op->path, sizeof(op->path), err);
		if (op->fd < 0)
			rc = err ? err->status : ENG_EIO;
	}
	if (!rc && eng_write_all(op->fd, PACK_MAGIC, 8) != 0)
		rc = eng_fail_errno(err, "cannot write %s", op->path);
	if (!rc && (op->no = eng_cindex_add_pack(p->s->ci, op->name, 0)) == UINT32_MAX)
		rc = eng_fail(err, ENG_ENOMEM, "out of memory");
	if (rc) {
		pack_free(op, true);
		return rc;
	}
	op->size = 8;
	p->cur = op;
	return ENG_OK;
}

static int pack_seal(eng_packer *p, struct open_pack *op, eng_err *err)
{
	uint8_t *hdr = malloc(4 + op->n * ENG_ENTRY_LEN), *env = NULL, tail[12];
	size_t env_len;
	char obj[128];
	if (!hdr)
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	put_u32(hdr, (uint32_t)op->n);
	memcpy(hdr + 4, op->entries, op->n * ENG_ENTRY_LEN);
	pthread_mutex_lock(&p->index_mu);
	int rc = eng_envelope_seal(p->index_codec, "LBPKHDR1", hdr, 4 + op->n * ENG_ENTRY_LEN, &env, &env_len, NULL, err);
	pthread_mutex_unlock(&p->index_mu);
	free(hdr);
	if (rc)
		return rc;
	put_u32(tail, (uint32_t)env_len);
	memcpy(tail + 4, "LBPKEND1", 8);
	if (eng_write_all(op->fd, env, env_len) != 0 || eng_write_all(op->fd, tail, sizeof(tail)) != 0 ||
	    fsync(op->fd) != 0)
		rc = eng_fail_errno(err, "cannot write pack %s", op->path);
	free(env);
	if (rc)
		return rc;
	op->size += env_len + sizeof(tail);
	close(op->fd);
	op->fd = -1;
	eng_pack_object(op->name, obj);
	rc = p->s->be->ops->put_spool(p->s->be, obj, op->path, err);
	if (rc)
		unlink(op->path);
	return rc;
}

static int write_index(eng_packer *p, struct open_pack **packs, size_t n, eng_err *err)
{
	size_t len = 4;
	for (size_t i = 0; i < n; i++)
		len += ENG_ID_LEN + 12 + packs[i]->n * ENG_ENTRY_LEN;
	uint8_t *body = malloc(len), *env = NULL, id[ENG_ID_LEN];
	if (!body)
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	size_t pos = 4, env_len;
	put_u32(body, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		memcpy(body + pos, packs[i]->name, ENG_ID_LEN);
		put_u64(body + pos + ENG_ID_LEN, packs[i]->size);
		put_u32(body + pos + ENG_ID_LEN + 8, (uint32_t)packs[i]->n);
		pos += ENG_ID_LEN + 12;
		memcpy(body + pos, packs[i]->entries, packs[i]->n * ENG_ENTRY_LEN);
		pos += packs[i]->n * ENG_ENTRY_LEN;
	}
	pthread_mutex_lock(&p->index_mu);
	int rc = eng_envelope_seal(p->index_codec, "LBINDEX1", body, len, &env, &env_len, id, err);
	pthread_mutex_unlock(&p->index_mu);
	free(body);
	if (!rc) {
		char hex[2 * ENG_ID_LEN + 1], name[80];
		eng_hex(id, ENG_ID_LEN, hex);
		snprintf(name, sizeof(name), "index/%s", hex);
		rc = p->s->be->ops->put(p->s->be, name, env, env_len, err);
	}
	free(env);
	return rc;
}

/* Publishes a full pack and, every INDEX_EVERY packs, indexes the finished ones. */
static int pack_done(eng_packer *p, struct open_pack *op, bool force_index, eng_err *err)
{
	int rc = op ? pack_seal(p, op, err) : ENG_OK;
	if (rc) {
		pack_free(op, true);
		return rc;
	}
	struct open_pack **take = NULL;
	size_t ntake = 0;
	pthread_mutex_lock(&p->mu);
	if (op) {
		eng_cindex_set_pack_size(p->s->ci, op->no, op->size);
		if (p->ndone == p->cap_done) {
			size_t cap = p->cap_done ? 2 * p->cap_done : INDEX_EVERY;
			struct open_pack **d = realloc(p->done, cap * sizeof(*d));
			if (!d) {
				pthread_mutex_unlock(&p->mu);
				pack_free(op, false);
				return eng_fail(err, ENG_ENOMEM, "out of memory");
			}
			p->done = d;
			p->cap_done = cap;
		}
		p->done[p->ndone++] = op;
	}
	if (p->ndone && (force_index || p->ndone >= INDEX_EVERY)) {
		take = p->done;
		ntake = p->ndone;
		p->done = NULL;
		p->ndone = p->cap_done = 0;
	}
	pthread_mutex_unlock(&p->mu);
	if (ntake)
		rc = write_index(p, take, ntake, err);
	for (size_t i = 0; i < ntake; i++)
		pack_free(take[i], false);
	free(take);
	return rc;
}

int eng_packer_store(eng_packer *p, eng_codec *c, const uint8_t id[ENG_ID_LEN], uint8_t type,
		     const void *data, size_t len, uint8_t *sealbuf, uint64_t *added, eng_err *err)
{
	*added = 0;
	eng_loc loc = { .pack = ENG_PACK_PENDING, .raw_length = (uint32_t)len, .type = type };
	pthread_mutex_lock(&p->mu);
	bool known = eng_cindex_get(p->s->ci, id, NULL);
	int rc = known ? ENG_OK : eng_cindex_put(p->s->ci, id, &loc) ? ENG_ENOMEM : ENG_OK;
	pthread_mutex_unlock(&p->mu);
	if (rc)
		return eng_fail(err, rc, "out of memory");
	if (known)
		return ENG_OK;
	size_t blob_len;
	rc = eng_codec_seal(c, id, data, len, sealbuf, &blob_len, err);
	if (rc)
		return rc;
	struct open_pack *full = NULL;
	pthread_mutex_lock(&p->mu);
	if (!p->cur)
		rc = pack_open(p, err);
	struct open_pack *op = p->cur;
	if (!rc && op->n == op->cap) {
		size_t cap = op->cap ? 2 * op->cap : 1024;
		uint8_t *e = realloc(op->entries, cap * ENG_ENTRY_LEN);
		if (!e)
			rc = eng_fail(err, ENG_ENOMEM, "out of memory");
		else {
			op->entries = e;
			op->cap = cap;
		}
	}
	if (!rc && eng_write_all(op->fd, sealbuf, blob_len) != 0)
		rc = eng_fail_errno(err, "cannot write pack %s", op->path);
	if (!rc) {
		loc.pack = op->no;
		loc.offset = (uint32_t)op->size;
		loc.length = (uint32_t)blob_len;
		eng_entry_put(op->entries + op->n * ENG_ENTRY_LEN, id, &loc);
		op->n++;
		op->size += blob_len;
		if (eng_cindex_put(p->s->ci, id, &loc) != 0)
			rc = eng_fail(err, ENG_ENOMEM, "out of memory");
		if (op->size >= p->s->pack_target) {
			full = op;
			p->cur = NULL;
		}
	}
	pthread_mutex_unlock(&p->mu);
	if (rc)
		return rc;
	*added = blob_len;
	return full ? pack_done(p, full, false, err) : ENG_OK;
}

int eng_packer_finish(eng_packer *p, bool discard_open, eng_err *err)
{
	pthread_mutex_lock(&p->mu);
	struct open_pack *op = p->cur;
	p->cur = NULL;
	pthread_mutex_unlock(&p->mu);
	if (op && (discard_open || op->n == 0)) {
		pack_free(op, true);
		op = NULL;
	}
	return pack_done(p, op, true, err);
}

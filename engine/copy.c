/* copy.c — copying recovery points from one store to another (a second
 * region, an offline copy), incrementally: points the destination has
 * (same dataset, same time) are skipped, and chunks it has are not sent.
 *
 * Chunk ids depend on the store's key (HMAC), so when the two stores'
 * keys differ every chunk is opened with the source's key and sealed
 * again with the destination's, and everything that names chunks — image
 * block lists, folder streams, points — is rewritten with the new ids.
 * When the keys are the same (two plain stores), the ids are too and a
 * chunk the destination has is skipped without being read.
 *
 * Crash safety is a sync's: each point's chunks go into packs that are
 * published and indexed (the packer's order) before the point is
 * written, so a copy killed at any moment leaves no point that lacks data,
 * and the next copy resumes with what is there. */
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "cdc.h"
#include "err.h"
#include "fetch.h"
#include "packer.h"
#include "stream.h"
#include "sync.h"

/* Old id -> new id, open addressing. */
struct idmap {
	uint8_t (*k)[ENG_ID_LEN], (*v)[ENG_ID_LEN];
	size_t cap, n;
};

static size_t slot_of(const struct idmap *m, const uint8_t *id)
{
	uint64_t h;
	memcpy(&h, id, sizeof(h));
	size_t i = (size_t)h & (m->cap - 1);
	static const uint8_t zero[ENG_ID_LEN];
	while (memcmp(m->k[i], zero, ENG_ID_LEN) && memcmp(m->k[i], id, ENG_ID_LEN))
		i = (i + 1) & (m->cap - 1);
	return i;
}

static const uint8_t *map_get(const struct idmap *m, const uint8_t *id)
{
	static const uint8_t zero[ENG_ID_LEN];
	if (!m->cap)
		return NULL;
	size_t i = slot_of(m, id);
	return memcmp(m->k[i], zero, ENG_ID_LEN) ? m->v[i] : NULL;
}

static int map_put(struct idmap *m, const uint8_t *id, const uint8_t *to)
{
	if (4 * (m->n + 1) > 3 * m->cap) {
		struct idmap g = { .cap = m->cap ? 2 * m->cap : 4096 };
		g.k = calloc(g.cap, ENG_ID_LEN);
		g.v = calloc(g.cap, ENG_ID_LEN);
		if (!g.k || !g.v) {
			free(g.k);
			free(g.v);
			return -1;
		}
		static const uint8_t zero[ENG_ID_LEN];
		for (size_t i = 0; i < m->cap; i++)
			if (memcmp(m->k[i], zero, ENG_ID_LEN)) {
				size_t s = slot_of(&g, m->k[i]);
				memcpy(g.k[s], m->k[i], ENG_ID_LEN);
				memcpy(g.v[s], m->v[i], ENG_ID_LEN);
				g.n++;
			}
		free(m->k);
		free(m->v);
		*m = g;
	}
	size_t s = slot_of(m, id);
	if (!map_get(m, id))
		m->n++;
	memcpy(m->k[s], id, ENG_ID_LEN);
	memcpy(m->v[s], to, ENG_ID_LEN);
	return 0;
}

struct copy_job {
	eng_store *src, *dst;
	bool same_ids;          /* the keys agree: a chunk keeps its id */
	eng_codec *sc, *dc;     /* source and destination codecs */
	eng_fetcher fetcher;
	eng_packer *pk;
	eng_pack_writer *pw;
	eng_cdc cdc;
	uint8_t *seal, *list, *blob;
	struct idmap ids;       /* chunk ids, source -> destination */
	struct idmap streams;   /* folder streams: hash of the old refs -> new refs (by index into dirs) */
	eng_refs *dirs;
	size_t ndirs, cap_dirs;
	eng_copy_result *r;
	const eng_copy_opts *o;
	eng_loc last_read;      /* the blob counted last: a group's members share one */
};

static const uint8_t hole[ENG_ID_LEN];

/* The destination id of a source chunk already handled, or NULL. */
static const uint8_t *known(struct copy_job *j, const uint8_t *id)
{
	if (!memcmp(id, hole, ENG_ID_LEN))
		return hole;
	if (j->same_ids && eng_cindex_get(j->dst->ci, id, NULL))
		return id;
	return map_get(&j->ids, id);
}

static int store_chunk(void *ctx, const eng_fetch *f, const uint8_t *plain, size_t len, eng_err *err)
{
	struct copy_job *j = ctx;
	if (known(j, f->id))
		return ENG_OK; /* wanted twice in one batch */
	uint8_t id[ENG_ID_LEN];
	eng_put_stats added = { 0 };
	eng_codec_id(j->dc, plain, len, id);
	int rc = eng_packer_store(j->pw, j->dc, id, f->loc.type, plain, len, j->seal, &added, err);
	if (!rc && map_put(&j->ids, f->id, id))
		rc = eng_fail(err, ENG_ENOMEM, "out of memory");
	if (!f->loc.grouped || f->loc.pack != j->last_read.pack || f->loc.offset != j->last_read.offset)
		j->r->bytes_read += f->loc.length;
	j->last_read = f->loc;
	j->r->bytes_added += added.bytes;
	j->r->chunks_copied += added.chunks;
	return rc;
}

/* Makes sure every chunk of ids (n, stride bytes apart) is in the
 * destination, reading the missing ones from the source in few requests. */
static int copy_chunks(struct copy_job *j, const uint8_t *ids, size_t n, size_t stride, eng_err *err)
{
	eng_fetch *want = malloc((n ? n : 1) * sizeof(*want));
	size_t nw = 0;
	if (!want)
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const uint8_t *id = ids + i * stride;
		if (!known(j, id))
			memcpy(want[nw++].id, id, ENG_ID_LEN);
	}
	int rc = nw ? eng_fetch_run(j->src, j->sc, &j->fetcher, want, nw, store_chunk, j, err) : ENG_OK;
	free(want);
	return rc;
}

/* Stores a metadata chunk (a block list) written for the destination. */
static int store_meta(struct copy_job *j, const uint8_t *plain, size_t len, uint8_t id[ENG_ID_LEN], eng_err *err)
{
	eng_put_stats added = { 0 };
	eng_codec_id(j->dc, plain, len, id);
	int rc = eng_packer_store(j->pw, j->dc, id, ENG_CHUNK_META, plain, len, j->seal, &added, err);
	j->r->bytes_added += added.bytes;
	return rc;
}

static int copy_image(struct copy_job *j, const eng_point *p, eng_point *q, eng_err *err)
{
	q->lists = malloc((p->n_lists ? p->n_lists : 1) * ENG_ID_LEN);
	if (!q->lists)
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	q->n_lists = p->n_lists;
	for (size_t k = 0; k < p->n_lists; k++) {
		if (j->o->run.cancel && *j->o->run.cancel)
			return eng_fail(err, ENG_ECANCEL, "interrupted");
		const uint8_t *done = j->same_ids && eng_cindex_get(j->dst->ci, p->lists[k], NULL) ? NULL : map_get(&j->ids, p->lists[k]);
		if (done) {
			memcpy(q->lists[k], done, ENG_ID_LEN);
			continue;
		}
		size_t len;
		int rc = eng_chunk_read(j->src, j->sc, p->lists[k], j->blob, j->list, ENG_LIST_BYTES, &len, err);
		if (!rc)
			rc = copy_chunks(j, j->list, len / ENG_ID_LEN, ENG_ID_LEN, err);
		for (size_t b = 0; !rc && b < len / ENG_ID_LEN; b++)
			memcpy(j->list + b * ENG_ID_LEN, known(j, j->list + b * ENG_ID_LEN), ENG_ID_LEN);
		if (!rc)
			rc = store_meta(j, j->list, len, q->lists[k], err);
		if (!rc && map_put(&j->ids, p->lists[k], q->lists[k]))
			rc = eng_fail(err, ENG_ENOMEM, "out of memory");
		if (rc)
			return rc;
	}
	return ENG_OK;
}

/* Copies a folder's stream (and everything under it); out receives the
 * destination refs. A subtree that several points share is copied once. */
static int copy_dir(struct copy_job *j, const uint8_t *refs, uint32_t nrefs, eng_refs *out, int depth, eng_err *err)
{
	if (depth > 256)
		return eng_fail(err, ENG_ECORRUPT, "a tree point nests deeper than 256 levels");
	uint8_t key[ENG_ID_LEN];
	eng_sha256(refs, (size_t)nrefs * ENG_REF_LEN, key);
	const uint8_t *memo = map_get(&j->streams, key);
	if (memo) {
		uint64_t at;
		memcpy(&at, memo, sizeof(at));
		const eng_refs *r = &j->dirs[at];
		for (size_t i = 0; i < r->n; i++)
			if (eng_refs_add(out, r->v + i * ENG_REF_LEN, get_u32(r->v + i * ENG_REF_LEN + ENG_ID_LEN)))
				return eng_fail(err, ENG_ENOMEM, "out of memory");
		return ENG_OK;
	}
	uint8_t *bytes = NULL, *enc = NULL;
	size_t len = 0;
	int rc = eng_stream_get(j->src, j->sc, refs, nrefs, ENG_DIR_STREAM_MAX, &bytes, &len, err);
	/* the folder's file contents first, in one batch */
	for (size_t pos = 0; !rc && pos < len;) {
		eng_entry e;
		size_t used = eng_entry_decode(bytes + pos, len - pos, &e);
		if (!used)
			rc = eng_fail(err, ENG_ECORRUPT, "a folder of a tree point is malformed");
		else if (e.type != ENG_T_DIR)
			rc = copy_chunks(j, e.refs, e.nrefs, ENG_REF_LEN, err);
		pos += used ? used : len;
	}
	if (!rc && !(enc = malloc(len ? len : 1)))
		rc = eng_fail(err, ENG_ENOMEM, "out of memory");
	size_t out_len = 0;
	for (size_t pos = 0; !rc && pos < len;) {
		eng_entry e;
		size_t used = eng_entry_decode(bytes + pos, len - pos, &e);
		pos += used;
		eng_refs sub = { 0 };
		if (e.type == ENG_T_DIR) {
			rc = copy_dir(j, e.refs, e.nrefs, &sub, depth + 1, err);
		} else {
			for (uint32_t i = 0; !rc && i < e.nrefs; i++) {
				eng_ref r;
				eng_ref_get(e.refs + (size_t)i * ENG_REF_LEN, &r);
				if (eng_refs_add(&sub, known(j, r.id), r.len))
					rc = eng_fail(err, ENG_ENOMEM, "out of memory");
			}
		}
		if (!rc) {
			e.refs = sub.v;
			e.nrefs = (uint32_t)sub.n;
			size_t need = eng_entry_size(&e);
			if (out_len + need > len) { /* the same size as before: ids keep their length */
				uint8_t *g = realloc(enc, out_len + need);
				if (!g)
					rc = eng_fail(err, ENG_ENOMEM, "out of memory");
				else
					enc = g;
			}
			if (!rc) {
				eng_entry_encode(&e, enc + out_len);
				out_len += need;
			}
		}
		eng_refs_free(&sub);
	}
	free(bytes);
	size_t used;
	eng_put_stats added = { 0 };
	if (!rc)
		rc = eng_stream_put(j->pw, j->dc, &j->cdc, ENG_CHUNK_META, enc, out_len, true, j->seal, out, &used, &added, err);
	free(enc);
	j->r->bytes_added += added.bytes;
	if (rc)
		return rc;
	/* remember the result for points that share this folder */
	if (j->ndirs == j->cap_dirs) {
		size_t cap = j->cap_dirs ? 2 * j->cap_dirs : 256;
		eng_refs *d = realloc(j->dirs, cap * sizeof(*d));
		if (!d)
			return eng_fail(err, ENG_ENOMEM, "out of memory");
		j->dirs = d;
		j->cap_dirs = cap;
	}
	eng_refs *copy = &j->dirs[j->ndirs];
	memset(copy, 0, sizeof(*copy));
	for (size_t i = 0; i < out->n; i++)
		if (eng_refs_add(copy, out->v + i * ENG_REF_LEN, get_u32(out->v + i * ENG_REF_LEN + ENG_ID_LEN)))
			return eng_fail(err, ENG_ENOMEM, "out of memory");
	uint8_t at[ENG_ID_LEN] = { 0 };
	uint64_t idx = j->ndirs++;
	memcpy(at, &idx, sizeof(idx));
	if (map_put(&j->streams, key, at))
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	return ENG_OK;
}

static int by_time(const void *a, const void *b)
{
	const eng_point_info *x = a, *y = b;
	return x->time_us < y->time_us ? -1 : x->time_us > y->time_us;
}

/* Copies one point: its chunks (published and indexed), then the point. */
static int copy_point(struct copy_job *j, const eng_point_info *info, struct idmap *point_ids, eng_err *err)
{
	eng_point p, q;
	int rc = eng_point_load(j->src, info->machine, info->dataset, info->id, &p, err);
	if (rc)
		return rc;
	q = p;
	q.lists = NULL;
	q.n_lists = 0;
	memset(&q.root_refs, 0, sizeof(q.root_refs));
	j->pk = eng_packer_new(j->dst);
	j->pw = j->pk ? eng_pack_writer_new(j->pk) : NULL;
	rc = !j->pw ? eng_fail(err, ENG_ENOMEM, "out of memory") : ENG_OK;
	if (!rc && !strcmp(p.info.kind, "image"))
		rc = copy_image(j, &p, &q, err);
	else if (!rc)
		rc = copy_dir(j, p.root_refs.v, (uint32_t)p.root_refs.n, &q.root_refs, 0, err);
	eng_put_stats last = { 0 };
	int wrc = eng_pack_writer_close(j->pw, rc != ENG_OK, &last, rc ? NULL : err);
	j->r->bytes_added += last.bytes;
	if (!rc)
		rc = wrc;
	int frc = j->pk ? eng_packer_finish(j->pk, rc ? NULL : err) : ENG_OK;
	if (!rc)
		rc = frc;
	eng_packer_free(j->pk);
	j->pk = NULL;
	j->pw = NULL;
	/* the parent, in the destination's ids: the copy of the source parent,
	 * or the destination's own point of that time */
	q.info.parent[0] = 0;
	uint8_t pkey[ENG_ID_LEN] = { 0 };
	memcpy(pkey, p.info.parent, strlen(p.info.parent));
	const uint8_t *np = p.info.parent[0] ? map_get(point_ids, pkey) : NULL;
	if (np)
		memcpy(q.info.parent, np, 17);
	if (!rc)
		rc = eng_point_write(j->dst, &q, err);
	if (!rc) {
		uint8_t okey[ENG_ID_LEN] = { 0 }, nid[ENG_ID_LEN] = { 0 };
		memcpy(okey, p.info.id, strlen(p.info.id));
		memcpy(nid, q.info.id, strlen(q.info.id) + 1);
		if (map_put(point_ids, okey, nid))
			rc = eng_fail(err, ENG_ENOMEM, "out of memory");
		j->r->points_copied++;
	}
	eng_point_release(&p);
	eng_point_release(&q);
	return rc;
}

int eng_copy(eng_store *src, eng_store *dst, const eng_copy_opts *o, eng_copy_result *r, eng_err *err)
{
	memset(r, 0, sizeof(*r));
	const char *why;
	if (o->machine && !eng_name_valid(o->machine, &why))
		return eng_fail(err, ENG_EINPUT, "machine name '%s' %s", o->machine, why);
	if (o->dataset && !eng_name_valid(o->dataset, &why))
		return eng_fail(err, ENG_EINPUT, "dataset name '%s' %s", o->dataset, why);
	int64_t t0 = eng_now_us();
	struct copy_job j = { .src = src, .dst = dst, .r = r, .o = o };
	j.same_ids = src->keys.encrypted == dst->keys.encrypted &&
		     (!src->keys.encrypted || !memcmp(src->keys.mac_key, dst->keys.mac_key, ENG_KEY_LEN));
	r->reencrypted = !j.same_ids || src->keys.encrypted != dst->keys.encrypted ||
			 (src->keys.encrypted && memcmp(src->keys.enc_key, dst->keys.enc_key, ENG_KEY_LEN));
	eng_point_info *sp = NULL, *dp = NULL;
	size_t ns = 0, nd = 0;
	struct idmap point_ids = { 0 };
	src->be->cancel = dst->be->cancel = o->run.cancel;
	eng_cdc_init(&j.cdc);
	int rc = eng_be_lock(src->be, false, "copy", err);
	if (!rc)
		rc = eng_be_lock(dst->be, false, "copy", err);
	if (!rc)
		rc = eng_store_load_index(src, err);
	if (!rc)
		rc = eng_store_load_index(dst, err);
	if (!rc)
		rc = eng_points_list(src, o->machine, o->dataset, &sp, &ns, err);
	if (!rc)
		rc = eng_points_list(dst, o->machine, o->dataset, &dp, &nd, err);
	j.sc = eng_codec_new(&src->keys, src->zstd_level);
	j.dc = eng_codec_new(&dst->keys, dst->zstd_level);
	j.seal = malloc(eng_codec_bound(ENG_LIST_BYTES > ENG_CDC_MAX ? ENG_LIST_BYTES : ENG_CDC_MAX));
	j.list = malloc(ENG_LIST_BYTES);
	j.blob = malloc(eng_codec_bound(ENG_LIST_BYTES));
	/* chunks are image blocks (up to 4 MiB), file pieces or lists */
	if (!rc && (!j.sc || !j.dc || !j.seal || !j.list || !j.blob || !eng_fetcher_init(&j.fetcher, src, 4u << 20)))
		rc = eng_fail(err, ENG_ENOMEM, "out of memory");
	if (!rc && ns)
		qsort(sp, ns, sizeof(*sp), by_time);
	/* the destination's copies of source points, by dataset and time */
	for (size_t i = 0; !rc && i < ns; i++) {
		bool have = false;
		for (size_t k = 0; k < nd && !have; k++)
			if (dp[k].time_us == sp[i].time_us && !strcmp(dp[k].machine, sp[i].machine) &&
			    !strcmp(dp[k].dataset, sp[i].dataset)) {
				have = true;
				uint8_t okey[ENG_ID_LEN] = { 0 }, nid[ENG_ID_LEN] = { 0 };
				memcpy(okey, sp[i].id, strlen(sp[i].id));
				memcpy(nid, dp[k].id, strlen(dp[k].id) + 1);
				if (map_put(&point_ids, okey, nid))
					rc = eng_fail(err, ENG_ENOMEM, "out of memory");
			}
		if (have) {
			r->points_present++;
			continue;
		}
		if (!rc)
			rc = copy_point(&j, &sp[i], &point_ids, err);
		if (o->run.progress)
			o->run.progress(o->run.progress_ctx, i + 1, ns);
	}
	for (size_t i = 0; i < j.ndirs; i++)
		eng_refs_free(&j.dirs[i]);
	free(j.dirs);
	free(j.ids.k);
	free(j.ids.v);
	free(j.streams.k);
	free(j.streams.v);
	free(point_ids.k);
	free(point_ids.v);
	eng_fetcher_free(&j.fetcher);
	eng_codec_free(j.sc);
	eng_codec_free(j.dc);
	free(j.seal);
	free(j.list);
	free(j.blob);
	free(sp);
	free(dp);
	r->seconds = (double)(eng_now_us() - t0) / 1e6;
	return rc;
}

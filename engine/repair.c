/* repair.c — rebuilding a lost or damaged index from the packs.
 *
 * A pack describes itself: its sealed header lists every chunk it holds.
 * Under the store's exclusive lock, repair reads the header of every pack
 * object, writes an index naming all readable packs (durable before
 * anything is removed), then removes the old index files it replaces. A
 * pack whose header cannot be read keeps the entries a readable old index
 * file has for it; otherwise its chunks are lost and it is reported.
 * Finally every point is walked against the new index, and each one that
 * still lacks chunks is reported: that is what could not be recovered.
 * A crash at any moment leaves the old index files, the new one, or both;
 * both together name the same packs, which readers accept. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "envelope.h"
#include "err.h"
#include "packer.h"
#include "reach.h"
#include "store.h"

#define INDEX_ENTRIES_MAX (1u << 20) /* entries per index file written */

struct pack_rec {
	uint8_t name[ENG_ID_LEN];
	uint64_t size;
	uint8_t *entries; /* owned */
	uint32_t count;
	bool usable;
};

struct repair_job {
	eng_store *s;
	const eng_repair_opts *o;
	eng_repair_result *r;
	eng_codec *codec;
	struct pack_rec *packs, *old; /* pack objects found; packs old index files name */
	size_t npacks, cap_packs, nold, cap_old;
	const char *old_file;         /* the index file being read */
	char (*written)[80];
	size_t nwritten;
};

static void report(struct repair_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(struct repair_job *j, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (j->o->report)
		j->o->report(j->o->report_ctx, line);
}

static struct pack_rec *add_rec(struct pack_rec **v, size_t *n, size_t *cap)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 64;
		struct pack_rec *p = realloc(*v, c * sizeof(*p));
		if (!p)
			return NULL;
		*v = p;
		*cap = c;
	}
	struct pack_rec *r = &(*v)[(*n)++];
	memset(r, 0, sizeof(*r));
	return r;
}

static int by_name(const void *a, const void *b)
{
	return memcmp(((const struct pack_rec *)a)->name, ((const struct pack_rec *)b)->name, ENG_ID_LEN);
}

static struct pack_rec *find_rec(struct pack_rec *v, size_t n, const uint8_t name[ENG_ID_LEN])
{
	struct pack_rec key;
	memcpy(key.name, name, ENG_ID_LEN);
	return n ? bsearch(&key, v, n, sizeof(*v), by_name) : NULL;
}

static int keep_old_pack(void *ctx, const uint8_t *name, uint64_t size, const uint8_t *entries, uint32_t count,
			 eng_err *err)
{
	struct repair_job *j = ctx;
	struct pack_rec *r = add_rec(&j->old, &j->nold, &j->cap_old);
	if (!r || !(r->entries = malloc((size_t)count * ENG_ENTRY_LEN + 1)))
		return eng_fail(err, ENG_ENOMEM, "out of memory reading %s", j->old_file);
	memcpy(r->name, name, ENG_ID_LEN);
	memcpy(r->entries, entries, (size_t)count * ENG_ENTRY_LEN);
	r->size = size;
	r->count = count;
	return ENG_OK;
}

/* What the old index files say, from every one that can still be read. */
static int read_old_index(struct repair_job *j, eng_err *err)
{
	eng_store *s = j->s;
	int rc = ENG_OK;
	for (size_t i = 0; i < s->n_index_files && !rc; i++) {
		uint8_t *body = NULL;
		size_t len;
		size_t before = j->nold;
		eng_err e;
		j->old_file = s->index_files[i];
		int orc = eng_index_read(s, j->codec, j->old_file, &body, &len, &e);
		if (!orc)
			orc = eng_index_walk(j->old_file, body, len, keep_old_pack, j, &e);
		free(body);
		if (orc == ENG_ENOMEM) {
			rc = eng_fail(err, orc, "%s", e.msg);
		} else if (orc) {
			while (j->nold > before) /* nothing from a damaged file */
				free(j->old[--j->nold].entries);
			j->r->index_files_damaged++;
			report(j, "%s/%s: unreadable (%s); the packs' own headers replace it", s->be->where, j->old_file,
			       e.msg);
		}
	}
	if (!rc && j->nold)
		qsort(j->old, j->nold, sizeof(*j->old), by_name);
	return rc;
}

static int add_pack_object(void *ctx, const char *name, uint64_t size)
{
	struct repair_job *j = ctx;
	const char *base = strrchr(name, '/');
	uint8_t bin[ENG_ID_LEN];
	if (!base || strlen(base + 1) != 2 * ENG_ID_LEN || !eng_unhex(base + 1, bin, ENG_ID_LEN))
		return ENG_OK; /* a temporary or stray object, not a pack */
	struct pack_rec *r = add_rec(&j->packs, &j->npacks, &j->cap_packs);
	if (!r)
		return ENG_ENOMEM;
	memcpy(r->name, bin, ENG_ID_LEN);
	r->size = size;
	return ENG_OK;
}

/* Reads each pack's header; falls back on an old index's copy of it. */
static int read_packs(struct repair_job *j, eng_err *err)
{
	eng_store *s = j->s;
	int rc = eng_be_list(s->be, "packs", add_pack_object, j, err);
	if (rc == ENG_ENOMEM)
		rc = eng_fail(err, ENG_ENOMEM, "out of memory listing packs");
	if (rc)
		return rc;
	if (j->npacks)
		qsort(j->packs, j->npacks, sizeof(*j->packs), by_name);
	uint64_t total = 0, done = 0;
	for (size_t i = 0; i < j->npacks; i++)
		total += j->packs[i].size;
	for (size_t i = 0; i < j->npacks; i++) {
		struct pack_rec *p = &j->packs[i];
		struct pack_rec *old = find_rec(j->old, j->nold, p->name);
		char obj[128];
		eng_err e;
		if (j->o->run.cancel && *j->o->run.cancel)
			return eng_fail(err, ENG_ECANCEL, "cancelled");
		if (j->o->run.progress)
			j->o->run.progress(j->o->run.progress_ctx, done, total);
		done += p->size;
		eng_pack_object(p->name, obj);
		j->r->packs++;
		int hrc = eng_pack_read_header(s, j->codec, obj, p->size, &p->entries, &p->count, &e);
		if (hrc == ENG_ENOMEM)
			return eng_fail(err, hrc, "%s", e.msg);
		if (hrc && old && old->size == p->size) {
			p->entries = old->entries;
			old->entries = NULL;
			p->count = old->count;
			report(j, "%s; its %u chunks are indexed as an old index file listed them", e.msg, p->count);
		} else if (hrc) {
			j->r->packs_damaged++;
			report(j, "%s; its chunks cannot be indexed", e.msg);
			continue;
		}
		p->usable = true;
		j->r->packs_indexed++;
		j->r->chunks += p->count;
		if (!old)
			j->r->packs_added++;
	}
	return ENG_OK;
}

/* Writes index files naming every usable pack, a bounded number of entries each. */
static int write_index(struct repair_job *j, eng_err *err)
{
	eng_index_pack *v = calloc(j->npacks + 1, sizeof(*v));
	j->written = calloc(j->npacks + 1, sizeof(*j->written));
	if (!v || !j->written) {
		free(v);
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	}
	size_t n = 0, entries = 0;
	int rc = ENG_OK;
	for (size_t i = 0; i <= j->npacks && !rc; i++) {
		struct pack_rec *p = i < j->npacks ? &j->packs[i] : NULL;
		if (p && !p->usable)
			continue;
		if (n && (!p || entries + p->count > INDEX_ENTRIES_MAX)) {
			rc = eng_index_write(j->s, j->codec, v, n, j->written[j->nwritten], err);
			if (!rc)
				j->nwritten++;
			n = entries = 0;
		}
		if (p) {
			v[n++] = (eng_index_pack){ .name = p->name, .size = p->size, .entries = p->entries,
						   .count = p->count };
			entries += p->count;
		}
	}
	free(v);
	return rc;
}

static bool was_written(const struct repair_job *j, const char *name)
{
	for (size_t i = 0; i < j->nwritten; i++)
		if (!strcmp(j->written[i], name))
			return true;
	return false;
}

/* The index as it is now (dry run: as it would be), for walking the points. */
static int use_new_index(struct repair_job *j, eng_err *err)
{
	eng_store *s = j->s;
	eng_cindex_free(s->ci);
	s->ci = NULL;
	eng_names_free(s->index_files, s->n_index_files);
	s->index_files = NULL;
	s->n_index_files = 0;
	if (!j->o->dry_run)
		return eng_store_load_index(s, err);
	if (!(s->ci = eng_cindex_new()))
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	for (size_t i = 0; i < j->npacks; i++) {
		struct pack_rec *p = &j->packs[i];
		uint32_t no = p->usable ? eng_cindex_add_pack(s->ci, p->name, p->size) : 0;
		if (no == UINT32_MAX)
			return eng_fail(err, ENG_ENOMEM, "out of memory");
		for (uint32_t k = 0; p->usable && k < p->count; k++) {
			uint8_t id[ENG_ID_LEN];
			eng_loc loc;
			eng_entry_get(p->entries + (size_t)k * ENG_ENTRY_LEN, id, &loc);
			loc.pack = no;
			if (eng_cindex_put(s->ci, id, &loc))
				return eng_fail(err, ENG_ENOMEM, "out of memory");
		}
	}
	return ENG_OK;
}

/* Walks every point; reports those that cannot be restored whole. */
static int check_points(struct repair_job *j, eng_err *err)
{
	eng_store *s = j->s;
	char **names = NULL;
	size_t n = 0;
	eng_reach g;
	int rc = eng_reach_init(&g, s, err);
	if (rc)
		return rc;
	rc = eng_be_names(s->be, "points", &names, &n, err);
	for (size_t i = 0; !rc && i < n; i++) {
		eng_point p;
		eng_err e;
		j->r->points++;
		int prc = eng_point_read(s, names[i], &p, &e);
		if (prc == ENG_ENOMEM) {
			rc = eng_fail(err, prc, "%s", e.msg);
			break;
		}
		if (prc) {
			j->r->points_incomplete++;
			report(j, "%s/%s: unreadable point: %s", s->be->where, names[i], e.msg);
			continue;
		}
		prc = eng_reach_point(&g, &p, &e);
		if (prc == ENG_ENOMEM)
			rc = eng_fail(err, prc, "%s", e.msg);
		else if (prc)
			report(j, "point %s/%s/%s cannot be restored: %s", p.info.machine, p.info.dataset, p.info.id,
			       e.msg);
		else if (g.point_missing)
			report(j, "point %s/%s/%s cannot be restored whole: %llu chunks it needs are in no readable pack",
			       p.info.machine, p.info.dataset, p.info.id, (unsigned long long)g.point_missing);
		if (prc || g.point_missing)
			j->r->points_incomplete++;
		eng_point_release(&p);
	}
	eng_names_free(names, n);
	eng_reach_free(&g);
	return rc;
}

int eng_repair(eng_store *s, const eng_repair_opts *o, eng_repair_result *r, eng_err *err)
{
	struct repair_job j = { .s = s, .o = o, .r = r };
	memset(r, 0, sizeof(*r));
	/* A dry run writes nothing: sharing the store with syncs is enough. */
	s->be->cancel = o->run.cancel;
	int rc = eng_be_lock(s->be, !o->dry_run, "repair", err);
	if (rc)
		return rc;
	/* The index as it is, file by file; a damaged file is what repair replaces. */
	eng_cindex_free(s->ci);
	s->ci = NULL;
	eng_names_free(s->index_files, s->n_index_files);
	s->index_files = NULL;
	s->n_index_files = 0;
	if (!(j.codec = eng_codec_new(&s->keys, s->zstd_level)))
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	rc = eng_be_names(s->be, "index", &s->index_files, &s->n_index_files, err);
	if (!rc)
		rc = read_old_index(&j, err);
	if (!rc)
		rc = read_packs(&j, err);
	if (!rc && !o->dry_run)
		rc = write_index(&j, err);
	/* Only now that the new index is durable: the files it replaces. */
	for (size_t i = 0; !rc && i < s->n_index_files; i++) {
		if (was_written(&j, s->index_files[i]))
			continue;
		r->index_files_removed++;
		if (!o->dry_run)
			rc = eng_be_remove(s->be, s->index_files[i], err);
	}
	if (!rc)
		rc = use_new_index(&j, err);
	if (!rc)
		rc = check_points(&j, err);
	if (!rc && (r->packs_damaged || r->points_incomplete))
		rc = eng_fail(err, ENG_ECORRUPT, "store %s: %s %llu of %llu packs; %llu damaged, %llu of %llu points cannot be restored whole",
			      s->be->where, o->dry_run ? "would index" : "indexed", (unsigned long long)r->packs_indexed,
			      (unsigned long long)r->packs, (unsigned long long)r->packs_damaged,
			      (unsigned long long)r->points_incomplete, (unsigned long long)r->points);
	for (size_t i = 0; i < j.npacks; i++)
		free(j.packs[i].entries);
	for (size_t i = 0; i < j.nold; i++)
		free(j.old[i].entries);
	free(j.packs);
	free(j.old);
	free(j.written);
	eng_codec_free(j.codec);
	return rc;
}

/* prune.c — retention and garbage collection.
 *
 * Under the store's exclusive lock: (1) decide, per dataset, which points
 * the policy keeps and mark every chunk they reach (block lists and blocks
 * of images; folder streams and file contents of trees, skipping subtrees
 * already marked), refusing to go on when the index cannot place one of
 * them; (2) delete the forgotten points' objects; (3) per pack, weigh live against dead bytes: packs with no live
 * chunk are deleted, packs that are mostly garbage have their live blobs
 * copied (still sealed) into new packs; (4) write an index of the live
 * chunks of the packs that stay, then delete the old index files, then the
 * old packs, unindexed packs and temporary files.
 *
 * Every step keeps the store valid if the process dies after it: new packs
 * and indexes are durable before anything they replace is deleted, and a
 * chunk is listed by some index until its last pack is gone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "envelope.h"
#include "err.h"
#include "packer.h"
#include "reach.h"
#include "store.h"
#include "stream.h"

#define REPACK_BELOW 0.5 /* repack a pack whose live share is under this */

static int by_dataset_then_time(const void *a, const void *b)
{
	const eng_point_info *x = a, *y = b;
	int c = strcmp(x->machine, y->machine);
	if (!c)
		c = strcmp(x->dataset, y->dataset);
	if (!c)
		c = x->time_us < y->time_us ? -1 : x->time_us > y->time_us;
	return c;
}

/* Decides keep[i] for every point in scope; returns how many are forgotten. */
static size_t decide(const eng_prune_opts *o, eng_point_info *pts, size_t n, bool *keep, const char **why)
{
	int64_t now = eng_now_us();
	size_t forgotten = 0;
	for (size_t i = 0; i < n;) {
		size_t end = i;
		while (end < n && !strcmp(pts[end].machine, pts[i].machine) && !strcmp(pts[end].dataset, pts[i].dataset))
			end++;
		bool in_scope = (!o->machine || !strcmp(o->machine, pts[i].machine)) &&
				(!o->dataset || !strcmp(o->dataset, pts[i].dataset));
		int last = 0, app = 0;
		bool newest_app_seen = false;
		for (size_t k = end; k-- > i;) { /* newest first */
			bool is_app = !strcmp(pts[k].consistency, "app");
			keep[k] = true;
			why[k] = "outside the policy's scope";
			if (!in_scope)
				continue;
			if (o->forget_all) {
				keep[k] = false;
				why[k] = "forgetting every point";
				forgotten++;
				continue;
			}
			if (k == end - 1)
				why[k] = "newest point";
			else if (is_app && !newest_app_seen)
				why[k] = "newest app-consistent point";
			else if (o->keep_within_us && now - pts[k].time_us <= o->keep_within_us)
				why[k] = "within --keep-within";
			else if (last < o->keep_last)
				why[k] = "within --keep-last";
			else if (is_app && app < o->keep_app)
				why[k] = "within --keep-app";
			else {
				keep[k] = false;
				why[k] = "outside the policy";
				forgotten++;
			}
			if (keep[k])
				last++;
			if (is_app) {
				newest_app_seen = true;
				if (keep[k])
					app++;
			}
		}
		i = end;
	}
	return forgotten;
}

struct pack_weight {
	uint64_t live, dead;
	uint32_t live_n;
};

/* A member of a group: the group's blob is live when any member is. */
struct member {
	uint32_t pack, offset, length;
	bool live;
};

struct weigh_ctx {
	eng_cindex *live;
	struct pack_weight *w;
	struct member *m;
	size_t nm, cap;
	bool oom;
};

static void weigh(void *ctx, const uint8_t *id, const eng_loc *loc)
{
	struct weigh_ctx *c = ctx;
	bool live = eng_cindex_get(c->live, id, NULL);
	c->w[loc->pack].live_n += live;
	if (loc->grouped) { /* weighed once per blob, by weigh_groups */
		if (c->nm == c->cap) {
			size_t cap = c->cap ? 2 * c->cap : 4096;
			struct member *m = realloc(c->m, cap * sizeof(*m));
			if (!m) {
				c->oom = true;
				return;
			}
			c->m = m;
			c->cap = cap;
		}
		c->m[c->nm++] = (struct member){ loc->pack, loc->offset, loc->length, live };
	} else if (live) {
		c->w[loc->pack].live += loc->length;
	} else {
		c->w[loc->pack].dead += loc->length;
	}
}

static int by_blob(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	if (x->pack != y->pack)
		return x->pack < y->pack ? -1 : 1;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static void weigh_groups(struct weigh_ctx *c)
{
	qsort(c->m, c->nm, sizeof(*c->m), by_blob);
	for (size_t i = 0; i < c->nm;) {
		size_t k = i;
		bool live = false;
		for (; k < c->nm && c->m[k].pack == c->m[i].pack && c->m[k].offset == c->m[i].offset; k++)
			live |= c->m[k].live;
		if (live)
			c->w[c->m[i].pack].live += c->m[i].length;
		else
			c->w[c->m[i].pack].dead += c->m[i].length;
		i = k;
	}
}

/* Live entries of kept packs, grouped per pack, for the new index. */
struct kept_ctx {
	eng_cindex *live;
	size_t np;
	const uint8_t *keep;    /* per pack: stays as it is */
	uint8_t **entries;      /* per pack */
	size_t *count;
};

static void collect_kept(void *ctx, const uint8_t *id, const eng_loc *loc)
{
	struct kept_ctx *c = ctx;
	if (loc->pack >= c->np || !c->keep[loc->pack] || !eng_cindex_get(c->live, id, NULL))
		return;
	eng_entry_put(c->entries[loc->pack] + c->count[loc->pack]++ * ENG_ENTRY_LEN, id, loc);
}

/* A live chunk to move out of a mostly-dead pack; the pack name is copied
 * because the index grows while new packs are published. */
struct move {
	uint8_t id[ENG_ID_LEN];
	uint8_t pack[ENG_ID_LEN];
	eng_loc loc;
};

struct moves_ctx {
	eng_cindex *live, *ci;
	const uint8_t *repack;
	size_t np;
	struct move *v;
	size_t n;
};

static void collect_moves(void *ctx, const uint8_t *id, const eng_loc *loc)
{
	struct moves_ctx *c = ctx;
	if (loc->pack >= c->np || !c->repack[loc->pack] || !eng_cindex_get(c->live, id, NULL))
		return;
	struct move *m = &c->v[c->n++];
	memcpy(m->id, id, ENG_ID_LEN);
	memcpy(m->pack, eng_cindex_pack(c->ci, loc->pack)->name, ENG_ID_LEN);
	m->loc = *loc;
}

static int by_pack_offset(const void *a, const void *b)
{
	const struct move *x = a, *y = b;
	int c = memcmp(x->pack, y->pack, ENG_ID_LEN);
	return c ? c : x->loc.offset < y->loc.offset ? -1 : x->loc.offset > y->loc.offset;
}

/* Copies the live blobs of the packs marked in repack into new packs. */
static int repack_live(eng_store *s, eng_reach *g, const uint8_t *repack, size_t np, size_t nmoves,
		       uint64_t *copied, eng_err *err)
{
	struct moves_ctx mc = { .live = g->seen, .ci = s->ci, .repack = repack, .np = np,
				.v = malloc((nmoves + 1) * sizeof(struct move)) };
	uint8_t *blob = malloc(eng_codec_bound(4u << 20));
	eng_packer *pk = eng_packer_new(s);
	eng_pack_writer *pw = pk ? eng_pack_writer_new(pk) : NULL;
	int rc = !mc.v || !blob || !pw ? eng_fail(err, ENG_ENOMEM, "out of memory") : ENG_OK;
	if (!rc) {
		eng_cindex_each(s->ci, collect_moves, &mc);
		qsort(mc.v, mc.n, sizeof(*mc.v), by_pack_offset); /* read each old pack front to back */
	}
	for (size_t i = 0, k; i < mc.n && !rc; i = k) {
		/* the live members of one group move together, with their blob */
		uint8_t ids[ENG_GROUP_MEMBERS][ENG_ID_LEN];
		eng_loc locs[ENG_GROUP_MEMBERS];
		const struct move *m = &mc.v[i];
		for (k = i; k < mc.n && k - i < ENG_GROUP_MEMBERS && (k == i || (m->loc.grouped && mc.v[k].loc.grouped &&
		     !memcmp(mc.v[k].pack, m->pack, ENG_ID_LEN) && mc.v[k].loc.offset == m->loc.offset &&
		     mc.v[k].loc.length == m->loc.length)); k++) {
			memcpy(ids[k - i], mc.v[k].id, ENG_ID_LEN);
			locs[k - i] = mc.v[k].loc;
		}
		char obj[128];
		eng_pack_object(m->pack, obj);
		rc = eng_be_get(s->be, obj, m->loc.offset, blob, m->loc.length, err);
		if (!rc)
			rc = eng_packer_copy(pw, (const uint8_t(*)[ENG_ID_LEN])ids, locs, k - i, blob, m->loc.length, err);
		*copied += m->loc.length;
	}
	int wrc = eng_pack_writer_close(pw, rc != ENG_OK, NULL, rc ? NULL : err);
	if (!rc)
		rc = wrc;
	int frc = pk ? eng_packer_finish(pk, rc ? NULL : err) : ENG_OK;
	if (!rc)
		rc = frc;
	eng_packer_free(pk);
	free(mc.v);
	free(blob);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return memcmp(a, b, ENG_ID_LEN);
}

/* The names of the packs the index names, sorted, for bsearch. */
static uint8_t *pack_names(const eng_cindex *ci, size_t *n)
{
	*n = eng_cindex_packs(ci);
	uint8_t *v = malloc((*n + 1) * ENG_ID_LEN);
	if (!v)
		return NULL;
	for (size_t i = 0; i < *n; i++)
		memcpy(v + i * ENG_ID_LEN, eng_cindex_pack(ci, (uint32_t)i)->name, ENG_ID_LEN);
	qsort(v, *n, ENG_ID_LEN, by_name);
	return v;
}

static bool named_in(const uint8_t *sorted, size_t n, const uint8_t name[ENG_ID_LEN])
{
	return n && bsearch(name, sorted, n, ENG_ID_LEN, by_name) != NULL;
}

/* Removes every pack the new index does not name (still, sorted); those
 * the old index did not name either (old, sorted) are leftovers of
 * interrupted syncs and are counted. */
static int remove_packs(eng_store *s, const uint8_t *still, size_t nstill, const uint8_t *old, size_t nold,
			uint64_t *leftovers, eng_err *err)
{
	char **names = NULL;
	size_t n = 0;
	int rc = eng_be_names(s->be, "packs", &names, &n, err);
	for (size_t i = 0; !rc && i < n; i++) {
		const char *base = strrchr(names[i], '/');
		uint8_t bin[ENG_ID_LEN];
		bool is_pack = base && strlen(base + 1) == 2 * ENG_ID_LEN && eng_unhex(base + 1, bin, ENG_ID_LEN);
		if (is_pack && named_in(still, nstill, bin))
			continue;
		rc = eng_be_remove(s->be, names[i], err);
		if (!is_pack || !named_in(old, nold, bin))
			(*leftovers)++;
	}
	eng_names_free(names, n);
	return rc;
}

/* Marks every chunk the kept points need. A chunk the index cannot place
 * would look like garbage and its pack be deleted: refuse instead. */
static int collect(eng_store *s, eng_reach *g, bool *keep, eng_point_info *pts, size_t n, eng_err *err)
{
	for (size_t i = 0; i < n; i++) {
		if (!keep[i])
			continue;
		eng_point p;
		g->point_missing = 0;
		int rc = eng_point_load(s, pts[i].machine, pts[i].dataset, pts[i].id, &p, err);
		if (!rc)
			rc = eng_reach_point(g, &p, err);
		eng_point_release(&p);
		if (rc == ENG_ECORRUPT && g->point_missing)
			rc = eng_fail(err, ENG_ECORRUPT,
				      "store %s: point %s/%s/%s needs a block list or folder the index does not place; "
				      "nothing was pruned: run 'lifeboat repair' to rebuild the index from the packs",
				      s->be->where, pts[i].machine, pts[i].dataset, pts[i].id);
		if (rc)
			return rc;
		if (g->point_missing) {
			char hex[2 * ENG_ID_LEN + 1];
			eng_hex(g->last_missing, ENG_ID_LEN, hex);
			return eng_fail(err, ENG_ECORRUPT,
					"store %s: point %s/%s/%s needs %llu chunks the index does not place (one: %s); "
					"nothing was pruned: run 'lifeboat repair' to rebuild the index from the packs",
					s->be->where, pts[i].machine, pts[i].dataset, pts[i].id,
					(unsigned long long)g->point_missing, hex);
		}
	}
	return ENG_OK;
}

int eng_prune(eng_store *s, const eng_prune_opts *o, eng_prune_result *r, eng_err *err)
{
	memset(r, 0, sizeof(*r));
	if (!o->keep_within_us && !o->keep_last && !o->keep_app && !o->forget_all)
		return eng_fail(err, ENG_EINPUT, "give a policy: --keep-within, --keep-last or --keep-app");
	if (o->forget_all && !o->machine)
		return eng_fail(err, ENG_EINPUT, "forgetting every point needs a MACHINE scope");
	const char *why_name;
	if (o->machine && !eng_name_valid(o->machine, &why_name))
		return eng_fail(err, ENG_EINPUT, "machine name '%s' %s", o->machine, why_name);
	if (o->dataset && !eng_name_valid(o->dataset, &why_name))
		return eng_fail(err, ENG_EINPUT, "dataset name '%s' %s", o->dataset, why_name);
	eng_point_info *pts = NULL;
	size_t n = 0;
	bool *keep = NULL;
	const char **why = NULL;
	eng_reach g = { 0 };
	struct pack_weight *w = NULL;
	uint8_t *keep_pack = NULL, *repack = NULL, **entries = NULL;
	size_t *count = NULL;
	size_t np = 0;
	s->be->cancel = o->run.cancel;
	int rc = eng_be_lock(s->be, true, "prune", err);
	if (!rc && (rc = eng_store_load_index(s, err)) == ENG_ECORRUPT && err) {
		char cause[sizeof(err->msg)];
		snprintf(cause, sizeof(cause), "%s", err->msg);
		rc = eng_fail(err, ENG_ECORRUPT, "%s; nothing was pruned: run 'lifeboat repair' to rebuild the index", cause);
	}
	if (!rc)
		rc = eng_points_list(s, NULL, NULL, &pts, &n, err);
	if (rc)
		goto out;
	qsort(pts, n, sizeof(*pts), by_dataset_then_time);
	keep = calloc(n + 1, sizeof(*keep));
	why = calloc(n + 1, sizeof(*why));
	if (!keep || !why) {
		rc = eng_fail(err, ENG_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = eng_reach_init(&g, s, err)))
		goto out;
	r->points_forgotten = decide(o, pts, n, keep, why);
	r->points_kept = n - r->points_forgotten;
	/* 1. mark what the kept points need, before anything is removed */
	if ((rc = collect(s, &g, keep, pts, n, err)))
		goto out;
	for (size_t i = 0; i < n; i++)
		if (o->verdict && (!o->machine || !strcmp(o->machine, pts[i].machine)) &&
		    (!o->dataset || !strcmp(o->dataset, pts[i].dataset)))
			o->verdict(o->verdict_ctx, &pts[i], keep[i], why[i]);
	/* 2. forget */
	for (size_t i = 0; i < n && !rc && !o->dry_run; i++) {
		if (keep[i])
			continue;
		char name[600];
		snprintf(name, sizeof(name), "points/%s/%s/%s", pts[i].machine, pts[i].dataset, pts[i].id);
		rc = eng_be_remove(s->be, name, err);
	}
	if (rc)
		goto out;
	/* 3. weigh packs */
	np = eng_cindex_packs(s->ci);
	w = calloc(np + 1, sizeof(*w));
	keep_pack = calloc(np + 1, 1);
	repack = calloc(np + 1, 1);
	entries = calloc(np + 1, sizeof(*entries));
	count = calloc(np + 1, sizeof(*count));
	if (!w || !keep_pack || !repack || !entries || !count) {
		rc = eng_fail(err, ENG_ENOMEM, "out of memory");
		goto out;
	}
	struct weigh_ctx wc = { .live = g.seen, .w = w };
	eng_cindex_each(s->ci, weigh, &wc);
	weigh_groups(&wc);
	free(wc.m);
	if (wc.oom) {
		rc = eng_fail(err, ENG_ENOMEM, "out of memory");
		goto out;
	}
	size_t nkeep = 0;
	for (size_t i = 0; i < np; i++) {
		uint64_t total = w[i].live + w[i].dead, size = eng_cindex_pack(s->ci, (uint32_t)i)->size;
		if (!w[i].live) {
			r->packs_deleted++;
			r->bytes_freed += size;
		} else if (w[i].dead && (double)w[i].live < REPACK_BELOW * (double)total) {
			repack[i] = 1;
			r->packs_repacked++;
			r->bytes_freed += w[i].dead;
			r->bytes_repacked += w[i].live;
		} else {
			keep_pack[i] = 1;
			nkeep++;
		}
	}
	if (o->dry_run)
		goto out;
	/* 4. copy live blobs of mostly-dead packs into new packs */
	if (r->packs_repacked) {
		size_t nmoves = 0;
		for (size_t i = 0; i < np; i++)
			if (repack[i])
				nmoves += w[i].live_n;
		size_t before = eng_cindex_packs(s->ci);
		uint64_t copied = 0;
		if ((rc = repack_live(s, &g, repack, np, nmoves, &copied, err)))
			goto out;
		r->packs_written = eng_cindex_packs(s->ci) - before;
	}
	/* 5. one index for what stays in the old packs */
	char written[80] = "";
	eng_index_pack *ip = calloc(nkeep + 1, sizeof(*ip));
	size_t nip = 0;
	if (!ip) {
		rc = eng_fail(err, ENG_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < np && !rc; i++)
		if (keep_pack[i] && !(entries[i] = malloc((size_t)w[i].live_n * ENG_ENTRY_LEN + 1)))
			rc = eng_fail(err, ENG_ENOMEM, "out of memory");
	if (!rc) {
		struct kept_ctx kc = { g.seen, np, keep_pack, entries, count };
		eng_cindex_each(s->ci, collect_kept, &kc);
		for (size_t i = 0; i < np; i++)
			if (keep_pack[i])
				ip[nip++] = (eng_index_pack){ .name = eng_cindex_pack(s->ci, (uint32_t)i)->name,
							      .size = eng_cindex_pack(s->ci, (uint32_t)i)->size,
							      .entries = entries[i], .count = count[i] };
		if (nip)
			rc = eng_index_write(s, g.codec, ip, nip, written, err);
	}
	free(ip);
	if (rc)
		goto out;
	/* 6. delete what is replaced: old index files (not the one just
	 * written, which has the same name when nothing changed), then packs
	 * no index names, then temporary files */
	size_t nold = 0, nnow = 0;
	uint8_t *old = pack_names(s->ci, &nold), *still = NULL;
	if (!old) {
		rc = eng_fail(err, ENG_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < s->n_index_files && !rc; i++)
		if (strcmp(s->index_files[i], written) != 0)
			rc = eng_be_remove(s->be, s->index_files[i], err);
	eng_cindex_free(s->ci); /* reload: the index now lists only what stays */
	s->ci = NULL;
	eng_names_free(s->index_files, s->n_index_files);
	s->index_files = NULL;
	s->n_index_files = 0;
	if (!rc)
		rc = eng_store_load_index(s, err);
	if (!rc && !(still = pack_names(s->ci, &nnow)))
		rc = eng_fail(err, ENG_ENOMEM, "out of memory");
	if (!rc)
		rc = remove_packs(s, still, nnow, old, nold, &r->leftovers, err);
	if (!rc)
		rc = eng_be_clean(s->be, &r->leftovers, err);
	free(old);
	free(still);
out:
	for (size_t i = 0; entries && i < np; i++)
		free(entries[i]);
	free(entries);
	free(pts);
	free(keep);
	free(why);
	free(w);
	free(keep_pack);
	free(repack);
	free(count);
	eng_reach_free(&g);
	return rc;
}

/* verify.c — checking a store. Always: every index file opens, every pack
 * it names exists with the recorded size, every point opens, its metadata
 * chunks (block lists, folder streams) read back, and every chunk it needs
 * is in the index. With full: every pack is read
 * whole, its header authenticated and compared with the index, and every
 * blob authenticated and re-hashed. Each problem is reported as one line
 * naming the object; checking goes on past problems. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "envelope.h"
#include "err.h"
#include "parallel.h"
#include "reach.h"
#include "store.h"


struct verify_job {
	eng_store *s;
	const eng_verify_opts *o;
	eng_verify_result *r;
	void *mu;
	const char **pack_names; /* per pack number: object name */
	eng_par par;
	uint64_t unindexed;      /* packs no index names */
	bool index_lacks;        /* a point needs a chunk the index does not place */
};

static void problem(struct verify_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct verify_job *j, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (j->mu)
		pthread_mutex_lock(j->mu);
	j->r->problems++;
	if (j->o->report)
		j->o->report(j->o->report_ctx, line);
	if (j->mu)
		pthread_mutex_unlock(j->mu);
}

static void note(struct verify_job *j, const char *line)
{
	j->r->notes++;
	if (j->o->note)
		j->o->note(j->o->report_ctx, line);
}

struct pack_seen {
	eng_cindex *ci;
	uint8_t *seen; /* per pack number */
	struct verify_job *j;
};

static int check_pack_object(void *ctx, const char *name, uint64_t size)
{
	struct pack_seen *ps = ctx;
	const char *base = strrchr(name, '/');
	uint8_t pname[ENG_ID_LEN];
	if (strstr(name, ".tmp"))
		return 0;
	if (!base || !eng_unhex(base + 1, pname, ENG_ID_LEN)) {
		char line[600];
		snprintf(line, sizeof(line), "%s: stray object in packs/", name);
		note(ps->j, line);
		return 0;
	}
	for (size_t i = 0; i < eng_cindex_packs(ps->ci); i++) {
		const eng_pack_ref *ref = eng_cindex_pack(ps->ci, (uint32_t)i);
		if (memcmp(ref->name, pname, ENG_ID_LEN) != 0)
			continue;
		ps->seen[i] = 1;
		if (ref->size != size)
			problem(ps->j, "%s/%s: size %llu, the index says %llu", ps->j->s->be->where, name,
				(unsigned long long)size, (unsigned long long)ref->size);
		return 0;
	}
	char line[600];
	snprintf(line, sizeof(line),
		 "%s: not in any index (left by an interrupted sync, which prune removes, or named by a lost "
		 "index file, which repair restores)", name);
	note(ps->j, line);
	ps->j->unindexed++;
	return 0;
}

static void check_points(struct verify_job *j)
{
	eng_store *s = j->s;
	char **names = NULL;
	size_t n = 0;
	eng_err e;
	eng_reach r;
	if (eng_reach_init(&r, s, &e) || eng_be_names(s->be, "points", &names, &n, &e)) {
		problem(j, "%s", e.msg);
		eng_reach_free(&r);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		eng_point p;
		if (eng_point_read(s, names[i], &p, &e)) {
			problem(j, "%s/%s", s->be->where, e.msg);
			continue;
		}
		j->r->points++;
		uint64_t before = r.missing;
		if (eng_reach_point(&r, &p, &e))
			problem(j, "point %s/%s/%s: %s", p.info.machine, p.info.dataset, p.info.id, e.msg);
		if (r.point_missing) {
			char hex[2 * ENG_ID_LEN + 1], one[100] = "shared with a point above";
			eng_hex(r.last_missing, ENG_ID_LEN, hex);
			if (r.missing > before)
				snprintf(one, sizeof(one), "one: %s", hex);
			problem(j, "point %s/%s/%s: %llu chunks missing from the store (%s)", p.info.machine,
				p.info.dataset, p.info.id, (unsigned long long)r.point_missing, one);
			j->index_lacks = true;
		}
		eng_point_release(&p);
	}
	eng_names_free(names, n);
	eng_reach_free(&r);
}

struct full_tls {
	eng_codec *codec;
	uint8_t *pack, *out;
	size_t pack_cap;
};

static void *full_tls_new(void *ctx)
{
	struct verify_job *j = ctx;
	struct full_tls *t = calloc(1, sizeof(*t));
	if (!t || !(t->codec = eng_codec_new(&j->s->keys, j->s->zstd_level)) || !(t->out = malloc(4u << 20))) {
		if (t)
			eng_codec_free(t->codec);
		free(t);
		return NULL;
	}
	return t;
}

static int full_tls_end(void *ctx, void *p, bool failed, eng_err *err)
{
	(void)ctx;
	(void)failed;
	(void)err;
	struct full_tls *t = p;
	eng_codec_free(t->codec);
	free(t->pack);
	free(t->out);
	free(t);
	return ENG_OK;
}

static int verify_pack(void *ctx, void *tlsp, size_t item, eng_err *err)
{
	(void)err;
	struct verify_job *j = ctx;
	struct full_tls *t = tlsp;
	eng_store *s = j->s;
	const eng_pack_ref *ref = eng_cindex_pack(s->ci, (uint32_t)item);
	const char *obj = j->pack_names[item];
	const char *where = s->be->where;
	eng_err e;
	if (!obj)
		return ENG_OK; /* missing: already reported */
	if (ref->size > t->pack_cap) {
		uint8_t *p = realloc(t->pack, ref->size);
		if (!p) {
			problem(j, "%s/%s: out of memory reading it", where, obj);
			return ENG_OK;
		}
		t->pack = p;
		t->pack_cap = ref->size;
	}
	if (eng_be_get(s->be, obj, 0, t->pack, ref->size, &e)) {
		problem(j, "%s", e.msg);
		return ENG_OK;
	}
	atomic_fetch_add(&j->par.done_bytes, ref->size);
	const uint8_t *p = t->pack;
	size_t size = ref->size;
	if (size < 20 || memcmp(p, "LBPACK01", 8) || memcmp(p + size - 8, "LBPKEND1", 8)) {
		problem(j, "%s/%s: not a pack (bad magic)", where, obj);
		return ENG_OK;
	}
	uint32_t env_len = get_u32(p + size - 12);
	uint8_t *hdr = NULL;
	size_t hdr_len;
	char name[200];
	snprintf(name, sizeof(name), "%s/%s header", where, obj);
	if (env_len > size - 20) {
		problem(j, "%s/%s: header length out of range", where, obj);
		return ENG_OK;
	}
	if (eng_envelope_open(t->codec, "LBPKHDR1", p + size - 12 - env_len, env_len, name, &hdr, &hdr_len, NULL, &e)) {
		problem(j, "%s", e.msg);
		return ENG_OK;
	}
	uint32_t count = hdr_len >= 4 ? get_u32(hdr) : 0;
	if (hdr_len < 4 || (hdr_len - 4) / ENG_ENTRY_LEN != count || (hdr_len - 4) % ENG_ENTRY_LEN) {
		problem(j, "%s/%s: malformed header", where, obj);
		free(hdr);
		return ENG_OK;
	}
	uint64_t bad = 0, checked = 0;
	eng_codec_forget_group(t->codec); /* p now holds another pack */
	char first[1000] = "";
	for (uint32_t i = 0; i < count; i++) {
		uint8_t id[ENG_ID_LEN];
		eng_loc loc, idx;
		char hex[2 * ENG_ID_LEN + 1];
		eng_entry_get(hdr + 4 + (size_t)i * ENG_ENTRY_LEN, id, &loc);
		eng_hex(id, ENG_ID_LEN, hex);
		const char *what = NULL;
		if (!eng_cindex_get(s->ci, id, &idx) || idx.pack != item)
			; /* a duplicate stored elsewhere too: fine */
		else if (idx.offset != loc.offset || idx.length != loc.length || idx.raw_length != loc.raw_length)
			what = "index and pack header disagree";
		if (!what && ((uint64_t)loc.offset + loc.length > size - 12 - env_len || loc.offset < 8 ||
			      loc.raw_length > (4u << 20)))
			what = "entry out of range";
		if (!what &&
		    eng_codec_open(t->codec, id, loc.grouped, p + loc.offset, loc.length, t->out, loc.raw_length, true, &e))
			what = e.msg;
		checked++;
		if (what && !bad++)
			snprintf(first, sizeof(first), "chunk %s at offset %u: %s", hex, loc.offset, what);
	}
	free(hdr);
	pthread_mutex_lock(j->mu);
	j->r->chunks += checked;
	j->r->bytes_checked += size;
	pthread_mutex_unlock(j->mu);
	if (bad)
		problem(j, "%s/%s: %llu of %u chunks damaged; first: %s", where, obj, (unsigned long long)bad, count, first);
	return ENG_OK;
}

int eng_verify(eng_store *s, const eng_verify_opts *o, eng_verify_result *r, eng_err *err)
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	struct verify_job j = { .s = s, .o = o, .r = r };
	memset(r, 0, sizeof(*r));
	eng_err e;
	s->be->cancel = o->run.cancel;
	int rc = eng_be_lock(s->be, false, "verify", err);
	if (rc)
		return rc;
	if (eng_store_load_index(s, &e)) {
		problem(&j, "%s", e.msg);
		return eng_fail(err, ENG_ECORRUPT,
				"store %s: the index cannot be read; 'lifeboat repair' rebuilds it from the packs",
				s->be->where);
	}
	size_t npacks = eng_cindex_packs(s->ci);
	r->packs = npacks;
	struct pack_seen ps = { .ci = s->ci, .seen = calloc(npacks + 1, 1), .j = &j };
	j.pack_names = calloc(npacks + 1, sizeof(*j.pack_names));
	char (*names)[128] = calloc(npacks + 1, 128);
	if (!ps.seen || !j.pack_names || !names) {
		rc = eng_fail(err, ENG_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = eng_be_list(s->be, "packs", check_pack_object, &ps, err)))
		goto out;
	for (size_t i = 0; i < npacks; i++) {
		eng_pack_object(eng_cindex_pack(s->ci, (uint32_t)i)->name, names[i]);
		if (ps.seen[i])
			j.pack_names[i] = names[i];
		else
			problem(&j, "%s/%s is missing (named by the index)", s->be->where, names[i]);
	}
	check_points(&j);
	if (o->full) {
		j.mu = &mu;
		uint64_t total = 0;
		for (size_t i = 0; i < npacks; i++)
			total += eng_cindex_pack(s->ci, (uint32_t)i)->size;
		j.par = (eng_par){ .items = npacks, .total_bytes = total, .ctx = &j,
				   .make_tls = full_tls_new, .end_tls = full_tls_end, .work = verify_pack };
		rc = eng_par_run(&j.par, &o->run, err);
		j.mu = NULL;
	} else {
		r->chunks = eng_cindex_count(s->ci);
	}
	if (rc == ENG_OK && r->problems && j.index_lacks && j.unindexed)
		rc = eng_fail(err, ENG_ECORRUPT,
			      "store %s: %llu problem%s found; %llu pack%s in no index may hold the missing chunks: "
			      "'lifeboat repair' rebuilds the index from the packs", s->be->where,
			      (unsigned long long)r->problems, r->problems == 1 ? "" : "s",
			      (unsigned long long)j.unindexed, j.unindexed == 1 ? " is" : "s are");
	else if (rc == ENG_OK && r->problems)
		rc = eng_fail(err, ENG_ECORRUPT, "store %s: %llu problem%s found", s->be->where,
			      (unsigned long long)r->problems, r->problems == 1 ? "" : "s");
out:
	free(ps.seen);
	free(j.pack_names);
	free(names);
	return rc;
}

/* point.c — recovery points: a sealed JSON object per point at
 * points/MACHINE/DATASET/ID, where ID is the first 16 hex digits of the
 * object's id. A point is written last, after every chunk it references is
 * durable, so its presence means it is complete. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "envelope.h"
#include "err.h"
#include "parallel.h"
#include "store.h"

#define POINT_MAX (64u << 20)

bool eng_name_valid(const char *name, const char **why)
{
	const char *w = NULL;
	if (!name || !*name)
		w = "is empty";
	else if (strlen(name) > 200)
		w = "is longer than 200 bytes";
	else if (strchr(name, '/'))
		w = "contains '/'";
	else if (strstr(name, ".."))
		w = "contains '..'";
	else if (name[0] == '.')
		w = "starts with '.'";
	else
		for (const unsigned char *p = (const unsigned char *)name; *p && !w; p++)
			if (*p < 0x20 || *p == 0x7f)
				w = "contains a control character";
	if (why)
		*why = w;
	return w == NULL;
}

static cJSON *point_json(const eng_point *p)
{
	cJSON *o = cJSON_CreateObject();
	const eng_point_info *i = &p->info;
	cJSON_AddNumberToObject(o, "format", ENG_POINT_FORMAT);
	cJSON_AddStringToObject(o, "machine", i->machine);
	cJSON_AddStringToObject(o, "dataset", i->dataset);
	cJSON_AddStringToObject(o, "kind", i->kind);
	cJSON_AddStringToObject(o, "time", i->time);
	cJSON_AddNumberToObject(o, "time_us", (double)i->time_us);
	cJSON_AddStringToObject(o, "consistency", i->consistency);
	if (i->run[0])
		cJSON_AddStringToObject(o, "run", i->run);
	if (i->parent[0])
		cJSON_AddStringToObject(o, "parent", i->parent);
	else
		cJSON_AddNullToObject(o, "parent");
	cJSON_AddStringToObject(o, "host", p->host);
	cJSON_AddNumberToObject(o, "size", (double)i->size);
	cJSON_AddNumberToObject(o, "block_size", i->block_size);
	cJSON_AddNumberToObject(o, "blocks", (double)p->blocks);
	cJSON *lists = cJSON_AddArrayToObject(o, "lists");
	char hex[2 * ENG_ID_LEN + 1];
	for (size_t k = 0; k < p->n_lists; k++) {
		eng_hex(p->lists[k], ENG_ID_LEN, hex);
		cJSON_AddItemToArray(lists, cJSON_CreateString(hex));
	}
	if (!strcmp(i->kind, "tree")) {
		cJSON *root = cJSON_AddObjectToObject(o, "root");
		cJSON *refs = cJSON_AddArrayToObject(root, "refs");
		for (size_t k = 0; k < p->root_refs.n; k++) {
			eng_ref r;
			eng_ref_get(p->root_refs.v + k * ENG_REF_LEN, &r);
			eng_hex(r.id, ENG_ID_LEN, hex);
			cJSON *pair = cJSON_CreateArray();
			cJSON_AddItemToArray(pair, cJSON_CreateString(hex));
			cJSON_AddItemToArray(pair, cJSON_CreateNumber(r.len));
			cJSON_AddItemToArray(refs, pair);
		}
		cJSON_AddNumberToObject(root, "mode", p->root_mode);
		cJSON_AddNumberToObject(root, "uid", p->root_uid);
		cJSON_AddNumberToObject(root, "gid", p->root_gid);
		cJSON *mt = cJSON_AddArrayToObject(root, "mtime");
		cJSON_AddItemToArray(mt, cJSON_CreateNumber((double)(p->root_mtime_ns / 1000000000)));
		cJSON_AddItemToArray(mt, cJSON_CreateNumber((double)(p->root_mtime_ns % 1000000000)));
		cJSON_AddNumberToObject(o, "files", (double)p->files);
		cJSON_AddNumberToObject(o, "dirs", (double)p->dirs);
		cJSON_AddNumberToObject(o, "links", (double)p->links);
	}
	cJSON *st = cJSON_AddObjectToObject(o, "stats");
	cJSON_AddNumberToObject(st, "bytes_read", (double)p->bytes_read);
	cJSON_AddNumberToObject(st, "added_bytes", (double)i->added_bytes);
	cJSON_AddNumberToObject(st, "chunks_added", (double)p->chunks_added);
	cJSON_AddNumberToObject(st, "holes", (double)p->holes);
	cJSON_AddNumberToObject(st, "seconds", p->seconds);
	return o;
}

static bool copy_str(const cJSON *o, const char *key, char *dst, size_t cap)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsString(v) || strlen(v->valuestring) >= cap)
		return false;
	strcpy(dst, v->valuestring);
	return true;
}

/* Numbers a point holds are read only within bounds, so a forged point can
 * neither make a conversion undefined nor ask for absurd amounts of memory. */
#define MAX_COUNT 9007199254740992.0  /* 2^53: every whole number below is exact */
#define MAX_MTIME_S 9000000000.0      /* seconds either side of 1970 whose ns fit an int64 */

/* A whole number in [min, max]. */
static bool get_whole(const cJSON *o, const char *key, double min, double max, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= min && v->valuedouble <= max) ||
	    v->valuedouble != floor(v->valuedouble))
		return false;
	*out = v->valuedouble;
	return true;
}

static bool json_u64(const cJSON *o, const char *key, uint64_t *out)
{
	double v;
	if (!get_whole(o, key, 0, MAX_COUNT, &v))
		return false;
	*out = (uint64_t)v;
	return true;
}

static bool json_u32(const cJSON *o, const char *key, uint32_t *out)
{
	double v;
	if (!get_whole(o, key, 0, 4294967295.0, &v))
		return false;
	*out = (uint32_t)v;
	return true;
}

static bool get_seconds(const cJSON *o, const char *key, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= MAX_COUNT))
		return false;
	*out = v->valuedouble;
	return true;
}

static bool decode_tree_root(const cJSON *o, eng_point *p)
{
	const cJSON *root = cJSON_GetObjectItemCaseSensitive(o, "root");
	const cJSON *refs = cJSON_GetObjectItemCaseSensitive(root, "refs"), *pair;
	if (!cJSON_IsObject(root) || !cJSON_IsArray(refs))
		return false;
	cJSON_ArrayForEach(pair, refs) {
		const cJSON *h = cJSON_GetArrayItem(pair, 0), *l = cJSON_GetArrayItem(pair, 1);
		uint8_t id[ENG_ID_LEN];
		if (!cJSON_IsString(h) || !eng_unhex(h->valuestring, id, ENG_ID_LEN) || !cJSON_IsNumber(l) ||
		    !(l->valuedouble >= 0 && l->valuedouble <= 4294967295.0) ||
		    eng_refs_add(&p->root_refs, id, (uint32_t)l->valuedouble))
			return false;
	}
	if (!json_u32(root, "mode", &p->root_mode) || p->root_mode > 07777 || !json_u32(root, "uid", &p->root_uid) ||
	    !json_u32(root, "gid", &p->root_gid))
		return false;
	const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "mtime");
	const cJSON *sec = cJSON_GetArrayItem(mt, 0), *nsec = cJSON_GetArrayItem(mt, 1);
	if (!cJSON_IsNumber(sec) || !cJSON_IsNumber(nsec) ||
	    !(sec->valuedouble >= -MAX_MTIME_S && sec->valuedouble <= MAX_MTIME_S) ||
	    !(nsec->valuedouble >= 0 && nsec->valuedouble < 1e9))
		return false;
	p->root_mtime_ns = (int64_t)sec->valuedouble * 1000000000 + (int64_t)nsec->valuedouble;
	if (!json_u64(o, "files", &p->files))
		p->files = 0;
	if (!json_u64(o, "dirs", &p->dirs))
		p->dirs = 0;
	if (!json_u64(o, "links", &p->links))
		p->links = UINT64_MAX; /* a point from before links were counted */
	return true;
}

static bool image_shape_valid(const eng_point *p)
{
	uint32_t bs = p->info.block_size;
	return bs >= ENG_MIN_BLOCK && bs <= ENG_MAX_BLOCK && (bs & (bs - 1)) == 0 &&
	       p->blocks == (p->info.size + bs - 1) / bs &&
	       p->n_lists == (p->blocks + ENG_SEGMENT_BLOCKS - 1) / ENG_SEGMENT_BLOCKS;
}

static int decode_point(const char *name, const char *text, size_t len, eng_point *p, eng_err *err)
{
	memset(p, 0, sizeof(*p));
	cJSON *o = cJSON_ParseWithLength(text, len);
	double fmt, tus;
	const cJSON *lists = o ? cJSON_GetObjectItemCaseSensitive(o, "lists") : NULL;
	const cJSON *parent = o ? cJSON_GetObjectItemCaseSensitive(o, "parent") : NULL;
	const cJSON *st = o ? cJSON_GetObjectItemCaseSensitive(o, "stats") : NULL;
	eng_point_info *i = &p->info;
	bool ok = o && get_whole(o, "format", 0, 1e6, &fmt) && copy_str(o, "machine", i->machine, sizeof(i->machine)) &&
		  copy_str(o, "dataset", i->dataset, sizeof(i->dataset)) && copy_str(o, "kind", i->kind, sizeof(i->kind)) &&
		  copy_str(o, "time", i->time, sizeof(i->time)) && get_whole(o, "time_us", 0, MAX_COUNT, &tus) &&
		  copy_str(o, "consistency", i->consistency, sizeof(i->consistency)) &&
		  json_u64(o, "size", &i->size) && json_u32(o, "block_size", &i->block_size) &&
		  json_u64(o, "blocks", &p->blocks) &&
		  cJSON_IsArray(lists) && (cJSON_IsNull(parent) || (cJSON_IsString(parent) && strlen(parent->valuestring) == 16));
	if (ok && fmt > ENG_POINT_FORMAT) {
		cJSON_Delete(o);
		return eng_fail(err, ENG_EFORMAT, "%s has format %.0f; this lifeboat reads points of format %d: upgrade lifeboat",
				name, fmt, ENG_POINT_FORMAT);
	}
	if (ok) {
		copy_str(o, "host", p->host, sizeof(p->host));
		if (!copy_str(o, "run", i->run, sizeof(i->run)))
			i->run[0] = '\0';
		if (cJSON_IsString(parent))
			strcpy(i->parent, parent->valuestring);
		i->time_us = (int64_t)tus;
		if (cJSON_IsObject(st)) {
			if (!json_u64(st, "added_bytes", &i->added_bytes)) i->added_bytes = 0;
			if (!json_u64(st, "bytes_read", &p->bytes_read)) p->bytes_read = 0;
			if (!json_u64(st, "chunks_added", &p->chunks_added)) p->chunks_added = 0;
			if (!json_u64(st, "holes", &p->holes)) p->holes = 0;
			if (!get_seconds(st, "seconds", &p->seconds)) p->seconds = 0;
		}
		p->n_lists = (size_t)cJSON_GetArraySize(lists);
		if (!strcmp(i->kind, "image"))
			ok = image_shape_valid(p);
		else if (!strcmp(i->kind, "tree"))
			ok = p->n_lists == 0 && decode_tree_root(o, p);
		else
			ok = false;
	}
	if (ok && p->n_lists) {
		p->lists = malloc(p->n_lists * ENG_ID_LEN);
		size_t k = 0;
		const cJSON *e;
		cJSON_ArrayForEach(e, lists) {
			if (!p->lists || !cJSON_IsString(e) || !eng_unhex(e->valuestring, p->lists[k], ENG_ID_LEN)) {
				ok = false;
				break;
			}
			k++;
		}
	}
	cJSON_Delete(o);
	if (!ok) {
		eng_point_release(p);
		return eng_fail(err, ENG_ECORRUPT, "%s: malformed point", name);
	}
	return ENG_OK;
}

void eng_point_release(eng_point *p)
{
	free(p->lists);
	p->lists = NULL;
	p->n_lists = 0;
	eng_refs_free(&p->root_refs);
}

/* size: the object's size from a listing, or UINT64_MAX to ask. */
static int read_point(eng_store *s, eng_codec *c, const char *name, uint64_t size, eng_point *p, eng_err *err);

int eng_point_read(eng_store *s, const char *name, eng_point *out, eng_err *err)
{
	eng_codec *c = eng_codec_new(&s->keys, s->zstd_level);
	if (!c)
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	int rc = read_point(s, c, name, UINT64_MAX, out, err);
	eng_codec_free(c);
	return rc;
}

static int read_point(eng_store *s, eng_codec *c, const char *name, uint64_t size, eng_point *p, eng_err *err)
{
	uint8_t *raw = NULL, *body = NULL;
	size_t raw_len = (size_t)size, body_len;
	int rc = size == UINT64_MAX ? eng_be_get_all(s->be, name, POINT_MAX, &raw, &raw_len, err)
				    : eng_be_get_sized(s->be, name, size, POINT_MAX, &raw, err);
	if (!rc)
		rc = eng_envelope_open(c, "LBPOINT1", raw, raw_len, name, &body, &body_len, NULL, err);
	if (!rc)
		rc = decode_point(name, (const char *)body, body_len, p, err);
	/* The name says which point this is; the content must agree. */
	const char *id = strrchr(name, '/');
	if (!rc) {
		char expect[600];
		snprintf(expect, sizeof(expect), "points/%s/%s/", p->info.machine, p->info.dataset);
		if (strncmp(name, expect, strlen(expect)) != 0 || strlen(id + 1) != 16) {
			eng_point_release(p);
			rc = eng_fail(err, ENG_ECORRUPT, "%s: its content names another point", name);
		} else {
			strcpy(p->info.id, id + 1);
		}
	}
	free(raw);
	free(body);
	return rc;
}

int eng_point_load(eng_store *s, const char *machine, const char *dataset, const char *id,
		   eng_point *out, eng_err *err)
{
	char name[600];
	snprintf(name, sizeof(name), "points/%s/%s/%s", machine, dataset, id);
	return eng_point_read(s, name, out, err);
}

int eng_point_write(eng_store *s, eng_point *p, eng_err *err)
{
	eng_codec *c = eng_codec_new(&s->keys, s->zstd_level);
	cJSON *o = point_json(p);
	char *text = o ? cJSON_PrintUnformatted(o) : NULL;
	uint8_t *env = NULL, id[ENG_ID_LEN];
	size_t env_len;
	char hex[2 * ENG_ID_LEN + 1], name[600];
	int rc = !c || !text ? eng_fail(err, ENG_ENOMEM, "out of memory")
			     : eng_envelope_seal(c, "LBPOINT1", text, strlen(text), &env, &env_len, id, err);
	if (!rc) {
		eng_hex(id, ENG_ID_LEN, hex);
		hex[16] = 0;
		snprintf(name, sizeof(name), "points/%s/%s/%s", p->info.machine, p->info.dataset, hex);
		rc = eng_be_put(s->be, name, env, env_len, err);
		if (!rc)
			strcpy(p->info.id, hex);
	}
	free(env);
	free(text);
	cJSON_Delete(o);
	eng_codec_free(c);
	return rc;
}

static int by_time(const void *a, const void *b)
{
	const eng_point_info *x = a, *y = b;
	if (x->time_us != y->time_us)
		return x->time_us < y->time_us ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* Reading the points of a listing, several at a time (each is one
 * request to a remote store). */
struct list_job {
	eng_store *s;
	char **names;
	uint64_t *sizes;
	eng_point_info *infos;
	eng_par par;
};

static void *list_tls_new(void *ctx)
{
	struct list_job *j = ctx;
	return eng_codec_new(&j->s->keys, j->s->zstd_level);
}

static int list_tls_end(void *ctx, void *tls, bool failed, eng_err *err)
{
	(void)ctx; (void)failed; (void)err;
	eng_codec_free(tls);
	return ENG_OK;
}

static int list_one(void *ctx, void *tls, size_t i, eng_err *err)
{
	struct list_job *j = ctx;
	eng_point p;
	int rc = read_point(j->s, tls, j->names[i], j->sizes[i], &p, err);
	if (!rc) {
		j->infos[i] = p.info;
		eng_point_release(&p);
	}
	return rc;
}

int eng_points_list(eng_store *s, const char *machine, const char *dataset,
		    eng_point_info **out, size_t *n, eng_err *err)
{
	char prefix[600];
	if (machine && dataset)
		snprintf(prefix, sizeof(prefix), "points/%s/%s", machine, dataset);
	else if (machine)
		snprintf(prefix, sizeof(prefix), "points/%s", machine);
	else
		snprintf(prefix, sizeof(prefix), "points");
	struct list_job j = { .s = s };
	size_t count = 0;
	int rc = eng_be_names_sizes(s->be, prefix, &j.names, &j.sizes, &count, err);
	if (!rc && count && !(j.infos = calloc(count, sizeof(*j.infos))))
		rc = eng_fail(err, ENG_ENOMEM, "out of memory listing points");
	if (!rc && count) {
		eng_run_opts run = { .threads = s->be->remote ? 8 : 1 };
		j.par = (eng_par){ .items = count, .ctx = &j, .make_tls = list_tls_new, .end_tls = list_tls_end,
				   .work = list_one };
		rc = eng_par_run(&j.par, &run, err);
	}
	eng_names_free(j.names, count);
	free(j.sizes);
	if (rc) {
		free(j.infos);
		return rc;
	}
	if (count)
		qsort(j.infos, count, sizeof(*j.infos), by_time);
	*out = j.infos;
	*n = count;
	return ENG_OK;
}

int eng_point_find(eng_store *s, const char *machine, const char *dataset,
		   const char *which, eng_point_info *out, eng_err *err)
{
	eng_point_info *all;
	size_t n;
	int rc = eng_points_list(s, machine, dataset, &all, &n, err);
	if (rc)
		return rc;
	const eng_point_info *hit = NULL;
	if (!which || !*which || strcmp(which, "latest") == 0) {
		hit = n ? &all[n - 1] : NULL;
		if (!hit)
			rc = eng_fail(err, ENG_EINPUT, "no points for %s/%s in store %s", machine, dataset, s->be->where);
	} else {
		size_t len = strlen(which);
		for (size_t i = 0; i < n && rc == ENG_OK; i++) {
			if (strncmp(all[i].id, which, len) != 0)
				continue;
			if (hit)
				rc = eng_fail(err, ENG_EINPUT, "point '%s' of %s/%s is ambiguous: give more digits",
					      which, machine, dataset);
			hit = &all[i];
		}
		if (!rc && !hit)
			rc = eng_fail(err, ENG_EINPUT, "no point '%s' for %s/%s in store %s", which, machine, dataset,
				      s->be->where);
	}
	if (!rc)
		*out = *hit;
	free(all);
	return rc;
}

/* reach.c — walking the chunks a point needs. */
#include "reach.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "stream.h"


int eng_reach_init(eng_reach *r, eng_store *s, eng_err *err)
{
	memset(r, 0, sizeof(*r));
	r->s = s;
	r->codec = eng_codec_new(&s->keys, s->zstd_level);
	r->seen = eng_cindex_new();
	r->lacking = eng_cindex_new();
	r->blob = malloc(eng_codec_bound(ENG_LIST_BYTES > ENG_CDC_MAX ? ENG_LIST_BYTES : ENG_CDC_MAX));
	r->buf = malloc(ENG_LIST_BYTES);
	if (!r->codec || !r->seen || !r->lacking || !r->blob || !r->buf) {
		eng_reach_free(r);
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	}
	return ENG_OK;
}

void eng_reach_free(eng_reach *r)
{
	eng_codec_free(r->codec);
	eng_cindex_free(r->seen);
	eng_cindex_free(r->lacking);
	free(r->blob);
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

/* Records that n chunks under id are missing. */
static int taint(eng_reach *r, const uint8_t *id, uint64_t n)
{
	eng_loc l = { .offset = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n };
	return eng_cindex_put(r->lacking, id, &l) ? ENG_ENOMEM : ENG_OK;
}

/* Adds id to the set: 1 when it was new, 0 when known (or a hole), <0 on
 * failure. A known id counts what is missing under it for this point. */
static int mark(eng_reach *r, const uint8_t *id)
{
	static const uint8_t zero[ENG_ID_LEN];
	eng_loc l;
	if (!memcmp(id, zero, ENG_ID_LEN))
		return 0;
	if (eng_cindex_get(r->seen, id, NULL)) {
		if (eng_cindex_get(r->lacking, id, &l))
			r->point_missing += l.offset;
		return 0;
	}
	eng_loc none = { 0 };
	if (eng_cindex_put(r->seen, id, &none))
		return ENG_ENOMEM;
	if (!eng_cindex_get(r->s->ci, id, NULL)) {
		r->missing++;
		r->point_missing++;
		memcpy(r->last_missing, id, ENG_ID_LEN);
		if (taint(r, id, 1))
			return ENG_ENOMEM;
	}
	return 1;
}

static int reach_image(eng_reach *r, const eng_point *p, eng_err *err)
{
	for (size_t k = 0; k < p->n_lists; k++) {
		uint64_t before = r->point_missing;
		int m = mark(r, p->lists[k]);
		if (m < 0)
			return eng_fail(err, ENG_ENOMEM, "out of memory");
		if (m == 0)
			continue; /* the same list in another point: its blocks are in the set */
		size_t len;
		int rc = eng_chunk_read(r->s, r->codec, p->lists[k], r->blob, r->buf, ENG_LIST_BYTES, &len, err);
		if (rc)
			return rc;
		for (size_t b = 0; b < len / ENG_ID_LEN; b++)
			if (mark(r, r->buf + b * ENG_ID_LEN) < 0)
				return eng_fail(err, ENG_ENOMEM, "out of memory");
		if (r->point_missing > before && taint(r, p->lists[k], r->point_missing - before))
			return eng_fail(err, ENG_ENOMEM, "out of memory");
	}
	return ENG_OK;
}

/* Marks refs; *fresh tells whether any was new. */
static int mark_refs(eng_reach *r, const uint8_t *refs, uint32_t n, bool *fresh)
{
	*fresh = false;
	for (uint32_t i = 0; i < n; i++) {
		int m = mark(r, refs + (size_t)i * ENG_REF_LEN);
		if (m < 0)
			return ENG_ENOMEM;
		*fresh |= m > 0;
	}
	return ENG_OK;
}

static int reach_dir(eng_reach *r, const uint8_t *refs, uint32_t nrefs, int depth, eng_err *err)
{
	bool fresh;
	uint64_t before = r->point_missing;
	if (depth > 256)
		return eng_fail(err, ENG_ECORRUPT, "a tree point nests deeper than 256 levels");
	if (mark_refs(r, refs, nrefs, &fresh))
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	if (!fresh && nrefs)
		return ENG_OK; /* the same folder in another point: its subtree is in the set */
	uint8_t *bytes = NULL;
	size_t len = 0, pos = 0;
	int rc = eng_stream_get(r->s, r->codec, refs, nrefs, ENG_DIR_STREAM_MAX, &bytes, &len, err);
	while (!rc && pos < len) {
		eng_entry e;
		size_t used = eng_entry_decode(bytes + pos, len - pos, &e);
		if (!used) {
			rc = eng_fail(err, ENG_ECORRUPT, "a folder of a tree point is malformed");
			break;
		}
		pos += used;
		if (e.type == ENG_T_DIR)
			rc = reach_dir(r, e.refs, e.nrefs, depth + 1, err);
		else if (mark_refs(r, e.refs, e.nrefs, &fresh))
			rc = eng_fail(err, ENG_ENOMEM, "out of memory");
	}
	free(bytes);
	/* the subtree's count goes on the folder's first ref only, so a later
	 * point sharing the folder counts it once */
	if (!rc && nrefs && r->point_missing > before && taint(r, refs, r->point_missing - before))
		rc = eng_fail(err, ENG_ENOMEM, "out of memory");
	return rc;
}

int eng_reach_point(eng_reach *r, const eng_point *p, eng_err *err)
{
	r->point_missing = 0;
	if (!strcmp(p->info.kind, "image"))
		return reach_image(r, p, err);
	return reach_dir(r, p->root_refs.v, (uint32_t)p->root_refs.n, 0, err);
}

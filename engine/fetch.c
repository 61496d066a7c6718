/* fetch.c — coalesced chunk reads. See fetch.h. */
#include "fetch.h"

#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "err.h"

/* Remote: a request costs a round trip, so bridge larger gaps. */
#define GAP_REMOTE (1u << 20)
#define RANGE_REMOTE (4u << 20)
#define GAP_LOCAL (64u << 10)
#define RANGE_LOCAL (1u << 20)

/* The largest blob a fetcher may meet: its largest chunk's, or a group's. */
static size_t blob_max(size_t max_plain)
{
	return eng_codec_bound(max_plain > ENG_GROUP_PLAIN_MAX ? max_plain : ENG_GROUP_PLAIN_MAX);
}

bool eng_fetcher_init(eng_fetcher *f, const eng_store *s, size_t max_plain)
{
	memset(f, 0, sizeof(*f));
	size_t range = s->be->remote ? RANGE_REMOTE : RANGE_LOCAL;
	f->range_cap = range + blob_max(max_plain);
	f->plain_cap = max_plain;
	f->range = malloc(f->range_cap);
	f->plain = malloc(max_plain ? max_plain : 1);
	if (!f->range || !f->plain) {
		eng_fetcher_free(f);
		return false;
	}
	return true;
}

void eng_fetcher_free(eng_fetcher *f)
{
	free(f->range);
	free(f->plain);
	memset(f, 0, sizeof(*f));
}

/* By place, then in the caller's order: a group's members share a place,
 * and a restore writes them in runs when they come in the order of the
 * blocks or bytes that want them. */
static int by_place(const void *a, const void *b)
{
	const eng_fetch *p = a, *q = b;
	const eng_loc *x = &p->loc, *y = &q->loc;
	if (x->pack != y->pack)
		return x->pack < y->pack ? -1 : 1;
	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return p->tag < q->tag ? -1 : p->tag > q->tag;
}

int eng_fetch_run(eng_store *s, eng_codec *c, eng_fetcher *f, eng_fetch *v, size_t n, eng_fetched_fn fn, void *ctx,
		  eng_err *err)
{
	char hex[2 * ENG_ID_LEN + 1], obj[128];
	for (size_t i = 0; i < n; i++) {
		if (!eng_cindex_get(s->ci, v[i].id, &v[i].loc) || v[i].loc.pack == ENG_PACK_PENDING) {
			eng_hex(v[i].id, ENG_ID_LEN, hex);
			return eng_fail(err, ENG_ECORRUPT, "chunk %s is missing from the index of store %s", hex, s->be->where);
		}
		size_t limit = v[i].loc.grouped ? ENG_GROUP_PLAIN_MAX : f->plain_cap;
		if (v[i].loc.raw_length > f->plain_cap || v[i].loc.length > eng_codec_bound(limit)) {
			eng_hex(v[i].id, ENG_ID_LEN, hex);
			return eng_fail(err, ENG_ECORRUPT, "store %s: chunk %s has an implausible size in the index", s->be->where,
					hex);
		}
	}
	qsort(v, n, sizeof(*v), by_place);
	uint64_t gap = s->be->remote ? GAP_REMOTE : GAP_LOCAL;
	uint64_t max = f->range_cap - blob_max(f->plain_cap);
	for (size_t i = 0; i < n;) {
		/* one range: v[i..j) */
		uint64_t start = v[i].loc.offset, end = start + v[i].loc.length;
		size_t j = i + 1;
		while (j < n && v[j].loc.pack == v[i].loc.pack && v[j].loc.offset <= end + gap) {
			uint64_t e = (uint64_t)v[j].loc.offset + v[j].loc.length;
			uint64_t new_end = e > end ? e : end;
			if (new_end > end && new_end - start > max) /* more members of a blob in range cost nothing */
				break;
			end = new_end;
			j++;
		}
		eng_pack_object(eng_cindex_pack(s->ci, v[i].loc.pack)->name, obj);
		int rc = eng_be_get(s->be, obj, start, f->range, (size_t)(end - start), err);
		if (rc == ENG_ENOTFOUND) /* a pack the index names is gone: damage, not bad input */
			rc = eng_fail(err, ENG_ECORRUPT, "%s/%s is missing (named by the index)", s->be->where, obj);
		if (rc)
			return rc;
		for (size_t k = i; k < j; k++) {
			const eng_loc *l = &v[k].loc;
			bool same = k > i && !memcmp(v[k].id, v[k - 1].id, ENG_ID_LEN);
			if (!same) {
				eng_err e;
				rc = eng_codec_open(c, v[k].id, l->grouped, f->range + (l->offset - start), l->length, f->plain,
						    l->raw_length, false, &e);
				if (rc) {
					eng_hex(v[k].id, ENG_ID_LEN, hex);
					return eng_fail(err, rc, "%s/%s: chunk %s at offset %u: %s", s->be->where, obj, hex,
							l->offset, e.msg);
				}
			}
			if ((rc = fn(ctx, &v[k], f->plain, l->raw_length, err)))
				return rc;
		}
		i = j;
	}
	return ENG_OK;
}

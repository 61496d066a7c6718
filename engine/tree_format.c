/* tree_format.c — encoding and decoding directory entries. */
#include "tree.h"

#include <stdlib.h>
#include <string.h>

#include "bytes.h"

size_t eng_entry_size(const eng_entry *e)
{
	return ENG_ENTRY_FIXED + e->name_len + (size_t)e->nrefs * ENG_REF_LEN + e->target_len;
}

void eng_ref_get(const uint8_t *p, eng_ref *r)
{
	memcpy(r->id, p, ENG_ID_LEN);
	r->len = get_u32(p + ENG_ID_LEN);
}

void eng_ref_put(uint8_t *p, const eng_ref *r)
{
	memcpy(p, r->id, ENG_ID_LEN);
	put_u32(p + ENG_ID_LEN, r->len);
}

void eng_entry_encode(const eng_entry *e, uint8_t *p)
{
	*p++ = e->type;
	p[0] = (uint8_t)e->name_len;
	p[1] = (uint8_t)(e->name_len >> 8);
	p += 2;
	memcpy(p, e->name, e->name_len);
	p += e->name_len;
	put_u32(p, e->mode); put_u32(p + 4, e->uid); put_u32(p + 8, e->gid);
	p += 12;
	put_u64(p, (uint64_t)e->mtime_ns); put_u64(p + 8, (uint64_t)e->ctime_ns);
	put_u64(p + 16, e->ino); put_u64(p + 24, e->size); put_u64(p + 32, e->rdev);
	p += 40;
	put_u32(p, e->nrefs);
	p += 4;
	if (e->nrefs)
		memcpy(p, e->refs, (size_t)e->nrefs * ENG_REF_LEN);
	p += (size_t)e->nrefs * ENG_REF_LEN;
	p[0] = (uint8_t)e->target_len;
	p[1] = (uint8_t)(e->target_len >> 8);
	if (e->target_len)
		memcpy(p + 2, e->target, e->target_len);
}

size_t eng_entry_decode(const uint8_t *p, size_t avail, eng_entry *e)
{
	const uint8_t *start = p;
	if (avail < ENG_ENTRY_FIXED)
		return 0;
	e->type = *p++;
	e->name_len = (uint16_t)(p[0] | p[1] << 8);
	p += 2;
	if ((size_t)(p - start) + e->name_len + ENG_ENTRY_FIXED - 3 > avail)
		return 0;
	e->name = (const char *)p;
	p += e->name_len;
	e->mode = get_u32(p); e->uid = get_u32(p + 4); e->gid = get_u32(p + 8);
	p += 12;
	e->mtime_ns = (int64_t)get_u64(p); e->ctime_ns = (int64_t)get_u64(p + 8);
	e->ino = get_u64(p + 16); e->size = get_u64(p + 24); e->rdev = get_u64(p + 32);
	p += 40;
	e->nrefs = get_u32(p);
	p += 4;
	size_t left = avail - (size_t)(p - start);
	if (e->nrefs > (left - 2) / ENG_REF_LEN)
		return 0;
	e->refs = p;
	p += (size_t)e->nrefs * ENG_REF_LEN;
	e->target_len = (uint16_t)(p[0] | p[1] << 8);
	p += 2;
	if ((size_t)(p - start) + e->target_len > avail)
		return 0;
	e->target = (const char *)p;
	p += e->target_len;
	if (e->type < ENG_T_FILE || e->type > ENG_T_BLK)
		return 0;
	return (size_t)(p - start);
}

bool eng_entry_name_ok(const char *name, size_t len)
{
	if (len == 0 || (len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return false;
	return !memchr(name, '/', len) && !memchr(name, 0, len);
}

int eng_refs_add(eng_refs *r, const uint8_t id[ENG_ID_LEN], uint32_t len)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 1; /* most files are one chunk */
		uint8_t *v = realloc(r->v, cap * ENG_REF_LEN);
		if (!v)
			return ENG_ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	eng_ref ref = { .len = len };
	memcpy(ref.id, id, ENG_ID_LEN);
	eng_ref_put(r->v + r->n * ENG_REF_LEN, &ref);
	r->n++;
	return ENG_OK;
}

void eng_refs_free(eng_refs *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}

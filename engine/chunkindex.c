/* chunkindex.c — open addressing with linear probing; ids are uniformly
 * distributed hashes, so their first bytes are the hash. */
#include "chunkindex.h"

#include <stdlib.h>
#include <string.h>

#include "bytes.h"

struct slot {
	uint8_t id[ENG_ID_LEN];
	eng_loc loc;
	bool used;
};

struct eng_cindex {
	struct slot *slots;
	size_t cap, count;
	eng_pack_ref *packs;
	size_t npacks, cap_packs;
	uint32_t *by_name; /* pack number + 1 per slot (0: free), hashed by name */
	size_t cap_names;
};

eng_cindex *eng_cindex_new(void)
{
	eng_cindex *ci = calloc(1, sizeof(*ci));
	if (!ci)
		return NULL;
	ci->cap = 1024;
	ci->slots = calloc(ci->cap, sizeof(*ci->slots));
	if (!ci->slots) {
		free(ci);
		return NULL;
	}
	return ci;
}

void eng_cindex_free(eng_cindex *ci)
{
	if (!ci)
		return;
	free(ci->slots);
	free(ci->packs);
	free(ci->by_name);
	free(ci);
}

/* The slot of name in by_name: where it is, or the free slot it would take. */
static uint32_t *name_slot(const eng_cindex *ci, const uint8_t name[ENG_ID_LEN])
{
	for (size_t i = (size_t)get_u64(name) & (ci->cap_names - 1);; i = (i + 1) & (ci->cap_names - 1)) {
		uint32_t *slot = &ci->by_name[i];
		if (!*slot || memcmp(ci->packs[*slot - 1].name, name, ENG_ID_LEN) == 0)
			return slot;
	}
}

static int grow_names(eng_cindex *ci)
{
	size_t cap = ci->cap_names ? 2 * ci->cap_names : 128;
	uint32_t *v = calloc(cap, sizeof(*v));
	if (!v)
		return -1;
	free(ci->by_name);
	ci->by_name = v;
	ci->cap_names = cap;
	for (size_t p = 0; p < ci->npacks; p++)
		*name_slot(ci, ci->packs[p].name) = (uint32_t)p + 1;
	return 0;
}

uint32_t eng_cindex_add_pack(eng_cindex *ci, const uint8_t name[ENG_ID_LEN], uint64_t size)
{
	if ((ci->npacks + 1) * 2 > ci->cap_names && grow_names(ci) != 0)
		return UINT32_MAX;
	uint32_t *slot = name_slot(ci, name);
	if (*slot)
		return *slot - 1; /* named by an earlier index file too: one pack */
	if (ci->npacks == ci->cap_packs) {
		size_t cap = ci->cap_packs ? ci->cap_packs * 2 : 64;
		eng_pack_ref *p = realloc(ci->packs, cap * sizeof(*p));
		if (!p)
			return UINT32_MAX;
		ci->packs = p;
		ci->cap_packs = cap;
	}
	memcpy(ci->packs[ci->npacks].name, name, ENG_ID_LEN);
	ci->packs[ci->npacks].size = size;
	*slot = (uint32_t)ci->npacks + 1;
	return (uint32_t)ci->npacks++;
}

const eng_pack_ref *eng_cindex_pack(const eng_cindex *ci, uint32_t pack)
{
	return pack < ci->npacks ? &ci->packs[pack] : NULL;
}

void eng_cindex_set_pack_size(eng_cindex *ci, uint32_t pack, uint64_t size)
{
	if (pack < ci->npacks)
		ci->packs[pack].size = size;
}

size_t eng_cindex_packs(const eng_cindex *ci) { return ci->npacks; }
size_t eng_cindex_count(const eng_cindex *ci) { return ci->count; }

static size_t home(const eng_cindex *ci, const uint8_t *id)
{
	return (size_t)get_u64(id) & (ci->cap - 1);
}

static struct slot *find(const eng_cindex *ci, const uint8_t *id)
{
	for (size_t i = home(ci, id);; i = (i + 1) & (ci->cap - 1)) {
		struct slot *s = &ci->slots[i];
		if (!s->used || memcmp(s->id, id, ENG_ID_LEN) == 0)
			return s;
	}
}

static int grow(eng_cindex *ci)
{
	struct slot *old = ci->slots;
	size_t old_cap = ci->cap;
	struct slot *n = calloc(old_cap * 2, sizeof(*n));
	if (!n)
		return -1;
	ci->slots = n;
	ci->cap = old_cap * 2;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].used)
			*find(ci, old[i].id) = old[i];
	free(old);
	return 0;
}

bool eng_cindex_get(const eng_cindex *ci, const uint8_t id[ENG_ID_LEN], eng_loc *out)
{
	struct slot *s = find(ci, id);
	if (!s->used)
		return false;
	if (out)
		*out = s->loc;
	return true;
}

int eng_cindex_put(eng_cindex *ci, const uint8_t id[ENG_ID_LEN], const eng_loc *loc)
{
	if ((ci->count + 1) * 4 > ci->cap * 3 && grow(ci) != 0)
		return -1;
	struct slot *s = find(ci, id);
	if (!s->used) {
		memcpy(s->id, id, ENG_ID_LEN);
		s->used = true;
		ci->count++;
	}
	s->loc = *loc;
	return 0;
}

void eng_cindex_each(const eng_cindex *ci, void (*fn)(void *ctx, const uint8_t *id, const eng_loc *loc),
		     void *ctx)
{
	for (size_t i = 0; i < ci->cap; i++)
		if (ci->slots[i].used)
			fn(ctx, ci->slots[i].id, &ci->slots[i].loc);
}

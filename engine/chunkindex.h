/* chunkindex.h — the in-memory map from chunk id to where its blob lives:
 * which pack, at which offset, how long, and its plain size. Not
 * thread-safe: callers that share one lock it. */
#ifndef ENG_CHUNKINDEX_H
#define ENG_CHUNKINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

#define ENG_PACK_PENDING UINT32_MAX /* reserved by a sync, blob not placed yet */

enum { ENG_CHUNK_DATA = 0, ENG_CHUNK_META = 1 };

typedef struct eng_loc {
	uint32_t pack;
	uint32_t offset;
	uint32_t length;
	uint32_t raw_length;
	uint8_t type;
	bool grouped; /* the blob is a group of small chunks (codec.h) */
} eng_loc;

typedef struct eng_pack_ref {
	uint8_t name[ENG_ID_LEN];
	uint64_t size;
} eng_pack_ref;

typedef struct eng_cindex eng_cindex;

eng_cindex *eng_cindex_new(void);
void eng_cindex_free(eng_cindex *ci);

/* Adds a pack and returns its number, or UINT32_MAX when out of memory. A
 * pack already known by that name keeps its number (and its size): several
 * index files may name one pack, e.g. after a prune was interrupted. */
uint32_t eng_cindex_add_pack(eng_cindex *ci, const uint8_t name[ENG_ID_LEN], uint64_t size);
const eng_pack_ref *eng_cindex_pack(const eng_cindex *ci, uint32_t pack);
void eng_cindex_set_pack_size(eng_cindex *ci, uint32_t pack, uint64_t size);
size_t eng_cindex_packs(const eng_cindex *ci);
size_t eng_cindex_count(const eng_cindex *ci);

bool eng_cindex_get(const eng_cindex *ci, const uint8_t id[ENG_ID_LEN], eng_loc *out);
/* Inserts or overwrites; -1 when out of memory. */
int eng_cindex_put(eng_cindex *ci, const uint8_t id[ENG_ID_LEN], const eng_loc *loc);
/* Calls fn for every entry (in no order). */
void eng_cindex_each(const eng_cindex *ci, void (*fn)(void *ctx, const uint8_t *id, const eng_loc *loc),
		     void *ctx);

#endif

/* store.h — the store object shared by the engine's operations: backend,
 * keys, settings from the store's config, and the chunk index once loaded. */
#ifndef ENG_STORE_H
#define ENG_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "chunkindex.h"
#include "codec.h"
#include "lifeboat_engine.h"
#include "tree.h"

#define ENG_POINT_FORMAT 1 /* points have not changed since store format 1 */
#define ENG_DEFAULT_BLOCK (16u << 10)
#define ENG_MIN_BLOCK (4u << 10) /* image block sizes: powers of two in [min, max] */
#define ENG_MAX_BLOCK (4u << 20)
#define ENG_SEGMENT_BLOCKS 1024 /* blocks per block-list chunk */
#define ENG_LIST_BYTES (ENG_SEGMENT_BLOCKS * ENG_ID_LEN)

struct eng_store {
	eng_backend *be;
	eng_keys keys;
	char store_id[33];
	int zstd_level;
	uint64_t pack_target;
	bool group_chunks; /* format 3 on: small data chunks are sealed in groups */
	eng_cindex *ci; /* NULL until eng_store_load_index */
	char **index_files;
	size_t n_index_files;
};

/* A decoded recovery point. */
typedef struct eng_point {
	eng_point_info info;
	uint64_t blocks;
	uint8_t (*lists)[ENG_ID_LEN]; /* image: one block-list chunk id per segment */
	size_t n_lists;
	eng_refs root_refs;           /* tree: the root folder's stream */
	uint32_t root_mode, root_uid, root_gid;
	int64_t root_mtime_ns;
	uint64_t files, dirs, skipped;
	uint64_t links;               /* tree: files with more than one link; UINT64_MAX: not recorded */
	uint64_t listed;              /* tree: folders this sync listed */
	bool walked_changed;          /* tree: only the changed folders were listed */
	uint64_t bytes_read, chunks_added, holes;
	double seconds;
	char host[256];
} eng_point;

/* Loads every index file into s->ci (once). Fails naming a damaged index. */
int eng_store_load_index(eng_store *s, eng_err *err);
/* Reads and opens one index file into a new buffer: its plain body. */
int eng_index_read(eng_store *s, eng_codec *c, const char *name, uint8_t **body, size_t *len, eng_err *err);
/* Called per pack an index body names: its name, size and count entries of ENG_ENTRY_LEN bytes. */
typedef int (*eng_index_fn)(void *ctx, const uint8_t *pack, uint64_t size, const uint8_t *entries, uint32_t count,
			    eng_err *err);
/* Walks an index body (name is used in messages); ENG_ECORRUPT when malformed. */
int eng_index_walk(const char *name, const uint8_t *body, size_t len, eng_index_fn fn, void *ctx, eng_err *err);

int eng_point_load(eng_store *s, const char *machine, const char *dataset, const char *id,
		   eng_point *out, eng_err *err);
/* Reads the point stored under an object name such as points/M/D/ID. */
int eng_point_read(eng_store *s, const char *name, eng_point *out, eng_err *err);
void eng_point_release(eng_point *p);
/* Encodes, seals and publishes a point; fills p->info.id. */
int eng_point_write(eng_store *s, eng_point *p, eng_err *err);

/* Reads and opens one chunk into out (raw_length bytes). */
int eng_chunk_read(eng_store *s, eng_codec *c, const uint8_t id[ENG_ID_LEN], uint8_t *blob_buf,
		   uint8_t *out, size_t out_cap, size_t *out_len, eng_err *err);

/* The same, for a chunk already located in pack object obj. */
int eng_chunk_read_at(eng_store *s, eng_codec *c, const uint8_t id[ENG_ID_LEN], const eng_loc *loc,
		      const char *obj, uint8_t *blob_buf, uint8_t *out, size_t out_cap, size_t *out_len,
		      eng_err *err);

/* The object name of a pack. */
void eng_pack_object(const uint8_t name[ENG_ID_LEN], char out[128]);
/* "now" in microseconds and its RFC 3339 form. */
int64_t eng_now_us(void);
void eng_format_time(int64_t us, char out[40]);

#endif

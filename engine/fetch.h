/* fetch.h — reading many chunks with few requests. The chunks a restore
 * needs are sorted by pack and offset; neighbours (a gap of at most
 * FETCH_GAP between them) are read with one ranged request of at most
 * FETCH_RANGE bytes, then opened one by one. On a remote store one request
 * then brings hundreds of chunks; on a local one the reads are fewer and
 * larger. */
#ifndef ENG_FETCH_H
#define ENG_FETCH_H

#include "store.h"

typedef struct eng_fetch {
	uint8_t id[ENG_ID_LEN];
	eng_loc loc;       /* filled by eng_fetch_run from the index */
	uint64_t tag;      /* the caller's: which block or file offset wants it */
} eng_fetch;

/* Per-thread buffers for eng_fetch_run. */
typedef struct eng_fetcher {
	uint8_t *range;
	size_t range_cap;
	uint8_t *plain;
	size_t plain_cap;
} eng_fetcher;

/* Buffers for chunks of at most max_plain bytes; false when out of memory. */
bool eng_fetcher_init(eng_fetcher *f, const eng_store *s, size_t max_plain);
void eng_fetcher_free(eng_fetcher *f);

/* Called for each wanted chunk in pack order, with its plain bytes. The
 * same chunk wanted twice is opened once and given to each. */
typedef int (*eng_fetched_fn)(void *ctx, const eng_fetch *f, const uint8_t *plain, size_t len, eng_err *err);

/* Locates, reads and opens the n chunks of v (reordering v); stops at the
 * first failure, naming the chunk and its pack. */
int eng_fetch_run(eng_store *s, eng_codec *c, eng_fetcher *f, eng_fetch *v, size_t n, eng_fetched_fn fn, void *ctx,
		  eng_err *err);

#endif

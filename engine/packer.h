/* packer.h — writing new chunks into packs, shared by the worker threads
 * of one sync. A chunk is claimed in the shared index first (so two
 * workers never seal the same id twice), then sealed and appended to the
 * calling thread's own pack writer, without a lock. A full pack goes to
 * the packer's publisher thread, which finishes it (header, fsync, rename),
 * adds its entries to the index and, every 32 packs and at the end, writes
 * an index file naming them. */
#ifndef ENG_PACKER_H
#define ENG_PACKER_H

#include <stdint.h>

#include "store.h"

typedef struct eng_packer eng_packer;
typedef struct eng_pack_writer eng_pack_writer;

/* The store's index must be loaded; the packer adds to it. */
eng_packer *eng_packer_new(eng_store *s);
/* What stores added: sealed bytes, and new chunks. */
typedef struct eng_put_stats {
	uint64_t bytes, chunks;
} eng_put_stats;

/* A writer for one thread; NULL when out of memory. */
eng_pack_writer *eng_pack_writer_new(eng_packer *p);
/* Seals the writer's pending group and finishes its open pack (or, with
 * discard, drops both) and frees it. added (may be NULL) receives the bytes
 * of that last group. */
int eng_pack_writer_close(eng_pack_writer *w, bool discard, eng_put_stats *added, eng_err *err);
/* Makes sure chunk id (len bytes of data) is in the store. sealbuf holds
 * eng_codec_bound(len) bytes. A small data chunk waits in the writer's
 * group (codec.h) until the group is full; it is then sealed with its
 * group and counted in the stats of the call that sealed the group. The
 * chunk is claimed at once, so the rest of the sync stores it only once. */
int eng_packer_store(eng_pack_writer *w, eng_codec *c, const uint8_t id[ENG_ID_LEN], uint8_t type,
		     const void *data, size_t len, uint8_t *sealbuf, eng_put_stats *added, eng_err *err);
/* Seals the writer's pending group now: the next chunk is no neighbour
 * of the last (an image sync skipping unchanged blocks), and a group is
 * only worth its cost to a restore when its members are read together. */
int eng_pack_writer_break(eng_pack_writer *w, eng_put_stats *added, eng_err *err);
/* Appends an already sealed blob holding the n chunks ids (prune's
 * repacking: a group's live members move with it); their index entries
 * move to the new pack when that is published. */
int eng_packer_copy(eng_pack_writer *w, const uint8_t (*ids)[ENG_ID_LEN], const eng_loc *locs, size_t n,
		    const uint8_t *blob, size_t blob_len, eng_err *err);

/* One pack's part of an index file. */
typedef struct eng_index_pack {
	const uint8_t *name;
	uint64_t size;
	const uint8_t *entries; /* count * ENG_ENTRY_LEN bytes */
	size_t count;
} eng_index_pack;
/* Writes an index file naming packs (which must be durable). Its name
 * ("index/HEX") goes to name_out when that is not NULL: index files are
 * named by their content, so rewriting an unchanged index gives the same
 * name, which a caller replacing old index files must not delete. */
int eng_index_write(eng_store *s, eng_codec *c, const eng_index_pack *packs, size_t n, char name_out[80],
		    eng_err *err);

/* Reads the header of pack object obj (size bytes), authenticates it and
 * checks every entry lies inside the pack: *entries receives count entries
 * of ENG_ENTRY_LEN bytes (free it). What rebuilds a lost index. */
int eng_pack_read_header(eng_store *s, eng_codec *c, const char *obj, uint64_t size, uint8_t **entries,
			 uint32_t *count, eng_err *err);

/* Looks a chunk in a finished pack up under the packer's lock; obj receives its pack's name. */
bool eng_packer_lookup(eng_packer *p, const uint8_t id[ENG_ID_LEN], eng_loc *loc, char obj[128]);
/* Waits for the publisher and indexes every published pack; call after
 * closing every writer. Returns the first publishing failure. */
int eng_packer_finish(eng_packer *p, eng_err *err);
void eng_packer_free(eng_packer *p);

#endif

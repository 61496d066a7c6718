/* packer.h — writing new chunks into packs, shared by the worker threads
 * of one sync. A chunk is claimed first (so two workers never seal the same
 * id twice), sealed outside the lock, then appended to the open pack. Full
 * packs are finished (header, fsync, publish) by the thread that filled
 * them; every 32 finished packs, and at the end, an index file naming them
 * is written. Thread-safe. */
#ifndef ENG_PACKER_H
#define ENG_PACKER_H

#include <stdint.h>

#include "store.h"

typedef struct eng_packer eng_packer;

/* The store's index must be loaded; the packer adds to it. */
eng_packer *eng_packer_new(eng_store *s);
/* Makes sure chunk id (len bytes of data) is in the store. sealbuf holds
 * eng_codec_bound(len) bytes. *added is the bytes this call stored (0 when
 * the chunk was already there). */
int eng_packer_store(eng_packer *p, eng_codec *c, const uint8_t id[ENG_ID_LEN], uint8_t type,
		     const void *data, size_t len, uint8_t *sealbuf, uint64_t *added, eng_err *err);
/* Looks a placed chunk up under the packer's lock; obj receives its pack's name. */
bool eng_packer_lookup(eng_packer *p, const uint8_t id[ENG_ID_LEN], eng_loc *loc, char obj[128]);
/* Finishes the open pack (or, with discard_open, drops it) and
 * indexes every finished pack. After this, everything stored is durable. */
int eng_packer_finish(eng_packer *p, bool discard_open, eng_err *err);
void eng_packer_free(eng_packer *p);

#endif

/* harness.h — what the fuzz targets (fuzz_*.c) share: the keys of the
 * keyed codec, a scratch folder of their own, and a real plain store in it
 * for the targets that read through the engine's local backend. */
#ifndef FUZZ_HARNESS_H
#define FUZZ_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "lifeboat_engine.h"

/* No keys (a plain store), or fixed keys of an encrypted store: the keyed
 * seeds in corpus/ are sealed with these (see seeds.c). */
eng_keys fuzz_keys(bool keyed);

/* A folder for this process (in TMPDIR, else /dev/shm, else /tmp), created
 * on first use and removed at exit (or, after a crash, by the next run). */
const char *fuzz_scratch(void);

/* A plain store (config only) in the scratch folder, opened on first use. */
eng_store *fuzz_store(void);

/* Replaces the contents of path with data, keeping its inode (the local
 * backend caches open descriptors by name); aborts when it cannot. */
void fuzz_write(const char *path, const void *data, size_t len);

/* Removes a folder and everything under it, never following links. */
void fuzz_rmtree(const char *path);

/* Stops the run with a message: how a target reports a broken invariant. */
_Noreturn void fuzz_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

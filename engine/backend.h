/* backend.h — where a store's objects live. A backend only puts whole named
 * objects atomically and durably, reads them by range, lists and removes
 * them; everything else (formats, crash safety ordering) is the store's.
 * Object names are relative paths such as "packs/3f/3f9a...".             */
#ifndef ENG_BACKEND_H
#define ENG_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lifeboat_engine.h"

typedef struct eng_backend eng_backend;

/* Called per object under a prefix; a non-zero return stops the listing and is returned. */
typedef int (*eng_list_fn)(void *ctx, const char *name, uint64_t size);

struct eng_backend_ops {
	/* Stores data under name, atomically and durably. */
	int (*put)(eng_backend *b, const char *name, const void *data, size_t len, eng_err *err);
	/* Creates a local spool file for building a large object; returns its fd. */
	int (*spool)(eng_backend *b, char *path, size_t cap, eng_err *err);
	/* Publishes a spooled file (already fsynced) under name; the spool file is consumed. */
	int (*put_spool)(eng_backend *b, const char *name, const char *path, eng_err *err);
	/* Reads exactly len bytes at off; thread-safe. ENG_EINPUT when absent. */
	int (*get)(eng_backend *b, const char *name, uint64_t off, void *buf, size_t len, eng_err *err);
	/* Size of an object; ENG_EINPUT when absent. */
	int (*size)(eng_backend *b, const char *name, uint64_t *size, eng_err *err);
	int (*list)(eng_backend *b, const char *prefix, eng_list_fn fn, void *ctx, eng_err *err);
	int (*remove)(eng_backend *b, const char *name, eng_err *err);
	/* Store-wide lock, shared for sync and restore, exclusive for prune. */
	int (*lock)(eng_backend *b, bool exclusive, eng_err *err);
	void (*close)(eng_backend *b);
};

struct eng_backend {
	const struct eng_backend_ops *ops;
	char *where; /* how to name the store in messages */
};

/* Opens the backend a URL names: a path or file://path. create makes the root. */
int eng_backend_open(const char *url, bool create, eng_backend **out, eng_err *err);

/* Reads a whole object of at most max bytes into a new buffer. */
int eng_backend_get_all(eng_backend *b, const char *name, size_t max, uint8_t **data, size_t *len,
			eng_err *err);

/* Names of the objects under prefix, skipping temporary ones (a last name
 * component ending in ".tmp"). */
int eng_backend_names(eng_backend *b, const char *prefix, char ***names, size_t *n, eng_err *err);
/* Every object under prefix, temporary ones too (what prune clears from tmp/). */
int eng_backend_all_names(eng_backend *b, const char *prefix, char ***names, size_t *n, eng_err *err);
void eng_names_free(char **names, size_t n);

#endif

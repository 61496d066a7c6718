/* backend.h — where a store's objects live, and the one call layer the
 * engine reaches them through.
 *
 * A backend only creates its container, puts whole named objects
 * atomically and durably, reads them by range, lists and removes them:
 * formats and the order of writes that keeps a store valid are the
 * store's. Object names are relative paths such as "packs/3f/3f9a...".
 * Backends are local folders, S3 buckets, Azure Blob containers and SFTP
 * servers; url.c chooses one from the store URL.
 *
 * The engine never calls the ops directly: the eng_be_* functions below
 * retry what a passing fault broke (ENG_EAGAIN: timeouts, resets, 429,
 * 5xx) with exponential backoff and jitter, give up with a message that
 * names the object and the last failure, and take the store's lock. */
#ifndef ENG_BACKEND_H
#define ENG_BACKEND_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lifeboat_engine.h"

typedef struct eng_backend eng_backend;
typedef struct eng_lease eng_lease;

/* Called per object under a prefix; a non-zero return stops the listing and is returned. */
typedef int (*eng_list_fn)(void *ctx, const char *name, uint64_t size);

/* A local file a large object (a pack) is built in before it is published. */
typedef struct eng_spool {
	int fd;
	char path[PATH_MAX];
} eng_spool;

struct eng_backend_ops {
	const char *kind;   /* "local", "s3", "azure", "sftp" */
	/* Creates what holds the store (folder, bucket, container) when missing. */
	int (*create)(eng_backend *b, eng_err *err);
	/* Stores data under name, atomically and durably; putting it again is harmless. */
	int (*put)(eng_backend *b, const char *name, const void *data, size_t len, eng_err *err);
	/* Publishes the first len bytes of a local file (already fsynced) under name. */
	int (*put_file)(eng_backend *b, const char *name, int fd, uint64_t len, eng_err *err);
	/* Reads exactly len bytes at off; thread-safe. ENG_ENOTFOUND when absent. */
	int (*get)(eng_backend *b, const char *name, uint64_t off, void *buf, size_t len, eng_err *err);
	/* Size of an object; ENG_ENOTFOUND when absent. */
	int (*stat)(eng_backend *b, const char *name, uint64_t *size, eng_err *err);
	/* Every object under prefix ("packs" lists "packs/..."), in any order. */
	int (*list)(eng_backend *b, const char *prefix, eng_list_fn fn, void *ctx, eng_err *err);
	/* Removes an object; an absent one is not an error. */
	int (*remove)(eng_backend *b, const char *name, eng_err *err);
	void (*close)(eng_backend *b);
	/* Optional. Local fast paths: a spool file that is published by rename
	 * (spool_open/spool_publish), and a lock that is not an object (flock).
	 * Without them, spools are private local files uploaded with put_file,
	 * and locks are lease objects under locks/. */
	int (*spool_open)(eng_backend *b, eng_spool *sp, eng_err *err);
	int (*spool_publish)(eng_backend *b, eng_spool *sp, const char *name, eng_err *err);
	int (*lock)(eng_backend *b, bool exclusive, eng_err *err);
	/* Optional: removes what interrupted writes left behind (the backend's
	 * own temporary objects); called under the exclusive lock. */
	int (*clean)(eng_backend *b, uint64_t *removed, eng_err *err);
};

struct eng_backend {
	const struct eng_backend_ops *ops;
	char *where;                 /* how to name the store in messages (never holds credentials) */
	bool remote;                 /* each request costs time and money: coalesce reads */
	const volatile int *cancel;  /* the running operation's cancel flag, for retries and transfers */
	eng_lease *lease;            /* the lock held as a lease object, if any */
	char *spool_dir;             /* private local folder for remote spools (made on first use) */
	pthread_mutex_t spool_mu;    /* guards spool_dir: packer threads make spools at once */
	void (*note)(void *ctx, const char *line); /* harmless findings worth a line (a stale lease taken over) */
	void *note_ctx;
};

/* Opens the backend a URL names (a path, file://, s3://, az://, azure://,
 * sftp://). create makes what holds the store when it is missing. */
int eng_backend_open(const char *url, bool create, eng_backend **out, eng_err *err);
void eng_backend_close(eng_backend *b);

/* The call layer. */
int eng_be_put(eng_backend *b, const char *name, const void *data, size_t len, eng_err *err);
int eng_be_get(eng_backend *b, const char *name, uint64_t off, void *buf, size_t len, eng_err *err);
int eng_be_stat(eng_backend *b, const char *name, uint64_t *size, eng_err *err);
int eng_be_list(eng_backend *b, const char *prefix, eng_list_fn fn, void *ctx, eng_err *err);
int eng_be_remove(eng_backend *b, const char *name, eng_err *err);
/* Spools: create, publish (consumes it), or abort (removes it). */
int eng_be_spool_open(eng_backend *b, eng_spool *sp, eng_err *err);
int eng_be_spool_publish(eng_backend *b, eng_spool *sp, const char *name, eng_err *err);
void eng_be_spool_abort(eng_backend *b, eng_spool *sp);
/* The store-wide lock, shared for sync/restore/verify and exclusive for
 * prune/repair, held until the backend closes. op names the command in a
 * lease ("sync", "prune", ...). A reader that cannot write the store (a
 * read-only mount or bucket) reads without a lease when no exclusive one
 * is held. */
int eng_be_lock(eng_backend *b, bool exclusive, const char *op, eng_err *err);

/* Removes leftovers of interrupted writes (spools of dead processes, the
 * backend's temporary objects); needs the exclusive lock. */
int eng_be_clean(eng_backend *b, uint64_t *removed, eng_err *err);

/* Reads a whole object of at most max bytes into a new buffer. */
int eng_be_get_all(eng_backend *b, const char *name, size_t max, uint8_t **data, size_t *len, eng_err *err);
/* Names of the objects under prefix. */
int eng_be_names(eng_backend *b, const char *prefix, char ***names, size_t *n, eng_err *err);
/* The same with each object's size (sizes: a new array, free it). */
int eng_be_names_sizes(eng_backend *b, const char *prefix, char ***names, uint64_t **sizes, size_t *n, eng_err *err);
/* Reads a whole object whose size a listing gave (one request less than
 * eng_be_get_all); at most max bytes. */
int eng_be_get_sized(eng_backend *b, const char *name, uint64_t size, size_t max, uint8_t **data, eng_err *err);
void eng_names_free(char **names, size_t n);

#endif

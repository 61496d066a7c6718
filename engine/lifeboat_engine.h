/*
 * lifeboat_engine.h — the one header the runtime uses to reach the replication
 * core. The engine is a library: it never exits, never prints, keeps no
 * mutable globals, and reports every failure as a status plus an eng_err
 * whose message names the object involved.
 */
#ifndef LIFEBOAT_ENGINE_H
#define LIFEBOAT_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The store format this build writes; it reads every format up to it.
 * Format 2 authenticates an encrypted store's settings; format 3 seals small
 * data chunks in groups (docs/store-format.md). */
#define ENG_FORMAT_VERSION 3

/* Statuses: 0 is success, every failure is negative. */
enum {
	ENG_OK = 0,
	ENG_EINPUT = -1,   /* bad argument, missing source, unknown point */
	ENG_EFORMAT = -2,  /* not a store, or a format this build cannot read */
	ENG_EKEY = -3,     /* key missing or wrong */
	ENG_ECORRUPT = -4, /* store damage: an object failed authentication */
	ENG_EIO = -5,      /* the operating system refused */
	ENG_ENOMEM = -6,
	ENG_EBUSY = -7,    /* a lock is held by someone else */
	ENG_ECANCEL = -8,  /* the caller's cancel flag was raised */
	ENG_EEXIST = -9,   /* destination exists */
	ENG_ENOTFOUND = -10, /* a store object does not exist (callers say what that means) */
	ENG_EAGAIN = -11,  /* a passing fault (connection, timeout, 429, 5xx): retried, never returned */
	ENG_EFENCED = -12, /* the plan's state forbids this (a sync from a fenced site) */
};

typedef struct eng_err {
	int status;
	char msg[768];
} eng_err;

typedef struct eng_store eng_store;

/* How a store is unlocked: a key file's contents or a passphrase. */
typedef struct eng_secret {
	const char *key_file;   /* may be NULL */
	const char *passphrase; /* may be NULL */
	const char *origin;     /* where the caller took it from, for messages ("--key-file"); may be NULL */
} eng_secret;

typedef struct eng_init_opts {
	bool encrypt;
	eng_secret secret;
	uint32_t scrypt_log_n; /* 0: default */
	uint64_t pack_size;    /* target size of packs, 1 MiB to 1 GiB; 0: 16 MiB */
} eng_init_opts;

/* Progress callback, called from the calling thread a few times a second. */
typedef void (*eng_progress_fn)(void *ctx, uint64_t done, uint64_t total);

typedef struct eng_run_opts {
	int threads;                /* 0: one per core */
	volatile int *cancel;       /* may be NULL; set non-zero to stop */
	eng_progress_fn progress;   /* may be NULL */
	void *progress_ctx;
} eng_run_opts;

typedef struct eng_sync_opts {
	const char *machine;
	const char *dataset;
	const char *site;        /* the site the data comes from; needed when the machine belongs to a plan */
	const char *consistency; /* crash (default), app, planned */
	const char *run_id;      /* the replicate run (job) it is part of, or NULL */
	uint32_t block_size;     /* 0: the parent's, else 16 KiB */
	/* Changed-block tracking (images): a file of "OFFSET LENGTH" lines, the
	 * byte ranges written since the point `since`, which must be the
	 * dataset's newest. Only those ranges are read; every other block is
	 * the parent's. NULL: the whole image is read and compared.
	 * Trees: a file of folder paths relative to the tree ("." the root),
	 * each ended by a NUL byte: the folders whose entries changed since
	 * `since`. Only those folders (and those on the way) are listed;
	 * when `since` is not the newest point, every folder is. */
	const char *changed;
	const char *since;
	eng_run_opts run;
} eng_sync_opts;

typedef struct eng_sync_result {
	char point_id[17];
	char kind[16];          /* image or tree */
	uint64_t files;         /* tree: regular files */
	uint64_t skipped;       /* tree: files unchanged since the parent, not read */
	uint64_t folders_listed; /* tree: folders read with readdir */
	bool walked_changed;    /* tree: only the folders named by `changed` were listed */
	uint64_t size;
	uint64_t bytes_read;
	uint64_t bytes_added;   /* stored bytes of new chunks and lists */
	uint64_t chunks_added;
	uint64_t holes;
	double seconds;
} eng_sync_result;

typedef struct eng_point_info {
	char id[17];
	char parent[17];
	char machine[256];
	char dataset[256];
	char kind[16];
	char consistency[16];
	char run[64];  /* the replicate run that made it, "" when none */
	char time[40]; /* RFC 3339, UTC */
	int64_t time_us;
	uint64_t size;
	uint64_t added_bytes;
	uint32_t block_size;
} eng_point_info;

typedef struct eng_restore_opts {
	const char *machine;
	const char *dataset;
	const char *point;  /* id or unique prefix, or NULL/"latest" */
	bool force;         /* replace an existing destination */
	bool delta;         /* update DEST in place, writing only what differs */
	eng_run_opts run;
} eng_restore_opts;

typedef struct eng_restore_result {
	char point_id[17];
	uint64_t size;
	uint64_t bytes_written;
	uint64_t bytes_read;    /* --delta: bytes of DEST read to compare */
	double seconds;
} eng_restore_result;

typedef void (*eng_report_fn)(void *ctx, const char *problem);

typedef struct eng_verify_opts {
	bool full;
	eng_run_opts run;
	eng_report_fn report; /* each problem found, one line, naming the object */
	void *report_ctx;
	eng_report_fn note;   /* harmless findings (e.g. leftovers of an interrupted sync) */
} eng_verify_opts;

typedef struct eng_verify_result {
	uint64_t problems;
	uint64_t notes;
	uint64_t packs;
	uint64_t chunks;
	uint64_t points;
	uint64_t bytes_checked;
} eng_verify_result;

typedef struct eng_prune_opts {
	const char *machine;     /* scope of the policy; NULL: every machine */
	const char *dataset;     /* NULL: every dataset of the machine */
	int64_t keep_within_us;  /* keep points younger than this (0: no such rule) */
	int keep_last;           /* keep the newest N points of each dataset */
	int keep_app;            /* keep the newest N app-consistent points of each dataset */
	bool forget_all;         /* forget every point in scope, newest too (a committed migration) */
	bool dry_run;
	eng_run_opts run;
	/* Called for every point in scope with the verdict and its reason. */
	void (*verdict)(void *ctx, const eng_point_info *p, bool keep, const char *why);
	void *verdict_ctx;
} eng_prune_opts;

typedef struct eng_prune_result {
	uint64_t points_kept, points_forgotten;
	uint64_t packs_deleted, packs_repacked, packs_written;
	uint64_t bytes_freed;    /* stored bytes no longer in the store (estimated when dry) */
	uint64_t bytes_repacked; /* live bytes copied into new packs */
	uint64_t leftovers;      /* unindexed packs and temporary files removed */
} eng_prune_result;

typedef struct eng_repair_opts {
	bool dry_run;          /* read and report; write and remove nothing */
	eng_run_opts run;      /* cancel and progress (threads unused) */
	eng_report_fn report;  /* each damaged object and each point that cannot be restored whole */
	void *report_ctx;
} eng_repair_opts;

typedef struct eng_repair_result {
	uint64_t packs;               /* pack objects found */
	uint64_t packs_indexed;       /* packs the new index names */
	uint64_t packs_added;         /* of those, packs no old index file named */
	uint64_t packs_damaged;       /* packs whose chunks could not be indexed */
	uint64_t chunks;              /* entries of the new index */
	uint64_t index_files_damaged; /* old index files that could not be read */
	uint64_t index_files_removed; /* old index files replaced by the new one */
	uint64_t points;
	uint64_t points_incomplete;   /* points still lacking chunks (or unreadable) */
} eng_repair_result;

const char *eng_status_name(int status);

int eng_store_init(const char *url, const eng_init_opts *opts, eng_err *err);
/* Opens a store. A secret (key file or non-empty passphrase) given for a
 * store that is not encrypted is refused (ENG_EKEY): a key means the
 * caller expects encryption. */
int eng_store_open(const char *url, const eng_secret *secret, eng_store **out, eng_err *err);

/* What a URL holds, read without a key: whether it is a store, and its settings. */
typedef struct eng_store_info {
	bool exists;
	char why[800];           /* when it is not a store: why not */
	char kind[16];           /* local, s3, azure, sftp */
	uint64_t format;
	bool encrypted;
	char store_id[33];
	char created[40];
	uint64_t pack_size;
} eng_store_info;
/* Fails only when the URL is bad or the place cannot be reached or read. */
int eng_store_info_get(const char *url, eng_store_info *out, eng_err *err);
void eng_store_close(eng_store *s);
bool eng_store_encrypted(const eng_store *s);
/* Where harmless findings worth a line go (a stale lock lease taken over). */
void eng_store_notes(eng_store *s, void (*fn)(void *ctx, const char *line), void *ctx);

/* Points of a store, oldest first; machine and dataset may be NULL for all. */
int eng_points_list(eng_store *s, const char *machine, const char *dataset,
		    eng_point_info **out, size_t *n, eng_err *err);
/* Resolves "latest", NULL, an id or a unique id prefix to one point. */
int eng_point_find(eng_store *s, const char *machine, const char *dataset,
		   const char *which, eng_point_info *out, eng_err *err);

int eng_sync(eng_store *s, const char *source, const eng_sync_opts *opts,
	     eng_sync_result *res, eng_err *err);
int eng_restore(eng_store *s, const char *dest, const eng_restore_opts *opts,
		eng_restore_result *res, eng_err *err);
int eng_verify(eng_store *s, const eng_verify_opts *opts, eng_verify_result *res, eng_err *err);
/* Forgets points outside the policy (always keeping each dataset's newest
 * point and newest app-consistent point), then removes chunks no point
 * references, repacking packs that are mostly garbage. Takes the store's
 * exclusive lock. */
int eng_prune(eng_store *s, const eng_prune_opts *opts, eng_prune_result *res, eng_err *err);

typedef struct eng_copy_opts {
	const char *machine;     /* scope: NULL for every machine */
	const char *dataset;     /* NULL for every dataset of the machine */
	eng_run_opts run;
} eng_copy_opts;

typedef struct eng_copy_result {
	uint64_t points_copied;
	uint64_t points_present;  /* the destination had them already */
	uint64_t chunks_copied;
	uint64_t bytes_read;      /* stored bytes read from the source */
	uint64_t bytes_added;     /* stored bytes added to the destination */
	bool reencrypted;         /* the stores' keys differ: every chunk was sealed again */
	double seconds;
} eng_copy_result;

/* Copies the points in scope (and every chunk they need) that dst lacks,
 * oldest first, re-encrypting when the stores' keys differ. Takes both
 * stores' shared locks. */
int eng_copy(eng_store *src, eng_store *dst, const eng_copy_opts *opts, eng_copy_result *res, eng_err *err);

/* A recovery plan's state as the store records it, so that every host
 * sharing the store sees which site is active and which may replicate
 * (the fence). Stored as plans/PLAN/SEQ-RANDOM objects, sealed like
 * points; the highest SEQ is the current state. */
typedef struct eng_plan_state {
	char plan[256];
	char active[64];         /* the site the machines run at */
	char phase[32];          /* protected, failed-over, reprotected, committed */
	char source[64];         /* the site that may replicate; "" when none may */
	char machines[64][256];  /* the plan's machines (sync refuses them from any other site) */
	size_t n_machines;
	uint64_t seq;
	char time[40];
	char host[256];
	char job[128];
} eng_plan_state;

/* The plan's current state; ENG_ENOTFOUND when the store has none. */
int eng_plan_get(eng_store *s, const char *plan, eng_plan_state *out, eng_err *err);
/* The state as the JSON object the store keeps (malloc'd; NULL when out of memory). */
char *eng_plan_state_json(const eng_plan_state *st);
/* Records a new state (seq is set to one past the current one). */
int eng_plan_put(eng_store *s, eng_plan_state *st, eng_err *err);
/* The site a machine may be synced from: ENG_OK when opts allow it, else
 * ENG_EFENCED with a sentence naming the plan and what to run. */
int eng_fence_check(eng_store *s, const char *machine, const char *site, eng_err *err);

/* Rebuilds the index from the packs' own headers, under the store's
 * exclusive lock: the new index is durable before the old index files are
 * removed. Fails with ENG_ECORRUPT (after repairing what it can) when a
 * pack is damaged or a point still lacks chunks; each is reported. */
int eng_repair(eng_store *s, const eng_repair_opts *opts, eng_repair_result *res, eng_err *err);

/* Names for machines and datasets: non-empty, no '/', no "..", no control bytes. */
bool eng_name_valid(const char *name, const char **why);

#endif

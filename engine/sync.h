/* sync.h — the kinds of dataset a sync and a restore handle. Each fills
 * or reads a point; sync.c and restore.c do what all kinds share. */
#ifndef ENG_SYNC_H
#define ENG_SYNC_H

#include "store.h"
#include "tree_changed.h"

/* parent is the dataset's newest point (any kind) or NULL. */
int eng_image_sync(eng_store *s, const char *source, const eng_sync_opts *opts, const eng_point *parent,
		   eng_point *pt, eng_err *err);
/* changed: the folders a watcher saw change since parent, or NULL to list every folder. */
int eng_tree_sync(eng_store *s, const char *root, const eng_point *parent, const eng_changed_dirs *changed,
		  const eng_run_opts *run, eng_point *pt, eng_err *err);

/* Write the point to dest; fill res->bytes_written (and bytes_read for delta). */
int eng_image_restore(eng_store *s, const eng_point *pt, const char *dest, const eng_restore_opts *opts,
		      eng_restore_result *res, eng_err *err);
int eng_tree_restore(eng_store *s, const eng_point *pt, const char *dest, const eng_restore_opts *opts,
		     eng_restore_result *res, eng_err *err);

#endif

/* tree_changed.h — the folders of a tree that changed since its newest
 * point, as a watcher (inotify) saw them: a sync lists only these folders
 * and the folders on the way to them, and takes every other folder whole
 * from the parent point. */
#ifndef ENG_TREE_CHANGED_H
#define ENG_TREE_CHANGED_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

typedef struct eng_changed_dirs {
	char **v; /* sorted; "" is the tree's root */
	size_t n;
} eng_changed_dirs;

/* Reads FILE: folder paths relative to the tree, each ended by a NUL byte,
 * "." for the root. A path with an empty, "." or ".." component is refused. */
int eng_changed_dirs_load(const char *file, eng_changed_dirs *c, eng_err *err);
void eng_changed_dirs_free(eng_changed_dirs *c);
/* Whether the folder at path (relative, "" for the root) changed or holds
 * a folder that did: it must be listed again. */
bool eng_changed_dirs_reach(const eng_changed_dirs *c, const char *path);

#endif

/* spool.h — private local files that large objects (packs) of a remote
 * store are built in before they are uploaded. They live in a folder of
 * their own per user (LIFEBOAT_SPOOL_DIR, else TMPDIR or /tmp), named by
 * the process that made them, so leftovers of a killed process can be
 * told from the files of one still running and removed. */
#ifndef ENG_SPOOL_H
#define ENG_SPOOL_H

#include "backend.h"

int eng_spool_create(eng_backend *b, eng_spool *sp, eng_err *err);
/* Removes spool files whose process is gone; adds their number to *removed. */
int eng_spool_clean(eng_backend *b, uint64_t *removed, eng_err *err);

#endif

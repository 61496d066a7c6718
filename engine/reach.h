/* reach.h — every chunk a point needs: for an image its block lists and
 * blocks, for a tree its folder streams and file contents. Walking reads
 * (and so authenticates) the metadata chunks on the way. Ids go into a set
 * shared across points, and what is already in it is not walked again, so
 * the subtrees and lists points share are visited once. */
#ifndef ENG_REACH_H
#define ENG_REACH_H

#include "store.h"

typedef struct eng_reach {
	eng_store *s;
	eng_codec *codec;
	eng_cindex *seen;   /* the set of ids reached so far */
	uint8_t *blob, *buf;
	uint64_t missing;   /* reached ids the store's index lacks, each counted once */
	uint8_t last_missing[ENG_ID_LEN];
	/* Missing ids, and block lists and folders under which a chunk is
	 * missing, with how many (in loc.offset): a later point sharing them is
	 * known to lack those chunks without walking them again. */
	eng_cindex *lacking;
	uint64_t point_missing; /* chunks the last walked point lacks, shared ones included */
} eng_reach;

int eng_reach_init(eng_reach *r, eng_store *s, eng_err *err);
void eng_reach_free(eng_reach *r);
/* Adds every chunk p needs to r->seen and sets r->point_missing; fails
 * naming a chunk it cannot read. */
int eng_reach_point(eng_reach *r, const eng_point *p, eng_err *err);

#endif

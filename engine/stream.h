/* stream.h — byte streams stored as chunks: a file's content or a
 * directory's entries, cut with content-defined chunking and referenced by
 * a list of (id, length) refs. */
#ifndef ENG_STREAM_H
#define ENG_STREAM_H

#include "cdc.h"
#include "packer.h"
#include "tree.h"

/* Cuts len bytes of data into chunks, stores them (type ENG_CHUNK_*) and
 * appends their refs. final: no more bytes follow. Returns the bytes
 * consumed (a tail shorter than a chunk is left for the next call unless
 * final). */
int eng_stream_put(eng_pack_writer *w, eng_codec *c, const eng_cdc *cdc, uint8_t type, const uint8_t *data,
		   size_t len, bool final, uint8_t *sealbuf, eng_refs *out, size_t *consumed, eng_put_stats *stats,
		   eng_err *err);
/* Reads a whole stream into a new buffer of at most max bytes. */
int eng_stream_get(eng_store *s, eng_codec *c, const uint8_t *refs, uint32_t nrefs, size_t max, uint8_t **out,
		   size_t *len, eng_err *err);

#endif

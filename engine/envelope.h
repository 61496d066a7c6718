/* envelope.h — standalone sealed objects (index files, points, pack
 * headers) and the 45-byte chunk entry both packs and indexes list.
 *   envelope: magic(8) id(32) raw_len(u32) blob
 * where id is the codec id of the plain bytes and blob their sealed form. */
#ifndef ENG_ENVELOPE_H
#define ENG_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "chunkindex.h"
#include "codec.h"

#define ENG_MAGIC_LEN 8
#define ENG_ENVELOPE_HEAD (ENG_MAGIC_LEN + ENG_ID_LEN + 4)
#define ENG_ENTRY_LEN 45
#define ENG_ENTRY_GROUPED 0x80 /* in the type byte: the blob is a group */
#define ENG_OBJECT_MAX (256u << 20)

/* Seals data into a new buffer; id_out (may be NULL) receives its id. */
int eng_envelope_seal(eng_codec *c, const char magic[ENG_MAGIC_LEN], const void *data, size_t len,
		      uint8_t **out, size_t *out_len, uint8_t *id_out, eng_err *err);
/* Opens an envelope into a new buffer (with a NUL after it); name is used in messages. */
int eng_envelope_open(eng_codec *c, const char magic[ENG_MAGIC_LEN], const uint8_t *in, size_t in_len,
		      const char *name, uint8_t **out, size_t *out_len, uint8_t *id_out, eng_err *err);

void eng_entry_put(uint8_t *p, const uint8_t id[ENG_ID_LEN], const eng_loc *loc);
void eng_entry_get(const uint8_t *p, uint8_t id[ENG_ID_LEN], eng_loc *loc);

#endif

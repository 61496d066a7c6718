/* codec.h — sealing and opening blobs, the unit everything in a store is
 * kept as. A blob is a chunk's bytes compressed with zstd (or kept raw when
 * that does not shrink them), then encrypted with AES-256-GCM bound to the
 * chunk id when the store is encrypted. Opening a blob always authenticates
 * it: by the GCM tag, or by re-hashing when the store is not encrypted.
 * A codec is owned by one thread; it keeps its own zstd, digest and cipher
 * contexts and a scratch buffer.                                          */
#ifndef ENG_CODEC_H
#define ENG_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

#define ENG_BLOB_RAW 0
#define ENG_BLOB_ZSTD 1

typedef struct eng_keys {
	bool encrypted;
	uint8_t enc_key[ENG_KEY_LEN];
	uint8_t mac_key[ENG_KEY_LEN];
} eng_keys;

typedef struct eng_codec eng_codec;

eng_codec *eng_codec_new(const eng_keys *keys, int zstd_level);
void eng_codec_free(eng_codec *c);

void eng_codec_id(eng_codec *c, const void *data, size_t len, uint8_t id[ENG_ID_LEN]);
/* The most bytes eng_codec_seal can produce for len bytes of input. */
size_t eng_codec_bound(size_t len);
/* Seals data (whose id is id) into out, which holds eng_codec_bound(len). */
int eng_codec_seal(eng_codec *c, const uint8_t id[ENG_ID_LEN], const void *data, size_t len,
		   uint8_t *out, size_t *out_len, eng_err *err);
/* Opens a blob whose plain size is raw_len into out. check_id re-hashes the
 * result even when the GCM tag already authenticated it. Fails with
 * ENG_ECORRUPT and a message saying what did not match (the caller names
 * the object). */
int eng_codec_open(eng_codec *c, const uint8_t id[ENG_ID_LEN], const uint8_t *blob, size_t blob_len,
		   uint8_t *out, size_t raw_len, bool check_id, eng_err *err);

#endif

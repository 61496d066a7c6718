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

/* Small data chunks are sealed together, a group to a blob, so that zstd
 * sees their neighbours: real files compress much better 1 MiB at a time
 * than 16 KiB at a time. A group's plain bytes are
 *   count(u32) { id(32) len(u32) } * count   then the members' bytes in order,
 * sealed like one chunk with ENG_GROUP_AAD in place of a chunk id; since the
 * member list is inside the authenticated bytes, a member is found by its id
 * and needs no hash to be trusted (a plain store re-hashes it). Each member
 * keeps its own index entry, pointing at the group's blob. */
#define ENG_GROUP_MEMBER_MAX (64u << 10) /* larger chunks are sealed alone */
#define ENG_GROUP_BYTES (1u << 20)       /* members' bytes in one group, at most */
#define ENG_GROUP_MEMBERS 256
#define ENG_GROUP_HEAD(n) (4 + (size_t)(n) * (ENG_ID_LEN + 4))
#define ENG_GROUP_PLAIN_MAX (ENG_GROUP_HEAD(ENG_GROUP_MEMBERS) + ENG_GROUP_BYTES)

typedef struct eng_keys {
	bool encrypted;
	uint8_t enc_key[ENG_KEY_LEN];
	uint8_t mac_key[ENG_KEY_LEN];
} eng_keys;

typedef struct eng_codec eng_codec;

eng_codec *eng_codec_new(const eng_keys *keys, int zstd_level);
void eng_codec_free(eng_codec *c);

void eng_codec_id(eng_codec *c, const void *data, size_t len, uint8_t id[ENG_ID_LEN]);
/* False when samples of data look random (7.9 bits of entropy per byte or
 * more): already compressed or encrypted, not worth a place in a group. */
bool eng_codec_compressible(const void *data, size_t len);
/* The most bytes eng_codec_seal can produce for len bytes of input. */
size_t eng_codec_bound(size_t len);
/* Seals data (whose id is id) into out, which holds eng_codec_bound(len). */
int eng_codec_seal(eng_codec *c, const uint8_t id[ENG_ID_LEN], const void *data, size_t len,
		   uint8_t *out, size_t *out_len, eng_err *err);
/* Seals a group's plain bytes (ENG_GROUP_PLAIN_MAX at most) into out, which
 * holds eng_codec_bound(len). */
int eng_codec_seal_group(eng_codec *c, const void *plain, size_t len, uint8_t *out, size_t *out_len, eng_err *err);
/* Opens chunk id, whose plain size is raw_len, into out, from its blob or
 * (grouped) the blob of its group. check_id re-hashes the result even when
 * the GCM tag already authenticated it. The codec keeps the last group it
 * opened, so the members of one group cost one decompression. Fails with
 * ENG_ECORRUPT and a message saying what did not match (the caller names
 * the object). */
int eng_codec_open(eng_codec *c, const uint8_t id[ENG_ID_LEN], bool grouped, const uint8_t *blob, size_t blob_len,
		   uint8_t *out, size_t raw_len, bool check_id, eng_err *err);
/* Drops the group kept open: the memory its blob was read into now holds
 * other bytes (with check_id, a kept group counts only at the same address). */
void eng_codec_forget_group(eng_codec *c);

#endif

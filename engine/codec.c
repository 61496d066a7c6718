/* codec.c — blob sealing: zstd, then AES-256-GCM with the chunk id as
 * associated data. Layout of a blob:
 *   plain store:     flags(1) payload
 *   encrypted store: nonce(12) AES-GCM(flags(1) payload) tag(16)
 * flags is ENG_BLOB_RAW or ENG_BLOB_ZSTD.                                 */
#include "codec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "err.h"

#define SAMPLE 1024

struct eng_codec {
	eng_keys keys;
	int level;
	eng_hasher *hasher;
	eng_aead *aead;
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	uint8_t *scratch;
	size_t scratch_cap;
	bool last_raw;             /* the previous chunk did not compress */
	float clogc[SAMPLE + 1];   /* c * log2(c), for the entropy estimate */
};

eng_codec *eng_codec_new(const eng_keys *keys, int zstd_level)
{
	eng_codec *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->keys = *keys;
	c->level = zstd_level;
	for (int i = 1; i <= SAMPLE; i++)
		c->clogc[i] = (float)(i * log2(i));
	c->hasher = eng_hasher_new(keys->encrypted ? keys->mac_key : NULL);
	c->cctx = ZSTD_createCCtx();
	c->dctx = ZSTD_createDCtx();
	if (!c->hasher || !c->cctx || !c->dctx)
		goto fail;
	if (keys->encrypted && !(c->aead = eng_aead_new(keys->enc_key)))
		goto fail;
	return c;
fail:
	eng_codec_free(c);
	return NULL;
}

void eng_codec_free(eng_codec *c)
{
	if (!c)
		return;
	eng_hasher_free(c->hasher);
	eng_aead_free(c->aead);
	ZSTD_freeCCtx(c->cctx);
	ZSTD_freeDCtx(c->dctx);
	free(c->scratch);
	free(c);
}

static uint8_t *scratch(eng_codec *c, size_t n)
{
	if (n > c->scratch_cap) {
		uint8_t *p = realloc(c->scratch, n);
		if (!p)
			return NULL;
		c->scratch = p;
		c->scratch_cap = n;
	}
	return c->scratch;
}

void eng_codec_id(eng_codec *c, const void *data, size_t len, uint8_t id[ENG_ID_LEN])
{
	eng_hasher_id(c->hasher, data, len, id);
}

/* Random-looking data (already compressed or encrypted) does not shrink;
 * after a chunk that did not, estimate the next one's byte entropy from a
 * sample and skip zstd when it is close to 8 bits per byte. */
static bool looks_incompressible(const eng_codec *c, const uint8_t *p, size_t len)
{
	if (!c->last_raw || len < 4 * SAMPLE)
		return false;
	uint16_t hist[256] = { 0 };
	const uint8_t *s = p + len / 2 - SAMPLE / 2;
	for (int i = 0; i < SAMPLE; i++)
		hist[s[i]]++;
	float sum = 0;
	for (int i = 0; i < 256; i++)
		sum += c->clogc[hist[i]];
	float bits = 10.0f - sum / SAMPLE; /* log2(SAMPLE) - sum/SAMPLE */
	return bits > 7.5f;
}

size_t eng_codec_bound(size_t len)
{
	return ZSTD_compressBound(len) + 1 + ENG_NONCE_LEN + ENG_TAG_LEN;
}

int eng_codec_seal(eng_codec *c, const uint8_t id[ENG_ID_LEN], const void *data, size_t len,
		   uint8_t *out, size_t *out_len, eng_err *err)
{
	size_t bound = ZSTD_compressBound(len);
	/* Plain stores compress straight into place after the flags byte. */
	uint8_t *z = c->keys.encrypted ? scratch(c, bound) : out + 1;
	if (!z)
		return eng_fail(err, ENG_ENOMEM, "out of memory sealing a %zu-byte chunk", len);
	size_t zlen = len;
	if (len && !looks_incompressible(c, data, len)) {
		zlen = ZSTD_compressCCtx(c->cctx, z, bound, data, len, c->level);
		if (ZSTD_isError(zlen))
			return eng_fail(err, ENG_EIO, "zstd: %s", ZSTD_getErrorName(zlen));
	}
	c->last_raw = zlen >= len - len / 32;
	uint8_t flags = ENG_BLOB_ZSTD;
	const void *payload = z;
	size_t plen = zlen;
	if (zlen >= len) {
		flags = ENG_BLOB_RAW;
		payload = data;
		plen = len;
	}
	if (!c->keys.encrypted) {
		out[0] = flags;
		if (flags == ENG_BLOB_RAW)
			memcpy(out + 1, data, len);
		*out_len = 1 + plen;
		return ENG_OK;
	}
	if (eng_aead_seal(c->aead, id, ENG_ID_LEN, &flags, 1, payload, plen, out) != 0)
		return eng_fail(err, ENG_EIO, "AES-GCM encryption failed");
	*out_len = ENG_NONCE_LEN + 1 + plen + ENG_TAG_LEN;
	return ENG_OK;
}

int eng_codec_open(eng_codec *c, const uint8_t id[ENG_ID_LEN], const uint8_t *blob, size_t blob_len,
		   uint8_t *out, size_t raw_len, bool check_id, eng_err *err)
{
	const uint8_t *body = blob;
	size_t body_len = blob_len;
	if (c->keys.encrypted) {
		if (blob_len < ENG_NONCE_LEN + 1 + ENG_TAG_LEN)
			return eng_fail(err, ENG_ECORRUPT, "blob too short");
		body_len = blob_len - ENG_NONCE_LEN - ENG_TAG_LEN;
		uint8_t *plain = scratch(c, body_len);
		if (!plain)
			return eng_fail(err, ENG_ENOMEM, "out of memory opening a %zu-byte blob", blob_len);
		if (eng_aead_open(c->aead, id, ENG_ID_LEN, blob, blob_len, plain) != 0)
			return eng_fail(err, ENG_ECORRUPT, "authentication failed (damaged, or not written with this key)");
		body = plain;
	}
	if (body_len < 1)
		return eng_fail(err, ENG_ECORRUPT, "empty blob");
	if (body[0] == ENG_BLOB_RAW) {
		if (body_len - 1 != raw_len)
			return eng_fail(err, ENG_ECORRUPT, "stored size %zu, expected %zu", body_len - 1, raw_len);
		memcpy(out, body + 1, raw_len);
	} else if (body[0] == ENG_BLOB_ZSTD) {
		size_t n = ZSTD_decompressDCtx(c->dctx, out, raw_len, body + 1, body_len - 1);
		if (ZSTD_isError(n) || n != raw_len)
			return eng_fail(err, ENG_ECORRUPT, "does not decompress to %zu bytes", raw_len);
	} else {
		return eng_fail(err, ENG_ECORRUPT, "unknown blob flags %u", body[0]);
	}
	if (check_id || !c->keys.encrypted) {
		uint8_t got[ENG_ID_LEN];
		eng_hasher_id(c->hasher, out, raw_len, got);
		if (memcmp(got, id, ENG_ID_LEN) != 0)
			return eng_fail(err, ENG_ECORRUPT, "content does not match its id (checksum mismatch)");
	}
	return ENG_OK;
}

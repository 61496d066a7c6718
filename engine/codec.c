/* codec.c — blob sealing: zstd, then AES-256-GCM with the chunk id (or,
 * for a group of chunks, GROUP_AAD) as associated data. Layout of a blob:
 *   plain store:     flags(1) payload
 *   encrypted store: nonce(12) AES-GCM(flags(1) payload) tag(16)
 * flags is ENG_BLOB_RAW or ENG_BLOB_ZSTD.                                 */
#include "codec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "bytes.h"
#include "err.h"

#define SAMPLE 1024
#define GROUP_KEY 48 /* a blob's first 32 and last 16 bytes: which group is cached */

static const uint8_t GROUP_AAD[ENG_ID_LEN] = "lifeboat: a group of chunks....";

struct eng_codec {
	eng_keys keys;
	int level;
	eng_hasher *hasher;
	eng_aead *aead;
	ZSTD_CCtx *cctx;
	ZSTD_CCtx *gctx;           /* for groups, made when the first is sealed */
	ZSTD_DCtx *dctx;
	uint8_t *scratch;
	size_t scratch_cap;
	bool last_raw;             /* the previous chunk did not compress */
	uint8_t *group;            /* the last group opened: its plain bytes */
	size_t group_len;
	size_t group_blob_len;     /* 0: none kept */
	const uint8_t *group_at;   /* where its blob was */
	uint8_t group_key[GROUP_KEY];
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
	ZSTD_freeCCtx(c->gctx);
	ZSTD_freeDCtx(c->dctx);
	free(c->scratch);
	free(c->group);
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

bool eng_codec_compressible(const void *data, size_t len)
{
	if (len < 4 * SAMPLE)
		return true;
	/* four samples spread over the chunk, one histogram of 4 KiB: random
	 * data measures 7.95 bits or more, deflated or packed data less */
	uint16_t hist[256] = { 0 };
	const uint8_t *p = data;
	for (int k = 0; k < 4; k++)
		for (const uint8_t *s = p + (len - SAMPLE) / 3 * (size_t)k, *e = s + SAMPLE; s < e; s++)
			hist[*s]++;
	float sum = 0;
	for (int i = 0; i < 256; i++)
		if (hist[i])
			sum += hist[i] * log2f(hist[i]);
	return 12.0f - sum / (4 * SAMPLE) <= 7.9f; /* log2(4 * SAMPLE) - sum / (4 * SAMPLE) */
}

size_t eng_codec_bound(size_t len)
{
	return ZSTD_compressBound(len) + 1 + ENG_NONCE_LEN + ENG_TAG_LEN;
}

/* zstd's level 1 on a 1 MiB input uses an 8K-entry hash table and 6-byte
 * matches. For a group, level 1 takes a 32K-entry table (128 KiB, still in
 * cache) and 5-byte matches: measured on the files of an installed system,
 * 4% smaller than zstd's level 1 on 1 MiB and 9% smaller than on 16 KiB
 * blocks, in 10% less time than the 16 KiB blocks took. Other levels are
 * zstd's own. */
static int group_params(eng_codec *c)
{
	ZSTD_CCtx *z = c->gctx;
	bool bad = ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, c->level));
	if (c->level == 1) {
		bad |= ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_windowLog, 20));
		bad |= ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_hashLog, 15));
		bad |= ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_minMatch, 5));
	}
	return bad ? -1 : 0;
}

static int seal(eng_codec *c, const uint8_t aad[ENG_ID_LEN], const void *data, size_t len, uint8_t *out,
		size_t *out_len, eng_err *err)
{
	size_t bound = ZSTD_compressBound(len);
	/* Plain stores compress straight into place after the flags byte. */
	uint8_t *z = c->keys.encrypted ? scratch(c, bound) : out + 1;
	if (!z)
		return eng_fail(err, ENG_ENOMEM, "out of memory sealing a %zu-byte chunk", len);
	size_t zlen = len;
	if (len && !looks_incompressible(c, data, len)) {
		bool group = aad == GROUP_AAD;
		if (group && !c->gctx && (!(c->gctx = ZSTD_createCCtx()) || group_params(c)))
			return eng_fail(err, ENG_ENOMEM, "zstd: cannot set up group compression");
		zlen = group ? ZSTD_compress2(c->gctx, z, bound, data, len)
			     : ZSTD_compressCCtx(c->cctx, z, bound, data, len, c->level);
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
	if (eng_aead_seal(c->aead, aad, ENG_ID_LEN, &flags, 1, payload, plen, out) != 0)
		return eng_fail(err, ENG_EIO, "AES-GCM encryption failed");
	*out_len = ENG_NONCE_LEN + 1 + plen + ENG_TAG_LEN;
	return ENG_OK;
}

int eng_codec_seal(eng_codec *c, const uint8_t id[ENG_ID_LEN], const void *data, size_t len, uint8_t *out,
		   size_t *out_len, eng_err *err)
{
	return seal(c, id, data, len, out, out_len, err);
}

int eng_codec_seal_group(eng_codec *c, const void *plain, size_t len, uint8_t *out, size_t *out_len, eng_err *err)
{
	return seal(c, GROUP_AAD, plain, len, out, out_len, err);
}

/* Authenticates a blob (by its tag, when encrypted) and points *body at its
 * flags byte and payload. */
static int unseal(eng_codec *c, const uint8_t aad[ENG_ID_LEN], const uint8_t *blob, size_t blob_len,
		  const uint8_t **body, size_t *body_len, eng_err *err)
{
	*body = blob;
	*body_len = blob_len;
	if (c->keys.encrypted) {
		if (blob_len < ENG_NONCE_LEN + 1 + ENG_TAG_LEN)
			return eng_fail(err, ENG_ECORRUPT, "blob too short");
		*body_len = blob_len - ENG_NONCE_LEN - ENG_TAG_LEN;
		uint8_t *plain = scratch(c, *body_len);
		if (!plain)
			return eng_fail(err, ENG_ENOMEM, "out of memory opening a %zu-byte blob", blob_len);
		if (eng_aead_open(c->aead, aad, ENG_ID_LEN, blob, blob_len, plain) != 0)
			return eng_fail(err, ENG_ECORRUPT, "authentication failed (damaged, or not written with this key)");
		*body = plain;
	}
	if (*body_len < 1)
		return eng_fail(err, ENG_ECORRUPT, "empty blob");
	if ((*body)[0] != ENG_BLOB_RAW && (*body)[0] != ENG_BLOB_ZSTD)
		return eng_fail(err, ENG_ECORRUPT, "unknown blob flags %u", (*body)[0]);
	return ENG_OK;
}

/* The plain size of an unsealed body, at most max; 0 when it cannot be. */
static size_t body_plain_size(const uint8_t *body, size_t body_len, size_t max)
{
	if (body[0] == ENG_BLOB_RAW)
		return body_len - 1 <= max ? body_len - 1 : 0;
	unsigned long long n = ZSTD_getFrameContentSize(body + 1, body_len - 1);
	return n != ZSTD_CONTENTSIZE_ERROR && n != ZSTD_CONTENTSIZE_UNKNOWN && n <= max ? (size_t)n : 0;
}

static int decode(eng_codec *c, const uint8_t *body, size_t body_len, uint8_t *out, size_t raw_len, eng_err *err)
{
	if (body[0] == ENG_BLOB_RAW) {
		if (body_len - 1 != raw_len)
			return eng_fail(err, ENG_ECORRUPT, "stored size %zu, expected %zu", body_len - 1, raw_len);
		memcpy(out, body + 1, raw_len);
		return ENG_OK;
	}
	size_t n = ZSTD_decompressDCtx(c->dctx, out, raw_len, body + 1, body_len - 1);
	if (ZSTD_isError(n) || n != raw_len)
		return eng_fail(err, ENG_ECORRUPT, "does not decompress to %zu bytes", raw_len);
	return ENG_OK;
}

static void group_key(const uint8_t *blob, size_t blob_len, uint8_t key[GROUP_KEY])
{
	memset(key, 0, GROUP_KEY);
	memcpy(key, blob, blob_len < 32 ? blob_len : 32);
	if (blob_len >= 48)
		memcpy(key + 32, blob + blob_len - 16, 16);
}

/* Opens the group blob into c->group, unless it is the one kept there. A
 * blob alike at both ends is the kept one, or a damaged or forged copy of
 * it: either way, the kept bytes are the authentic ones. Checking (verify)
 * must find the damage, so there only the same bytes in memory count. */
static int open_group(eng_codec *c, const uint8_t *blob, size_t blob_len, bool checking, bool *fresh, eng_err *err)
{
	uint8_t key[GROUP_KEY];
	group_key(blob, blob_len, key);
	*fresh = !(c->group_blob_len == blob_len && !memcmp(c->group_key, key, GROUP_KEY) &&
		   (!checking || blob == c->group_at));
	if (!*fresh)
		return ENG_OK;
	c->group_blob_len = 0;
	if (!c->group && !(c->group = malloc(ENG_GROUP_PLAIN_MAX)))
		return eng_fail(err, ENG_ENOMEM, "out of memory opening a group of chunks");
	const uint8_t *body;
	size_t body_len;
	int rc = unseal(c, GROUP_AAD, blob, blob_len, &body, &body_len, err);
	if (rc)
		return rc;
	size_t n = body_plain_size(body, body_len, ENG_GROUP_PLAIN_MAX);
	if (!n)
		return eng_fail(err, ENG_ECORRUPT, "a group of chunks with an impossible size");
	if ((rc = decode(c, body, body_len, c->group, n, err)))
		return rc;
	c->group_len = n;
	c->group_blob_len = blob_len;
	c->group_at = blob;
	memcpy(c->group_key, key, GROUP_KEY);
	return ENG_OK;
}

/* Copies member id of the open group into out. */
static int group_member(eng_codec *c, const uint8_t id[ENG_ID_LEN], uint8_t *out, size_t raw_len, eng_err *err)
{
	const uint8_t *g = c->group;
	size_t len = c->group_len;
	uint32_t n = len >= 4 ? get_u32(g) : 0;
	if (!n || n > ENG_GROUP_MEMBERS || ENG_GROUP_HEAD(n) > len)
		return eng_fail(err, ENG_ECORRUPT, "a malformed group of chunks");
	size_t pos = ENG_GROUP_HEAD(n), at = 0, found = 0;
	bool seen = false;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = g + 4 + (size_t)i * (ENG_ID_LEN + 4);
		uint32_t mlen = get_u32(e + ENG_ID_LEN);
		if (mlen > len - pos)
			return eng_fail(err, ENG_ECORRUPT, "a malformed group of chunks");
		if (!seen && !memcmp(e, id, ENG_ID_LEN)) {
			seen = true;
			at = pos;
			found = mlen;
		}
		pos += mlen;
	}
	if (pos != len)
		return eng_fail(err, ENG_ECORRUPT, "a malformed group of chunks");
	if (!seen)
		return eng_fail(err, ENG_ECORRUPT, "not in the group of chunks its entry points at");
	if (found != raw_len)
		return eng_fail(err, ENG_ECORRUPT, "stored size %zu, expected %zu", found, raw_len);
	memcpy(out, g + at, raw_len);
	return ENG_OK;
}

void eng_codec_forget_group(eng_codec *c)
{
	c->group_blob_len = 0;
}

static int check(eng_codec *c, const uint8_t id[ENG_ID_LEN], const uint8_t *out, size_t raw_len, bool check_id,
		 eng_err *err)
{
	if (!check_id && c->keys.encrypted)
		return ENG_OK;
	uint8_t got[ENG_ID_LEN];
	eng_hasher_id(c->hasher, out, raw_len, got);
	if (memcmp(got, id, ENG_ID_LEN) != 0)
		return eng_fail(err, ENG_ECORRUPT, "content does not match its id (checksum mismatch)");
	return ENG_OK;
}

int eng_codec_open(eng_codec *c, const uint8_t id[ENG_ID_LEN], bool grouped, const uint8_t *blob, size_t blob_len,
		   uint8_t *out, size_t raw_len, bool check_id, eng_err *err)
{
	int rc;
	if (!grouped) {
		const uint8_t *body;
		size_t body_len;
		rc = unseal(c, id, blob, blob_len, &body, &body_len, err);
		if (!rc)
			rc = decode(c, body, body_len, out, raw_len, err);
		return rc ? rc : check(c, id, out, raw_len, check_id, err);
	}
	bool fresh = false;
	for (int tries = 0; tries < 2; tries++) {
		rc = open_group(c, blob, blob_len, check_id, &fresh, err);
		if (!rc && !(rc = group_member(c, id, out, raw_len, err)))
			rc = check(c, id, out, raw_len, check_id, err);
		if (!rc)
			return ENG_OK;
		c->group_blob_len = 0; /* a kept group that only looked alike, or a bad one: open this blob afresh */
		if (fresh)
			break;
	}
	return rc;
}

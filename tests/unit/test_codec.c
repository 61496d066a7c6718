/* Chunk ids and blob sealing. */
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "codec.h"
#include "testhelp.h"

static void test_ids(void)
{
	eng_keys plain = { 0 };
	eng_codec *c = eng_codec_new(&plain, 1);
	uint8_t id[ENG_ID_LEN];
	char hex[65];
	eng_codec_id(c, "abc", 3, id);
	eng_hex(id, ENG_ID_LEN, hex);
	CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
	      "plain chunk id is SHA-256 (FIPS 180-2 'abc' vector)");
	eng_codec_free(c);

	/* Expected value from: echo -n abc | openssl dgst -sha256 -mac HMAC
	 *   -macopt hexkey:000102...1f */
	eng_keys k = { .encrypted = true };
	for (int i = 0; i < ENG_KEY_LEN; i++)
		k.mac_key[i] = (uint8_t)i;
	c = eng_codec_new(&k, 1);
	eng_codec_id(c, "abc", 3, id);
	eng_hex(id, ENG_ID_LEN, hex);
	CHECK(!strcmp(hex, "f0133729c4163dede81e21cd47839256da58171238c8a0d874397c73b14e1e47"),
	      "keyed chunk id is HMAC-SHA-256 with the store's id key");
	eng_codec_free(c);
}

static void round_trip(bool encrypted)
{
	eng_keys k = { .encrypted = encrypted };
	memset(k.enc_key, 7, sizeof(k.enc_key));
	memset(k.mac_key, 9, sizeof(k.mac_key));
	eng_codec *c = eng_codec_new(&k, 1);
	size_t n = 16384;
	uint8_t *text = malloc(n), *rnd = malloc(n), *blob = malloc(eng_codec_bound(n)), *out = malloc(n);
	for (size_t i = 0; i < n; i++) {
		text[i] = (uint8_t)("lifeboat recovery "[i % 18]);
		rnd[i] = (uint8_t)(rand() >> 7);
	}
	uint8_t id[ENG_ID_LEN];
	size_t blen;
	eng_err e;
	const char *mode = encrypted ? "encrypted" : "plain";
	char what[1024];

	eng_codec_id(c, text, n, id);
	CHECK(eng_codec_seal(c, id, text, n, blob, &blen, &e) == 0, "seal compressible chunk");
	snprintf(what, sizeof(what), "%s: compressible chunk shrinks (%zu bytes)", mode, blen);
	CHECK(blen < n / 4, what);
	CHECK(eng_codec_open(c, id, false, blob, blen, out, n, true, &e) == 0 && !memcmp(out, text, n),
	      encrypted ? "encrypted: compressible chunk opens to the same bytes" : "plain: compressible chunk opens to the same bytes");

	eng_codec_id(c, rnd, n, id);
	CHECK(eng_codec_seal(c, id, rnd, n, blob, &blen, &e) == 0, "seal random chunk");
	snprintf(what, sizeof(what), "%s: random chunk is kept raw (%zu bytes)", mode, blen);
	CHECK(blen == n + 1 + (encrypted ? ENG_NONCE_LEN + ENG_TAG_LEN : 0), what);
	CHECK(eng_codec_open(c, id, false, blob, blen, out, n, false, &e) == 0 && !memcmp(out, rnd, n),
	      encrypted ? "encrypted: random chunk opens" : "plain: random chunk opens");

	blob[blen / 2] ^= 0x10;
	int rc = eng_codec_open(c, id, false, blob, blen, out, n, false, &e);
	snprintf(what, sizeof(what), "%s: a flipped bit is an error, never data (%s)", mode, rc ? e.msg : "accepted");
	CHECK(rc == ENG_ECORRUPT, what);
	blob[blen / 2] ^= 0x10;

	uint8_t other[ENG_ID_LEN];
	memcpy(other, id, ENG_ID_LEN);
	other[0] ^= 1;
	CHECK(eng_codec_open(c, other, false, blob, blen, out, n, false, &e) == ENG_ECORRUPT,
	      encrypted ? "encrypted: a blob does not open under another id" : "plain: a blob does not open under another id");

	if (encrypted) {
		eng_keys wrong = k;
		wrong.enc_key[0] ^= 1;
		eng_codec *w = eng_codec_new(&wrong, 1);
		CHECK(eng_codec_open(w, id, false, blob, blen, out, n, false, &e) == ENG_ECORRUPT, "a wrong key cannot open a blob");
		eng_codec_free(w);
		CHECK(memmem(blob, blen, rnd, 64) == NULL, "encrypted blob does not contain the plain bytes");
	}
	free(text); free(rnd); free(blob); free(out);
	eng_codec_free(c);
}

/* A group's plain bytes: count, {id, len} per member, then the bytes. */
static size_t make_group(eng_codec *c, uint8_t *g, uint8_t *const *data, const size_t *lens, size_t n,
			 uint8_t (*ids)[ENG_ID_LEN])
{
	size_t pos = ENG_GROUP_HEAD(n);
	put_u32(g, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		eng_codec_id(c, data[i], lens[i], ids[i]);
		memcpy(g + ENG_GROUP_HEAD(i), ids[i], ENG_ID_LEN);
		put_u32(g + ENG_GROUP_HEAD(i) + ENG_ID_LEN, (uint32_t)lens[i]);
		memcpy(g + pos, data[i], lens[i]);
		pos += lens[i];
	}
	return pos;
}

static void test_groups(bool encrypted)
{
	eng_keys k = { .encrypted = encrypted };
	memset(k.enc_key, 3, sizeof(k.enc_key));
	memset(k.mac_key, 5, sizeof(k.mac_key));
	eng_codec *c = eng_codec_new(&k, 1);
	enum { N = 4 };
	size_t lens[N] = { 5000, 16384, 1, 700 };
	uint8_t *data[N], ids[N][ENG_ID_LEN], other[ENG_ID_LEN];
	for (size_t i = 0; i < N; i++) {
		data[i] = malloc(lens[i]);
		for (size_t b = 0; b < lens[i]; b++)
			data[i][b] = (uint8_t)(rand() >> 7);
	}
	uint8_t *g = malloc(ENG_GROUP_PLAIN_MAX), *blob = malloc(eng_codec_bound(ENG_GROUP_PLAIN_MAX));
	uint8_t *blob2 = malloc(eng_codec_bound(ENG_GROUP_PLAIN_MAX)), *out = malloc(16384);
	size_t glen = make_group(c, g, data, lens, N, ids), blen, blen2;
	eng_err e;
	char what[1024];
	const char *mode = encrypted ? "encrypted" : "plain";
	CHECK(eng_codec_seal_group(c, g, glen, blob, &blen, &e) == 0, "a group seals");
	int ok = 0;
	for (size_t i = N; i-- > 0;)
		ok += eng_codec_open(c, ids[i], true, blob, blen, out, lens[i], false, &e) == 0 && !memcmp(out, data[i], lens[i]);
	snprintf(what, sizeof(what), "%s: every member of a group opens to its bytes, in any order", mode);
	CHECK(ok == N, what);
	memcpy(other, ids[1], ENG_ID_LEN);
	other[5] ^= 1;
	int rc = eng_codec_open(c, other, true, blob, blen, out, lens[1], false, &e);
	snprintf(what, sizeof(what), "%s: a chunk not in the group is an error (%s)", mode, rc ? e.msg : "accepted");
	CHECK(rc == ENG_ECORRUPT && strstr(e.msg, "not in the group"), what);
	snprintf(what, sizeof(what), "%s: a member whose entry says another size is an error", mode);
	CHECK(eng_codec_open(c, ids[0], true, blob, blen, out, lens[0] - 1, false, &e) == ENG_ECORRUPT, what);
	snprintf(what, sizeof(what), "%s: a group does not open as a lone chunk", mode);
	CHECK(eng_codec_open(c, ids[0], false, blob, blen, out, lens[0], false, &e) == ENG_ECORRUPT, what);
	CHECK(eng_codec_seal(c, ids[1], data[1], lens[1], blob2, &blen2, &e) == 0, "a lone chunk seals");
	snprintf(what, sizeof(what), "%s: a lone chunk does not open as a group", mode);
	CHECK(eng_codec_open(c, ids[1], true, blob2, blen2, out, lens[1], false, &e) == ENG_ECORRUPT, what);

	/* damage: a flipped bit in a member's bytes (the group is stored raw),
	 * with the group kept open or not */
	memcpy(blob2, blob, blen);
	blob2[blen / 2] ^= 0x20;
	rc = eng_codec_open(c, ids[1], true, blob2, blen, out, lens[1], false, &e);
	eng_codec *fresh = eng_codec_new(&k, 1);
	int rc2 = eng_codec_open(fresh, ids[1], true, blob2, blen, out, lens[1], false, &e);
	snprintf(what, sizeof(what), "%s: a flipped bit in a group is an error, never data (%d, %d)", mode, rc, rc2);
	CHECK(rc == ENG_ECORRUPT && rc2 == ENG_ECORRUPT, what);
	eng_codec_free(fresh);
	CHECK(eng_codec_open(c, ids[1], true, blob, blen, out, lens[1], true, &e) == 0, "the sound group is kept open");
	rc = eng_codec_open(c, ids[1], true, blob2, blen, out, lens[1], true, &e);
	snprintf(what, sizeof(what), "%s: checking, a damaged copy of the kept group is found (%d)", mode, rc);
	CHECK(rc == ENG_ECORRUPT, what);
	CHECK(eng_codec_open(c, ids[1], true, blob, blen, out, lens[1], false, &e) == 0 &&
	      eng_codec_open(c, ids[1], true, blob2, blen, out, lens[1], false, &e) == 0 && !memcmp(out, data[1], lens[1]),
	      "restoring, a damaged copy of the kept group gives the kept group's authentic bytes");

	/* two groups alike at both ends: the kept one must not stand in for the other */
	data[2][0] ^= 0xff;
	data[1][8000] ^= 0xff;
	uint8_t ids2[N][ENG_ID_LEN];
	uint8_t *g2 = malloc(ENG_GROUP_PLAIN_MAX);
	size_t glen2 = make_group(c, g2, data, lens, N, ids2);
	CHECK(eng_codec_seal_group(c, g2, glen2, blob2, &blen2, &e) == 0 && blen2 == blen, "a second group of the same size");
	CHECK(eng_codec_open(c, ids[0], true, blob, blen, out, lens[0], false, &e) == 0, "the first group is kept open");
	ok = eng_codec_open(c, ids2[1], true, blob2, blen2, out, lens[1], false, &e) == 0 && !memcmp(out, data[1], lens[1]);
	ok += eng_codec_open(c, ids2[2], true, blob2, blen2, out, lens[2], false, &e) == 0 && !memcmp(out, data[2], lens[2]);
	snprintf(what, sizeof(what), "%s: members of a group alike to the kept one open to their own bytes", mode);
	CHECK(ok == 2, what);

	/* authentic but malformed groups are refused, not read past their end */
	uint8_t *bad = malloc(ENG_GROUP_PLAIN_MAX);
	memcpy(bad, g, glen);
	put_u32(bad, 0);
	int refused = eng_codec_seal_group(c, bad, glen, blob2, &blen2, &e) == 0 &&
		      eng_codec_open(c, ids[0], true, blob2, blen2, out, lens[0], false, &e) == ENG_ECORRUPT;
	memcpy(bad, g, glen);
	put_u32(bad, ENG_GROUP_MEMBERS + 1);
	refused += eng_codec_seal_group(c, bad, glen, blob2, &blen2, &e) == 0 &&
		   eng_codec_open(c, ids[0], true, blob2, blen2, out, lens[0], false, &e) == ENG_ECORRUPT;
	memcpy(bad, g, glen);
	put_u32(bad + ENG_GROUP_HEAD(3) + ENG_ID_LEN, 0xffffffffu);
	refused += eng_codec_seal_group(c, bad, glen, blob2, &blen2, &e) == 0 &&
		   eng_codec_open(c, ids[0], true, blob2, blen2, out, lens[0], false, &e) == ENG_ECORRUPT;
	refused += eng_codec_seal_group(c, g, glen - 1, blob2, &blen2, &e) == 0 &&
		   eng_codec_open(c, ids[0], true, blob2, blen2, out, lens[0], false, &e) == ENG_ECORRUPT;
	refused += eng_codec_seal_group(c, g, 3, blob2, &blen2, &e) == 0 &&
		   eng_codec_open(c, ids[0], true, blob2, blen2, out, lens[0], false, &e) == ENG_ECORRUPT;
	snprintf(what, sizeof(what), "%s: groups with no members, too many, sizes past the end or short are refused", mode);
	CHECK(refused == 5, what);
	for (size_t i = 0; i < N; i++)
		free(data[i]);
	free(g); free(g2); free(bad); free(blob); free(blob2); free(out);
	eng_codec_free(c);
}

static void test_compressible(void)
{
	size_t n = 16384;
	uint8_t *rnd = malloc(n), *text = malloc(n), *b64 = malloc(n);
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i++) {
		rnd[i] = (uint8_t)(rand() >> 7);
		text[i] = (uint8_t)("lifeboat recovery "[i % 18]);
		b64[i] = (uint8_t)a[(rand() >> 7) % 64];
	}
	CHECK(!eng_codec_compressible(rnd, n), "random bytes are not worth a place in a group");
	CHECK(eng_codec_compressible(text, n) && eng_codec_compressible(b64, n), "text and base64 are");
	memcpy(rnd + n / 2, text, n / 2);
	CHECK(eng_codec_compressible(rnd, n), "so is a chunk that is half text, half random");
	CHECK(eng_codec_compressible(rnd, 100), "and a chunk too small to sample");
	free(rnd); free(text); free(b64);
}

static void test_empty(void)
{
	eng_keys k = { 0 };
	eng_codec *c = eng_codec_new(&k, 1);
	uint8_t id[ENG_ID_LEN], blob[64], out[1];
	size_t blen;
	eng_err e;
	eng_codec_id(c, "", 0, id);
	CHECK(eng_codec_seal(c, id, "", 0, blob, &blen, &e) == 0 && eng_codec_open(c, id, false, blob, blen, out, 0, true, &e) == 0,
	      "an empty chunk round-trips");
	eng_codec_free(c);
}

int main(void)
{
	test_ids();
	round_trip(false);
	round_trip(true);
	test_groups(false);
	test_groups(true);
	test_compressible();
	test_empty();
	return TEST_DONE();
}

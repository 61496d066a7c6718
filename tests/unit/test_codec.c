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
	CHECK(eng_codec_open(c, id, blob, blen, out, n, true, &e) == 0 && !memcmp(out, text, n),
	      encrypted ? "encrypted: compressible chunk opens to the same bytes" : "plain: compressible chunk opens to the same bytes");

	eng_codec_id(c, rnd, n, id);
	CHECK(eng_codec_seal(c, id, rnd, n, blob, &blen, &e) == 0, "seal random chunk");
	snprintf(what, sizeof(what), "%s: random chunk is kept raw (%zu bytes)", mode, blen);
	CHECK(blen == n + 1 + (encrypted ? ENG_NONCE_LEN + ENG_TAG_LEN : 0), what);
	CHECK(eng_codec_open(c, id, blob, blen, out, n, false, &e) == 0 && !memcmp(out, rnd, n),
	      encrypted ? "encrypted: random chunk opens" : "plain: random chunk opens");

	blob[blen / 2] ^= 0x10;
	int rc = eng_codec_open(c, id, blob, blen, out, n, false, &e);
	snprintf(what, sizeof(what), "%s: a flipped bit is an error, never data (%s)", mode, rc ? e.msg : "accepted");
	CHECK(rc == ENG_ECORRUPT, what);
	blob[blen / 2] ^= 0x10;

	uint8_t other[ENG_ID_LEN];
	memcpy(other, id, ENG_ID_LEN);
	other[0] ^= 1;
	CHECK(eng_codec_open(c, other, blob, blen, out, n, false, &e) == ENG_ECORRUPT,
	      encrypted ? "encrypted: a blob does not open under another id" : "plain: a blob does not open under another id");

	if (encrypted) {
		eng_keys wrong = k;
		wrong.enc_key[0] ^= 1;
		eng_codec *w = eng_codec_new(&wrong, 1);
		CHECK(eng_codec_open(w, id, blob, blen, out, n, false, &e) == ENG_ECORRUPT, "a wrong key cannot open a blob");
		eng_codec_free(w);
		CHECK(memmem(blob, blen, rnd, 64) == NULL, "encrypted blob does not contain the plain bytes");
	}
	free(text); free(rnd); free(blob); free(out);
	eng_codec_free(c);
}

static void test_empty(void)
{
	eng_keys k = { 0 };
	eng_codec *c = eng_codec_new(&k, 1);
	uint8_t id[ENG_ID_LEN], blob[64], out[1];
	size_t blen;
	eng_err e;
	eng_codec_id(c, "", 0, id);
	CHECK(eng_codec_seal(c, id, "", 0, blob, &blen, &e) == 0 && eng_codec_open(c, id, blob, blen, out, 0, true, &e) == 0,
	      "an empty chunk round-trips");
	eng_codec_free(c);
}

int main(void)
{
	test_ids();
	round_trip(false);
	round_trip(true);
	test_empty();
	return TEST_DONE();
}

/* fuzz_envelope — sealed envelopes (index files, points, pack headers):
 * engine/envelope.c eng_envelope_open on the input as stored, with a plain
 * codec (checked by SHA-256) and with a keyed one (AES-256-GCM, HMAC ids).
 * A fuzzer cannot forge a GCM tag, so the input is also opened a third
 * way: its bytes after the envelope head are encrypted with the keyed
 * codec's key first (as the blob's flags and payload), which takes the
 * keyed open past authentication to the decompression and id checks. */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "envelope.h"
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const magics[] = { "LBINDEX1", "LBPOINT1", "LBPKHDR1" };

static void open_one(eng_codec *c, const char *magic, const uint8_t *in, size_t len)
{
	uint8_t *out = NULL, id[ENG_ID_LEN];
	size_t out_len;
	eng_err e;
	if (eng_envelope_open(c, magic, in, len, "fuzz", &out, &out_len, id, &e) == ENG_OK) {
		if (out[out_len] != 0)
			fuzz_die("opened envelope without its trailing NUL");
		free(out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static eng_codec *plain, *keyed;
	static eng_aead *aead;
	if (!plain) {
		eng_keys none = fuzz_keys(false), keys = fuzz_keys(true);
		plain = eng_codec_new(&none, 1);
		keyed = eng_codec_new(&keys, 1);
		aead = eng_aead_new(keys.enc_key);
		if (!plain || !keyed || !aead)
			fuzz_die("out of memory");
	}
	const char *magic = magics[0];
	for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
		if (size >= ENG_MAGIC_LEN && !memcmp(data, magics[i], ENG_MAGIC_LEN))
			magic = magics[i];
	open_one(plain, magic, data, size);
	open_one(keyed, magic, data, size);
	if (size < ENG_ENVELOPE_HEAD)
		return 0;
	size_t body = size - ENG_ENVELOPE_HEAD;
	uint8_t *sealed = malloc(size + ENG_NONCE_LEN + ENG_TAG_LEN);
	if (!sealed)
		fuzz_die("out of memory");
	memcpy(sealed, data, ENG_ENVELOPE_HEAD);
	/* associated data: the id, as eng_codec_seal binds a blob to its id */
	if (eng_aead_seal(aead, data + ENG_MAGIC_LEN, ENG_ID_LEN, NULL, 0, data + ENG_ENVELOPE_HEAD, body,
			  sealed + ENG_ENVELOPE_HEAD))
		fuzz_die("AES-GCM sealing failed");
	open_one(keyed, magic, sealed, size + ENG_NONCE_LEN + ENG_TAG_LEN);
	free(sealed);
	return 0;
}

/* crypto.h — the primitives of the store, over OpenSSL's EVP interface:
 * chunk ids (SHA-256, or HMAC-SHA-256 keyed by the store), AES-256-GCM
 * sealing, scrypt key stretching and random bytes. Hasher and AEAD objects
 * are per thread; creating them fetches algorithms once.                   */
#ifndef ENG_CRYPTO_H
#define ENG_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lifeboat_engine.h"

#define ENG_ID_LEN 32
#define ENG_KEY_LEN 32
#define ENG_NONCE_LEN 12
#define ENG_TAG_LEN 16

typedef struct eng_hasher eng_hasher;
typedef struct eng_aead eng_aead;

int eng_random(void *buf, size_t n, eng_err *err);
/* n random bytes as 2n lower-case hex digits and a NUL (names of temporary objects). */
int eng_random_hex(char *hex, size_t n, eng_err *err);
/* ENG_EFORMAT unless the scrypt cost is one lifeboat accepts (bounded memory). */
int eng_scrypt_check(uint64_t log_n, uint64_t r, uint64_t p, eng_err *err);
int eng_scrypt(const void *secret, size_t len, const uint8_t *salt, size_t salt_len,
	       uint32_t log_n, uint32_t r, uint32_t p, uint8_t out[ENG_KEY_LEN], eng_err *err);

/* mac_key NULL: plain SHA-256; otherwise HMAC-SHA-256 with that 32-byte key. */
eng_hasher *eng_hasher_new(const uint8_t *mac_key);
void eng_hasher_free(eng_hasher *h);
void eng_hasher_id(eng_hasher *h, const void *data, size_t len, uint8_t out[ENG_ID_LEN]);
/* One-shot HMAC-SHA-256 with a 32-byte key. */
void eng_hmac(const uint8_t key[ENG_KEY_LEN], const void *data, size_t len, uint8_t out[ENG_ID_LEN]);
/* Compares in time independent of where a and b differ. */
bool eng_ct_equal(const void *a, const void *b, size_t n);
/* One-shot plain SHA-256. */
void eng_sha256(const void *data, size_t len, uint8_t out[ENG_ID_LEN]);

eng_aead *eng_aead_new(const uint8_t key[ENG_KEY_LEN]);
void eng_aead_free(eng_aead *a);
/* out receives nonce | ciphertext | tag: len + ENG_NONCE_LEN + ENG_TAG_LEN bytes.
 * head (hlen bytes) and body are encrypted as one message. */
int eng_aead_seal(eng_aead *a, const uint8_t *aad, size_t aad_len,
		  const void *head, size_t hlen, const void *body, size_t len, uint8_t *out);
/* Opens nonce | ciphertext | tag of in_len bytes into out; -1 when it fails
 * authentication. out needs in_len - ENG_NONCE_LEN - ENG_TAG_LEN bytes. */
int eng_aead_open(eng_aead *a, const uint8_t *aad, size_t aad_len,
		  const uint8_t *in, size_t in_len, uint8_t *out);

#endif

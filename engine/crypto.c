/* crypto.c — OpenSSL-backed primitives. HMAC is computed from two
 * pre-keyed SHA-256 states copied per call, which avoids re-keying cost
 * on every 16 KiB block. */
#include "crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "err.h"

struct eng_hasher {
	EVP_MD *md;
	EVP_MD_CTX *work;
	EVP_MD_CTX *inner; /* NULL for plain SHA-256 */
	EVP_MD_CTX *outer;
};

/* Nonces: a random 96-bit start per object, then a counter. Two objects
 * (threads, processes) collide only if their random starts fall within
 * 2^64 of each other, which is as unlikely as a random nonce repeating,
 * without a trip to the random generator per blob. */
struct eng_aead {
	EVP_CIPHER_CTX *enc;
	EVP_CIPHER_CTX *dec;
	uint8_t nonce[ENG_NONCE_LEN];
};

int eng_random(void *buf, size_t n, eng_err *err)
{
	if (RAND_bytes(buf, (int)n) != 1)
		return eng_fail(err, ENG_EIO, "the system random generator failed");
	return ENG_OK;
}

int eng_random_hex(char *hex, size_t n, eng_err *err)
{
	uint8_t r[32];
	if (n > sizeof(r))
		return eng_fail(err, ENG_EINPUT, "eng_random_hex: at most %zu bytes", sizeof(r));
	int rc = eng_random(r, n, err);
	if (!rc)
		eng_hex(r, n, hex);
	return rc;
}

int eng_scrypt_check(uint64_t log_n, uint64_t r, uint64_t p, eng_err *err)
{
	/* scrypt needs 128 * r * 2^log_n bytes: at most 1 GiB (the default is 32 MiB) */
	if (log_n < 10 || log_n > 20 || r == 0 || r > 32 || p == 0 || p > 16 || (r << (7 + log_n)) > (1u << 30))
		return eng_fail(err, ENG_EFORMAT,
				"unsupported scrypt parameters (log_n=%llu r=%llu p=%llu; at most 1 GiB of memory, p up to 16)",
				(unsigned long long)log_n, (unsigned long long)r, (unsigned long long)p);
	return ENG_OK;
}

int eng_scrypt(const void *secret, size_t len, const uint8_t *salt, size_t salt_len,
	       uint32_t log_n, uint32_t r, uint32_t p, uint8_t out[ENG_KEY_LEN], eng_err *err)
{
	int rc = eng_scrypt_check(log_n, r, p, err);
	if (rc)
		return rc;
	uint64_t N = (uint64_t)1 << log_n;
	uint64_t maxmem = 128 * N * r * p + (64u << 20);
	if (EVP_PBE_scrypt(secret, len, salt, salt_len, N, r, p, maxmem, out, ENG_KEY_LEN) != 1)
		return eng_fail(err, ENG_ENOMEM, "scrypt key derivation failed");
	return ENG_OK;
}

static EVP_MD_CTX *keyed_state(EVP_MD *md, const uint8_t *key, uint8_t pad)
{
	uint8_t block[64];
	for (int i = 0; i < 64; i++)
		block[i] = (uint8_t)((i < ENG_KEY_LEN ? key[i] : 0) ^ pad);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (c && (!EVP_DigestInit_ex2(c, md, NULL) || !EVP_DigestUpdate(c, block, sizeof(block)))) {
		EVP_MD_CTX_free(c);
		c = NULL;
	}
	return c;
}

eng_hasher *eng_hasher_new(const uint8_t *mac_key)
{
	eng_hasher *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	h->work = EVP_MD_CTX_new();
	if (!h->md || !h->work)
		goto fail;
	if (mac_key) {
		h->inner = keyed_state(h->md, mac_key, 0x36);
		h->outer = keyed_state(h->md, mac_key, 0x5c);
		if (!h->inner || !h->outer)
			goto fail;
	}
	return h;
fail:
	eng_hasher_free(h);
	return NULL;
}

void eng_hasher_free(eng_hasher *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->work);
	EVP_MD_CTX_free(h->inner);
	EVP_MD_CTX_free(h->outer);
	EVP_MD_free(h->md);
	free(h);
}

void eng_hasher_id(eng_hasher *h, const void *data, size_t len, uint8_t out[ENG_ID_LEN])
{
	if (!h->inner) {
		EVP_DigestInit_ex2(h->work, h->md, NULL);
		EVP_DigestUpdate(h->work, data, len);
		EVP_DigestFinal_ex(h->work, out, NULL);
		return;
	}
	uint8_t inner[ENG_ID_LEN];
	EVP_MD_CTX_copy_ex(h->work, h->inner);
	EVP_DigestUpdate(h->work, data, len);
	EVP_DigestFinal_ex(h->work, inner, NULL);
	EVP_MD_CTX_copy_ex(h->work, h->outer);
	EVP_DigestUpdate(h->work, inner, sizeof(inner));
	EVP_DigestFinal_ex(h->work, out, NULL);
}

void eng_sha256(const void *data, size_t len, uint8_t out[ENG_ID_LEN])
{
	unsigned int n = 0;
	EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

eng_aead *eng_aead_new(const uint8_t key[ENG_KEY_LEN])
{
	eng_aead *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->enc = EVP_CIPHER_CTX_new();
	a->dec = EVP_CIPHER_CTX_new();
	if (!a->enc || !a->dec || RAND_bytes(a->nonce, ENG_NONCE_LEN) != 1 ||
	    !EVP_EncryptInit_ex2(a->enc, EVP_aes_256_gcm(), key, NULL, NULL) ||
	    !EVP_DecryptInit_ex2(a->dec, EVP_aes_256_gcm(), key, NULL, NULL)) {
		eng_aead_free(a);
		return NULL;
	}
	return a;
}

void eng_aead_free(eng_aead *a)
{
	if (!a)
		return;
	EVP_CIPHER_CTX_free(a->enc);
	EVP_CIPHER_CTX_free(a->dec);
	free(a);
}

int eng_aead_seal(eng_aead *a, const uint8_t *aad, size_t aad_len,
		  const void *head, size_t hlen, const void *body, size_t len, uint8_t *out)
{
	uint8_t *nonce = out, *ct = out + ENG_NONCE_LEN;
	int n = 0;
	for (int i = ENG_NONCE_LEN - 1; i >= 0 && ++a->nonce[i] == 0; i--)
		;
	memcpy(nonce, a->nonce, ENG_NONCE_LEN);
	if (!EVP_EncryptInit_ex2(a->enc, NULL, NULL, nonce, NULL) ||
	    (aad_len && !EVP_EncryptUpdate(a->enc, NULL, &n, aad, (int)aad_len)) ||
	    (hlen && !EVP_EncryptUpdate(a->enc, ct, &n, head, (int)hlen)) ||
	    (len && !EVP_EncryptUpdate(a->enc, ct + hlen, &n, body, (int)len)) ||
	    !EVP_EncryptFinal_ex(a->enc, ct + hlen + len, &n) ||
	    !EVP_CIPHER_CTX_ctrl(a->enc, EVP_CTRL_GCM_GET_TAG, ENG_TAG_LEN, ct + hlen + len))
		return -1;
	return 0;
}

int eng_aead_open(eng_aead *a, const uint8_t *aad, size_t aad_len,
		  const uint8_t *in, size_t in_len, uint8_t *out)
{
	if (in_len < ENG_NONCE_LEN + ENG_TAG_LEN)
		return -1;
	size_t len = in_len - ENG_NONCE_LEN - ENG_TAG_LEN;
	uint8_t tag[ENG_TAG_LEN];
	memcpy(tag, in + in_len - ENG_TAG_LEN, ENG_TAG_LEN);
	int n = 0;
	if (!EVP_DecryptInit_ex2(a->dec, NULL, NULL, in, NULL) ||
	    (aad_len && !EVP_DecryptUpdate(a->dec, NULL, &n, aad, (int)aad_len)) ||
	    (len && !EVP_DecryptUpdate(a->dec, out, &n, in + ENG_NONCE_LEN, (int)len)) ||
	    !EVP_CIPHER_CTX_ctrl(a->dec, EVP_CTRL_GCM_SET_TAG, ENG_TAG_LEN, tag) ||
	    EVP_DecryptFinal_ex(a->dec, out + len, &n) <= 0)
		return -1;
	return 0;
}

void eng_hmac(const uint8_t key[ENG_KEY_LEN], const void *data, size_t len, uint8_t out[ENG_ID_LEN])
{
	eng_hasher *h = eng_hasher_new(key);
	if (!h) { /* out of memory: a value no key gives, so a check fails */
		memset(out, 0, ENG_ID_LEN);
		return;
	}
	eng_hasher_id(h, data, len, out);
	eng_hasher_free(h);
}

bool eng_ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

/* store.c — creating and opening stores, the config object and its key
 * wrapping, loading the chunk index, and reading chunks.
 *
 * config is JSON, the one object stored in the clear: format version,
 * settings, and, for an encrypted store, the scrypt parameters and the
 * data keys (encryption and id keys) sealed with AES-256-GCM under the key
 * derived from the user's key file or passphrase. */
#include "store.h"

#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "bytes.h"
#include "envelope.h"
#include "err.h"

#define CONFIG_MAX (64u << 10)
#define DEFAULT_LOG_N 15
#define WRAP_AAD "lifeboat store keys v1 "

int64_t eng_now_us(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

void eng_format_time(int64_t us, char out[40])
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 40, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void eng_pack_object(const uint8_t name[ENG_ID_LEN], char out[128])
{
	char hex[2 * ENG_ID_LEN + 1];
	eng_hex(name, ENG_ID_LEN, hex);
	snprintf(out, 128, "packs/%.2s/%s", hex, hex);
}

/* Reads the secret the user gave: a key file's bytes (trailing white space
 * dropped) or a passphrase. */
static int read_secret(const eng_secret *sec, const char *where, char **out, size_t *len, eng_err *err)
{
	if (sec && sec->key_file) {
		FILE *f = fopen(sec->key_file, "rb");
		if (!f)
			return eng_fail(err, ENG_EKEY, "cannot read key file %s: %s", sec->key_file, strerror(errno));
		char *buf = malloc(4097);
		size_t n = buf ? fread(buf, 1, 4097, f) : 0;
		fclose(f);
		if (!buf)
			return eng_fail(err, ENG_ENOMEM, "out of memory");
		while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
			n--;
		if (n == 0 || n > 4096) {
			free(buf);
			return eng_fail(err, ENG_EKEY, "key file %s is %s", sec->key_file, n ? "larger than 4 KiB" : "empty");
		}
		*out = buf;
		*len = n;
		return ENG_OK;
	}
	if (sec && sec->passphrase && *sec->passphrase) {
		*out = strdup(sec->passphrase);
		*len = strlen(sec->passphrase);
		return *out ? ENG_OK : eng_fail(err, ENG_ENOMEM, "out of memory");
	}
	return eng_fail(err, ENG_EKEY, "store %s is encrypted: give --key-file FILE (or LIFEBOAT_KEY_FILE, or LIFEBOAT_PASSPHRASE)", where);
}

static int derive_kek(const eng_secret *sec, const char *where, const uint8_t *salt, uint32_t log_n,
		      uint32_t r, uint32_t p, uint8_t kek[ENG_KEY_LEN], eng_err *err)
{
	char *secret;
	size_t len;
	int rc = read_secret(sec, where, &secret, &len, err);
	if (rc)
		return rc;
	rc = eng_scrypt(secret, len, salt, 16, log_n, r, p, kek, err);
	memset(secret, 0, len);
	free(secret);
	return rc;
}

static void wrap_aad(const char *store_id, char out[64])
{
	snprintf(out, 64, "%s%s", WRAP_AAD, store_id);
}

int eng_store_init(const char *url, const eng_init_opts *opts, eng_err *err)
{
	eng_backend *be = NULL;
	uint8_t kek[ENG_KEY_LEN], keys[2 * ENG_KEY_LEN], salt[16], sid[16];
	uint8_t wrapped[ENG_NONCE_LEN + 2 * ENG_KEY_LEN + ENG_TAG_LEN];
	char hex[2 * sizeof(wrapped) + 1], aad[64], now[40];
	cJSON *cfg = NULL;
	char *text = NULL;
	uint64_t size;
	int rc = eng_backend_open(url, true, &be, err);
	if (rc)
		return rc;
	if (be->ops->size(be, "config", &size, NULL) == ENG_OK) {
		rc = eng_fail(err, ENG_EEXIST, "%s is already a store", be->where);
		goto out;
	}
	if ((rc = eng_random(sid, sizeof(sid), err)))
		goto out;
	cfg = cJSON_CreateObject();
	cJSON_AddNumberToObject(cfg, "format", ENG_FORMAT_VERSION);
	eng_hex(sid, sizeof(sid), hex);
	cJSON_AddStringToObject(cfg, "store_id", hex);
	eng_format_time(eng_now_us(), now);
	cJSON_AddStringToObject(cfg, "created", now);
	cJSON_AddNumberToObject(cfg, "pack_size", 16 << 20);
	cJSON_AddNumberToObject(cfg, "zstd_level", 1);
	if (!opts || !opts->encrypt) {
		cJSON_AddNullToObject(cfg, "encryption");
	} else {
		uint32_t log_n = opts->scrypt_log_n ? opts->scrypt_log_n : DEFAULT_LOG_N;
		char store_id[33];
		memcpy(store_id, hex, 33);
		if ((rc = eng_random(salt, sizeof(salt), err)) || (rc = eng_random(keys, sizeof(keys), err)) ||
		    (rc = derive_kek(&opts->secret, be->where, salt, log_n, 8, 1, kek, err)))
			goto out;
		eng_aead *a = eng_aead_new(kek);
		wrap_aad(store_id, aad);
		if (!a || eng_aead_seal(a, (const uint8_t *)aad, strlen(aad), NULL, 0, keys, sizeof(keys), wrapped)) {
			eng_aead_free(a);
			rc = eng_fail(err, ENG_EIO, "cannot wrap the store keys");
			goto out;
		}
		eng_aead_free(a);
		cJSON *enc = cJSON_AddObjectToObject(cfg, "encryption");
		cJSON_AddStringToObject(enc, "cipher", "aes-256-gcm");
		cJSON_AddStringToObject(enc, "id", "hmac-sha256");
		cJSON_AddStringToObject(enc, "kdf", "scrypt");
		cJSON_AddNumberToObject(enc, "log_n", log_n);
		cJSON_AddNumberToObject(enc, "r", 8);
		cJSON_AddNumberToObject(enc, "p", 1);
		eng_hex(salt, sizeof(salt), hex);
		cJSON_AddStringToObject(enc, "salt", hex);
		eng_hex(wrapped, sizeof(wrapped), hex);
		cJSON_AddStringToObject(enc, "keys", hex);
	}
	text = cJSON_Print(cfg);
	if (!text) {
		rc = eng_fail(err, ENG_ENOMEM, "out of memory");
		goto out;
	}
	rc = be->ops->put(be, "config", text, strlen(text), err);
out:
	memset(kek, 0, sizeof(kek));
	memset(keys, 0, sizeof(keys));
	free(text);
	cJSON_Delete(cfg);
	be->ops->close(be);
	return rc;
}

static int json_uint(const cJSON *o, const char *key, uint64_t max, uint64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > (double)max)
		return -1;
	*out = (uint64_t)v->valuedouble;
	return 0;
}

static const char *json_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int unlock_keys(eng_store *s, const cJSON *enc, const eng_secret *secret, eng_err *err)
{
	uint64_t log_n, r, p;
	uint8_t salt[16], wrapped[ENG_NONCE_LEN + 2 * ENG_KEY_LEN + ENG_TAG_LEN], keys[2 * ENG_KEY_LEN], kek[ENG_KEY_LEN];
	const char *salt_hex = json_str(enc, "salt"), *keys_hex = json_str(enc, "keys");
	const char *cipher = json_str(enc, "cipher"), *kdf = json_str(enc, "kdf");
	char aad[64];
	if (!cipher || strcmp(cipher, "aes-256-gcm") || !kdf || strcmp(kdf, "scrypt") ||
	    json_uint(enc, "log_n", 31, &log_n) || json_uint(enc, "r", 64, &r) || json_uint(enc, "p", 64, &p) ||
	    !salt_hex || !eng_unhex(salt_hex, salt, sizeof(salt)) || !keys_hex ||
	    !eng_unhex(keys_hex, wrapped, sizeof(wrapped)))
		return eng_fail(err, ENG_EFORMAT, "%s/config: unreadable encryption settings", s->be->where);
	int rc = derive_kek(secret, s->be->where, salt, (uint32_t)log_n, (uint32_t)r, (uint32_t)p, kek, err);
	if (rc)
		return rc;
	eng_aead *a = eng_aead_new(kek);
	memset(kek, 0, sizeof(kek));
	if (!a)
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	wrap_aad(s->store_id, aad);
	rc = eng_aead_open(a, (const uint8_t *)aad, strlen(aad), wrapped, sizeof(wrapped), keys);
	eng_aead_free(a);
	if (rc != 0)
		return eng_fail(err, ENG_EKEY, "wrong key for store %s", s->be->where);
	s->keys.encrypted = true;
	memcpy(s->keys.enc_key, keys, ENG_KEY_LEN);
	memcpy(s->keys.mac_key, keys + ENG_KEY_LEN, ENG_KEY_LEN);
	memset(keys, 0, sizeof(keys));
	return ENG_OK;
}

int eng_store_open(const char *url, const eng_secret *secret, eng_store **out, eng_err *err)
{
	uint8_t *text = NULL;
	size_t len;
	cJSON *cfg = NULL;
	eng_store *s = calloc(1, sizeof(*s));
	if (!s)
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	int rc = eng_backend_open(url, false, &s->be, err);
	if (rc)
		goto fail;
	rc = eng_backend_get_all(s->be, "config", CONFIG_MAX, &text, &len, err);
	if (rc == ENG_EINPUT) {
		rc = eng_fail(err, ENG_EFORMAT, "%s is not a store (it has no config; create one with 'lifeboat store init')",
			      s->be->where);
		goto fail;
	}
	if (rc)
		goto fail;
	cfg = cJSON_ParseWithLength((const char *)text, len);
	uint64_t format, level, pack;
	const char *sid = cfg ? json_str(cfg, "store_id") : NULL;
	if (!cfg || json_uint(cfg, "format", 1000000, &format)) {
		rc = eng_fail(err, ENG_EFORMAT, "%s is not a store (its config is not a lifeboat config)", s->be->where);
		goto fail;
	}
	if (format > ENG_FORMAT_VERSION) {
		rc = eng_fail(err, ENG_EFORMAT, "store %s has format %llu; this lifeboat reads format %d: upgrade lifeboat",
			      s->be->where, (unsigned long long)format, ENG_FORMAT_VERSION);
		goto fail;
	}
	if (!sid || strlen(sid) != 32 || json_uint(cfg, "zstd_level", 22, &level) ||
	    json_uint(cfg, "pack_size", 1u << 30, &pack) || pack < (1u << 20)) {
		rc = eng_fail(err, ENG_EFORMAT, "%s/config is damaged (missing or bad settings)", s->be->where);
		goto fail;
	}
	memcpy(s->store_id, sid, 33);
	s->zstd_level = (int)level;
	s->pack_target = pack;
	const cJSON *enc = cJSON_GetObjectItemCaseSensitive(cfg, "encryption");
	if (cJSON_IsObject(enc)) {
		if ((rc = unlock_keys(s, enc, secret, err)))
			goto fail;
	} else if (!cJSON_IsNull(enc)) {
		rc = eng_fail(err, ENG_EFORMAT, "%s/config is damaged (bad encryption entry)", s->be->where);
		goto fail;
	}
	free(text);
	cJSON_Delete(cfg);
	*out = s;
	return ENG_OK;
fail:
	free(text);
	cJSON_Delete(cfg);
	eng_store_close(s);
	return rc;
}

void eng_store_close(eng_store *s)
{
	if (!s)
		return;
	if (s->be)
		s->be->ops->close(s->be);
	eng_cindex_free(s->ci);
	eng_names_free(s->index_files, s->n_index_files);
	memset(&s->keys, 0, sizeof(s->keys));
	free(s);
}

bool eng_store_encrypted(const eng_store *s)
{
	return s->keys.encrypted;
}

int eng_index_walk(const char *name, const uint8_t *b, size_t len, eng_index_fn fn, void *ctx, eng_err *err)
{
	if (len < 4)
		return eng_fail(err, ENG_ECORRUPT, "%s: truncated", name);
	uint32_t npacks = get_u32(b);
	size_t pos = 4;
	for (uint32_t i = 0; i < npacks; i++) {
		if (len - pos < ENG_ID_LEN + 12)
			return eng_fail(err, ENG_ECORRUPT, "%s: truncated", name);
		const uint8_t *pack = b + pos;
		uint64_t size = get_u64(b + pos + ENG_ID_LEN);
		uint32_t count = get_u32(b + pos + ENG_ID_LEN + 8);
		pos += ENG_ID_LEN + 12;
		if ((len - pos) / ENG_ENTRY_LEN < count)
			return eng_fail(err, ENG_ECORRUPT, "%s: truncated", name);
		int rc = fn(ctx, pack, size, b + pos, count, err);
		if (rc)
			return rc;
		pos += (size_t)count * ENG_ENTRY_LEN;
	}
	if (pos != len)
		return eng_fail(err, ENG_ECORRUPT, "%s: trailing bytes", name);
	return ENG_OK;
}

struct load_ctx {
	eng_cindex *ci;
	const char *name;
};

static int load_pack(void *ctx, const uint8_t *name, uint64_t size, const uint8_t *entries, uint32_t count,
		     eng_err *err)
{
	struct load_ctx *l = ctx;
	uint32_t pack = eng_cindex_add_pack(l->ci, name, size);
	if (pack == UINT32_MAX)
		return eng_fail(err, ENG_ENOMEM, "out of memory loading %s", l->name);
	for (uint32_t j = 0; j < count; j++) {
		uint8_t id[ENG_ID_LEN];
		eng_loc loc;
		eng_entry_get(entries + (size_t)j * ENG_ENTRY_LEN, id, &loc);
		loc.pack = pack;
		if (eng_cindex_put(l->ci, id, &loc) != 0)
			return eng_fail(err, ENG_ENOMEM, "out of memory loading %s", l->name);
	}
	return ENG_OK;
}

int eng_index_read(eng_store *s, eng_codec *c, const char *name, uint8_t **body, size_t *len, eng_err *err)
{
	uint8_t *raw = NULL;
	size_t raw_len;
	int rc = eng_backend_get_all(s->be, name, ENG_OBJECT_MAX + ENG_ENVELOPE_HEAD + 4096, &raw, &raw_len, err);
	if (!rc)
		rc = eng_envelope_open(c, "LBINDEX1", raw, raw_len, name, body, len, NULL, err);
	free(raw);
	return rc;
}

int eng_store_load_index(eng_store *s, eng_err *err)
{
	if (s->ci)
		return ENG_OK;
	char **names = NULL;
	size_t n = 0;
	eng_codec *c = eng_codec_new(&s->keys, s->zstd_level);
	s->ci = eng_cindex_new();
	int rc = !c || !s->ci ? eng_fail(err, ENG_ENOMEM, "out of memory")
			      : eng_backend_names(s->be, "index", &names, &n, err);
	for (size_t i = 0; rc == ENG_OK && i < n; i++) {
		uint8_t *body = NULL;
		size_t body_len;
		struct load_ctx l = { s->ci, names[i] };
		rc = eng_index_read(s, c, names[i], &body, &body_len, err);
		if (!rc)
			rc = eng_index_walk(names[i], body, body_len, load_pack, &l, err);
		free(body);
	}
	eng_codec_free(c);
	if (rc) {
		eng_names_free(names, n);
		eng_cindex_free(s->ci);
		s->ci = NULL;
		return rc;
	}
	s->index_files = names;
	s->n_index_files = n;
	return ENG_OK;
}

int eng_chunk_read(eng_store *s, eng_codec *c, const uint8_t id[ENG_ID_LEN], uint8_t *blob_buf,
		   uint8_t *out, size_t out_cap, size_t *out_len, eng_err *err)
{
	eng_loc loc;
	if (!eng_cindex_get(s->ci, id, &loc) || loc.pack == ENG_PACK_PENDING) {
		char hex[2 * ENG_ID_LEN + 1];
		eng_hex(id, ENG_ID_LEN, hex);
		return eng_fail(err, ENG_ECORRUPT, "chunk %s is missing from the index of store %s", hex, s->be->where);
	}
	char obj[128];
	eng_pack_object(eng_cindex_pack(s->ci, loc.pack)->name, obj);
	return eng_chunk_read_at(s, c, id, &loc, obj, blob_buf, out, out_cap, out_len, err);
}

int eng_chunk_read_at(eng_store *s, eng_codec *c, const uint8_t id[ENG_ID_LEN], const eng_loc *loc,
		      const char *obj, uint8_t *blob_buf, uint8_t *out, size_t out_cap, size_t *out_len,
		      eng_err *err)
{
	char hex[2 * ENG_ID_LEN + 1];
	if (loc->raw_length > out_cap || loc->length > eng_codec_bound(out_cap))
		return eng_fail(err, ENG_ECORRUPT, "%s/%s: chunk entry with implausible size %u", s->be->where, obj,
				loc->raw_length);
	int rc = s->be->ops->get(s->be, obj, loc->offset, blob_buf, loc->length, err);
	if (rc == ENG_EINPUT) /* a pack the index names is gone: damage, not bad input */
		rc = err ? (err->status = ENG_ECORRUPT) : ENG_ECORRUPT;
	if (rc)
		return rc;
	eng_err e;
	rc = eng_codec_open(c, id, blob_buf, loc->length, out, loc->raw_length, false, &e);
	if (rc) {
		eng_hex(id, ENG_ID_LEN, hex);
		return eng_fail(err, rc, "%s/%s: chunk %s at offset %u: %s", s->be->where, obj, hex, loc->offset, e.msg);
	}
	*out_len = loc->raw_length;
	return ENG_OK;
}

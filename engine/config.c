/* config.c — creating and opening stores: the config object, the one
 * object stored in the clear, and the key wrapping of encrypted stores.
 *
 * config holds the format version and settings and, for an encrypted
 * store, the scrypt parameters and the data keys (encryption and id keys)
 * sealed with AES-256-GCM under the key derived from the user's key file
 * or passphrase. From format 2 on, the settings are authenticated too: the
 * keys are sealed with associated data naming format 2, and settings_mac,
 * an HMAC of every setting under a key derived from the data keys, must
 * match. So an altered config (other settings, an older format, or no
 * encryption at all) cannot pass for the one the user's key opens. A store
 * of format 1 (no settings_mac) still opens, with its settings unchecked. */
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bytes.h"
#include "err.h"
#include "store.h"

#define CONFIG_MAX (64u << 10)
#define DEFAULT_LOG_N 15
#define DEFAULT_PACK_SIZE (16u << 20)
#define DEFAULT_ZSTD_LEVEL 1
#define WRAP_AAD_V1 "lifeboat store keys v1 "
#define WRAP_AAD_V2 "lifeboat store keys v2 "
#define SETTINGS_KEY_LABEL "lifeboat store settings key"

/* The settings a config holds. */
struct settings {
	uint64_t format;
	char store_id[33];
	char created[64];
	uint64_t pack_size, zstd_level;
	bool encrypted;
	uint64_t log_n, r, p;
	char salt[2 * 16 + 1];
};

static bool secret_given(const eng_secret *sec)
{
	return sec && (sec->key_file || (sec->passphrase && *sec->passphrase));
}

static const char *secret_origin(const eng_secret *sec)
{
	if (sec->origin)
		return sec->origin;
	return sec->key_file ? "a key file" : "a passphrase";
}

/* Reads the secret the user gave: a key file's bytes (trailing white space
 * dropped) or a passphrase. */
static int read_secret(const eng_secret *sec, const char *where, char **out, size_t *len, eng_err *err)
{
	if (sec && sec->key_file) {
		FILE *f = fopen(sec->key_file, "rb");
		struct stat st;
		if (!f)
			return eng_fail(err, ENG_EKEY, "cannot read key file %s: %s", sec->key_file, strerror(errno));
		if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
			fclose(f);
			return eng_fail(err, ENG_EKEY, "key file %s is a folder, not a file", sec->key_file);
		}
		char *buf = malloc(4097);
		size_t n = buf ? fread(buf, 1, 4097, f) : 0;
		int failed = ferror(f) ? errno : 0;
		fclose(f);
		if (!buf)
			return eng_fail(err, ENG_ENOMEM, "out of memory");
		if (failed) {
			free(buf);
			return eng_fail(err, ENG_EKEY, "cannot read key file %s: %s", sec->key_file, strerror(failed));
		}
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

static void wrap_aad(const char *version, const char *store_id, char out[64])
{
	snprintf(out, 64, "%s%s", version, store_id);
}

/* Every setting, one per line, in a fixed order: what settings_mac covers. */
static void settings_text(const struct settings *st, char *out, size_t cap)
{
	snprintf(out, cap,
		 "lifeboat store settings\nformat=%llu\nstore_id=%s\ncreated=%s\npack_size=%llu\nzstd_level=%llu\n"
		 "cipher=aes-256-gcm\nid=hmac-sha256\nkdf=scrypt\nlog_n=%llu\nr=%llu\np=%llu\nsalt=%s\n",
		 (unsigned long long)st->format, st->store_id, st->created, (unsigned long long)st->pack_size,
		 (unsigned long long)st->zstd_level, (unsigned long long)st->log_n, (unsigned long long)st->r,
		 (unsigned long long)st->p, st->salt);
}

/* settings_mac = HMAC-SHA-256(HMAC-SHA-256(mac_key, label), settings text). */
static void settings_mac(const struct settings *st, const uint8_t mac_key[ENG_KEY_LEN], uint8_t out[ENG_ID_LEN])
{
	char text[512];
	uint8_t key[ENG_KEY_LEN];
	settings_text(st, text, sizeof(text));
	eng_hmac(mac_key, SETTINGS_KEY_LABEL, strlen(SETTINGS_KEY_LABEL), key);
	eng_hmac(key, text, strlen(text), out);
	memset(key, 0, sizeof(key));
}

int eng_store_init(const char *url, const eng_init_opts *opts, eng_err *err)
{
	eng_backend *be = NULL;
	uint8_t kek[ENG_KEY_LEN], keys[2 * ENG_KEY_LEN], salt[16], sid[16], mac[ENG_ID_LEN];
	uint8_t wrapped[ENG_NONCE_LEN + 2 * ENG_KEY_LEN + ENG_TAG_LEN];
	char hex[2 * sizeof(wrapped) + 1], aad[64];
	struct settings st = { .format = ENG_FORMAT_VERSION, .pack_size = DEFAULT_PACK_SIZE,
			       .zstd_level = DEFAULT_ZSTD_LEVEL };
	cJSON *cfg = NULL;
	char *text = NULL;
	uint64_t size;
	bool encrypt = opts && opts->encrypt;
	if (opts && opts->pack_size) {
		if (opts->pack_size < (1u << 20) || opts->pack_size > (1u << 30))
			return eng_fail(err, ENG_EINPUT, "a pack size must be from 1 MiB to 1 GiB");
		st.pack_size = opts->pack_size;
	}
	if (!encrypt && opts && secret_given(&opts->secret))
		return eng_fail(err, ENG_EINPUT, "a key was given (%s) for a store that is not encrypted: "
				"encrypt the store, or give no key", secret_origin(&opts->secret));
	int rc = eng_backend_open(url, true, &be, err);
	if (rc)
		return rc;
	if (eng_be_stat(be, "config", &size, NULL) == ENG_OK) {
		rc = eng_fail(err, ENG_EEXIST, "%s is already a store", be->where);
		goto out;
	}
	if ((rc = eng_random(sid, sizeof(sid), err)))
		goto out;
	eng_hex(sid, sizeof(sid), st.store_id);
	eng_format_time(eng_now_us(), st.created);
	cfg = cJSON_CreateObject();
	cJSON_AddNumberToObject(cfg, "format", (double)st.format);
	cJSON_AddStringToObject(cfg, "store_id", st.store_id);
	cJSON_AddStringToObject(cfg, "created", st.created);
	cJSON_AddNumberToObject(cfg, "pack_size", (double)st.pack_size);
	cJSON_AddNumberToObject(cfg, "zstd_level", (double)st.zstd_level);
	if (!encrypt) {
		cJSON_AddNullToObject(cfg, "encryption");
	} else {
		st.encrypted = true;
		st.log_n = opts->scrypt_log_n ? opts->scrypt_log_n : DEFAULT_LOG_N;
		st.r = 8;
		st.p = 1;
		if ((rc = eng_random(salt, sizeof(salt), err)) || (rc = eng_random(keys, sizeof(keys), err)) ||
		    (rc = derive_kek(&opts->secret, be->where, salt, (uint32_t)st.log_n, (uint32_t)st.r, (uint32_t)st.p,
				     kek, err)))
			goto out;
		eng_hex(salt, sizeof(salt), st.salt);
		eng_aead *a = eng_aead_new(kek);
		wrap_aad(WRAP_AAD_V2, st.store_id, aad);
		if (!a || eng_aead_seal(a, (const uint8_t *)aad, strlen(aad), NULL, 0, keys, sizeof(keys), wrapped)) {
			eng_aead_free(a);
			rc = eng_fail(err, ENG_EIO, "cannot wrap the store keys");
			goto out;
		}
		eng_aead_free(a);
		settings_mac(&st, keys + ENG_KEY_LEN, mac);
		cJSON *enc = cJSON_AddObjectToObject(cfg, "encryption");
		cJSON_AddStringToObject(enc, "cipher", "aes-256-gcm");
		cJSON_AddStringToObject(enc, "id", "hmac-sha256");
		cJSON_AddStringToObject(enc, "kdf", "scrypt");
		cJSON_AddNumberToObject(enc, "log_n", (double)st.log_n);
		cJSON_AddNumberToObject(enc, "r", (double)st.r);
		cJSON_AddNumberToObject(enc, "p", (double)st.p);
		cJSON_AddStringToObject(enc, "salt", st.salt);
		eng_hex(wrapped, sizeof(wrapped), hex);
		cJSON_AddStringToObject(enc, "keys", hex);
		eng_hex(mac, sizeof(mac), hex);
		cJSON_AddStringToObject(enc, "settings_mac", hex);
	}
	text = cJSON_Print(cfg);
	if (!text) {
		rc = eng_fail(err, ENG_ENOMEM, "out of memory");
		goto out;
	}
	rc = eng_be_put(be, "config", text, strlen(text), err);
out:
	memset(kek, 0, sizeof(kek));
	memset(keys, 0, sizeof(keys));
	free(text);
	cJSON_Delete(cfg);
	eng_backend_close(be);
	return rc;
}

/* A whole number in [0, max]; never converts a value out of range. */
static int json_uint(const cJSON *o, const char *key, uint64_t max, uint64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= (double)max) ||
	    v->valuedouble != floor(v->valuedouble))
		return -1;
	*out = (uint64_t)v->valuedouble;
	return 0;
}

static const char *json_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool is_str(const cJSON *o, const char *key, const char *want)
{
	const char *v = json_str(o, key);
	return v && !strcmp(v, want);
}

/* Unwraps the data keys with the associated data of format version. */
static bool unwrap(const uint8_t kek[ENG_KEY_LEN], const char *version, const char *store_id,
		   const uint8_t *wrapped, size_t len, uint8_t keys[2 * ENG_KEY_LEN])
{
	char aad[64];
	eng_aead *a = eng_aead_new(kek);
	if (!a)
		return false;
	wrap_aad(version, store_id, aad);
	int rc = eng_aead_open(a, (const uint8_t *)aad, strlen(aad), wrapped, len, keys);
	eng_aead_free(a);
	return rc == 0;
}

static int unlock_keys(eng_store *s, const cJSON *enc, struct settings *st, const eng_secret *secret, eng_err *err)
{
	uint8_t salt[16], wrapped[ENG_NONCE_LEN + 2 * ENG_KEY_LEN + ENG_TAG_LEN], keys[2 * ENG_KEY_LEN], kek[ENG_KEY_LEN];
	uint8_t mac[ENG_ID_LEN], want[ENG_ID_LEN];
	const char *salt_hex = json_str(enc, "salt"), *keys_hex = json_str(enc, "keys");
	const char *mac_hex = json_str(enc, "settings_mac");
	const char *where = s->be->where;
	if (!is_str(enc, "cipher", "aes-256-gcm") || !is_str(enc, "id", "hmac-sha256") || !is_str(enc, "kdf", "scrypt") ||
	    json_uint(enc, "log_n", 63, &st->log_n) || json_uint(enc, "r", 1u << 20, &st->r) ||
	    json_uint(enc, "p", 1u << 20, &st->p) || !salt_hex || strlen(salt_hex) != 32 ||
	    !eng_unhex(salt_hex, salt, sizeof(salt)) || !keys_hex || strlen(keys_hex) != 2 * sizeof(wrapped) ||
	    !eng_unhex(keys_hex, wrapped, sizeof(wrapped)) ||
	    (st->format >= 2 && (!mac_hex || strlen(mac_hex) != 64 || !eng_unhex(mac_hex, mac, sizeof(mac)))))
		return eng_fail(err, ENG_EFORMAT, "%s/config: unreadable encryption settings", where);
	memcpy(st->salt, salt_hex, sizeof(st->salt));
	/* Checked before deriving: a forged cost must not take the machine's memory. */
	eng_err e;
	int rc = eng_scrypt_check(st->log_n, st->r, st->p, &e);
	if (rc)
		return eng_fail(err, ENG_EFORMAT, "%s/config: %s", where, e.msg);
	rc = derive_kek(secret, where, salt, (uint32_t)st->log_n, (uint32_t)st->r, (uint32_t)st->p, kek, err);
	if (rc)
		return rc;
	bool v2 = st->format >= 2;
	bool ok = unwrap(kek, v2 ? WRAP_AAD_V2 : WRAP_AAD_V1, st->store_id, wrapped, sizeof(wrapped), keys);
	/* A format 1 config whose keys open as format 2: set back to escape the settings check. */
	bool downgraded = !ok && !v2 && unwrap(kek, WRAP_AAD_V2, st->store_id, wrapped, sizeof(wrapped), keys);
	memset(kek, 0, sizeof(kek));
	if (v2 && ok) {
		settings_mac(st, keys + ENG_KEY_LEN, want);
		downgraded = !eng_ct_equal(mac, want, sizeof(mac));
	}
	if (downgraded) {
		memset(keys, 0, sizeof(keys));
		return eng_fail(err, ENG_ECORRUPT,
				"%s/config was altered: its settings are not those the store's key authenticates "
				"(restore the original config)", where);
	}
	if (!ok)
		return eng_fail(err, ENG_EKEY, "wrong key for store %s", where);
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
	struct settings st = { 0 };
	eng_store *s = calloc(1, sizeof(*s));
	if (!s)
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	int rc = eng_backend_open(url, false, &s->be, err);
	if (rc)
		goto fail;
	rc = eng_be_get_all(s->be, "config", CONFIG_MAX, &text, &len, err);
	if (rc == ENG_ENOTFOUND) {
		rc = eng_fail(err, ENG_EFORMAT, "%s is not a store (it has no config; create one with 'lifeboat store init')",
			      s->be->where);
		goto fail;
	}
	if (rc)
		goto fail;
	cfg = cJSON_ParseWithLength((const char *)text, len);
	const char *sid = cfg ? json_str(cfg, "store_id") : NULL, *created = cfg ? json_str(cfg, "created") : NULL;
	if (!cfg || json_uint(cfg, "format", 1000000, &st.format) || st.format < 1) {
		rc = eng_fail(err, ENG_EFORMAT, "%s is not a store (its config is not a lifeboat config)", s->be->where);
		goto fail;
	}
	if (st.format > ENG_FORMAT_VERSION) {
		rc = eng_fail(err, ENG_EFORMAT, "store %s has format %llu; this lifeboat reads format %d: upgrade lifeboat",
			      s->be->where, (unsigned long long)st.format, ENG_FORMAT_VERSION);
		goto fail;
	}
	if (!sid || strlen(sid) != 32 || (created && strlen(created) >= sizeof(st.created)) ||
	    json_uint(cfg, "zstd_level", 22, &st.zstd_level) || json_uint(cfg, "pack_size", 1u << 30, &st.pack_size) ||
	    st.pack_size < (1u << 20)) {
		rc = eng_fail(err, ENG_EFORMAT, "%s/config is damaged (missing or bad settings)", s->be->where);
		goto fail;
	}
	memcpy(st.store_id, sid, 33);
	snprintf(st.created, sizeof(st.created), "%s", created ? created : "");
	memcpy(s->store_id, sid, 33);
	s->zstd_level = (int)st.zstd_level;
	s->pack_target = st.pack_size;
	s->group_chunks = st.format >= 3;
	const cJSON *enc = cJSON_GetObjectItemCaseSensitive(cfg, "encryption");
	if (cJSON_IsObject(enc)) {
		if ((rc = unlock_keys(s, enc, &st, secret, err)))
			goto fail;
	} else if (!cJSON_IsNull(enc)) {
		rc = eng_fail(err, ENG_EFORMAT, "%s/config is damaged (bad encryption entry)", s->be->where);
		goto fail;
	} else if (secret_given(secret)) {
		/* A key means the user expects encryption: using it with a plain
		 * store would write plaintext (a replaced config downgrades so). */
		rc = eng_fail(err, ENG_EKEY,
			      "store %s is not encrypted, but a key was given (%s): a key is only for an encrypted "
			      "store; give no key, or check that %s/config was not replaced",
			      s->be->where, secret_origin(secret), s->be->where);
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

int eng_store_info_get(const char *url, eng_store_info *out, eng_err *err)
{
	memset(out, 0, sizeof(*out));
	eng_backend *be = NULL;
	uint8_t *text = NULL;
	size_t len;
	eng_err e;
	int rc = eng_backend_open(url, false, &be, &e);
	if (rc == ENG_EFORMAT) { /* no such folder, bucket or container */
		snprintf(out->why, sizeof(out->why), "%s", e.msg);
		return ENG_OK;
	}
	if (rc) {
		if (err)
			*err = e;
		return rc;
	}
	snprintf(out->kind, sizeof(out->kind), "%s", be->ops->kind);
	rc = eng_be_get_all(be, "config", CONFIG_MAX, &text, &len, &e);
	if (rc == ENG_ENOTFOUND || rc == ENG_EFORMAT) {
		snprintf(out->why, sizeof(out->why), "%s", rc == ENG_EFORMAT ? e.msg : "it has no config");
		rc = ENG_OK;
	} else if (rc) {
		if (err)
			*err = e;
	} else {
		cJSON *cfg = cJSON_ParseWithLength((const char *)text, len);
		const char *sid = cfg ? json_str(cfg, "store_id") : NULL, *created = cfg ? json_str(cfg, "created") : NULL;
		if (!cfg || json_uint(cfg, "format", 1000000, &out->format) || !sid || strlen(sid) != 32) {
			snprintf(out->why, sizeof(out->why), "its config is not a lifeboat config");
		} else {
			out->exists = true;
			memcpy(out->store_id, sid, 33);
			snprintf(out->created, sizeof(out->created), "%s", created && strlen(created) < 40 ? created : "");
			json_uint(cfg, "pack_size", 1u << 30, &out->pack_size);
			out->encrypted = cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(cfg, "encryption"));
		}
		cJSON_Delete(cfg);
	}
	free(text);
	eng_backend_close(be);
	return rc;
}

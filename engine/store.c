/* store.c — what every operation on an open store shares: closing it,
 * loading the chunk index, and reading chunks. Creating and opening a
 * store (its config and keys) is config.c's. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "bytes.h"
#include "envelope.h"
#include "err.h"

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

void eng_store_close(eng_store *s)
{
	if (!s)
		return;
	if (s->be)
		eng_backend_close(s->be);
	eng_cindex_free(s->ci);
	eng_names_free(s->index_files, s->n_index_files);
	memset(&s->keys, 0, sizeof(s->keys));
	free(s);
}

bool eng_store_encrypted(const eng_store *s)
{
	return s->keys.encrypted;
}

void eng_store_notes(eng_store *s, void (*fn)(void *ctx, const char *line), void *ctx)
{
	s->be->note = fn;
	s->be->note_ctx = ctx;
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
	int rc = eng_be_get_all(s->be, name, ENG_OBJECT_MAX + ENG_ENVELOPE_HEAD + 4096, &raw, &raw_len, err);
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
			      : eng_be_names(s->be, "index", &names, &n, err);
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
	if (loc->raw_length > out_cap || loc->length > eng_codec_bound(loc->grouped ? ENG_GROUP_PLAIN_MAX : out_cap))
		return eng_fail(err, ENG_ECORRUPT, "%s/%s: chunk entry with implausible size %u", s->be->where, obj,
				loc->raw_length);
	/* blob_buf holds a chunk of out_cap bytes; a group may be larger */
	uint8_t *blob = loc->grouped && loc->length > eng_codec_bound(out_cap) ? malloc(loc->length) : blob_buf;
	if (!blob)
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	int rc = eng_be_get(s->be, obj, loc->offset, blob, loc->length, err);
	if (rc == ENG_ENOTFOUND) /* a pack the index names is gone: damage, not bad input */
		rc = err ? (err->status = ENG_ECORRUPT) : ENG_ECORRUPT;
	eng_err e;
	if (!rc && (rc = eng_codec_open(c, id, loc->grouped, blob, loc->length, out, loc->raw_length, false, &e))) {
		eng_hex(id, ENG_ID_LEN, hex);
		rc = eng_fail(err, rc, "%s/%s: chunk %s at offset %u: %s", s->be->where, obj, hex, loc->offset, e.msg);
	}
	if (blob != blob_buf)
		free(blob);
	if (!rc)
		*out_len = loc->raw_length;
	return rc;
}

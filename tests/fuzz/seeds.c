/* seeds — writes the fuzz targets' seed inputs from a real store (run by
 * make-corpus.sh, not part of `make fuzz`):
 *
 *   seeds STORE OUT [KEY_FILE]
 *
 *   OUT/envelope/  index files, points and pack header envelopes as stored;
 *                  the same bodies sealed with the harness's keyed codec
 *                  (*.keyed) and in the form fuzz_envelope encrypts itself
 *                  (*.inner: a plain blob under the keyed id)
 *   OUT/index/     the plain bytes of each index file
 *   OUT/point/     the JSON of each point
 *   OUT/tree/      the stream of each folder of each tree point
 *   OUT/pack/      each pack of at most 64 KiB as stored (plain stores),
 *                  and with its header opened (*.plain, see fuzz_pack.c)
 *
 * Everything is read and opened with the engine, as a reader would. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bytes.h"
#include "envelope.h"
#include "harness.h"
#include "store.h"
#include "stream.h"

#define PACK_SEED_MAX (64u << 10)

static const char *out_dir, *tag;
static eng_codec *codec, *plain, *keyed;
static int n_written;

_Noreturn static void die(const char *what, const char *msg)
{
	fprintf(stderr, "seeds: %s: %s\n", what, msg);
	exit(1);
}

static void put(const char *kind, const char *name, const char *suffix, const void *data, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", out_dir, kind);
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		die(path, strerror(errno));
	snprintf(path, sizeof(path), "%s/%s/%s-%s%s", out_dir, kind, tag, name, suffix);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		die(path, "cannot write");
	n_written++;
}

/* name without folders, shortened: "index-3f9a0c1d" */
static void short_name(const char *prefix, const char *obj, char out[64])
{
	const char *base = strrchr(obj, '/');
	snprintf(out, 64, "%s-%.8s", prefix, base ? base + 1 : obj);
}

/* The raw envelope, and its body sealed the two keyed ways. */
static void put_envelopes(const char *name, const char magic[ENG_MAGIC_LEN], const uint8_t *raw, size_t raw_len,
			  const uint8_t *body, size_t body_len)
{
	uint8_t *env;
	size_t env_len;
	eng_err e;
	put("envelope", name, "", raw, raw_len);
	if (eng_envelope_seal(keyed, magic, body, body_len, &env, &env_len, NULL, &e))
		die(name, e.msg);
	put("envelope", name, ".keyed", env, env_len);
	free(env);
	if (eng_envelope_seal(plain, magic, body, body_len, &env, &env_len, NULL, &e))
		die(name, e.msg);
	eng_codec_id(keyed, body, body_len, env + ENG_MAGIC_LEN);
	put("envelope", name, ".inner", env, env_len);
	free(env);
}

/* Reads and opens an envelope object; its body goes to kind/. */
static void seed_object(eng_store *s, const char *obj, const char magic[ENG_MAGIC_LEN], const char *kind)
{
	uint8_t *raw, *body;
	size_t raw_len, body_len;
	char name[64];
	eng_err e;
	if (eng_backend_get_all(s->be, obj, ENG_OBJECT_MAX, &raw, &raw_len, &e) ||
	    eng_envelope_open(codec, magic, raw, raw_len, obj, &body, &body_len, NULL, &e))
		die(obj, e.msg);
	short_name(kind, obj, name);
	put(kind, name, "", body, body_len);
	put_envelopes(name, magic, raw, raw_len, body, body_len);
	free(raw);
	free(body);
}

static void seed_folder(eng_store *s, const uint8_t *refs, uint32_t nrefs, const char *point, int *n)
{
	uint8_t *bytes;
	size_t len, pos = 0;
	char name[64];
	eng_err e;
	if (eng_stream_get(s, codec, refs, nrefs, ENG_DIR_STREAM_MAX, &bytes, &len, &e))
		die(point, e.msg);
	snprintf(name, sizeof(name), "%s-%d", point, (*n)++);
	put("tree", name, "", bytes, len);
	while (pos < len) {
		eng_entry ent;
		size_t used = eng_entry_decode(bytes + pos, len - pos, &ent);
		if (!used)
			die(point, "malformed folder");
		if (ent.type == ENG_T_DIR)
			seed_folder(s, ent.refs, ent.nrefs, point, n);
		pos += used;
	}
	free(bytes);
}

static void seed_tree(eng_store *s, const char *obj)
{
	eng_point p;
	eng_err e;
	char name[64];
	int n = 0;
	if (eng_point_read(s, obj, &p, &e))
		die(obj, e.msg);
	short_name("tree", obj, name);
	if (!strcmp(p.info.kind, "tree"))
		seed_folder(s, p.root_refs.v, (uint32_t)p.root_refs.n, name, &n);
	eng_point_release(&p);
}

/* A pack as stored, its header envelope, and the pack with the header opened. */
static void seed_pack(eng_store *s, const eng_pack_ref *ref)
{
	char obj[128], name[64];
	uint8_t *raw, *hdr;
	size_t raw_len, hdr_len;
	eng_err e;
	eng_pack_object(ref->name, obj);
	short_name("pack", obj, name);
	if (eng_backend_get_all(s->be, obj, ENG_OBJECT_MAX, &raw, &raw_len, &e))
		die(obj, e.msg);
	uint32_t env_len = get_u32(raw + raw_len - 12);
	const uint8_t *env = raw + raw_len - 12 - env_len;
	if (eng_envelope_open(codec, "LBPKHDR1", env, env_len, obj, &hdr, &hdr_len, NULL, &e))
		die(obj, e.msg);
	char hname[64];
	short_name("pkhdr", obj, hname);
	put_envelopes(hname, "LBPKHDR1", env, env_len, hdr, hdr_len);
	if (!s->keys.encrypted && raw_len <= PACK_SEED_MAX) {
		put("pack", name, "", raw, raw_len);
		size_t blobs = raw_len - 12 - env_len;
		uint8_t *open = malloc(blobs + hdr_len + 12);
		if (!open)
			die(obj, "out of memory");
		memcpy(open, raw, blobs);
		memcpy(open + blobs, hdr, hdr_len);
		put_u32(open + blobs + hdr_len, (uint32_t)hdr_len);
		memcpy(open + blobs + hdr_len + 4, "LBPKEND1", 8);
		put("pack", name, ".plain", open, blobs + hdr_len + 12);
		free(open);
	}
	free(raw);
	free(hdr);
}

int main(int argc, char **argv)
{
	eng_store *s;
	eng_err e;
	if (argc < 3) {
		fprintf(stderr, "usage: seeds STORE OUT [KEY_FILE]\n");
		return 2;
	}
	out_dir = argv[2];
	if (mkdir(out_dir, 0755) != 0 && errno != EEXIST)
		die(out_dir, strerror(errno));
	eng_secret secret = { .key_file = argc > 3 ? argv[3] : NULL };
	if (eng_store_open(argv[1], &secret, &s, &e) || eng_store_load_index(s, &e))
		die(argv[1], e.msg);
	tag = s->keys.encrypted ? "enc" : "plain";
	eng_keys none = fuzz_keys(false), keys = fuzz_keys(true);
	codec = eng_codec_new(&s->keys, s->zstd_level);
	plain = eng_codec_new(&none, s->zstd_level);
	keyed = eng_codec_new(&keys, s->zstd_level);
	if (!codec || !plain || !keyed)
		die(argv[1], "out of memory");
	char **names;
	size_t n;
	if (eng_backend_names(s->be, "index", &names, &n, &e))
		die(argv[1], e.msg);
	for (size_t i = 0; i < n; i++)
		seed_object(s, names[i], "LBINDEX1", "index");
	eng_names_free(names, n);
	if (eng_backend_names(s->be, "points", &names, &n, &e))
		die(argv[1], e.msg);
	for (size_t i = 0; i < n; i++) {
		seed_object(s, names[i], "LBPOINT1", "point");
		seed_tree(s, names[i]);
	}
	eng_names_free(names, n);
	for (size_t i = 0; i < eng_cindex_packs(s->ci); i++)
		seed_pack(s, eng_cindex_pack(s->ci, (uint32_t)i));
	printf("%s: %d seeds written to %s\n", argv[1], n_written, out_dir);
	eng_codec_free(codec);
	eng_codec_free(plain);
	eng_codec_free(keyed);
	eng_store_close(s);
	return 0;
}

/* fuzz_tree — the tree entry stream: a folder's encoded entries
 * (engine/tree_format.c eng_entry_decode) and the checks the restore walk
 * makes on them (engine/tree_restore.c walk, static: the engine file is
 * compiled into this target): forbidden names, order, hard-link targets,
 * path lengths, then folders and files created for real. The input is the
 * root folder's stream; it is stored as one metadata chunk in a real plain
 * store in a scratch folder, then
 *   - walked into a new folder, then again in place (--delta: what is kept,
 *     what is removed),
 *   - walked the way verify reaches a point's chunks (eng_reach_point).
 * A folder entry's refs can only name chunks that are missing (its own id
 * would be a hash of itself), so the walk goes one folder deep plus empty
 * folders. */
#include "../../engine/tree_restore.c"

#include <sys/stat.h>

#include "harness.h"
#include "reach.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stores data as the one chunk of the store's one pack; returns its id. */
static void store_chunk(eng_store *s, eng_codec *c, const uint8_t *data, size_t size, uint8_t id[ENG_ID_LEN])
{
	static uint8_t *pack;
	static const uint8_t name[ENG_ID_LEN] = { 0 };
	char obj[128], path[PATH_MAX];
	size_t blob_len;
	eng_err e;
	if (!pack && !(pack = malloc(8 + eng_codec_bound(ENG_CDC_MAX))))
		fuzz_die("out of memory");
	eng_codec_id(c, data, size, id);
	memcpy(pack, "LBPACK01", 8);
	if (eng_codec_seal(c, id, data, size, pack + 8, &blob_len, &e))
		fuzz_die("cannot seal: %s", e.msg);
	eng_pack_object(name, obj);
	snprintf(path, sizeof(path), "%s/%.8s", s->be->where, obj);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s", s->be->where, obj);
	fuzz_write(path, pack, 8 + blob_len);
	eng_loc loc = { .pack = 0, .offset = 8, .length = (uint32_t)blob_len, .raw_length = (uint32_t)size,
			.type = ENG_CHUNK_META };
	eng_cindex_free(s->ci);
	if (!(s->ci = eng_cindex_new()) || eng_cindex_add_pack(s->ci, name, 8 + blob_len) == UINT32_MAX ||
	    eng_cindex_put(s->ci, id, &loc) != 0)
		fuzz_die("out of memory");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static eng_codec *c;
	eng_store *s = fuzz_store();
	eng_err e;
	if (size > ENG_CDC_MAX)
		return 0; /* a folder this large is a stream of several chunks */
	if (!c && !(c = eng_codec_new(&s->keys, s->zstd_level)))
		fuzz_die("out of memory");
	uint8_t id[ENG_ID_LEN];
	store_chunk(s, c, data, size, id);
	eng_point pt = { .info.kind = "tree" };
	if (size && eng_refs_add(&pt.root_refs, id, (uint32_t)size))
		fuzz_die("out of memory");

	char out[PATH_MAX];
	snprintf(out, sizeof(out), "%s/out", fuzz_scratch());
	if (mkdir(out, 0700) != 0)
		fuzz_die("cannot create %s", out);
	for (int delta = 0; delta < 2; delta++) {
		struct tree_restore t = { .s = s, .dest = out, .codec = c, .as_root = geteuid() == 0, .delta = delta };
		if ((t.rootfd = open(out, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			fuzz_die("cannot open %s", out);
		int rc = walk(&t, t.rootfd, "", pt.root_refs.v, (uint32_t)pt.root_refs.n, 0, &e);
		close(t.rootfd);
		later_free(t.files, t.nfiles);
		later_free(t.links, t.nlinks);
		later_free(t.dirs, t.ndirs);
		if (rc)
			break;
	}
	fuzz_rmtree(out);

	eng_reach r;
	if (eng_reach_init(&r, s, &e) == ENG_OK) {
		eng_reach_point(&r, &pt, &e);
		eng_reach_free(&r);
	}
	eng_refs_free(&pt.root_refs);
	return 0;
}

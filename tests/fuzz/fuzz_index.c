/* fuzz_index — index parsing: the plain bytes of an index/ID object, as
 * engine/store.c walks them (eng_index_walk) and loads them into the chunk
 * index (load_pack, static: the engine file is compiled into this target,
 * the rest of the engine linked) once the envelope has opened. */
#include "../../engine/store.c"

#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	eng_store s = { .ci = eng_cindex_new() };
	eng_err e;
	if (!s.ci)
		fuzz_die("out of memory");
	struct load_ctx l = { s.ci, "index/0123" };
	eng_index_walk("index/0123", data, size, load_pack, &l, &e);
	eng_cindex_free(s.ci);
	return 0;
}

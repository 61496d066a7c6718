/* fuzz_index — index parsing: the plain bytes of an index/ID object, as
 * engine/store.c parse_index loads them into the chunk index once the
 * envelope has opened. parse_index is static: the engine file is compiled
 * into this target, the rest of the engine linked. */
#include "../../engine/store.c"

#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	eng_store s = { .ci = eng_cindex_new() };
	eng_err e;
	if (!s.ci)
		fuzz_die("out of memory");
	parse_index(&s, "index/0123", data, size, &e);
	eng_cindex_free(s.ci);
	return 0;
}

/* fuzz_point — point decoding: the JSON body of a points/M/D/ID object, as
 * engine/point.c decode_point reads it once the envelope has opened. The
 * input is that body (a plain store's points are sealed only by a SHA-256
 * anyone can compute, so it is untrusted). decode_point is static: the
 * engine file is compiled into this target, the rest of the engine linked. */
#include "../../engine/point.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	eng_point p;
	eng_err e;
	if (decode_point("points/m/d/0123456789abcdef", (const char *)data, size, &p, &e) == ENG_OK)
		eng_point_release(&p);
	return 0;
}

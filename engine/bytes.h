/* bytes.h — little-endian integers and hex, for the store's binary formats. */
#ifndef ENG_BYTES_H
#define ENG_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void put_u64(uint8_t *p, uint64_t v)
{
	put_u32(p, (uint32_t)v);
	put_u32(p + 4, (uint32_t)(v >> 32));
}

static inline uint64_t get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

/* True when all n bytes are zero. */
static inline bool eng_all_zero(const uint8_t *p, size_t n)
{
	const uint8_t *end = p + n;
	while (p + 64 <= end) {
		uint64_t v[8];
		__builtin_memcpy(v, p, 64);
		if (v[0] | v[1] | v[2] | v[3] | v[4] | v[5] | v[6] | v[7])
			return false;
		p += 64;
	}
	for (; p < end; p++)
		if (*p)
			return false;
	return true;
}

/* Makes the buffer *bufp (any pointer type, capacity *cap bytes) hold at
 * least need bytes, doubling from first; false when out of memory (the
 * buffer is then unchanged). */
bool eng_reserve(void *bufp, size_t *cap, size_t need, size_t first);

/* Writes 2*n hex digits and a NUL into out. */
void eng_hex(const uint8_t *bin, size_t n, char *out);
/* Parses exactly 2*n hex digits; false on anything else. */
bool eng_unhex(const char *hex, uint8_t *bin, size_t n);

#endif

/* cdc.c — FastCDC (Xia et al., USENIX ATC 2016): a gear rolling hash, a
 * stricter mask before the average size and a looser one after it, which
 * narrows the spread of chunk sizes around the average. */
#include "cdc.h"

/* Masks on the high bits, where the gear hash mixes best. */
#define MASK_S (((1ull << 17) - 1) << 47) /* 17 bits: below the average */
#define MASK_L (((1ull << 13) - 1) << 51) /* 13 bits: above it */

void eng_cdc_init(eng_cdc *c)
{
	uint64_t x = 0x6c696665626f6174ull; /* fixed: cut points must be the same everywhere */
	for (int i = 0; i < 256; i++) {
		x += 0x9E3779B97F4A7C15ull;
		uint64_t z = x;
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
		c->gear[i] = z ^ (z >> 31);
	}
}

size_t eng_cdc_cut(const eng_cdc *c, const uint8_t *data, size_t len, int final)
{
	if (len <= ENG_CDC_MIN)
		return final ? len : 0;
	size_t n = len < ENG_CDC_MAX ? len : ENG_CDC_MAX;
	size_t normal = n < ENG_CDC_AVG ? n : ENG_CDC_AVG;
	uint64_t h = 0;
	size_t i = ENG_CDC_MIN;
	for (; i < normal; i++) {
		h = (h << 1) + c->gear[data[i]];
		if (!(h & MASK_S))
			return i + 1;
	}
	for (; i < n; i++) {
		h = (h << 1) + c->gear[data[i]];
		if (!(h & MASK_L))
			return i + 1;
	}
	if (n == ENG_CDC_MAX || final)
		return n;
	return 0;
}

/* cdc.h — content-defined chunking (FastCDC with normalized chunking), so
 * an insert in the middle of a file moves only the chunk boundaries near
 * it. Chunks are at least ENG_CDC_MIN and at most ENG_CDC_MAX bytes, about
 * ENG_CDC_AVG on average. The cut points depend only on the bytes, never on
 * the store or the key. */
#ifndef ENG_CDC_H
#define ENG_CDC_H

#include <stddef.h>
#include <stdint.h>

#define ENG_CDC_MIN (8u << 10)
#define ENG_CDC_AVG (32u << 10)
#define ENG_CDC_MAX (128u << 10)

typedef struct eng_cdc {
	uint64_t gear[256];
} eng_cdc;

void eng_cdc_init(eng_cdc *c);
/* Length of the first chunk of data[0..len): the whole of it when len is
 * at most ENG_CDC_MIN; never more than ENG_CDC_MAX. When len < ENG_CDC_MAX
 * and more data follows, the caller must not treat a cut at len as final:
 * pass final = 0 and the function returns 0 if it found no cut. */
size_t eng_cdc_cut(const eng_cdc *c, const uint8_t *data, size_t len, int final);

#endif

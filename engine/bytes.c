/* bytes.c — hex encoding and growing buffers. */
#include "bytes.h"

#include <stdlib.h>
#include <string.h>

void eng_hex(const uint8_t *bin, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[bin[i] >> 4];
		out[2 * i + 1] = digits[bin[i] & 15];
	}
	out[2 * n] = 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

bool eng_unhex(const char *hex, uint8_t *bin, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(hex[2 * i]), lo = hi < 0 ? -1 : hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		bin[i] = (uint8_t)(hi << 4 | lo);
	}
	return hex[2 * n] == 0;
}

bool eng_reserve(void *bufp, size_t *cap, size_t need, size_t first)
{
	if (need <= *cap)
		return true;
	size_t c = *cap ? *cap : first;
	while (c < need)
		c *= 2;
	void *buf;
	memcpy(&buf, bufp, sizeof(buf));
	void *p = realloc(buf, c);
	if (!p)
		return false;
	memcpy(bufp, &p, sizeof(p));
	*cap = c;
	return true;
}

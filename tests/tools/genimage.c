/* genimage — deterministic test and benchmark images.
 *
 *   genimage create FILE SIZE [SEED]    a disk-like image in 1 MiB extents:
 *                                       ~25% zero (left as holes), ~40% text-like,
 *                                       ~35% random
 *   genimage mutate FILE PERCENT [SEED] overwrite PERCENT% of FILE with random
 *                                       data in 4 KiB writes at random 4 KiB-aligned offsets
 *
 * The same SIZE and SEED always give the same bytes. SIZE takes K/M/G. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXTENT (1u << 20)

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static void seed(uint64_t s)
{
	rng_state = s * 0x9E3779B97F4A7C15ULL + 0x1234567;
	if (!rng_state)
		rng_state = 1;
	for (int i = 0; i < 8; i++)
		rnd();
}

static void fill_random(uint8_t *p, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t v = rnd();
		memcpy(p + i, &v, 8);
	}
	for (; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static char words[256][12];
static uint64_t clock_ms = 1795000000000ull;

static void make_words(void)
{
	for (int i = 0; i < 256; i++) {
		int len = 3 + (int)(rnd() % 8);
		for (int k = 0; k < len; k++)
			words[i][k] = (char)('a' + rnd() % 26);
		words[i][len] = 0;
	}
}

/* Log-like lines: a timestamp, a level, a component and a few words drawn
 * with a skew towards common ones, as application logs and text files are. */
static void fill_text(uint8_t *p, size_t n)
{
	static const char *levels[] = { "INFO", "INFO", "INFO", "DEBUG", "DEBUG", "WARN", "ERROR", "INFO" };
	char line[256];
	size_t i = 0;
	while (i < n) {
		uint64_t r = rnd();
		clock_ms += r % 97;
		int len = snprintf(line, sizeof(line), "%llu.%03llu %s [%s-%llu] %s %s %s id=%llu status=%d\n",
				   (unsigned long long)(clock_ms / 1000), (unsigned long long)(clock_ms % 1000),
				   levels[r & 7], words[(r >> 3) & 15], (unsigned long long)((r >> 7) & 7),
				   words[(r >> 10) & 63], words[(r >> 16) & 255], words[((r >> 24) & 255) & ((r >> 32) & 255)],
				   (unsigned long long)((r >> 40) % 100000), (r >> 60) ? 200 : 500);
		for (int k = 0; k < len && i < n; k++)
			p[i++] = (uint8_t)line[k];
	}
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	uint64_t mul = 1;
	if (*end == 'K' || *end == 'k') mul = 1ull << 10;
	else if (*end == 'M' || *end == 'm') mul = 1ull << 20;
	else if (*end == 'G' || *end == 'g') mul = 1ull << 30;
	else if (*end) return -1;
	*out = v * mul;
	return 0;
}

static int create(const char *path, uint64_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
		perror(path);
		return 1;
	}
	uint8_t *buf = malloc(EXTENT);
	make_words();
	for (uint64_t off = 0; off < size; off += EXTENT) {
		size_t n = size - off < EXTENT ? (size_t)(size - off) : EXTENT;
		unsigned kind = (unsigned)(rnd() % 100);
		if (kind < 25)
			continue; /* zero extent: a hole */
		if (kind < 65)
			fill_text(buf, n);
		else
			fill_random(buf, n);
		if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n) {
			perror(path);
			return 1;
		}
	}
	free(buf);
	return close(fd) ? 1 : 0;
}

static int mutate(const char *path, double percent)
{
	int fd = open(path, O_WRONLY);
	off_t size = fd < 0 ? -1 : lseek(fd, 0, SEEK_END);
	if (fd < 0 || size < 4096) {
		fprintf(stderr, "%s: cannot open or too small\n", path);
		return 1;
	}
	uint64_t writes = (uint64_t)((double)size * percent / 100.0 / 4096.0);
	uint64_t slots = (uint64_t)size / 4096;
	uint8_t buf[4096];
	for (uint64_t i = 0; i < writes; i++) {
		fill_random(buf, sizeof(buf));
		off_t off = (off_t)((rnd() % slots) * 4096);
		if (pwrite(fd, buf, sizeof(buf), off) != (ssize_t)sizeof(buf)) {
			perror(path);
			return 1;
		}
	}
	printf("%llu\n", (unsigned long long)writes * 4096);
	return close(fd) ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: genimage create FILE SIZE [SEED] | genimage mutate FILE PERCENT [SEED]\n");
		return 2;
	}
	seed(argc == 5 ? strtoull(argv[4], NULL, 10) : 1);
	if (!strcmp(argv[1], "create")) {
		uint64_t size;
		if (parse_size(argv[3], &size)) {
			fprintf(stderr, "bad size %s\n", argv[3]);
			return 2;
		}
		return create(argv[2], size);
	}
	if (!strcmp(argv[1], "mutate"))
		return mutate(argv[2], atof(argv[3]));
	fprintf(stderr, "unknown mode %s\n", argv[1]);
	return 2;
}

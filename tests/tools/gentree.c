/* gentree — deterministic test and benchmark folder trees.
 *
 *   gentree create DIR NFILES [SEED]   NFILES files in nested folders (about 40
 *                                      per folder, three levels): 60% of 0.1-4 KiB,
 *                                      30% of 4-32 KiB, 9.8% of 64-256 KiB, 0.2% of
 *                                      1-4 MiB; log-like text or random bytes; one
 *                                      file in ten is a copy of an earlier one
 *   gentree touch DIR PERCENT [SEED]   rewrite a few bytes in PERCENT% of the
 *                                      regular files (every file has its turn)
 *
 * The same arguments always give the same tree. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t state;

static uint64_t rnd(void)
{
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return state * 0x2545F4914F6CDD1DULL;
}

static void fill(uint8_t *p, size_t n, int text)
{
	static const char *words[] = { "GET", "POST", "/api/v1/bookings", "/static/app.js", "200", "404", "user",
				       "session", "cache", "hit", "miss", "db", "query", "ms", "INFO", "WARN" };
	size_t i = 0;
	if (!text) {
		for (; i + 8 <= n; i += 8) {
			uint64_t v = rnd();
			memcpy(p + i, &v, 8);
		}
		for (; i < n; i++)
			p[i] = (uint8_t)rnd();
		return;
	}
	while (i < n) {
		uint64_t r = rnd();
		char line[160];
		int len = snprintf(line, sizeof(line), "%llu %s %s %s id=%llu\n", (unsigned long long)(r >> 40),
				   words[r & 15], words[(r >> 4) & 15], words[(r >> 8) & 15],
				   (unsigned long long)((r >> 12) % 100000));
		for (int k = 0; k < len && i < n; k++)
			p[i++] = (uint8_t)line[k];
	}
}

static size_t pick_size(void)
{
	uint64_t r = rnd() % 1000;
	if (r < 600) return 100 + rnd() % 4000;
	if (r < 900) return 4096 + rnd() % (28 * 1024);
	if (r < 998) return 65536 + rnd() % (192 * 1024);
	return (1u << 20) + rnd() % (3u << 20);
}

static int create(const char *root, long nfiles)
{
	char path[4096];
	uint8_t *buf = malloc(4u << 20);
	long per_dir = 40, dirs = (nfiles + per_dir - 1) / per_dir;
	char (*names)[4200] = calloc((size_t)nfiles, 4200);
	size_t *sizes = calloc((size_t)nfiles, sizeof(size_t));
	if (mkdir(root, 0755) != 0) {
		perror(root);
		return 1;
	}
	for (long d = 0; d < dirs; d++) {
		snprintf(path, sizeof(path), "%s/d%02ld", root, d % 16);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/d%02ld/s%03ld", root, d % 16, d / 16 % 32);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/d%02ld/s%03ld/leaf%ld", root, d % 16, d / 16 % 32, d);
		mkdir(path, 0755);
		for (long f = d * per_dir; f < (d + 1) * per_dir && f < nfiles; f++) {
			snprintf(names[f], 4200, "%s/file-%06ld.%s", path, f, f % 3 ? "log" : "dat");
			size_t size;
			if (f > 10 && rnd() % 10 == 0) { /* a duplicate of an earlier file */
				long src = (long)(rnd() % (uint64_t)f);
				FILE *in = fopen(names[src], "rb");
				size = in ? fread(buf, 1, 4u << 20, in) : 0;
				if (in)
					fclose(in);
			} else {
				size = pick_size();
				fill(buf, size, rnd() % 3 != 0);
			}
			sizes[f] = size;
			int fd = open(names[f], O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd < 0 || write(fd, buf, size) != (ssize_t)size) {
				perror(names[f]);
				return 1;
			}
			close(fd);
		}
	}
	free(buf);
	free(names);
	free(sizes);
	return 0;
}

static long touched, seen;
static double share;

static void touch_walk(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		struct stat st;
		if (lstat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			touch_walk(path);
		} else if (S_ISREG(st.st_mode)) {
			seen++;
			if ((double)(rnd() % 1000000) / 10000.0 >= share)
				continue;
			int fd = open(path, O_WRONLY);
			char mark[32];
			int n = snprintf(mark, sizeof(mark), "edit %llu", (unsigned long long)rnd());
			if (fd >= 0) {
				if (pwrite(fd, mark, (size_t)n, st.st_size > n ? (off_t)(rnd() % (uint64_t)(st.st_size - n)) : 0) == n)
					touched++;
				close(fd);
			}
		}
	}
	closedir(d);
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: gentree create DIR NFILES [SEED] | gentree touch DIR PERCENT [SEED]\n");
		return 2;
	}
	state = (argc == 5 ? strtoull(argv[4], NULL, 10) : 1) * 0x9E3779B97F4A7C15ULL + 77;
	for (int i = 0; i < 8; i++)
		rnd();
	if (!strcmp(argv[1], "create"))
		return create(argv[2], atol(argv[3]));
	if (!strcmp(argv[1], "touch")) {
		share = atof(argv[3]);
		touch_walk(argv[2]);
		printf("%ld of %ld files touched\n", touched, seen);
		return 0;
	}
	return 2;
}

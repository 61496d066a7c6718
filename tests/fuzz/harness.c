/* harness.c — the pieces the fuzz targets share (see harness.h). */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

eng_keys fuzz_keys(bool keyed)
{
	eng_keys k = { .encrypted = keyed };
	if (keyed)
		for (int i = 0; i < ENG_KEY_LEN; i++) {
			k.enc_key[i] = (uint8_t)(0x10 + i);
			k.mac_key[i] = (uint8_t)(0x80 + i);
		}
	return k;
}

static char scratch[64];

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	remove(path);
	return 0;
}

void fuzz_rmtree(const char *path)
{
	nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void remove_scratch(void)
{
	fuzz_rmtree(scratch);
}

_Noreturn void fuzz_die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "fuzz: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

/* A crash ends a fuzzer without atexit: removes the folders of processes
 * that are gone. */
static void remove_stale(const char *tmp)
{
	DIR *d = opendir(tmp);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		int pid;
		char path[sizeof(scratch)];
		if (sscanf(de->d_name, "lifeboat-fuzz-%d", &pid) == 1 && pid > 0 && kill(pid, 0) != 0 && errno == ESRCH &&
		    snprintf(path, sizeof(path), "%s/%s", tmp, de->d_name) < (int)sizeof(path))
			fuzz_rmtree(path);
	}
	if (d)
		closedir(d);
}

const char *fuzz_scratch(void)
{
	if (!scratch[0]) {
		/* memory-backed when it can be: a target writes files on every input */
		const char *tmp = getenv("TMPDIR");
		if (!tmp || !*tmp || strlen(tmp) > 40)
			tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
		remove_stale(tmp);
		snprintf(scratch, sizeof(scratch), "%s/lifeboat-fuzz-%d", tmp, (int)getpid());
		if (mkdir(scratch, 0700) != 0)
			fuzz_die("cannot create %s: %s", scratch, strerror(errno));
		atexit(remove_scratch);
	}
	return scratch;
}

eng_store *fuzz_store(void)
{
	static eng_store *s;
	if (!s) {
		char url[128];
		eng_err e;
		snprintf(url, sizeof(url), "%s/store", fuzz_scratch());
		if (eng_store_init(url, NULL, &e) || eng_store_open(url, NULL, &s, &e))
			fuzz_die("cannot make a store: %s", e.msg);
	}
	return s;
}

void fuzz_write(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || (len && write(fd, data, len) != (ssize_t)len) || close(fd) != 0)
		fuzz_die("cannot write %s", path);
}

/* tree_changed.c — the changed folders a tree sync is told about. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tree_changed.h"

#define MAX_FILE (64u << 20)

static int read_all(const char *file, char **out, size_t *len)
{
	FILE *f = fopen(file, "rbe");
	if (!f)
		return -1;
	char *buf = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (n == cap) {
			cap = cap ? 2 * cap : 4096;
			char *v = cap <= MAX_FILE ? realloc(buf, cap) : NULL;
			if (!v) {
				free(buf);
				fclose(f);
				errno = cap > MAX_FILE ? EFBIG : ENOMEM;
				return -1;
			}
			buf = v;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		errno = EIO;
		return -1;
	}
	*out = buf;
	*len = n;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool relative_ok(const char *p)
{
	if (!*p || *p == '/')
		return false;
	for (const char *s = p;;) {
		const char *e = strchr(s, '/');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		if (len == 0 || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		if (!e)
			return true;
		s = e + 1;
	}
}

int eng_changed_dirs_load(const char *file, eng_changed_dirs *c, eng_err *err)
{
	memset(c, 0, sizeof(*c));
	char *buf;
	size_t len;
	if (read_all(file, &buf, &len) != 0)
		return eng_fail(err, ENG_EINPUT, "cannot read the changed folders %s: %s", file, strerror(errno));
	if (len && buf[len - 1] != 0) {
		free(buf);
		return eng_fail(err, ENG_EINPUT, "%s: the last folder is not ended by a NUL byte", file);
	}
	size_t count = 0;
	for (size_t i = 0; i < len; i++)
		count += buf[i] == 0;
	c->v = calloc(count ? count : 1, sizeof(*c->v));
	int rc = c->v ? ENG_OK : eng_fail(err, ENG_ENOMEM, "out of memory");
	for (size_t pos = 0; !rc && pos < len;) {
		const char *p = buf + pos;
		size_t plen = strlen(p);
		pos += plen + 1;
		if (plen >= PATH_MAX || (strcmp(p, ".") && !relative_ok(p))) {
			rc = eng_fail(err, ENG_EINPUT, "%s: folder %zu is not a path inside the tree", file, c->n + 1);
			break;
		}
		if (!(c->v[c->n] = strdup(strcmp(p, ".") ? p : "")))
			rc = eng_fail(err, ENG_ENOMEM, "out of memory");
		else
			c->n++;
	}
	free(buf);
	if (rc) {
		eng_changed_dirs_free(c);
		return rc;
	}
	qsort(c->v, c->n, sizeof(*c->v), cmp_str);
	return ENG_OK;
}

void eng_changed_dirs_free(eng_changed_dirs *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i]);
	free(c->v);
	memset(c, 0, sizeof(*c));
}

/* The first index whose path is not less than key. */
static size_t lower_bound(const eng_changed_dirs *c, const char *key)
{
	size_t lo = 0, hi = c->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(c->v[mid], key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool eng_changed_dirs_reach(const eng_changed_dirs *c, const char *path)
{
	if (!*path)
		return c->n > 0;
	size_t i = lower_bound(c, path);
	if (i < c->n && !strcmp(c->v[i], path))
		return true;
	/* a folder below: the first path from PATH/ on starts with it */
	size_t len = strlen(path);
	char key[PATH_MAX + 1];
	if (len + 2 > sizeof(key))
		return true;
	memcpy(key, path, len);
	key[len] = '/';
	key[len + 1] = 0;
	i = lower_bound(c, key);
	return i < c->n && !strncmp(c->v[i], key, len + 1);
}

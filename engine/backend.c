/* backend.c — helpers over any backend. */
#include "backend.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

int eng_backend_get_all(eng_backend *b, const char *name, size_t max, uint8_t **data, size_t *len,
			eng_err *err)
{
	uint64_t size;
	int rc = b->ops->size(b, name, &size, err);
	if (rc)
		return rc;
	if (size > max)
		return eng_fail(err, ENG_ECORRUPT, "%s in store %s is too large (%llu bytes)", name, b->where,
				(unsigned long long)size);
	uint8_t *p = malloc(size ? size : 1);
	if (!p)
		return eng_fail(err, ENG_ENOMEM, "out of memory reading %s", name);
	rc = b->ops->get(b, name, 0, p, size, err);
	if (rc) {
		free(p);
		return rc;
	}
	*data = p;
	*len = size;
	return ENG_OK;
}

struct name_list {
	char **v;
	size_t n, cap;
	bool skip_tmp;
};

/* A temporary object is one whose last name component ends in ".tmp";
 * ".tmp" elsewhere (a machine named "db.tmp") is part of a real name. */
static bool is_tmp_name(const char *name)
{
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	size_t n = strlen(base);
	return n >= 4 && strcmp(base + n - 4, ".tmp") == 0;
}

static int add_name(void *ctx, const char *name, uint64_t size)
{
	(void)size;
	struct name_list *l = ctx;
	if (l->skip_tmp && is_tmp_name(name))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		char **v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return ENG_ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	if (!(l->v[l->n] = strdup(name)))
		return ENG_ENOMEM;
	l->n++;
	return 0;
}

static int list_names(eng_backend *b, const char *prefix, bool skip_tmp, char ***names, size_t *n, eng_err *err)
{
	struct name_list l = { .skip_tmp = skip_tmp };
	int rc = b->ops->list(b, prefix, add_name, &l, err);
	if (rc == ENG_ENOMEM)
		rc = eng_fail(err, ENG_ENOMEM, "out of memory listing %s", prefix);
	if (rc) {
		eng_names_free(l.v, l.n);
		return rc;
	}
	*names = l.v;
	*n = l.n;
	return ENG_OK;
}

int eng_backend_names(eng_backend *b, const char *prefix, char ***names, size_t *n, eng_err *err)
{
	return list_names(b, prefix, true, names, n, err);
}

int eng_backend_all_names(eng_backend *b, const char *prefix, char ***names, size_t *n, eng_err *err)
{
	return list_names(b, prefix, false, names, n, err);
}

void eng_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

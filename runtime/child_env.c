/* child_env.c — the environment of every process lifeboat starts (exec
 * steps, health checks, machine commands, its own store commands): a short
 * allow-list of this process's variables, plus what the caller asks for.
 * Secrets (LIFEBOAT_SECRET_*, LIFEBOAT_PASSPHRASE, key and secrets files)
 * and store credentials (AWS_*, AZURE_STORAGE_*, LIFEBOAT_SSH_KEY) are
 * never in the base: a child gets them only when a step names them. */
#include <lauxlib.h>
#include <lua.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child_env.h"

extern char **environ;

static const char *const allowed[] = {
	"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TERM", "TMPDIR", NULL,
};

static bool in_base(const char *entry, size_t name_len)
{
	if (name_len > 3 && strncmp(entry, "LC_", 3) == 0)
		return true;
	for (const char *const *a = allowed; *a; a++)
		if (strlen(*a) == name_len && strncmp(entry, *a, name_len) == 0)
			return true;
	return false;
}

void rt_env_check(lua_State *L, int idx, const char *who)
{
	if (idx == 0 || lua_isnoneornil(L, idx))
		return;
	if (!lua_istable(L, idx))
		luaL_error(L, "%s: env must be a table of NAME = value", who);
	idx = lua_absindex(L, idx);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		size_t klen, vlen = 0;
		const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &klen) : NULL;
		if (!k || klen == 0 || strlen(k) != klen || strchr(k, '='))
			luaL_error(L, "%s: env names must be non-empty strings without '='", who);
		int type = lua_type(L, -1);
		if (type == LUA_TSTRING) {
			const char *v = lua_tolstring(L, -1, &vlen);
			if (strlen(v) != vlen)
				luaL_error(L, "%s: env value of %s holds a NUL byte", who, k);
		} else if (type != LUA_TNUMBER && type != LUA_TBOOLEAN) {
			luaL_error(L, "%s: env value of %s must be a string, a number, true (pass it on) or false (leave it out)",
				   who, k);
		}
		lua_pop(L, 1);
	}
}

/* Appends NAME=VALUE (name_len bytes of name) to v at *k. */
static bool put(char **v, size_t *k, const char *name, size_t name_len, const char *value)
{
	size_t len = name_len + strlen(value) + 2;
	char *e = malloc(len);
	if (!e)
		return false;
	snprintf(e, len, "%.*s=%s", (int)name_len, name, value);
	v[(*k)++] = e;
	return true;
}

char **rt_child_env(lua_State *L, int idx)
{
	bool have = idx != 0 && lua_istable(L, idx);
	if (have)
		idx = lua_absindex(L, idx);
	size_t n = 0;
	for (char **e = environ; *e; e++)
		n++;
	if (have) {
		lua_pushnil(L);
		while (lua_next(L, idx)) {
			n++;
			lua_pop(L, 1);
		}
	}
	char **v = calloc(n + 1, sizeof(char *));
	if (!v)
		return NULL;
	size_t k = 0;
	for (char **e = environ; *e; e++) {
		const char *eq = strchr(*e, '=');
		if (!eq || !in_base(*e, (size_t)(eq - *e)))
			continue;
		if (have) { /* the caller's entry for this name wins */
			lua_pushlstring(L, *e, (size_t)(eq - *e));
			bool overridden = lua_rawget(L, idx) != LUA_TNIL;
			lua_pop(L, 1);
			if (overridden)
				continue;
		}
		if (!put(v, &k, *e, (size_t)(eq - *e), eq + 1))
			goto oom;
	}
	if (have) {
		lua_pushnil(L);
		while (lua_next(L, idx)) {
			const char *name = lua_tostring(L, -2);
			const char *value = NULL;
			if (lua_type(L, -1) == LUA_TBOOLEAN)
				value = lua_toboolean(L, -1) ? getenv(name) : NULL; /* true: pass this process's value on */
			else
				value = lua_tostring(L, -1); /* a number becomes a string in place: values only, never keys */
			if (value && !put(v, &k, name, strlen(name), value)) {
				lua_pop(L, 2);
				goto oom;
			}
			lua_pop(L, 1);
		}
	}
	v[k] = NULL;
	return v;
oom:
	rt_free_env(v);
	return NULL;
}

void rt_free_env(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

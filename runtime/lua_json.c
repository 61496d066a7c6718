/* lua_json.c — core.json_encode(VALUE [, pretty]) and core.json_decode(TEXT)
 * with cJSON. Object keys are written sorted so reports and journals are
 * stable; JSON null decodes to core.null (a light userdata). A table is an
 * array when its keys are exactly 1..n (an empty table is an object unless
 * its metatable has __jsontype = "array"); other tables are objects, and
 * their keys that are not strings are left out. */
#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "luacore.h"

#define MAX_DEPTH 100

static int is_array(lua_State *L, int idx, size_t *n)
{
	size_t count = 0;
	lua_Integer max = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1) {
			lua_pop(L, 1);
			return 0;
		}
		lua_Integer k = lua_tointeger(L, -1);
		if (k > max)
			max = k;
		count++;
	}
	*n = count;
	if (count == 0) {
		int array = 0;
		if (luaL_getmetafield(L, idx, "__jsontype") != LUA_TNIL) {
			array = strcmp(lua_tostring(L, -1) ? lua_tostring(L, -1) : "", "array") == 0;
			lua_pop(L, 1);
		}
		return array;
	}
	return (size_t)max == count;
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static cJSON *encode(lua_State *L, int idx, int depth, const char **err)
{
	switch (lua_type(L, idx)) {
	case LUA_TNIL:
		return cJSON_CreateNull();
	case LUA_TBOOLEAN:
		return cJSON_CreateBool(lua_toboolean(L, idx));
	case LUA_TNUMBER: {
		double d = lua_tonumber(L, idx);
		return isfinite(d) ? cJSON_CreateNumber(d) : cJSON_CreateNull();
	}
	case LUA_TSTRING:
		return cJSON_CreateString(lua_tostring(L, idx));
	case LUA_TLIGHTUSERDATA:
		if (lua_touserdata(L, idx) == NULL)
			return cJSON_CreateNull();
		break;
	case LUA_TTABLE: {
		if (depth > MAX_DEPTH) {
			*err = "nested too deeply (a cycle?)";
			return NULL;
		}
		luaL_checkstack(L, 6, "json");
		idx = lua_absindex(L, idx);
		size_t n;
		if (is_array(L, idx, &n)) {
			cJSON *arr = cJSON_CreateArray();
			for (size_t i = 1; i <= n; i++) {
				lua_rawgeti(L, idx, (lua_Integer)i);
				cJSON *item = encode(L, -1, depth + 1, err);
				lua_pop(L, 1);
				if (!item) {
					cJSON_Delete(arr);
					return NULL;
				}
				cJSON_AddItemToArray(arr, item);
			}
			return arr;
		}
		size_t count = 0, cap = 16;
		const char **keys = malloc(cap * sizeof(*keys));
		lua_pushnil(L);
		while (keys && lua_next(L, idx)) {
			lua_pop(L, 1);
			if (count == cap) {
				cap *= 2;
				const char **nk = realloc(keys, cap * sizeof(*keys));
				if (!nk) {
					free(keys);
					keys = NULL;
					lua_pop(L, 1);
					break;
				}
				keys = nk;
			}
			if (lua_type(L, -1) == LUA_TSTRING)
				keys[count++] = lua_tostring(L, -1);
		}
		if (!keys) {
			*err = "out of memory";
			return NULL;
		}
		qsort(keys, count, sizeof(*keys), cmp_keys);
		cJSON *obj = cJSON_CreateObject();
		for (size_t i = 0; i < count; i++) {
			lua_getfield(L, idx, keys[i]);
			cJSON *item = encode(L, -1, depth + 1, err);
			lua_pop(L, 1);
			if (!item) {
				free(keys);
				cJSON_Delete(obj);
				return NULL;
			}
			cJSON_AddItemToObject(obj, keys[i], item);
		}
		free(keys);
		return obj;
	}
	default:
		break;
	}
	*err = "cannot encode a function, thread or userdata as JSON";
	return NULL;
}

int core_json_encode(lua_State *L)
{
	const char *err = NULL;
	luaL_checkany(L, 1);
	cJSON *j = encode(L, 1, 0, &err);
	if (!j)
		return luaL_error(L, "json: %s", err);
	char *s = lua_toboolean(L, 2) ? cJSON_Print(j) : cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (!s)
		return luaL_error(L, "json: out of memory");
	lua_pushstring(L, s);
	cJSON_free(s);
	return 1;
}

static void decode(lua_State *L, const cJSON *j)
{
	luaL_checkstack(L, 4, "json");
	if (cJSON_IsNull(j)) {
		lua_pushlightuserdata(L, NULL);
	} else if (cJSON_IsBool(j)) {
		lua_pushboolean(L, cJSON_IsTrue(j));
	} else if (cJSON_IsNumber(j)) {
		double d = j->valuedouble;
		if (d == floor(d) && fabs(d) < 9007199254740992.0)
			lua_pushinteger(L, (lua_Integer)d);
		else
			lua_pushnumber(L, d);
	} else if (cJSON_IsString(j)) {
		lua_pushstring(L, j->valuestring);
	} else if (cJSON_IsArray(j)) {
		lua_newtable(L);
		lua_Integer i = 1;
		for (const cJSON *c = j->child; c; c = c->next) {
			decode(L, c);
			lua_rawseti(L, -2, i++);
		}
	} else {
		lua_newtable(L);
		for (const cJSON *c = j->child; c; c = c->next) {
			decode(L, c);
			lua_setfield(L, -2, c->string);
		}
	}
}

int core_json_decode(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(s, len, &end, 0);
	while (j && end < s + len && (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
		end++;
	if (j && end != s + len) {
		cJSON_Delete(j);
		lua_pushnil(L);
		lua_pushfstring(L, "invalid JSON: trailing text at byte %d", (int)(end - s) + 1);
		return 2;
	}
	if (!j) {
		const char *at = cJSON_GetErrorPtr();
		lua_pushnil(L);
		lua_pushfstring(L, "invalid JSON at byte %d", at ? (int)(at - s) + 1 : 1);
		return 2;
	}
	decode(L, j);
	cJSON_Delete(j);
	return 1;
}

/* core.json_set(TEXT, {SEGMENTS}, VALUE_JSON) -> new text | nil, err: sets
 * the value at a path (strings are object keys, integers 0-based array
 * indexes) keeping the order of every other key. The path must exist. */
int core_json_set(lua_State *L)
{
	size_t len;
	const char *text = luaL_checklstring(L, 1, &len);
	luaL_checktype(L, 2, LUA_TTABLE);
	const char *value = luaL_checkstring(L, 3);
	cJSON *root = cJSON_ParseWithLength(text, len);
	if (!root) {
		lua_pushnil(L);
		lua_pushstring(L, "not valid JSON");
		return 2;
	}
	cJSON *item = cJSON_Parse(value);
	lua_Integer n = (lua_Integer)lua_rawlen(L, 2);
	cJSON *parent = NULL, *cur = root;
	const char *missing = NULL;
	for (lua_Integer i = 1; i <= n && cur; i++) {
		parent = cur;
		lua_rawgeti(L, 2, i);
		if (lua_isinteger(L, -1)) {
			cur = cJSON_IsArray(parent) ? cJSON_GetArrayItem(parent, (int)lua_tointeger(L, -1)) : NULL;
		} else {
			cur = cJSON_IsObject(parent) ? cJSON_GetObjectItemCaseSensitive(parent, lua_tostring(L, -1)) : NULL;
		}
		if (!cur)
			missing = "the path selects nothing";
		if (i == n && cur && item) {
			if (lua_isinteger(L, -1))
				cJSON_ReplaceItemInArray(parent, (int)lua_tointeger(L, -1), item);
			else
				cJSON_ReplaceItemInObjectCaseSensitive(parent, lua_tostring(L, -1), item);
			item = NULL;
		}
		lua_pop(L, 1);
	}
	if (missing || item || n == 0) {
		cJSON_Delete(item);
		cJSON_Delete(root);
		lua_pushnil(L);
		lua_pushstring(L, missing ? missing : "empty path or bad value");
		return 2;
	}
	char *out = cJSON_Print(root);
	cJSON_Delete(root);
	if (!out)
		return luaL_error(L, "json: out of memory");
	lua_pushstring(L, out);
	lua_pushliteral(L, "\n");
	lua_concat(L, 2);
	cJSON_free(out);
	return 1;
}

/* fuzz_yaml — the YAML loader: runtime/yaml_load.c core.yaml_load(TEXT) in
 * a fresh Lua state per input. It must return a node tree, or nil and
 * {line, col, msg}; raising a Lua error is a finding (the plan checker
 * would report an internal error instead of a YAML problem). */
#include <lauxlib.h>
#include <lua.h>

#include "harness.h"
#include "luacore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lua_State *L = luaL_newstate();
	if (!L)
		fuzz_die("out of memory");
	lua_pushcfunction(L, core_yaml_load);
	lua_pushlstring(L, (const char *)data, size);
	if (lua_pcall(L, 1, 2, 0) != LUA_OK)
		fuzz_die("core.yaml_load raised: %s", lua_tostring(L, -1));
	if (lua_isnil(L, -2) && !lua_isnil(L, -1)) {
		/* a syntax error: it says where */
		lua_getfield(L, -1, "line");
		lua_getfield(L, -2, "col");
		lua_getfield(L, -3, "msg");
		if (!lua_isinteger(L, -3) || !lua_isinteger(L, -2) || !lua_isstring(L, -1))
			fuzz_die("core.yaml_load failed without line, col and msg");
	}
	lua_close(L);
	return 0;
}

/* lua_host.c — runs a stdlib command: a Lua state with the safe standard
 * libraries (no io, no debug, no package), the core table, and the boot
 * module that loads the rest of stdlib and dispatches the command. A
 * watchdog ends the process (exit 130) if Lua stops responding to Ctrl-C
 * or SIGTERM; the state's memory is bounded (LIFEBOAT_LUA_MEMORY, default
 * 1 GiB), so plan code that allocates without end fails its step instead
 * of taking the host's memory. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "luacore.h"
#include "tasks.h"
#include "watchdog.h"

struct lua_budget {
	size_t used, limit;
};

static void *budget_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct lua_budget *b = ud;
	size_t old = ptr ? osize : 0;
	if (nsize == 0) {
		free(ptr);
		b->used -= old;
		return NULL;
	}
	if (nsize > old && b->used - old + nsize > b->limit)
		return NULL; /* Lua collects garbage and tries again, then raises "not enough memory" */
	void *p = realloc(ptr, nsize);
	if (p)
		b->used = b->used - old + nsize;
	return p;
}

static int panic(lua_State *L)
{
	fprintf(stderr, "lifeboat: internal error: %s\n", lua_tostring(L, -1));
	return 0;
}

static int traceback(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);
	if (getenv("LIFEBOAT_DEBUG"))
		luaL_traceback(L, L, msg, 1);
	else
		lua_pushstring(L, msg ? msg : "(error object is not a string)");
	return 1;
}

static int run_command(const char *name, int argc, char **argv)
{
	struct lua_budget budget = { .limit = (size_t)1 << 30 };
	const char *limit = getenv("LIFEBOAT_LUA_MEMORY");
	uint64_t bytes;
	if (limit && *limit) {
		if (!rt_parse_size(limit, &bytes) || bytes < (16u << 20) || bytes > SIZE_MAX) {
			fprintf(stderr, "lifeboat %s: LIFEBOAT_LUA_MEMORY must be a size of at least 16M, like 512M or 2G, not '%s'\n",
				name, limit);
			return EXIT_BAD_INPUT;
		}
		budget.limit = (size_t)bytes;
	}
	lua_State *L = lua_newstate(budget_alloc, &budget);
	if (L)
		lua_atpanic(L, panic);
	if (!L) {
		fprintf(stderr, "lifeboat %s: out of memory\n", name);
		return EXIT_FAILED;
	}
	static const luaL_Reg libs[] = {
		{ LUA_GNAME, luaopen_base }, { LUA_COLIBNAME, luaopen_coroutine },
		{ LUA_TABLIBNAME, luaopen_table }, { LUA_STRLIBNAME, luaopen_string },
		{ LUA_MATHLIBNAME, luaopen_math }, { LUA_UTF8LIBNAME, luaopen_utf8 },
		{ LUA_OSLIBNAME, luaopen_os }, { NULL, NULL },
	};
	for (const luaL_Reg *lib = libs; lib->func; lib++) {
		luaL_requiref(L, lib->name, lib->func, 1);
		lua_pop(L, 1);
	}
	/* Every string shares one metatable, whose __index is the string
	 * library stdlib uses (redaction with string.find...): lock it, so
	 * getmetatable("") gives plan code nothing to change. */
	lua_pushliteral(L, "");
	lua_getmetatable(L, -1);
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 2);
	lua_pushcfunction(L, traceback);
	int msgh = lua_gettop(L);
	rt_open_core(L);
	int core = lua_gettop(L);
	int code = EXIT_FAILED;
	lua_getfield(L, core, "stdlib");
	lua_pushstring(L, "lifeboat.boot");
	lua_call(L, 1, 2);
	if (lua_isnil(L, -2)) {
		fprintf(stderr, "lifeboat %s: stdlib not found (LIFEBOAT_STDLIB=%s)\n", name,
			getenv("LIFEBOAT_STDLIB") ? getenv("LIFEBOAT_STDLIB") : "");
		lua_close(L);
		return EXIT_FAILED;
	}
	size_t len;
	const char *src = lua_tolstring(L, -2, &len);
	if (luaL_loadbufferx(L, src, len, lua_tostring(L, -1), "t") != LUA_OK) {
		fprintf(stderr, "lifeboat %s: %s\n", name, lua_tostring(L, -1));
		lua_close(L);
		return EXIT_FAILED;
	}
	lua_pushvalue(L, core);
	lua_pushstring(L, name);
	lua_createtable(L, argc, 0);
	for (int i = 1; i < argc; i++) {
		lua_pushstring(L, argv[i]);
		lua_rawseti(L, -2, i);
	}
	if (lua_pcall(L, 3, 1, msgh) != LUA_OK) {
		fprintf(stderr, "lifeboat %s: internal error: %s\n", name, lua_tostring(L, -1));
	} else {
		code = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : EXIT_FAILED;
	}
	lua_close(L);
	return code;
}

int rt_lua_command(const char *name, int argc, char **argv)
{
	rt_tasks_init();
	rt_install_signals();
	signal(SIGPIPE, SIG_IGN);
	rt_watchdog_start();
	int code = run_command(name, argc, argv);
	rt_watchdog_stop();
	return code;
}

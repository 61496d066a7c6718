/* fuzz_plan — the plan checker: the input is a plan file, checked the way
 * `lifeboat validate PLAN` checks it (core.yaml_load, then
 * stdlib/lifeboat/plan.lua and schema.lua), in this process.
 *
 * Starting the embedded stdlib costs more than checking a plan, so one Lua
 * state serves every input: it is made as runtime/lua_host.c makes one
 * (the same libraries, the core table, stdlib's boot chunk, which installs
 * stdlib's require), then each input runs the validate command of
 * stdlib/lifeboat/cli.lua on a file in the scratch folder, with --json (one
 * line on stdout, sent to a file; nothing on stderr but an internal error).
 * validate returns 0 (valid) or 2 (every problem reported); anything else
 * (1: it raised, and printed why on stderr) is a finding.
 *
 * libFuzzer sees only C coverage; a line hook adds stdlib's Lua coverage
 * (pairs of consecutive lines, hashed) as extra counters. */
#include <fcntl.h>
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <lualib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "luacore.h"
#include "tasks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LUA_EDGES (1u << 16)
__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t lua_edges[LUA_EDGES];
static uint32_t prev_line;

static void line_hook(lua_State *L, lua_Debug *ar)
{
	if (!lua_getinfo(L, "S", ar) || strncmp(ar->source, "@stdlib/", 8) != 0)
		return; /* plan code: not the checker */
	uint32_t h = 2166136261u;
	for (const char *p = ar->source; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h = (h ^ (uint32_t)ar->currentline) * 16777619u;
	lua_edges[(h ^ prev_line) % LUA_EDGES]++;
	prev_line = h >> 1;
}

static lua_State *L;
static int validate_ref; /* cli.main in the registry */

/* The state lua_host.c makes, booted with `validate --help`. */
static void start_lua(void)
{
	static const luaL_Reg libs[] = {
		{ LUA_GNAME, luaopen_base }, { LUA_COLIBNAME, luaopen_coroutine },
		{ LUA_TABLIBNAME, luaopen_table }, { LUA_STRLIBNAME, luaopen_string },
		{ LUA_MATHLIBNAME, luaopen_math }, { LUA_UTF8LIBNAME, luaopen_utf8 },
		{ LUA_OSLIBNAME, luaopen_os }, { NULL, NULL },
	};
	rt_tasks_init();
	signal(SIGPIPE, SIG_IGN);
	if (!(L = luaL_newstate()))
		fuzz_die("out of memory");
	for (const luaL_Reg *lib = libs; lib->func; lib++) {
		luaL_requiref(L, lib->name, lib->func, 1);
		lua_pop(L, 1);
	}
	rt_open_core(L);
	lua_getfield(L, -1, "stdlib");
	lua_pushstring(L, "lifeboat.boot");
	lua_call(L, 1, 2);
	size_t len;
	const char *src = lua_tolstring(L, -2, &len);
	if (!src || luaL_loadbufferx(L, src, len, lua_tostring(L, -1), "t") != LUA_OK)
		fuzz_die("cannot load stdlib's boot chunk");
	lua_pushvalue(L, -4);
	lua_pushstring(L, "validate");
	lua_createtable(L, 1, 0);
	lua_pushstring(L, "--help");
	lua_rawseti(L, -2, 1);
	if (lua_pcall(L, 3, 1, 0) != LUA_OK || lua_tointeger(L, -1) != 0)
		fuzz_die("stdlib's boot chunk failed: %s", lua_tostring(L, -1));
	lua_settop(L, 0);
	lua_getglobal(L, "require");
	lua_pushstring(L, "lifeboat.cli");
	lua_call(L, 1, 1);
	lua_getfield(L, -1, "main");
	validate_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_settop(L, 0);
	lua_sethook(L, line_hook, LUA_MASKLINE, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char plan[PATH_MAX], log[PATH_MAX];
	static int log_fd = -1, out_fd;
	if (log_fd < 0) {
		snprintf(plan, sizeof(plan), "%s/plan.yaml", fuzz_scratch());
		snprintf(log, sizeof(log), "%s/validate.json", fuzz_scratch());
		log_fd = open(log, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		out_fd = dup(1);
		if (log_fd < 0 || out_fd < 0)
			fuzz_die("cannot open %s", log);
	}
	fuzz_write(plan, data, size);
	fflush(stdout);
	dup2(log_fd, 1);
	if (!L)
		start_lua();
	int emptied = ftruncate(log_fd, 0) == 0 && lseek(log_fd, 0, SEEK_SET) == 0;
	prev_line = 0;
	lua_rawgeti(L, LUA_REGISTRYINDEX, validate_ref);
	lua_pushstring(L, "validate");
	lua_createtable(L, 2, 0);
	lua_pushstring(L, plan);
	lua_rawseti(L, -2, 1);
	lua_pushstring(L, "--json");
	lua_rawseti(L, -2, 2);
	int status = lua_pcall(L, 2, 1, 0);
	int code = status == LUA_OK && lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : -1;
	dup2(out_fd, 1);
	if (!emptied)
		fuzz_die("cannot reuse %s", log);
	if (code != 0 && code != 2)
		fuzz_die("validate returned %d%s%s (its message is above)", code, status != LUA_OK ? ", raising " : "",
			 status != LUA_OK ? lua_tostring(L, -1) : "");
	lua_settop(L, 0);
	/* what this input allocated is freed before libFuzzer counts leaks */
	lua_gc(L, LUA_GCCOLLECT);
	return 0;
}

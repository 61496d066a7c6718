/* luacore.c — the "core" table stdlib runs on: time, the task pool
 * (poll/cancel), background processes, the instruction-count deadline that
 * stops runaway plan code, hashing, terminal facts and the embedded stdlib. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lauxlib.h>
#include <lua.h>
#include <openssl/evp.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child_env.h"
#include "cli.h"
#include "luacore.h"
#include "tasks.h"

extern char **environ;

static int core_now(lua_State *L)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	lua_pushnumber(L, (double)tv.tv_sec + (double)tv.tv_usec / 1e6);
	return 1;
}

static int core_mono(lua_State *L)
{
	lua_pushnumber(L, rt_mono());
	return 1;
}

/* core.poll(TIMEOUT_S) -> {{ticket = N, result = R}, ...}, interrupted */
static int core_poll(lua_State *L)
{
	double timeout = luaL_optnumber(L, 1, -1);
	int ms = timeout < 0 ? -1 : (int)(timeout * 1000 + 0.5);
	/* once interrupted, the caller polls until its tasks stopped: briefly,
	 * without spinning */
	if (rt_cancel && (ms < 0 || ms > 50))
		ms = 50;
	rt_task *list = rt_tasks_wait(ms);
	lua_newtable(L);
	lua_Integer i = 1;
	while (list) {
		rt_task *t = list;
		list = t->next;
		lua_createtable(L, 0, 2);
		lua_pushinteger(L, (lua_Integer)t->ticket);
		lua_setfield(L, -2, "ticket");
		t->push(L, t);
		lua_setfield(L, -2, "result");
		lua_rawseti(L, -2, i++);
		t->destroy(t);
	}
	lua_pushboolean(L, rt_cancel);
	return 2;
}

static int core_cancel(lua_State *L)
{
	rt_task_cancel((uint64_t)luaL_checkinteger(L, 1));
	return 0;
}

static int core_pending(lua_State *L)
{
	lua_pushinteger(L, rt_tasks_pending());
	return 1;
}

static int core_interrupted(lua_State *L)
{
	lua_pushboolean(L, rt_cancel);
	return 1;
}

/* core.catch_hup(): from now on SIGHUP sets a flag instead of ending us */
static int core_catch_hup(lua_State *L)
{
	(void)L;
	rt_catch_hup();
	return 0;
}

/* core.hup() -> whether SIGHUP came since the last call */
static int core_hup(lua_State *L)
{
	lua_pushboolean(L, rt_reload);
	rt_reload = 0;
	return 1;
}

static int core_clear_interrupt(lua_State *L)
{
	(void)L;
	rt_cancel = 0;
	return 0;
}

/* The pids core.spawn started: the only ones core.alive may reap, so it
 * never takes the exit status of a process a task is waiting for. */
static pid_t *spawned;
static size_t n_spawned, cap_spawned;

static void remember_spawned(pid_t pid)
{
	if (n_spawned == cap_spawned) {
		size_t cap = cap_spawned ? cap_spawned * 2 : 16;
		pid_t *p = realloc(spawned, cap * sizeof(*p));
		if (!p)
			return; /* then it is not reaped here: a zombie until we exit */
		spawned = p;
		cap_spawned = cap;
	}
	spawned[n_spawned++] = pid;
}

static void reap_spawned(pid_t pid)
{
	for (size_t i = 0; i < n_spawned; i++)
		if (spawned[i] == pid) {
			int status;
			if (waitpid(pid, &status, WNOHANG) == pid)
				spawned[i] = spawned[--n_spawned];
			return;
		}
}

/* core.spawn{argv, cwd, log, env} -> pid | nil, err: a background process
 * in a session of its own (so it outlives us and our terminal's Ctrl-C),
 * stdin from /dev/null, stdout and stderr appended to LOG. Its environment
 * is the clean base of child_env.h plus env. */
static int core_spawn(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "argv");
	luaL_checktype(L, -1, LUA_TTABLE);
	int argc = (int)lua_rawlen(L, -1);
	if (argc < 1)
		return luaL_error(L, "spawn: empty command");
	const char **argv = lua_newuserdatauv(L, sizeof(char *) * (size_t)(argc + 1), 0);
	for (int i = 1; i <= argc; i++) {
		lua_rawgeti(L, -2, i);
		argv[i - 1] = luaL_checkstring(L, -1);
		lua_pop(L, 1); /* still referenced by the argv table */
	}
	argv[argc] = NULL;
	lua_getfield(L, 1, "log");
	const char *log = luaL_optstring(L, -1, "/dev/null");
	lua_getfield(L, 1, "cwd");
	const char *cwd = luaL_optstring(L, -1, NULL);
	lua_getfield(L, 1, "env");
	rt_env_check(L, -1, "spawn");
	char **envp = rt_child_env(L, lua_istable(L, -1) ? -1 : 0);
	if (!envp)
		return luaL_error(L, "out of memory");
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (cwd)
		posix_spawn_file_actions_addchdir_np(&fa, cwd);
	sigset_t def;
	sigemptyset(&def);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGPIPE);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF);
	pid_t pid;
	int rc = posix_spawnp(&pid, argv[0], &fa, &attr, (char *const *)argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	rt_free_env(envp);
	if (rc != 0) {
		lua_pushnil(L);
		lua_pushfstring(L, "cannot run '%s': %s", argv[0], strerror(rc));
		return 2;
	}
	remember_spawned(pid);
	lua_pushinteger(L, pid);
	return 1;
}

/* core.alive(PID) -> bool: reaps it first when core.spawn started it and
 * it exited. Never waits for anything else (PID 0 or -1 would reap any
 * child, also one a task is waiting for). */
static int core_alive(lua_State *L)
{
	lua_Integer arg = luaL_checkinteger(L, 1);
	if (arg <= 0 || arg > INT_MAX) {
		lua_pushboolean(L, 0);
		return 1;
	}
	pid_t pid = (pid_t)arg;
	reap_spawned(pid);
	bool alive = kill(pid, 0) == 0 || errno == EPERM;
	if (alive) {
		char path[64], buf[512];
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		FILE *f = fopen(path, "r");
		if (f) {
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
			buf[n] = 0;
			char *paren = strrchr(buf, ')');
			if (paren && paren[1] == ' ' && paren[2] == 'Z')
				alive = false;
		}
	}
	lua_pushboolean(L, alive);
	return 1;
}

/* core.kill(PID, "TERM"|"KILL"|"INT"|0 [, GROUP]) -> ok */
static int core_kill(lua_State *L)
{
	lua_Integer arg = luaL_checkinteger(L, 1);
	pid_t pid = arg > INT_MAX ? 0 : (pid_t)arg;
	const char *name = luaL_optstring(L, 2, "TERM");
	int sig = !strcmp(name, "KILL") ? SIGKILL : !strcmp(name, "INT") ? SIGINT : !strcmp(name, "0") ? 0 : SIGTERM;
	if (pid <= 1)
		return luaL_error(L, "kill: refusing pid %d", (int)pid);
	int rc = kill(lua_toboolean(L, 3) ? -pid : pid, sig);
	lua_pushboolean(L, rc == 0);
	return 1;
}

/* The deadline of a coroutine lives in its extra space; the count hook
 * checks it. When the deadline passed (or Ctrl-C was pressed) the hook
 * yields with no values, which the scheduler reads as "stop this step";
 * where yielding is impossible (inside table.sort's comparator, a gsub
 * callback...) it raises an error instead, and from then on at every
 * instruction: a pcall that catches it gets no instruction of its own
 * before the next one (the sandbox's pcall raises it again too). */
static const char *expired(lua_State *L)
{
	if (rt_cancel)
		return "interrupted";
	double d;
	memcpy(&d, lua_getextraspace(L), sizeof(d));
	return d > 0 && rt_mono() >= d ? "timed out" : NULL;
}

static void deadline_hook(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	const char *why = expired(L);
	if (!why)
		return;
	if (lua_isyieldable(L)) {
		lua_yield(L, 0); /* in a hook this returns; the yield happens after */
		return;
	}
	lua_sethook(L, deadline_hook, LUA_MASKCOUNT, 1);
	lua_pushstring(L, why);
	lua_error(L);
}

/* core.expired() -> "timed out" | "interrupted" | nil, for the running
 * coroutine (the main thread has no deadline, only Ctrl-C). */
static int core_expired(lua_State *L)
{
	const char *why = expired(L);
	if (why)
		lua_pushstring(L, why);
	else
		lua_pushnil(L);
	return 1;
}

/* core.set_deadline(CO, MONO_SECONDS | nil) */
static int core_set_deadline(lua_State *L)
{
	lua_State *co = lua_tothread(L, 1);
	luaL_argcheck(L, co, 1, "coroutine expected");
	double d = luaL_optnumber(L, 2, 0);
	memcpy(lua_getextraspace(co), &d, sizeof(d));
	lua_sethook(co, deadline_hook, LUA_MASKCOUNT, 1000);
	return 0;
}

static int core_sha256(lua_State *L)
{
	size_t len;
	const char *data = luaL_checklstring(L, 1, &len);
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	char hex[65];
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	lua_pushstring(L, hex);
	return 1;
}

static int core_random_hex(lua_State *L)
{
	int n = (int)luaL_optinteger(L, 1, 4);
	unsigned char b[32];
	if (n < 1 || n > 32)
		return luaL_error(L, "random_hex: 1..32 bytes");
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, b, (size_t)n) != n)
		return luaL_error(L, "cannot read /dev/urandom");
	close(fd);
	char hex[65];
	for (int i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", b[i]);
	lua_pushstring(L, hex);
	return 1;
}

/* core.parse_duration(S) -> seconds | nil: "90s", "15m", "1h30m", "2d",
 * "500ms", units largest first; the one parser of durations, shared with
 * the C commands. */
static int core_parse_duration(lua_State *L)
{
	int64_t us;
	if (lua_type(L, 1) == LUA_TSTRING && rt_parse_duration(lua_tostring(L, 1), &us)) {
		if (us % 1000000 == 0)
			lua_pushinteger(L, us / 1000000);
		else
			lua_pushnumber(L, (double)us / 1e6);
	}
	else
		lua_pushnil(L);
	return 1;
}

/* core.traceback([MSG [, LEVEL]]) -> MSG and the Lua stack from LEVEL up:
 * what LIFEBOAT_DEBUG shows, without opening the debug library. */
static int core_traceback(lua_State *L)
{
	luaL_traceback(L, L, luaL_optstring(L, 1, NULL), (int)luaL_optinteger(L, 2, 1));
	return 1;
}

static int core_isatty(lua_State *L)
{
	lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
	return 1;
}

static int core_term_width(lua_State *L)
{
	struct winsize ws;
	lua_pushinteger(L, ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col ? ws.ws_col : 80);
	return 1;
}

static int core_getenv(lua_State *L)
{
	const char *v = getenv(luaL_checkstring(L, 1));
	if (v)
		lua_pushstring(L, v);
	else
		lua_pushnil(L);
	return 1;
}

static int core_environ(lua_State *L)
{
	lua_newtable(L);
	for (char **e = environ; *e; e++) {
		const char *eq = strchr(*e, '=');
		if (!eq)
			continue;
		lua_pushlstring(L, *e, (size_t)(eq - *e));
		lua_pushstring(L, eq + 1);
		lua_rawset(L, -3);
	}
	return 1;
}

static int core_pid(lua_State *L)
{
	lua_pushinteger(L, getpid());
	return 1;
}

static int core_uid(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)getuid());
	return 1;
}

static int core_write(lua_State *L)
{
	int fd = (int)luaL_checkinteger(L, 1);
	size_t len;
	const char *s = luaL_checklstring(L, 2, &len);
	while (len > 0) {
		ssize_t n = write(fd, s, len);
		if (n <= 0 && errno != EINTR)
			break;
		if (n > 0) {
			s += n;
			len -= (size_t)n;
		}
	}
	return 0;
}

/* core.stdlib(NAME) -> source, chunkname | nil: from LIFEBOAT_STDLIB when
 * set, else the copy embedded at build time. */
static int core_stdlib(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	const char *dir = getenv("LIFEBOAT_STDLIB");
	luaL_Buffer rel;
	luaL_buffinit(L, &rel);
	for (const char *p = name; *p; p++)
		luaL_addchar(&rel, *p == '.' ? '/' : *p);
	luaL_addstring(&rel, ".lua");
	luaL_pushresult(&rel);
	const char *relpath = lua_tostring(L, -1);
	if (dir && *dir) {
		lua_pushfstring(L, "%s/%s", dir, relpath);
		FILE *f = fopen(lua_tostring(L, -1), "rb");
		if (!f)
			return 0;
		luaL_Buffer b;
		luaL_buffinit(L, &b);
		size_t n;
		do {
			char *p = luaL_prepbuffer(&b);
			n = fread(p, 1, LUAL_BUFFERSIZE, f);
			luaL_addsize(&b, n);
		} while (n > 0);
		fclose(f);
		luaL_pushresult(&b);
		lua_pushfstring(L, "@%s", lua_tostring(L, -2));
		return 2;
	}
	for (size_t i = 0; i < rt_stdlib_count; i++)
		if (!strcmp(rt_stdlib[i].name, name)) {
			lua_pushlstring(L, rt_stdlib[i].data, rt_stdlib[i].len);
			lua_pushfstring(L, "@stdlib/%s", relpath);
			return 2;
		}
	return 0;
}

/* core.self_exe() -> the path of this program, to run its own commands */
static int core_self_exe(lua_State *L)
{
	char buf[4096];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n <= 0)
		return luaL_error(L, "cannot find this program: %s", strerror(errno));
	lua_pushlstring(L, buf, (size_t)n);
	return 1;
}

/* core.stdlib_names() -> the embedded module names, sorted */
static int core_stdlib_names(lua_State *L)
{
	lua_createtable(L, (int)rt_stdlib_count, 0);
	for (size_t i = 0; i < rt_stdlib_count; i++) {
		lua_pushstring(L, rt_stdlib[i].name);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

int rt_open_core(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "now", core_now }, { "mono", core_mono }, { "poll", core_poll },
		{ "cancel", core_cancel }, { "pending", core_pending },
		{ "interrupted", core_interrupted }, { "catch_hup", core_catch_hup }, { "hup", core_hup }, { "clear_interrupt", core_clear_interrupt },
		{ "exec", core_exec }, { "http", core_http }, { "prompt", core_prompt },
		{ "spawn", core_spawn }, { "alive", core_alive }, { "kill", core_kill },
		{ "set_deadline", core_set_deadline }, { "expired", core_expired }, { "sha256", core_sha256 },
		{ "random_hex", core_random_hex }, { "isatty", core_isatty }, { "traceback", core_traceback },
		{ "parse_duration", core_parse_duration },
		{ "term_width", core_term_width }, { "getenv", core_getenv },
		{ "environ", core_environ }, { "pid", core_pid }, { "uid", core_uid }, { "write", core_write },
		{ "stdlib", core_stdlib }, { "stdlib_names", core_stdlib_names },
		{ "yaml_load", core_yaml_load }, { "xml_set", core_xml_set },
		{ "self_exe", core_self_exe }, { "qmp", core_qmp },
		{ "metrics_listen", core_metrics_listen }, { "metrics_publish", core_metrics_publish },
		{ "watch", core_watch }, { "notify", core_notify },
		{ "json_encode", core_json_encode }, { "json_decode", core_json_decode },
		{ "json_set", core_json_set },
		{ NULL, NULL },
	};
	luaL_newlib(L, fns);
	lua_pushlightuserdata(L, NULL);
	lua_setfield(L, -2, "null");
	core_open_fs(L);
	lua_setfield(L, -2, "fs");
	return 1;
}

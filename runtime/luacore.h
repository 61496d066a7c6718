/* luacore.h — the C functions behind the Lua side ("core", reachable only
 * from stdlib code, never from plan code), and the host that runs the
 * stdlib's command line. */
#ifndef RT_LUACORE_H
#define RT_LUACORE_H

#include <stddef.h>

struct lua_State;

/* Runs a stdlib command (validate, show, drill, ...) with its arguments;
 * returns the exit code. */
int rt_lua_command(const char *name, int argc, char **argv);

/* The embedded copy of stdlib/, generated at build time. */
typedef struct rt_embedded {
	const char *name; /* module name: "lifeboat.plan" */
	const char *data;
	size_t len;
} rt_embedded;
extern const rt_embedded rt_stdlib[];
extern const size_t rt_stdlib_count;

/* Opens the "core" module table on the stack. */
int rt_open_core(struct lua_State *L);

/* Each defined in its own file. */
int core_exec(struct lua_State *L);
/* SIGKILL to the process group of every running exec task (the watchdog's
 * cleanup before it exits). */
void rt_exec_kill_all(void);
int core_http(struct lua_State *L);
int core_prompt(struct lua_State *L);
int core_yaml_load(struct lua_State *L);
int core_json_encode(struct lua_State *L);
int core_json_decode(struct lua_State *L);
int core_json_set(struct lua_State *L);
int core_open_fs(struct lua_State *L);
int core_xml_set(struct lua_State *L);
int core_qmp(struct lua_State *L);
int core_metrics_listen(struct lua_State *L);
int core_metrics_publish(struct lua_State *L);
int core_watch(struct lua_State *L);
int core_notify(struct lua_State *L);

#endif

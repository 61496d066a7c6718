/* child_env.h — the environment lifeboat gives the processes it starts. */
#ifndef RT_CHILD_ENV_H
#define RT_CHILD_ENV_H

struct lua_State;

/* Raises a Lua error (naming who) unless the value at idx is nil or a
 * table of NAME = string | number | true | false. Call before allocating. */
void rt_env_check(struct lua_State *L, int idx, const char *who);

/* A NULL-terminated, malloc'd NAME=VALUE array: the allow-listed part of
 * this process's environment (PATH, HOME, USER, LOGNAME, SHELL, LANG,
 * LANGUAGE, LC_*, TZ, TERM, TMPDIR), then the entries of the table at idx
 * (0: none) added or replaced: a value is set, true passes this process's
 * value on, false leaves the name out. NULL when out of memory. The table
 * must have passed rt_env_check. */
char **rt_child_env(struct lua_State *L, int idx);
void rt_free_env(char **v);

#endif

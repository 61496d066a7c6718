/* task_prompt.c — core.prompt(TEXT): asks on the terminal (/dev/tty) on a
 * worker thread, so other steps go on while a person reads the question. */
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <lua.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "luacore.h"
#include "tasks.h"

typedef struct prompt_req {
	char *text;
	char answer[512];
	char error[128];
} prompt_req;

static void prompt_run(rt_task *t)
{
	prompt_req *r = t->data;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(r->error, sizeof(r->error), "no terminal: %s", strerror(errno));
		return;
	}
	ssize_t w = write(fd, r->text, strlen(r->text));
	(void)w;
	size_t len = 0;
	while (len + 1 < sizeof(r->answer)) {
		if (atomic_load(&t->cancel)) {
			snprintf(r->error, sizeof(r->error), "cancelled");
			break;
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 200) <= 0)
			continue;
		char c;
		ssize_t n = read(fd, &c, 1);
		if (n <= 0) {
			snprintf(r->error, sizeof(r->error), "terminal closed");
			break;
		}
		if (c == '\n')
			break;
		r->answer[len++] = c;
	}
	r->answer[len] = 0;
	close(fd);
}

static int prompt_push(lua_State *L, rt_task *t)
{
	prompt_req *r = t->data;
	lua_createtable(L, 0, 2);
	if (r->error[0]) {
		lua_pushstring(L, r->error);
		lua_setfield(L, -2, "error");
	}
	lua_pushstring(L, r->answer);
	lua_setfield(L, -2, "answer");
	return 1;
}

static void prompt_destroy(rt_task *t)
{
	prompt_req *r = t->data;
	free(r->text);
	free(r);
	free(t);
}

int core_prompt(lua_State *L)
{
	const char *text = luaL_checkstring(L, 1);
	prompt_req *r = calloc(1, sizeof(*r));
	rt_task *t = calloc(1, sizeof(*t));
	if (!r || !t || !(r->text = strdup(text))) {
		free(r);
		free(t);
		return luaL_error(L, "out of memory");
	}
	t->data = r;
	t->run = prompt_run;
	t->push = prompt_push;
	t->destroy = prompt_destroy;
	lua_pushinteger(L, (lua_Integer)rt_task_submit(t));
	return 1;
}

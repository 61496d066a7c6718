/* lua_qmp.c — core.qmp: a client of QEMU's machine protocol (QMP), and of
 * its guest agent's, on a unix socket. It greets, enables commands (qmp_capabilities), sends each
 * command and waits for its answer, keeping the events QEMU sends between.
 * Calls are short (stop, cont, query-status, system_powerdown), so it
 * blocks, with a deadline. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bytes.h"
#include "luacore.h"
#include "tasks.h"

/* A guest agent's answer carries a command's whole output in base64 */
#define QMP_MAX_LINE (64u << 20)

typedef struct qmp_conn {
	int fd;
	char *buf;
	size_t len, cap;
	double deadline;
} qmp_conn;

/* The next line QEMU sends (without its newline), or NULL with err set. */
static char *read_line(qmp_conn *c, char *err, size_t errlen)
{
	for (;;) {
		char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
		if (nl) {
			size_t n = (size_t)(nl - c->buf);
			char *line = malloc(n + 1);
			if (!line) {
				snprintf(err, errlen, "out of memory");
				return NULL;
			}
			memcpy(line, c->buf, n);
			line[n] = 0;
			memmove(c->buf, nl + 1, c->len - n - 1);
			c->len -= n + 1;
			return line;
		}
		if (c->len == c->cap) {
			if (c->cap >= QMP_MAX_LINE) {
				snprintf(err, errlen, "a message longer than %u bytes", QMP_MAX_LINE);
				return NULL;
			}
			if (!eng_reserve(&c->buf, &c->cap, c->cap ? c->cap * 2 : 65536, 65536)) {
				snprintf(err, errlen, "out of memory");
				return NULL;
			}
		}
		int ms = (int)((c->deadline - rt_mono()) * 1000);
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		int r = ms > 0 ? poll(&p, 1, ms) : 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, errlen, "no answer in time");
			return NULL;
		}
		ssize_t got = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (got <= 0) {
			snprintf(err, errlen, "QEMU closed the connection");
			return NULL;
		}
		c->len += (size_t)got;
	}
}

static bool send_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		s += w;
		n -= (size_t)w;
	}
	return true;
}

static bool send_command(qmp_conn *c, const char *cmd, char *err, size_t errlen)
{
	if (send_all(c->fd, cmd, strlen(cmd)) && send_all(c->fd, "\n", 1))
		return true;
	snprintf(err, errlen, "cannot send: %s", strerror(errno));
	return false;
}

/* The next message, parsed (NULL when it is not JSON); its text in *line. */
static cJSON *read_message(qmp_conn *c, char **line, char *err, size_t errlen)
{
	*line = read_line(c, err, errlen);
	return *line ? cJSON_Parse(*line) : NULL;
}

/* Sends one command line; pushes its answer (the JSON text of the message
 * holding "return" or "error") and appends events to the table at ev. */
static bool exchange(lua_State *L, qmp_conn *c, const char *cmd, int ev, char *err, size_t errlen)
{
	if (!send_command(c, cmd, err, errlen))
		return false;
	for (;;) {
		char *line;
		cJSON *m = read_message(c, &line, err, errlen);
		if (!line)
			return false;
		bool answer = m && (cJSON_GetObjectItemCaseSensitive(m, "return") ||
				    cJSON_GetObjectItemCaseSensitive(m, "error"));
		bool event = m && cJSON_GetObjectItemCaseSensitive(m, "event");
		cJSON_Delete(m);
		if (!answer && !event) {
			snprintf(err, errlen, "not a QMP message: %.80s", line);
			free(line);
			return false;
		}
		lua_pushstring(L, line);
		free(line);
		if (answer)
			return true;
		lua_rawseti(L, ev, (lua_Integer)lua_rawlen(L, ev) + 1);
	}
}

/* QEMU's guest agent speaks the same JSON without a greeting; a client
 * that went away may have left an answer unread, so the conversation opens
 * with guest-sync and skips everything before its own id's answer. */
static bool agent_sync(qmp_conn *c, char *err, size_t errlen)
{
	char cmd[96];
	unsigned id = (unsigned)(rt_mono() * 1000) & 0x3fffffff;
	snprintf(cmd, sizeof(cmd), "\xff{\"execute\": \"guest-sync\", \"arguments\": {\"id\": %u}}", id);
	if (!send_command(c, cmd, err, errlen))
		return false;
	for (;;) {
		char *line;
		cJSON *m = read_message(c, &line, err, errlen);
		if (!line)
			return false;
		free(line);
		cJSON *r = m ? cJSON_GetObjectItemCaseSensitive(m, "return") : NULL;
		bool mine = cJSON_IsNumber(r) && (unsigned)r->valuedouble == id;
		cJSON_Delete(m);
		if (mine)
			return true;
	}
}

/* core.qmp(SOCKET, {COMMAND_JSON, ...}, TIMEOUT_S, AGENT) -> {ANSWER_JSON,
 * ...}, {EVENT_JSON, ...} | nil, err. AGENT: the socket is a guest agent's. */
int core_qmp(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	luaL_checktype(L, 2, LUA_TTABLE);
	double timeout = luaL_optnumber(L, 3, 10);
	if (!(timeout > 0 && timeout < 86400))
		timeout = 10;
	bool agent = lua_toboolean(L, 4);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(a.sun_path)) {
		lua_pushnil(L);
		lua_pushfstring(L, "QMP socket path too long: %s", path);
		return 2;
	}
	strcpy(a.sun_path, path);
	qmp_conn *c = lua_newuserdatauv(L, sizeof(*c), 0);
	c->len = c->cap = 0;
	c->buf = NULL;
	c->deadline = rt_mono() + timeout;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char err[256] = "";
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		snprintf(err, sizeof(err), "cannot connect to %s: %s", path, strerror(errno));
		goto fail;
	}
	lua_newtable(L); /* answers */
	int answers = lua_gettop(L);
	lua_newtable(L); /* events */
	int events = answers + 1;
	if (agent) {
		if (!agent_sync(c, err, sizeof(err)))
			goto fail;
	} else {
		char *greeting = read_line(c, err, sizeof(err));
		if (!greeting)
			goto fail;
		bool is_qmp = strstr(greeting, "\"QMP\"") != NULL;
		free(greeting);
		if (!is_qmp) {
			snprintf(err, sizeof(err), "%s does not speak QMP", path);
			goto fail;
		}
		if (!exchange(L, c, "{\"execute\": \"qmp_capabilities\"}", events, err, sizeof(err)))
			goto fail;
		lua_pop(L, 1);
	}
	lua_Integer n = (lua_Integer)lua_rawlen(L, 2);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, 2, i);
		const char *cmd = lua_tostring(L, -1);
		if (!cmd || strchr(cmd, '\n')) {
			snprintf(err, sizeof(err), "command %lld is not one line of JSON", (long long)i);
			goto fail;
		}
		if (!exchange(L, c, cmd, events, err, sizeof(err)))
			goto fail;
		lua_rawseti(L, answers, i);
		lua_pop(L, 1); /* cmd, kept referenced until sent */
	}
	close(c->fd);
	free(c->buf);
	return 2;
fail:
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	lua_pushnil(L);
	lua_pushstring(L, err);
	return 2;
}

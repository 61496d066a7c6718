/* lua_metrics.c — core.metrics: the HTTP endpoint `lifeboat protect
 * --metrics ADDR:PORT` serves. A thread of its own answers GET /metrics
 * with the text Lua last published (Prometheus text exposition) and
 * anything else with 404, one short request at a time, so a slow or
 * hostile client never holds up replication (5 s to send its request). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <lauxlib.h>
#include <lua.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "luacore.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *published;
static size_t published_len;
static int listen_fd = -1;

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void answer(int fd)
{
	char req[2048];
	size_t got = 0;
	/* the request line and headers, up to the blank line */
	while (got < sizeof(req) - 1) {
		ssize_t r = recv(fd, req + got, sizeof(req) - 1 - got, 0);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			return;
		}
		got += (size_t)r;
		req[got] = 0;
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[got] = 0;
	bool get = !strncmp(req, "GET ", 4), head = !strncmp(req, "HEAD ", 5);
	const char *path = get ? req + 4 : head ? req + 5 : NULL;
	bool metrics = path && (!strncmp(path, "/metrics ", 9) || !strncmp(path, "/metrics?", 9));
	char hdr[256];
	if (!metrics) {
		const char *body = "not found: this endpoint serves /metrics only\n";
		int n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
			"Connection: close\r\n\r\n", path ? "404 Not Found" : "405 Method Not Allowed", strlen(body));
		send_all(fd, hdr, (size_t)n);
		send_all(fd, body, strlen(body));
		return;
	}
	pthread_mutex_lock(&lock);
	size_t len = published_len;
	char *copy = len ? malloc(len) : NULL;
	if (copy)
		memcpy(copy, published, len);
	else
		len = 0;
	pthread_mutex_unlock(&lock);
	int n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
		"Content-Length: %zu\r\nConnection: close\r\n\r\n", len);
	send_all(fd, hdr, (size_t)n);
	if (get && copy)
		send_all(fd, copy, len);
	free(copy);
}

static void *serve(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(listen_fd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE)
				continue;
			return NULL;
		}
		struct timeval tv = { .tv_sec = 5 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		answer(fd);
		close(fd);
	}
}

/* core.metrics_listen(ADDR, PORT) -> true | nil, err: starts the endpoint (once) */
int core_metrics_listen(lua_State *L)
{
	const char *addr = luaL_checkstring(L, 1);
	lua_Integer port = luaL_checkinteger(L, 2);
	if (listen_fd >= 0)
		return luaL_error(L, "the metrics endpoint is already listening");
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (port < 1 || port > 65535 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		lua_pushnil(L);
		lua_pushfstring(L, "%s:%d is not an IPv4 address and port", addr, (int)port);
		return 2;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 16) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		lua_pushnil(L);
		lua_pushfstring(L, "cannot listen on %s:%d: %s", addr, (int)port, strerror(e));
		return 2;
	}
	listen_fd = fd;
	pthread_t t;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &at, serve, NULL) != 0) {
		pthread_attr_destroy(&at);
		lua_pushnil(L);
		lua_pushstring(L, "cannot start the metrics thread");
		return 2;
	}
	pthread_attr_destroy(&at);
	lua_pushboolean(L, 1);
	return 1;
}

/* core.metrics_publish(TEXT): what GET /metrics answers from now on */
int core_metrics_publish(lua_State *L)
{
	size_t n;
	const char *text = luaL_checklstring(L, 1, &n);
	char *copy = malloc(n ? n : 1);
	if (!copy)
		return luaL_error(L, "out of memory");
	memcpy(copy, text, n);
	pthread_mutex_lock(&lock);
	free(published);
	published = copy;
	published_len = n;
	pthread_mutex_unlock(&lock);
	return 0;
}

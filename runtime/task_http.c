/* task_http.c — core.http: one libcurl request on a worker thread. TLS
 * peers are verified unless the request says verify = false. */
#include <ctype.h>
#include <curl/curl.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bytes.h"
#include "luacore.h"
#include "netns.h"
#include "tasks.h"

typedef struct buf {
	char *data;
	size_t len, cap, limit;
	bool over;
} buf;

typedef struct http_req {
	char *method, *url, *body, *cacert, *netns;
	int netns_fd;
	size_t body_len;
	struct curl_slist *headers;
	double timeout;
	bool verify, connect_only;
	rt_task *task;
	/* results */
	long status;
	buf resp, resp_headers;
	char error[CURL_ERROR_SIZE];
	double seconds;
} http_req;

static size_t buf_add(buf *b, const char *data, size_t n)
{
	if (b->len + n > b->limit) {
		b->over = true;
		return 0; /* makes curl stop with CURLE_WRITE_ERROR */
	}
	if (!eng_reserve(&b->data, &b->cap, b->len + n + 1, 8192))
		return 0;
	memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = 0;
	return n;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	return buf_add(ud, p, size * n);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	http_req *r = ud;
	/* A redirect or "100 Continue" starts a new header block: keep the last. */
	if (size * n > 5 && memcmp(p, "HTTP/", 5) == 0)
		r->resp_headers.len = 0;
	return buf_add(&r->resp_headers, p, size * n);
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)a, (void)b, (void)c, (void)d;
	http_req *r = ud;
	return atomic_load(&r->task->cancel) ? 1 : 0;
}

/* Sockets of a request that names a network namespace are made inside it. */
static curl_socket_t open_in_netns(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
	(void)purpose;
	http_req *r = ud;
	int s = rt_netns_socket(r->netns_fd, a->family, a->socktype, a->protocol);
	return s < 0 ? CURL_SOCKET_BAD : s;
}

static void http_run(rt_task *t)
{
	http_req *r = t->data;
	double start = rt_mono();
	CURL *c = curl_easy_init();
	if (!c) {
		snprintf(r->error, sizeof(r->error), "cannot start a request");
		return;
	}
	curl_easy_setopt(c, CURLOPT_URL, r->url);
	/* core.http checked the scheme; curl refuses any other one too */
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
	if (strcmp(r->method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (r->body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->resp);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, r);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->error);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, r->verify ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, r->verify ? 2L : 0L);
	if (r->cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, r->cacert);
	if (r->timeout > 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(r->timeout * 1000));
	if (r->connect_only)
		curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
	if (r->netns) {
		r->netns_fd = rt_netns_open(r->netns, r->error, sizeof(r->error));
		if (r->netns_fd < 0) {
			curl_easy_cleanup(c);
			return;
		}
		curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_in_netns);
		curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, r);
	}
	CURLcode rc = curl_easy_perform(c);
	if (rc == CURLE_OK) {
		r->error[0] = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	} else if (r->resp.over) {
		snprintf(r->error, sizeof(r->error), "response larger than %zu bytes", r->resp.limit);
	} else if (rc == CURLE_ABORTED_BY_CALLBACK) {
		snprintf(r->error, sizeof(r->error), "cancelled");
	} else if (!r->error[0]) {
		snprintf(r->error, sizeof(r->error), "%s", curl_easy_strerror(rc));
	}
	curl_easy_cleanup(c);
	r->seconds = rt_mono() - start;
}

static int http_push(lua_State *L, rt_task *t)
{
	http_req *r = t->data;
	lua_createtable(L, 0, 5);
	if (r->error[0]) {
		lua_pushstring(L, r->error);
		lua_setfield(L, -2, "error");
	}
	lua_pushinteger(L, r->status);
	lua_setfield(L, -2, "status");
	lua_pushlstring(L, r->resp.data ? r->resp.data : "", r->resp.len);
	lua_setfield(L, -2, "body");
	lua_pushnumber(L, r->seconds);
	lua_setfield(L, -2, "seconds");
	/* headers: lower-case names; the last value of a repeated name wins */
	lua_newtable(L);
	const char *p = r->resp_headers.data;
	const char *end = p ? p + r->resp_headers.len : NULL;
	while (p && p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		const char *colon = memchr(p, ':', (size_t)(eol - p));
		if (colon) {
			luaL_Buffer b;
			luaL_buffinit(L, &b);
			for (const char *k = p; k < colon; k++)
				luaL_addchar(&b, (char)(*k >= 'A' && *k <= 'Z' ? *k + 32 : *k));
			luaL_pushresult(&b);
			const char *v = colon + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			const char *ve = eol;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
				ve--;
			lua_pushlstring(L, v, (size_t)(ve - v));
			lua_rawset(L, -3);
		}
		p = eol + 1;
	}
	lua_setfield(L, -2, "headers");
	return 1;
}

static void http_destroy(rt_task *t)
{
	http_req *r = t->data;
	free(r->method);
	free(r->url);
	free(r->body);
	free(r->cacert);
	free(r->netns);
	if (r->netns_fd >= 0)
		close(r->netns_fd);
	curl_slist_free_all(r->headers);
	free(r->resp.data);
	free(r->resp_headers.data);
	free(r);
	free(t);
}

/* Only these: curl also speaks file://, ftp://, dict://, gopher://, ... */
static bool allowed_scheme(const char *url)
{
	return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

static char *opt_string(lua_State *L, const char *field, size_t *len)
{
	char *s = NULL;
	if (lua_getfield(L, 1, field) == LUA_TSTRING) {
		size_t n;
		const char *v = lua_tolstring(L, -1, &n);
		s = malloc(n + 1);
		if (s) {
			memcpy(s, v, n);
			s[n] = 0;
		}
		if (len)
			*len = n;
	}
	lua_pop(L, 1);
	return s;
}

/* An HTTP token (RFC 9110): what a method or a header name may be. */
static bool is_token(const char *s, size_t len)
{
	if (!len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("!#$%&'*+-.^_`|~", s[i]))
			return false;
	return true;
}

/* A method, header name or value that would end a line of the request (and
 * start another one, a header or a request of its own) is refused. Names
 * the header, never its value: a value may be a secret. */
static int check_request_lines(lua_State *L)
{
	size_t len;
	if (lua_getfield(L, 1, "method") == LUA_TSTRING) {
		const char *m = lua_tolstring(L, -1, &len);
		if (!is_token(m, len))
			return luaL_error(L, "http: the method must be a word such as GET or PUT");
	}
	lua_pop(L, 1);
	if (lua_getfield(L, 1, "headers") == LUA_TTABLE) {
		lua_pushnil(L);
		while (lua_next(L, -2)) {
			lua_pop(L, 1);
			if (lua_type(L, -1) != LUA_TSTRING)
				return luaL_error(L, "http: header names must be strings");
			const char *name = lua_tolstring(L, -1, &len);
			if (!is_token(name, len))
				return luaL_error(L, "http: '%s' is not a header name", name);
			lua_pushvalue(L, -1);
			lua_gettable(L, -3);
			const char *value = luaL_tolstring(L, -1, &len);
			if (strlen(value) != len || strpbrk(value, "\r\n"))
				return luaL_error(L, "http: the value of header %s holds a line break or a NUL byte", name);
			lua_pop(L, 2);
		}
	}
	lua_pop(L, 1);
	return 0;
}

/* core.http{url, method = "GET", headers = {NAME = VALUE}, body = STR,
 * timeout = S, verify = true, cacert = FILE, max_body = BYTES,
 * connect_only = false (only open the TCP connection), netns = NAME (the
 * network namespace its connections are made in)} -> ticket */
int core_http(lua_State *L)
{
	static int curl_ready;
	if (!curl_ready) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		curl_ready = 1;
	}
	luaL_checktype(L, 1, LUA_TTABLE);
	/* check what can be wrong before allocating, so an error leaks nothing */
	if (lua_getfield(L, 1, "url") != LUA_TSTRING)
		return luaL_error(L, "http: no url");
	if (!allowed_scheme(lua_tostring(L, -1)))
		return luaL_error(L, "http: only http:// and https:// URLs are allowed, not '%s'", lua_tostring(L, -1));
	check_request_lines(L);
	lua_getfield(L, 1, "max_body");
	lua_Integer max_body = luaL_optinteger(L, -1, 8 << 20);
	if (max_body < 0)
		return luaL_error(L, "http: max_body must be a number of bytes, not %I", max_body);
	lua_getfield(L, 1, "timeout");
	double timeout = luaL_optnumber(L, -1, 0);
	lua_pop(L, 3);
	http_req *r = calloc(1, sizeof(*r));
	rt_task *t = calloc(1, sizeof(*t));
	if (!r || !t) {
		free(r);
		free(t);
		return luaL_error(L, "out of memory");
	}
	r->task = t;
	t->data = r;
	r->url = opt_string(L, "url", NULL);
	r->method = opt_string(L, "method", NULL);
	if (!r->method)
		r->method = strdup("GET");
	r->body = opt_string(L, "body", &r->body_len);
	r->cacert = opt_string(L, "cacert", NULL);
	r->netns = opt_string(L, "netns", NULL);
	r->netns_fd = -1;
	r->timeout = timeout;
	r->resp.limit = (size_t)max_body;
	r->resp_headers.limit = 1 << 20;
	lua_getfield(L, 1, "verify");
	r->verify = lua_isnil(L, -1) || lua_toboolean(L, -1);
	lua_pop(L, 1);
	lua_getfield(L, 1, "connect_only");
	r->connect_only = lua_toboolean(L, -1);
	lua_pop(L, 1);
	if (lua_getfield(L, 1, "headers") == LUA_TTABLE) {
		lua_pushnil(L);
		while (lua_next(L, -2)) {
			const char *name = luaL_tolstring(L, -2, NULL);
			const char *value = luaL_tolstring(L, -2, NULL);
			lua_pushfstring(L, "%s: %s", name, value);
			r->headers = curl_slist_append(r->headers, lua_tostring(L, -1));
			lua_pop(L, 4);
		}
	}
	lua_pop(L, 1);
	t->run = http_run;
	t->push = http_push;
	t->destroy = http_destroy;
	if (!r->url || !r->method) {
		http_destroy(t);
		return luaL_error(L, "out of memory");
	}
	lua_pushinteger(L, (lua_Integer)rt_task_submit(t));
	return 1;
}

/* task_exec.c — core.exec: runs a process on a worker thread. The child
 * gets its own process group so a timeout or cancellation stops everything
 * it started (SIGTERM, then SIGKILL after a grace period). Output is
 * captured up to a limit per stream; what is over the limit is counted.
 * The child dies with lifeboat (PR_SET_PDEATHSIG), so after a kill -9 no
 * orphan goes on writing while a resumed job runs the step again. */
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <lua.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bytes.h"
#include "child_env.h"
#include "luacore.h"
#include "netns.h"
#include "tasks.h"

#define GRACE_SECONDS 3.0

/* The process groups of running children, for rt_exec_kill_all. */
#define MAX_RUNNING 128
static pthread_mutex_t running_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t running[MAX_RUNNING];

static void track(pid_t pid, bool on)
{
	pthread_mutex_lock(&running_lock);
	for (int i = 0; i < MAX_RUNNING; i++)
		if (running[i] == (on ? 0 : pid)) {
			running[i] = on ? pid : 0;
			break;
		}
	pthread_mutex_unlock(&running_lock);
}

void rt_exec_kill_all(void)
{
	pthread_mutex_lock(&running_lock);
	for (int i = 0; i < MAX_RUNNING; i++)
		if (running[i] > 0)
			kill(-running[i], SIGKILL);
	pthread_mutex_unlock(&running_lock);
}

typedef struct capture {
	char *buf;
	size_t len, cap, limit, dropped;
} capture;

typedef struct exec_req {
	char **argv, **envp, *cwd, *input, *netns;
	int netns_fd; /* open while the child starts */
	size_t input_len;
	double timeout;
	/* results */
	int code, sig;
	bool timed_out, cancelled, spawned;
	char error[256];
	capture out, err;
	double seconds;
} exec_req;

static void free_strv(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static void capture_add(capture *c, const char *data, size_t n)
{
	size_t room = c->limit > c->len ? c->limit - c->len : 0;
	size_t take = n < room ? n : room;
	if (take) {
		if (!eng_reserve(&c->buf, &c->cap, c->len + take, 4096)) {
			c->dropped += n;
			return;
		}
		memcpy(c->buf + c->len, data, take);
		c->len += take;
	}
	c->dropped += n - take;
}

/* The program's path: argv0 itself when it has a '/', else the first
 * executable match on PATH (found before fork: the child only execs). */
static bool resolve(const char *argv0, char *out, size_t size)
{
	if (strchr(argv0, '/')) {
		snprintf(out, size, "%s", argv0);
		return access(out, X_OK) == 0;
	}
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *colon = strchr(path, ':');
		size_t len = colon ? (size_t)(colon - path) : strlen(path);
		snprintf(out, size, "%.*s/%s", (int)len, len ? path : ".", argv0);
		if (access(out, X_OK) == 0)
			return true;
		path += len + (colon ? 1 : 0);
	}
	return false;
}

/* In the child: its own process group, killed if lifeboat dies (so a
 * resumed job never races an orphan of the killed one), default signals,
 * the pipes as stdin/stdout/stderr. Only async-signal-safe calls. */
static void child(exec_req *r, const char *path, char **envp, int in[2], int out[2], int err[2], int errfd,
		  pid_t parent)
{
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	dup2(in[0], 0);
	dup2(out[1], 1);
	dup2(err[1], 2);
	int e[2] = { 3, 0 }; /* what failed (3 netns, 1 chdir, 2 exec), errno */
	if (r->netns_fd >= 0 && setns(r->netns_fd, CLONE_NEWNET) != 0)
		goto fail;
	e[0] = 1;
	if (r->cwd && chdir(r->cwd) != 0)
		goto fail;
	e[0] = 2;
	execve(path, r->argv, envp);
fail:
	e[1] = errno;
	ssize_t w = write(errfd, e, sizeof(e));
	(void)w;
	_exit(127);
}

static void close_fd(int *fd)
{
	close(*fd);
	*fd = -1;
}

/* One round of the pipes (waiting up to ms): feeds stdin, captures what
 * stdout and stderr have, closes each at its end. False when nothing was
 * ready. */
static bool pump(exec_req *r, int in[2], int out[2], int err[2], size_t *input_off, int ms)
{
	struct pollfd p[3];
	int n = 0;
	if (out[0] >= 0)
		p[n++] = (struct pollfd){ .fd = out[0], .events = POLLIN };
	if (err[0] >= 0)
		p[n++] = (struct pollfd){ .fd = err[0], .events = POLLIN };
	if (in[1] >= 0)
		p[n++] = (struct pollfd){ .fd = in[1], .events = POLLOUT };
	if (poll(p, (nfds_t)n, ms) <= 0)
		return false;
	for (int i = 0; i < n; i++) {
		if (!p[i].revents)
			continue;
		if (p[i].fd == in[1]) {
			ssize_t w = write(in[1], r->input + *input_off, r->input_len - *input_off);
			if (w > 0)
				*input_off += (size_t)w;
			if ((w < 0 && errno != EAGAIN) || *input_off == r->input_len)
				close_fd(&in[1]);
			continue;
		}
		char buf[65536];
		ssize_t got = read(p[i].fd, buf, sizeof(buf));
		if (got > 0)
			capture_add(p[i].fd == out[0] ? &r->out : &r->err, buf, (size_t)got);
		else if (got == 0 || errno != EINTR)
			close_fd(p[i].fd == out[0] ? &out[0] : &err[0]);
	}
	return true;
}

static void exec_run(rt_task *t)
{
	exec_req *r = t->data;
	double start = rt_mono();
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
		snprintf(r->error, sizeof(r->error), "cannot create pipes: %s", strerror(errno));
		goto done;
	}
	char path[4096];
	if (!resolve(r->argv[0], path, sizeof(path))) {
		snprintf(r->error, sizeof(r->error), "cannot run '%s': not found", r->argv[0]);
		goto done;
	}
	char **envp = r->envp;
	if (r->netns && (r->netns_fd = rt_netns_open(r->netns, r->error, sizeof(r->error))) < 0)
		goto done;
	int errp[2];
	if (pipe2(errp, O_CLOEXEC)) {
		snprintf(r->error, sizeof(r->error), "cannot create pipes: %s", strerror(errno));
		goto done;
	}
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0)
		child(r, path, envp, in, out, err, errp[1], parent); /* does not return */
	close(errp[1]);
	if (r->netns_fd >= 0)
		close_fd(&r->netns_fd);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	in[0] = out[1] = err[1] = -1;
	int child_err[2] = { 0, 0 };
	ssize_t got_err = pid > 0 ? read(errp[0], child_err, sizeof(child_err)) : -1;
	close(errp[0]);
	if (pid < 0 || got_err == (ssize_t)sizeof(child_err)) {
		if (pid > 0)
			waitpid(pid, NULL, 0);
		if (pid > 0 && child_err[0] == 3)
			snprintf(r->error, sizeof(r->error), "cannot enter network namespace '%s': %s", r->netns,
				 strerror(child_err[1]));
		else if (pid > 0 && child_err[0] == 1)
			snprintf(r->error, sizeof(r->error), "cannot run '%s' in %s: %s", r->argv[0], r->cwd,
				 strerror(child_err[1]));
		else
			snprintf(r->error, sizeof(r->error), "cannot run '%s': %s", r->argv[0],
				 strerror(pid < 0 ? errno : child_err[1]));
		goto done;
	}
	r->spawned = true;
	track(pid, true);
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	size_t input_off = 0, *input_off_p = &input_off;
	if (!r->input || r->input_len == 0)
		close_fd(&in[1]);
	double kill_at = 0;
	int status = 0;
	for (;;) {
		pump(r, in, out, err, input_off_p, 100);
		double now = rt_mono();
		if (!kill_at && (atomic_load(&t->cancel) || (r->timeout > 0 && now - start > r->timeout))) {
			if (atomic_load(&t->cancel))
				r->cancelled = true;
			else
				r->timed_out = true;
			kill(-pid, SIGTERM);
			kill_at = now + GRACE_SECONDS;
		}
		if (kill_at && now > kill_at)
			kill(-pid, SIGKILL);
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno == ECHILD) { /* reaped elsewhere: its status is lost */
			status = 0;
			r->code = -1;
			snprintf(r->error, sizeof(r->error), "'%s': its exit status was lost", r->argv[0]);
			break;
		}
	}
	/* The process may leave children holding the pipes: once it has
	 * exited and nothing is readable for a moment, stop. */
	for (int i = 0; i < 20 && (out[0] >= 0 || err[0] >= 0); i++)
		if (!pump(r, in, out, err, input_off_p, 10))
			break;
	if (r->timed_out || r->cancelled)
		kill(-pid, SIGKILL); /* whatever of the group is left */
	track(pid, false);
	if (WIFEXITED(status))
		r->code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status)) {
		r->sig = WTERMSIG(status);
		r->code = 128 + r->sig;
	}
done:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	r->seconds = rt_mono() - start;
}

static void push_capture(lua_State *L, const capture *c, const char *field)
{
	lua_pushlstring(L, c->buf ? c->buf : "", c->len);
	lua_setfield(L, -2, field);
	if (c->dropped) {
		char name[32];
		snprintf(name, sizeof(name), "%s_dropped", field);
		lua_pushinteger(L, (lua_Integer)c->dropped);
		lua_setfield(L, -2, name);
	}
}

static int exec_push(lua_State *L, rt_task *t)
{
	exec_req *r = t->data;
	lua_createtable(L, 0, 8);
	if (r->error[0]) {
		lua_pushstring(L, r->error);
		lua_setfield(L, -2, "error");
	}
	lua_pushinteger(L, r->code);
	lua_setfield(L, -2, "code");
	if (r->sig) {
		lua_pushinteger(L, r->sig);
		lua_setfield(L, -2, "signal");
	}
	lua_pushboolean(L, r->timed_out);
	lua_setfield(L, -2, "timed_out");
	lua_pushboolean(L, r->cancelled);
	lua_setfield(L, -2, "cancelled");
	lua_pushnumber(L, r->seconds);
	lua_setfield(L, -2, "seconds");
	push_capture(L, &r->out, "stdout");
	push_capture(L, &r->err, "stderr");
	return 1;
}

static void exec_destroy(rt_task *t)
{
	exec_req *r = t->data;
	free_strv(r->argv);
	rt_free_env(r->envp);
	free(r->cwd);
	free(r->netns);
	if (r->netns_fd >= 0)
		close(r->netns_fd);
	free(r->input);
	free(r->out.buf);
	free(r->err.buf);
	free(r);
	free(t);
}

static char *xstrdup(lua_State *L, const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (!d)
		luaL_error(L, "out of memory");
	memcpy(d, s, n);
	d[n] = 0;
	return d;
}

/* core.exec{argv = {...}, env = {...}, cwd = DIR, stdin = STR, timeout = S,
 * max_output = BYTES, netns = NAME} -> ticket */
int core_exec(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	/* check what can be wrong before allocating, so an error leaks nothing */
	if (lua_getfield(L, 1, "argv") != LUA_TTABLE || lua_rawlen(L, -1) < 1)
		return luaL_error(L, "exec: argv must be a non-empty list");
	lua_Integer argc = (lua_Integer)lua_rawlen(L, -1);
	for (lua_Integer i = 1; i <= argc; i++) {
		int type = lua_rawgeti(L, -1, i);
		size_t n = 0;
		const char *s = type == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
		lua_pop(L, 1);
		if (type != LUA_TSTRING && type != LUA_TNUMBER)
			return luaL_error(L, "exec: argv[%d] is not a string", (int)i);
		if (s && strlen(s) != n)
			return luaL_error(L, "exec: argv[%d] holds a NUL byte", (int)i);
	}
	lua_getfield(L, 1, "env");
	rt_env_check(L, -1, "exec");
	lua_getfield(L, 1, "max_output");
	lua_Integer max_output = luaL_optinteger(L, -1, 1 << 20);
	if (max_output < 0)
		return luaL_error(L, "exec: max_output must be a number of bytes, not %I", max_output);
	lua_getfield(L, 1, "timeout");
	double timeout = luaL_optnumber(L, -1, 0);
	lua_pop(L, 3);
	exec_req *r = calloc(1, sizeof(*r));
	rt_task *t = calloc(1, sizeof(*t));
	if (!r || !t) {
		free(r);
		free(t);
		return luaL_error(L, "out of memory");
	}
	t->data = r;
	r->netns_fd = -1;
	r->argv = calloc((size_t)argc + 1, sizeof(char *));
	if (!r->argv) {
		exec_destroy(t);
		return luaL_error(L, "out of memory");
	}
	for (lua_Integer i = 1; i <= argc; i++) {
		lua_rawgeti(L, -1, i);
		size_t n;
		const char *s = luaL_tolstring(L, -1, &n);
		r->argv[i - 1] = xstrdup(L, s, n);
		lua_pop(L, 2);
	}
	lua_pop(L, 1);
	lua_getfield(L, 1, "env");
	r->envp = rt_child_env(L, lua_istable(L, -1) ? -1 : 0);
	lua_pop(L, 1);
	if (!r->envp) {
		exec_destroy(t);
		return luaL_error(L, "out of memory");
	}
	if (lua_getfield(L, 1, "cwd") == LUA_TSTRING)
		r->cwd = xstrdup(L, lua_tostring(L, -1), lua_rawlen(L, -1));
	lua_pop(L, 1);
	if (lua_getfield(L, 1, "netns") == LUA_TSTRING)
		r->netns = xstrdup(L, lua_tostring(L, -1), lua_rawlen(L, -1));
	lua_pop(L, 1);
	if (lua_getfield(L, 1, "stdin") == LUA_TSTRING) {
		size_t n;
		const char *s = lua_tolstring(L, -1, &n);
		r->input = xstrdup(L, s, n);
		r->input_len = n;
	}
	lua_pop(L, 1);
	r->timeout = timeout;
	r->out.limit = r->err.limit = (size_t)max_output;
	t->run = exec_run;
	t->push = exec_push;
	t->destroy = exec_destroy;
	lua_pushinteger(L, (lua_Integer)rt_task_submit(t));
	return 1;
}

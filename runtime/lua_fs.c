/* lua_fs.c — core.fs: the file operations stdlib builds on. Writes are
 * atomic (a temporary file in the same folder, fsync, rename, fsync of the
 * folder) and keep the mode of the file they replace. Errors come back as
 * nil, "PATH: reason" so Lua decides how to report them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "luacore.h"

static int fail(lua_State *L, const char *path)
{
	lua_pushnil(L);
	lua_pushfstring(L, "%s: %s", path, strerror(errno));
	return 2;
}

static int fs_read(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(L, path);
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	for (;;) {
		char *p = luaL_prepbuffer(&b);
		ssize_t n = read(fd, p, LUAL_BUFFERSIZE);
		if (n < 0) {
			int e = errno;
			close(fd);
			errno = e;
			return fail(L, path);
		}
		if (n == 0)
			break;
		luaL_addsize(&b, (size_t)n);
	}
	close(fd);
	luaL_pushresult(&b);
	return 1;
}

static int fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = 0;
	else if (slash)
		*slash = 0;
	else
		snprintf(dir, sizeof(dir), ".");
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

/* fs.write(PATH, DATA [, MODE]) -> true | nil, err */
static int fs_write(lua_State *L)
{
	size_t len;
	const char *path = luaL_checkstring(L, 1);
	const char *data = luaL_checklstring(L, 2, &len);
	mode_t mode = (mode_t)luaL_optinteger(L, 3, 0644);
	struct stat st;
	if (lua_isnoneornil(L, 3) && stat(path, &st) == 0)
		mode = st.st_mode & 07777;
	char tmp[PATH_MAX];
	static unsigned counter;
	snprintf(tmp, sizeof(tmp), "%s.tmp-%d-%u", path, (int)getpid(), counter++);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return fail(L, path);
	fchmod(fd, mode);
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			unlink(tmp);
			errno = e;
			return fail(L, path);
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		errno = e;
		return fail(L, path);
	}
	fsync_dir_of(path);
	lua_pushboolean(L, 1);
	return 1;
}

/* fs.append(PATH, DATA [, SYNC]) -> true | nil, err */
static int fs_append(lua_State *L)
{
	size_t len;
	const char *path = luaL_checkstring(L, 1);
	const char *data = luaL_checklstring(L, 2, &len);
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail(L, path);
	ssize_t n = write(fd, data, len);
	int rc = (n == (ssize_t)len) ? 0 : -1;
	if (rc == 0 && lua_toboolean(L, 3))
		rc = fdatasync(fd);
	int e = errno;
	close(fd);
	if (rc != 0) {
		errno = n >= 0 && n != (ssize_t)len ? ENOSPC : e;
		return fail(L, path);
	}
	lua_pushboolean(L, 1);
	return 1;
}

static const char *type_name(mode_t m)
{
	if (S_ISREG(m))
		return "file";
	if (S_ISDIR(m))
		return "dir";
	if (S_ISLNK(m))
		return "link";
	return "other";
}

/* fs.stat(PATH) -> {type, size, mode, mtime, uid} | nil, err (does not follow links) */
static int fs_stat(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	struct stat st;
	if (lstat(path, &st) != 0)
		return fail(L, path);
	lua_createtable(L, 0, 5);
	lua_pushstring(L, type_name(st.st_mode));
	lua_setfield(L, -2, "type");
	lua_pushinteger(L, (lua_Integer)st.st_size);
	lua_setfield(L, -2, "size");
	lua_pushinteger(L, (lua_Integer)(st.st_mode & 07777));
	lua_setfield(L, -2, "mode");
	lua_pushnumber(L, (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec / 1e9);
	lua_setfield(L, -2, "mtime");
	lua_pushinteger(L, (lua_Integer)st.st_uid);
	lua_setfield(L, -2, "uid");
	return 1;
}

/* fs.mkdir(PATH [, MODE]): creates missing parents too. */
static int fs_mkdir(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	mode_t mode = (mode_t)luaL_optinteger(L, 2, 0755);
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return fail(L, path);
	}
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return fail(L, buf);
		*p = '/';
	}
	if (mkdir(buf, mode) != 0 && errno != EEXIST)
		return fail(L, path);
	struct stat st;
	if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return fail(L, path);
	}
	lua_pushboolean(L, 1);
	return 1;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)ftw;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) == 0 ? 0 : -1;
}

/* fs.remove(PATH [, RECURSIVE]): a missing path is not an error. Never follows links. */
static int fs_remove(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	struct stat st;
	if (lstat(path, &st) != 0) {
		if (errno == ENOENT) {
			lua_pushboolean(L, 1);
			return 1;
		}
		return fail(L, path);
	}
	int rc;
	if (S_ISDIR(st.st_mode) && lua_toboolean(L, 2))
		rc = nftw(path, remove_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	else
		rc = S_ISDIR(st.st_mode) ? rmdir(path) : unlink(path);
	if (rc != 0)
		return fail(L, path);
	lua_pushboolean(L, 1);
	return 1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* fs.list(DIR) -> sorted names (without . and ..) | nil, err */
static int fs_list(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	DIR *d = opendir(path);
	if (!d)
		return fail(L, path);
	size_t n = 0, cap = 64;
	char **names = malloc(cap * sizeof(char *));
	struct dirent *e;
	while (names && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap *= 2) * sizeof(char *));
			if (!nn)
				break;
			names = nn;
		}
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	if (names)
		qsort(names, n, sizeof(char *), cmp_str);
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		lua_pushstring(L, names[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
		free(names[i]);
	}
	free(names);
	return 1;
}

/* fs.glob(PATTERN) -> sorted matching paths (empty when none) */
static int fs_glob(lua_State *L)
{
	const char *pat = luaL_checkstring(L, 1);
	glob_t g;
	int rc = glob(pat, 0, NULL, &g);
	lua_newtable(L);
	if (rc == 0)
		for (size_t i = 0; i < g.gl_pathc; i++) {
			lua_pushstring(L, g.gl_pathv[i]);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
	if (rc == 0 || rc == GLOB_NOMATCH)
		globfree(&g);
	return 1;
}

static int fs_realpath(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	char out[PATH_MAX];
	if (!realpath(path, out))
		return fail(L, path);
	lua_pushstring(L, out);
	return 1;
}

static int fs_rename(lua_State *L)
{
	const char *from = luaL_checkstring(L, 1), *to = luaL_checkstring(L, 2);
	if (rename(from, to) != 0)
		return fail(L, from);
	fsync_dir_of(to);
	lua_pushboolean(L, 1);
	return 1;
}

/* fs.lock(PATH) -> handle | nil, err: an exclusive flock held until the handle is collected or closed. */
static int lock_close(lua_State *L)
{
	int *fd = luaL_checkudata(L, 1, "lifeboat.lock");
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	return 0;
}

static int fs_lock(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail(L, path);
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return fail(L, path);
	}
	int *ud = lua_newuserdatauv(L, sizeof(int), 0);
	*ud = fd;
	if (luaL_newmetatable(L, "lifeboat.lock")) {
		lua_pushcfunction(L, lock_close);
		lua_setfield(L, -2, "__gc");
		lua_pushcfunction(L, lock_close);
		lua_setfield(L, -2, "__close");
		lua_newtable(L);
		lua_pushcfunction(L, lock_close);
		lua_setfield(L, -2, "close");
		lua_setfield(L, -2, "__index");
	}
	lua_setmetatable(L, -2);
	return 1;
}

int core_open_fs(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "read", fs_read }, { "write", fs_write }, { "append", fs_append },
		{ "stat", fs_stat }, { "mkdir", fs_mkdir }, { "remove", fs_remove },
		{ "list", fs_list }, { "glob", fs_glob }, { "realpath", fs_realpath },
		{ "rename", fs_rename }, { "lock", fs_lock }, { NULL, NULL },
	};
	luaL_newlib(L, fns);
	return 1;
}

/* lua_watch.c — core.watch(ROOT): which folders of a tree changed, as
 * inotify sees them, so `lifeboat protect` can tell a sync to list only
 * those. Every folder of the tree gets a watch when the watcher opens
 * (before the sync the hints are relative to starts) and each folder made
 * or moved in later gets one, with every folder inside it marked changed.
 * A thread of its own reads the events as they come, so the kernel's
 * queue seldom overflows; when it does, or a watch cannot be added, or
 * the root itself goes or the path names another folder (a parent renamed,
 * a link along it changed, a mount over it), or a file system inside is
 * unmounted, take() says the watcher lost track: the caller opens a new
 * one and the next sync lists everything. Network and FUSE file systems,
 * where changes come from elsewhere without events, are refused. A
 * folder's mark is one flag per watch, and a table that outgrows the tree
 * fourfold (the kernel does not reuse watch numbers soon) starts afresh:
 * memory follows the number of folders, however busy the tree.
 *
 *   w = core.watch(ROOT) -> watcher | nil, err
 *   w:take() -> {relative folder, ...} ("." the root), lost, why
 *   w:close()
 * inotify does not see writes through a shared mapping until the file is
 * closed, nor changes made through a hard link outside the tree: the
 * caller lists everything now and then. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "luacore.h"

#define WATCH_MASK                                                                                                    \
	(IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVED_FROM |            \
	 IN_MOVED_TO | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)
#define MAX_DEPTH 256

typedef struct watcher {
	int fd, stop[2];
	char *root;
	int root_wd;
	dev_t root_dev; /* the folder the path named when the watcher opened */
	ino_t root_ino;
	size_t live;  /* watches in place */
	pthread_t thread;
	bool running;
	pthread_mutex_t mu;
	char **paths; /* by watch descriptor: the folder relative to root ("" the root) */
	bool *dirty;
	size_t cap;
	bool lost;
	char why[512];
} watcher;

/* File systems whose changes can come from elsewhere, unseen by inotify. */
static bool local_fs(long type)
{
	static const long remote[] = {
		0x6969,     /* NFS */
		0x517B,     /* SMB */
		0xFF534D42, /* CIFS */
		0xFE534D42, /* SMB2 */
		0x65735546, /* FUSE */
		0x01021997, /* 9P */
		0x00C36400, /* Ceph */
		0x47504653, /* GPFS */
		0x0BD00BD0, /* Lustre */
	};
	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++)
		if (type == remote[i])
			return false;
	return true;
}

static void lose(watcher *w, const char *why)
{
	if (!w->lost)
		snprintf(w->why, sizeof(w->why), "%s", why);
	w->lost = true;
}

static bool grow(watcher *w, size_t need)
{
	if (need < w->cap)
		return true;
	/* the kernel hands out new numbers until they wrap: where folders come
	 * and go, a new watcher keeps the table the size of the tree */
	if (need > 65536 && need > 4 * w->live) {
		lose(w, "many folders came and went; watching afresh");
		return false;
	}
	size_t cap = w->cap ? w->cap : 64;
	while (cap <= need)
		cap *= 2;
	char **p = realloc(w->paths, cap * sizeof(*p));
	if (!p)
		return false;
	w->paths = p;
	bool *d = realloc(w->dirty, cap * sizeof(*d));
	if (!d)
		return false;
	w->dirty = d;
	memset(w->paths + w->cap, 0, (cap - w->cap) * sizeof(*p));
	memset(w->dirty + w->cap, 0, (cap - w->cap) * sizeof(*d));
	w->cap = cap;
	return true;
}

/* Watches the folder rel (relative to root) and every folder inside it;
 * mark: each is marked changed (a folder that came into the tree).
 * Returns rel's watch descriptor, or -1. */
static int add_tree(watcher *w, const char *rel, bool mark, int depth)
{
	char full[PATH_MAX];
	if (depth > MAX_DEPTH || snprintf(full, sizeof(full), "%s%s%s", w->root, *rel ? "/" : "", rel) >= (int)sizeof(full)) {
		lose(w, "a folder is nested too deep to watch");
		return -1;
	}
	int wd = inotify_add_watch(w->fd, full, WATCH_MASK);
	if (wd < 0) {
		if (errno == ENOENT || errno == ENOTDIR) /* gone again, or not a folder: its parent is marked */
			return -1;
		char why[sizeof(w->why)];
		snprintf(why, sizeof(why), "cannot watch %.200s: %s%s", full, strerror(errno),
			 errno == ENOSPC ? " (raise fs.inotify.max_user_watches)" : "");
		lose(w, why);
		return -1;
	}
	char *copy = strdup(rel);
	if (!copy || !grow(w, (size_t)wd)) {
		free(copy);
		lose(w, "out of memory");
		return -1;
	}
	if (!w->paths[wd])
		w->live++;
	free(w->paths[wd]); /* a folder moved within the tree keeps its watch under a new name */
	w->paths[wd] = copy;
	if (mark)
		w->dirty[wd] = true;
	int dfd = open(full, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		int e = errno;
		if (dfd >= 0)
			close(dfd);
		if (e != ENOENT && e != ENOTDIR && e != ELOOP) { /* what is inside would go unwatched */
			char why[sizeof(w->why)];
			snprintf(why, sizeof(why), "cannot read %.200s: %s", full, strerror(e));
			lose(w, why);
		}
		return wd;
	}
	struct dirent *de;
	for (;;) {
		errno = 0;
		if (!(de = readdir(d))) {
			if (errno)
				lose(w, "a folder could not be read to the end");
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		bool dir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN) {
			struct stat st;
			dir = fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
		}
		if (!dir)
			continue;
		char child[PATH_MAX];
		if (snprintf(child, sizeof(child), "%s%s%s", rel, *rel ? "/" : "", de->d_name) >= (int)sizeof(child)) {
			lose(w, "a path is too long to watch");
			break;
		}
		add_tree(w, child, mark, depth + 1);
	}
	closedir(d);
	return wd;
}

/* Reads every queued event (called with mu held). */
static void drain(watcher *w)
{
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		ssize_t n = read(w->fd, buf, sizeof(buf));
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return;
		}
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				lose(w, "more changes came at once than the kernel queues (fs.inotify.max_queued_events)");
				continue;
			}
			if (ev->wd < 0 || (size_t)ev->wd >= w->cap || !w->paths[ev->wd])
				continue;
			if (ev->wd == w->root_wd && (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT))) {
				lose(w, "the folder itself was moved or removed");
				continue;
			}
			if (ev->mask & IN_UNMOUNT) { /* what the folder holds now went unwatched */
				lose(w, "a file system inside the folder was unmounted");
				continue;
			}
			if (ev->mask & IN_IGNORED) { /* the folder is gone; its parent was marked */
				free(w->paths[ev->wd]);
				w->paths[ev->wd] = NULL;
				w->dirty[ev->wd] = false;
				w->live--;
				continue;
			}
			w->dirty[ev->wd] = true;
			if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)) && ev->len) {
				const char *parent = w->paths[ev->wd];
				char child[PATH_MAX];
				if (snprintf(child, sizeof(child), "%s%s%s", parent, *parent ? "/" : "", ev->name) >=
				    (int)sizeof(child))
					lose(w, "a path is too long to watch");
				else
					add_tree(w, child, true, 1);
			}
		}
	}
}

static void *reader(void *arg)
{
	watcher *w = arg;
	struct pollfd p[2] = { { .fd = w->fd, .events = POLLIN }, { .fd = w->stop[0], .events = POLLIN } };
	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		pthread_mutex_lock(&w->mu);
		drain(w);
		pthread_mutex_unlock(&w->mu);
	}
	return NULL;
}

static void watcher_close(watcher *w)
{
	if (w->running) {
		char c = 0;
		if (write(w->stop[1], &c, 1) != 1)
			pthread_cancel(w->thread);
		pthread_join(w->thread, NULL);
		w->running = false;
		pthread_mutex_destroy(&w->mu);
	}
	if (w->fd >= 0)
		close(w->fd);
	for (int k = 0; k < 2; k++)
		if (w->stop[k] >= 0)
			close(w->stop[k]);
	w->fd = w->stop[0] = w->stop[1] = -1;
	for (size_t i = 0; i < w->cap; i++)
		free(w->paths[i]);
	free(w->paths);
	free(w->dirty);
	free(w->root);
	w->paths = NULL;
	w->dirty = NULL;
	w->root = NULL;
	w->cap = 0;
}

static int l_close(lua_State *L)
{
	watcher_close(luaL_checkudata(L, 1, "lifeboat.watch"));
	return 0;
}

static int l_take(lua_State *L)
{
	watcher *w = luaL_checkudata(L, 1, "lifeboat.watch");
	if (!w->running)
		return luaL_error(L, "the watcher is closed");
	lua_newtable(L);
	pthread_mutex_lock(&w->mu);
	drain(w);
	struct stat st;
	if (stat(w->root, &st) != 0 || st.st_dev != w->root_dev || st.st_ino != w->root_ino)
		lose(w, "the path names another folder now");
	/* copy out under the lock; Lua may raise an error, which must not hold it */
	size_t n = 0, k = 0;
	for (size_t i = 0; i < w->cap; i++)
		n += w->dirty[i] && w->paths[i];
	char **list = calloc(n ? n : 1, sizeof(*list));
	for (size_t i = 0; list && i < w->cap; i++) {
		if (w->dirty[i] && w->paths[i] && !(list[k++] = strdup(w->paths[i])))
			lose(w, "out of memory");
		w->dirty[i] = false;
	}
	if (!list)
		lose(w, "out of memory");
	bool lost = w->lost;
	char why[sizeof(w->why)];
	snprintf(why, sizeof(why), "%s", w->why);
	w->lost = false;
	pthread_mutex_unlock(&w->mu);
	lua_Integer at = 0;
	for (size_t i = 0; i < k; i++) {
		if (list[i]) {
			lua_pushstring(L, *list[i] ? list[i] : ".");
			lua_rawseti(L, -2, ++at);
		}
		free(list[i]);
	}
	free(list);
	lua_pushboolean(L, lost);
	if (!lost)
		return 2;
	lua_pushstring(L, why);
	return 3;
}

int core_watch(lua_State *L)
{
	const char *root = luaL_checkstring(L, 1);
	watcher *w = lua_newuserdatauv(L, sizeof(*w), 0);
	memset(w, 0, sizeof(*w));
	w->fd = w->stop[0] = w->stop[1] = -1;
	if (luaL_newmetatable(L, "lifeboat.watch")) {
		lua_pushcfunction(L, l_close);
		lua_setfield(L, -2, "__gc");
		lua_newtable(L);
		lua_pushcfunction(L, l_take);
		lua_setfield(L, -2, "take");
		lua_pushcfunction(L, l_close);
		lua_setfield(L, -2, "close");
		lua_setfield(L, -2, "__index");
	}
	lua_setmetatable(L, -2);
	w->root = strdup(root);
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (!w->root || w->fd < 0 || pipe2(w->stop, O_CLOEXEC) != 0) {
		lua_pushnil(L);
		lua_pushfstring(L, "cannot watch %s: %s", root, strerror(errno));
		watcher_close(w);
		return 2;
	}
	struct statfs fs;
	struct stat st;
	if (statfs(root, &fs) != 0 || stat(root, &st) != 0) {
		lua_pushnil(L);
		lua_pushfstring(L, "cannot watch %s: %s", root, strerror(errno));
		watcher_close(w);
		return 2;
	}
	if (!local_fs(fs.f_type)) {
		lua_pushnil(L);
		lua_pushfstring(L, "%s is on a network or FUSE file system: changes made elsewhere raise no events", root);
		watcher_close(w);
		return 2;
	}
	w->root_dev = st.st_dev;
	w->root_ino = st.st_ino;
	w->root_wd = add_tree(w, "", false, 0);
	if (w->lost || w->root_wd < 0) {
		lua_pushnil(L);
		lua_pushfstring(L, "%s", w->lost ? w->why : "not a folder");
		watcher_close(w);
		return 2;
	}
	pthread_mutex_init(&w->mu, NULL);
	if (pthread_create(&w->thread, NULL, reader, w) != 0) {
		pthread_mutex_destroy(&w->mu);
		watcher_close(w);
		lua_pushnil(L);
		lua_pushstring(L, "cannot start the watcher's thread");
		return 2;
	}
	w->running = true;
	return 1;
}

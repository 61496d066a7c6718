/* lua_notify.c — core.notify(TEXT): tells the service manager how the
 * service is doing ("READY=1", "STATUS=...", "RELOADING=1", "STOPPING=1")
 * through the datagram socket systemd names in NOTIFY_SOCKET (a path, or
 * an abstract name starting with '@'), as sd_notify(3) does, without
 * linking libsystemd. Without NOTIFY_SOCKET it does nothing.
 * Returns true when the message was sent, false otherwise. */
#include <lauxlib.h>
#include <lua.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "luacore.h"

int core_notify(lua_State *L)
{
	size_t len;
	const char *text = luaL_checklstring(L, 1, &len);
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t plen = path ? strlen(path) : 0;
	if (!path || (path[0] != '/' && path[0] != '@') || plen < 2 || plen >= sizeof(sa.sun_path)) {
		lua_pushboolean(L, 0);
		return 1;
	}
	memcpy(sa.sun_path, path, plen);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = 0;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ssize_t n = fd < 0 ? -1
			   : sendto(fd, text, len, MSG_NOSIGNAL, (struct sockaddr *)&sa,
				    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen));
	if (fd >= 0)
		close(fd);
	lua_pushboolean(L, n == (ssize_t)len);
	return 1;
}

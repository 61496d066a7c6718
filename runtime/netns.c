/* netns.c — see netns.h. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netns.h"

int rt_netns_open(const char *name, char *err, size_t errlen)
{
	char path[4096];
	if (strchr(name, '/'))
		snprintf(path, sizeof(path), "%s", name);
	else if (name[0] == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		snprintf(err, errlen, "'%s' is not a network namespace name", name);
		return -1;
	} else
		snprintf(path, sizeof(path), "/run/netns/%s", name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "network namespace '%s': %s", name, strerror(errno));
		return -1;
	}
	return fd;
}

int rt_netns_socket(int nsfd, int domain, int type, int protocol)
{
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -1;
	if (setns(nsfd, CLONE_NEWNET) != 0) {
		int e = errno;
		close(self);
		errno = e;
		return -1;
	}
	int s = socket(domain, type | SOCK_CLOEXEC, protocol);
	int e = errno;
	/* back home: a thread that cannot return must not serve another task */
	if (setns(self, CLONE_NEWNET) != 0) {
		fprintf(stderr, "lifeboat: cannot return to this process's network namespace: %s\n", strerror(errno));
		_exit(70);
	}
	close(self);
	errno = e;
	return s;
}

/* netns.h — work in another network namespace (a drill's isolated network,
 * a site's network) without moving this process: a child enters it before
 * exec, a socket is made inside it by one thread for a moment. */
#ifndef RT_NETNS_H
#define RT_NETNS_H

#include <stddef.h>

/* Opens a namespace by name (/run/netns/NAME, as `ip netns add` makes
 * them) or by path; -1 with a message in err. The fd is close-on-exec. */
int rt_netns_open(const char *name, char *err, size_t errlen);

/* socket(2) made inside the namespace nsfd by the calling thread, which
 * then returns to its own namespace; -1 with errno set. */
int rt_netns_socket(int nsfd, int domain, int type, int protocol);

#endif

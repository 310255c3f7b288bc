// SPDX-License-Identifier: GPL-2.0
/*
 * The listening sockets, all made on the thread that calls api__start,
 * before any API thread exists (confined API threads may make none): the
 * API's Unix socket, owner-only from the first instant, a stale one
 * replaced, a live one refused; the metrics listener's TCP socket; and
 * --metrics-listen's parser, which config.c uses too.
 */
#define _GNU_SOURCE
#include "control/api_internal.h"

#include "base/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int api__parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	const char *colon, *h = s;
	size_t hlen;
	unsigned long port;
	char *end;

	if (!s)
		return -EINVAL;
	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= sizeof(host) || colon[1] < '0' || colon[1] > '9')
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || port > 65535)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (*s == '[') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			return -EINVAL;
		*len = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return -EINVAL;
		*len = sizeof(*a4);
	}
	return 0;
}

bool api_sockets__is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/* Whether something accepts connections on the Unix socket at sa. */
static bool unix_socket_live(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
	live = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 || errno != ECONNREFUSED;
	close(fd);
	return live;
}

/*
 * The API socket, owner-only from the first instant: Linux creates the
 * socket file with the mode of the socket's inode minus the umask
 * (unix_bind), so fchmod before bind leaves no window where others could
 * connect; the chmod after is for other kernels. A stale socket left by a
 * mini-vmm that did not exit cleanly is replaced; a live one, or a file that
 * is not a socket, is an error.
 */
int api_sockets__open_unix(const char *path, int *out)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_error("--api-socket %s: longer than the %zu bytes a Unix socket path may have",
			  path, sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_error("--api-socket %s: exists and is not a socket", path);
			return -EEXIST;
		}
		if (unix_socket_live(&sa)) {
			log_error("--api-socket %s: another process is listening there", path);
			return -EADDRINUSE;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0600) < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0600) < 0 || listen(fd, 16) < 0) {
		err = errno;
		log_error("--api-socket %s: %s", path, strerror(err));
		close(fd);
		return -err;
	}
	*out = fd;
	return 0;
}

/*
 * The metrics listener's socket, bound to exactly the address given. Made
 * here rather than by MHD so that every socket exists before the API
 * threads are confined (seccomp: they may not create sockets).
 */
int api_sockets__open_tcp(const char *arg, const struct sockaddr_storage *ss, socklen_t len,
			  int *out, uint16_t *port)
{
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	int fd, one = 1, err;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* SO_REUSEADDR: a restarted mini-vmm gets its port back despite TIME_WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (ss->ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, (const struct sockaddr *)ss, len) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&bound, &blen) < 0) {
		err = errno;
		log_error("--metrics-listen %s: %s", arg, strerror(err));
		close(fd);
		return -err;
	}
	*port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
						  : ((struct sockaddr_in *)&bound)->sin_port);
	*out = fd;
	return 0;
}

void api_sockets__open_dir(struct api_server *srv)
{
	char *slash = strrchr(srv->socket_path, '/');
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];

	srv->socket_name = slash ? slash + 1 : srv->socket_path;
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == srv->socket_path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - srv->socket_path),
			 srv->socket_path);
	srv->socket_dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

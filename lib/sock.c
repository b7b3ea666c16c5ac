/* sock.c - Unix stream sockets: connect with retries, I/O with deadlines */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "sock.h"
#include "util.h"

int ms_left(int64_t deadline)
{
	int64_t left;

	if (deadline <= 0)
		return -1;
	left = (deadline - now_ns() + 999999) / 1000000;
	if (left < 0)
		return 0;
	return left > 1000000 ? 1000000 : (int)left;
}

int wait_readable(int fd, int watch_fd, int64_t deadline)
{
	struct pollfd p[2] = { { fd, POLLIN, 0 }, { watch_fd, POLLIN, 0 } };

	for (;;) {
		int n = poll(p, 2, ms_left(deadline));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		if (p[0].revents)
			return 1;
		if (p[1].revents)
			return 2;
	}
}

static int try_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int unix_connect(const char *path, int watch_fd, int64_t deadline,
		 struct fc_err *e)
{
	struct timespec nap = { 0, 2 * 1000000 };

	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		errno = ENAMETOOLONG;
		return fc_errnof(e, FC_EVMM, "%s", path);
	}
	for (;;) {
		int fd = try_connect(path);
		if (fd >= 0)
			return fd;
		if (errno != ENOENT && errno != ECONNREFUSED && errno != EAGAIN)
			return fc_errnof(e, FC_EVMM, "%s", path);
		if (watch_fd >= 0 && wait_readable(watch_fd, -1, now_ns()) == 1)
			return fc_errf(e, FC_EVMM, "%s: the VMM exited", path);
		if (deadline > 0 && now_ns() >= deadline)
			return fc_errnof(e, FC_ETIMEOUT, "%s", path);
		nanosleep(&nap, NULL);
	}
}

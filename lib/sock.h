/* sock.h - Unix stream sockets: connect with retries, I/O with deadlines */
#ifndef FC_SOCK_H
#define FC_SOCK_H

#include <stddef.h>
#include <stdint.h>

struct fc_err;

/*
 * Connect to a Unix socket, retrying while it does not exist or refuses,
 * until deadline (monotonic ns). watch_fd (or -1): stop early when it
 * becomes readable (the server process died). Returns the fd.
 */
int unix_connect(const char *path, int watch_fd, int64_t deadline,
		 struct fc_err *e);

/* Wait until fd is readable (1), watch_fd is (2), or the deadline (0). */
int wait_readable(int fd, int watch_fd, int64_t deadline);

/* Milliseconds left until deadline for poll(), at least 0; -1 for none. */
int ms_left(int64_t deadline);

#endif

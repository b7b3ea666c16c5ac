/* vsock.c - reach a guest's vsock port through Firecracker's Unix socket */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "sock.h"
#include "util.h"
#include "vsock.h"

/* Firecracker reads at most 32 bytes of a CONNECT line; so is OK. */
#define ANSWER_MAX 32
/* One attempt waits this long for OK; Firecracker gives up after ~2 s. */
#define ATTEMPT_NS (3 * 1000000000LL)
#define PAUSE_MIN_NS (1 * 1000000LL)
#define PAUSE_MAX_NS (64 * 1000000LL)

enum outcome { DONE, AGAIN, FAIL };

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static int open_uds(const char *uds, enum outcome *how, char *why, size_t n)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	*how = FAIL;
	if (fd < 0) {
		snprintf(why, n, "%s", strerror(errno));
		return -1;
	}
	memcpy(sa.sun_path, uds, strlen(uds) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	snprintf(why, n, "%s", strerror(errno));
	if (errno == ENOENT || errno == ECONNREFUSED || errno == EAGAIN)
		*how = AGAIN;
	close(fd);
	return -1;
}

/*
 * Read the answer line without taking a byte past its newline: peek at
 * what has arrived, then consume only up to the newline.
 */
static enum outcome read_line(int fd, int watch_fd, int64_t until, char *line,
			      char *why, size_t n)
{
	size_t have = 0;

	for (;;) {
		int w = wait_readable(fd, watch_fd, until);
		if (w == 0) {
			snprintf(why, n, "no answer to CONNECT");
			return AGAIN;
		}
		if (w == 2) {
			snprintf(why, n, "the VMM exited");
			return FAIL;
		}
		ssize_t got = recv(fd, line + have, ANSWER_MAX - have,
				   MSG_PEEK);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			int again = got == 0 || errno == ECONNRESET;
			snprintf(why, n, "%s", got ? strerror(errno) :
				 "connection closed before OK");
			return again ? AGAIN : FAIL;
		}
		char *nl = memchr(line + have, '\n', (size_t)got);
		size_t take = nl ? (size_t)(nl - (line + have)) + 1 :
				   (size_t)got;
		if (recv(fd, line + have, take, 0) != (ssize_t)take) {
			snprintf(why, n, "%s", strerror(errno));
			return FAIL;
		}
		have += take;
		line[have] = 0;
		if (nl)
			return DONE;
		if (have >= ANSWER_MAX) {
			snprintf(why, n, "answer to CONNECT too long");
			return FAIL;
		}
	}
}

/* Is line "OK <digits>\n"? */
static int is_ok(const char *line)
{
	const char *p = line + 3;

	if (strncmp(line, "OK ", 3) != 0 || *p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	return strcmp(p, "\n") == 0;
}

/* One try: connect, ask, read the answer. */
static int attempt(const char *uds, unsigned port, int watch_fd,
		   int64_t deadline, enum outcome *how, char *why, size_t n)
{
	char req[32], line[ANSWER_MAX + 1];
	int fd = open_uds(uds, how, why, n);
	int len = snprintf(req, sizeof(req), "CONNECT %u\n", port);

	if (fd < 0)
		return -1;
	/* One write: Firecracker drops a line that comes in parts. */
	if (send(fd, req, (size_t)len, MSG_NOSIGNAL) != len) {
		snprintf(why, n, "%s", strerror(errno));
		*how = AGAIN;
	} else {
		int64_t until = min64(deadline, now_ns() + ATTEMPT_NS);
		*how = read_line(fd, watch_fd, until, line, why, n);
	}
	if (*how == DONE && !is_ok(line)) {
		char *esc = escape_name(line, strcspn(line, "\n"));
		snprintf(why, n, "unexpected answer to CONNECT: '%s'",
			 esc ? esc : "?");
		free(esc);
		*how = FAIL;
	}
	if (*how == DONE)
		return fd;
	close(fd);
	return -1;
}

int vsock_connect(const char *uds, unsigned port, int watch_fd,
		  int64_t deadline, struct fc_err *e)
{
	int64_t pause = PAUSE_MIN_NS;
	enum outcome how;
	char why[160];

	if (strlen(uds) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		errno = ENAMETOOLONG;
		return fc_errnof(e, FC_EVMM, "%s", uds);
	}
	for (;;) {
		int fd = attempt(uds, port, watch_fd, deadline, &how, why,
				 sizeof(why));
		if (fd >= 0)
			return fd;
		if (how == FAIL)
			return fc_errf(e, FC_EVMM, "%s: vsock port %u: %s", uds,
				       port, why);
		if (now_ns() + pause >= deadline)
			return fc_errf(e, FC_ETIMEOUT, "%s: nothing accepted "
				       "vsock port %u in time (%s)", uds, port,
				       why);
		/* The pause ends early if the VMM exits meanwhile. */
		if (watch_fd >= 0 &&
		    wait_readable(watch_fd, -1, now_ns() + pause) == 1)
			return fc_errf(e, FC_EVMM, "%s: vsock port %u: the VMM "
				       "exited", uds, port);
		if (watch_fd < 0)
			nanosleep(&(struct timespec){ 0, pause }, NULL);
		pause = min64(pause * 2, PAUSE_MAX_NS);
	}
}
